package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/store/storetest"
)

// The reliability tests (several nodes, faults) drive traffic, wait for every payment to reach a
// final state, and then reconcile three views that must agree: the payments and refunds qrpay
// shows, the events it wrote (and the webhooks a merchant received), and the mock provider's
// statement of what it charged.

// finalStatus reports whether a payment status is final.
func finalStatus(s string) bool {
	switch s {
	case "succeeded", "failed", "closed", "expired":
		return true
	}
	return false
}

// traffic records what the load generator was told.
type traffic struct {
	mu       sync.Mutex
	accepted map[string]string // payment id -> merchant order no, for every 2xx
	answered map[string]bool   // order nos that got a 2xx
	orders   []string          // every order no tried
	refunds  map[string]bool   // refund ids that got a 2xx
	errors   map[string]int    // failures by kind
	seq      atomic.Int64
	prefix   string
}

func newTraffic(prefix string) *traffic {
	return &traffic{accepted: map[string]string{}, answered: map[string]bool{}, refunds: map[string]bool{},
		errors: map[string]int{}, prefix: prefix}
}

// order returns a new merchant order number and records that it was tried.
func (tr *traffic) order() string {
	o := fmt.Sprintf("%s-%05d", tr.prefix, tr.seq.Add(1))
	tr.mu.Lock()
	tr.orders = append(tr.orders, o)
	tr.mu.Unlock()
	return o
}

// create sends a payment request for an order and records the answer.
func (tr *traffic) create(c *client.Client, order string, params client.PaymentParams) *client.Payment {
	p, err := c.CreatePayment(context.Background(), params)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err != nil {
		tr.errors[errKind(err)]++
		return nil
	}
	tr.accepted[p.ID] = order
	tr.answered[order] = true
	return p
}

// refund records the answer to a refund request.
func (tr *traffic) refund(r *client.Refund, err error) *client.Refund {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if err != nil {
		tr.errors[errKind(err)]++
		return nil
	}
	tr.refunds[r.ID] = true
	return r
}

// fail records a failure of another request.
func (tr *traffic) fail(kind string) {
	tr.mu.Lock()
	tr.errors[kind]++
	tr.mu.Unlock()
}

func (tr *traffic) errorSummary() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var parts []string
	for k, n := range tr.errors {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// errKind names an error for the summary: the API's code, or the transport's failure.
func errKind(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("%d_%s", ce.Status, ce.Code)
	}
	return "transport"
}

// walletPay pays a code with the mock wallet of a node; it returns the wallet's status and the
// HTTP status (0 when the node did not answer).
func walletPay(base, qr, payer string) (string, int) {
	b, _ := json.Marshal(map[string]any{"qr": qr, "payer": payer})
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Post(base+"/mockpay/wallet/pay", "application/json", bytes.NewReader(b))
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Status, resp.StatusCode
}

