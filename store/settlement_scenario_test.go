package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// itemDays returns the settlement day of each settled object's batch.
func itemDays(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	var rows []struct {
		ObjectID string `db:"object_id"`
		Day      string `db:"day"`
	}
	if err := db.QuerySettlementFixture(context.Background(), &rows, `SELECT i.object_id, l.day FROM settlement_items i
		JOIN settlement_lines l ON l.id = i.line_id`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.ObjectID] = r.Day
	}
	return out
}

func execSQL(t *testing.T, db *store.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecSettlementFixture(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var operator = merchant.Actor{Kind: "operator", ID: "usr_op", Name: "op"}

// TestSettleHoldsStragglersAndAdjustments follows items that are not settleable when their day
// is run: a payment the gateway flagged amount_mismatch (held with a break), a payment the
// provider's statement does not list (held), a payment that succeeds only after its day was
// settled (a late success), a refund confirmed late, and what operators decide about the
// breaks. Each lands once, in the batch of the first day run after it became settleable.
func TestSettleHoldsStragglersAndAdjustments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cal := settlement.Calendar{Zone: shanghai(t)}
		d1, d2, d3 := settlement.MustDate("2026-03-02"), settlement.MustDate("2026-03-03"), settlement.MustDate("2026-03-04")
		s1, _ := cal.Window(d1)
		s2, _ := cal.Window(d2)
		clock := qrpay.NewFakeClock(s2.Add(time.Hour))
		db := storetest.Open(t, dialect, clock)
		seedMerchants(t, db, []fxMerchant{{ID: "mch_a"}})
		pay := func(id string, amount int64, at time.Time, status, flags string) fxPayment {
			p := fxPayment{ID: id, MerchantID: "mch_a", Channel: "alipay", Currency: "CNY", Amount: amount, Status: status,
				Flags: flags, TradeNo: "T" + id}
			if status == "succeeded" {
				p.PaidAt = tp(at)
			}
			return p
		}
		seedPayments(t, db, []fxPayment{
			pay("pay_ok", 10000, s1.Add(time.Hour), "succeeded", ""),
			pay("pay_flag", 20000, s1.Add(2*time.Hour), "succeeded", "amount_mismatch"),
			pay("pay_missing", 30000, s1.Add(3*time.Hour), "succeeded", ""),
			pay("pay_late", 40000, s1.Add(4*time.Hour), "pending", ""),
			pay("pay_excluded", 50000, s1.Add(5*time.Hour), "succeeded", ""),
		})
		seedRefunds(t, db, []fxRefund{
			{ID: "re_late", PaymentID: "pay_ok", MerchantID: "mch_a", Currency: "CNY", Amount: 1000, Status: "pending"},
		})
		svc := newSettlement(t, db, clock, cal)

		// The provider's statement of d1 lists pay_ok and pay_flag only: pay_missing and
		// pay_excluded are missing at the provider.
		st := &gateway.Statement{Channel: "mockpay", Date: d1.String(), Lines: []gateway.StatementLine{
			{Type: "payment", PaymentID: "pay_ok", ProviderTradeNo: "Tpay_ok", Amount: qrpay.Money{Amount: 10000, Currency: "CNY"}, Status: "SUCCESS", At: s1.Add(time.Hour)},
			{Type: "payment", PaymentID: "pay_flag", ProviderTradeNo: "Tpay_flag", Amount: qrpay.Money{Amount: 20000, Currency: "CNY"}, Status: "SUCCESS", At: s1.Add(2 * time.Hour)},
		}}
		rec, err := svc.Reconcile(ctx, settlement.ReconcileRequest{Provider: "mockpay", Date: d1, Statement: st, Actor: operator})
		if err != nil {
			t.Fatal(err)
		}
		if rec.NewBreaks[settlement.BreakMissingTheirs] != 2 {
			t.Fatalf("reconciliation: %+v", rec)
		}
		run, err := svc.Run(ctx, d1, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(run.Batches) != 1 || run.Batches[0].Gross != 10000 || run.Batches[0].Count != 1 {
			t.Fatalf("d1: %+v", run.Batches)
		}
		flagged, _, _ := svc.Breaks(ctx, settlement.BreakFilter{Kind: settlement.BreakAmountMismatch, Status: settlement.BreakOpen})
		if len(flagged) != 1 || flagged[0].PaymentID != "pay_flag" || !flagged[0].Hold {
			t.Fatalf("flagged payment's break: %+v", flagged)
		}

		// After d1 was settled: pay_late succeeds (its time is in d1), the refund of pay_ok
		// is confirmed with a time in d1, and operators decide about the breaks.
		execSQL(t, db, `UPDATE payments SET status = 'succeeded', paid_at = ?, updated_at = ? WHERE id = 'pay_late'`, s1.Add(4*time.Hour), clock.Now())
		execSQL(t, db, `UPDATE refunds SET status = 'succeeded', succeeded_at = ?, updated_at = ? WHERE id = 're_late'`, s1.Add(6*time.Hour), clock.Now())
		if _, err := svc.Resolve(ctx, operator, flagged[0].ID, settlement.ResolveRequest{Resolution: settlement.ResolveWriteOff}); err != nil {
			t.Fatal(err)
		}
		missing, _, _ := svc.Breaks(ctx, settlement.BreakFilter{Kind: settlement.BreakMissingTheirs})
		for _, b := range missing {
			r := settlement.ResolveRequest{Resolution: settlement.ResolveAccept} // excluded
			if b.PaymentID == "pay_missing" {
				r = settlement.ResolveRequest{Resolution: settlement.ResolveAdjust, Adjustment: -500, Note: "the provider kept ¥5"}
			}
			if _, err := svc.Resolve(ctx, operator, b.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Resolve(ctx, operator, flagged[0].ID, settlement.ResolveRequest{Resolution: settlement.ResolveAccept}); qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
			t.Fatalf("resolving twice: %v", err)
		}

		clock.Set(s2.Add(25 * time.Hour))
		run, err = svc.Run(ctx, d2, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		days := itemDays(t, db)
		want := map[string]string{"pay_ok": d1.String(), "pay_flag": d2.String(), "pay_missing": d2.String(),
			"pay_late": d2.String(), "re_late": d2.String()}
		for id, day := range want {
			if days[id] != day {
				t.Errorf("%s is in the batch of %q, want %s", id, days[id], day)
			}
		}
		if _, ok := days["pay_excluded"]; ok {
			t.Error("the excluded payment was settled")
		}
		b := run.Batches[0]
		// Gross: 20000 + 30000 + 40000; refunds: 1000 and the −500 adjustment.
		if b.Gross != 90000 || b.Refunds != 1500 || b.Adjustments != -500 || b.AdjustmentCount != 1 || b.Count != 5 {
			t.Fatalf("d2 batch %+v", b)
		}
		var audit []int
		db.QuerySettlementFixture(ctx, &audit, `SELECT COUNT(*) FROM audit_log WHERE action LIKE 'settlement.break.%'`)
		if audit[0] != 3 {
			t.Fatalf("%d audit entries of resolutions, want 3", audit[0])
		}

		// d3 settles nothing of the above again.
		clock.Set(s2.Add(49 * time.Hour))
		if run, err = svc.Run(ctx, d3, time.Time{}); err != nil || len(run.Batches) != 0 {
			t.Fatalf("d3: %+v, %v", run, err)
		}
	})
}

// TestSettleCarryOver: a day whose refunds exceed its takings is not paid but carried into the
// merchant's next batch; the days are paid on their cycles' payout dates.
func TestSettleCarryOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cal := settlement.Calendar{Zone: shanghai(t)}
		d1 := settlement.MustDate("2026-03-06") // a Friday
		s1, _ := cal.Window(d1)
		clock := qrpay.NewFakeClock(s1.Add(5 * 24 * time.Hour))
		db := storetest.Open(t, dialect, clock)
		seedMerchants(t, db, []fxMerchant{{ID: "mch_a", Rates: map[string]int{"wechat": 100}}, {ID: "mch_b", Cycle: "D1"}})
		seedPayments(t, db, []fxPayment{
			{ID: "pay_1", MerchantID: "mch_a", Channel: "wechat", Currency: "CNY", Amount: 100000, Status: "succeeded", PaidAt: tp(s1.Add(time.Hour)), Refunded: 100000},
			{ID: "pay_2", MerchantID: "mch_a", Channel: "wechat", Currency: "CNY", Amount: 20000, Status: "succeeded", PaidAt: tp(s1.Add(25 * time.Hour))},
			{ID: "pay_3", MerchantID: "mch_a", Channel: "wechat", Currency: "CNY", Amount: 300000, Status: "succeeded", PaidAt: tp(s1.Add(49 * time.Hour))},
			{ID: "pay_4", MerchantID: "mch_b", Channel: "alipay", Currency: "CNY", Amount: 5000, Status: "succeeded", PaidAt: tp(s1.Add(25 * time.Hour))},
		})
		seedRefunds(t, db, []fxRefund{{ID: "re_1", PaymentID: "pay_1", MerchantID: "mch_a", Currency: "CNY", Amount: 100000, Status: "succeeded", SucceededAt: tp(s1.Add(26 * time.Hour))}})
		svc := newSettlement(t, db, clock, cal)
		if err := svc.PutHoliday(ctx, operator, settlement.Holiday{Date: settlement.MustDate("2026-03-09"), Kind: settlement.KindHoliday, Name: "test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Run(ctx, d1, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Run(ctx, d1.AddDays(2), time.Time{}); err != nil {
			t.Fatal(err)
		}
		all, _, err := svc.Batches(ctx, settlement.BatchFilter{MerchantID: "mch_a", Limit: 10})
		if err != nil || len(all) != 3 {
			t.Fatalf("%d batches, %v", len(all), err)
		}
		b1, b2, b3 := all[2], all[1], all[0]
		// Day 1: 100000 − fee 1000. Day 2: 20000 − 200 − refund 100000 + returned 1000 < 0.
		if b1.Net != 99000 || b1.Status != settlement.StatusPending || b1.Payable != 99000 || b1.PayoutDate.String() != "2026-03-10" {
			t.Errorf("day 1 %+v", b1)
		}
		if b2.Net != 20000-200-100000+1000 || b2.Status != settlement.StatusCarried || b2.Payable != 0 || b2.CarriedOut != b2.Net {
			t.Errorf("day 2 %+v", b2)
		}
		if b3.CarriedIn != b2.CarriedOut || b3.Payable != b3.Net+b2.CarriedOut || b3.Status != settlement.StatusPending {
			t.Errorf("day 3 %+v", b3)
		}
		mb, _, _ := svc.Batches(ctx, settlement.BatchFilter{MerchantID: "mch_b", Limit: 10})
		if len(mb) != 1 || mb[0].Cycle != settlement.CycleD1 || mb[0].PayoutDate.String() != "2026-03-08" {
			t.Errorf("D1 merchant %+v", mb)
		}

		// Payouts due by the 10th: day 1 of mch_a and mch_b's; marking one paid takes it out.
		var due []string
		err = db.Settlement().EachPayout(ctx, settlement.MustDate("2026-03-10"), func(p *settlement.Payout) error {
			due = append(due, p.BatchID)
			return nil
		})
		if err != nil || len(due) != 3 {
			t.Fatalf("due %v, %v", due, err)
		}
		if _, err := svc.MarkPaid(ctx, operator, b1.ID, "BANK-0001"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.MarkPaid(ctx, operator, b1.ID, "BANK-0002"); qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
			t.Fatalf("paying twice: %v", err)
		}
		if _, err := svc.MarkPaid(ctx, operator, b2.ID, "BANK-0003"); qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
			t.Fatalf("paying a carried batch: %v", err)
		}
		if _, err := svc.MarkPaid(ctx, operator, b3.ID, " "); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Fatalf("an empty reference: %v", err)
		}
		paid, _ := svc.Batch(ctx, "mch_a", b1.ID)
		if paid.Status != settlement.StatusPaid || paid.Reference != "BANK-0001" || paid.PaidAt == nil {
			t.Fatalf("paid batch %+v", paid)
		}
		if _, err := svc.Batch(ctx, "mch_b", b1.ID); qrpay.ErrorCode(err) != qrpay.ENOTFOUND {
			t.Fatalf("another merchant's batch: %v", err)
		}
	})
}

