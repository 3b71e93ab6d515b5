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
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// attachSettlement gives a test app its settlement service as serve's wire does, unless wire
// did already.
func attachSettlement(t testing.TB, ta *testApp) *settlement.Service {
	t.Helper()
	if svc := ta.App.web.SettlementService(); svc != nil {
		return svc
	}
	zone := ta.App.gateway.Settings().Zone
	sf := settlementFlags{cutoff: "00:00", lookback: 48 * time.Hour, grace: 30 * time.Minute}
	cal, err := sf.calendar(zone)
	if err != nil {
		t.Fatal(err)
	}
	svc := newSettlementService(ta.App.db, ta.App.gateway, ta.App.merchants, cal, sf, ta.App.log)
	ta.App.web.UseSettlement(svc)
	return svc
}

// settleAdmin calls the operator API with the demo operator's token and decodes the answer.
func settleAdmin(t testing.TB, ta *testApp, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ta.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+ta.Demo.OperatorToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if b, ok := out.(*[]byte); ok {
			*b = raw
		} else if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// paidPayments makes payments of the amounts and pays them with the mock wallet.
func paidPayments(t testing.TB, ta *testApp, prefix string, amounts []int64) []*client.Payment {
	t.Helper()
	ctx := context.Background()
	var out []*client.Payment
	for i, a := range amounts {
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: fmt.Sprintf("%s-%d", prefix, i), Amount: a,
			Currency: "CNY", Description: "面", Scene: "qr", Channel: "mockpay"}, client.IdempotencyKey(fmt.Sprintf("%s-%d", prefix, i)))
		if err != nil {
			t.Fatal(err)
		}
		var paid struct {
			Status string `json:"status"`
		}
		if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "settle"}, &paid); st != 200 || paid.Status != "paid" {
			t.Fatalf("wallet: %d %+v", st, paid)
		}
		out = append(out, waitStatus(t, ta.Client, p.ID, 20*time.Second, "succeeded"))
	}
	return out
}

