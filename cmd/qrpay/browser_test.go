package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store"
)

// TestBrowserDashboardShowsPaidPayment logs in as the demo merchant user in headless chromium and
// sees the payment the mock wallet paid.
func TestBrowserDashboardShowsPaidPayment(t *testing.T) {
	ctx := startBrowser(t, "")
	ta := startApp(t, store.SQLite, appOptions{})
	p, err := ta.Client.CreatePayment(context.Background(), client.PaymentParams{MerchantOrderNo: "browser-1", Amount: 2688,
		Currency: "CNY", Description: "两碗牛肉面", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "browser"}, nil)
	waitStatus(t, ta.Client, p.ID, 20*time.Second, "succeeded")

	err = chromedp.Do(ctx,
		chromedp.Navigate(ta.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), ta.Demo.MerchantUser.Login),
		chromedp.SendKeys(chromedp.ID("password"), ta.Demo.MerchantUser.Password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("payments")),
		// The pages speak Chinese first; the switch sticks whatever the browser asks for.
		chromedp.Navigate(ta.URL+"/lang?to=zh-CN&next=/dashboard"),
		chromedp.WaitVisible(chromedp.ID("payments")),
	)
	if err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-id="`+p.ID+`"]`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"browser-1", "¥26.88", "已支付"} {
		if !strings.Contains(row, want) {
			t.Fatalf("the payment's row %q lacks %q", row, want)
		}
	}
	total, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("today-total")))
	if err != nil || total != "¥26.88" {
		t.Fatalf("today's takings %q, %v", total, err)
	}
}
