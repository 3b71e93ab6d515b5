package unionpay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/unionpay"
	"github.com/qrpay/qrpay/gateway/unionpay/unionpayfake"
	"github.com/qrpay/qrpay/qr"
)

// paidOrder creates and pays a QR order, returning its queryId.
func paidOrder(t *testing.T, e *env, id string, fen int64) string {
	t.Helper()
	if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: id, Amount: cny(fen), NotifyURL: e.notifyURL}); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Pay(id, ""); err != nil {
		t.Fatal(err)
	}
	ft, _ := e.fake.Txn(id)
	return ft.QueryID
}

// TestAnswerNotTrusted: an answer altered after signing, signed by another key, under an unknown
// certificate or not at all is an unknown outcome, never a result.
func TestAnswerNotTrusted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault unionpayfake.Fault
	}{
		{"tampered", unionpayfake.FaultTamper},
		{"bad signature", unionpayfake.FaultBadSignature},
		{"unknown certificate", unionpayfake.FaultUnknownCert},
		{"unsigned", unionpayfake.FaultUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			paidOrder(t, e, "pay_t1", 1000)
			e.fake.FailNext(tc.fault)
			tr, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_t1"})
			wantProviderError(t, err, gateway.ProviderTampered, true)
			if tr != nil {
				t.Fatalf("a trade with the error: %+v", tr)
			}
			// A charge whose answer is not trusted is not a result either way.
			e.fake.FailNext(tc.fault)
			tr, err = e.p.PayWithCode(e.ctx, gateway.PayCodeRequest{PaymentID: "pay_t2", AuthCode: "6212345678901234567", Amount: cny(100)})
			wantProviderError(t, err, gateway.ProviderTampered, true)
			if tr != nil {
				t.Fatalf("a trade with the error: %+v", tr)
			}
			// The charge did happen: the query tells.
			if q, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_t2"}); err != nil || q.Status != gateway.TradeSucceeded {
				t.Fatalf("after the untrusted answer: %+v %v", q, err)
			}
		})
	}
}

// TestCodeNotTrusted: a properly signed answer whose EMV payload lies (amount, CRC, account) is
// refused as tampered, with the outcome unknown.
func TestCodeNotTrusted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault unionpayfake.Fault
		msg   string
	}{
		{"wrong amount", unionpayfake.FaultWrongAmount, "asks for 12.35"},
		{"bad CRC", unionpayfake.FaultBadCRC, "CRC"},
		{"other merchant", unionpayfake.FaultWrongAccount, "another merchant account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.FailNext(tc.fault)
			code, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_q1", Amount: cny(1234)})
			wantProviderError(t, err, gateway.ProviderTampered, true)
			if code != nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("code %+v, error %v", code, err)
			}
			// The payload the fake sent is what was refused.
			ft, _ := e.fake.Txn("pay_q1")
			p, perr := qr.Parse(ft.QRCode)
			if perr != nil {
				t.Fatal(perr)
			}
			if tc.fault == unionpayfake.FaultBadCRC && p.CRCValid {
				t.Fatal("the fake's payload has a valid CRC")
			}
		})
	}
}

// TestNotificationNotTrusted: a notification altered after signing (its amount, say) is refused
// with EUNAUTHORIZED and answered with the nack, so UnionPay sends it again.
func TestNotificationNotTrusted(t *testing.T) {
	for _, tc := range []struct{ field, value string }{
		{"txnAmt", "1"},        // a changed amount: the signature fails
		{"respCode", "00"},     // unchanged value: still verifies
		{"orderId", "pay_n2"},  // another payment
		{"certId", "99999999"}, // an unknown certificate
		{"signature", ""},      // unsigned
	} {
		t.Run(tc.field, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_n1", Amount: cny(5000), NotifyURL: e.notifyURL}); err != nil {
				t.Fatal(err)
			}
			e.fake.TamperNextNotify(tc.field, tc.value)
			if err := e.fake.Pay("pay_n1", ""); err != nil {
				t.Fatal(err)
			}
			got := e.notices(0)
			nf := e.fake.Notifies()
			if len(got) != 1 || len(nf) != 1 {
				t.Fatalf("notices %+v %+v", got, nf)
			}
			if tc.field == "respCode" { // the control: the same value verifies
				if got[0].err != nil || !nf[0].Acked() {
					t.Fatalf("an untouched notification was refused: %v", got[0].err)
				}
				return
			}
			if got[0].err == nil || qrpay.ErrorCode(got[0].err) != qrpay.EUNAUTHORIZED || got[0].cb != nil {
				t.Fatalf("a tampered notification: %+v", got[0])
			}
			if nf[0].Acked() || nf[0].Status != 500 {
				t.Fatalf("the fake saw %d %q", nf[0].Status, nf[0].Body)
			}
		})
	}
}

