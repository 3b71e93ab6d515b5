package unionpay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/unionpay"
	"github.com/qrpay/qrpay/gateway/unionpay/unionpayfake"
	"github.com/qrpay/qrpay/qr"
)

// TestFullFlow walks a dynamic code through its life: create, pay, notification, query,
// partial and repeated refunds, refund query, close unpaid and close paid.
func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	if e.p.Channel() != "unionpay" {
		t.Fatal(e.p.Channel())
	}
	payID := qrpay.NewID("pay", start) // as the gateway makes them

	// A dynamic code for a merchant with a Chinese name: tags 59/60 take the defaults, 64 the name.
	req := gateway.CreateCodeRequest{PaymentID: payID, Amount: cny(1234), Description: "拿铁 & 可颂",
		ExpiresAt: start.Add(15 * time.Minute), NotifyURL: e.notifyURL, MerchantName: "幸运咖啡", MerchantCity: "上海",
		TerminalID: "T0001", StoreID: "S1"}
	code, err := e.p.CreateCode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if code.ProviderTradeNo != "" {
		t.Fatalf("a queryId before payment: %+v", code)
	}
	p, err := qr.Parse(code.Payload)
	if err != nil || !p.CRCValid || !p.Valid() {
		t.Fatalf("payload %q: %v %+v", code.Payload, err, p)
	}
	want := map[string]string{
		"01": "12", "15": acquirerIIN + forwardingIIN + merID, "52": "5814", "53": "156", "54": "12.34", "58": "CN",
		"59": "LUCKY COFFEE", "60": "SHANGHAI", "62.05": payID, "62.07": "T0001",
		"64.00": "ZH", "64.01": "幸运咖啡", "64.02": "上海",
	}
	for tag, v := range want {
		if got := p.Field(tag); got != v {
			t.Errorf("tag %s = %q, want %q", tag, got, v)
		}
	}
	if unionpay.ReferenceLabel(payID) != payID {
		t.Fatalf("reference label %q of %q", unionpay.ReferenceLabel(payID), payID)
	}
	// A longer id (32 characters is the most an orderId takes) keeps its last 25.
	if l := unionpay.ReferenceLabel("pay_0123456789abcdefghjkmnpqrstv"); l != "3456789abcdefghjkmnpqrstv" {
		t.Fatalf("reference label of a long id: %q", l)
	}
	call := e.fake.Calls()[0]
	for k, v := range map[string]string{
		"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "certId": merchantCert, "txnType": "01",
		"txnSubType": "07", "bizType": "000000", "accessType": "0", "channelType": "08", "merId": merID,
		"orderId": payID, "txnAmt": "1234", "currencyCode": "156", "txnTime": "20240115100000",
		"payTimeout": "20240115101500", "backUrl": e.notifyURL, "termId": "T0001", "orderDesc": "拿铁 & 可颂",
		"merName": "LUCKY COFFEE", "merNameLocal": "幸运咖啡", "merCatCode": "5814",
	} {
		if call.Fields[k] != v {
			t.Errorf("request field %s = %q, want %q", k, call.Fields[k], v)
		}
	}
	if call.Fields["signature"] == "" || call.RespCode != "00" {
		t.Fatalf("call %+v", call)
	}

	// Asking again for the same payment returns the same code.
	again, err := e.p.CreateCode(ctx, req)
	if err != nil || again.Payload != code.Payload {
		t.Fatalf("again: %+v %v", again, err)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: payID}); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("before paying: %+v %v", tr, err)
	}

	// The customer pays; the signed notification reaches us over HTTP and verifies.
	e.clock.Advance(time.Minute)
	if err := e.fake.Pay(payID, "6217********1234"); err != nil {
		t.Fatal(err)
	}
	got := e.notices(0)
	if len(got) != 1 || got[0].err != nil || got[0].cb.Trade == nil {
		t.Fatalf("notices %+v", got)
	}
	n := got[0].cb.Trade
	paidAt := start.Add(time.Minute)
	if n.Status != gateway.TradeSucceeded || n.PaymentID != payID || n.Amount != cny(1234) ||
		n.Payer != "6217********1234" || !n.PaidAt.Equal(paidAt) || n.ProviderTradeNo == "" {
		t.Fatalf("notice trade %+v", n)
	}
	if string(got[0].cb.Ack.Body) != "ok" || got[0].cb.Ack.Status != 200 {
		t.Fatalf("ack %+v", got[0].cb.Ack)
	}
	if nf := e.fake.Notifies(); len(nf) != 1 || !nf[0].Acked() || nf[0].Body != "ok" {
		t.Fatalf("the fake did not see the ack: %+v", nf)
	}

	tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: payID})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != gateway.TradeSucceeded || tr.Amount != cny(1234) || tr.ProviderTradeNo != n.ProviderTradeNo ||
		!tr.PaidAt.Equal(paidAt) || tr.Payer != "6217********1234" {
		t.Fatalf("query %+v", tr)
	}
	if tr2, err := e.p.Query(ctx, gateway.TradeRef{ProviderTradeNo: tr.ProviderTradeNo}); err != nil || tr2.PaymentID != payID {
		t.Fatalf("query by queryId: %+v %v", tr2, err)
	}
	// The code of a paid order is not issued again.
	_, err = e.p.CreateCode(ctx, req)
	wantProviderError(t, err, gateway.ProviderInvalid, false)

	// Partial refunds, one repeated.
	e.clock.Advance(time.Hour)
	before := e.noticeCount()
	ref1 := qrpay.NewID("re", e.clock.Now())
	rr, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: payID, ProviderTradeNo: tr.ProviderTradeNo,
		RefundID: ref1, Amount: cny(300), Total: cny(1234), Reason: "少一杯", NotifyURL: e.notifyURL})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Status != gateway.RefundSucceeded || rr.PaymentID != payID || rr.RefundID != ref1 || rr.Amount != cny(300) ||
		rr.ProviderRefundNo == "" || !rr.RefundedAt.Equal(start.Add(61*time.Minute)) {
		t.Fatalf("refund %+v", rr)
	}
	rn := e.notices(before)
	if len(rn) != 1 || rn[0].err != nil || rn[0].cb.Refund == nil || rn[0].cb.Refund.RefundID != ref1 ||
		rn[0].cb.Refund.PaymentID != payID || rn[0].cb.Refund.Status != gateway.RefundSucceeded ||
		rn[0].cb.Refund.Amount != cny(300) || rn[0].cb.Refund.ProviderRefundNo != rr.ProviderRefundNo {
		t.Fatalf("refund notices %+v", rn)
	}
	again1, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: payID, RefundID: ref1, Amount: cny(300), Total: cny(1234)})
	if err != nil || again1.Status != gateway.RefundSucceeded || again1.ProviderRefundNo != rr.ProviderRefundNo {
		t.Fatalf("repeated refund: %+v %v", again1, err)
	}
	// The same refund id for another amount is refused, not a second refund.
	_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: payID, RefundID: ref1, Amount: cny(301), Total: cny(1234)})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	ref2 := qrpay.NewID("re", e.clock.Now())
	if r2, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: payID, RefundID: ref2, Amount: cny(500), Total: cny(1234)}); err != nil ||
		r2.Status != gateway.RefundSucceeded || r2.Amount != cny(500) || r2.ProviderRefundNo == rr.ProviderRefundNo {
		t.Fatalf("second refund: %+v %v", r2, err)
	}
	// 434 remain: 435 is too much.
	_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: payID, RefundID: "re_too_much", Amount: cny(435), Total: cny(1234)})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	if ft, _ := e.fake.Txn(payID); ft.Refunded != 800 {
		t.Fatalf("the fake refunded %d", ft.Refunded)
	}

	// Refund queries.
	q1, err := e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: payID, ProviderTradeNo: tr.ProviderTradeNo, RefundID: ref1})
	if err != nil || q1.Status != gateway.RefundSucceeded || q1.Amount != cny(300) || q1.PaymentID != payID ||
		q1.ProviderRefundNo != rr.ProviderRefundNo || !q1.RefundedAt.Equal(rr.RefundedAt) {
		t.Fatalf("refund query: %+v %v", q1, err)
	}
	_, err = e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "pay_other", RefundID: ref1})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	_, err = e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: payID, RefundID: "re_unknown"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)
	// A payment id is not a refund.
	_, err = e.p.QueryRefund(ctx, gateway.RefundRef{RefundID: payID})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	// ... nor a refund a payment.
	_, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: ref1})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	// Refunds leave the payment succeeded, as UnionPay reports it.
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: payID}); err != nil || tr.Status != gateway.TradeSucceeded {
		t.Fatalf("after refunds: %+v %v", tr, err)
	}

	// Close an unpaid order, twice; then it cannot be paid.
	pay2 := qrpay.NewID("pay", e.clock.Now())
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: pay2, Amount: cny(800), NotifyURL: e.notifyURL,
		SubMerchantID: subMerID, MerchantName: "Tea House", MerchantCity: "Hangzhou", MCC: "5812"}); err != nil {
		t.Fatal(err)
	}
	if ft, _ := e.fake.Txn(pay2); ft.MerID != subMerID || ft.Request["merName"] != "Tea House" || ft.Request["merCity"] != "Hangzhou" {
		t.Fatalf("sub-merchant order %+v", ft)
	}
	for range 2 {
		if err := e.p.Close(ctx, gateway.TradeRef{PaymentID: pay2, SubMerchantID: subMerID}); err != nil {
			t.Fatal(err)
		}
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: pay2, SubMerchantID: subMerID}); err != nil || tr.Status != gateway.TradeClosed {
		t.Fatalf("closed: %+v %v", tr, err)
	}
	if err := e.fake.Pay(pay2, ""); err == nil {
		t.Fatal("paid a closed order")
	}
	// Under another merId the order does not exist.
	_, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: pay2})
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	// Closing the paid order is refused: it was paid.
	err = e.p.Close(ctx, gateway.TradeRef{PaymentID: payID})
	wantProviderError(t, err, gateway.ProviderAlreadyPaid, false)
	err = e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_never_seen"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	// No notification was refused along the way.
	for _, r := range e.notices(0) {
		if r.err != nil {
			t.Fatalf("a notification was refused: %v", r.err)
		}
	}
}

