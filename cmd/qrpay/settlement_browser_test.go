package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
)

// TestBrowserSettlementPages: in headless chromium, the demo merchant's settlements page shows
// the day's batch in its SVG chart (a bar per channel whose sizes are the batch's gross) and in
// its table; the batch's page shows its net and items; the lines file downloads with a byte-order
// mark and the batch's sums; the items file's net column adds up to the batch's net. Then the
// operator's console shows the day settled across merchants, and no break.
func TestBrowserSettlementPages(t *testing.T) {
	ctx := startBrowser(t, "")
	ta := startApp(t, store.SQLite, appOptions{})
	svc := attachSettlement(t, ta)
	paid := paidPayments(t, ta, "brw", []int64{2688, 1200, 99999, 350})
	if _, err := ta.Client.CreateRefund(context.Background(), paid[1].ID, client.RefundParams{Amount: 700, MerchantRefundNo: "brw-r1"}); err != nil {
		t.Fatal(err)
	}
	waitRefund(t, ta.Client, paid[1].ID)
	zone := svc.Settings().Zone
	today := settlement.DateOf(time.Now(), zone)
	var run settlement.RunObject
	if st := settleAdmin(t, ta, "POST", "/admin/v1/settlements/run", map[string]string{"date": today.String(),
		"as_of": today.AddDays(1).At(zone, 6*time.Hour).Format(time.RFC3339)}, &run); st != 200 || len(run.Data) != 1 {
		t.Fatalf("run: %d %+v", st, run)
	}
	b := run.Data[0]
	money := func(v int64) string { return qrpay.Money{Amount: v, Currency: qrpay.CNY}.String() }

	err := chromedp.Do(ctx,
		chromedp.Navigate(ta.URL+"/lang?to=zh-CN&next=/settlements"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), ta.Demo.MerchantUser.Login),
		chromedp.SendKeys(chromedp.ID("password"), ta.Demo.MerchantUser.Password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("settlement-chart")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The chart: 30 days, and today's bars add up to the batch's gross.
	days, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("settlement-chart").getAttribute("data-days")`))
	if err != nil || days != "30" {
		t.Fatalf("chart days %q, %v", days, err)
	}
	gross, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Array.from(document.querySelectorAll('#settlement-chart rect.bar[data-day="`+today.String()+`"]'))
		.reduce((s, r) => s + Number(r.getAttribute("data-gross")), 0)`))
	if err != nil || gross != b.Gross {
		t.Fatalf("today's bars add up to %d, want %d (%v)", gross, b.Gross, err)
	}
	bars, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#settlement-chart rect.bar").length`))
	if bars != len(b.Lines) {
		t.Fatalf("%d bars, want %d", bars, len(b.Lines))
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#settlements tr[data-id="`+b.ID+`"]`)))
	if err != nil || !strings.Contains(row, money(b.Net)) || !strings.Contains(row, money(b.Gross)) || !strings.Contains(row, "测试（不出款）") {
		t.Fatalf("the batch's row %q (%v), want %s and %s", row, err, money(b.Net), money(b.Gross))
	}

	// The batch's page.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#settlements tr[data-id="`+b.ID+`"] a`)),
		chromedp.WaitVisible(chromedp.ID("batch-net")),
	)
	if err != nil {
		t.Fatal(err)
	}
	net, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("batch-net")))
	items, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#batch-items tbody tr").length`))
	if net != money(b.Net) || items != len(paid)+1 {
		t.Fatalf("batch page: net %q (want %s), %d items", net, money(b.Net), items)
	}

	// The lines file, downloaded as a person would.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("lines-csv"))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, b.ID+"-lines.csv")
	var file []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		if file, err = os.ReadFile(path); err == nil && len(file) > 0 {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no download at %s: %v", path, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	lf, err := settlement.ReadLinesCSV(bytes.NewReader(file))
	if err != nil || !bytes.HasPrefix(file, []byte("\xef\xbb\xbf")) || lf.BatchID != b.ID || lf.Total.Gross != b.Gross ||
		lf.Total.Refunds != b.Refunds || lf.Total.Fees != b.Fees || lf.Total.Net != b.Net || lf.Payable != b.Payable {
		t.Fatalf("downloaded lines %+v, %v\n%s", lf, err, file)
	}

	// The items file: its net column adds up to the batch's net.
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`fetch("/settlements/`+b.ID+`/items.csv").then(r => r.arrayBuffer())
		.then(b => Array.from(new Uint8Array(b)))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	itemsFile := make([]byte, len(raw))
	for i, v := range raw {
		itemsFile[i] = byte(v)
	}
	if !bytes.HasPrefix(itemsFile, []byte("\xef\xbb\xbf")) {
		t.Fatalf("the items file has no byte-order mark: %q", itemsFile)
	}
	rows, err := csv.NewReader(bytes.NewReader(itemsFile[3:])).ReadAll()
	if err != nil || len(rows) != len(paid)+2 {
		t.Fatalf("items file %v: %s", err, itemsFile)
	}
	var itemsNet int64
	for _, r := range rows[1:] {
		neg := strings.HasPrefix(r[11], "-")
		v, err := qrpay.ParseDecimal(strings.TrimPrefix(r[11], "-"), 2)
		if err != nil {
			t.Fatalf("item row %v: %v", r, err)
		}
		if neg {
			v = -v
		}
		itemsNet += v
	}
	if itemsNet != b.Net {
		t.Fatalf("the items' net adds up to %d, the batch's is %d", itemsNet, b.Net)
	}

	// The operator's day.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(ta.URL+"/lang?to=zh-CN&next="+url.QueryEscape("/console/settlements?date="+today.String())),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), ta.Demo.Operator.Login),
		chromedp.SendKeys(chromedp.ID("password"), ta.Demo.Operator.Password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("overview")),
	)
	if err != nil {
		t.Fatal(err)
	}
	state, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("day-state")))
	opRow, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-id="`+b.ID+`"]`)))
	if state != "已结算" || !strings.Contains(opRow, money(b.Net)) {
		t.Fatalf("console: %q, row %q", state, opRow)
	}
	err = chromedp.Do(ctx, chromedp.Click(chromedp.ID("breaks-link")), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if !strings.Contains(body, "没有差错") {
		t.Fatalf("breaks page: %q\n%s", body, ta.Output.String())
	}
}