// TestSettleOrder: days are settled in order; asking for a day before the first settled one,
// or for one that is not over, is refused; a gap is caught up.
func TestSettleOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cal := settlement.Calendar{Zone: shanghai(t), Cutoff: 23 * time.Hour}
		d := settlement.MustDate("2026-03-02")
		_, end := cal.Window(d)
		clock := qrpay.NewFakeClock(end.Add(-time.Second))
		db := storetest.Open(t, dialect, clock)
		svc := newSettlement(t, db, clock, cal)
		if _, err := svc.Run(ctx, d, time.Time{}); qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
			t.Fatalf("a day not over: %v", err)
		}
		if _, err := svc.Run(ctx, d, end); err != nil {
			t.Fatalf("as of the cutoff: %v", err)
		}
		if _, err := svc.Run(ctx, d.AddDays(-1), end); qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
			t.Fatalf("a day before the first: %v", err)
		}
		run, err := svc.Run(ctx, d.AddDays(3), end.Add(72*time.Hour))
		if err != nil || len(run.Settled) != 3 {
			t.Fatalf("catching up: %+v %v", run, err)
		}
		if _, err := svc.Run(ctx, d.AddDays(40), end.Add(40*24*time.Hour)); qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
			t.Fatalf("too far ahead: %v", err)
		}
		last, err := db.LastSettledDay(ctx)
		if err != nil || last != d.AddDays(3) {
			t.Fatalf("last settled %s, %v", last, err)
		}
	})
}

