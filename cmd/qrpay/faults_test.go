package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// Faults: the mock provider slow, failing with 5xx, never answering; a serve process killed
// with SIGKILL under load and started again; PostgreSQL restarted under load (opt-in, it stops
// the machine's PostgreSQL for every test). After each: every accepted payment final, nothing
// lost, nothing charged twice, webhooks delivered, reconciled with the provider's statement.

// loadNode is one server the load goes to.
type loadNode struct {
	URL    string
	Client *client.Client
}

// loadStep is one kind of request sequence of the fault load, with the mock behaviour its
// amount selects (the amount's last two digits).
type loadStep struct {
	kind   string // "qr" (create, wallet pays), "code" (a payment code), "code-nowait", "close", "refund"
	suffix int64
}

// runLoad runs steps round-robin on workers until stop is closed (each worker runs at least
// once), spreading requests over the nodes; it returns how many steps ran and the latencies of
// the create requests that were answered.
func runLoad(nodes []loadNode, tr *traffic, steps []loadStep, workers int, stop <-chan struct{}) (int64, []time.Duration) {
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for k := 0; ; k++ {
				if k > 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
				i := w + k*workers
				st := steps[i%len(steps)]
				a, b := nodes[i%len(nodes)], nodes[(i+1)%len(nodes)]
				o := tr.order()
				params := client.PaymentParams{MerchantOrderNo: o, Amount: amountWith(rng, st.suffix), Currency: "CNY", Scene: "qr"}
				switch st.kind {
				case "code", "code-nowait":
					params.Scene = "code"
					params.AuthCode = walletCode(b.URL, "customer-"+o, []string{"alipay", "wechat", "unionpay"}[k%3])
					if params.AuthCode == "" {
						tr.fail("wallet_code_unanswered")
						time.Sleep(200 * time.Millisecond)
						continue
					}
					if st.kind == "code-nowait" {
						no := false
						params.Wait = &no
					}
				}
				start := time.Now()
				p := tr.create(a.Client, o, params)
				if p == nil {
					time.Sleep(100 * time.Millisecond) // a node may be down: do not spin
					n.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
				switch st.kind {
				case "qr":
					if _, code := walletPay(b.URL, p.QR.Payload, "payer-"+o); code != http.StatusOK {
						// The customer could not pay (a node is down): the till gives up.
						if _, err := a.Client.ClosePayment(ctx, p.ID); err != nil {
							tr.fail("abandon_" + errKind(err))
						}
					}
				case "close":
					if _, err := b.Client.ClosePayment(ctx, p.ID); err != nil {
						tr.fail("close_" + errKind(err))
					}
				case "refund":
					walletPay(b.URL, p.QR.Payload, "payer-"+o)
					if got := pollFinal(b.Client, p.ID, 30*time.Second); got != nil && got.Status == "succeeded" {
						tr.refund(a.Client.CreateRefund(ctx, p.ID, client.RefundParams{Amount: p.Amount / 2, MerchantRefundNo: "r-" + o},
							client.IdempotencyKey("r-"+o)))
					}
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	return n.Load(), lat
}

// closeAbandoned closes the dynamic codes nobody paid because the wallet or the till could
// not reach a node during an outage, as a till would (they would otherwise wait for their
// 15-minute expiry). A code the provider did charge meanwhile becomes succeeded instead.
func closeAbandoned(t *testing.T, c *client.Client, tr *traffic) {
	t.Helper()
	ps, err := allPayments(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range ps {
		if p.Scene == "qr" && p.Status == "created" {
			if _, err := c.ClosePayment(context.Background(), p.ID); err != nil && errKind(err) != "422_invalid_state" {
				t.Errorf("close abandoned %s: %v", p.ID, err)
			}
			n++
		}
	}
	if n > 0 {
		tr.fail(fmt.Sprintf("abandoned_after_load_%d", n))
	}
}

// percentile returns the p-th percentile of durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p)]
}

// plainClient is the app's API client without the OpenAPI checker (load, not conformance).
func plainClient(ta *testApp) *client.Client {
	c := client.New(ta.URL, ta.Demo.APIKeyID, ta.Demo.APISecret)
	c.HTTP = &http.Client{Timeout: 60 * time.Second}
	return c
}

// faultRun drives load for a while against one in-process server started with extra flags,
// waits for every payment to be final and reconciles.
func faultRun(t *testing.T, dialect string, args []string, steps []loadStep, workers int, d time.Duration) (reconciliation, *traffic, []time.Duration) {
	t.Helper()
	begin := time.Now()
	ta := startApp(t, dialect, appOptions{extraArgs: append([]string{"--sweep-every", "1s"}, args...)})
	c := plainClient(ta)
	sink, _ := subscribeSink(t, c)
	tr := newTraffic("f")
	stop := make(chan struct{})
	time.AfterFunc(d, func() { close(stop) })
	n, lat := runLoad([]loadNode{{ta.URL, c}}, tr, steps, workers, stop)
	waitAllFinal(t, c, 90*time.Second)
	res := reconcile(t, c, ta.URL, tr, sink, begin, 60*time.Second)
	t.Logf("%d steps; creates answered p50 %s p99 %s; client errors: %s", n, percentile(lat, .5).Round(time.Millisecond),
		percentile(lat, .99).Round(time.Millisecond), orNone(tr.errorSummary()))
	t.Logf("reconciliation: %s", res)
	t.Logf("accepted=%d succeeded=%d reversed=%d lost=%d doubled=%d (in %s)", res.Accepted, res.Succeeded, res.Reversed, res.Lost,
		res.Doubled, time.Since(begin).Round(time.Millisecond))
	return res, tr, lat
}

// TestFaultSlowProvider: every answer of the mock provider takes 800 ms more (within the
// gateway's 5 s timeout). Payments are slower, and nothing else changes.
func TestFaultSlowProvider(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		res, _, lat := faultRun(t, dialect, []string{"--mockpay-latency", "800ms", "--mockpay-password-delay", "2s"},
			[]loadStep{{"qr", 0}, {"code", 0}, {"close", 0}, {"refund", 0}, {"code-nowait", 2}, {"qr", 4}}, 6, 8*time.Second)
		if p50 := percentile(lat, .5); p50 < 800*time.Millisecond {
			t.Errorf("creates took %s at the median with an 800 ms provider", p50)
		}
		if res.Succeeded == 0 || res.Closed == 0 || res.RefundsSucceeded == 0 {
			t.Errorf("the load did not exercise payments, closes and refunds: %s", res)
		}
	})
}

// TestFaultProvider5xx: the provider answers 5xx on the first try of each order (amounts
// ending 07) — for a code, before issuing it; for a payment code, after charging it. The
// gateway retries or asks, and every payment succeeds exactly once.
func TestFaultProvider5xx(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		res, _, _ := faultRun(t, dialect, []string{"--counter-wait", "6s"}, []loadStep{{"qr", 7}, {"code", 7}, {"code-nowait", 7}, {"refund", 7}}, 6, 6*time.Second)
		if res.Succeeded != res.Payments || res.Succeeded == 0 {
			t.Errorf("%d of %d payments succeeded, want all", res.Succeeded, res.Payments)
		}
	})
}

