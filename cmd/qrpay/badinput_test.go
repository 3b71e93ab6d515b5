package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// signedRaw sends a request signed with the demo key, letting the test choose every part.
func signedRaw(t *testing.T, ta *testApp, method, path string, body []byte, ts int64, nonce, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ta.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	tss := strconv.FormatInt(ts, 10)
	req.Header.Set("Qrpay-Key", ta.Demo.APIKeyID)
	req.Header.Set("Qrpay-Timestamp", tss)
	req.Header.Set("Qrpay-Nonce", nonce)
	req.Header.Set("Qrpay-Signature", client.Sign(secret, client.Canonical(method, path, tss, nonce, body)))
	resp, err := ta.Client.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func errCode(m map[string]any) (code, param string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	param, _ = e["param"].(string)
	return
}

func TestBadInput(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	now := time.Now().Unix()
	good := []byte(`{"merchant_order_no":"bad-1","amount":100,"currency":"CNY","scene":"qr"}`)

	t.Run("Unsigned", func(t *testing.T) {
		resp, err := http.Post(ta.URL+"/v1/payments", "application/json", bytes.NewReader(good))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("status %d, want 401", resp.StatusCode)
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		st, body := signedRaw(t, ta, "POST", "/v1/payments", good, now, client.NewNonce(), "wrong")
		if code, _ := errCode(body); st != 401 || code != "unauthorized" {
			t.Fatalf("%d %v", st, body)
		}
	})
	t.Run("Stale", func(t *testing.T) {
		st, _ := signedRaw(t, ta, "POST", "/v1/payments", good, now-301, client.NewNonce(), ta.Demo.APISecret)
		if st != 401 {
			t.Fatalf("status %d, want 401", st)
		}
		st, _ = signedRaw(t, ta, "POST", "/v1/payments", good, now+400, client.NewNonce(), ta.Demo.APISecret)
		if st != 401 {
			t.Fatalf("future timestamp: status %d, want 401", st)
		}
	})
	t.Run("Replayed", func(t *testing.T) {
		nonce := client.NewNonce()
		body := []byte(`{"merchant_order_no":"replay-1","amount":100,"currency":"CNY","scene":"qr"}`)
		if st, b := signedRaw(t, ta, "POST", "/v1/payments", body, now, nonce, ta.Demo.APISecret); st != 201 {
			t.Fatalf("first: %d %v", st, b)
		}
		if st, _ := signedRaw(t, ta, "POST", "/v1/payments", body, now, nonce, ta.Demo.APISecret); st != 401 {
			t.Fatalf("replay: status %d, want 401", st)
		}
		// A failed request's nonce is spent too.
		nonce = client.NewNonce()
		bad := []byte(`{"amount":-1}`)
		signedRaw(t, ta, "POST", "/v1/payments", bad, now, nonce, ta.Demo.APISecret)
		if st, _ := signedRaw(t, ta, "POST", "/v1/payments", bad, now, nonce, ta.Demo.APISecret); st != 401 {
			t.Fatalf("replay of a failed request: status %d, want 401", st)
		}
		// GETs too.
		nonce = client.NewNonce()
		signedRaw(t, ta, "GET", "/v1/payments?limit=1", nil, now, nonce, ta.Demo.APISecret)
		if st, _ := signedRaw(t, ta, "GET", "/v1/payments?limit=1", nil, now, nonce, ta.Demo.APISecret); st != 401 {
			t.Fatalf("replayed GET: status %d, want 401", st)
		}
	})
	cases := []struct {
		name, body, param string
	}{
		{"MalformedJSON", `{not json`, ""},
		{"NotAnObject", `[1,2]`, ""},
		{"MissingAmount", `{"merchant_order_no":"m1","currency":"CNY","scene":"qr"}`, "amount"},
		{"NegativeAmount", `{"merchant_order_no":"m2","amount":-5,"currency":"CNY","scene":"qr"}`, "amount"},
		{"ZeroAmount", `{"merchant_order_no":"m3","amount":0,"currency":"CNY","scene":"qr"}`, "amount"},
		{"StringAmount", `{"merchant_order_no":"m4","amount":"12","currency":"CNY","scene":"qr"}`, "amount"},
		{"FloatAmount", `{"merchant_order_no":"m5","amount":12.5,"currency":"CNY","scene":"qr"}`, "amount"},
		{"OverflowingAmount", `{"merchant_order_no":"m6","amount":9223372036854775808,"currency":"CNY","scene":"qr"}`, "amount"},
		{"UnknownCurrency", `{"merchant_order_no":"m7","amount":100,"currency":"XXX","scene":"qr"}`, "currency"},
		{"EmptyOrderNo", `{"merchant_order_no":"","amount":100,"currency":"CNY","scene":"qr"}`, "merchant_order_no"},
		{"LongOrderNo", `{"merchant_order_no":"` + strings.Repeat("x", 65) + `","amount":100,"currency":"CNY","scene":"qr"}`, "merchant_order_no"},
		{"UnknownField", `{"merchant_order_no":"m8","amount":100,"currency":"CNY","scene":"qr","colour":"red"}`, "colour"},
		{"UnknownScene", `{"merchant_order_no":"m9","amount":100,"currency":"CNY","scene":"teleport"}`, "scene"},
		{"UnknownChannel", `{"merchant_order_no":"m10","amount":100,"currency":"CNY","scene":"qr","channel":"paypal"}`, "channel"},
		{"CodeWithoutAuthCode", `{"merchant_order_no":"m11","amount":100,"currency":"CNY","scene":"code"}`, "auth_code"},
		{"UnknownPrefix", `{"merchant_order_no":"m12","amount":100,"currency":"CNY","scene":"code","auth_code":"999999"}`, "auth_code"},
		{"ShortExpiry", `{"merchant_order_no":"m13","amount":100,"currency":"CNY","scene":"qr","expires_in":5}`, "expires_in"},
		{"ControlInDescription", `{"merchant_order_no":"m14","amount":100,"currency":"CNY","scene":"qr","description":"a\u0000b"}`, "description"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := signedRaw(t, ta, "POST", "/v1/payments", []byte(c.body), now, client.NewNonce(), ta.Demo.APISecret)
			code, param := errCode(body)
			if st != 400 || code != "invalid" || param != c.param {
				t.Fatalf("%d %s param %q, want 400 invalid param %q (%v)", st, code, param, c.param, body)
			}
		})
	}
	t.Run("Oversized", func(t *testing.T) {
		big := []byte(`{"merchant_order_no":"big","amount":100,"currency":"CNY","scene":"qr","description":"` + strings.Repeat("x", 2<<20) + `"}`)
		st, body := signedRaw(t, ta, "POST", "/v1/payments", big, now, client.NewNonce(), ta.Demo.APISecret)
		if code, _ := errCode(body); st != 413 || code == "" {
			t.Fatalf("%d %v, want 413 with the error object", st, body)
		}
		// Without a Content-Length the limit still holds.
		req, _ := http.NewRequest("POST", ta.URL+"/v1/payments", io.MultiReader(bytes.NewReader(big)))
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("chunked: status %d, want 413", resp.StatusCode)
		}
	})
	t.Run("ForgedCallback", func(t *testing.T) {
		ctx := context.Background()
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "forged-1", Amount: 500, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf(`{"kind":"trade","trade":{"out_trade_no":%q,"trade_no":"MP1","status":"SUCCESS","amount":500,"currency":"CNY","refunded":0}}`, p.ID)
		req, _ := http.NewRequest("POST", ta.URL+"/callbacks/mockpay", strings.NewReader(body))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set(mockpay.HeaderTimestamp, ts)
		req.Header.Set(mockpay.HeaderSignature, mockpay.Sign([]byte("not the secret"), ts, "notify", []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			t.Fatalf("forged callback acknowledged with %d", resp.StatusCode)
		}
		got, err := ta.Client.Payment(ctx, p.ID)
		if err != nil || got.Status != "created" {
			t.Fatalf("payment after a forged callback: %+v %v", got, err)
		}
	})
	t.Run("PanicIsAnErrorObject", func(t *testing.T) {
		// An unknown route under /v1 answers the error object, not HTML or a stack.
		st, body := signedRaw(t, ta, "GET", "/v1/nothing-here", nil, now, client.NewNonce(), ta.Demo.APISecret)
		if code, _ := errCode(body); st != 404 || code != "not_found" {
			t.Fatalf("%d %v", st, body)
		}
	})
}

