package wechat_test

import (
	"crypto/rsa"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/wechat"
	"github.com/qrpay/qrpay/gateway/wechat/wechatfake"
)

var authHeader = regexp.MustCompile(`^WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="[0-9A-F]{32}",timestamp="(\d+)",serial_no="([0-9A-F]+)",signature="[A-Za-z0-9+/]+=*"$`)

// TestNativeFlow walks a Native payment through its life against the fake over HTTPS:
// code, customer pays, notice, query, partial and repeated refunds, refund notice and query,
// close of an unpaid and of a paid order, and the day's bill.
func TestNativeFlow(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	code, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_native_1", Amount: cny(1234),
		Description: "Coffee", ExpiresAt: start.Add(15 * time.Minute), NotifyURL: e.notify.URL + "/notify/wechat"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(code.Payload, "weixin://wxpay/bizpayurl?pr=") || code.ProviderTradeNo != "" {
		t.Errorf("code = %+v", code)
	}
	reqs := e.fake.Requests()
	last := reqs[len(reqs)-1]
	if last.URI != "/v3/pay/transactions/native" {
		t.Errorf("created at %s, want the direct-merchant path", last.URI)
	}
	m := authHeader.FindStringSubmatch(last.Authorization)
	if m == nil || m[1] != e.keys.MchID || m[2] != "1773108000" || m[3] != e.keys.MerchantSerialNo {
		t.Errorf("Authorization = %q", last.Authorization)
	}
	if o, _ := e.fake.Order("pay_native_1"); o.Total != 1234 || o.TradeState != "NOTPAY" || o.TradeType != "NATIVE" {
		t.Errorf("fake order = %+v", o)
	}

	tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_native_1"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != gateway.TradePending || tr.Amount != cny(1234) {
		t.Errorf("unpaid query = %+v", tr)
	}

	// The customer pays; the notice arrives, verifies and decrypts.
	e.clock.Advance(time.Minute)
	d, err := e.fake.Pay(ctx, "pay_native_1", "oCustomer1")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Acked() || d.Status != 200 || string(d.Body) != `{"code":"SUCCESS","message":"成功"}` {
		t.Errorf("notice answer = %d %s", d.Status, d.Body)
	}
	cb := e.lastCallback()
	if cb.Trade == nil || cb.Refund != nil {
		t.Fatalf("callback = %+v", cb)
	}
	paid := *cb.Trade
	if paid.PaymentID != "pay_native_1" || paid.Status != gateway.TradeSucceeded || paid.Amount != cny(1234) ||
		paid.Payer != "oCustomer1" || paid.ProviderTradeNo == "" || !paid.PaidAt.Equal(start.Add(time.Minute)) {
		t.Errorf("notice trade = %+v", paid)
	}

	tr, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_native_1"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != gateway.TradeSucceeded || tr.ProviderTradeNo != paid.ProviderTradeNo || !tr.PaidAt.Equal(paid.PaidAt) || tr.Payer != "oCustomer1" {
		t.Errorf("paid query = %+v", tr)
	}

	// A partial refund, the same request again (idempotent), and a second one.
	e.clock.Advance(time.Hour)
	rr := gateway.RefundRequest{PaymentID: "pay_native_1", RefundID: "rf_1", Amount: cny(300), Total: cny(1234),
		Reason: "milk was cold", NotifyURL: e.notify.URL + "/notify/wechat"}
	r1, err := e.p.Refund(ctx, rr)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Status != gateway.RefundPending || r1.Amount != cny(300) || r1.RefundID != "rf_1" || r1.ProviderRefundNo == "" || r1.PaymentID != "pay_native_1" {
		t.Errorf("refund = %+v", r1)
	}
	again, err := e.p.Refund(ctx, rr)
	if err != nil {
		t.Fatal(err)
	}
	if again.ProviderRefundNo != r1.ProviderRefundNo {
		t.Errorf("repeated refund got refund_id %s, first %s", again.ProviderRefundNo, r1.ProviderRefundNo)
	}
	r2, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_native_1", RefundID: "rf_2", Amount: cny(500), Total: cny(1234)})
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := e.fake.Order("pay_native_1"); o.Refunded != 800 {
		t.Errorf("fake refunded %d, want 800", o.Refunded)
	}
	// More than what is left (434) is refused for sure.
	_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_native_1", RefundID: "rf_3", Amount: cny(500), Total: cny(1234)})
	pe := wantProviderErr(t, err, gateway.ProviderInvalid, false)
	if pe.ProviderCode != "INVALID_REQUEST" {
		t.Errorf("provider code = %s", pe.ProviderCode)
	}
	e.fake.NotEnoughNextRefund()
	_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_native_1", RefundID: "rf_4", Amount: cny(100), Total: cny(1234)})
	wantProviderErr(t, err, gateway.ProviderInsufficient, false)

	// The first refund completes; its notice arrives.
	e.clock.Advance(time.Minute)
	d, err = e.fake.CompleteRefund(ctx, "rf_1", "SUCCESS")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Acked() {
		t.Errorf("refund notice answer = %d %s", d.Status, d.Body)
	}
	cb = e.lastCallback()
	if cb.Refund == nil || cb.Refund.RefundID != "rf_1" || cb.Refund.Status != gateway.RefundSucceeded ||
		cb.Refund.Amount != cny(300) || cb.Refund.ProviderRefundNo != r1.ProviderRefundNo || cb.Refund.PaymentID != "pay_native_1" ||
		!cb.Refund.RefundedAt.Equal(e.clock.Now()) {
		t.Errorf("refund notice = %+v", cb.Refund)
	}
	got1, err := e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "pay_native_1", RefundID: "rf_1"})
	if err != nil {
		t.Fatal(err)
	}
	if got1.Status != gateway.RefundSucceeded || got1.Amount != cny(300) {
		t.Errorf("refund query rf_1 = %+v", got1)
	}
	got2, err := e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "pay_native_1", RefundID: "rf_2"})
	if err != nil {
		t.Fatal(err)
	}
	if got2.Status != gateway.RefundPending || got2.ProviderRefundNo != r2.ProviderRefundNo {
		t.Errorf("refund query rf_2 = %+v", got2)
	}
	_, err = e.p.QueryRefund(ctx, gateway.RefundRef{PaymentID: "pay_native_1", RefundID: "rf_none"})
	wantProviderErr(t, err, gateway.ProviderNotFound, false)
	// A refund that fails at the bank ends as a failed refund, not an error.
	if _, err := e.fake.CompleteRefund(ctx, "rf_2", "ABNORMAL"); err != nil {
		t.Fatal(err)
	}
	if cb := e.lastCallback(); cb.Refund == nil || cb.Refund.Status != gateway.RefundFailed || cb.Refund.FailureReason != "ABNORMAL" {
		t.Errorf("abnormal refund notice = %+v", cb.Refund)
	}

	tr, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_native_1"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != gateway.TradeRefunded {
		t.Errorf("query after refunds = %s", tr.Status)
	}

	// Close an unpaid order, then a paid one.
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_native_2", Amount: cny(500), NotifyURL: e.notify.URL}); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_native_2"}); err != nil {
		t.Fatal(err)
	}
	if tr, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_native_2"}); err != nil || tr.Status != gateway.TradeClosed {
		t.Errorf("closed order query = %+v, %v", tr, err)
	}
	err = e.p.Close(ctx, gateway.TradeRef{PaymentID: "pay_native_1"})
	if pe := wantProviderErr(t, err, gateway.ProviderAlreadyPaid, false); pe.ProviderCode != "ORDERPAID" {
		t.Errorf("provider code = %s", pe.ProviderCode)
	}
	_, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_never"})
	wantProviderErr(t, err, gateway.ProviderNotFound, false)

	// The day's bill: the payment and both refunds, fees at 0.6%.
	st, err := e.p.Statement(ctx, "2026-03-10")
	if err != nil {
		t.Fatal(err)
	}
	if st.Channel != "wechat" || st.Date != "2026-03-10" || len(st.Lines) != 3 {
		t.Fatalf("statement = %+v", st)
	}
	pay, ref1, ref2 := st.Lines[0], st.Lines[1], st.Lines[2]
	if pay.Type != "payment" || pay.PaymentID != "pay_native_1" || pay.ProviderTradeNo != paid.ProviderTradeNo ||
		pay.Amount != cny(1234) || pay.Fee != 7 || pay.Status != "SUCCESS" || !pay.At.Equal(paid.PaidAt) {
		t.Errorf("payment line = %+v", pay)
	}
	if ref1.Type != "refund" || ref1.RefundID != "rf_1" || ref1.Amount != cny(300) || ref1.Fee != -2 || ref1.PaymentID != "pay_native_1" {
		t.Errorf("refund line = %+v", ref1)
	}
	if ref2.RefundID != "rf_2" || ref2.Amount != cny(500) || ref2.Fee != -3 || ref2.Status != "ABNORMAL" {
		t.Errorf("second refund line = %+v", ref2)
	}
	if _, err := e.p.Statement(ctx, "2026-03-09"); gateway.ProviderErrorCode(err) != gateway.ProviderNotFound {
		t.Errorf("bill of an empty day: %v, want not found", err)
	}
	// A download that does not match its announced hash is refused.
	e.fake.TamperNextBill()
	_, err = e.p.Statement(ctx, "2026-03-10")
	wantProviderErr(t, err, gateway.ProviderTampered, true)
}

