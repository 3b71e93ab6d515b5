package alipay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/alipay"
	"github.com/qrpay/qrpay/gateway/alipay/alipayfake"
)

const appID = "2021004100000001"

var (
	keyOnce           sync.Once
	appKey, alipayKey *rsa.PrivateKey
	otherKey          *rsa.PrivateKey
	keyErr            error
)

func testKeys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		if appKey, alipayKey, keyErr = alipayfake.GenerateKeys(); keyErr != nil {
			return
		}
		otherKey, keyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
}

// received is one notice as the web layer would handle it.
type received struct {
	cb  *gateway.Callback
	err error
}

// env is an adapter wired to a fake over loopback HTTP, with a notice receiver that hands
// every notice to ParseCallback and answers with its Ack or CallbackNack.
type env struct {
	t         *testing.T
	clock     *qrpay.FakeClock
	fake      *alipayfake.Server
	p         *alipay.Provider
	notifyURL string

	mu   sync.Mutex
	got  []received
	ctx  context.Context
	amt  func(fen int64) qrpay.Money
	opts alipay.Config
}

// start is 2024-01-15 10:00:00 in Asia/Shanghai.
var start = time.Date(2024, 1, 15, 2, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, mutate ...func(*alipay.Config)) *env {
	t.Helper()
	testKeys(t)
	e := &env{t: t, clock: qrpay.NewFakeClock(start), ctx: context.Background()}
	e.amt = func(fen int64) qrpay.Money { return qrpay.Money{Amount: fen, Currency: qrpay.CNY} }
	fake, err := alipayfake.New(alipayfake.Options{AppID: appID, AppPublicKey: &appKey.PublicKey,
		AlipayKey: alipayKey, SellerID: "2088000000000001", Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.fake = fake
	cfg := alipay.Config{BaseURL: fake.GatewayURL(), AppID: appID, PrivateKey: appKey,
		AlipayPublicKey: &alipayKey.PublicKey, Clock: e.clock, Timeout: 5 * time.Second, SellerID: "2088000000000001"}
	for _, m := range mutate {
		m(&cfg)
	}
	e.opts = cfg
	if e.p, err = alipay.New(cfg); err != nil {
		t.Fatal(err)
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cb, err := e.p.ParseCallback(r.Context(), gateway.CallbackRequest{Method: r.Method, Path: r.URL.Path,
			Header: r.Header, Body: body})
		e.mu.Lock()
		e.got = append(e.got, received{cb, err})
		e.mu.Unlock()
		reply := e.p.CallbackNack()
		if err == nil {
			reply = cb.Ack
		}
		w.Header().Set("Content-Type", reply.ContentType)
		w.WriteHeader(reply.Status)
		_, _ = w.Write(reply.Body)
	}))
	e.notifyURL = recv.URL + "/callbacks/alipay"
	t.Cleanup(func() {
		fake.Close()
		recv.Close()
	})
	return e
}

// notices waits for the fake's notices in flight and returns what the receiver made of them.
func (e *env) notices() []received {
	e.fake.Notifies()
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

func wantProviderError(t *testing.T, err error, code string, unknown bool) {
	t.Helper()
	var pe *gateway.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("want a *gateway.ProviderError %s, got %v", code, err)
	}
	if pe.Code != code || pe.Unknown != unknown || pe.Channel != "alipay" {
		t.Fatalf("want %s unknown=%v, got %v", code, unknown, pe)
	}
}