// TestExpiry checks that an order past payTimeout cannot be paid and queries as closed.
func TestExpiry(t *testing.T) {
	e := newEnv(t)
	if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_exp", Amount: cny(100),
		ExpiresAt: start.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	if err := e.fake.Pay("pay_exp", ""); err == nil {
		t.Fatal("paid an expired order")
	}
	if tr, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_exp"}); err != nil || tr.Status != gateway.TradeClosed {
		t.Fatalf("expired: %+v %v", tr, err)
	}
	_, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_late", Amount: cny(100),
		ExpiresAt: start})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	if n := len(e.fake.Calls()); n != 2 {
		t.Fatalf("%d calls; an already expired code must not be asked for", n)
	}
}

// TestC2B charges customer payment codes: success, confirmation then success, declined, an
// unknown outcome either way, and the reversal of a paid one.
func TestC2B(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	pay := func(id, code string, fen int64) (*gateway.Trade, error) {
		return e.p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: id, AuthCode: code, Amount: cny(fen),
			Description: "早餐", NotifyURL: e.notifyURL, TerminalID: "POS-01", ClientIP: "10.0.0.7"})
	}

	// Success at once; the notification follows.
	e.fake.SetPaymentCode("6212345678901234567", unionpayfake.CodeBehavior{Payer: "6216********0018"})
	tr, err := pay("pay_c1", " 6212345678901234567 ", 1500)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != gateway.TradeSucceeded || tr.Amount != cny(1500) || tr.ProviderTradeNo == "" || tr.Payer != "6216********0018" ||
		!tr.PaidAt.Equal(start) || tr.PaymentID != "pay_c1" {
		t.Fatalf("pay %+v", tr)
	}
	call := e.fake.Calls()[0]
	if call.Fields["qrNo"] != "6212345678901234567" || call.Fields["txnSubType"] != "06" || call.Fields["customerIp"] != "10.0.0.7" ||
		call.Fields["termId"] != "POS-01" {
		t.Fatalf("request %v", call.Fields)
	}
	if got := e.notices(0); len(got) != 1 || got[0].err != nil || got[0].cb.Trade.Status != gateway.TradeSucceeded ||
		got[0].cb.Trade.ProviderTradeNo != tr.ProviderTradeNo {
		t.Fatalf("notices %+v", got)
	}

	// The customer confirms on the phone: pending twice, then succeeded.
	e.fake.SetPaymentCode("6223456789012345678", unionpayfake.CodeBehavior{Outcome: unionpayfake.CodeProcessing, Queries: 2})
	tr, err = pay("pay_c2", "6223456789012345678", 2000)
	if err != nil || tr.Status != gateway.TradePending || tr.ProviderTradeNo == "" {
		t.Fatalf("processing: %+v %v", tr, err)
	}
	for i := range 2 {
		if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c2"}); err != nil || q.Status != gateway.TradePending {
			t.Fatalf("query %d: %+v %v", i, q, err)
		}
	}
	e.clock.Advance(20 * time.Second)
	q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c2"})
	if err != nil || q.Status != gateway.TradeSucceeded || q.Amount != cny(2000) || !q.PaidAt.Equal(start.Add(20*time.Second)) {
		t.Fatalf("confirmed: %+v %v", q, err)
	}

	// Declined: a failed trade with the reason, not an error.
	e.fake.SetPaymentCode("6234567890123456789", unionpayfake.CodeBehavior{Outcome: unionpayfake.CodeDeclined,
		RespCode: "65", RespMsg: "余额不足"})
	tr, err = pay("pay_c3", "6234567890123456789", 99900)
	if err != nil || tr.Status != gateway.TradeFailed || tr.FailureReason != "65: 余额不足" {
		t.Fatalf("declined: %+v %v", tr, err)
	}
	if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c3"}); err != nil || q.Status != gateway.TradeFailed {
		t.Fatalf("declined query: %+v %v", q, err)
	}

	// Outcome unknown (04): pending; the query finds it charged.
	e.fake.SetPaymentCode("6245678901234567890", unionpayfake.CodeBehavior{Outcome: unionpayfake.CodeUnknown, Charged: true})
	tr, err = pay("pay_c4", "6245678901234567890", 700)
	if err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("unknown: %+v %v", tr, err)
	}
	if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c4"}); err != nil || q.Status != gateway.TradeSucceeded {
		t.Fatalf("unknown, charged: %+v %v", q, err)
	}
	// ... or not charged.
	e.fake.SetPaymentCode("6256789012345678901", unionpayfake.CodeBehavior{Outcome: unionpayfake.CodeUnknown, Queries: 1})
	if tr, err = pay("pay_c5", "6256789012345678901", 700); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("unknown: %+v %v", tr, err)
	}
	if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c5"}); err != nil || q.Status != gateway.TradePending {
		t.Fatalf("still unknown: %+v %v", q, err)
	}
	if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c5"}); err != nil || q.Status != gateway.TradeFailed {
		t.Fatalf("unknown, not charged: %+v %v", q, err)
	}

	// Reversing a paid one returns the money; reversing again says the same.
	for range 2 {
		res, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_c1"})
		if err != nil || !res.Refunded {
			t.Fatalf("cancel paid: %+v %v", res, err)
		}
	}
	if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c1"}); err != nil || q.Status != gateway.TradeRefunded {
		t.Fatalf("voided: %+v %v", q, err)
	}
	err = e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_c1"})
	wantProviderError(t, err, gateway.ProviderAlreadyClosed, false)
	_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_c1", RefundID: "re_after_void", Amount: cny(1), Total: cny(1500)})
	wantProviderError(t, err, gateway.ProviderAlreadyClosed, false)

	// Reversing one the customer is still confirming closes it.
	e.fake.SetPaymentCode("6267890123456789012", unionpayfake.CodeBehavior{Outcome: unionpayfake.CodeProcessing, Queries: 5})
	if tr, err = pay("pay_c6", "6267890123456789012", 300); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("processing: %+v %v", tr, err)
	}
	res, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_c6", ProviderTradeNo: tr.ProviderTradeNo})
	if err != nil || res.Refunded {
		t.Fatalf("cancel unpaid: %+v %v", res, err)
	}
	if q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_c6"}); err != nil || q.Status != gateway.TradeClosed {
		t.Fatalf("reversed unpaid: %+v %v", q, err)
	}
	_, err = e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_never_seen"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	// A repeated orderId is refused.
	_, err = pay("pay_c1", "6212345678901234567", 1500)
	wantProviderError(t, err, gateway.ProviderInvalid, false)

	for _, r := range e.notices(0) {
		if r.err != nil {
			t.Fatalf("a notification was refused: %v", r.err)
		}
	}
}