// TestParseCallbackInput: what is not a signed form is refused with the right code.
func TestParseCallbackInput(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, method, body, code string
	}{
		{"not a form", "POST", "%zz", qrpay.EINVALID},
		{"repeated field", "POST", "a=1&a=2", qrpay.EINVALID},
		{"GET", "GET", "", qrpay.EINVALID},
		{"unsigned", "POST", "txnType=01&orderId=pay_1&respCode=00&txnAmt=100", qrpay.EUNAUTHORIZED},
		{"garbage signature", "POST", "txnType=01&orderId=pay_1&respCode=00&txnAmt=100&certId=" + unionpayCert + "&signature=abc", qrpay.EUNAUTHORIZED},
		{"too large", "POST", strings.Repeat("a", 70<<10), qrpay.EINVALID},
	} {
		cb, err := e.p.ParseCallback(e.ctx, gateway.CallbackRequest{Method: tc.method, Body: []byte(tc.body)})
		if cb != nil || qrpay.ErrorCode(err) != tc.code {
			t.Errorf("%s: %+v %v", tc.name, cb, err)
		}
	}
	if nack := e.p.CallbackNack(); nack.Status != 500 {
		t.Fatalf("nack %+v", nack)
	}
}

// TestUnknownPrefix: a code that is not UnionPay's is refused locally, with nothing sent. The
// Alipay and WeChat codes are the public routing vectors (testdata/vectors.json).
func TestUnknownPrefix(t *testing.T) {
	e := newEnv(t)
	codes := []string{"6212345", "62123456789012345678", "7212345678901234567", "62123456789O1234567", ""}
	for _, v := range loadVectors(t, "payment_code_route") {
		codes = append(codes, v.input())
	}
	for _, code := range codes {
		tr, err := e.p.PayWithCode(e.ctx, gateway.PayCodeRequest{PaymentID: "pay_x", AuthCode: code, Amount: cny(100)})
		if tr != nil || qrpay.ErrorCode(err) != qrpay.EINVALID || qrpay.ErrorParam(err) != "auth_code" {
			t.Errorf("%q: %+v %v", code, tr, err)
		}
		if gateway.IsOutcomeUnknown(err) {
			t.Errorf("%q: an unknown outcome", code)
		}
	}
	if n := len(e.fake.Calls()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// TestTimeout: a call that gets no answer in time is an unknown outcome, not a failure; when the
// provider did act, the query finds out.
func TestTimeout(t *testing.T) {
	e := newEnv(t, func(c *unionpay.Config) { c.Timeout = 300 * time.Millisecond })
	e.fake.FailNext(unionpayfake.FaultTimeout)
	tr, err := e.p.PayWithCode(e.ctx, gateway.PayCodeRequest{PaymentID: "pay_to1", AuthCode: "6212345678901234567", Amount: cny(100)})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
	if tr != nil {
		t.Fatalf("a trade with the error: %+v", tr)
	}
	// Nothing happened: the payment is unknown to UnionPay.
	_, err = e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_to1"})
	wantProviderError(t, err, gateway.ProviderNotFound, false)

	e.fake.FailNext(unionpayfake.FaultTimeoutAfterApply)
	_, err = e.p.PayWithCode(e.ctx, gateway.PayCodeRequest{PaymentID: "pay_to2", AuthCode: "6212345678901234567", Amount: cny(100)})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
	if q, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_to2"}); err != nil || q.Status != gateway.TradeSucceeded {
		t.Fatalf("after a lost answer: %+v %v", q, err)
	}

	// The caller's own deadline counts too.
	ctx, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
	defer cancel()
	e.fake.FailNext(unionpayfake.FaultTimeout)
	_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_to2", RefundID: "re_to", Amount: cny(1), Total: cny(100)})
	wantProviderError(t, err, gateway.ProviderUnavailable, true)
}

// TestServerError: a 5xx is an unknown outcome for every operation.
func TestServerError(t *testing.T) {
	e := newEnv(t)
	qid := paidOrder(t, e, "pay_5xx", 1000)
	ops := map[string]func() error{
		"create": func() error {
			_, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_5", Amount: cny(1)})
			return err
		},
		"pay": func() error {
			_, err := e.p.PayWithCode(e.ctx, gateway.PayCodeRequest{PaymentID: "pay_6", AuthCode: "6212345678901234567", Amount: cny(1)})
			return err
		},
		"query":  func() error { _, err := e.p.Query(e.ctx, gateway.TradeRef{PaymentID: "pay_5xx"}); return err },
		"cancel": func() error { _, err := e.p.Cancel(e.ctx, gateway.TradeRef{ProviderTradeNo: qid}); return err },
		"close":  func() error { return e.p.Close(e.ctx, gateway.TradeRef{PaymentID: "pay_5xx"}) },
		"refund": func() error {
			_, err := e.p.Refund(e.ctx, gateway.RefundRequest{PaymentID: "pay_5xx", RefundID: "re_5", Amount: cny(1)})
			return err
		},
		"refund_query": func() error {
			_, err := e.p.QueryRefund(e.ctx, gateway.RefundRef{PaymentID: "pay_5xx", RefundID: "re_5"})
			return err
		},
		"statement": func() error { _, err := e.p.Statement(e.ctx, "2024-01-14"); return err },
	}
	for name, op := range ops {
		e.fake.FailNext(unionpayfake.FaultServerError)
		err := op()
		pe, ok := providerError(err)
		if !ok || pe.Code != gateway.ProviderUnavailable || !pe.Unknown || pe.Op == "" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Nothing was done: the order is still paid and unrefunded.
	if ft, _ := e.fake.Txn("pay_5xx"); ft.Status != unionpayfake.StatusSucceeded || ft.Refunded != 0 {
		t.Fatalf("%+v", ft)
	}
}

// TestSignatureRefused: when UnionPay refuses our signature (a wrong key or certId), the call
// failed for sure: ProviderAuth, not an unknown outcome.
func TestSignatureRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*unionpay.Config)
	}{
		{"wrong key", func(c *unionpay.Config) { c.SigningKey = otherKey }},
		{"wrong certId", func(c *unionpay.Config) { c.SigningCertID = "70000000009" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testKeys(t)
			e := newEnv(t, tc.mutate)
			_, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_sig", Amount: cny(100)})
			wantProviderError(t, err, gateway.ProviderAuth, false)
			if pe, _ := providerError(err); pe.ProviderCode != "11" {
				t.Fatalf("provider code %q", pe.ProviderCode)
			}
			if calls := e.fake.Calls(); len(calls) != 1 || calls[0].RespCode != "11" {
				t.Fatalf("calls %+v", calls)
			}
			if _, ok := e.fake.Txn("pay_sig"); ok {
				t.Fatal("the fake acted on a badly signed request")
			}
		})
	}
}