// TestFaultProviderNoAnswer: the provider never answers a payment code (amounts ending 03):
// the till gets a final answer within the counter wait, the payment is reversed and closed,
// and the provider keeps nothing. Dynamic codes whose payment hangs are closed by the merchant.
func TestFaultProviderNoAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		res, _, lat := faultRun(t, dialect, []string{"--counter-wait", "4s", "--mockpay-timeout", "1s"},
			[]loadStep{{"code", 3}, {"code-nowait", 3}, {"close", 3}, {"qr", 0}}, 6, 6*time.Second)
		if res.Reversed == 0 || res.ProviderPaid != res.Succeeded {
			t.Errorf("reversed %d; provider paid %d, qrpay succeeded %d", res.Reversed, res.ProviderPaid, res.Succeeded)
		}
		if p99 := percentile(lat, .99); p99 > 15*time.Second {
			t.Errorf("a till waited %s for an answer with a 4 s counter wait", p99)
		}
	})
}

// slowSink is a webhook receiver that takes a while to answer, so that deliveries are in
// flight when a process dies.
func slowSink(t *testing.T, delay time.Duration) *webhookSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &webhookSink{URL: "http://" + ln.Addr().String() + "/hooks"}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return // the sender is gone: it cannot have taken this as delivered
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		e, err := client.VerifyWebhook(s.secret, r.Header.Get("Qrpay-Signature"), body, time.Now(), client.DefaultTolerance)
		if err != nil {
			s.rejected++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.events = append(s.events, *e)
		w.WriteHeader(http.StatusOK)
	})}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// killSteps is the load of the crash tests: codes paid through the wallet, payment codes in
// flight (a customer typing a password, a provider that never answers), closes and refunds.
var killSteps = []loadStep{{"qr", 0}, {"code", 2}, {"code", 0}, {"code", 3}, {"close", 0}, {"refund", 0}, {"qr", 4}, {"code-nowait", 2}}

