package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/qr"
	"github.com/qrpay/qrpay/store"
)

// merchantsBrowser starts headless chromium speaking Chinese, or skips the test without it
// (fails under CI=true).
func merchantsBrowser(t *testing.T) context.Context {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing", chromium)
		}
		t.Skipf("%s is not installed", chromium)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(420, 900)) // a phone's width
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() { cancel(); cancelTab(); cancelAlloc() })
	return ctx
}

// must runs browser steps, failing with the page's text.
func must(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

// textOf returns an element's text.
func textOf(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// TestBrowserOnboarding: an applicant applies on the public form (with documents, on a phone's
// width), the demo operator reviews and approves it in the console and creates the owner's
// login, the owner logs in, chooses a password, creates an API key and a sticker, and the
// sticker's page opens.
func TestBrowserOnboarding(t *testing.T) {
	ctx := merchantsBrowser(t)
	ta := startApp(t, store.SQLite, appOptions{})
	dir := t.TempDir()
	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 32, 32)))
	photo := filepath.Join(dir, "photo.png")
	os.WriteFile(photo, img.Bytes(), 0o600)

	// 1. The public application form, in Chinese.
	must(t, ctx, "open the form", chromedp.Navigate(ta.URL+"/lang?to=zh-CN&next=/apply"), chromedp.WaitVisible(chromedp.ID("apply-form")))
	if h := textOf(t, ctx, "h1"); h != "商户入网申请" {
		t.Errorf("the form's title is %q", h)
	}
	fields := map[string]string{"legal_name": "兰州拉面研究所有限公司", "short_name": "拉面研究所", "uscc": "91110000802100433B",
		"city": "兰州", "address": "城关区张掖路1号", "legal_person_name": "马某", "legal_person_id": piiID, "phone": piiPhone,
		"bank_name": "兰州银行", "bank_account": piiAccount}
	var steps []chromedp.Action[chromedp.Void]
	for k, v := range fields {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("f-"+k), v))
	}
	steps = append(steps, chromedp.SetValue(chromedp.ID("f-mcc"), "5812"))
	for _, k := range []string{"business_licence", "id_front", "id_back"} {
		steps = append(steps, chromedp.SetUploadFiles(chromedp.ID("f-"+k), []string{photo}))
	}
	steps = append(steps, chromedp.Click(chromedp.ID("apply-submit")), chromedp.WaitVisible(chromedp.ID("status-link")))
	must(t, ctx, "apply", steps...)
	statusLink, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("status-link"), "href"))
	if err != nil || !strings.HasPrefix(statusLink.Value, "/apply/status/") {
		t.Fatalf("status link %v %v", statusLink, err)
	}

	// 2. The operator reviews and approves, adds a store and the owner's login.
	must(t, ctx, "operator login", chromedp.Navigate(ta.URL+"/login"), chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), ta.Demo.Operator.Login),
		chromedp.SendKeys(chromedp.ID("password"), ta.Demo.Operator.Password),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.ID("queue")))
	must(t, ctx, "open the application", chromedp.Click(chromedp.CSS(`#queue a`)), chromedp.WaitVisible(chromedp.ID("approve")))
	if masked := textOf(t, ctx, "#masked-id"); masked != "3210**********2119" {
		t.Errorf("the console shows the ID number as %q", masked)
	}
	must(t, ctx, "approve", chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.CSS(`#merchant-status[data-status="active"]`)))
	must(t, ctx, "add a store", chromedp.SendKeys(chromedp.CSS(`#stores input[name="name"]`), "张掖路店"),
		chromedp.Click(chromedp.CSS(`#stores form[action$="/store"] button`)), chromedp.WaitVisible(chromedp.CSS(`#stores tr[data-id]`)))
	must(t, ctx, "add the owner", chromedp.SendKeys(chromedp.ID("user-login"), "lamian-owner"),
		chromedp.Click(chromedp.ID("user-submit")), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	// The store's "saved" flash is on the page until the owner's answer replaces it (reading
	// it while the page is being replaced fails: try again).
	var tmp, flash string
	for deadline := time.Now().Add(15 * time.Second); tmp == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".flash"))); err == nil {
			flash = s
			tmp = regexp.MustCompile(`Tmp-[a-z0-9]+`).FindString(flash)
		}
	}
	if tmp == "" {
		t.Fatalf("no temporary password in %q", flash)
	}
	must(t, ctx, "applicant sees the approval", chromedp.Navigate(ta.URL+statusLink.Value),
		chromedp.WaitVisible(chromedp.CSS(`#application-status[data-status="active"]`)))
	must(t, ctx, "operator logs out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("login")))

	// 3. The owner logs in, must choose a password, then makes an API key and a sticker.
	must(t, ctx, "owner login", chromedp.SendKeys(chromedp.ID("login"), "lamian-owner"), chromedp.SendKeys(chromedp.ID("password"), tmp),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.CSS("form[action='/logout']")),
		chromedp.Navigate(ta.URL+"/developers"), chromedp.WaitVisible(chromedp.ID("password-form")))
	must(t, ctx, "choose a password", chromedp.SendKeys(chromedp.ID("old-password"), tmp),
		chromedp.SendKeys(chromedp.ID("new-password"), "Lamian-Owner-2026"), chromedp.SendKeys(chromedp.ID("new-password-again"), "Lamian-Owner-2026"),
		chromedp.Click(chromedp.ID("password-submit")), chromedp.WaitNotPresent(chromedp.ID("password-form")),
		chromedp.Navigate(ta.URL+"/developers"), chromedp.WaitVisible(chromedp.ID("key-submit")))
	must(t, ctx, "create a key", chromedp.Click(chromedp.ID("key-submit")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	flash = textOf(t, ctx, ".flash")
	keyID := regexp.MustCompile(`key_test_[a-z0-9]+`).FindString(flash)
	secret := regexp.MustCompile(`sk_test_[a-z0-9]+`).FindString(flash)
	if keyID == "" || secret == "" {
		t.Fatalf("no key in %q", flash)
	}
	if _, err := client.New(ta.URL, keyID, secret).Payments(context.Background(), client.ListParams{}); err != nil {
		t.Fatalf("the new key does not work: %v", err)
	}
	must(t, ctx, "create a sticker", chromedp.Navigate(ta.URL+"/stickers"), chromedp.WaitVisible(chromedp.ID("sticker-submit")),
		chromedp.Click(chromedp.ID("sticker-submit")), chromedp.WaitVisible(chromedp.CSS(`#stickers tr[data-id]`)))
	stickerURL, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#stickers tr[data-id]`), "data-url"))
	if err != nil || !strings.HasPrefix(stickerURL.Value, ta.URL+"/p/") {
		t.Fatalf("sticker url %v %v", stickerURL, err)
	}
	stickerID, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#stickers tr[data-id]`), "data-id"))
	// Its image, as the owner downloads it, holds the signed URL.
	imgB64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/stickers/`+stickerID.Value+`/image").then(r => r.arrayBuffer()).then(b => btoa(String.fromCharCode(...new Uint8Array(b))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch the sticker image: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(imgB64)
	if err != nil {
		t.Fatal(err)
	}
	if texts, err := qr.Decode(bytes.NewReader(raw), qr.DecodeOptions{}); err != nil || texts[0] != stickerURL.Value {
		t.Fatalf("the sticker image decodes to %v %v", texts, err)
	}

	// 4. The sticker's page: the customer's cashier names the merchant.
	must(t, ctx, "open the sticker", chromedp.Navigate(stickerURL.Value),
		void(chromedp.Poll[bool](`document.body.innerText.includes("拉面研究所")`, chromedp.WithPollingTimeout(10*time.Second))))
}

// void drops an action's value, for Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}