// TestRespCodes maps UnionPay's answers that move nothing.
func TestRespCodes(t *testing.T) {
	e := newEnv(t)
	paidOrder(t, e, "pay_r", 1000)
	refund := func() (*gateway.RefundResult, error) {
		return e.p.Refund(e.ctx, gateway.RefundRequest{PaymentID: "pay_r", RefundID: "re_r", Amount: cny(100), Total: cny(1000)})
	}
	e.fake.RespondNext("01", "交易失败")
	if res, err := refund(); err != nil || res.Status != gateway.RefundFailed || res.FailureReason != "01: 交易失败" {
		t.Fatalf("declined refund: %+v %v", res, err)
	}
	e.fake.RespondNext("05", "交易已受理")
	if res, err := refund(); err != nil || res.Status != gateway.RefundPending {
		t.Fatalf("accepted refund: %+v %v", res, err)
	}
	for _, tc := range []struct {
		code, want string
		unknown    bool
	}{
		{"06", gateway.ProviderUnavailable, true},
		{"03", gateway.ProviderUnavailable, true},
		{"31", gateway.ProviderAuth, false},
		{"13", gateway.ProviderInvalid, false},
		{"34", gateway.ProviderNotFound, false},
		{"37", gateway.ProviderUnavailable, false},
		{"A1", gateway.ProviderUnavailable, true}, // unknown codes: query rather than guess
	} {
		e.fake.RespondNext(tc.code, "")
		_, err := e.p.Cancel(e.ctx, gateway.TradeRef{PaymentID: "pay_r"})
		pe, ok := providerError(err)
		if !ok || pe.Code != tc.want || pe.Unknown != tc.unknown || pe.ProviderCode != tc.code {
			t.Errorf("%s: %v", tc.code, err)
		}
	}
	// None of them acted.
	if ft, _ := e.fake.Txn("pay_r"); ft.Status != unionpayfake.StatusSucceeded || ft.Refunded != 0 {
		t.Fatalf("%+v", ft)
	}
}

