package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store"
)

// TestBrowserCounter: the counter cashier shows a dynamic code large; a customer's phone scans a
// screenshot of the screen with the mock wallet and pays; the counter sees it without reloading
// and prints the receipt. Then the scanner gun types a customer's payment code and Enter.
func TestBrowserCounter(t *testing.T) {
	counter := startBrowser(t, "")
	phone := startBrowser(t, "Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0.50")
	ta := startApp(t, store.SQLite, appOptions{})

	err := chromedp.Do(counter,
		chromedp.Navigate(ta.URL+"/lang?to=zh-CN&next=/counter"),
		chromedp.WaitVisible(chromedp.ID("terminal-code")),
		chromedp.SendKeys(chromedp.ID("terminal-code"), ta.Demo.Terminal.Login),
		chromedp.SendKeys(chromedp.ID("terminal-pin"), ta.Demo.Terminal.Password),
		chromedp.Click(chromedp.ID("counter-login")),
		chromedp.WaitVisible(chromedp.ID("amount")),
		chromedp.Click(chromedp.CSS(`#keypad button[data-key="1"]`)),
		chromedp.Click(chromedp.CSS(`#keypad button[data-key="2"]`)),
		chromedp.Click(chromedp.CSS(`#keypad button[data-key="."]`)),
		chromedp.Click(chromedp.CSS(`#keypad button[data-key="3"]`)),
		chromedp.Click(chromedp.CSS(`#keypad button[data-key="4"]`)),
		chromedp.Click(chromedp.ID("show-qr")),
		chromedp.WaitVisible(chromedp.ID("qr-img")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, counter, `document.getElementById("qr-img").complete && document.getElementById("qr-img").naturalWidth > 0`, 20*time.Second)
	if amt, _ := chromedp.Run(counter, chromedp.Text(chromedp.ID("qr-amount"))); amt != "¥12.34" {
		t.Fatalf("the counter shows %q, want ¥12.34", amt)
	}
	shot, err := chromedp.Run(counter, chromedp.Screenshot(chromedp.ID("qr-box")))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "counter-screen.png")
	if err := os.WriteFile(file, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	// The customer's phone: the mock wallet scans the photo of the screen and pays.
	err = chromedp.Do(phone,
		chromedp.Navigate(ta.URL+"/mockpay/wallet"),
		chromedp.WaitVisible(chromedp.ID("image")),
		chromedp.SetUploadFiles(chromedp.ID("image"), []string{file}),
		chromedp.Click(chromedp.ID("wallet-pay")),
		chromedp.WaitVisible(chromedp.ID("wallet-result")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := chromedp.Run(phone, chromedp.Text(chromedp.ID("wallet-result"))); !strings.Contains(res, "¥12.34") {
		t.Fatalf("the wallet says %q", res)
	}
	waitJS(t, counter, `document.getElementById("result-text").getAttribute("data-status") === "succeeded"`, 20*time.Second)
	receipt, _ := chromedp.Run(counter, chromedp.Text(chromedp.ID("receipt")))
	if !strings.Contains(receipt, "¥12.34") || !strings.Contains(receipt, "马记牛肉面") {
		t.Fatalf("receipt %q", receipt)
	}
	waitJS(t, counter, `document.getElementById("today").textContent.indexOf("¥12.34") === 0`, 10*time.Second)

	// The scanner gun: digits and Enter in the payment-code field.
	code := paymentCode(t, ta, "alipay")
	err = chromedp.Do(counter,
		chromedp.Click(chromedp.ID("next")),
		chromedp.SendKeys(chromedp.ID("amount"), "8.80"),
		chromedp.SendKeys(chromedp.ID("paycode"), code+"\r"),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, counter, `document.getElementById("result-text").getAttribute("data-status") === "succeeded" && document.getElementById("receipt-amount").textContent === "¥8.80"`, 30*time.Second)
	list, err := ta.Client.Payments(context.Background(), client.ListParams{Status: "succeeded"})
	if err != nil || len(list.Data) != 2 {
		t.Fatalf("succeeded payments: %v %v", list, err)
	}
	for _, p := range list.Data {
		if p.TerminalID == "" || p.StoreID != ta.Demo.StoreID {
			t.Fatalf("a counter payment without its terminal and store: %+v", p)
		}
	}
	if list.Data[0].Scene != "code" || list.Data[0].Amount != 880 || list.Data[0].Channel != "alipay" {
		t.Fatalf("the payment-code payment: %+v", list.Data[0])
	}
}

// TestBrowserStickerCashier: a WeChat customer opens the sticker, sees the shop, types an
// amount, confirms in the provider's cashier, and the merchant has a WeChat sticker payment.
func TestBrowserStickerCashier(t *testing.T) {
	phone := startBrowser(t, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) MicroMessenger/8.0.50 NetType/WIFI")
	ta := startApp(t, store.SQLite, appOptions{})
	err := chromedp.Do(phone,
		chromedp.Navigate(ta.URL+"/lang?to=zh-CN&next=/"),
		chromedp.Navigate(ta.Demo.StickerURL),
		chromedp.WaitVisible(chromedp.ID("cashier-amount")),
	)
	if err != nil {
		t.Fatal(err)
	}
	shop, _ := chromedp.Run(phone, chromedp.Text(chromedp.ID("cashier-merchant")))
	wallet, _ := chromedp.Run(phone, chromedp.Text(chromedp.ID("cashier-wallet")))
	if shop != "马记牛肉面" || !strings.Contains(wallet, "微信支付") {
		t.Fatalf("the cashier shows %q / %q", shop, wallet)
	}
	err = chromedp.Do(phone,
		chromedp.SendKeys(chromedp.ID("cashier-amount"), "23.50"),
		chromedp.Click(chromedp.ID("cashier-pay")),
		chromedp.WaitVisible(chromedp.ID("confirm-pay")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if amt, _ := chromedp.Run(phone, chromedp.Text(chromedp.ID("confirm-amount"))); amt != "¥23.50" {
		t.Fatalf("the provider's cashier asks for %q", amt)
	}
	if err := chromedp.Do(phone, chromedp.Click(chromedp.ID("confirm-pay")), chromedp.WaitVisible(chromedp.ID("confirm-result"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		list, err := ta.Client.Payments(context.Background(), client.ListParams{Status: "succeeded"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Data) == 1 {
			p := list.Data[0]
			if p.Scene != "sticker" || p.Channel != "wechat" || p.Amount != 2350 {
				t.Fatalf("sticker payment %+v", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sticker payment never succeeded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
