package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store/storetest"
)

// TestWebhookSecretRotation rotates a webhook endpoint's secret through the API: the new secret
// is shown once; during the overlap every webhook verifies with the old secret and with the new
// one, so a receiver can switch at any moment; after it only the new secret verifies. Bad
// rotations are clear errors.
func TestWebhookSecretRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		sink, ep := subscribeSink(t, ta.Client)
		old := ep.Secret
		n := 0
		paid := func() string {
			t.Helper()
			n++
			p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: fmt.Sprintf("rot-%d", n), Amount: 1000,
				Currency: "CNY", Scene: "qr", Channel: "mockpay"})
			if err != nil {
				t.Fatal(err)
			}
			var w struct {
				Status string `json:"status"`
			}
			if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "rot"}, &w); st != 200 || w.Status != "paid" {
				t.Fatalf("wallet pay: %d %+v", st, w)
			}
			return p.ID
		}
		sink.waitEvent(t, "payment.succeeded", paid(), 20*time.Second)

		const overlap = 4 * time.Second
		rotated := time.Now()
		rot, err := ta.Client.RotateWebhookEndpointSecret(ctx, ep.ID, overlap)
		if err != nil {
			t.Fatal(err)
		}
		if rot.ID != ep.ID || rot.Secret == "" || rot.Secret == old || rot.PreviousSecretExpires < rotated.Unix() ||
			rot.PreviousSecretExpires > rotated.Add(overlap+2*time.Second).Unix() {
			t.Fatalf("rotated endpoint %+v", rot)
		}
		var list struct {
			Data []client.WebhookEndpoint `json:"data"`
		}
		if err := ta.Client.Do(ctx, "GET", "/v1/webhook_endpoints", nil, &list); err != nil {
			t.Fatal(err)
		}
		listed := false
		for _, e := range list.Data {
			if e.Secret != "" || (e.ID == ep.ID) != (e.PreviousSecretExpires == rot.PreviousSecretExpires) {
				t.Fatalf("endpoints %+v: a secret shown again, or the overlap on the wrong endpoint", list.Data)
			}
			listed = listed || e.ID == ep.ID
		}
		if !listed {
			t.Fatalf("endpoints %+v lack %s", list.Data, ep.ID)
		}
		// During the overlap a receiver still on the old secret, and one on the new, both verify.
		sink.waitEvent(t, "payment.succeeded", paid(), 20*time.Second)
		sink.setSecret(rot.Secret)
		sink.waitEvent(t, "payment.succeeded", paid(), 20*time.Second)

		// After it, the old secret verifies nothing: the sink, back on it, refuses the next one.
		time.Sleep(time.Until(rotated.Add(overlap + time.Second)))
		sink.setSecret(old)
		paid()
		deadline := time.Now().Add(20 * time.Second)
		for {
			sink.mu.Lock()
			rejected := sink.rejected
			sink.mu.Unlock()
			if rejected > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a webhook after the overlap was not refused by the old secret")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The new secret verifies what follows.
		sink.setSecret(rot.Secret)
		sink.waitEvent(t, "payment.succeeded", paid(), 20*time.Second)

		// The merchant's developers page rotates too, and shows the new secret once.
		pc := newPageClient(t, ta)
		pc.login(ta.Demo.MerchantUser.Login, ta.Demo.MerchantUser.Password)
		pc.get("/developers")
		st, body := pc.post("/developers/endpoint_rotate", url.Values{"endpoint_id": {ep.ID}})
		m := regexp.MustCompile(`whsec_[A-Za-z0-9_-]+`).FindString(body)
		if st != 200 || m == "" || m == rot.Secret {
			t.Fatalf("rotation on the page: %d, secret %q", st, m)
		}
		if !strings.Contains(body, "Old secret signs until") && !strings.Contains(body, "旧密钥签名至") {
			t.Errorf("the page does not say until when the old secret signs")
		}
		sink.setSecret(m)
		sink.waitEvent(t, "payment.succeeded", paid(), 20*time.Second)

		// And so does the operator API.
		st, obj := adminCall(t, ta, "POST", "/admin/v1/merchants/"+ta.Demo.MerchantID+"/webhook_endpoints/"+ep.ID+"/rotate",
			map[string]any{"overlap_seconds": 60})
		if sec, _ := obj["secret"].(string); st != 200 || sec == "" || sec == m || obj["previous_secret_expires"] == nil {
			t.Fatalf("operator rotation: %d %v", st, obj)
		}
		if st, _ := adminCall(t, ta, "POST", "/admin/v1/merchants/"+ta.Demo.MerchantID+"/webhook_endpoints/we_nope/rotate", nil); st != 404 {
			t.Errorf("operator rotation of no endpoint: %d", st)
		}

		for _, c := range []struct {
			id   string
			body any
			code string
		}{
			{"we_nope", nil, qrpay.ENOTFOUND},
			{ep.ID, map[string]any{"overlap_seconds": 0}, qrpay.EINVALID},
			{ep.ID, map[string]any{"overlap_seconds": 31 * 24 * 3600}, qrpay.EINVALID},
			{ep.ID, map[string]any{"overlap": 5}, qrpay.EINVALID},
		} {
			err := ta.Client.Do(ctx, "POST", "/v1/webhook_endpoints/"+c.id+"/rotate", c.body, nil)
			var ae *client.Error
			if !errors.As(err, &ae) || ae.Code != c.code {
				t.Errorf("rotate %s %v: %v, want %s", c.id, c.body, err, c.code)
			}
		}
	})
}
