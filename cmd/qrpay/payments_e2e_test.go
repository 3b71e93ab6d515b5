package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// pay creates a dynamic code and pays it with the mock wallet, returning the payment once it
// has reached one of the wanted statuses.
func pay(t *testing.T, ta *testApp, order string, amount int64, want ...string) *client.Payment {
	t.Helper()
	p, err := ta.Client.CreatePayment(context.Background(), client.PaymentParams{MerchantOrderNo: order, Amount: amount,
		Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "p-" + order}, nil)
	return waitStatus(t, ta.Client, p.ID, 30*time.Second, want...)
}

func paymentCode(t *testing.T, ta *testApp, channel string) string {
	t.Helper()
	var out struct {
		AuthCode string `json:"auth_code"`
	}
	if st := post(t, ta.URL+"/mockpay/wallet/payment-code", map[string]string{"payer": "counter-customer", "channel": channel}, &out); st != 200 {
		t.Fatalf("payment code: %d", st)
	}
	return out.AuthCode
}

func TestIdempotency(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	params := client.PaymentParams{MerchantOrderNo: "idem-1", Amount: 1000, Currency: "CNY", Scene: "qr"}
	a, err := ta.Client.CreatePayment(ctx, params, client.IdempotencyKey("k-1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ta.Client.CreatePayment(ctx, params, client.IdempotencyKey("k-1"))
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("the replay differs:\n%s\n%s", ja, jb)
	}
	params.Amount = 999
	_, err = ta.Client.CreatePayment(ctx, params, client.IdempotencyKey("k-1"))
	apiError(t, err, 422, "idempotency_conflict", "")
	// The same order number without the key is a duplicate.
	params.Amount = 1000
	_, err = ta.Client.CreatePayment(ctx, params)
	apiError(t, err, 409, "conflict", "merchant_order_no")

	// Concurrent requests with one key: one payment, the others the stored answer or 409.
	var wg sync.WaitGroup
	ids := make(chan string, 10)
	codes := make(chan int, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "idem-2", Amount: 500, Currency: "CNY", Scene: "qr"}, client.IdempotencyKey("k-2"))
			if err != nil {
				var e *client.Error
				if !errorsAs(err, &e) {
					t.Error(err)
					return
				}
				codes <- e.Status
				return
			}
			ids <- p.ID
		}()
	}
	wg.Wait()
	close(ids)
	close(codes)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	for c := range codes {
		if c != 409 {
			t.Errorf("a concurrent duplicate answered %d, want 409", c)
		}
	}
	if len(distinct) != 1 {
		t.Fatalf("one Idempotency-Key made %d payments", len(distinct))
	}
	list, err := ta.Client.Payments(ctx, client.ListParams{MerchantOrderNo: "idem-2"})
	if err != nil || len(list.Data) != 1 {
		t.Fatalf("payments with order idem-2: %v %v", list, err)
	}
}

