package alipay

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

var (
	keysOnce       sync.Once
	appKey, aliKey *rsa.PrivateKey
	errKeys        error
)

func keys(t testing.TB) (app, ali *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		if appKey, errKeys = rsa.GenerateKey(rand.Reader, 2048); errKeys != nil {
			return
		}
		aliKey, errKeys = rsa.GenerateKey(rand.Reader, 2048)
	})
	if errKeys != nil {
		t.Fatal(errKeys)
	}
	return appKey, aliKey
}

func testKey(t testing.TB) *rsa.PrivateKey {
	app, _ := keys(t)
	return app
}

func testProvider(t testing.TB, baseURL string) *Provider {
	t.Helper()
	app, ali := keys(t)
	if baseURL == "" {
		baseURL = "https://openapi.alipay.com/gateway.do"
	}
	p, err := New(Config{BaseURL: baseURL, AppID: "2021000000000001", PrivateKey: app, AlipayPublicKey: &ali.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// answer builds an answer body {"<member>":<raw>,"sign":...} signed over signedText.
func answer(t testing.TB, member, raw, signedText string) []byte {
	t.Helper()
	_, ali := keys(t)
	sig, err := signRSA2(ali, signedText)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"` + member + `":` + raw + `,"sign":"` + sig + `"}`)
}

func TestParseKeys(t *testing.T) {
	app, _ := keys(t)
	pkcs1 := x509.MarshalPKCS1PrivateKey(app)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(app)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&app.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	b64 := func(der []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(der)) }
	wrapped := func(der []byte) []byte { // bare base64 with line breaks, as copied from a console
		s := base64.StdEncoding.EncodeToString(der)
		var b strings.Builder
		for len(s) > 64 {
			b.WriteString(s[:64] + "\r\n")
			s = s[64:]
		}
		return []byte(b.String() + s + "\n")
	}
	for name, in := range map[string][]byte{
		"pkcs1 pem": pemOf("RSA PRIVATE KEY", pkcs1), "pkcs8 pem": pemOf("PRIVATE KEY", pkcs8),
		"pkcs1 bare": b64(pkcs1), "pkcs8 bare": b64(pkcs8), "pkcs8 wrapped": wrapped(pkcs8),
	} {
		k, err := ParsePrivateKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Equal(app) {
			t.Errorf("%s: another key", name)
		}
	}
	for name, in := range map[string][]byte{
		"pkix pem": pemOf("PUBLIC KEY", pkix), "pkix bare": b64(pkix), "pkix wrapped": wrapped(pkix),
		"pkcs1 pem": pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&app.PublicKey)),
	} {
		k, err := ParsePublicKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Equal(&app.PublicKey) {
			t.Errorf("%s: another key", name)
		}
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	smallPub, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	secret := base64.StdEncoding.EncodeToString(pkcs1)
	for name, in := range map[string][]byte{
		"empty": nil, "garbage": []byte("not a key"), "small": pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
		"ec": pemOf("PRIVATE KEY", ec8), "public as private": pemOf("PUBLIC KEY", pkix),
		"truncated": []byte(secret[:len(secret)/2]), "bad pem": []byte("-----BEGIN RSA PRIVATE KEY-----\n" + secret[:100]),
	} {
		_, err := ParsePrivateKey(in)
		if qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
			continue
		}
		if strings.Contains(err.Error(), secret[20:40]) {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
	for name, in := range map[string][]byte{
		"ec": pemOf("PUBLIC KEY", ecPub), "small": pemOf("PUBLIC KEY", smallPub), "private as public": pemOf("RSA PRIVATE KEY", pkcs1),
	} {
		if _, err := ParsePublicKey(in); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	app, ali := keys(t)
	ok := Config{BaseURL: "https://openapi.alipay.com/gateway.do", AppID: "1", PrivateKey: app, AlipayPublicKey: &ali.PublicKey}
	for name, mut := range map[string]func(*Config){
		"base url": func(c *Config) { c.BaseURL = "openapi.alipay.com" },
		"ftp":      func(c *Config) { c.BaseURL = "ftp://x/gateway.do" },
		"app id":   func(c *Config) { c.AppID = " " },
		"key":      func(c *Config) { c.PrivateKey = nil },
		"pub":      func(c *Config) { c.AlipayPublicKey = nil },
		"timeout":  func(c *Config) { c.Timeout = -1 },
	} {
		c := ok
		mut(&c)
		if _, err := New(c); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
}

func TestNoKeyInOutput(t *testing.T) {
	app, ali := keys(t)
	c := Config{BaseURL: "https://openapi.alipay.com/gateway.do", AppID: "1", PrivateKey: app, AlipayPublicKey: &ali.PublicKey}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	d := app.D.String()
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v %#v %s", p, p, p, p)} {
		if strings.Contains(s, d[:30]) || strings.Contains(s, app.Primes[0].String()[:30]) {
			t.Fatalf("key material printed: %.200s", s)
		}
	}
}

func TestReadReply(t *testing.T) {
	p := testProvider(t, "")
	const method = MethodQuery
	member := responseKey(method)
	okRaw := `{"code" : "10000",  "msg":"Success","out_trade_no":"o1"}`

	// The exact text, with its spaces, is what is verified.
	if r, err := p.readReply("query", method, answer(t, member, okRaw, okRaw)); err != nil || r.Code != "10000" || !r.signed {
		t.Fatalf("exact text: %+v %v", r, err)
	}
	// Re-encoded text does not verify.
	if _, err := p.readReply("query", method, answer(t, member, okRaw, `{"code":"10000","msg":"Success","out_trade_no":"o1"}`)); gateway.ProviderErrorCode(err) != gateway.ProviderTampered {
		t.Fatalf("re-encoded: %v", err)
	}
	// Signed before '/' was escaped: accepted, as the official Java SDK does.
	esc := `{"code":"10000","msg":"Success","qr_code":"https:\/\/qr.alipay.com\/bax1"}`
	if _, err := p.readReply("precreate", method, answer(t, member, esc, strings.ReplaceAll(esc, `\/`, "/"))); err != nil {
		t.Fatalf("escaped slashes: %v", err)
	}
	// The sign member may come first.
	_, ali := keys(t)
	sig, _ := signRSA2(ali, okRaw)
	if _, err := p.readReply("query", method, []byte(`{"sign":"`+sig+`",`+`"`+member+`":`+okRaw+`}`)); err != nil {
		t.Fatalf("sign first: %v", err)
	}

	cases := []struct {
		name    string
		body    string
		code    string
		unknown bool
	}{
		{"unsigned success", `{"` + member + `":` + okRaw + `}`, gateway.ProviderTampered, true},
		{"unsigned business error", `{"` + member + `":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"}}`, gateway.ProviderTampered, true},
		{"bad signature", `{"` + member + `":` + okRaw + `,"sign":"` + base64.StdEncoding.EncodeToString([]byte("nope")) + `"}`, gateway.ProviderTampered, true},
		{"sign not a string", `{"` + member + `":` + okRaw + `,"sign":12}`, gateway.ProviderUnavailable, true},
		{"not json", `<html>busy</html>`, gateway.ProviderUnavailable, true},
		{"no member", `{"other_response":{"code":"10000"}}`, gateway.ProviderUnavailable, true},
		{"member not an object", `{"` + member + `":"x","sign":"` + sig + `"}`, gateway.ProviderUnavailable, true},
	}
	for _, c := range cases {
		_, err := p.readReply("query", method, []byte(c.body))
		if gateway.ProviderErrorCode(err) != c.code || gateway.IsOutcomeUnknown(err) != c.unknown {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	// Unsigned gateway refusals are read, and say what they are.
	r, err := p.readReply("query", method, []byte(`{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}}`))
	if err != nil {
		t.Fatal(err)
	}
	pe := providerError("query", r)
	if pe.Code != gateway.ProviderAuth || pe.Unknown || pe.ProviderCode != "isv.invalid-signature" {
		t.Fatalf("unsigned 40002: %+v", pe)
	}
}

func TestAnswerForAnotherTrade(t *testing.T) {
	// A genuine, signed answer about another order (a replay) is not taken for ours.
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	p := testProvider(t, srv.URL+"/gateway.do")
	raw := `{"code":"10000","msg":"Success","out_trade_no":"other","trade_no":"2024","trade_status":"TRADE_SUCCESS","total_amount":"1.00"}`
	body = answer(t, responseKey(MethodQuery), raw, raw)
	_, err := p.Query(context.Background(), gateway.TradeRef{PaymentID: "mine"})
	if gateway.ProviderErrorCode(err) != gateway.ProviderTampered || !gateway.IsOutcomeUnknown(err) {
		t.Fatalf("replayed answer: %v", err)
	}
	raw = `{"code":"10000","msg":"Success","out_trade_no":"mine","trade_no":"2024","refund_status":"REFUND_SUCCESS","out_request_no":"r-other","refund_amount":"1.00"}`
	body = answer(t, responseKey(MethodRefundQuery), raw, raw)
	_, err = p.QueryRefund(context.Background(), gateway.RefundRef{PaymentID: "mine", RefundID: "r-mine"})
	if gateway.ProviderErrorCode(err) != gateway.ProviderTampered {
		t.Fatalf("replayed refund answer: %v", err)
	}
	// Unreadable amounts in a verified answer are an unknown outcome.
	raw = `{"code":"10000","msg":"Success","out_trade_no":"mine","trade_status":"TRADE_SUCCESS","total_amount":"1.001"}`
	body = answer(t, responseKey(MethodQuery), raw, raw)
	if _, err = p.Query(context.Background(), gateway.TradeRef{PaymentID: "mine"}); gateway.ProviderErrorCode(err) != gateway.ProviderUnavailable || !gateway.IsOutcomeUnknown(err) {
		t.Fatalf("bad amount: %v", err)
	}
}

func TestSignContent(t *testing.T) {
	got := signContent(map[string]string{"b": "2", "a": "1", "sign": "x", "empty": "", "A": "0", "c": "a=b&c"}, "sign")
	if want := "A=0&a=1&b=2&c=a=b&c"; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}