// TestSettlementEndToEnd: over real HTTP on both databases, paid payments and a refund are
// settled by the operator API as of the next morning; the merchant lists the day's batch with
// sums exact to the fen, a rerun answers the same, the lines file opens with a byte-order mark
// and the same sums, the merchant's webhook endpoint receives a signed settlement.created, the
// mock provider's statement fetched by API reconciles without a break, and the command line's
// settle and reconcile agree with the server.
func TestSettlementEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		svc := attachSettlement(t, ta)
		ctx := context.Background()
		sink, _ := subscribeSink(t, ta.Client)

		amounts := []int64{1000, 2599, 13, 777, 100000, 4242, 990, 11}
		paid := paidPayments(t, ta, "stl", amounts)
		if _, err := ta.Client.CreateRefund(ctx, paid[0].ID, client.RefundParams{Amount: 400, MerchantRefundNo: "stl-r1"}); err != nil {
			t.Fatal(err)
		}
		waitRefund(t, ta.Client, paid[0].ID)

		zone := svc.Settings().Zone
		today := settlement.DateOf(time.Now(), zone)
		asOf := today.AddDays(1).At(zone, 6*time.Hour).Format(time.RFC3339)
		var first settlement.RunObject
		if st := settleAdmin(t, ta, "POST", "/admin/v1/settlements/run", map[string]string{"date": today.String(), "as_of": asOf}, &first); st != 200 {
			t.Fatalf("run: %d %+v", st, first)
		}
		if len(first.Data) != 1 || first.Created != 1 || len(first.Settled) != 1 {
			t.Fatalf("run %+v", first)
		}
		var list1 []byte
		if err := ta.Client.Do(ctx, "GET", "/v1/settlements?date="+today.String(), nil, &list1); err != nil {
			t.Fatal(err)
		}
		var list struct {
			Object  string                   `json:"object"`
			Data    []settlement.BatchObject `json:"data"`
			HasMore bool                     `json:"has_more"`
		}
		if err := json.Unmarshal(list1, &list); err != nil || len(list.Data) != 1 {
			t.Fatalf("list %s: %v", list1, err)
		}
		b := list.Data[0]
		var gross, fees int64
		for _, p := range paid {
			gross += p.Amount
			fees += settlement.Fee(p.Amount, 38)
		}
		returned := settlement.ReturnedFee(settlement.Fee(1000, 38), 1000, 0, 400)
		if b.Gross != gross || b.Refunds != 400 || b.Fees != fees || b.ReturnedFees != returned ||
			b.Net != gross-400-fees+returned || b.Count != int64(len(paid))+1 || b.Mode != "test" || b.Status != "test" ||
			b.MerchantID != ta.Demo.MerchantID || b.Date != today.String() || len(b.Lines) != 1 || b.Lines[0].Channel != "mockpay" {
			t.Fatalf("batch %+v (gross %d fees %d returned %d)", b, gross, fees, returned)
		}
		// A rerun changes nothing.
		var rerun settlement.RunObject
		settleAdmin(t, ta, "POST", "/admin/v1/settlements/run", map[string]string{"date": today.String(), "as_of": asOf}, &rerun)
		var list2 []byte
		ta.Client.Do(ctx, "GET", "/v1/settlements?date="+today.String(), nil, &list2)
		if rerun.Created != 0 || len(rerun.Settled) != 0 || !bytes.Equal(list1, list2) {
			t.Fatalf("rerun %+v\n%s\n%s", rerun, list1, list2)
		}
		one, err := ta.Client.Settlement(ctx, b.ID)
		if err != nil || one.Net != b.Net || one.Gross != b.Gross || one.Payable != b.Payable || len(one.Lines) != 1 ||
			one.Lines[0].Net != b.Lines[0].Net || one.Date != b.Date {
			t.Fatalf("get batch: %+v %v", one, err)
		}
		typed, err := ta.Client.Settlements(ctx, client.SettlementParams{Date: today.String()})
		if err != nil || len(typed.Data) != 1 || typed.Data[0].ID != b.ID || typed.HasMore {
			t.Fatalf("client list: %+v %v", typed, err)
		}
		if other, err := ta.Client.Settlements(ctx, client.SettlementParams{Date: "2001-01-01"}); err != nil || len(other.Data) != 0 {
			t.Fatalf("another day: %+v %v", other, err)
		}
		csv, err := ta.Client.SettlementLinesCSV(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		lf, err := settlement.ReadLinesCSV(bytes.NewReader(csv))
		if err != nil || !bytes.HasPrefix(csv, []byte("\xef\xbb\xbf")) || lf.Total.Gross != b.Gross || lf.Total.Net != b.Net {
			t.Fatalf("lines.csv %v:\n%s", err, csv)
		}
		// Another merchant's (or another mode's) batch is not found.
		if err := ta.Client.Do(ctx, "GET", "/v1/settlements/stl_19990101_x_cny", nil, nil); !isCode(err, "not_found") {
			t.Fatalf("unknown batch: %v", err)
		}
		ev := sink.waitEvent(t, "settlement.created", b.ID, 30*time.Second)
		var obj settlement.BatchObject
		if json.Unmarshal(ev.Data.Object, &obj); obj.Net != b.Net || obj.Gross != b.Gross {
			t.Fatalf("settlement.created carries %+v", obj)
		}

		// The mock provider's statement of the day, fetched through its API, matches.
		var rec settlement.Reconciliation
		if st := settleAdmin(t, ta, "POST", "/admin/v1/reconciliations", map[string]string{"provider": "mockpay", "date": today.String()}, &rec); st != 200 {
			t.Fatalf("reconcile: %d %+v", st, rec)
		}
		if rec.Lines != len(paid)+1 || rec.Matched != rec.Lines || rec.OpenBreaks != 0 {
			t.Fatalf("reconciliation %+v", rec)
		}
		var ov struct {
			Date    string `json:"date"`
			Settled bool   `json:"settled"`
			Batches []any  `json:"batches"`
		}
		if st := settleAdmin(t, ta, "GET", "/admin/v1/settlements/overview?date="+today.String(), nil, &ov); st != 200 || !ov.Settled || len(ov.Batches) != 1 {
			t.Fatalf("overview %d %+v", st, ov)
		}
		// A test batch is never paid out.
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if st := settleAdmin(t, ta, "POST", "/admin/v1/settlements/"+b.ID+"/paid", map[string]string{"reference": "X"}, &e); st != 422 || e.Error.Code != "invalid_state" {
			t.Fatalf("paying a test batch: %d %+v", st, e)
		}
		if st := settleAdmin(t, ta, "POST", "/admin/v1/settlements/run", map[string]string{"date": "2026-02-30"}, &e); st != 400 {
			t.Fatalf("a bad date: %d", st)
		}

		// The command line on the same database: settle answers the same batch, reconcile
		// through the serving node's mock provider finds nothing new.
		dbArgs := []string{"--data-dir", ta.DataDir, "--log-level", "error"}
		if dialect == "postgres" {
			dbArgs = append(dbArgs, "--database-url", ta.DatabaseURL)
		}
		var out, errOut bytes.Buffer
		if err := run(ctx, append([]string{"settle", "--date", today.String(), "--json"}, dbArgs...), &out, &errOut); err != nil {
			t.Fatalf("qrpay settle: %v\n%s", err, errOut.String())
		}
		var cli settlement.RunObject
		if err := json.Unmarshal(out.Bytes(), &cli); err != nil || len(cli.Data) != 1 || cli.Data[0].Net != b.Net || cli.Created != 0 {
			t.Fatalf("qrpay settle printed %s (%v)", out.String(), err)
		}
		out.Reset()
		if err := run(ctx, append([]string{"reconcile", "--date", today.String(), "--target", ta.URL + "/mockpay", "--json"}, dbArgs...), &out, &errOut); err != nil {
			t.Fatalf("qrpay reconcile: %v\n%s", err, errOut.String())
		}
		var crec settlement.Reconciliation
		if err := json.Unmarshal(out.Bytes(), &crec); err != nil || crec.Lines != rec.Lines || crec.OpenBreaks != 0 {
			t.Fatalf("qrpay reconcile printed %s (%v)", out.String(), err)
		}
		// The mock provider's statement file, imported from disk, agrees too.
		var file []byte
		resp, err := http.Get(ta.URL + "/mockpay/statements/" + today.String() + ".csv")
		if err == nil {
			file, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		path := filepath.Join(t.TempDir(), "statement.csv")
		os.WriteFile(path, file, 0o600)
		out.Reset()
		if err := run(ctx, append([]string{"reconcile", "--date", today.String(), "--file", path, "--json"}, dbArgs...), &out, &errOut); err != nil {
			t.Fatalf("qrpay reconcile --file: %v\n%s", err, errOut.String())
		}
		if err := json.Unmarshal(out.Bytes(), &crec); err != nil || crec.Lines != rec.Lines || crec.OpenBreaks != 0 {
			t.Fatalf("qrpay reconcile --file printed %s (%v)", out.String(), err)
		}
	})
}

