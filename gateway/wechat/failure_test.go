package wechat_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/wechat"
)

// TestAnswerFailures covers answers that cannot be trusted or did not come.
func TestAnswerFailures(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_f", Amount: cny(100), NotifyURL: e.notify.URL}); err != nil {
		t.Fatal(err)
	}
	ref := gateway.TradeRef{PaymentID: "pay_f"}

	t.Run("tampered signature", func(t *testing.T) {
		e.fake.TamperNext()
		_, err := e.p.Query(ctx, ref)
		wantProviderErr(t, err, gateway.ProviderTampered, true)
	})
	t.Run("stale timestamp", func(t *testing.T) {
		e.fake.StaleNext()
		_, err := e.p.Query(ctx, ref)
		pe := wantProviderErr(t, err, gateway.ProviderTampered, true)
		if !strings.Contains(pe.Error(), "clock skew") {
			t.Errorf("error = %v", pe)
		}
		// The same staleness on a mutating call leaves its outcome unknown.
		e.fake.StaleNext()
		err = e.p.Close(ctx, ref)
		wantProviderErr(t, err, gateway.ProviderTampered, true)
	})
	t.Run("unknown serial", func(t *testing.T) {
		e.fake.WrongSerialNext()
		_, err := e.p.Query(ctx, ref)
		pe := wantProviderErr(t, err, gateway.ProviderTampered, true)
		if !strings.Contains(pe.Error(), "unknown Wechatpay-Serial") {
			t.Errorf("error = %v", pe)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		e.fake.FailNext(500)
		_, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_f5", Amount: cny(100), NotifyURL: e.notify.URL})
		if pe := wantProviderErr(t, err, gateway.ProviderUnavailable, true); pe.ProviderCode != "SYSTEM_ERROR" {
			t.Errorf("provider code = %q", pe.ProviderCode)
		}
		e.fake.FailNext(502)
		_, err = e.p.Refund(ctx, gateway.RefundRequest{PaymentID: "pay_f", RefundID: "rf_f", Amount: cny(1), Total: cny(100)})
		wantProviderErr(t, err, gateway.ProviderUnavailable, true)
	})
	t.Run("timeout", func(t *testing.T) {
		p := e.provider(func(c *wechat.Config) { c.Timeout = 150 * time.Millisecond })
		e.fake.StallNext()
		_, err := p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: "pay_slow", Amount: cny(100), NotifyURL: e.notify.URL})
		pe := wantProviderErr(t, err, gateway.ProviderUnavailable, true)
		if !errors.Is(pe, context.DeadlineExceeded) {
			t.Errorf("timeout error = %v", pe)
		}
		if !gateway.IsOutcomeUnknown(err) {
			t.Error("a timeout must leave the outcome unknown")
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		p := e.provider(func(c *wechat.Config) { c.BaseURL = "https://127.0.0.1:1" })
		_, err := p.Query(ctx, ref)
		wantProviderErr(t, err, gateway.ProviderUnavailable, true)
	})
	t.Run("our signature refused", func(t *testing.T) {
		other, err := wechat.LoadPrivateKey(vectorTestKey(t))
		if err != nil {
			t.Fatal(err)
		}
		p := e.provider(func(c *wechat.Config) { c.MerchantPrivateKey = other })
		_, err = p.Query(ctx, ref)
		if pe := wantProviderErr(t, err, gateway.ProviderAuth, false); pe.ProviderCode != "SIGN_ERROR" {
			t.Errorf("provider code = %q", pe.ProviderCode)
		}
		// A merchant clock far off makes the request signature stale to WeChat Pay.
		p = e.provider(func(c *wechat.Config) { c.Clock = qrpay.NewFakeClock(start.Add(-time.Hour)) })
		_, err = p.Query(ctx, ref)
		wantProviderErr(t, err, gateway.ProviderAuth, false)
	})
}