// TestPartnerMode checks the service-provider paths and fields for a sub-merchant.
func TestPartnerMode(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const sub = "1900000111"
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_sub_1", Amount: cny(880), SubMerchantID: sub,
		NotifyURL: e.notify.URL}); err != nil {
		t.Fatal(err)
	}
	reqs := e.fake.Requests()
	if got := reqs[len(reqs)-1].URI; got != "/v3/pay/partner/transactions/native" {
		t.Errorf("created at %s", got)
	}
	if o, _ := e.fake.Order("pay_sub_1"); o.SubMchID != sub {
		t.Errorf("fake order sub_mchid = %q", o.SubMchID)
	}
	// The order is the sub-merchant's: the direct query does not see it.
	if _, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_sub_1"}); gateway.ProviderErrorCode(err) != gateway.ProviderNotFound {
		t.Errorf("direct query of a partner order: %v", err)
	}
	ref := gateway.TradeRef{PaymentID: "pay_sub_1", SubMerchantID: sub}
	if tr, err := e.p.Query(ctx, ref); err != nil || tr.Status != gateway.TradePending {
		t.Fatalf("partner query = %+v, %v", tr, err)
	}
	if !strings.HasPrefix(e.fake.Requests()[len(e.fake.Requests())-1].URI, "/v3/pay/partner/transactions/out-trade-no/pay_sub_1?") {
		t.Errorf("partner query path = %s", e.fake.Requests()[len(e.fake.Requests())-1].URI)
	}
	if _, err := e.fake.Pay(ctx, "pay_sub_1", "oSub"); err != nil {
		t.Fatal(err)
	}
	if cb := e.lastCallback(); cb.Trade == nil || cb.Trade.Payer != "oSub" || cb.Trade.Amount != cny(880) {
		t.Errorf("partner notice = %+v", cb.Trade)
	}
	if _, err := e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_sub_1", RefundID: "rf_sub", Amount: cny(80), Total: cny(880),
		SubMerchantID: sub}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.p.QueryRefund(ctx, gateway.RefundRef{RefundID: "rf_sub", SubMerchantID: sub}); err != nil || r.Amount != cny(80) {
		t.Errorf("partner refund query = %+v, %v", r, err)
	}
	err := e.p.Close(ctx, ref)
	wantProviderErr(t, err, gateway.ProviderAlreadyPaid, false)
}

