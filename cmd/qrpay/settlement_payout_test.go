package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store/storetest"
)

// settlePage is a browser-like client of the pages: cookies, and the CSRF token of the last
// page it read.
type settlePage struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

var settleCSRFField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func newSettlePage(t testing.TB, base, login, password string) *settlePage {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &settlePage{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	p.get("/login")
	st, _ := p.post("/login", url.Values{"login": {login}, "password": {password}})
	if st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	return p
}

func (p *settlePage) get(path string) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Accept-Language", "zh-CN")
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := settleCSRFField.FindSubmatch(b); m != nil {
		p.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

func (p *settlePage) post(path string, form url.Values) (int, string) {
	p.t.Helper()
	form.Set("_csrf", p.csrf)
	req, _ := http.NewRequest("POST", p.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location") + string(b)
}

// TestSettlementPayoutsAndBreaks: live payments of the demo merchant (bound to the mock
// provider's account) are reconciled against a statement missing one of them, which is held
// out of the day's batch as a break; the payout file lists the batch with the merchant's bank
// account opened (and the account is in no log); the batch is marked paid; the operator writes
// the break off in the console, and the payment lands in the next day's batch. The console's
// pages (overview, breaks, calendar) render and act, with CSRF tokens.
func TestSettlementPayoutsAndBreaks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		svc := attachSettlement(t, ta)
		ctx := context.Background()
		mid := ta.Demo.MerchantID
		if st := settleAdmin(t, ta, "POST", "/admin/v1/merchants/"+mid+"/bindings", map[string]string{"channel": "mockpay",
			"account_id": "mockpay", "sub_merchant_id": "live-1"}, nil); st != 200 {
			t.Fatalf("binding: %d", st)
		}
		var key struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		if st := settleAdmin(t, ta, "POST", "/admin/v1/merchants/"+mid+"/api_keys", map[string]string{"mode": "live"}, &key); st != 201 {
			t.Fatalf("live key: %d", st)
		}
		live := client.New(ta.URL, key.ID, key.Secret)
		live.HTTP = ta.Client.HTTP
		var paid []*client.Payment
		for i, a := range []int64{50000, 12345, 888} {
			p, err := live.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "live-" + string(rune('a'+i)), Amount: a,
				Currency: "CNY", Scene: "qr", Channel: "mockpay"})
			if err != nil {
				t.Fatal(err)
			}
			post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "live"}, nil)
			paid = append(paid, waitStatus(t, live, p.ID, 20*time.Second, "succeeded"))
		}
		zone := svc.Settings().Zone
		today := settlement.DateOf(time.Now(), zone)

		// The provider's statement file without the second payment.
		resp, err := http.Get(ta.URL + "/mockpay/statements/" + today.String() + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		file, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var kept []string
		for _, l := range strings.Split(strings.TrimSpace(string(file)), "\n") {
			if !strings.Contains(l, paid[1].ID) {
				kept = append(kept, l)
			}
		}
		var rec settlement.Reconciliation
		req, _ := http.NewRequest("POST", ta.URL+"/admin/v1/reconciliations/import?provider=mockpay&date="+today.String(),
			strings.NewReader(strings.Join(kept, "\n")+"\n"))
		req.Header.Set("Authorization", "Bearer "+ta.Demo.OperatorToken)
		req.Header.Set("Content-Type", "text/csv")
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(r2.Body).Decode(&rec)
		r2.Body.Close()
		if r2.StatusCode != 200 || rec.NewBreaks[settlement.BreakMissingTheirs] != 1 || rec.Lines != 2 {
			t.Fatalf("import: %d %+v", r2.StatusCode, rec)
		}

		var run settlement.RunObject
		settleAdmin(t, ta, "POST", "/admin/v1/settlements/run", map[string]string{"date": today.String(),
			"as_of": today.AddDays(1).At(zone, 6*time.Hour).Format(time.RFC3339)}, &run)
		var b *settlement.BatchObject
		for i := range run.Data {
			if run.Data[i].Mode == "live" {
				b = &run.Data[i]
			}
		}
		fees := settlement.Fee(50000, 38) + settlement.Fee(888, 38)
		if b == nil || b.Gross != 50888 || b.Net != 50888-fees || b.Status != settlement.StatusPending || b.Payable != b.Net {
			t.Fatalf("live batch %+v", b)
		}
		// The live key sees the live batch only.
		var list struct {
			Data []settlement.BatchObject `json:"data"`
		}
		if err := live.Do(ctx, "GET", "/v1/settlements?date="+today.String(), nil, &list); err != nil || len(list.Data) != 1 || list.Data[0].ID != b.ID {
			t.Fatalf("live list %+v %v", list, err)
		}

		// The payout file of the batch's payout date: the account in the clear, only there.
		var payout []byte
		if st := settleAdmin(t, ta, "GET", "/admin/v1/settlements/payouts.csv?date="+b.PayoutDate, nil, &payout); st != 200 {
			t.Fatalf("payout file: %d %s", st, payout)
		}
		wantRow := "6226090000000048,兰州马记牛肉面馆有限公司," + qrpay.FormatMinor(b.Payable, 2) + "," + b.ID
		if !bytes.HasPrefix(payout, []byte("\xef\xbb\xbfaccount,name,amount,reference\n")) || !strings.Contains(string(payout), wantRow) {
			t.Fatalf("payout file:\n%s\nwant a row %s", payout, wantRow)
		}
		if strings.Contains(ta.Output.String(), "6226090000000048") {
			t.Fatal("the bank account was logged")
		}
		var paidBatch settlement.BatchObject
		if st := settleAdmin(t, ta, "POST", "/admin/v1/settlements/"+b.ID+"/paid", map[string]string{"reference": "BANK-20260001"}, &paidBatch); st != 200 ||
			paidBatch.Status != settlement.StatusPaid || paidBatch.Reference != "BANK-20260001" {
			t.Fatalf("mark paid: %d %+v", st, paidBatch)
		}
		settleAdmin(t, ta, "GET", "/admin/v1/settlements/payouts.csv?date="+b.PayoutDate, nil, &payout)
		if strings.Count(string(payout), "\n") != 1 {
			t.Fatalf("a paid batch is still due:\n%s", payout)
		}

		// The console: the day's live table, the break, resolved with the page's form.
		op := newSettlePage(t, ta.URL, ta.Demo.Operator.Login, ta.Demo.Operator.Password)
		st, body := op.get("/console/settlements?date=" + today.String())
		if st != 200 || !strings.Contains(body, `data-id="`+b.ID+`"`) || !strings.Contains(body, "已出款") {
			t.Fatalf("console overview %d:\n%s", st, body)
		}
		st, body = op.get("/console/settlements/breaks")
		brk := regexp.MustCompile(`action="/console/settlements/breaks/(brk_[a-z0-9_]+)/resolve"`).FindStringSubmatch(body)
		if st != 200 || brk == nil || !strings.Contains(body, paid[1].ID) {
			t.Fatalf("breaks page %d:\n%s", st, body)
		}
		if st, loc := op.post("/console/settlements/breaks/"+brk[1]+"/resolve", url.Values{"resolution": {"write_off"}, "note": {"checked by phone"}}); st != http.StatusSeeOther || !strings.Contains(loc, "done=resolved") {
			t.Fatalf("resolve: %d %s", st, loc)
		}
		op.get("/console/settlements")
		if st, _ := op.post("/console/settlements/calendar", url.Values{"date": {"2030-10-01"}, "kind": {"holiday"}, "name": {"国庆节"}}); st != http.StatusSeeOther {
			t.Fatalf("calendar: %d", st)
		}
		var hs struct {
			Data []settlement.Holiday `json:"data"`
		}
		if settleAdmin(t, ta, "GET", "/admin/v1/settlements/holidays?from=2030-01-01&to=2030-12-31", nil, &hs); len(hs.Data) != 1 || hs.Data[0].Name != "国庆节" {
			t.Fatalf("holidays %+v", hs)
		}
		// A form without the page's token is refused.
		op.csrf = "forged"
		if st, _ := op.post("/console/settlements/calendar", url.Values{"date": {"2030-10-02"}, "kind": {"holiday"}}); st != http.StatusForbidden {
			t.Fatalf("a forged form: %d", st)
		}
		// The merchant's user may not reach the console.
		mu := newSettlePage(t, ta.URL, ta.Demo.MerchantUser.Login, ta.Demo.MerchantUser.Password)
		if st, _ := mu.get("/console/settlements"); st != http.StatusForbidden {
			t.Fatalf("merchant user on the console: %d", st)
		}
		if st, _ := mu.get("/settlements/" + b.ID); st != 200 {
			t.Fatalf("merchant's batch page: %d", st)
		}

		// The written-off payment settles in the next day's batch.
		var next settlement.RunObject
		if st := settleAdmin(t, ta, "POST", "/admin/v1/settlements/run", map[string]string{"date": today.AddDays(1).String(),
			"as_of": today.AddDays(2).At(zone, 6*time.Hour).Format(time.RFC3339)}, &next); st != 200 {
			t.Fatalf("next day: %d %+v", st, next)
		}
		found := false
		for _, nb := range next.Data {
			if nb.Mode == "live" && nb.Gross == 12345 && nb.Count == 1 {
				found = true
			}
		}
		if !found {
			t.Fatalf("the released payment is not in the next day's batch: %+v", next.Data)
		}
		var breaks struct {
			Data []settlement.BreakObject `json:"data"`
		}
		settleAdmin(t, ta, "GET", "/admin/v1/breaks?status=resolved", nil, &breaks)
		if len(breaks.Data) != 1 || breaks.Data[0].Resolution != "write_off" || breaks.Data[0].Note != "checked by phone" {
			t.Fatalf("resolved breaks %+v", breaks.Data)
		}
		// The console's reconcile form with a file.
		var mp bytes.Buffer
		w := multipart.NewWriter(&mp)
		w.WriteField("_csrf", mustCSRF(t, op))
		w.WriteField("date", today.String())
		w.WriteField("provider", "mockpay")
		fw, _ := w.CreateFormFile("file", "statement.csv")
		fw.Write(file)
		w.Close()
		preq, _ := http.NewRequest("POST", ta.URL+"/console/settlements/reconcile", &mp)
		preq.Header.Set("Content-Type", w.FormDataContentType())
		presp, err := op.c.Do(preq)
		if err != nil {
			t.Fatal(err)
		}
		presp.Body.Close()
		if presp.StatusCode != http.StatusSeeOther {
			t.Fatalf("console reconcile: %d", presp.StatusCode)
		}
	})
}

// mustCSRF reads a fresh CSRF token from the console.
func mustCSRF(t testing.TB, p *settlePage) string {
	t.Helper()
	p.get("/console/settlements")
	return p.csrf
}