func TestListAndPagination(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	var made []string
	for i := 0; i < 7; i++ {
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: fmt.Sprintf("list-%d", i), Amount: int64(100 + i), Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, p.ID)
	}
	var seen []string
	after := ""
	for page := 0; ; page++ {
		l, err := ta.Client.Payments(ctx, client.ListParams{Limit: 3, StartingAfter: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Data {
			seen = append(seen, p.ID)
			after = p.ID
		}
		if !l.HasMore {
			break
		}
		if page > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 7 {
		t.Fatalf("pages held %d payments, want 7", len(seen))
	}
	for i := range seen {
		if seen[i] != made[len(made)-1-i] {
			t.Fatalf("page order %v, want newest first %v", seen, made)
		}
	}
	l, err := ta.Client.Payments(ctx, client.ListParams{Status: "succeeded"})
	if err != nil || len(l.Data) != 0 {
		t.Fatalf("succeeded filter: %v %v", l, err)
	}
	_, err = ta.Client.Payments(ctx, client.ListParams{Status: "paid"})
	apiError(t, err, 400, "invalid", "status")
	var raw []byte
	err = ta.Client.Do(ctx, "GET", "/v1/payments?limit=1000", nil, &raw)
	apiError(t, err, 400, "invalid", "limit")
	// Filters are parameters, never SQL.
	for _, inj := range []string{"' OR '1'='1", "x'; DROP TABLE payments; --", "%", "_"} {
		l, err := ta.Client.Payments(ctx, client.ListParams{MerchantOrderNo: inj})
		if err != nil || len(l.Data) != 0 {
			t.Fatalf("merchant_order_no=%q: %v %v", inj, l, err)
		}
	}
}

func TestCloseAndRefundRules(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	paid := pay(t, ta, "rules-1", 1000, "succeeded")
	_, err := ta.Client.ClosePayment(ctx, paid.ID)
	apiError(t, err, 422, "invalid_state", "")

	open, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "rules-2", Amount: 500, Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ta.Client.CreateRefund(ctx, open.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "r-open"})
	apiError(t, err, 422, "invalid_state", "")
	closed, err := ta.Client.ClosePayment(ctx, open.ID)
	if err != nil || closed.Status != "closed" {
		t.Fatalf("close: %+v %v", closed, err)
	}
	again, err := ta.Client.ClosePayment(ctx, open.ID)
	if err != nil || again.Status != "closed" {
		t.Fatalf("closing twice: %+v %v", again, err)
	}
	_, err = ta.Client.CreateRefund(ctx, open.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "r-closed"})
	apiError(t, err, 422, "invalid_state", "")
	// The closed code can no longer be paid.
	if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": open.QR.Payload, "payer": "x"}, nil); st == 200 {
		t.Fatal("the wallet paid a closed code")
	}

	r1, err := ta.Client.CreateRefund(ctx, paid.ID, client.RefundParams{Amount: 300, MerchantRefundNo: "r-1", Reason: "少了一碗"})
	if err != nil || r1.Status != "succeeded" {
		t.Fatalf("refund: %+v %v", r1, err)
	}
	_, err = ta.Client.CreateRefund(ctx, paid.ID, client.RefundParams{Amount: 701, MerchantRefundNo: "r-2"})
	apiError(t, err, 422, "amount_exceeds_refundable", "")
	_, err = ta.Client.CreateRefund(ctx, paid.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "r-1"})
	apiError(t, err, 409, "conflict", "merchant_refund_no")
	for _, bad := range []client.RefundParams{{Amount: 0, MerchantRefundNo: "z"}, {Amount: -1, MerchantRefundNo: "z"}, {Amount: 1, MerchantRefundNo: ""}} {
		_, err = ta.Client.CreateRefund(ctx, paid.ID, bad)
		apiError(t, err, 400, "invalid", "")
	}
	r2, err := ta.Client.CreateRefund(ctx, paid.ID, client.RefundParams{Amount: 700, MerchantRefundNo: "r-3"})
	if err != nil || r2.Status != "succeeded" {
		t.Fatalf("the rest: %+v %v", r2, err)
	}
	got, _ := ta.Client.Payment(ctx, paid.ID)
	if got.RefundedAmount != 1000 {
		t.Fatalf("refunded %d, want 1000", got.RefundedAmount)
	}
	if r, err := ta.Client.Refund(ctx, r1.ID); err != nil || r.Amount != 300 || r.PaymentID != paid.ID {
		t.Fatalf("get refund: %+v %v", r, err)
	}
	_, err = ta.Client.Refund(ctx, "re_doesnotexist")
	apiError(t, err, 404, "not_found", "")
}

// TestConcurrentRefunds: 50 refunds at once never refund more than was paid, on either database,
// and on PostgreSQL not even when they come through two processes.
func TestConcurrentRefunds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		clients := []*client.Client{ta.Client}
		if dialect == store.Postgres {
			// A second process on the same database, taking the same merchant's requests.
			other := startApp(t, dialect, appOptions{databaseURL: ta.DatabaseURL})
			clients = append(clients, client.New(other.URL, ta.Demo.APIKeyID, ta.Demo.APISecret))
		}
		ctx := context.Background()
		p := pay(t, ta, "conc-1", 1000, "succeeded")
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, refused := 0, 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := clients[i%len(clients)]
				_, err := c.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 70, MerchantRefundNo: fmt.Sprintf("conc-%d", i)})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					accepted++
					return
				}
				var e *client.Error
				if errorsAs(err, &e) && e.Code == "amount_exceeds_refundable" {
					refused++
					return
				}
				t.Errorf("refund %d: %v", i, err)
			}(i)
		}
		wg.Wait()
		got, err := ta.Client.Payment(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if accepted != 14 || refused != 36 || got.RefundedAmount != 14*70 {
			t.Fatalf("accepted %d, refused %d, refunded %d; want 14, 36 and 980", accepted, refused, got.RefundedAmount)
		}
	})
}