func TestFullFlow(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	if e.p.Channel() != "alipay" {
		t.Fatal(e.p.Channel())
	}

	// Dynamic code.
	code, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: e.amt(1234),
		Description: "咖啡 & 蛋糕", ExpiresAt: start.Add(15 * time.Minute), NotifyURL: e.notifyURL,
		SubMerchantID: "2088000000000099", StoreID: "S1", TerminalID: "T1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(code.Payload, "https://qr.alipay.com/") || code.ProviderTradeNo != "" {
		t.Fatalf("code %+v", code)
	}
	call := e.fake.Calls()[0]
	if call.Params["timestamp"] != "2024-01-15 10:00:00" || call.Params["format"] != "JSON" ||
		call.Params["charset"] != "utf-8" || call.Params["version"] != "1.0" || call.Params["notify_url"] != e.notifyURL {
		t.Fatalf("common parameters %v", call.Params)
	}
	if call.Biz["time_expire"] != "2024-01-15 10:15:00" || call.Biz["total_amount"] != "12.34" ||
		call.Biz["product_code"] != "FACE_TO_FACE_PAYMENT" || call.Biz["subject"] != "咖啡 & 蛋糕" {
		t.Fatalf("biz_content %v", call.Biz)
	}
	ft, _ := e.fake.Trade("pay_1")
	if ft.SubMerchantID != "2088000000000099" || ft.AppAuthToken != "" || ft.StoreID != "S1" || ft.QRCode != code.Payload {
		t.Fatalf("fake trade %+v", ft)
	}
	// Asking again for the same payment returns the same code.
	again, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: e.amt(1234),
		Description: "咖啡 & 蛋糕", ExpiresAt: start.Add(15 * time.Minute), NotifyURL: e.notifyURL})
	if err != nil || again.Payload != code.Payload {
		t.Fatalf("again: %+v %v", again, err)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_1"}); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("before paying: %+v %v", tr, err)
	}

	// The buyer pays; the signed notice reaches us over HTTP and verifies.
	e.clock.Advance(time.Minute)
	if err := e.fake.Pay("pay_1", "2088102000000001"); err != nil {
		t.Fatal(err)
	}
	got := e.notices()
	if len(got) != 1 || got[0].err != nil || got[0].cb.Trade == nil {
		t.Fatalf("notices %+v", got)
	}
	n := got[0].cb.Trade
	paidAt := start.Add(time.Minute)
	if n.Status != gateway.TradeSucceeded || n.PaymentID != "pay_1" || n.Amount != e.amt(1234) ||
		n.Payer != "2088102000000001" || !n.PaidAt.Equal(paidAt) || n.ProviderTradeNo == "" {
		t.Fatalf("notice trade %+v", n)
	}
	if nf := e.fake.Notifies(); len(nf) != 1 || !nf[0].Acked() {
		t.Fatalf("the fake did not see success: %+v", nf)
	}

	tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_1"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != gateway.TradeSucceeded || tr.Amount != e.amt(1234) || tr.ProviderTradeNo != n.ProviderTradeNo ||
		!tr.PaidAt.Equal(paidAt) || tr.Payer != "2088102000000001" {
		t.Fatalf("query %+v", tr)
	}
	// By trade number alone.
	if tr2, err := e.p.Query(ctx, gateway.TradeRef{ProviderTradeNo: tr.ProviderTradeNo}); err != nil || tr2.PaymentID != "pay_1" {
		t.Fatalf("query by trade_no: %+v %v", tr2, err)
	}

	// Partial refunds, repeated, idempotent by out_request_no.
	e.clock.Advance(time.Hour)
	refund := func(id string, fen int64) (*gateway.RefundResult, error) {
		return e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_1", RefundID: id, Amount: e.amt(fen),
			Total: e.amt(1234), Reason: "退货", NotifyURL: e.notifyURL})
	}
	r1, err := refund("ref_1", 300)
	if err != nil || r1.Status != gateway.RefundSucceeded || r1.RefundID != "ref_1" || !r1.RefundedAt.Equal(start.Add(61*time.Minute)) {
		t.Fatalf("refund 1: %+v %v", r1, err)
	}
	r1again, err := refund("ref_1", 300)
	if err != nil || r1again.Status != gateway.RefundPending {
		t.Fatalf("refund 1 again: %+v %v", r1again, err)
	}
	q1, err := e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "pay_1", RefundID: "ref_1"})
	if err != nil || q1.Status != gateway.RefundSucceeded || q1.Amount != e.amt(300) || !q1.RefundedAt.Equal(start.Add(61*time.Minute)) {
		t.Fatalf("refund query 1: %+v %v", q1, err)
	}
	if r2, err := refund("ref_2", 200); err != nil || r2.Status != gateway.RefundSucceeded {
		t.Fatalf("refund 2: %+v %v", r2, err)
	}
	_, err = refund("ref_1", 400)
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	_, err = refund("ref_3", 735) // 7.34 is left
	wantProviderError(t, err, gateway.ProviderInvalid, false)
	if ft, _ := e.fake.Trade("pay_1"); ft.Refunded != 500 || len(ft.Refunds) != 2 || ft.Status != alipayfake.StatusTradeSuccess {
		t.Fatalf("fake after refunds: %+v", ft)
	}
	if q, err := e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "pay_1", RefundID: "ref_never"}); err != nil || q.Status != gateway.RefundPending {
		t.Fatalf("unknown refund: %+v %v", q, err)
	}
	var refundNotices []string
	for _, g := range e.notices() {
		if g.err != nil {
			t.Fatalf("notice refused: %v", g.err)
		}
		if g.cb.Refund != nil {
			if g.cb.Refund.Status != gateway.RefundSucceeded || g.cb.Refund.PaymentID != "pay_1" || g.cb.Trade != nil {
				t.Fatalf("refund notice %+v", g.cb)
			}
			refundNotices = append(refundNotices, g.cb.Refund.RefundID)
		}
	}
	if strings.Join(refundNotices, ",") != "ref_1,ref_2" && strings.Join(refundNotices, ",") != "ref_2,ref_1" {
		t.Fatalf("refund notices %v", refundNotices)
	}

	// Close an unpaid code, twice; close the paid one.
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_2", Amount: e.amt(500), NotifyURL: e.notifyURL}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_2"}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_2"}); err != nil {
		t.Fatalf("closing a closed trade: %v", err)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_2"}); err != nil || tr.Status != gateway.TradeClosed {
		t.Fatalf("closed: %+v %v", tr, err)
	}
	if err := e.e2eFakePayFails("pay_2"); err == nil {
		t.Fatal("a closed code could be paid")
	}
	wantProviderError(t, e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_1"}), gateway.ProviderAlreadyPaid, false)
	wantProviderError(t, e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_nope"}), gateway.ProviderNotFound, false)
	_, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_nope"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	// Payment codes.
	pay := func(id, authCode string, fen int64) (*gateway.Trade, error) {
		return e.p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: id, AuthCode: authCode, Amount: e.amt(fen),
			Description: "柜台", NotifyURL: e.notifyURL, TerminalID: "T9"})
	}
	ok, err := pay("pay_3", "28763443825664394", 888)
	if err != nil || ok.Status != gateway.TradeSucceeded || ok.Amount != e.amt(888) || ok.ProviderTradeNo == "" ||
		ok.Payer == "" || !ok.PaidAt.Equal(e.clock.Now()) {
		t.Fatalf("code success: %+v %v", ok, err)
	}
	if c := e.fake.Calls(); c[len(c)-1].Biz["scene"] != "bar_code" || c[len(c)-1].Biz["auth_code"] != "28763443825664394" {
		t.Fatalf("pay biz %v", c[len(c)-1].Biz)
	}
	_, err = pay("pay_3", "28763443825664394", 888)
	wantProviderError(t, err, gateway.ProviderAlreadyPaid, false)

	e.fake.SetPaymentCode("281111111111111111", alipayfake.CodeBehavior{Outcome: alipayfake.CodeUserPaying, Queries: 2})
	pending, err := pay("pay_4", "281111111111111111", 100)
	if err != nil || pending.Status != gateway.TradePending {
		t.Fatalf("user paying: %+v %v", pending, err)
	}
	for i := range 2 {
		if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_4"}); err != nil || tr.Status != gateway.TradePending {
			t.Fatalf("poll %d: %+v %v", i, tr, err)
		}
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_4"}); err != nil || tr.Status != gateway.TradeSucceeded || tr.Amount != e.amt(100) {
		t.Fatalf("after confirming: %+v %v", tr, err)
	}

	e.fake.SetPaymentCode("282222222222222222", alipayfake.CodeBehavior{Outcome: alipayfake.CodeDeclined,
		SubCode: "ACQ.BUYER_BALANCE_NOT_ENOUGH", SubMsg: "买家余额不足"})
	declined, err := pay("pay_5", "282222222222222222", 100)
	if err != nil || declined.Status != gateway.TradeFailed || !strings.HasPrefix(declined.FailureReason, "ACQ.BUYER_BALANCE_NOT_ENOUGH") {
		t.Fatalf("declined: %+v %v", declined, err)
	}
	bad, err := pay("pay_6", "1234", 100)
	if err != nil || bad.Status != gateway.TradeFailed || !strings.HasPrefix(bad.FailureReason, "ACQ.PAYMENT_AUTH_CODE_INVALID") {
		t.Fatalf("invalid code: %+v %v", bad, err)
	}

	// 20000: outcome unknown. The customer was in fact charged: query finds it, cancel refunds.
	e.fake.SetPaymentCode("283333333333333333", alipayfake.CodeBehavior{Outcome: alipayfake.CodeUnknown, Charged: true})
	_, err = pay("pay_7", "283333333333333333", 700)
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_7"}); err != nil || tr.Status != gateway.TradeSucceeded {
		t.Fatalf("query after 20000: %+v %v", tr, err)
	}
	cr, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_7"})
	if err != nil || !cr.Refunded {
		t.Fatalf("cancel a charged trade: %+v %v", cr, err)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_7"}); err != nil || tr.Status != gateway.TradeRefunded {
		t.Fatalf("after cancel: %+v %v", tr, err)
	}
	// Not charged: nothing to find or reverse.
	e.fake.SetPaymentCode("284444444444444444", alipayfake.CodeBehavior{Outcome: alipayfake.CodeUnknown})
	_, err = pay("pay_8", "284444444444444444", 700)
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
	_, err = e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_8"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	// Cancel while the customer is confirming: closed, nothing refunded.
	e.fake.SetPaymentCode("285555555555555555", alipayfake.CodeBehavior{Outcome: alipayfake.CodeUserPaying, Queries: 5})
	if tr, err := pay("pay_9", "285555555555555555", 100); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("pay_9: %+v %v", tr, err)
	}
	if cr, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_9"}); err != nil || cr.Refunded {
		t.Fatalf("cancel pending: %+v %v", cr, err)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_9"}); err != nil || tr.Status != gateway.TradeClosed {
		t.Fatalf("after cancel: %+v %v", tr, err)
	}
	// Alipay asks for the reversal to be retried.
	e.fake.ErrorNext("40004", "ACQ.SYSTEM_ERROR", "系统异常")
	_, err = e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_3"})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)

	// Every notice so far verified.
	for _, g := range e.notices() {
		if g.err != nil {
			t.Fatalf("a notice was refused: %v", g.err)
		}
	}

	// The day's statement, the next morning.
	_, err = e.p.Statement(ctx, "2024-01-15")
	wantProviderError(t, err, gateway.ProviderNotFound, false)
	e.clock.Set(time.Date(2024, 1, 16, 1, 30, 0, 0, time.UTC))
	st, err := e.p.Statement(ctx, "2024-01-15")
	if err != nil {
		t.Fatal(err)
	}
	if st.Channel != "alipay" || st.Date != "2024-01-15" {
		t.Fatalf("statement %+v", st)
	}
	type key struct{ typ, id, refund string }
	lines := map[key]gateway.StatementLine{}
	for _, l := range st.Lines {
		lines[key{l.Type, l.PaymentID, l.RefundID}] = l
	}
	want := map[key]int64{
		{"payment", "pay_1", ""}: 1234, {"payment", "pay_3", ""}: 888, {"payment", "pay_4", ""}: 100,
		{"payment", "pay_7", ""}: 700, {"refund", "pay_1", "ref_1"}: 300, {"refund", "pay_1", "ref_2"}: 200,
		{"refund", "pay_7", ""}: 700,
	}
	if len(st.Lines) != len(want) {
		t.Fatalf("%d lines: %+v", len(st.Lines), st.Lines)
	}
	for k, amount := range want {
		l, ok := lines[k]
		if !ok || l.Amount != e.amt(amount) || l.Status != "succeeded" || l.ProviderTradeNo == "" || l.At.IsZero() {
			t.Fatalf("line %v: %+v", k, l)
		}
	}
	if l := lines[key{"payment", "pay_1", ""}]; l.Fee != 7 || !l.At.Equal(paidAt) || l.ProviderTradeNo != n.ProviderTradeNo {
		t.Fatalf("pay_1 line %+v", l) // 0.6% of 12.34 is 0.07404
	}
	if l := lines[key{"refund", "pay_1", "ref_1"}]; l.Fee != 2 {
		t.Fatalf("ref_1 line %+v", l) // 0.6% of 3.00 is 0.018
	}
	_, err = e.p.Statement(ctx, "15/01/2024")
	wantProviderError(t, err, gateway.ProviderInvalid, false)
}