// TestFaultKillNode kills a `qrpay serve` process with SIGKILL in the middle of load (payment
// codes waiting on the provider, webhooks being delivered to a slow receiver) and starts it
// again on the same data: on the embedded database one process, on PostgreSQL one of two
// (the other goes on serving). Afterwards every accepted payment is final, none is lost, none
// charged twice, and every webhook arrived.
func TestFaultKillNode(t *testing.T) {
	// Real processes and no t.Setenv: it runs beside the other tests of processes, and its two
	// databases beside each other, since most of its time is spent waiting for River's rescue.
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dialect string) {
		t.Parallel()
		begin := time.Now()
		args := []string{"--sweep-every", "1s", "--counter-wait", "6s", "--mockpay-password-delay", "3s", "--mockpay-timeout", "2s"}
		var procs []*qrpayProcess
		if dialect == store.Postgres {
			dbURL := storetest.NewPostgres(t)
			procs = append(procs, startProcess(t, "victim", procOptions{databaseURL: dbURL, demo: true, args: args}),
				startProcess(t, "survivor", procOptions{databaseURL: dbURL, args: args}))
		} else {
			procs = append(procs, startProcess(t, "victim", procOptions{demo: true, args: args}))
		}
		demo := procs[0].demoFile()
		var nodes []loadNode
		for _, p := range procs {
			nodes = append(nodes, loadNode{p.URL, p.client(demo.APIKeyID, demo.APISecret)})
		}
		sink := slowSink(t, 300*time.Millisecond)
		ep, err := nodes[0].Client.CreateWebhookEndpoint(context.Background(), sink.URL)
		if err != nil {
			t.Fatal(err)
		}
		sink.setSecret(ep.Secret)
		tr := newTraffic("k")
		stop := make(chan struct{})
		var steps int64
		loadDone := make(chan struct{})
		go func() {
			steps, _ = runLoad(nodes, tr, killSteps, 8, stop)
			close(loadDone)
		}()

		time.Sleep(8 * time.Second)
		victim := procs[0]
		tr.mu.Lock()
		before := len(tr.accepted)
		tr.mu.Unlock()
		killedAt := time.Now()
		victim.kill()
		t.Logf("SIGKILL %s after %s of load (%d payments accepted so far)", victim.name, killedAt.Sub(begin).Round(time.Millisecond), before)
		time.Sleep(2 * time.Second)
		victim.start()
		victim.waitReady(90 * time.Second)
		t.Logf("%s serving again %s after the kill", victim.name, time.Since(killedAt).Round(time.Millisecond))
		time.Sleep(8 * time.Second)
		close(stop)
		<-loadDone

		final := time.Now()
		closeAbandoned(t, nodes[len(nodes)-1].Client, tr)
		// A sweep the dead process was running is rescued after its one-minute timeout and
		// River's next rescue pass (every 30 s): the payment codes it held wait that long.
		waitAllFinal(t, nodes[len(nodes)-1].Client, 180*time.Second)
		stuckJobs(t, dialect, procs[0], killedAt)
		t.Logf("every payment final %s after the load stopped", time.Since(final).Round(time.Millisecond))
		// Deliveries a dead process was making are retried once River rescues them: a minute
		// after they started and the next rescue pass (every 30 s), then their retry delay (30 s).
		res := reconcile(t, nodes[len(nodes)-1].Client, nodes[len(nodes)-1].URL, tr, sink, begin, 210*time.Second)
		unanswered := 0
		tr.mu.Lock()
		for _, o := range tr.orders {
			if !tr.answered[o] {
				unanswered++
			}
		}
		tr.mu.Unlock()
		t.Logf("%d steps; %d requests without a 2xx (during the outage); client errors: %s", steps, unanswered, orNone(tr.errorSummary()))
		t.Logf("reconciliation: %s", res)
		t.Logf("accepted=%d succeeded=%d reversed=%d lost=%d doubled=%d (whole test %s)", res.Accepted, res.Succeeded, res.Reversed,
			res.Lost, res.Doubled, time.Since(begin).Round(time.Millisecond))
	})
}

