package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store/storetest"
)

// randomDays builds a few days of traffic in the zone: payments of several merchants (their
// own rates, the default rates, other cycles), channels, modes and a second currency, many of
// them close to the cutoff and to the zone's midnight, with partial, repeated and full
// refunds, some of which succeed days later, and payments that never succeeded.
type randomDays struct {
	merchants []fxMerchant
	payments  []fxPayment
	refunds   []fxRefund
}

func makeRandomDays(rng *rand.Rand, cal settlement.Calendar, first settlement.Date, days, n int) *randomDays {
	rd := &randomDays{merchants: []fxMerchant{
		{ID: "mch_a", Cycle: "T1", Rates: map[string]int{"alipay": 38, "wechat": 60, "unionpay": 25, "mockpay": 38}},
		{ID: "mch_b", Cycle: "T0", Rates: map[string]int{"alipay": 0, "wechat": 10000, "unionpay": 1, "mockpay": 599}},
		{ID: "mch_c", Cycle: "D1"}, // the default rates
		{ID: "mch_d", Cycle: "T1", Rates: map[string]int{"alipay": 55}},
	}}
	channels := []string{"alipay", "wechat", "unionpay", "mockpay"}
	start, _ := cal.Window(first)
	_, end := cal.Window(first.AddDays(days - 1))
	span := end.Sub(start)
	for i := 0; i < n; i++ {
		m := rd.merchants[rng.IntN(len(rd.merchants))]
		var at time.Time
		switch rng.IntN(4) {
		case 0: // within a minute of a cutoff
			d := first.AddDays(rng.IntN(days))
			_, e := cal.Window(d)
			at = e.Add(time.Duration(rng.Int64N(int64(2*time.Minute))) - time.Minute)
		case 1: // within a minute of the zone's midnight
			d := first.AddDays(rng.IntN(days + 1))
			at = d.At(cal.Zone, 0).Add(time.Duration(rng.Int64N(int64(2*time.Minute))) - time.Minute)
		default:
			at = start.Add(time.Duration(rng.Int64N(int64(span))))
		}
		at = at.UTC().Truncate(time.Microsecond)
		if at.Before(start) || !at.Before(end) {
			at = start.Add(time.Duration(rng.Int64N(int64(span)))).UTC().Truncate(time.Microsecond)
		}
		p := fxPayment{ID: fmt.Sprintf("pay_%06d", i), MerchantID: m.ID, Channel: channels[rng.IntN(len(channels))],
			Currency: qrpay.CNY, Mode: "live", Status: "succeeded", PaidAt: tp(at), TradeNo: fmt.Sprintf("T%06d", i)}
		switch rng.IntN(20) {
		case 0:
			p.Mode = "test"
		case 1:
			p.Currency = "HKD"
		case 2:
			p.Status, p.PaidAt = "failed", nil
		case 3:
			p.Status, p.PaidAt = "closed", nil
		}
		switch rng.IntN(10) {
		case 0:
			p.Amount = 1 + rng.Int64N(10) // fees round to 0 or 1
		case 1:
			p.Amount = 100_000 + rng.Int64N(50_000_000)
		default:
			p.Amount = 1 + rng.Int64N(100_000)
		}
		if p.Status == "succeeded" && rng.IntN(4) == 0 {
			left := p.Amount
			for k := 0; k < 1+rng.IntN(4) && left > 0; k++ {
				amt := 1 + rng.Int64N(left)
				if rng.IntN(3) == 0 {
					amt = left // the rest
				}
				r := fxRefund{ID: fmt.Sprintf("re_%06d_%d", i, k), PaymentID: p.ID, MerchantID: p.MerchantID,
					Currency: p.Currency, Amount: amt, Status: "succeeded",
					SucceededAt: tp(at.Add(time.Duration(rng.Int64N(int64(50 * time.Hour)))).Truncate(time.Microsecond))}
				if rng.IntN(8) == 0 {
					r.Status, r.SucceededAt = "failed", nil
				} else {
					left -= amt
					p.Refunded += amt
				}
				rd.refunds = append(rd.refunds, r)
			}
		}
		rd.payments = append(rd.payments, p)
	}
	return rd
}

// expectLine is what the reference model expects of a line.
type expectLine struct {
	Count, Gross, Refunds, Fees, Returned, Net int64
}