// e2eFakePayFails tries to pay a trade as a buyer would.
func (e *env) e2eFakePayFails(id string) error { return e.fake.Pay(id, "2088102000000002") }

func TestAppAuthTokenBinding(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	sub := alipay.AppAuthTokenPrefix + "202401BBtoken0001"
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_t", Amount: e.amt(100), SubMerchantID: sub}); err != nil {
		t.Fatal(err)
	}
	call := e.fake.Calls()[0]
	if call.Params["app_auth_token"] != "202401BBtoken0001" || call.Biz["sub_merchant"] != nil || call.Biz["seller_id"] != nil {
		t.Fatalf("params %v biz %v", call.Params, call.Biz)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_t", SubMerchantID: sub}); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("query with token: %+v %v", tr, err)
	}
	// Without the token the trade is another merchant's: not found.
	_, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_t"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)
}

func TestExpiredCode(t *testing.T) {
	e := newEnv(t)
	if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_x", Amount: e.amt(100),
		ExpiresAt: start.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	if err := e.fake.Pay("pay_x", ""); err == nil {
		t.Fatal("an expired code was paid")
	}
	if tr, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_x"}); err != nil || tr.Status != gateway.TradeClosed {
		t.Fatalf("expired: %+v %v", tr, err)
	}
	_, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_y", Amount: e.amt(100), ExpiresAt: start})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
}