// stuckJobs reports background jobs that a killed process left running: River rescues them
// only after RescueStuckJobsAfter, and a periodic job left running blocks its next runs.
func stuckJobs(t *testing.T, dialect string, p *qrpayProcess, killedAt time.Time) {
	t.Helper()
	var db *sql.DB
	var err error
	if dialect == store.Postgres {
		url := ""
		for i, a := range p.args {
			if a == "--database-url" {
				url = p.args[i+1]
			}
		}
		db, err = sql.Open("postgres", url)
	} else {
		db, err = sql.Open("sqlite", "file:"+p.DataDir+"/qrpay.db?mode=ro")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT kind, COUNT(*) FROM river_job WHERE state = 'running' GROUP BY kind`)
	if err != nil {
		t.Fatalf("river jobs: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var n int
		rows.Scan(&kind, &n)
		t.Logf("jobs still running after the kill: %s x%d", kind, n)
	}
	var pending int
	if err := db.QueryRow(`SELECT COUNT(*) FROM webhook_deliveries WHERE status <> 'succeeded'`).Scan(&pending); err != nil {
		t.Fatalf("deliveries: %v", err)
	}
	t.Logf("webhook deliveries not succeeded: %d", pending)
}

// TestFaultPostgresRestart stops the machine's PostgreSQL under load and starts it again, with
// two serve processes on it: /readyz answers 503 while it is down, no process exits, and
// afterwards everything reconciles. It stops PostgreSQL for every other test too, so it runs
// only with QRPAY_TEST_PG_RESTART=1 (see docs/RELIABILITY.md).
func TestFaultPostgresRestart(t *testing.T) {
	if os.Getenv("QRPAY_TEST_PG_RESTART") != "1" {
		t.Skip("stops the machine's PostgreSQL: set QRPAY_TEST_PG_RESTART=1 to run it")
	}
	dbURL := requirePostgres(t)
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) != 1 {
		t.Fatalf("want one PostgreSQL cluster version in /etc/postgresql: %v", err)
	}
	pgctl := func(action string) {
		t.Helper()
		out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", action).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_ctlcluster %s: %v\n%s", action, err, out)
		}
	}
	// Whatever happens, leave PostgreSQL running.
	t.Cleanup(func() {
		exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", "start").Run()
	})

	begin := time.Now()
	args := []string{"--sweep-every", "1s", "--counter-wait", "6s", "--mockpay-password-delay", "3s", "--mockpay-timeout", "2s"}
	procs := []*qrpayProcess{startProcess(t, "node1", procOptions{databaseURL: dbURL, demo: true, args: args})}
	procs = append(procs, startProcess(t, "node2", procOptions{databaseURL: dbURL, args: args}))
	demo := procs[0].demoFile()
	var nodes []loadNode
	for _, p := range procs {
		nodes = append(nodes, loadNode{p.URL, p.client(demo.APIKeyID, demo.APISecret)})
	}
	sink, _ := subscribeSink(t, nodes[0].Client)
	tr := newTraffic("pg")
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	var steps int64
	go func() {
		steps, _ = runLoad(nodes, tr, killSteps, 8, stop)
		close(loadDone)
	}()

	time.Sleep(6 * time.Second)
	ctx := context.Background()
	downAt := time.Now()
	pgctl("stop")
	t.Logf("PostgreSQL stopped after %s of load", downAt.Sub(begin).Round(time.Millisecond))
	// Both nodes say they are not ready, and stay up.
	for _, p := range procs {
		deadline := time.Now().Add(20 * time.Second)
		for p.ready(ctx) != http.StatusServiceUnavailable {
			if time.Now().After(deadline) || !p.running() {
				t.Errorf("%s: /readyz answers %d with PostgreSQL down (running %v)", p.name, p.ready(ctx), p.running())
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(5 * time.Second)
	pgctl("start")
	upAt := time.Now()
	t.Logf("PostgreSQL started again after %s down", upAt.Sub(downAt).Round(time.Millisecond))
	for _, p := range procs {
		deadline := time.Now().Add(60 * time.Second)
		for p.ready(ctx) != http.StatusOK {
			if time.Now().After(deadline) || !p.running() {
				t.Fatalf("%s not ready again 60 s after PostgreSQL came back (running %v)", p.name, p.running())
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s ready again %s after PostgreSQL came back", p.name, time.Since(upAt).Round(time.Millisecond))
	}
	time.Sleep(6 * time.Second)
	close(stop)
	<-loadDone
	for _, p := range procs {
		if !p.running() {
			t.Errorf("%s exited", p.name)
		}
	}
	closeAbandoned(t, nodes[1].Client, tr)
	waitAllFinal(t, nodes[1].Client, 120*time.Second)
	res := reconcile(t, nodes[1].Client, nodes[1].URL, tr, sink, begin, 90*time.Second)
	t.Logf("%d steps; client errors: %s", steps, orNone(tr.errorSummary()))
	t.Logf("reconciliation: %s", res)
	t.Logf("accepted=%d succeeded=%d reversed=%d lost=%d doubled=%d (whole test %s)", res.Accepted, res.Succeeded, res.Reversed,
		res.Lost, res.Doubled, time.Since(begin).Round(time.Millisecond))
}