// expected settles the fixture in Go with settlement's fee functions: each payment in the
// batch of its day, each refund in the batch of its day (or of the first settled day for
// earlier ones), refunds of a payment returning fees in settlement order.
func (rd *randomDays) expected(cal settlement.Calendar, first, last settlement.Date) map[string]map[string]*expectLine {
	rates := map[string]map[string]int{}
	for _, m := range rd.merchants {
		rates[m.ID] = map[string]int{}
		for ch, bps := range merchant.DefaultFeeRates {
			rates[m.ID][ch] = bps
		}
		for ch, bps := range m.Rates {
			rates[m.ID][ch] = bps
		}
	}
	dayOf := func(t time.Time) settlement.Date {
		d := cal.DayOf(t)
		if d.Before(first) {
			return first
		}
		return d
	}
	out := map[string]map[string]*expectLine{}
	line := func(day settlement.Date, p *fxPayment) *expectLine {
		id := settlement.BatchID(day, p.MerchantID, p.Currency, p.Mode)
		if out[id] == nil {
			out[id] = map[string]*expectLine{}
		}
		if out[id][p.Channel] == nil {
			out[id][p.Channel] = &expectLine{}
		}
		return out[id][p.Channel]
	}
	byID := map[string]*fxPayment{}
	fees := map[string]int64{}
	for i := range rd.payments {
		p := &rd.payments[i]
		byID[p.ID] = p
		if p.Status != "succeeded" || dayOf(*p.PaidAt).After(last) {
			continue
		}
		l := line(dayOf(*p.PaidAt), p)
		fee := settlement.Fee(p.Amount, rates[p.MerchantID][p.Channel])
		fees[p.ID] = fee
		l.Count++
		l.Gross += p.Amount
		l.Fees += fee
		l.Net += p.Amount - fee
	}
	refunds := append([]fxRefund(nil), rd.refunds...)
	sort.Slice(refunds, func(i, j int) bool {
		a, b := refunds[i], refunds[j]
		if a.SucceededAt == nil || b.SucceededAt == nil {
			return b.SucceededAt == nil && a.SucceededAt != nil
		}
		da, db := dayOf(*a.SucceededAt), dayOf(*b.SucceededAt)
		if da != db {
			return da.Before(db)
		}
		if !a.SucceededAt.Equal(*b.SucceededAt) {
			return a.SucceededAt.Before(*b.SucceededAt)
		}
		return a.ID < b.ID
	})
	before := map[string]int64{}
	for _, r := range refunds {
		if r.Status != "succeeded" || dayOf(*r.SucceededAt).After(last) {
			continue
		}
		p := byID[r.PaymentID]
		ret := settlement.ReturnedFee(fees[p.ID], p.Amount, before[p.ID], r.Amount)
		before[p.ID] += r.Amount
		l := line(dayOf(*r.SucceededAt), p)
		l.Count++
		l.Refunds += r.Amount
		l.Returned += ret
		l.Net += ret - r.Amount
	}
	return out
}

// TestSettleRandomDays settles randomized days on both databases and checks them against the
// reference model to the fen: every line, every batch's sums, the grand total, each payment
// in the batch of its settlement day (across the cutoff and the zone's midnight), no item
// twice, the returned fees of a payment never above its fee, and that a rerun changes
// nothing.
func TestSettleRandomDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		for _, cutoff := range []time.Duration{0, 23 * time.Hour, 90 * time.Minute} {
			t.Run(fmt.Sprintf("cutoff=%s", cutoff), func(t *testing.T) {
				testSettleRandomDays(t, dialect, cutoff, 3000)
			})
		}
	})
}