// TestPublicKeyID checks the platform public key mode (Wechatpay-Serial = PUB_KEY_ID_...).
func TestPublicKeyID(t *testing.T) {
	e := newEnv(t, envOption{fake: func(o *wechatfake.Options) { o.UsePublicKeyID = true }})
	ctx := t.Context()
	pub, err := wechat.LoadPublicKey(e.keys.PlatformPublicKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	p := e.provider(func(c *wechat.Config) {
		c.PlatformPublicKeys = map[string]*rsa.PublicKey{e.keys.PlatformPublicKeyID: pub}
	})
	if _, err := p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_pk", Amount: cny(1), NotifyURL: e.notify.URL}); err != nil {
		t.Fatal(err)
	}
	// An adapter that knows the key only by its certificate serial refuses the answers.
	byCert := e.provider(func(c *wechat.Config) { c.PlatformPublicKeys = e.keys.PlatformKeys(false) })
	_, err = byCert.Query(ctx, gateway.TradeRef{PaymentID: "pay_pk"})
	wantProviderErr(t, err, gateway.ProviderTampered, true)
}

// TestLoaders reads the generated PEM files with the exported loaders.
func TestLoaders(t *testing.T) {
	k := testKeys(t)
	key, err := wechat.LoadPrivateKey(k.MerchantKeyPEM)
	if err != nil || !key.Equal(k.MerchantKey) {
		t.Errorf("LoadPrivateKey = %v", err)
	}
	cert, err := wechat.LoadCertificate(k.PlatformCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	serial, pub, err := wechat.CertificateKey(cert)
	if err != nil || serial != k.PlatformSerialNo || !pub.Equal(&k.PlatformKey.PublicKey) {
		t.Errorf("CertificateKey = %s, %v", serial, err)
	}
	bundle := append(append([]byte{}, k.PlatformCertPEM...), k.MerchantCertPEM...)
	m, err := wechat.LoadPlatformCertificates(bundle)
	if err != nil || len(m) != 2 || m[k.PlatformSerialNo] == nil || m[k.MerchantSerialNo] == nil {
		t.Errorf("LoadPlatformCertificates = %v, %v", m, err)
	}
	for _, bad := range [][]byte{nil, []byte("not pem"), k.CAPEM} {
		if _, err := wechat.LoadPrivateKey(bad); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("LoadPrivateKey(bad) = %v", err)
		}
	}
	if _, err := wechat.LoadPublicKey(k.MerchantKeyPEM); qrpay.ErrorCode(err) != qrpay.EINVALID {
		t.Errorf("LoadPublicKey(private key) = %v", err)
	}
}