// TestDailyJobCatchesUp: the daily job settles the last finished day (after the grace), and
// after a long outage catches up at most MaxCatchUp days per run, in order.
func TestDailyJobCatchesUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cal := settlement.Calendar{Zone: shanghai(t)}
		d := settlement.MustDate("2026-01-01")
		_, end := cal.Window(d)
		clock := qrpay.NewFakeClock(end.Add(10 * time.Minute)) // within the grace: the day before
		db := storetest.Open(t, dialect, clock)
		svc := newSettlement(t, db, clock, cal)
		if err := svc.DailyJob(ctx, settlement.Daily{}); err != nil {
			t.Fatal(err)
		}
		if last, err := db.LastSettledDay(ctx); err != nil || last != d.AddDays(-1) {
			t.Fatalf("within the grace, settled %s, %v", last, err)
		}
		clock.Set(end.Add(31 * time.Minute))
		if err := svc.DailyJob(ctx, settlement.Daily{}); err != nil {
			t.Fatal(err)
		}
		if last, err := db.LastSettledDay(ctx); err != nil || last != d {
			t.Fatalf("last settled %s, %v", last, err)
		}
		clock.Set(end.Add(40*24*time.Hour + time.Hour)) // 40 days later
		for i, want := range []settlement.Date{d.AddDays(31), d.AddDays(40)} {
			if err := svc.DailyJob(ctx, settlement.Daily{}); err != nil {
				t.Fatal(err)
			}
			if last, err := db.LastSettledDay(ctx); err != nil || last != want {
				t.Fatalf("run %d: last settled %s, want %s (%v)", i, last, want, err)
			}
		}
	})
}
