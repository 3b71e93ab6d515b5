package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// world is a gateway on a real database with the mock provider served over real HTTP on
// loopback, driven by a fake clock.
type world struct {
	clock    *qrpay.FakeClock
	db       *store.DB
	gw       *gateway.Service
	mock     *mockpay.Server
	merchant *merchant.Merchant
	caller   gateway.Caller
}

func newWorld(t *testing.T, dialect string) *world {
	t.Helper()
	ctx := context.Background()
	clock := qrpay.NewFakeClock(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	db := storetest.Open(t, dialect, clock)
	id, key := merchant.GenerateKey()
	sealer, err := merchant.NewSealer(map[string][]byte{id: key}, id, id)
	if err != nil {
		t.Fatal(err)
	}
	ms := &merchant.Service{Store: db.Merchants(), Sealer: sealer, Clock: clock, Zone: time.UTC}
	m, _, err := ms.Apply(ctx, merchant.System, merchant.Application{LegalName: "测试商户有限公司", ShortName: "测试商户",
		USCC: "91350100M000100Y43", LegalPersonName: "张三", LegalPersonID: "11010519491231002X", Phone: "13800138000",
		City: "北京", Address: "朝阳区某路1号", MCC: "5812", BankName: "测试银行", BankAccount: "6226090000000048"}, "operator")
	if err != nil {
		t.Fatal(err)
	}
	if m, err = ms.Move(ctx, merchant.System, m.ID, "approve", ""); err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	w := &world{clock: clock, db: db, merchant: m}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w.mock = &mockpay.Server{Store: db.Mock(), Secret: secret, Clock: clock, PublicURL: srv.URL, Zone: time.UTC,
		PasswordDelay: 10 * time.Second, LateDelay: 2 * time.Second, NoAnswerHold: time.Second}
	mux.Handle("/mockpay/", w.mock.Handler())
	router, err := gateway.NewRouter([]*gateway.Account{{ID: "mock", Channel: gateway.ChannelMockpay,
		Provider: mockpay.NewProvider(srv.URL+"/mockpay", secret, 2*time.Second, clock)}}, nil, "mock", clock)
	if err != nil {
		t.Fatal(err)
	}
	w.gw = &gateway.Service{Store: db.Gateway(), Router: router, Clock: clock, Secrets: ms,
		Config: gateway.Config{PublicURL: srv.URL, CounterWait: 3 * time.Second, PollEvery: 200 * time.Millisecond, Zone: time.UTC}}
	mux.HandleFunc("POST /callbacks/{account}", func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reply := w.gw.HandleCallback(r.Context(), r.PathValue("account"), gateway.CallbackRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header, Body: body})
		rw.WriteHeader(reply.Status)
		rw.Write(reply.Body)
	})
	if err := db.StartJobs(ctx, store.JobsConfig{}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.mock.Run(runCtx) }()
	t.Cleanup(func() { stop(); wg.Wait() })
	w.caller = gateway.Caller{MerchantID: m.ID, KeyID: "key_test", Mode: merchant.ModeTest}
	return w
}