// TestCallbackFailures covers notices that must be refused, and one that is genuine but does
// not match the order.
func TestCallbackFailures(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := 0
	newOrder := func(fen int64) string {
		n++
		id := "pay_cb_" + strconv.Itoa(n)
		if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: id, Amount: cny(fen), NotifyURL: e.notify.URL + "/n"}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	wantRefused := func(t *testing.T, d interface{ Acked() bool }, code string) {
		t.Helper()
		if d.Acked() {
			t.Fatal("the notice was acknowledged")
		}
		if err := e.lastCallbackErr(); qrpay.ErrorCode(err) != code {
			t.Errorf("ParseCallback error = %v, want %s", err, code)
		}
	}

	t.Run("tampered body", func(t *testing.T) {
		id := newOrder(100)
		e.fake.TamperNextNotify()
		d, err := e.fake.Pay(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != 500 || string(d.Body) != `{"code":"FAIL","message":"失败"}` {
			t.Errorf("nack = %d %s", d.Status, d.Body)
		}
		wantRefused(t, d, qrpay.EUNAUTHORIZED)
		// WeChat Pay sends it again, intact: now it is taken.
		d, err = e.fake.NotifyPayment(ctx, id)
		if err != nil || !d.Acked() {
			t.Fatalf("resend = %+v, %v", d, err)
		}
	})
	t.Run("stale timestamp", func(t *testing.T) {
		id := newOrder(100)
		e.fake.StaleNextNotify()
		d, err := e.fake.Pay(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, d, qrpay.EUNAUTHORIZED)
	})
	t.Run("wrong APIv3 key", func(t *testing.T) {
		id := newOrder(100)
		e.setParser(e.provider(func(c *wechat.Config) { c.APIv3Key = []byte(strings.Repeat("x", 32)) }))
		defer e.setParser(e.p)
		d, err := e.fake.Pay(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, d, qrpay.EUNAUTHORIZED)
		if !strings.Contains(e.lastCallbackErr().Error(), "decrypt") {
			t.Errorf("error = %v", e.lastCallbackErr())
		}
	})
	t.Run("unknown serial", func(t *testing.T) {
		id := newOrder(100)
		e.setParser(e.provider(func(c *wechat.Config) {
			c.PlatformPublicKeys = map[string]*rsa.PublicKey{"0123456789ABCDEF": &e.keys.PlatformKey.PublicKey}
		}))
		defer e.setParser(e.p)
		d, err := e.fake.Pay(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		wantRefused(t, d, qrpay.EUNAUTHORIZED)
	})
	t.Run("genuine notice with another amount", func(t *testing.T) {
		id := newOrder(100)
		e.fake.SetNotifyAmountDelta(9900)
		defer e.fake.SetNotifyAmountDelta(0)
		d, err := e.fake.Pay(ctx, id, "")
		if err != nil || !d.Acked() {
			t.Fatalf("delivery = %+v, %v", d, err)
		}
		// The adapter reports what WeChat Pay signed; the gateway compares it with the payment.
		if got := e.lastCallback().Trade.Amount; got != cny(10000) {
			t.Errorf("notice amount = %v, want the notice's ¥100.00", got)
		}
	})
	t.Run("signed but unreadable", func(t *testing.T) {
		for _, body := range []string{"not json", `{"event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"RSA"}}`} {
			req := signedNotice(t, e, []byte(body), e.clock.Now())
			if _, err := e.p.ParseCallback(ctx, req); qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Errorf("ParseCallback(%s) = %v, want EINVALID", body, err)
			}
		}
		// Missing headers: not authenticated.
		req := signedNotice(t, e, []byte("{}"), e.clock.Now())
		delete(req.Header, "Wechatpay-Signature")
		if _, err := e.p.ParseCallback(ctx, req); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Errorf("unsigned notice: %v", err)
		}
	})
}

// signedNotice signs body with the fake's platform key, as WeChat Pay would.
func signedNotice(t testing.TB, e *env, body []byte, at time.Time) gateway.CallbackRequest {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	nonce := "nonce123"
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, e.keys.PlatformKey, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return gateway.CallbackRequest{Method: "POST", Path: "/n", Body: body, Header: map[string][]string{
		"Wechatpay-Timestamp": {ts}, "Wechatpay-Nonce": {nonce}, "Wechatpay-Serial": {e.keys.PlatformSerialNo},
		"Wechatpay-Signature": {base64.StdEncoding.EncodeToString(sig)}}}
}

// vectorTestKey returns the public wechatpay-go test private key from testdata/vectors.json
// (its PEM type is spelled "TESTING KEY" there).
func vectorTestKey(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Input map[string]any `json:"input"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, v := range file.Vectors {
		if k, ok := v.Input["private_key_pem"].(string); ok {
			return []byte(strings.ReplaceAll(k, "TESTING KEY", "PRIVATE KEY"))
		}
	}
	t.Fatal("no private key in the vectors")
	return nil
}