func TestInvalidRequests(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	usd := qrpay.Money{Amount: 100, Currency: "USD"}
	checks := []error{
		func() error {
			_, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "p", Amount: usd})
			return err
		}(),
		func() error { _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{Amount: e.amt(1)}); return err }(),
		func() error {
			_, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "p", Amount: e.amt(0)})
			return err
		}(),
		func() error {
			_, err := e.p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: "p", Amount: e.amt(1)})
			return err
		}(),
		func() error { _, err := e.p.Query(ctx, gateway.TradeRef{}); return err }(),
		func() error { _, err := e.p.Cancel(ctx, gateway.TradeRef{}); return err }(),
		e.p.Close(ctx, gateway.TradeRef{}),
		func() error {
			_, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "p", Amount: e.amt(1)})
			return err
		}(),
		func() error { _, err := e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "p"}); return err }(),
	}
	for i, err := range checks {
		wantProviderError(t, err, gateway.ProviderInvalid, false)
		if qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("check %d: the cause is not EINVALID: %v", i, err)
		}
	}
	if n := len(e.fake.Calls()); n != 0 {
		t.Fatalf("%d invalid requests reached Alipay", n)
	}
}

func TestTamperedAnswer(t *testing.T) {
	e := newEnv(t)
	if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: e.amt(100)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []alipayfake.Fault{alipayfake.FaultTamper, alipayfake.FaultBadSignature} {
		e.fake.FailNext(f)
		_, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_1"})
		wantProviderError(t, err, gateway.ProviderTampered, true)
	}
	// A tampered refund answer: the refund happened, but we cannot trust the answer.
	if err := e.fake.Pay("pay_1", ""); err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(alipayfake.FaultTamper)
	_, err := e.p.Refund(e.ctx, gateway.RefundRequest{PaymentID: "pay_1", RefundID: "r1", Amount: e.amt(50)})
	wantProviderError(t, err, gateway.ProviderTampered, true)
	if q, err := e.p.QueryRefund(e.ctx, gateway.RefundRef{PaymentID: "pay_1", RefundID: "r1"}); err != nil || q.Status != gateway.RefundSucceeded {
		t.Fatalf("the query tells: %+v %v", q, err)
	}
}