// walletCode asks a node's mock wallet for a payment code, or "" when it did not answer.
func walletCode(base, payer, channel string) string {
	b, _ := json.Marshal(map[string]any{"payer": payer, "channel": channel})
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post(base+"/mockpay/wallet/payment-code", "application/json", bytes.NewReader(b))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var out struct {
		AuthCode string `json:"auth_code"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.AuthCode
}

// allPayments lists every payment of the client's merchant.
func allPayments(ctx context.Context, c *client.Client) ([]client.Payment, error) {
	var out []client.Payment
	after := ""
	for {
		l, err := c.Payments(ctx, client.ListParams{Limit: 100, StartingAfter: after})
		if err != nil {
			return nil, err
		}
		out = append(out, l.Data...)
		if !l.HasMore || len(l.Data) == 0 {
			return out, nil
		}
		after = l.Data[len(l.Data)-1].ID
	}
}

// allEvents lists every event of the client's merchant.
func allEvents(ctx context.Context, c *client.Client) ([]client.Event, error) {
	var out []client.Event
	after := ""
	for {
		l, err := c.Events(ctx, client.ListParams{Limit: 100, StartingAfter: after})
		if err != nil {
			return nil, err
		}
		out = append(out, l.Data...)
		if !l.HasMore || len(l.Data) == 0 {
			return out, nil
		}
		after = l.Data[len(l.Data)-1].ID
	}
}

// refundsOf lists a payment's refunds.
func refundsOf(ctx context.Context, c *client.Client, paymentID string) ([]client.Refund, error) {
	var out struct {
		Data []client.Refund `json:"data"`
	}
	err := c.Do(ctx, http.MethodGet, "/v1/payments/"+paymentID+"/refunds", nil, &out)
	return out.Data, err
}

// waitAllFinal polls until every payment of the merchant is final, and returns them. Payments
// still open at the deadline are returned as they are (the reconciliation reports them).
func waitAllFinal(t testing.TB, c *client.Client, timeout time.Duration) []client.Payment {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		ps, err := allPayments(ctx, c)
		open := 0
		if err == nil {
			for _, p := range ps {
				if !finalStatus(p.Status) {
					open++
				}
			}
			if open == 0 && refundsFinal(ctx, c) {
				return ps
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("list payments: %v", err)
			}
			t.Errorf("%d payments (or some refunds) still open after %s", open, timeout)
			return ps
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// refundsFinal reports whether every refund has its outcome: each refund.created event has a
// refund.succeeded or refund.failed one.
func refundsFinal(ctx context.Context, c *client.Client) bool {
	evs, err := allEvents(ctx, c)
	if err != nil {
		return false
	}
	open := map[string]int{}
	for _, e := range evs {
		var obj struct {
			ID string `json:"id"`
		}
		json.Unmarshal(e.Data.Object, &obj)
		switch e.Type {
		case "refund.created":
			open[obj.ID]++
		case "refund.succeeded", "refund.failed":
			open[obj.ID]--
		}
	}
	for _, n := range open {
		if n > 0 {
			return false
		}
	}
	return true
}

// statementRow is one line of the mock provider's statement file.
type statementRow struct {
	Type, TradeNo, OutTradeNo, OutRefundNo, Currency, Status, At string
	Amount                                                       int64
}

// providerStatement fetches the mock provider's statement files of every day (in its zone,
// Asia/Shanghai by default) from since to now.
func providerStatement(t testing.TB, base string, since time.Time) []statementRow {
	t.Helper()
	zone, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	var rows []statementRow
	seen := map[string]bool{}
	for d := since.Add(-time.Minute); !d.After(time.Now().Add(time.Minute)); d = d.Add(time.Hour) {
		date := d.In(zone).Format("2006-01-02")
		if seen[date] {
			continue
		}
		seen[date] = true
		resp, err := http.Get(base + "/mockpay/statements/" + date + ".csv")
		if err != nil {
			t.Fatalf("statement %s: %v", date, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("statement %s: %d %s", date, resp.StatusCode, body)
		}
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("statement %s does not read: %v", date, err)
		}
		for _, r := range recs[1:] {
			amount, err := strconv.ParseInt(r[4], 10, 64)
			if err != nil {
				t.Fatalf("statement %s: amount %q", date, r[4])
			}
			rows = append(rows, statementRow{Type: r[0], TradeNo: r[1], OutTradeNo: r[2], OutRefundNo: r[3], Amount: amount,
				Currency: r[5], Status: r[6], At: r[7]})
		}
	}
	return rows
}

// reconciliation is what reconcile counted.
type reconciliation struct {
	Payments, Accepted, Succeeded, Failed, Closed, Expired, Reversed, LateSucceeded, Open int
	Lost, Doubled, Mismatched                                                             int
	Refunds, RefundsSucceeded, RefundsFailed, RefundsOpen                                 int
	RefundedAmount                                                                        int64
	ProviderPaid, ProviderReversed, ProviderRefunds                                       int
	Events, WebhookEvents, WebhooksMissing, WebhookReceipts                               int
}

func (r reconciliation) String() string {
	return fmt.Sprintf("payments=%d accepted=%d succeeded=%d (late %d) failed=%d closed=%d (reversed %d) expired=%d open=%d | "+
		"lost=%d doubled=%d mismatched=%d | refunds=%d succeeded=%d failed=%d open=%d refunded=%d fen | "+
		"provider: paid=%d reversed=%d refunds=%d | events=%d webhook events=%d received=%d missing=%d",
		r.Payments, r.Accepted, r.Succeeded, r.LateSucceeded, r.Failed, r.Closed, r.Reversed, r.Expired, r.Open,
		r.Lost, r.Doubled, r.Mismatched, r.Refunds, r.RefundsSucceeded, r.RefundsFailed, r.RefundsOpen, r.RefundedAmount,
		r.ProviderPaid, r.ProviderReversed, r.ProviderRefunds, r.Events, r.WebhookEvents, r.WebhookReceipts, r.WebhooksMissing)
}

// reconcile checks, once every payment is final (see waitAllFinal), that:
//   - every payment the client got a 2xx for exists (nothing lost), and every payment is final;
//   - each state change happened once: one event per status a payment reached, one per refund
//     outcome;
//   - no payment was refunded beyond what was paid, and its refunded amount is its refunds' sum;
//   - the mock provider's statement agrees: what qrpay says succeeded was charged once, what the
//     provider charged and kept qrpay says succeeded, reversals match reversed payments, and
//     refunds match succeeded refunds;
//   - every event of a webhook type reached the sink (if given) at least once, within timeout.
//
// Failures are reported with t.Errorf; the counts are returned for the test's log.
func reconcile(t testing.TB, c *client.Client, statementBase string, tr *traffic, sink *webhookSink, since time.Time, timeout time.Duration) reconciliation {
	t.Helper()
	ctx := context.Background()
	var r reconciliation
	ps, err := allPayments(ctx, c)
	if err != nil {
		t.Fatalf("list payments: %v", err)
	}
	byID := map[string]client.Payment{}
	for _, p := range ps {
		byID[p.ID] = p
	}
	r.Payments = len(ps)
	tr.mu.Lock()
	r.Accepted = len(tr.accepted)
	for id, order := range tr.accepted {
		if _, ok := byID[id]; !ok {
			r.Lost++
			t.Errorf("payment %s (order %s) was accepted but does not exist", id, order)
		}
	}
	acceptedRefunds := map[string]bool{}
	for id := range tr.refunds {
		acceptedRefunds[id] = true
	}
	tr.mu.Unlock()

	evs, err := allEvents(ctx, c)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	r.Events = len(evs)
	count := map[string]int{} // type + " " + object id
	for _, e := range evs {
		var obj struct {
			ID string `json:"id"`
		}
		json.Unmarshal(e.Data.Object, &obj)
		count[e.Type+" "+obj.ID]++
	}

	refunds := map[string]client.Refund{}
	for _, p := range ps {
		has := func(flag string) bool {
			for _, f := range p.Flags {
				if f == flag {
					return true
				}
			}
			return false
		}
		ev := func(typ string) int { return count[typ+" "+p.ID] }
		want := map[string]int{"payment.succeeded": 0, "payment.late_succeeded": 0, "payment.failed": 0,
			"payment.closed": 0, "payment.expired": 0, "payment.created": 1}
		switch p.Status {
		case "succeeded":
			r.Succeeded++
			if has("late_success") {
				r.LateSucceeded++
				want["payment.late_succeeded"] = 1
				// It was closed or expired first.
				want["payment.closed"], want["payment.expired"] = ev("payment.closed"), ev("payment.expired")
				if ev("payment.closed")+ev("payment.expired") != 1 {
					t.Errorf("late success %s: %d closed and %d expired events, want one of them", p.ID, ev("payment.closed"), ev("payment.expired"))
					r.Doubled++
				}
			} else {
				want["payment.succeeded"] = 1
			}
		case "failed":
			r.Failed++
			want["payment.failed"] = 1
		case "closed":
			r.Closed++
			if has("reversed") {
				r.Reversed++
			}
			want["payment.closed"] = 1
		case "expired":
			r.Expired++
			want["payment.expired"] = 1
		default:
			r.Open++
			t.Errorf("payment %s (%s, %d fen) is still %s", p.ID, p.Scene, p.Amount, p.Status)
			continue
		}
		for typ, n := range want {
			if got := ev(typ); got != n {
				t.Errorf("payment %s (%s, %d fen, %s, flags %v): %d %s events, want %d", p.ID, p.Scene, p.Amount, p.Status, p.Flags, got, typ, n)
				if got > n {
					r.Doubled++
				} else {
					r.Mismatched++
				}
			}
		}
		if p.Status != "succeeded" {
			if p.RefundedAmount != 0 {
				t.Errorf("payment %s is %s but refunded %d", p.ID, p.Status, p.RefundedAmount)
			}
			continue
		}
		rs, err := refundsOf(ctx, c, p.ID)
		if err != nil {
			t.Fatalf("refunds of %s: %v", p.ID, err)
		}
		var sum int64
		for _, rf := range rs {
			refunds[rf.ID] = rf
			r.Refunds++
			switch rf.Status {
			case "succeeded":
				r.RefundsSucceeded++
				sum += rf.Amount
				if n := count["refund.succeeded "+rf.ID]; n != 1 {
					t.Errorf("refund %s: %d refund.succeeded events, want 1", rf.ID, n)
					r.Doubled++
				}
			case "failed":
				r.RefundsFailed++
				if n := count["refund.failed "+rf.ID]; n != 1 {
					t.Errorf("refund %s: %d refund.failed events, want 1", rf.ID, n)
					r.Doubled++
				}
			default:
				r.RefundsOpen++
				t.Errorf("refund %s is still %s", rf.ID, rf.Status)
			}
		}
		r.RefundedAmount += sum
		if sum > p.Amount || sum != p.RefundedAmount {
			t.Errorf("payment %s of %d fen: refunds sum to %d, refunded_amount %d", p.ID, p.Amount, sum, p.RefundedAmount)
			r.Mismatched++
		}
	}
	for id := range acceptedRefunds {
		if _, ok := refunds[id]; !ok {
			t.Errorf("refund %s was accepted but is not listed", id)
			r.Lost++
		}
	}

	// The provider's view.
	if statementBase != "" {
		rows := providerStatement(t, statementBase, since)
		charged := map[string]int{}
		chargedAmount := map[string]int64{}
		reversed := map[string]bool{}
		providerRefunds := map[string]int{}
		refundedAt := map[string]int64{}
		for _, row := range rows {
			switch {
			case row.Type == "payment":
				charged[row.OutTradeNo]++
				chargedAmount[row.OutTradeNo] = row.Amount
			case row.OutRefundNo == "reversal":
				reversed[row.OutTradeNo] = true
				refundedAt[row.OutTradeNo] += row.Amount
			case row.Status == "SUCCESS":
				providerRefunds[row.OutRefundNo]++
				refundedAt[row.OutTradeNo] += row.Amount
				rf, ok := refunds[row.OutRefundNo]
				if !ok || rf.Status != "succeeded" || rf.Amount != row.Amount || rf.PaymentID != row.OutTradeNo {
					t.Errorf("the provider refunded %s (%d fen of %s) but qrpay shows %+v", row.OutRefundNo, row.Amount, row.OutTradeNo, rf)
					r.Mismatched++
				}
			}
		}
		r.ProviderReversed = len(reversed)
		r.ProviderRefunds = len(providerRefunds)
		for id, n := range charged {
			if n > 1 {
				t.Errorf("the provider charged %s %d times", id, n)
				r.Doubled++
			}
			p, ok := byID[id]
			switch {
			case !ok:
				t.Errorf("the provider charged %s, which qrpay does not know", id)
				r.Mismatched++
			case reversed[id]:
				if p.Status != "closed" && !reversedAfterSuccess(p) {
					t.Errorf("the provider reversed %s, which qrpay shows %s", id, p.Status)
					r.Mismatched++
				}
			default:
				r.ProviderPaid++
				if p.Status != "succeeded" || p.Amount != chargedAmount[id] {
					t.Errorf("the provider charged %s %d fen, which qrpay shows %s for %d fen", id, chargedAmount[id], p.Status, p.Amount)
					r.Mismatched++
				}
			}
			if ok && refundedAt[id] > p.Amount {
				t.Errorf("the provider returned %d fen of %s's %d", refundedAt[id], id, p.Amount)
				r.Mismatched++
			}
		}
		for _, p := range ps {
			if p.Status == "succeeded" && (charged[p.ID] == 0 || reversed[p.ID] && !reversedAfterSuccess(p)) {
				t.Errorf("qrpay shows %s succeeded but the provider did not keep the money", p.ID)
				r.Mismatched++
			}
		}
		for id, n := range providerRefunds {
			if n > 1 {
				t.Errorf("the provider refunded %s %d times", id, n)
				r.Doubled++
			}
		}
		for id, rf := range refunds {
			if rf.Status == "succeeded" && providerRefunds[id] == 0 && !(rf.ProviderRefundNo == "reversal" && reversed[rf.PaymentID]) {
				t.Errorf("refund %s succeeded in qrpay but is not on the provider's statement", id)
				r.Mismatched++
			}
		}
	}

	// Webhooks: every event of a webhook type reaches the merchant at least once.
	if sink != nil {
		want := map[string]bool{}
		for _, e := range evs {
			if gateway.WebhookTypes[e.Type] {
				want[e.ID] = true
			}
		}
		r.WebhookEvents = len(want)
		deadline := time.Now().Add(timeout)
		for {
			sink.mu.Lock()
			got := map[string]bool{}
			for _, e := range sink.events {
				got[e.ID] = true
			}
			r.WebhookReceipts = len(sink.events)
			sink.mu.Unlock()
			missing := 0
			for id := range want {
				if !got[id] {
					missing++
				}
			}
			r.WebhooksMissing = missing
			if missing == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.WebhooksMissing > 0 {
			t.Errorf("%d of %d webhook events never reached the merchant within %s", r.WebhooksMissing, r.WebhookEvents, timeout)
		}
	}
	return r
}

// reversedAfterSuccess reports whether a payment succeeded and was then reversed at the
// provider, which qrpay records as a full refund and the reversed flag.
func reversedAfterSuccess(p client.Payment) bool {
	if p.Status != "succeeded" || p.RefundedAmount != p.Amount {
		return false
	}
	for _, f := range p.Flags {
		if f == "reversed" {
			return true
		}
	}
	return false
}

// requirePostgres returns the PostgreSQL server for a test of several processes: it skips
// without QRPAY_TEST_DATABASE_URL, and fails under CI=true.
func requirePostgres(t *testing.T) string {
	t.Helper()
	return storetest.NewPostgres(t)
}

// amountWith returns a random amount of 10 to 99 yuan whose last two digits (in fen) are
// suffix: the mock provider's behaviour.
func amountWith(rng *rand.Rand, suffix int64) int64 {
	return (10+rng.Int64N(90))*100 + suffix
}

// TestSeveralNodes runs three `qrpay serve` processes on one PostgreSQL database and drives
// traffic through all of them at once while webhooks, expiry, polling and the mock provider's
// callbacks run on every node: dynamic codes created on one node and paid through another's
// wallet, payment codes (paid at once, after a password, never answered), closes, late
// successes, declines, refunds (failing ones, idempotent ones repeated on another node, and 30
// at once on one payment from all three nodes), a code paid from three wallets at once, a
// payment closed by three nodes at once, and codes left to expire. Then it reconciles.
func TestSeveralNodes(t *testing.T) {
	t.Parallel() // real processes and no t.Setenv: it may run beside the crash test
	dbURL := requirePostgres(t)
	begin := time.Now()
	common := []string{"--sweep-every", "1s", "--counter-wait", "8s", "--mockpay-password-delay", "2s",
		"--mockpay-timeout", "3s", "--workers", "8"}
	nodes := make([]*qrpayProcess, 3)
	for i := range nodes {
		nodes[i] = newProcess(t, fmt.Sprintf("node%d", i+1), procOptions{databaseURL: dbURL, demo: i == 0, args: common})
		nodes[i].start() // all three at once: they migrate (a no-op) and start their job queues together
	}
	for _, n := range nodes {
		n.waitReady(120 * time.Second)
	}
	t.Logf("three nodes ready in %s: %s %s %s", time.Since(begin).Round(time.Millisecond), nodes[0].URL, nodes[1].URL, nodes[2].URL)
	demo := nodes[0].demoFile()
	clients := make([]*client.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = n.client(demo.APIKeyID, demo.APISecret)
	}
	node := func(i int) (*qrpayProcess, *client.Client) { return nodes[i%3], clients[i%3] }
	ctx := context.Background()
	sink, _ := subscribeSink(t, clients[1])
	tr := newTraffic("mn")

	// Codes left to expire (the shortest life is 60 s): made first, checked last.
	var expiring []string
	for i := 0; i < 6; i++ {
		_, c := node(i)
		o := tr.order()
		if p := tr.create(c, o, client.PaymentParams{MerchantOrderNo: o, Amount: 2000 + int64(i*100),
			Currency: "CNY", Scene: "qr", ExpiresIn: 60}); p != nil {
			expiring = append(expiring, p.ID)
		}
	}
	expireBy := time.Now().Add(60 * time.Second)

	// The mixed load: each worker runs scenarios, each request on another node than the last.
	scenarios := []struct {
		name string
		run  func(rng *rand.Rand, i int)
	}{
		{"qr paid, refunded twice through two nodes", func(rng *rand.Rand, i int) {
			_, a := node(i)
			b, _ := node(i + 1)
			_, c := node(i + 2)
			suffix := []int64{0, 11, 4, 7}[rng.IntN(4)] // at once, at once, two callbacks, 5xx first
			o := tr.order()
			p := tr.create(a, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, suffix),
				Currency: "CNY", Scene: "qr", Description: "牛肉面"})
			if p == nil {
				return
			}
			if st, code := walletPay(b.URL, p.QR.Payload, "payer-"+o); code != 200 || st != "paid" {
				tr.fail(fmt.Sprintf("wallet_%d_%s", code, st))
				return
			}
			if got := pollFinal(c, p.ID, 60*time.Second); got == nil || got.Status != "succeeded" {
				return
			}
			key := client.IdempotencyKey("rf-" + o)
			params := client.RefundParams{Amount: p.Amount / 3, MerchantRefundNo: "r-" + o, Reason: "少一碗"}
			r1 := tr.refund(c.CreateRefund(ctx, p.ID, params, key))
			r2 := tr.refund(a.CreateRefund(ctx, p.ID, params, key)) // the same request again, another node
			if r1 != nil && r2 != nil && r1.ID != r2.ID {
				t.Errorf("one Idempotency-Key made refunds %s and %s", r1.ID, r2.ID)
			}
		}},
		{"qr declined", func(rng *rand.Rand, i int) {
			_, a := node(i)
			b, c := node(i + 1)
			o := tr.order()
			if p := tr.create(a, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 1), Currency: "CNY", Scene: "qr"}); p != nil {
				walletPay(b.URL, p.QR.Payload, "payer-"+o)
				pollFinal(c, p.ID, 60*time.Second)
			}
		}},
		{"qr paid after a password", func(rng *rand.Rand, i int) {
			_, a := node(i)
			b, _ := node(i + 2)
			o := tr.order()
			if p := tr.create(a, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 2), Currency: "CNY", Scene: "qr"}); p != nil {
				walletPay(b.URL, p.QR.Payload, "payer-"+o)
			}
		}},
		{"payment code paid at once", func(rng *rand.Rand, i int) {
			w, _ := node(i)
			_, c := node(i + 1)
			code := walletCode(w.URL, fmt.Sprintf("customer-%d", i), []string{"alipay", "wechat", "unionpay"}[rng.IntN(3)])
			o := tr.order()
			tr.create(c, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 0), Currency: "CNY",
				Scene: "code", AuthCode: code})
		}},
		{"payment code after a password, not waited for", func(rng *rand.Rand, i int) {
			w, _ := node(i + 2)
			_, c := node(i)
			no := false
			o := tr.order()
			tr.create(c, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 2), Currency: "CNY",
				Scene: "code", AuthCode: walletCode(w.URL, "customer-pw", "wechat"), Wait: &no})
		}},
		{"payment code never answered: reversed", func(rng *rand.Rand, i int) {
			w, _ := node(i + 1)
			_, c := node(i + 2)
			o := tr.order()
			tr.create(c, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 3), Currency: "CNY",
				Scene: "code", AuthCode: walletCode(w.URL, "customer-slow", "alipay")})
		}},
		{"closed on another node, then refused by the wallet", func(rng *rand.Rand, i int) {
			_, a := node(i)
			_, b := node(i + 1)
			w, _ := node(i + 2)
			o := tr.order()
			p := tr.create(a, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 0), Currency: "CNY", Scene: "qr"})
			if p == nil {
				return
			}
			if cp, err := b.ClosePayment(ctx, p.ID); err != nil || cp.Status != "closed" {
				t.Errorf("close %s: %+v %v", p.ID, cp, err)
			}
			if st, code := walletPay(w.URL, p.QR.Payload, "late-payer"); code == 200 {
				t.Errorf("a wallet paid closed payment %s: %s", p.ID, st)
			}
		}},
		{"late success after a close", func(rng *rand.Rand, i int) {
			_, a := node(i)
			w, _ := node(i + 1)
			_, c := node(i + 2)
			o := tr.order()
			p := tr.create(a, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 5), Currency: "CNY", Scene: "qr"})
			if p == nil {
				return
			}
			walletPay(w.URL, p.QR.Payload, "payer-"+o)
			c.ClosePayment(ctx, p.ID)
		}},
		{"refund refused by the provider", func(rng *rand.Rand, i int) {
			_, a := node(i + 1)
			w, c := node(i + 2)
			o := tr.order()
			p := tr.create(a, o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 6), Currency: "CNY", Scene: "qr"})
			if p == nil {
				return
			}
			walletPay(w.URL, p.QR.Payload, "payer-"+o)
			if got := pollFinal(c, p.ID, 60*time.Second); got != nil && got.Status == "succeeded" {
				if r := tr.refund(c.CreateRefund(ctx, p.ID, client.RefundParams{Amount: p.Amount, MerchantRefundNo: "r-" + o})); r != nil && r.Status != "failed" {
					t.Errorf("refund %s of a 06 payment is %s", r.ID, r.Status)
				}
			}
		}},
	}
	// Each worker runs every scenario at least once, and goes on while the codes left to
	// expire have more than 15 s to live.
	const workers = 6
	var wg sync.WaitGroup
	var rounds atomic.Int64
	loadStart := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 8))
			for k := 0; k < len(scenarios) || time.Until(expireBy) > 15*time.Second; k++ {
				i := w*1000 + k
				scenarios[(w+k)%len(scenarios)].run(rng, i)
				rounds.Add(1)
			}
		}(w)
	}

	// Meanwhile, races between the nodes on single objects.
	var concurrent struct {
		refundsOK, refundsRefused, wallets int
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(99, 1))
		// 30 refunds of 70 fen at once on a 1000 fen payment, through all three nodes.
		o := tr.order()
		p := tr.create(clients[0], o, client.PaymentParams{MerchantOrderNo: o, Amount: 1000, Currency: "CNY", Scene: "qr"})
		if p == nil {
			return
		}
		walletPay(nodes[1].URL, p.QR.Payload, "payer-"+o)
		if got := pollFinal(clients[2], p.ID, 60*time.Second); got == nil || got.Status != "succeeded" {
			t.Errorf("the payment for concurrent refunds did not succeed: %+v", got)
			return
		}
		var mu sync.Mutex
		var rwg sync.WaitGroup
		for j := 0; j < 30; j++ {
			rwg.Add(1)
			go func(j int) {
				defer rwg.Done()
				r, err := clients[j%3].CreateRefund(ctx, p.ID, client.RefundParams{Amount: 70, MerchantRefundNo: fmt.Sprintf("conc-%s-%d", o, j)})
				mu.Lock()
				defer mu.Unlock()
				var ce *client.Error
				switch {
				case err == nil:
					concurrent.refundsOK++
					tr.refund(r, nil)
				case errors.As(err, &ce) && ce.Code == "amount_exceeds_refundable":
					concurrent.refundsRefused++
				default:
					t.Errorf("concurrent refund %d: %v", j, err)
				}
			}(j)
		}
		rwg.Wait()
		if concurrent.refundsOK != 14 || concurrent.refundsRefused != 16 {
			t.Errorf("30 concurrent refunds of 70 on 1000: %d accepted, %d refused; want 14 and 16", concurrent.refundsOK, concurrent.refundsRefused)
		}

		// One code paid from three wallets at once: one payment.
		o = tr.order()
		p = tr.create(clients[1], o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 0), Currency: "CNY", Scene: "qr"})
		if p != nil {
			var pwg sync.WaitGroup
			for j := 0; j < 3; j++ {
				pwg.Add(1)
				go func(j int) {
					defer pwg.Done()
					if st, code := walletPay(nodes[j].URL, p.QR.Payload, fmt.Sprintf("wallet-%d", j)); code == 200 && st == "paid" {
						mu.Lock()
						concurrent.wallets++
						mu.Unlock()
					}
				}(j)
			}
			pwg.Wait()
			if concurrent.wallets != 1 {
				t.Errorf("three wallets paying one code at once: %d paid, want 1", concurrent.wallets)
			}
		}

		// One payment closed by three nodes at once: closed once.
		o = tr.order()
		p = tr.create(clients[2], o, client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, 0), Currency: "CNY", Scene: "qr"})
		if p != nil {
			var cwg sync.WaitGroup
			for j := 0; j < 3; j++ {
				cwg.Add(1)
				go func(j int) {
					defer cwg.Done()
					if cp, err := clients[j].ClosePayment(ctx, p.ID); err != nil || cp.Status != "closed" {
						t.Errorf("close from node %d: %+v %v", j+1, cp, err)
					}
				}(j)
			}
			cwg.Wait()
		}
	}()
	wg.Wait()
	loadTime := time.Since(loadStart)

	// Let the expiring codes expire, then wait for every payment to be final.
	if d := time.Until(expireBy); d > 0 {
		time.Sleep(d)
	}
	waitAllFinal(t, clients[0], 60*time.Second)
	for _, id := range expiring {
		if p, err := clients[2].Payment(ctx, id); err != nil || p.Status != "expired" {
			t.Errorf("payment %s left to expire: %+v %v", id, p, err)
		}
	}

	// Settlement, if this build has it: all three nodes run the same day at once.
	settled := settleOnAllNodes(t, nodes, demo, clients[0])

	res := reconcile(t, clients[1], nodes[2].URL, tr, sink, begin, 60*time.Second)
	t.Logf("load: %d workers ran %d scenarios (%d kinds) in %s; client errors: %s", workers, rounds.Load(), len(scenarios), loadTime.Round(time.Millisecond), orNone(tr.errorSummary()))
	t.Logf("concurrent: 30 refunds -> %d accepted, %d refused; 3 wallets on one code -> %d paid", concurrent.refundsOK, concurrent.refundsRefused, concurrent.wallets)
	t.Logf("settlement: %s", settled)
	t.Logf("reconciliation: %s", res)
	// A graceful stop of every node: each finishes its requests and jobs and exits 0.
	for _, n := range nodes {
		start := time.Now()
		if err := n.stop(); err != nil {
			t.Errorf("%s exited with %v on SIGTERM", n.name, err)
		}
		t.Logf("%s stopped on SIGTERM in %s", n.name, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("whole test %s", time.Since(begin).Round(time.Millisecond))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// pollFinal polls a payment until it is final, or returns nil at the deadline.
func pollFinal(c *client.Client, id string, timeout time.Duration) *client.Payment {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p, err := c.Payment(context.Background(), id)
		if err == nil && finalStatus(p.Status) {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// settleOnAllNodes settles today (in the settlement zone, as of two days on) on every node at
// once through the operator API: every run answers the same batches,
// one per merchant for the day, and the merchant API lists one batch for the day whose count
// and gross are the day's succeeded payments. It returns what happened, for the log.
func settleOnAllNodes(t *testing.T, nodes []*qrpayProcess, demo *demoFile, c *client.Client) string {
	t.Helper()
	zone, _ := time.LoadLocation("Asia/Shanghai")
	date := time.Now().In(zone).Format("2006-01-02")
	body := fmt.Sprintf(`{"date":%q,"as_of":%q}`, date, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
	type runAnswer struct {
		Data []struct {
			ID         string `json:"id"`
			MerchantID string `json:"merchant_id"`
			Count      int    `json:"count"`
			Gross      int64  `json:"gross"`
		} `json:"data"`
	}
	var wg sync.WaitGroup
	answers := make([]runAnswer, len(nodes))
	statuses := make([]int, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func(i int, n *qrpayProcess) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, n.URL+"/admin/v1/settlements/run", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+demo.OperatorToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("settle on %s: %v", n.name, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			statuses[i] = resp.StatusCode
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &answers[i]) != nil {
				t.Errorf("settle on %s: %d %s", n.name, resp.StatusCode, tail(string(b), 300))
			}
		}(i, n)
	}
	wg.Wait()
	ids := func(a runAnswer) string {
		var s []string
		for _, b := range a.Data {
			s = append(s, b.ID)
		}
		sort.Strings(s)
		return strings.Join(s, ",")
	}
	perMerchant := map[string]int{}
	for _, b := range answers[0].Data {
		perMerchant[b.MerchantID]++
	}
	for m, n := range perMerchant {
		if n != 1 {
			t.Errorf("merchant %s has %d batches for %s, want 1", m, n, date)
		}
	}
	for i := range answers[1:] {
		if ids(answers[i+1]) != ids(answers[0]) {
			t.Errorf("the nodes' runs answered different batches: %q and %q", ids(answers[0]), ids(answers[i+1]))
		}
	}
	// The merchant's own view: one batch, with the day's succeeded payments.
	var mine struct {
		Data []struct {
			ID      string `json:"id"`
			Count   int    `json:"count"`
			Gross   int64  `json:"gross"`
			Refunds int64  `json:"refunds"`
		} `json:"data"`
	}
	if err := c.Do(context.Background(), http.MethodGet, "/v1/settlements?date="+date, nil, &mine); err != nil {
		t.Errorf("list settlements: %v", err)
	}
	if len(mine.Data) != 1 {
		t.Errorf("the merchant has %d batches for %s, want 1", len(mine.Data), date)
	}
	ps, err := allPayments(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var count int
	var gross, refunded int64
	for _, p := range ps {
		if p.Status != "succeeded" {
			continue
		}
		if p.PaidAt != nil && p.PaidAt.In(zone).Format("2006-01-02") == date {
			count++
			gross += p.Amount
		}
		rs, err := refundsOf(context.Background(), c, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Status == "succeeded" && r.SucceededAt != nil && r.SucceededAt.In(zone).Format("2006-01-02") == date {
				count++
				refunded += r.Amount
			}
		}
	}
	b := ""
	if len(mine.Data) == 1 {
		got := mine.Data[0]
		// Every succeeded payment and refund of the day is in the batch, once.
		if got.Count != count || got.Gross != gross || got.Refunds != refunded {
			t.Errorf("the batch holds %d items, gross %d, refunds %d fen; the day had %d payments and refunds, %d fen paid, %d refunded",
				got.Count, got.Gross, got.Refunds, count, gross, refunded)
		}
		b = fmt.Sprintf("; the merchant's batch: %d items, gross %d fen, refunds %d fen (the day: %d items, %d paid, %d refunded)",
			got.Count, got.Gross, got.Refunds, count, gross, refunded)
		// One settlement.created event for it.
		var evs struct {
			Data []client.Event `json:"data"`
		}
		if err := c.Do(context.Background(), http.MethodGet, "/v1/events?type=settlement.created&limit=100", nil, &evs); err != nil {
			t.Errorf("events: %v", err)
		}
		n := 0
		for _, e := range evs.Data {
			if strings.Contains(string(e.Data.Object), got.ID) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d settlement.created events for batch %s, want 1", n, got.ID)
		}
	}
	return fmt.Sprintf("%s settled on three nodes at once: statuses %v, %d batch(es) for %d merchant(s)%s", date, statuses,
		len(answers[0].Data), len(perMerchant), b)
}
