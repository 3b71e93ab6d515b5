package alipayfake

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
)

// The fake's own signing is checked against the public vectors the adapter uses
// (../testdata/vectors.json), so that the two cannot agree on a wrong rule.
func TestCanonicalAgainstVectors(t *testing.T) {
	data, err := os.ReadFile("../testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Kind     string          `json:"kind"`
			Input    json.RawMessage `json:"input"`
			Expected json.RawMessage `json:"expected"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, v := range f.Vectors {
		var in struct {
			Params    map[string]string `json:"params"`
			PublicKey string            `json:"public_key_b64_der"`
			Sign      string            `json:"sign"`
		}
		var want struct {
			SignContent string `json:"sign_content"`
		}
		_ = json.Unmarshal(v.Input, &in)
		_ = json.Unmarshal(v.Expected, &want)
		switch v.Kind {
		case "alipay_request_sign_rsa2":
			seen++
			if got := canonical(in.Params, "sign"); got != want.SignContent {
				t.Errorf("request sign content\n got %s\nwant %s", got, want.SignContent)
			}
		case "alipay_notify_verify_rsa2":
			seen++
			if got := canonical(in.Params, "sign", "sign_type"); got != want.SignContent {
				t.Errorf("notify sign content\n got %s\nwant %s", got, want.SignContent)
			}
			der, _ := base64.StdEncoding.DecodeString(in.PublicKey)
			pub, err := x509.ParsePKIXPublicKey(der)
			if err != nil {
				t.Fatal(err)
			}
			rsaPub, ok := pub.(*rsa.PublicKey)
			if !ok {
				t.Fatal("not an RSA key")
			}
			if !verify(rsaPub, []byte(want.SignContent), in.Sign) {
				t.Error("the notify vector does not verify")
			}
		}
	}
	if seen != 2 {
		t.Fatalf("%d vectors", seen)
	}
}

func newFake(t *testing.T) (*Server, *qrpay.FakeClock) {
	t.Helper()
	app, ali, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	clock := qrpay.NewFakeClock(time.Date(2024, 1, 15, 2, 0, 0, 0, time.UTC))
	s, err := New(Options{AppID: "2021000000000001", AppPublicKey: &app.PublicKey, AlipayKey: ali, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, clock
}

func post(t *testing.T, s *Server, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(s.GatewayURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRefusesUnsignedAndForeignRequests(t *testing.T) {
	s, _ := newFake(t)
	base := url.Values{"app_id": {"2021000000000001"}, "method": {"alipay.trade.query"}, "charset": {"utf-8"},
		"sign_type": {"RSA2"}, "timestamp": {"2024-01-15 10:00:00"}, "version": {"1.0"},
		"biz_content": {`{"out_trade_no":"x"}`}}
	cases := map[string]struct {
		mutate func(url.Values)
		want   string
	}{
		"unsigned":      {func(url.Values) {}, `"sub_code":"isv.missing-signature"`},
		"forged":        {func(v url.Values) { v.Set("sign", base64.StdEncoding.EncodeToString(make([]byte, 256))) }, `"sub_code":"isv.invalid-signature"`},
		"other app":     {func(v url.Values) { v.Set("app_id", "2021000000000002"); v.Set("sign", "x") }, `"sub_code":"isv.invalid-app-id"`},
		"no method":     {func(v url.Values) { v.Del("method") }, `"error_response":{"code":"40001"`},
		"unknown":       {func(v url.Values) { v.Set("method", "alipay.trade.nope") }, `"sub_code":"isv.invalid-method"`},
		"wrong version": {func(v url.Values) { v.Set("version", "2.0"); v.Set("sign", "x") }, `"sub_code":"isv.invalid-version"`},
	}
	for name, c := range cases {
		form := url.Values{}
		for k, v := range base {
			form[k] = append([]string(nil), v...)
		}
		c.mutate(form)
		status, body := post(t, s, form)
		if status != http.StatusOK || !strings.Contains(body, c.want) || strings.Contains(body, `"sign"`) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if n := len(s.Calls()); n != len(cases) {
		t.Fatalf("%d calls recorded", n)
	}
	if len(s.Trades()) != 0 {
		t.Fatal("a refused request made a trade")
	}
	resp, err := http.Get(s.GatewayURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func TestPayErrors(t *testing.T) {
	s, _ := newFake(t)
	if err := s.Pay("nope", ""); err == nil {
		t.Fatal("paid a trade that does not exist")
	}
	if _, ok := s.Trade("nope"); ok {
		t.Fatal("found a trade that does not exist")
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("a fake without keys")
	}
}