func TestTamperedNotify(t *testing.T) {
	e := newEnv(t)
	// A changed amount, a changed status, a removed signature: each is refused.
	for i, tamper := range [][2]string{{"total_amount", "0.01"}, {"trade_status", "TRADE_FINISHED"}, {"sign", ""}} {
		id := []string{"pay_a", "pay_b", "pay_c"}[i]
		if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: id, Amount: e.amt(1000), NotifyURL: e.notifyURL}); err != nil {
			t.Fatal(err)
		}
		e.fake.TamperNextNotify(tamper[0], tamper[1])
		if err := e.fake.Pay(id, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := e.notices()
	if len(got) != 3 {
		t.Fatalf("%d notices", len(got))
	}
	for i, g := range got {
		if g.cb != nil || qrpay.ErrorCode(g.err) != qrpay.EUNAUTHORIZED {
			t.Errorf("notice %d: %+v %v", i, g.cb, g.err)
		}
	}
	for _, n := range e.fake.Notifies() {
		if n.Acked() || n.Reply != "fail" || n.Status != http.StatusOK {
			t.Errorf("a tampered notice was acknowledged: %+v", n)
		}
	}
}

func TestNotifySignedWithSignType(t *testing.T) {
	e := newEnv(t)
	e.fake.SignNotifiesWithSignType(true)
	if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_k", Amount: e.amt(1000), NotifyURL: e.notifyURL}); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Pay("pay_k", ""); err != nil {
		t.Fatal(err)
	}
	got := e.notices()
	if len(got) != 1 || got[0].err != nil || got[0].cb.Trade.Status != gateway.TradeSucceeded {
		t.Fatalf("%+v", got)
	}
}

