package alipay

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// The public vectors in testdata/vectors.json come from qrpay's shared vector set; see its
// "_about" member for their sources.

type vector struct {
	Kind     string          `json:"kind"`
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
	Source   string          `json:"source"`
}

func loadVector(t *testing.T, kind string) vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		if v.Kind == kind {
			return v
		}
	}
	t.Fatalf("no vector %s", kind)
	return vector{}
}

func TestVectorRequestSignRSA2(t *testing.T) {
	v := loadVector(t, "alipay_request_sign_rsa2")
	var in struct {
		Params map[string]string `json:"params"`
	}
	var want struct {
		SignContent string `json:"sign_content"`
		Sign        string `json:"sign_b64_DERIVED"`
	}
	if err := json.Unmarshal(v.Input, &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(v.Expected, &want); err != nil {
		t.Fatal(err)
	}
	got := signContent(in.Params, "sign")
	if got != want.SignContent {
		t.Fatalf("sign content\n got %s\nwant %s", got, want.SignContent)
	}
	pemData, err := os.ReadFile("testdata/sdk-app-private-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParsePrivateKey(pemData)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signRSA2(key, got)
	if err != nil {
		t.Fatal(err)
	}
	if want.Sign == "" {
		t.Fatal("the vector carries no signature")
	}
	if sig != want.Sign {
		t.Fatalf("signature\n got %s\nwant %s", sig, want.Sign)
	}

	// The same request built by the adapter: same string, same signature.
	p, err := New(Config{BaseURL: "https://openapi.alipay.com/gateway.do", AppID: in.Params["app_id"],
		PrivateKey: key, AlipayPublicKey: &key.PublicKey,
		Clock: qrpay.NewFakeClock(time.Date(2014, 7, 23, 19, 7, 50, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	form, err := p.requestParams(in.Params["method"], json.RawMessage(in.Params["biz_content"]), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("timestamp") != in.Params["timestamp"] {
		t.Fatalf("timestamp %q, want %q (Asia/Shanghai)", form.Get("timestamp"), in.Params["timestamp"])
	}
	if _, ok := form["notify_url"]; ok {
		t.Fatal("an empty notify_url was sent")
	}
	// The adapter also sends format=JSON, which the vector's parameters leave out.
	params := map[string]string{}
	for k := range form {
		params[k] = form.Get(k)
	}
	delete(params, "format")
	delete(params, "sign")
	if c := signContent(params); c != want.SignContent {
		t.Fatalf("adapter's sign content\n got %s\nwant %s", c, want.SignContent)
	}
	all := map[string]string{}
	for k := range form {
		all[k] = form.Get(k)
	}
	if !verifyRSA2(&key.PublicKey, []byte(signContent(all, "sign")), form.Get("sign")) {
		t.Fatal("the adapter's request signature does not verify")
	}
}

func notifyVector(t *testing.T) (pubDER []byte, sig string, params map[string]string, wantContent string) {
	t.Helper()
	v := loadVector(t, "alipay_notify_verify_rsa2")
	var in struct {
		PublicKey string            `json:"public_key_b64_der"`
		Sign      string            `json:"sign"`
		Params    map[string]string `json:"params"`
	}
	var want struct {
		SignContent string `json:"sign_content"`
	}
	if err := json.Unmarshal(v.Input, &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(v.Expected, &want); err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(in.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, in.Sign, in.Params, want.SignContent
}

func TestVectorNotifyVerifyRSA2(t *testing.T) {
	der, sig, params, wantContent := notifyVector(t)
	pub, err := ParsePublicKey([]byte(base64.StdEncoding.EncodeToString(der)))
	if err != nil {
		t.Fatal(err)
	}
	if got := signContent(params, "sign", "sign_type"); got != wantContent {
		t.Fatalf("sign content\n got %s\nwant %s", got, wantContent)
	}
	if !verifyRSA2(pub, []byte(wantContent), sig) {
		t.Fatal("the vector does not verify with sign_type excluded")
	}
	if verifyRSA2(pub, []byte(signContent(params, "sign")), sig) {
		t.Fatal("the vector verifies with sign_type included; it should not")
	}

	// Through ParseCallback, as the form body Alipay posted.
	appKey := testKey(t)
	p, err := New(Config{BaseURL: "https://openapi.alipay.com/gateway.do", AppID: params["app_id"],
		PrivateKey: appKey, AlipayPublicKey: pub, SellerID: params["seller_id"]})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	form.Set("sign", sig)
	cb, err := p.ParseCallback(context.Background(), gateway.CallbackRequest{Method: "POST", Body: []byte(form.Encode())})
	if err != nil {
		t.Fatal(err)
	}
	tr := cb.Trade
	if tr == nil || cb.Refund != nil {
		t.Fatalf("callback %+v", cb)
	}
	wantPaid := time.Date(2019, 8, 15, 7, 56, 24, 0, time.UTC)
	if tr.Status != gateway.TradeSucceeded || tr.Amount != (qrpay.Money{Amount: 10, Currency: qrpay.CNY}) ||
		tr.PaymentID != "20190815155618536-564-57" || tr.ProviderTradeNo != "2019081522001468450512505578" ||
		tr.Payer != "2088102534368455" || !tr.PaidAt.Equal(wantPaid) || tr.PaidAt.Location() != time.UTC {
		t.Fatalf("trade %+v", tr)
	}
	if string(cb.Ack.Body) != "success" || cb.Ack.Status != 200 {
		t.Fatalf("ack %+v", cb.Ack)
	}

	// One changed field breaks it.
	form.Set("total_amount", "100.10")
	if _, err := p.ParseCallback(context.Background(), gateway.CallbackRequest{Method: "POST", Body: []byte(form.Encode())}); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
		t.Fatalf("tampered vector: %v", err)
	}
}

func TestVectorNotifyVerifyKeepSignType(t *testing.T) {
	v := loadVector(t, "alipay_notify_verify_rsa2_keep_sign_type")
	var in struct {
		PublicKey string          `json:"public_key"`
		Params    json.RawMessage `json:"params"`
		Sign      string          `json:"sign"`
	}
	if err := json.Unmarshal(v.Input, &in); err != nil {
		t.Fatal(err)
	}
	var params map[string]string
	if json.Unmarshal(in.Params, &params) != nil || in.Sign == "" {
		t.Skip("the published vector names its inputs but does not carry them (" + v.Source + ")")
	}
	pub, err := ParsePublicKey([]byte(in.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if verifyRSA2(pub, []byte(signContent(params, "sign", "sign_type")), in.Sign) {
		t.Fatal("verifies with sign_type excluded")
	}
	if !verifyRSA2(pub, []byte(signContent(params, "sign")), in.Sign) {
		t.Fatal("does not verify with sign_type included")
	}
}