func (w *world) create(t *testing.T, amount int64, order string) *gateway.Payment {
	t.Helper()
	res, err := w.gw.CreatePayment(context.Background(), w.caller, gateway.CreatePaymentRequest{MerchantOrderNo: order,
		Amount: amount, Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	return res.Payment
}

// waitFor polls the payment (not the clock: the mock provider's work runs on a real ticker).
func (w *world) waitFor(t *testing.T, id string, want gateway.Status) *gateway.Payment {
	t.Helper()
	var p *gateway.Payment
	for i := 0; i < 200; i++ {
		var err error
		if p, err = w.gw.Payment(context.Background(), "", id); err != nil {
			t.Fatal(err)
		}
		if p.Status == want {
			return p
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("payment %s is %s, want %s", id, p.Status, want)
	return nil
}

func tradeNo(payload string) string { return payload[strings.LastIndex(payload, "/")+1:] }

// TestExpirySweep: a dynamic code nobody paid is closed at the provider and expires here when the
// sweep finds it due; the customer can no longer pay it.
func TestExpirySweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		p := w.create(t, 1000, "exp-1")
		if err := w.gw.SweepJob(ctx, gateway.Sweep{}); err != nil {
			t.Fatal(err)
		}
		if got := w.waitFor(t, p.ID, gateway.StatusCreated); got.Status != gateway.StatusCreated {
			t.Fatal("expired before its time")
		}
		w.clock.Advance(16 * time.Minute)
		if err := w.gw.SweepJob(ctx, gateway.Sweep{}); err != nil {
			t.Fatal(err)
		}
		got := w.waitFor(t, p.ID, gateway.StatusExpired)
		if got.NextCheckAt != nil || got.ClosedAt == nil {
			t.Fatalf("expired payment %+v still scheduled or without closed_at", got)
		}
		trade, err := w.db.MockTrade(ctx, p.ID)
		if err != nil || trade.Status != mockpay.TradeClosed {
			t.Fatalf("the provider's trade is %+v, %v; want closed", trade, err)
		}
		if _, err := w.mock.PayCode(ctx, tradeNo(p.QRPayload), "late-payer"); err == nil {
			t.Fatal("the customer paid an expired code")
		}
		evs, _, _ := w.gw.Events(ctx, gateway.EventFilter{MerchantID: w.merchant.ID, ObjectID: p.ID})
		if len(evs) != 2 || evs[0].Type != gateway.EventPaymentExpired {
			t.Fatalf("events %v, want created then expired", eventTypes(evs))
		}
	})
}

func eventTypes(evs []*gateway.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// TestLateSuccess: behaviour 05's success arrives after the merchant closed the payment. It is
// recorded as succeeded, flagged late_success and raised with payment.late_succeeded, never
// dropped.
func TestLateSuccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		p := w.create(t, 1005, "late-1")
		res, err := w.mock.PayCode(ctx, tradeNo(p.QRPayload), "slow-customer")
		if err != nil || res.Status != "pending" {
			t.Fatalf("wallet: %+v %v", res, err)
		}
		if _, err := w.gw.ClosePayment(ctx, w.caller, p.ID); err != nil {
			t.Fatal(err)
		}
		w.waitFor(t, p.ID, gateway.StatusClosed)
		w.clock.Advance(3 * time.Second) // LateDelay: the customer's payment comes through after all
		got := w.waitFor(t, p.ID, gateway.StatusSucceeded)
		if !got.HasFlag(gateway.FlagLateSuccess) || got.PaidAt == nil {
			t.Fatalf("late success not flagged: %+v", got)
		}
		evs, _, _ := w.gw.Events(ctx, gateway.EventFilter{MerchantID: w.merchant.ID, ObjectID: p.ID})
		if types := eventTypes(evs); len(types) == 0 || types[0] != gateway.EventPaymentLateSucceeded {
			t.Fatalf("events %v, want payment.late_succeeded last", types)
		}
		// The late money can be refunded.
		rr, err := w.gw.CreateRefund(ctx, w.caller, p.ID, gateway.CreateRefundRequest{Amount: 1005, MerchantRefundNo: "late-r1"})
		if err != nil || rr.Refund.Status != gateway.RefundSucceeded {
			t.Fatalf("refund of a late success: %+v %v", rr, err)
		}
	})
}