func testSettleRandomDays(t *testing.T, dialect string, cutoff time.Duration, n int) {
	ctx := context.Background()
	cal := settlement.Calendar{Zone: shanghai(t), Cutoff: cutoff}
	first := settlement.MustDate("2026-03-02")
	const days = 4
	clock := qrpay.NewFakeClock(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	db := storetest.Open(t, dialect, clock)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rd := makeRandomDays(rand.New(rand.NewPCG(seed, 7)), cal, first, days, n)
	seedMerchants(t, db, rd.merchants)
	seedPayments(t, db, rd.payments)
	seedRefunds(t, db, rd.refunds)
	svc := newSettlement(t, db, clock, cal)

	last := first.AddDays(days - 2) // the last day's refunds (and some payments) stay unsettled
	// The first run settles its day with everything before it; the next catches up in order.
	if run, err := svc.Run(ctx, first, time.Time{}); err != nil || len(run.Settled) != 1 {
		t.Fatalf("first run: %+v, %v", run, err)
	}
	run, err := svc.Run(ctx, last, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Settled) != days-2 || run.Settled[0] != first.AddDays(1) || run.Settled[len(run.Settled)-1] != last {
		t.Fatalf("settled %v, want %s..%s", run.Settled, first.AddDays(1), last)
	}
	want := rd.expected(cal, first, last)
	got := map[string]map[string]*expectLine{}
	var all []*settlement.Batch
	for d := first; !d.After(last); d = d.AddDays(1) {
		bs, _, err := svc.Batches(ctx, settlement.BatchFilter{Day: d, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, bs...)
	}
	var sumNet, wantNet int64
	for _, b := range all {
		var lineSum settlement.Line
		got[b.ID] = map[string]*expectLine{}
		for _, l := range b.Lines {
			got[b.ID][l.Channel] = &expectLine{Count: l.Count, Gross: l.Gross, Refunds: l.Refunds, Fees: l.Fees, Returned: l.ReturnedFees, Net: l.Net}
			lineSum.Count += l.Count
			lineSum.Gross += l.Gross
			lineSum.Refunds += l.Refunds
			lineSum.Fees += l.Fees
			lineSum.ReturnedFees += l.ReturnedFees
			lineSum.Net += l.Net
		}
		if b.Count != lineSum.Count || b.Gross != lineSum.Gross || b.Refunds != lineSum.Refunds || b.Fees != lineSum.Fees ||
			b.ReturnedFees != lineSum.ReturnedFees || b.Net != lineSum.Net {
			t.Errorf("batch %s sums %+v differ from its lines' %+v", b.ID, b, lineSum)
		}
		if b.Net != settlement.Net(b.Gross, b.Refunds, b.Fees, b.ReturnedFees) {
			t.Errorf("batch %s: net %d is not gross - refunds - fees + returned fees", b.ID, b.Net)
		}
		if b.Payable+b.CarriedOut != b.Net+b.CarriedIn || b.Payable < 0 || b.CarriedOut > 0 {
			t.Errorf("batch %s: payable %d, carried out %d, net %d, carried in %d", b.ID, b.Payable, b.CarriedOut, b.Net, b.CarriedIn)
		}
		sumNet += b.Net
	}
	for id, lines := range want {
		for ch, l := range lines {
			wantNet += l.Net
			g := got[id][ch]
			if g == nil || *g != *l {
				t.Errorf("batch %s %s: got %+v, want %+v", id, ch, g, l)
			}
		}
	}
	for id, lines := range got {
		for ch := range lines {
			if want[id][ch] == nil {
				t.Errorf("batch %s %s was not expected", id, ch)
			}
		}
	}
	t.Logf("%d batches, net %d", len(all), sumNet)
	if sumNet != wantNet {
		t.Errorf("sum of net over batches = %d, want %d", sumNet, wantNet)
	}

	// Each settled payment is in the batch of its settlement day.
	var placed []struct {
		ObjectID string `db:"object_id"`
		Kind     string `db:"kind"`
		Day      string `db:"day"`
		Amount   int64  `db:"amount"`
		Fee      int64  `db:"fee"`
	}
	if err := db.QuerySettlementFixture(ctx, &placed, `SELECT i.object_id, i.kind, l.day, i.amount, i.fee FROM settlement_items i
		JOIN settlement_lines l ON l.id = i.line_id`); err != nil {
		t.Fatal(err)
	}
	paid := map[string]fxPayment{}
	for _, p := range rd.payments {
		paid[p.ID] = p
	}
	returned := map[string]int64{}
	fee := map[string]int64{}
	seen := map[string]bool{}
	for _, it := range placed {
		if seen[it.ObjectID] {
			t.Errorf("%s is in two batches", it.ObjectID)
		}
		seen[it.ObjectID] = true
		if it.Kind == "payment" {
			fee[it.ObjectID] = it.Fee
			if d := cal.DayOf(*paid[it.ObjectID].PaidAt); d.String() != it.Day {
				t.Errorf("payment %s paid at %s is in the batch of %s, want %s", it.ObjectID,
					paid[it.ObjectID].PaidAt.In(cal.Zone), it.Day, d)
			}
		}
	}
	for _, r := range rd.refunds {
		if seen[r.ID] {
			returned[r.PaymentID] += refundFee(placed, r.ID)
		}
	}
	for pid, ret := range returned {
		if ret > fee[pid] || ret < 0 {
			t.Errorf("payment %s returned %d of its fee %d", pid, ret, fee[pid])
		}
	}

	// A rerun changes nothing and answers the same batches.
	again, err := svc.Run(ctx, last, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Settled) != 0 || again.Created != 0 {
		t.Fatalf("rerun settled %v and created %d", again.Settled, again.Created)
	}
	if !reflect.DeepEqual(objects(run.Batches), objects(again.Batches)) {
		t.Fatal("a rerun answers other batches")
	}
	var counts []int
	if err := db.QuerySettlementFixture(ctx, &counts, `SELECT COUNT(*) FROM settlement_items`); err != nil {
		t.Fatal(err)
	}
	if counts[0] != len(placed) {
		t.Fatalf("items %d after the rerun, %d before", counts[0], len(placed))
	}
}

func refundFee(items []struct {
	ObjectID string `db:"object_id"`
	Kind     string `db:"kind"`
	Day      string `db:"day"`
	Amount   int64  `db:"amount"`
	Fee      int64  `db:"fee"`
}, id string) int64 {
	for _, it := range items {
		if it.ObjectID == id {
			return it.Fee
		}
	}
	return 0
}

func objects(bs []*settlement.Batch) []settlement.BatchObject {
	out := make([]settlement.BatchObject, len(bs))
	for i, b := range bs {
		out[i] = b.Object()
	}
	return out
}