// TestNewValidation checks the configuration rules.
func TestNewValidation(t *testing.T) {
	k := testKeys(t)
	good := wechat.Config{BaseURL: "https://api.mch.weixin.qq.com", AppID: k.AppID, MchID: k.MchID,
		MerchantSerialNo: k.MerchantSerialNo, MerchantPrivateKey: k.MerchantKey, PlatformPublicKeys: k.PlatformKeys(false),
		APIv3Key: k.APIv3Key}
	if _, err := wechat.New(good); err != nil {
		t.Fatal(err)
	}
	for param, change := range map[string]func(*wechat.Config){
		"BaseURL":            func(c *wechat.Config) { c.BaseURL = "api.mch.weixin.qq.com" },
		"AppID":              func(c *wechat.Config) { c.AppID = "" },
		"MchID":              func(c *wechat.Config) { c.MchID = "" },
		"MerchantSerialNo":   func(c *wechat.Config) { c.MerchantSerialNo = "" },
		"MerchantPrivateKey": func(c *wechat.Config) { c.MerchantPrivateKey = nil },
		"PlatformPublicKeys": func(c *wechat.Config) { c.PlatformPublicKeys = nil },
		"APIv3Key":           func(c *wechat.Config) { c.APIv3Key = []byte("testAPIv3Key0000") },
		"V2SignType":         func(c *wechat.Config) { c.V2SignType = "SHA1" },
	} {
		c := good
		change(&c)
		if _, err := wechat.New(c); qrpay.ErrorCode(err) != qrpay.EINVALID || qrpay.ErrorParam(err) != param {
			t.Errorf("New with bad %s: %v", param, err)
		}
	}
	p, _ := wechat.New(good)
	if p.Channel() != "wechat" {
		t.Errorf("Channel = %q", p.Channel())
	}
	if n := p.CallbackNack(); n.Status != 500 || string(n.Body) != `{"code":"FAIL","message":"失败"}` {
		t.Errorf("nack = %+v", n)
	}
	// Requests the adapter cannot send are refused before any I/O.
	_, err := p.CreateCode(t.Context(), gateway.CreateCodeRequest{PaymentID: "p", Amount: qrpay.Money{Amount: 1, Currency: "USD"}, NotifyURL: "https://x"})
	wantProviderErr(t, err, gateway.ProviderInvalid, false)
	_, err = p.PayWithCode(t.Context(), gateway.PayCodeRequest{PaymentID: "p", AuthCode: "134567890123456789", Amount: cny(1)})
	wantProviderErr(t, err, gateway.ProviderInvalid, false) // no APIv2 key
}