// TestStaleSuccessCallback: a correctly signed success callback for a payment qrpay closed is
// not believed on its own word: the provider is asked, and as its trade is closed the payment
// stays closed, with no late success and no event, and the callback is acknowledged.
func TestStaleSuccessCallback(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		// The customer scans and is still typing a password (behaviour 02) when the merchant
		// closes: the provider closes its trade too.
		p := w.create(t, 1002, "stale-1")
		if res, err := w.mock.PayCode(ctx, tradeNo(p.QRPayload), "slow-customer"); err != nil || res.Status != "pending" {
			t.Fatalf("wallet: %+v %v", res, err)
		}
		if _, err := w.gw.ClosePayment(ctx, w.caller, p.ID); err != nil {
			t.Fatal(err)
		}
		w.waitFor(t, p.ID, gateway.StatusClosed)
		before, _, _ := w.gw.Events(ctx, gateway.EventFilter{MerchantID: w.merchant.ID, ObjectID: p.ID})
		body := []byte(fmt.Sprintf(`{"kind":"trade","trade":{"out_trade_no":%q,"trade_no":"T-stale","status":"SUCCESS",`+
			`"amount":1002,"currency":"CNY","payer":"someone","paid_at":%q,"refunded":0}}`, p.ID, w.clock.Now().UTC().Format(time.RFC3339)))
		ts := strconv.FormatInt(w.clock.Now().Unix(), 10)
		h := http.Header{}
		h.Set(mockpay.HeaderTimestamp, ts)
		h.Set(mockpay.HeaderSignature, mockpay.Sign([]byte("0123456789abcdef0123456789abcdef"), ts, "notify", body))
		reply := w.gw.HandleCallback(ctx, "mock", gateway.CallbackRequest{Method: "POST", Path: "/callbacks/mock", Header: h, Body: body})
		if reply.Status != http.StatusOK {
			t.Fatalf("callback answered %d %s", reply.Status, reply.Body)
		}
		got, err := w.gw.Payment(ctx, w.merchant.ID, p.ID)
		if err != nil || got.Status != gateway.StatusClosed || got.HasFlag(gateway.FlagLateSuccess) || got.PaidAt != nil {
			t.Fatalf("payment %+v, %v; want closed as before", got, err)
		}
		after, _, _ := w.gw.Events(ctx, gateway.EventFilter{MerchantID: w.merchant.ID, ObjectID: p.ID})
		if len(after) != len(before) {
			t.Fatalf("events %v, then %v", eventTypes(before), eventTypes(after))
		}
	})
}

// TestCallbackAmountMismatch: a callback that reports another amount is never believed: the
// payment is flagged for review and stays unpaid.
func TestPaymentCodeNoAnswerIsReversed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		code, err := w.mock.IssuePaymentCode(ctx, "counter-customer", "wechat")
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.gw.CreatePayment(ctx, w.caller, gateway.CreatePaymentRequest{MerchantOrderNo: "noans-1", Amount: 1003,
			Currency: "CNY", Scene: "code", AuthCode: code})
		if err != nil {
			t.Fatal(err)
		}
		if res.Payment.Status != gateway.StatusClosed || !res.Payment.HasFlag(gateway.FlagReversed) {
			t.Fatalf("no-answer payment ended %s %v, want closed and reversed", res.Payment.Status, res.Payment.Flags)
		}
		trade, err := w.db.MockTrade(ctx, res.Payment.ID)
		if err != nil || trade.Status != mockpay.TradeClosed {
			t.Fatalf("the provider's trade is %+v, %v; want closed", trade, err)
		}
	})
}

