package store_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store/storetest"
)

// TestReconcileEveryBreak reconciles a statement with every kind of break against payments and
// refunds seeded as the gateway leaves them, re-imports it (nothing new), resolves the breaks,
// and settles the day: held items stay out, the late success and resolved items go in.
func TestReconcileEveryBreak(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cal := settlement.Calendar{Zone: shanghai(t)}
		d1 := settlement.MustDate("2026-03-02")
		s1, _ := cal.Window(d1)
		clock := qrpay.NewFakeClock(s1.Add(26 * time.Hour))
		db := storetest.Open(t, dialect, clock)
		seedMerchants(t, db, []fxMerchant{{ID: "mch_a"}})
		at := func(h int) *time.Time { return tp(s1.Add(time.Duration(h) * time.Hour)) }
		p := func(id string, amount int64, status, flags string, h int) fxPayment {
			x := fxPayment{ID: id, MerchantID: "mch_a", Channel: "wechat", Currency: "CNY", Amount: amount, Status: status,
				Flags: flags, TradeNo: "T" + id}
			if status == "succeeded" {
				x.PaidAt = at(h)
			}
			return x
		}
		other := p("pay_other", 70000, "succeeded", "", 7)
		other.Account = "wechat_live"
		seedPayments(t, db, []fxPayment{
			p("pay_match", 10000, "succeeded", "", 1),
			p("pay_amt", 20000, "succeeded", "", 2),
			p("pay_stat", 30000, "succeeded", "", 3),
			p("pay_late", 40000, "closed", "", 0),
			p("pay_late_amt", 45000, "expired", "", 0),
			p("pay_rev", 50000, "closed", "reversed", 0),
			p("pay_theirs", 60000, "succeeded", "", 6),
			p("pay_revs", 55000, "succeeded", "reversed", 6), // reversed after it succeeded
			other,
		})
		seedRefunds(t, db, []fxRefund{
			{ID: "re_match", PaymentID: "pay_match", MerchantID: "mch_a", Currency: "CNY", Amount: 1000, Status: "succeeded", SucceededAt: at(8)},
			{ID: "re_amt", PaymentID: "pay_match", MerchantID: "mch_a", Currency: "CNY", Amount: 2000, Status: "succeeded", SucceededAt: at(9)},
			{ID: "re_theirs", PaymentID: "pay_match", MerchantID: "mch_a", Currency: "CNY", Amount: 500, Status: "succeeded", SucceededAt: at(10)},
			{ID: "re_pending", PaymentID: "pay_stat", MerchantID: "mch_a", Currency: "CNY", Amount: 700, Status: "pending"},
			{ID: "re_revs", PaymentID: "pay_revs", MerchantID: "mch_a", Currency: "CNY", Amount: 55000, Status: "succeeded",
				ProviderRefundNo: "reversal", SucceededAt: at(7)},
		})
		svc := newSettlement(t, db, clock, cal)
		m := func(v int64) qrpay.Money { return qrpay.Money{Amount: v, Currency: "CNY"} }
		line := func(typ, payID, refundID string, amount int64, status string, h int) gateway.StatementLine {
			return gateway.StatementLine{Type: typ, PaymentID: payID, ProviderTradeNo: "T" + payID, RefundID: refundID,
				Amount: m(amount), Status: status, At: *at(h)}
		}
		st := &gateway.Statement{Channel: "mockpay", Date: d1.String(), Lines: []gateway.StatementLine{
			line("payment", "pay_match", "", 10000, "SUCCESS", 1),
			line("payment", "pay_amt", "", 20010, "SUCCESS", 2),
			line("payment", "pay_stat", "", 30000, "FAIL", 3),
			line("payment", "pay_late", "", 40000, "SUCCESS", 4),
			line("payment", "pay_late_amt", "", 45001, "SUCCESS", 5),
			line("payment", "pay_rev", "", 50000, "SUCCESS", 5),
			line("refund", "pay_rev", "reversal", 50000, "SUCCESS", 5),
			line("payment", "pay_unknown", "", 999, "SUCCESS", 5),
			line("refund", "pay_match", "re_match", 1000, "SUCCESS", 8),
			line("refund", "pay_match", "re_amt", 1999, "SUCCESS", 9),
			line("refund", "pay_match", "re_ghost", 300, "SUCCESS", 9),
			line("refund", "pay_stat", "re_pending", 700, "SUCCESS", 9),
			line("payment", "pay_revs", "", 55000, "SUCCESS", 6),
			line("refund", "pay_revs", "reversal", 55000, "SUCCESS", 7),
		}}
		rec, err := svc.Reconcile(ctx, settlement.ReconcileRequest{Provider: "mockpay", Date: d1, Statement: st, Actor: operator})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{settlement.BreakMissingOurs: 2, settlement.BreakAmountMismatch: 3,
			settlement.BreakStatusMismatch: 2, settlement.BreakMissingTheirs: 2}
		for k, n := range want {
			if rec.NewBreaks[k] != n {
				t.Errorf("%s breaks: %d, want %d (%+v)", k, rec.NewBreaks[k], n, rec.NewBreaks)
			}
		}
		if len(rec.LateSuccess) != 1 || rec.LateSuccess[0] != "pay_late" || rec.Lines != 14 || rec.Matched < 5 {
			t.Errorf("reconciliation %+v", rec)
		}
		breaks, _, err := svc.Breaks(ctx, settlement.BreakFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		byRef := map[string]*settlement.Break{}
		for _, b := range breaks {
			byRef[b.Kind+" "+b.Ref] = b
		}
		for _, ref := range []string{"amount_mismatch pay_amt", "amount_mismatch pay_late_amt", "amount_mismatch re_amt",
			"status_mismatch pay_stat", "status_mismatch re_pending", "missing_theirs pay_theirs", "missing_theirs re_theirs",
			"missing_ours unknown:mockpay:Tpay_unknown", "missing_ours refund:mockpay:pay_match:re_ghost"} {
			if b := byRef[ref]; b == nil || b.Status != settlement.BreakOpen || !b.Hold {
				t.Errorf("no open break %s (%+v)", ref, b)
			}
		}
		if b := byRef["missing_ours pay_late"]; b == nil || b.Status != settlement.BreakResolved || b.Resolution != settlement.ResolveLateSuccess || b.Hold {
			t.Errorf("late success break %+v", b)
		}
		for _, ref := range []string{"missing_theirs re_revs", "missing_ours refund:mockpay:pay_revs:reversal"} {
			if b := byRef[ref]; b != nil {
				t.Errorf("a reversal's refund recorded by qrpay and listed as the provider's reversal: break %+v", b)
			}
		}
		if b := byRef["missing_theirs pay_other"]; b != nil {
			t.Error("a payment of another channel account was reconciled against the mock provider's statement")
		}
		// The late success is recorded as the gateway would: succeeded, flagged, with its event.
		var late []struct {
			Status string `db:"status"`
			Flags  string `db:"flags"`
			Events int    `db:"events"`
		}
		if err := db.QuerySettlementFixture(ctx, &late, `SELECT p.status, p.flags, (SELECT COUNT(*) FROM events e
			WHERE e.object_id = p.id AND e.type = 'payment.late_succeeded') AS events FROM payments p WHERE p.id = 'pay_late'`); err != nil {
			t.Fatal(err)
		}
		if late[0].Status != "succeeded" || late[0].Flags != "late_success" || late[0].Events != 1 {
			t.Fatalf("late success recorded as %+v", late[0])
		}

		// The same statement again opens nothing and applies nothing.
		again, err := svc.Reconcile(ctx, settlement.ReconcileRequest{Provider: "mockpay", Date: d1, Statement: st, Actor: operator})
		if err != nil {
			t.Fatal(err)
		}
		for k, n := range again.NewBreaks {
			if n != 0 {
				t.Errorf("re-import opened %d %s", n, k)
			}
		}
		if len(again.LateSuccess) != 0 {
			t.Errorf("re-import applied %v", again.LateSuccess)
		}

		// Resolutions: the provider's amount for pay_amt (+10) and pay_late_amt (a late success
		// with +1), qrpay's for re_amt; pay_theirs excluded.
		resolve := func(ref, how string, adj int64) {
			t.Helper()
			if _, err := svc.Resolve(ctx, operator, byRef[ref].ID, settlement.ResolveRequest{Resolution: how, Adjustment: adj, Note: "test"}); err != nil {
				t.Fatalf("resolve %s: %v", ref, err)
			}
		}
		resolve("amount_mismatch pay_amt", settlement.ResolveAccept, 0)
		resolve("amount_mismatch pay_late_amt", settlement.ResolveAccept, 0)
		resolve("amount_mismatch re_amt", settlement.ResolveWriteOff, 0)
		resolve("missing_theirs pay_theirs", settlement.ResolveAccept, 0)
		if _, err := svc.Resolve(ctx, operator, byRef["missing_ours unknown:mockpay:Tpay_unknown"].ID,
			settlement.ResolveRequest{Resolution: settlement.ResolveAdjust, Adjustment: 999, Note: "x"}); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Fatalf("an adjustment for no merchant: %v", err)
		}
		for _, bad := range []settlement.ResolveRequest{{Resolution: "ignore"}, {Resolution: settlement.ResolveAdjust},
			{Resolution: settlement.ResolveAdjust, Adjustment: 5}, {Resolution: settlement.ResolveAccept, Adjustment: 5}} {
			if _, err := svc.Resolve(ctx, operator, byRef["status_mismatch pay_stat"].ID, bad); qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Errorf("resolution %+v: %v", bad, err)
			}
		}

		run, err := svc.Run(ctx, d1, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		days := itemDays(t, db)
		for _, id := range []string{"pay_match", "pay_amt", "pay_late", "pay_late_amt", "re_match", "re_amt"} {
			if days[id] != d1.String() {
				t.Errorf("%s not settled on %s: %q", id, d1, days[id])
			}
		}
		// Held: pay_stat (and its refunds), pay_theirs (excluded), re_theirs; re_pending is not
		// succeeded; pay_rev was reversed.
		for _, id := range []string{"pay_stat", "pay_theirs", "re_theirs", "re_pending", "pay_rev"} {
			if _, ok := days[id]; ok {
				t.Errorf("%s was settled", id)
			}
		}
		b := run.Batches[0]
		// With the payment reversed after it succeeded and its full refund.
		if b.Adjustments != 0 || b.Gross != 10000+20000+40000+45000+70000+55000 || b.Refunds != 3000+55000 {
			t.Errorf("batch %+v", b)
		}
		// The adjustments were resolved on the next day: they land in its batch.
		clock.Advance(24 * time.Hour)
		if run, err = svc.Run(ctx, d1.AddDays(1), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if b := run.Batches[0]; b.Adjustments != 11 || b.AdjustmentCount != 2 || b.Gross != 11 || b.Count != 2 {
			t.Errorf("next day's batch %+v", b)
		}
	})
}

