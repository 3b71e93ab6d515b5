package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/qr"
	"github.com/qrpay/qrpay/store/storetest"
)

// TestPaymentEndToEnd is the walking skeleton: over real HTTP, a signed request creates a
// dynamic code at the mock provider, the PNG at image_url decodes back to the payload, the mock
// wallet pays it, the mock provider's signed callback moves the payment to succeeded, and a
// River job delivers payment.succeeded to the merchant's webhook URL with a signature that
// verifies.
func TestPaymentEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		sink, _ := subscribeSink(t, ta.Client)

		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "e2e-1", Amount: 1234,
			Currency: "CNY", Description: "牛肉面两碗", Scene: "qr", Channel: "mockpay"}, client.IdempotencyKey("e2e-1"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != "created" || p.QR == nil || p.QR.Payload == "" || p.Amount != 1234 || p.Mode != "test" {
			t.Fatalf("created payment = %+v", p)
		}
		// The image decodes back to the payload.
		resp, err := http.Get(p.QR.ImageURL)
		if err != nil {
			t.Fatal(err)
		}
		img, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("image: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("image is not a PNG: %v", err)
		}
		texts, err := qr.Decode(bytes.NewReader(img), qr.DecodeOptions{})
		if err != nil || texts[0] != p.QR.Payload {
			t.Fatalf("image decodes to %v, %v; want %q", texts, err, p.QR.Payload)
		}

		var paid struct {
			Status          string `json:"status"`
			ProviderTradeNo string `json:"provider_trade_no"`
		}
		if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "e2e-payer"}, &paid); st != 200 || paid.Status != "paid" {
			t.Fatalf("wallet pay: %d %+v", st, paid)
		}
		got := waitStatus(t, ta.Client, p.ID, 20*time.Second, "succeeded")
		if got.PaidAt == nil || got.ProviderTradeNo == "" {
			t.Fatalf("succeeded payment lacks paid_at or provider_trade_no: %+v", got)
		}
		e := sink.waitEvent(t, "payment.succeeded", p.ID, 20*time.Second)
		var obj client.Payment
		if err := json.Unmarshal(e.Data.Object, &obj); err != nil || obj.Status != "succeeded" || obj.Amount != 1234 {
			t.Fatalf("webhook object = %+v, %v", obj, err)
		}
		// Paying again is refused by the wallet, and nothing changes.
		if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "e2e-payer"}, nil); st == 200 {
			t.Fatal("a paid code was paid twice")
		}
		evs, err := ta.Client.Events(ctx, client.ListParams{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs.Data {
			if e.Type == "payment.succeeded" && strings.Contains(string(e.Data.Object), p.ID) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d payment.succeeded events for one payment, want 1", n)
		}
	})
}

// apiError asserts err is an API error with the status, code and (if given) param.
func apiError(t *testing.T, err error, status int, code, param string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want API error %d %s", err, status, code)
	}
	if e.Status != status || e.Code != code || (param != "" && e.Param != param) {
		t.Fatalf("err = %d %s (param %q), want %d %s (param %q)", e.Status, e.Code, e.Param, status, code, param)
	}
}