// TestWebhookEndpointDisabledAfterDays: an endpoint that fails for three days is disabled with a
// notice for the merchant, and its deliveries stop; the schedule retries for more than 24 hours.
func TestWebhookEndpointDisabledAfterDays(t *testing.T) {
	var total time.Duration
	for a := 1; a < gateway.WebhookMaxAttempts; a++ {
		total += gateway.WebhookBackoff(a)
	}
	if total < 24*time.Hour {
		t.Fatalf("the retry schedule spans %s, want at least 24 h", total)
	}
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		failing := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(rw, "down for maintenance")
		}))
		defer failing.Close()
		id, key := merchant.GenerateKey()
		sealer, _ := merchant.NewSealer(map[string][]byte{id: key}, id, id)
		ms := &merchant.Service{Store: w.db.Merchants(), Sealer: sealer, Clock: w.clock}
		w.gw.Secrets = ms
		ep, err := ms.CreateEndpoint(ctx, merchant.System, w.merchant.ID, failing.URL)
		if err != nil {
			t.Fatal(err)
		}
		p := w.create(t, 1000, "hook-1")
		if _, err := w.mock.PayCode(ctx, tradeNo(p.QRPayload), "payer"); err != nil {
			t.Fatal(err)
		}
		w.waitFor(t, p.ID, gateway.StatusSucceeded)
		ds, err := w.db.FindDeliveries(ctx, gateway.DeliveryFilter{MerchantID: w.merchant.ID, PaymentID: p.ID})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %v, %v", ds, err)
		}
		job := gateway.DeliverWebhook{DeliveryID: ds[0].ID}
		for attempt := 1; ; attempt++ {
			err := w.gw.DeliverWebhookJob(ctx, job)
			if err == nil {
				t.Fatal("a failing endpoint acknowledged a webhook")
			}
			if qrpay.IsPermanent(err) {
				break
			}
			if attempt > gateway.WebhookMaxAttempts {
				t.Fatal("the endpoint was never disabled")
			}
			w.clock.Advance(gateway.WebhookBackoff(attempt))
		}
		got, err := w.db.FindEndpoint(ctx, w.merchant.ID, ep.ID)
		if err != nil || got.Status != "disabled" || got.DisabledReason == "" {
			t.Fatalf("endpoint %+v, %v; want disabled", got, err)
		}
		notices, err := w.gw.Notices(ctx, w.merchant.ID)
		if err != nil || len(notices) != 1 || notices[0].Kind != "webhook_disabled" || !strings.Contains(notices[0].Body, failing.URL) {
			t.Fatalf("notices %+v, %v", notices, err)
		}
		attempts, _ := w.db.FindAttempts(ctx, ds[0].ID)
		if len(attempts) < 5 || attempts[0].StatusCode != 503 || attempts[0].Response != "down for maintenance" {
			t.Fatalf("attempts %+v", attempts)
		}

		// An endpoint deleted while a delivery to it waits: the delivery fails for good, unsent.
		sent := 0
		live := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { sent++ }))
		defer live.Close()
		ep2, err := ms.CreateEndpoint(ctx, merchant.System, w.merchant.ID, live.URL)
		if err != nil {
			t.Fatal(err)
		}
		p2 := w.create(t, 1000, "hook-2")
		if _, err := w.mock.PayCode(ctx, tradeNo(p2.QRPayload), "payer"); err != nil {
			t.Fatal(err)
		}
		w.waitFor(t, p2.ID, gateway.StatusSucceeded)
		ds, err = w.db.FindDeliveries(ctx, gateway.DeliveryFilter{MerchantID: w.merchant.ID, PaymentID: p2.ID})
		if err != nil || len(ds) != 1 || ds[0].EndpointID != ep2.ID {
			t.Fatalf("deliveries %v, %v", ds, err)
		}
		if _, err := ms.DeleteEndpoint(ctx, merchant.System, w.merchant.ID, ep2.ID); err != nil {
			t.Fatal(err)
		}
		if err := w.gw.DeliverWebhookJob(ctx, gateway.DeliverWebhook{DeliveryID: ds[0].ID}); !qrpay.IsPermanent(err) {
			t.Fatalf("a delivery to a deleted endpoint: %v, want a permanent failure", err)
		}
		if d, err := w.db.FindDelivery(ctx, w.merchant.ID, ds[0].ID); err != nil || d.Status != "failed" || sent != 0 {
			t.Fatalf("delivery %+v, %v, %d sent; want failed and none sent", d, err, sent)
		}
	})
}