// TestServeTwiceOnTheSameDataDir: a second start on the same data directory creates nothing
// again, and PostgreSQL's migrate is a no-op the second time.
func TestServeTwiceOnTheSameDataDir(t *testing.T) {
	dir := t.TempDir()
	first := startApp(t, store.SQLite, appOptions{dataDir: dir})
	first.stop()
	second := startApp(t, store.SQLite, appOptions{dataDir: dir})
	a, b := *first.Demo, *second.Demo
	if !strings.HasPrefix(b.StickerURL, b.BaseURL+"/p/") {
		t.Fatalf("sticker URL %q does not follow the new base URL %q", b.StickerURL, b.BaseURL)
	}
	a.BaseURL, a.StickerURL, b.BaseURL, b.StickerURL = "", "", "", ""
	if a != b {
		t.Fatalf("demo.json changed on the second start:\n%+v\n%+v", a, b)
	}
	ctx := context.Background()
	// The second server still takes payments with the same key, and its webhooks reach it.
	if _, err := second.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "again-1", Amount: 100, Currency: "CNY", Scene: "qr"}); err != nil {
		t.Fatal(err)
	}
	ms, _, err := second.App.merchants.Store.FindMerchants(ctx, merchantFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("%d merchants after two starts, want 1", len(ms))
	}
	if _, err := os.Stat(filepath.Join(dir, "qrpay.db")); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateTwiceOnPostgres(t *testing.T) {
	url := storetest.NewEmptyPostgres(t)
	for i, want := range []string{"schema up to date", "0 migrations applied"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate", "--database-url", url}, &out, io.Discard); err != nil {
			t.Fatalf("migrate #%d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("migrate #%d said %q, want %q", i+1, out.String(), want)
		}
	}
}