// TestImportRefusesMalformedFiles: a statement file that does not parse, wholly, imports
// nothing; a good one imports.
func TestImportRefusesMalformedFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		clock := qrpay.NewFakeClock(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC))
		db := storetest.Open(t, dialect, clock)
		svc := newSettlement(t, db, clock, settlement.Calendar{Zone: shanghai(t)})
		svc.Parsers = map[string]func(io.Reader) (*gateway.Statement, error){"mockpay": (&mockpay.Provider{}).ParseStatement}
		day := settlement.MustDate("2026-03-02")
		good := "type,trade_no,out_trade_no,out_refund_no,amount,currency,status,at\n" +
			"payment,T1,pay_x,,100,CNY,SUCCESS,2026-03-02T01:00:00Z\n"
		for name, file := range map[string]string{
			"a bad last row":   good + "payment,T2,pay_y,,abc,CNY,SUCCESS,2026-03-02T01:00:00Z\n",
			"another header":   strings.Replace(good, "trade_no", "trade", 1),
			"a short row":      good + "payment,T2\n",
			"not CSV":          "\x00\x01\x02",
			"empty":            "",
			"unknown currency": good + "payment,T2,pay_y,,100,XXX,SUCCESS,2026-03-02T01:00:00Z\n",
		} {
			_, err := svc.Import(ctx, settlement.ReconcileRequest{Provider: "mockpay", Date: day, Actor: operator}, strings.NewReader(file))
			if qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := svc.Import(ctx, settlement.ReconcileRequest{Provider: "wechat", Date: day}, strings.NewReader(good)); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("no wechat parser: %v", err)
		}
		var counts []int
		db.QuerySettlementFixture(ctx, &counts, `SELECT (SELECT COUNT(*) FROM settlement_statements) +
			(SELECT COUNT(*) FROM settlement_statement_lines) + (SELECT COUNT(*) FROM settlement_breaks)`)
		if counts[0] != 0 {
			t.Fatalf("%d rows recorded from malformed files", counts[0])
		}
		rec, err := svc.Import(ctx, settlement.ReconcileRequest{Provider: "mockpay", Date: day, Actor: operator}, strings.NewReader(good))
		if err != nil || rec.Lines != 1 || rec.NewBreaks[settlement.BreakMissingOurs] != 1 {
			t.Fatalf("good file: %+v, %v", rec, err)
		}
		stmt, err := db.FindStatement(ctx, rec.StatementID)
		if err != nil || stmt.Source != "file" || stmt.Lines != 1 || stmt.PaymentTotal != 100 || len(stmt.SHA256) != 64 {
			t.Fatalf("statement %+v, %v", stmt, err)
		}
	})
}