// TestRacingWebhookAttemptsBothCounted: two runs of one delivery's job at once (a rescued job
// racing the one it replaced) both read it with no attempts and both send; each attempt is
// recorded, numbered 1 and 2, and the delivery counts two. The second write finds the delivery
// changed since its read and counts its attempt after the first.
func TestRacingWebhookAttemptsBothCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		var mu sync.Mutex
		arrived := 0
		both := make(chan struct{})
		hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if arrived++; arrived == 2 {
				close(both)
			}
			mu.Unlock()
			select {
			case <-both:
			case <-time.After(5 * time.Second):
			}
			rw.WriteHeader(http.StatusInternalServerError)
		}))
		defer hook.Close()
		ms := w.gw.Secrets.(*merchant.Service)
		ep, err := ms.CreateEndpoint(ctx, merchant.System, w.merchant.ID, hook.URL)
		if err != nil {
			t.Fatal(err)
		}
		err = w.db.Gateway().InTx(ctx, func(tx gateway.Tx) error {
			if err := tx.InsertEvent(ctx, &gateway.Event{ID: "evt_race", MerchantID: w.merchant.ID, Type: gateway.EventPaymentSucceeded,
				ObjectType: "payment", ObjectID: "pay_race", Data: []byte(`{}`), CreatedAt: tx.Now()}); err != nil {
				return err
			}
			return tx.InsertDelivery(ctx, &gateway.Delivery{ID: "whd_race", EventID: "evt_race", EndpointID: ep.ID,
				MerchantID: w.merchant.ID, Status: "pending"})
		})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for range 2 {
			go func() { errs <- w.gw.DeliverWebhookJob(ctx, gateway.DeliverWebhook{DeliveryID: "whd_race"}) }()
		}
		for range 2 {
			if err := <-errs; err == nil || qrpay.IsPermanent(err) || !strings.Contains(err.Error(), "answered 500") {
				t.Errorf("a run against an endpoint answering 500: %v", err)
			}
		}
		d, err := w.db.FindDelivery(ctx, w.merchant.ID, "whd_race")
		if err != nil || d.Attempts != 2 || d.Status != "pending" || d.LastStatus != 500 {
			t.Fatalf("delivery %+v, %v; want two attempts, pending", d, err)
		}
		attempts, err := w.db.FindAttempts(ctx, "whd_race")
		if err != nil || len(attempts) != 2 || attempts[0].Attempt+attempts[1].Attempt != 3 || attempts[0].Attempt == attempts[1].Attempt {
			t.Fatalf("attempts %+v, %v; want attempts 1 and 2", attempts, err)
		}
	})
}

// TestCodeScannedAtOnce: eight wallets pay one code at the same moment. The mock provider
// charges one of them; the others are refused; the payment succeeds once, with one event.
func TestCodeScannedAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		p := w.create(t, 1000, "twice-1")
		results := make(chan error, 8)
		var paid sync.Map
		start := make(chan struct{})
		for i := range 8 {
			go func() {
				<-start
				res, err := w.mock.PayCode(ctx, tradeNo(p.QRPayload), fmt.Sprintf("payer-%d", i))
				if err == nil && res.Status == "paid" {
					paid.Store(i, res.ProviderTradeNo)
				}
				results <- err
			}()
		}
		close(start)
		refused := 0
		for range 8 {
			if err := <-results; err != nil {
				if code := qrpay.ErrorCode(err); code != qrpay.EINVALIDSTATE && code != qrpay.ECONFLICT {
					t.Errorf("a refused scan: %v", err)
				}
				refused++
			}
		}
		n := 0
		paid.Range(func(any, any) bool { n++; return true })
		if n != 1 || refused != 7 {
			t.Fatalf("%d scans paid, %d refused; want 1 and 7", n, refused)
		}
		w.waitFor(t, p.ID, gateway.StatusSucceeded)
		evs, _, err := w.db.FindEvents(ctx, gateway.EventFilter{MerchantID: w.merchant.ID, ObjectID: p.ID, Type: gateway.EventPaymentSucceeded, Limit: 10})
		if err != nil || len(evs) != 1 {
			t.Fatalf("payment.succeeded events %d, %v; want 1", len(evs), err)
		}
	})
}