func TestMockBehavioursThroughTheAPI(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{passwordDelay: 2 * time.Second})
	ctx := context.Background()
	sink, _ := subscribeSink(t, ta.Client)

	t.Run("01Declined", func(t *testing.T) {
		p := pay(t, ta, "b01", 1001, "failed")
		sink.waitEvent(t, "payment.failed", p.ID, 20*time.Second)
	})
	t.Run("02Password", func(t *testing.T) {
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "b02", Amount: 1002, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		var w struct{ Status string }
		post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "b02"}, &w)
		if w.Status != "pending" {
			t.Fatalf("wallet says %q, want pending while the password is typed", w.Status)
		}
		waitStatus(t, ta.Client, p.ID, 30*time.Second, "succeeded")
	})
	t.Run("04DuplicateCallback", func(t *testing.T) {
		p := pay(t, ta, "b04", 1004, "succeeded")
		sink.waitEvent(t, "payment.succeeded", p.ID, 20*time.Second)
		time.Sleep(time.Second) // the second callback comes right after the first
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
			t.Fatalf("%d payment.succeeded events, want 1", n)
		}
	})
	t.Run("05LateSuccess", func(t *testing.T) {
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "b05", Amount: 1005, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "b05"}, nil)
		if c, err := ta.Client.ClosePayment(ctx, p.ID); err != nil || c.Status != "closed" {
			t.Fatalf("close: %+v %v", c, err)
		}
		got := waitStatus(t, ta.Client, p.ID, 30*time.Second, "succeeded")
		if len(got.Flags) != 1 || got.Flags[0] != "late_success" {
			t.Fatalf("flags %v, want late_success", got.Flags)
		}
		sink.waitEvent(t, "payment.late_succeeded", p.ID, 20*time.Second)
	})
	t.Run("06RefundFails", func(t *testing.T) {
		p := pay(t, ta, "b06", 1006, "succeeded")
		r, err := ta.Client.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 1006, MerchantRefundNo: "b06-r"})
		if err != nil || r.Status != "failed" {
			t.Fatalf("refund: %+v %v", r, err)
		}
		got, _ := ta.Client.Payment(ctx, p.ID)
		if got.RefundedAmount != 0 {
			t.Fatalf("a failed refund counted: %d", got.RefundedAmount)
		}
		sink.waitEvent(t, "refund.failed", r.ID, 20*time.Second)
		// The hold is released: a later refund attempt is judged on the full amount.
		if _, err := ta.Client.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 1006, MerchantRefundNo: "b06-r2"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("07FirstTry5xx", func(t *testing.T) {
		pay(t, ta, "b07", 1007, "succeeded")
	})
	t.Run("PaymentCodeAtOnce", func(t *testing.T) {
		for _, ch := range []string{"wechat", "alipay", "unionpay"} {
			p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "code-" + ch, Amount: 888, Currency: "CNY",
				Scene: "code", AuthCode: paymentCode(t, ta, ch)})
			if err != nil || p.Status != "succeeded" || p.Channel != ch {
				t.Fatalf("%s payment code: %+v %v", ch, p, err)
			}
		}
		// A used code is refused by the provider: the payment fails.
		code := paymentCode(t, ta, "wechat")
		ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "code-once-1", Amount: 100, Currency: "CNY", Scene: "code", AuthCode: code})
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "code-once-2", Amount: 100, Currency: "CNY", Scene: "code", AuthCode: code})
		if err != nil || p.Status != "failed" {
			t.Fatalf("a reused payment code: %+v %v", p, err)
		}
	})
	t.Run("PaymentCodePasswordWaits", func(t *testing.T) {
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "code-02", Amount: 1002, Currency: "CNY",
			Scene: "code", AuthCode: paymentCode(t, ta, "alipay")})
		if err != nil || p.Status != "succeeded" {
			t.Fatalf("the till should get the final answer: %+v %v", p, err)
		}
	})
	t.Run("PaymentCodeNoWait", func(t *testing.T) {
		no := false
		var raw []byte
		err := ta.Client.Do(ctx, "POST", "/v1/payments", client.PaymentParams{MerchantOrderNo: "code-nowait", Amount: 1002, Currency: "CNY",
			Scene: "code", AuthCode: paymentCode(t, ta, "wechat"), Wait: &no}, &raw)
		if err != nil {
			t.Fatal(err)
		}
		var p client.Payment
		json.Unmarshal(raw, &p)
		if p.Status != "pending" {
			t.Fatalf("wait=false answered %s, want pending", p.Status)
		}
		waitStatus(t, ta.Client, p.ID, 30*time.Second, "succeeded")
	})
	t.Run("Resend", func(t *testing.T) {
		p := pay(t, ta, "resend-1", 1200, "succeeded")
		e := sink.waitEvent(t, "payment.succeeded", p.ID, 20*time.Second)
		sink.mu.Lock()
		before := len(sink.events)
		sink.mu.Unlock()
		if err := ta.Client.ResendEvent(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			sink.mu.Lock()
			n := len(sink.events)
			sink.mu.Unlock()
			if n > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the resent event never arrived")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// TestStickerPayments: the mock wallet opens a sticker with an amount, as a phone would, and
// pays; static codes take at most ¥500 a day from one payer; a forged sticker takes nothing.
func TestStickerPayments(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	var res map[string]any
	if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": ta.Demo.StickerURL, "payer": "sticker-payer", "amount": 30000, "channel": "wechat"}, &res); st != 200 || res["status"] != "paid" {
		t.Fatalf("sticker payment: %d %v", st, res)
	}
	p := waitStatus(t, ta.Client, res["payment_id"].(string), 20*time.Second, "succeeded")
	if p.Scene != "sticker" || p.Channel != "wechat" || p.Amount != 30000 || p.StoreID != ta.Demo.StoreID {
		t.Fatalf("sticker payment %+v", p)
	}
	// ¥300 today already: ¥250 more is over the level-D limit, ¥200 is not.
	st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": ta.Demo.StickerURL, "payer": "sticker-payer", "amount": 25000}, &res)
	if st != 422 || res["error"].(map[string]any)["code"] != "limit_exceeded" {
		t.Fatalf("over the limit: %d %v", st, res)
	}
	if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": ta.Demo.StickerURL, "payer": "sticker-payer", "amount": 20000}, &res); st != 200 {
		t.Fatalf("within the limit: %d %v", st, res)
	}
	if st := post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": ta.Demo.StickerURL, "payer": "another-payer", "amount": 50001}, &res); st != 422 {
		t.Fatalf("one payment over ¥500: %d %v", st, res)
	}
	forged := ta.Demo.StickerURL[:len(ta.Demo.StickerURL)-3] + "AAA"
	req, _ := http.NewRequest("POST", forged+"/pay", strings.NewReader(`{"amount":100}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("a forged sticker answered %d, want 401", resp.StatusCode)
	}
	// Scan verification knows the genuine sticker.
	sr, err := ta.Client.ScanText(ctx, ta.Demo.StickerURL)
	if err != nil || sr.Kind != "sticker" || sr.Genuine == nil || !*sr.Genuine || sr.MerchantID != ta.Demo.MerchantID {
		t.Fatalf("scan: %+v %v", sr, err)
	}
	sr, err = ta.Client.ScanText(ctx, forged)
	if err != nil || sr.Kind != "sticker" || sr.Genuine == nil || *sr.Genuine {
		t.Fatalf("scan of a forged sticker: %+v %v", sr, err)
	}
}

// TestHangingEndpointDoesNotDelayReversal: webhook deliveries have a queue and workers of their
// own. Here the one webhook worker waits on a merchant endpoint that never answers (10 s per
// attempt) with more deliveries queued behind it, and the one general worker must still run the
// sweep that reverses a payment-code payment past the counter's wait. In one shared queue the
// sweep would wait behind the deliveries for half a minute.
func TestHangingEndpointDoesNotDelayReversal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{counterWait: 3 * time.Second, mockTimeout: time.Second, sweepEvery: time.Second,
			extraArgs: []string{"--workers", "1", "--webhook-workers", "1"}})
		ctx := context.Background()
		release := make(chan struct{})
		hit := make(chan struct{}, 16)
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hit <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); hang.Close() })
		if _, err := ta.Client.CreateWebhookEndpoint(ctx, hang.URL); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			pay(t, ta, fmt.Sprintf("hang-%d-%s", i, dialect), 100, "succeeded")
		}
		select {
		case <-hit:
		case <-time.After(20 * time.Second):
			t.Fatal("the hanging endpoint was never called")
		}
		start := time.Now()
		no := false
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "hang-code-" + dialect, Amount: 1003,
			Currency: "CNY", Scene: "code", AuthCode: paymentCode(t, ta, "alipay"), Wait: &no})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != "created" && p.Status != "pending" {
			t.Fatalf("a payment code the provider does not answer, not waited for: %s, want created or pending", p.Status)
		}
		p = waitStatus(t, ta.Client, p.ID, 15*time.Second, "closed")
		if len(p.Flags) != 1 || p.Flags[0] != "reversed" {
			t.Fatalf("flags %v, want reversed", p.Flags)
		}
		t.Logf("reversed %s after creation, with the webhook worker stuck", time.Since(start).Round(time.Millisecond))
	})
}

// TestNoAnswerPaymentCode: the provider never answers a payment code (amount ending 03); the till
// still gets one final answer within the counter's wait, and the payment ends reversed and closed
// at the provider too.
func TestNoAnswerPaymentCode(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{counterWait: 4 * time.Second, mockTimeout: time.Second})
	ctx := context.Background()
	start := time.Now()
	p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "noans-api", Amount: 1003, Currency: "CNY",
		Scene: "code", AuthCode: paymentCode(t, ta, "wechat")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != "closed" || len(p.Flags) != 1 || p.Flags[0] != "reversed" {
		t.Fatalf("the till got %s %v, want closed and reversed", p.Status, p.Flags)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the till waited %s", took)
	}
	got, err := ta.App.db.MockTrade(ctx, p.ID)
	if err != nil || got.Status != "CLOSED" {
		t.Fatalf("the provider's trade: %+v %v", got, err)
	}
}