func TestNotifyForAnotherAppOrSeller(t *testing.T) {
	e := newEnv(t)
	if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: e.amt(1000), NotifyURL: e.notifyURL}); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Pay("pay_1", ""); err != nil {
		t.Fatal(err)
	}
	body := []byte(e.fake.Notifies()[0].Form.Encode())
	for name, mutate := range map[string]func(*alipay.Config){
		"app":    func(c *alipay.Config) { c.AppID = "2021000000009999" },
		"seller": func(c *alipay.Config) { c.SellerID = "2088000000009999" },
		"key":    func(c *alipay.Config) { c.AlipayPublicKey = &otherKey.PublicKey },
	} {
		cfg := e.opts
		mutate(&cfg)
		p, err := alipay.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.ParseCallback(e.ctx, gateway.CallbackRequest{Method: "POST", Body: body}); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unreadable and unsigned bodies.
	for name, b := range map[string]string{
		"unsigned":  strings.ReplaceAll(string(body), "sign=", "xsign="),
		"not form":  "%zz",
		"repeated":  string(body) + "&total_amount=1.00",
		"empty":     "",
		"wrong alg": strings.Replace(string(body), "sign_type=RSA2", "sign_type=RSA", 1),
	} {
		_, err := e.p.ParseCallback(e.ctx, gateway.CallbackRequest{Method: "POST", Body: []byte(b)})
		if c := qrpay.ErrorCode(err); c != qrpay.EUNAUTHORIZED && c != qrpay.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := e.p.ParseCallback(e.ctx, gateway.CallbackRequest{Method: "GET", Body: body}); qrpay.ErrorCode(err) != qrpay.EINVALID {
		t.Errorf("GET: %v", err)
	}
	nack := e.p.CallbackNack()
	if string(nack.Body) != "fail" || nack.Status != http.StatusOK {
		t.Fatalf("nack %+v", nack)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, func(c *alipay.Config) { c.Timeout = 300 * time.Millisecond })
	e.fake.FailNext(alipayfake.FaultTimeout)
	_, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: e.amt(100)})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)

	// The call took effect although its answer never came: unknown, not failed, and the query
	// finds the truth.
	e.fake.FailNext(alipayfake.FaultTimeoutAfterApply)
	_, err = e.p.PayWithCode(e.ctx, gateway.PayCodeRequest{PaymentID: "pay_2", AuthCode: "28763443825664394", Amount: e.amt(100)})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
	if tr, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_2"}); err != nil || tr.Status != gateway.TradeSucceeded {
		t.Fatalf("query after timeout: %+v %v", tr, err)
	}

	// The caller's own deadline counts too.
	e.fake.FailNext(alipayfake.FaultTimeout)
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	_, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_2"})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
}