// TestStatement fetches the reconciliation file of a day with payments, refunds and a void.
func TestStatement(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	e.fake.SetPaymentCode("6212345678901234567", unionpayfake.CodeBehavior{})
	paid, err := e.p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: "pay_s1", AuthCode: "6212345678901234567", Amount: cny(10000)})
	if err != nil || paid.Status != gateway.TradeSucceeded {
		t.Fatalf("%+v %v", paid, err)
	}
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_s2", Amount: cny(2550), SubMerchantID: subMerID}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if err := e.fake.Pay("pay_s2", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_s2", SubMerchantID: subMerID, RefundID: "re_s2",
		Amount: cny(550), Total: cny(2550)}); err != nil {
		t.Fatal(err)
	}
	e.fake.SetPaymentCode("6298765432109876543", unionpayfake.CodeBehavior{})
	if _, err := e.p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: "pay_s3", AuthCode: "6298765432109876543", Amount: cny(400)}); err != nil {
		t.Fatal(err)
	}
	if res, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_s3"}); err != nil || !res.Refunded {
		t.Fatalf("%+v %v", res, err)
	}
	// An unpaid order and a declined charge are not on the statement.
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_unpaid", Amount: cny(1)}); err != nil {
		t.Fatal(err)
	}

	// Today's file does not exist yet.
	_, err = e.p.Statement(ctx, "2024-01-15")
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	e.clock.Advance(24 * time.Hour)
	st, err := e.p.Statement(ctx, "2024-01-15")
	if err != nil {
		t.Fatal(err)
	}
	if st.Channel != "unionpay" || st.Date != "2024-01-15" || len(st.Lines) != 5 {
		t.Fatalf("statement %+v", st)
	}
	s1, _ := e.fake.Txn("pay_s1")
	s2, _ := e.fake.Txn("pay_s2")
	s3, _ := e.fake.Txn("pay_s3")
	wantLines := []gateway.StatementLine{
		{ProviderTradeNo: s1.QueryID, PaymentID: "pay_s1", Type: "payment", Amount: cny(10000), Fee: 30, Status: "succeeded", At: start},
		{ProviderTradeNo: s2.QueryID, PaymentID: "pay_s2", Type: "payment", Amount: cny(2550), Fee: 8, Status: "succeeded", At: start.Add(time.Hour)},
		{ProviderTradeNo: s2.QueryID, PaymentID: "pay_s2", Type: "refund", RefundID: "re_s2", Amount: cny(550), Fee: 2, Status: "succeeded", At: start.Add(time.Hour)},
		{ProviderTradeNo: s3.QueryID, PaymentID: "pay_s3", Type: "payment", Amount: cny(400), Fee: 1, Status: "succeeded", At: start.Add(time.Hour)},
		{ProviderTradeNo: s3.QueryID, PaymentID: "pay_s3", Type: "refund", Amount: cny(400), Fee: 1, Status: "succeeded", At: start.Add(time.Hour)},
	}
	for i, l := range st.Lines {
		w := wantLines[i]
		if l.ProviderTradeNo != w.ProviderTradeNo || l.PaymentID != w.PaymentID || l.Type != w.Type || l.RefundID != w.RefundID ||
			l.Amount != w.Amount || l.Fee != w.Fee || l.Status != w.Status || !l.At.Equal(w.At) {
			t.Errorf("line %d: %+v, want %+v", i, l, w)
		}
	}
	// The same text parses to the same statement.
	text, err := e.fake.StatementText("2024-01-15", merID)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := e.p.ParseStatement(strings.NewReader(text))
	if err != nil || len(st2.Lines) != len(st.Lines) {
		t.Fatalf("%+v %v", st2, err)
	}
	call := e.fake.Calls()[len(e.fake.Calls())-1]
	if call.Fields["txnType"] != "76" || call.Fields["fileType"] != "00" || call.Fields["settleDate"] != "0115" ||
		call.Fields["merId"] != merID {
		t.Fatalf("file transfer request %v", call.Fields)
	}

	// A day without transactions has an empty file.
	if st, err := e.p.Statement(ctx, "2024-01-10"); err != nil || len(st.Lines) != 0 || st.Date != "2024-01-10" {
		t.Fatalf("empty day: %+v %v", st, err)
	}
	// The file of another year's day is refused: the fake serves the latest 01-20, of 2023.
	_, err = e.p.Statement(ctx, "2024-01-20")
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	_, err = e.p.Statement(ctx, "15/01/2024")
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	// A tampered file transfer is not believed.
	e.fake.FailNext(unionpayfake.FaultTamper)
	_, err = e.p.Statement(ctx, "2024-01-15")
	wantProviderError(t, err, gateway.ProviderTampered, true)
}