// TestSettleCommandLine: usage mistakes exit 2, a day not over and a malformed statement file
// exit 1 with one line, and nothing is recorded.
func TestSettleCommandLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"settle"},
		{"settle", "--date", "2026-13-01"},
		{"settle", "--date", "2026-03-01", "--as-of", "yesterday"},
		{"settle", "--date", "2026-03-01", "--cutoff", "25:00"},
		{"settle", "--date", "2026-03-01", "extra"},
		{"reconcile"},
		{"reconcile", "--date", "2026-03-01", "--provider", "paypal"},
	} {
		var out, errOut bytes.Buffer
		err := run(ctx, append(args, "--data-dir", dir), &out, &errOut)
		if code := exitCode(err, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d (%v), want 2", args, code, err)
		}
	}
	tomorrow := settlement.DateOf(time.Now(), time.UTC).AddDays(2).String()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"settle", "--date", tomorrow, "--data-dir", dir, "--log-level", "error"}, &out, &errOut)
	if code := exitCode(err, &errOut); code != 1 || !strings.Contains(errOut.String(), "not over") {
		t.Errorf("a day not over: exit %d: %s", code, errOut.String())
	}
	for name, file := range map[string]string{
		"alipay":   "#支付宝业务明细查询\n支付宝交易号,商户订单号\n2088,x\n",
		"wechat":   "交易时间,公众账号ID\n`2026-03-01 10:00:00,`wx\n",
		"mockpay":  "type,trade_no\n",
		"unionpay": "garbage\x00",
	} {
		path := filepath.Join(t.TempDir(), name+".csv")
		os.WriteFile(path, []byte(file), 0o600)
		errOut.Reset()
		err := run(ctx, []string{"reconcile", "--date", "2026-03-01", "--provider", name, "--file", path, "--data-dir", dir,
			"--log-level", "error"}, &out, &errOut)
		if code := exitCode(err, &errOut); code != 1 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
			t.Errorf("%s malformed: exit %d: %q", name, code, errOut.String())
		}
	}
	db, err := (&dbFlags{dataDir: dir}).open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.LastSettledDay(ctx); !qrpay.IsCode(err, qrpay.ENOTFOUND) {
		t.Fatalf("a day was settled: %v", err)
	}
	if bs, _, err := db.FindBreaks(ctx, settlement.BreakFilter{}); err != nil || len(bs) != 0 {
		t.Fatalf("breaks %v %v", bs, err)
	}
}

// waitRefund waits until a payment's refunds are final.
func waitRefund(t testing.TB, c *client.Client, paymentID string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p, err := c.Payment(context.Background(), paymentID)
		if err != nil {
			t.Fatal(err)
		}
		if p.RefundedAmount > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("payment %s was not refunded", paymentID)
}

// isCode reports whether err is an API error with the code.
func isCode(err error, code string) bool {
	e, ok := err.(*client.Error)
	return ok && e.Code == code
}

// TestDailySettlementJob: the periodic job serve registers settles the last finished day by
// itself, through the job queue, on both databases.
func TestDailySettlementJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := storetest.Open(t, dialect, nil)
		zone, _ := time.LoadLocation("Asia/Shanghai")
		sf := settlementFlags{cutoff: "00:00", lookback: 48 * time.Hour, grace: time.Nanosecond}
		cal, err := sf.calendar(zone)
		if err != nil {
			t.Fatal(err)
		}
		gw := &gateway.Service{Store: db.Gateway(), Config: gateway.Config{Zone: zone}}
		svc := newSettlementService(db, gw, nil, cal, sf, nil)
		settlementJobs(db, svc)
		if err := db.StartJobs(ctx, store.JobsConfig{PollInterval: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		defer db.StopJobs(ctx)
		want := svc.Today().AddDays(-1)
		deadline := time.Now().Add(60 * time.Second)
		for {
			last, err := db.LastSettledDay(ctx)
			if err == nil && last == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the daily job did not settle %s: %v %v", want, last, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