func TestServerError(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext(alipayfake.FaultServerError)
	_, err := e.p.Refund(e.ctx, gateway.RefundRequest{PaymentID: "pay_1", RefundID: "r", Amount: e.amt(100)})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)

	e.fake.ErrorNext("20000", "isp.unknow-error", "系统繁忙")
	_, err = e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_1"})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)

	// Nobody listening.
	cfg := e.opts
	cfg.BaseURL = "http://127.0.0.1:1/gateway.do"
	p, err := alipay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_1"})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
}

func TestWrongAppKey(t *testing.T) {
	e := newEnv(t, func(c *alipay.Config) { c.PrivateKey = otherKey })
	_, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: e.amt(100)})
	wantProviderError(t, err, gateway.ProviderAuth, false)
	var pe *gateway.ProviderError
	errors.As(err, &pe)
	if pe.ProviderCode != "isv.invalid-signature" {
		t.Fatalf("provider code %q", pe.ProviderCode)
	}
	if c := e.fake.Calls(); len(c) != 1 || c[0].Code != "40002" {
		t.Fatalf("calls %+v", c)
	}
	if _, ok := e.fake.Trade("pay_1"); ok {
		t.Fatal("the fake acted on a badly signed request")
	}
	// A wrong app id is refused the same way.
	e2 := newEnv(t, func(c *alipay.Config) { c.AppID = "2021000000000002" })
	_, err = e2.p.Query(e2.ctx, gateway.TradeRef{PaymentID: "pay_1"})
	wantProviderError(t, err, gateway.ProviderAuth, false)
}

func TestClockSkew(t *testing.T) {
	// A request stamped in the wrong zone (or with a wrong clock) is refused by the gateway.
	e := newEnv(t)
	cfg := e.opts
	cfg.Clock = qrpay.NewFakeClock(start.Add(8 * time.Hour))
	p, err := alipay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_1"})
	wantProviderError(t, err, gateway.ProviderInvalid, false)
}