// TestStaticCode builds sticker codes: static, no amount, the merchant in tag 15.
func TestStaticCode(t *testing.T) {
	testKeys(t)
	cfg := baseConfig("https://up.example", nil)
	payload, err := unionpay.StaticCode(cfg, subMerID, "Noodle Bar", "Chengdu", "5812")
	if err != nil {
		t.Fatal(err)
	}
	p, err := qr.Parse(payload)
	if err != nil || !p.Valid() {
		t.Fatalf("%q: %v %+v", payload, err, p)
	}
	if _, has := p.Get("54"); has || p.Field("01") != "11" || p.Field("15") != acquirerIIN+forwardingIIN+subMerID ||
		p.Field("52") != "5812" || p.Field("53") != "156" || p.Field("59") != "Noodle Bar" || p.Field("60") != "Chengdu" {
		t.Fatalf("static code %q", payload)
	}
	if _, has := p.Get("62"); has {
		t.Fatal("a static code with a reference label")
	}
	// Defaults and a Chinese name.
	payload, err = unionpay.StaticCode(cfg, "", "兰州拉面", "", "")
	if err != nil {
		t.Fatal(err)
	}
	p, _ = qr.Parse(payload)
	if !p.Valid() || p.Field("15") != acquirerIIN+forwardingIIN+merID || p.Field("59") != "LUCKY COFFEE" ||
		p.Field("60") != "SHANGHAI" || p.Field("52") != "5814" || p.Field("64.01") != "兰州拉面" {
		t.Fatalf("static code %q", payload)
	}
	for _, tc := range []struct {
		name string
		c    func(*unionpay.Config)
		sub  string
		mcc  string
		nm   string
	}{
		{"bad merId", nil, "123", "", ""},
		{"bad mcc", nil, "", "58", ""},
		{"bad acquirer", func(c *unionpay.Config) { c.AcquirerIIN = "4802" }, "", "", ""},
		{"no ASCII name", func(c *unionpay.Config) { c.MerchantName = "" }, "", "", "面馆"},
	} {
		c := cfg
		if tc.c != nil {
			tc.c(&c)
		}
		if _, err := unionpay.StaticCode(c, tc.sub, tc.nm, "", tc.mcc); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestNew refuses unusable configurations.
func TestNew(t *testing.T) {
	testKeys(t)
	good := baseConfig("https://up.example", nil)
	if _, err := unionpay.New(good); err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		param string
		m     func(*unionpay.Config)
	}{
		{"base_url", func(c *unionpay.Config) { c.BaseURL = "ftp://x" }},
		{"merchant_id", func(c *unionpay.Config) { c.MerchantID = "1234" }},
		{"acquirer_iin", func(c *unionpay.Config) { c.AcquirerIIN = "" }},
		{"forwarding_iin", func(c *unionpay.Config) { c.ForwardingIIN = "abcdefgh" }},
		{"signing_key", func(c *unionpay.Config) { c.SigningKey = nil }},
		{"signing_key", func(c *unionpay.Config) { c.SigningKey = small }},
		{"signing_cert_id", func(c *unionpay.Config) { c.SigningCertID = "" }},
		{"verify_keys", func(c *unionpay.Config) { c.VerifyKeys = nil }},
		{"verify_keys", func(c *unionpay.Config) { c.VerifyKeys = map[string]*rsa.PublicKey{"1": &small.PublicKey} }},
		{"verify_keys", func(c *unionpay.Config) { c.VerifyKeys = map[string]*rsa.PublicKey{"": &upKey.PublicKey} }},
		{"merchant_name", func(c *unionpay.Config) { c.MerchantName = "幸运" }},
		{"mcc", func(c *unionpay.Config) { c.MCC = "12345" }},
		{"timeout", func(c *unionpay.Config) { c.Timeout = -1 }},
	} {
		c := good
		tc.m(&c)
		_, err := unionpay.New(c)
		if qrpay.ErrorCode(err) != qrpay.EINVALID || qrpay.ErrorParam(err) != tc.param {
			t.Errorf("%s: %v", tc.param, err)
		}
	}
	// The configuration prints without its keys.
	if s := good.String(); strings.Contains(s, good.SigningKey.N.String()[:20]) || !strings.Contains(s, "[redacted]") {
		t.Fatalf("%s", s)
	}
}

// TestRequestChecks: requests that cannot be sent are refused before any call.
func TestRequestChecks(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	checks := map[string]error{}
	_, checks["bad order id"] = e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay 1", Amount: cny(1)})
	_, checks["zero amount"] = e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: cny(0)})
	_, checks["bad currency"] = e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: qrpay.Money{Amount: 1, Currency: "XXX"}})
	_, checks["bad sub-merchant"] = e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: cny(1), SubMerchantID: "x"})
	_, checks["bad mcc"] = e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: cny(1), MCC: "1"})
	_, checks["control in name"] = e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_1", Amount: cny(1), MerchantName: "咖\x01啡"})
	_, checks["no ref"] = e.p.Query(ctx, gateway.TradeRef{})
	_, checks["no refund id"] = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_1", Amount: cny(1)})
	_, checks["bad refund query"] = e.p.QueryRefund(ctx, gateway.RefundRef{RefundID: ""})
	checks["close nothing"] = e.p.Close(ctx, gateway.TradeRef{})
	_, checks["cancel nothing"] = e.p.Cancel(ctx, gateway.TradeRef{ProviderTradeNo: "a b"})
	for name, err := range checks {
		pe, ok := providerError(err)
		if !ok || pe.Code != gateway.ProviderInvalid || pe.Unknown || qrpay.ErrorCode(pe.Err) != qrpay.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(e.fake.Calls()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// TestLongNames: names longer than EMV allows are cut, not refused.
func TestLongNames(t *testing.T) {
	e := newEnv(t)
	const term = "terminal-with-a-long-identifier-0001"
	code, err := e.p.CreateCode(e.ctx, gateway.CreateCodeRequest{PaymentID: "pay_long", Amount: cny(1),
		MerchantName: "The Very Long Name Coffee Roasters Ltd", MerchantCity: "Shanghai Pudong New Area",
		TerminalID: term})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := qr.Parse(code.Payload)
	if p.Field("59") != "The Very Long Name Coffee" || p.Field("60") != "Shanghai Pudong" || p.Field("62.07") != term[len(term)-25:] {
		t.Fatalf("%q %q %q", p.Field("59"), p.Field("60"), p.Field("62.07"))
	}
	if call := e.fake.Calls()[0]; call.Fields["termId"] != term[len(term)-25:] {
		t.Fatalf("termId %q", call.Fields["termId"])
	}
}
