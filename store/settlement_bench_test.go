package store_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// BenchmarkSettleMillion settles one day of QRPAY_SETTLE_BENCH_N payments (1,000,000 by
// default) over 1,000 merchants, a twentieth of them half refunded, and measures, in the same
// run, a bare INSERT ... SELECT ... GROUP BY over the same payments as the baseline. It reports
// the run's seconds, the baseline's, their ratio, and the peak Go heap during the run. Run it
// alone, once:
//
//	QRPAY_TEST_DATABASE_URL=postgres://... go test -run XXX -bench BenchmarkSettleMillion -benchtime 1x ./store/
func BenchmarkSettleMillion(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("QRPAY_SETTLE_BENCH_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("QRPAY_SETTLE_BENCH_N=%q", v)
		}
	}
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) { benchSettle(b, dialect, n) })
	}
}

func benchSettle(b *testing.B, dialect string, n int) {
	ctx := context.Background()
	cal := settlement.Calendar{Zone: shanghai(b)}
	day := settlement.MustDate("2026-11-25")
	start, end := cal.Window(day)
	clock := qrpay.NewFakeClock(end.Add(time.Hour))
	db := storetest.Open(b, dialect, clock)
	exec := func(q string, args ...any) {
		b.Helper()
		if _, err := db.ExecSettlementFixture(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", strings.Fields(q)[0], err)
		}
	}
	merchants := make([]fxMerchant, 1000)
	for i := range merchants {
		merchants[i] = fxMerchant{ID: fmt.Sprintf("mch_%04d", i), Rates: map[string]int{"alipay": 38, "wechat": 38, "unionpay": 30, "mockpay": 38 + i%7}}
	}
	seedMerchants(b, db, merchants)
	t0 := time.Now()
	step := int64(86_000_000_000) / int64(n) // microseconds between payments
	if dialect == store.Postgres {
		exec(`INSERT INTO payments (id, merchant_id, merchant_order_no, amount, currency, status, scene, channel,
			channel_account, mode, refunded_amount, expires_at, paid_at, created_at, updated_at)
			SELECT 'pay_' || lpad(g::text, 12, '0'), 'mch_' || lpad((g % 1000)::text, 4, '0'), 'o' || g,
			1 + (g::bigint * 7919) % 100000, 'CNY', 'succeeded', 'qr',
			(ARRAY['alipay', 'wechat', 'unionpay', 'mockpay'])[1 + (g / 1000) % 4], 'mockpay', 'live',
			CASE WHEN g % 20 = 0 THEN (1 + (g::bigint * 7919) % 100000) / 2 ELSE 0 END,
			?::timestamptz, ?::timestamptz + g::bigint * ?::bigint * interval '1 microsecond', ?::timestamptz, ?::timestamptz
			FROM generate_series(1, ?) g`, start, start, step, start, start, n)
		exec(`INSERT INTO refunds (id, payment_id, merchant_id, merchant_refund_no, amount, currency, status, created_at,
			updated_at, succeeded_at)
			SELECT 're_' || substr(p.id, 5), p.id, p.merchant_id, 'r' || p.id, p.refunded_amount, 'CNY', 'succeeded',
			p.paid_at, p.paid_at, p.paid_at + interval '1 second' FROM payments p
			WHERE p.refunded_amount > 0 AND p.paid_at < ?::timestamptz - interval '1 second'`, end)
		exec(`ANALYZE`)
	} else {
		ts := func(col string) string {
			return `strftime('%Y-%m-%d %H:%M:%S', ` + col + `, 'unixepoch') || '+00:00'`
		}
		s := start.Unix()
		exec(`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?)
			INSERT INTO payments (id, merchant_id, merchant_order_no, amount, currency, status, scene, channel,
			channel_account, mode, refunded_amount, expires_at, paid_at, created_at, updated_at)
			SELECT 'pay_' || printf('%012d', n), 'mch_' || printf('%04d', n % 1000), 'o' || n, 1 + (n * 7919) % 100000, 'CNY',
			'succeeded', 'qr', CASE (n / 1000) % 4 WHEN 0 THEN 'alipay' WHEN 1 THEN 'wechat' WHEN 2 THEN 'unionpay' ELSE 'mockpay' END,
			'mockpay', 'live', CASE WHEN n % 20 = 0 THEN (1 + (n * 7919) % 100000) / 2 ELSE 0 END,
			`+ts("?")+`, `+ts("? + n * ? / 1000000")+`, `+ts("?")+`, `+ts("?")+` FROM g`, n, s, s, step, s, s)
		exec(`INSERT INTO refunds (id, payment_id, merchant_id, merchant_refund_no, amount, currency, status, created_at,
			updated_at, succeeded_at)
			SELECT 're_' || substr(p.id, 5), p.id, p.merchant_id, 'r' || p.id, p.refunded_amount, 'CNY', 'succeeded',
			p.paid_at, p.paid_at, p.paid_at FROM payments p WHERE p.refunded_amount > 0`)
		exec(`ANALYZE`)
	}
	b.Logf("%s: seeded %d payments in %s", dialect, n, time.Since(t0).Round(time.Millisecond))

	exec(`CREATE TABLE bench_bare (merchant_id TEXT, channel TEXT, n BIGINT, gross BIGINT)`)
	bare := func() time.Duration {
		exec(`DELETE FROM bench_bare`)
		t := time.Now()
		exec(`INSERT INTO bench_bare (merchant_id, channel, n, gross) SELECT merchant_id, channel, COUNT(*), SUM(amount)
			FROM payments WHERE paid_at >= ? AND paid_at < ? AND status = 'succeeded' GROUP BY merchant_id, channel`,
			start, end)
		return time.Since(t)
	}
	bare() // warm the cache as the run will find it
	baseline := bare()

	svc := newSettlement(b, db, clock, cal)
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak {
				peak = ms.HeapInuse
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	t := time.Now()
	run, err := svc.Run(ctx, day, time.Time{})
	took := time.Since(t)
	b.StopTimer()
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	after := bare()
	var items int64
	for _, bt := range run.Batches {
		items += bt.Count
	}
	var refunds []int64
	if err := db.QuerySettlementFixture(ctx, &refunds, `SELECT COUNT(*) FROM refunds`); err != nil {
		b.Fatal(err)
	}
	if len(run.Batches) != 1000 || items != int64(n)+refunds[0] {
		b.Fatalf("%d batches with %d items, want 1000 with %d", len(run.Batches), items, int64(n)+refunds[0])
	}
	ratio := took.Seconds() / baseline.Seconds()
	b.ReportMetric(took.Seconds(), "run-s")
	b.ReportMetric(baseline.Seconds(), "bare-s")
	b.ReportMetric(ratio, "x-bare")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(before.HeapInuse)/(1<<20), "heap-before-MB")
	b.Logf("%s: %d payments: run %s, bare aggregate %s before and %s after (%.1fx), peak heap %.1f MB (%.1f MB before), %d batches",
		dialect, n, took.Round(time.Millisecond), baseline.Round(time.Millisecond), after.Round(time.Millisecond), ratio,
		float64(peak)/(1<<20), float64(before.HeapInuse)/(1<<20), len(run.Batches))
}
