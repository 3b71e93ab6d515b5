package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/web"
)

// benchOps are the operations the load generator knows.
var benchOps = []string{"create", "pay", "query", "refund"}

// runBench is `qrpay bench`: signed API traffic at full speed with N connections (or at a fixed
// rate), a progress line, throughput and latency percentiles per operation, and, in the same run,
// the ceiling of the machine: a bare handler making the same database writes on the same database.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	target := fs.String("target", "http://127.0.0.1:8080", "the qrpay server to load")
	duration := fs.Duration("duration", 30*time.Second, "how long to load it (the ceiling runs as long again)")
	conns := fs.Int("connections", 32, "concurrent connections")
	rate := fs.Float64("rate", 0, "requests per second in all (0: as fast as the connections go)")
	mix := fs.String("mix", "create=1", "weights of the operations: create, pay (a code through the mock wallet), query, refund")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	demoPath := fs.String("demo", "", "demo.json with the API key (default: ./demo.json or ./qrpay-data/demo.json)")
	keyID := fs.String("key-id", "", "API key id (instead of demo.json)")
	secret := fs.String("secret", "", "API key secret")
	ceiling := fs.Bool("ceiling", true, "also measure the ceiling on the same database")
	drainWait := fs.Duration("drain-wait", time.Minute, "after the load, how long to wait for callbacks and webhooks to catch up (0: do not wait)")
	var d dbFlags
	d.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *conns < 1 || *conns > 4096 {
		return usagef("--connections must be 1 to 4096")
	}
	weights, err := parseMix(*mix)
	if err != nil {
		return err
	}
	demo, demoDir, err := loadBenchDemo(*demoPath)
	if err != nil && *keyID == "" {
		return err
	}
	if *keyID != "" {
		demo = &demoFile{APIKeyID: *keyID, APISecret: *secret}
	}
	transport := &http.Transport{MaxIdleConns: *conns * 2, MaxIdleConnsPerHost: *conns * 2, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	httpClient := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	c := client.New(*target, demo.APIKeyID, demo.APISecret)
	c.HTTP = httpClient
	b := &bench{client: c, http: httpClient, target: strings.TrimRight(*target, "/"), weights: weights}
	if d.databaseURL == "" && !flagGiven(fs, "data-dir") && demoDir != "" {
		d.dataDir = demoDir
	}
	// The server's database: the ceiling writes to it, and the drain reads what is outstanding.
	var db *store.DB
	if *ceiling || *drainWait > 0 {
		if db, err = d.open(ctx, d.logger(io.Discard)); err != nil {
			return err
		}
		defer db.Close()
		if err := db.Ready(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "qrpay bench: %s, %d connections, %s, mix %s\n", *target, *conns, *duration, *mix)
	var ceilOp benchOp
	if *ceiling {
		if demo.MerchantID == "" {
			return usagef("the ceiling needs the demo merchant: give --demo, or --ceiling=false")
		}
		op, stop, err := b.startCeiling(db, demo.MerchantID, stderr)
		if err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		defer stop()
		ceilOp = op
	}
	// Creates alone are compared with the ceiling: the two alternate in rounds, so that a
	// shared machine's drift and the tables' growth weigh on both alike. A mixed load runs
	// whole, drains, and then the ceiling runs as long.
	rounds := 1
	interleave := ceilOp != nil && len(weights) == 1 && weights["create"] > 0
	if interleave {
		rounds = benchRounds
	}
	loadStats, ceilStats := newOpStats(), newOpStats()
	var elapsed, ceilElapsed time.Duration
	start := time.Now()
	for range rounds {
		elapsed += b.run(ctx, *duration/time.Duration(rounds), *conns, *rate, stderr, b.op, loadStats)
		if interleave {
			ceilElapsed += b.run(ctx, *duration/time.Duration(rounds), *conns, *rate, stderr, ceilOp, ceilStats)
		}
	}
	res := results(loadStats, elapsed)
	out := benchResult{Operations: res}
	if *drainWait > 0 {
		dr, err := drain(ctx, db, start, *drainWait, stderr)
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		if pay := res["pay"]; pay.Count > 0 && dr.Drained {
			dr.FlowRPS = float64(pay.Count) / (elapsed + time.Duration(dr.Seconds*float64(time.Second))).Seconds()
		}
		out.Drain = &dr
	}
	if ceilOp != nil {
		if !interleave {
			ceilElapsed = b.run(ctx, *duration, *conns, *rate, stderr, ceilOp, ceilStats)
		}
		ceil, ok := results(ceilStats, ceilElapsed)["ceiling"]
		if !ok {
			return errors.New("ceiling: no request completed")
		}
		out.Ceiling = &ceil
		// The ceiling makes create's writes, so the ratio means something only when the
		// load was creates alone.
		if cr := res["create"]; cr.RPS > 0 && ceil.RPS > 0 && len(res) == 1 {
			out.Ratio = cr.RPS / ceil.RPS
		}
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	printBench(stdout, out)
	return nil
}

// flagGiven reports whether a flag was set on the command line or in the environment.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	_, env := os.LookupEnv(envName(name))
	return given || env
}

func parseMix(s string) (map[string]int, error) {
	w := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || !slices.Contains(benchOps, k) {
			return nil, usagef("--mix is op=weight,... with ops create, pay, query, refund; got %q", part)
		}
		w[k] = n
	}
	total := 0
	for _, n := range w {
		total += n
	}
	if total == 0 {
		return nil, usagef("--mix gives every operation weight 0")
	}
	return w, nil
}

// loadBenchDemo reads demo.json from the path, or from ./demo.json or ./qrpay-data/demo.json.
func loadBenchDemo(path string) (*demoFile, string, error) {
	candidates := []string{path}
	if path == "" {
		candidates = []string{"demo.json", filepath.Join("qrpay-data", "demo.json")}
	}
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var d demoFile
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, "", fmt.Errorf("%s: %w", p, err)
		}
		return &d, filepath.Dir(p), nil
	}
	return nil, "", usagef("no demo.json found: give --demo FILE, or --key-id and --secret")
}

// opStats collects one operation's latencies.
type opStats struct {
	mu     sync.Mutex
	lat    []time.Duration
	errors int64
	last   string
}

func (s *opStats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errors++
		s.last = err.Error()
		return
	}
	s.lat = append(s.lat, d)
}

// OpResult is one operation's figures.
type OpResult struct {
	Count     int     `json:"count"`
	RPS       float64 `json:"rps"`
	P50       float64 `json:"p50_ms"`
	P95       float64 `json:"p95_ms"`
	P99       float64 `json:"p99_ms"`
	Errors    int64   `json:"errors"`
	LastError string  `json:"last_error,omitempty"`
}

type benchResult struct {
	Operations map[string]OpResult `json:"operations"`
	Drain      *DrainResult        `json:"drain,omitempty"`
	Ceiling    *OpResult           `json:"ceiling,omitempty"`
	Ratio      float64             `json:"ratio"`
}

// DrainResult is what was outstanding when the load stopped and how long the server took to
// catch up: every payment the mock wallet paid succeeded in qrpay (its callback arrived) and every
// webhook delivery was acknowledged.
type DrainResult struct {
	CallbacksAtStop int64   `json:"callbacks_at_stop"`
	WebhooksAtStop  int64   `json:"webhooks_at_stop"`
	Seconds         float64 `json:"seconds"`
	Drained         bool    `json:"drained"`
	// FlowRPS is payments paid end to end per second: the wallet payments of the run over the
	// load's duration plus the drain.
	FlowRPS float64 `json:"flow_rps,omitempty"`
}

// drain waits up to wait for the server's backlog about the run (since start) to empty.
func drain(ctx context.Context, db *store.DB, start time.Time, wait time.Duration, stderr io.Writer) (DrainResult, error) {
	stop := time.Now()
	first, err := db.Backlog(ctx, start)
	if err != nil {
		return DrainResult{}, err
	}
	r := DrainResult{CallbacksAtStop: first.Callbacks, WebhooksAtStop: first.Webhooks}
	for b := first; ; {
		if b.Callbacks == 0 && b.Webhooks == 0 {
			r.Drained = true
			break
		}
		if time.Since(stop) > wait {
			break
		}
		fmt.Fprintf(stderr, "\rdraining: %d callbacks, %d webhooks outstanding   ", b.Callbacks, b.Webhooks)
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if b, err = db.Backlog(ctx, start); err != nil {
			return r, err
		}
	}
	r.Seconds = time.Since(stop).Seconds()
	if r.CallbacksAtStop+r.WebhooksAtStop > 0 {
		fmt.Fprintln(stderr)
	}
	return r, nil
}

func (s *opStats) result(elapsed time.Duration) OpResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	pct := func(p float64) float64 {
		if len(s.lat) == 0 {
			return 0
		}
		i := int(float64(len(s.lat))*p+0.5) - 1
		i = max(0, min(i, len(s.lat)-1))
		return float64(s.lat[i].Microseconds()) / 1000
	}
	return OpResult{Count: len(s.lat), RPS: float64(len(s.lat)) / elapsed.Seconds(), P50: pct(0.50), P95: pct(0.95),
		P99: pct(0.99), Errors: s.errors, LastError: s.last}
}

// bench is one load run's state: the client and the pools of payments the operations share.
type bench struct {
	client  *client.Client
	http    *http.Client
	target  string
	weights map[string]int
	seq     atomic.Int64
	run0    string

	mu      sync.Mutex
	unpaid  []*client.Payment
	paid    []*client.Payment
	created []string
}

// benchRounds is how many rounds creates and the ceiling alternate in.
const benchRounds = 4

// benchOp is one request of a load, recorded in stats.
type benchOp func(ctx context.Context, stats map[string]*opStats) error

func newOpStats() map[string]*opStats {
	stats := map[string]*opStats{}
	for _, name := range append(benchOps, "ceiling") {
		stats[name] = &opStats{}
	}
	return stats
}

// results are the figures of the operations that ran, over elapsed.
func results(stats map[string]*opStats, elapsed time.Duration) map[string]OpResult {
	out := map[string]OpResult{}
	for name, s := range stats {
		if r := s.result(elapsed); r.Count > 0 || r.Errors > 0 {
			out[name] = r
		}
	}
	return out
}

// run drives op from conns workers for d, at rate requests/s in all when rate > 0, adding to
// stats, and returns how long it ran.
func (b *bench) run(ctx context.Context, d time.Duration, conns int, rate float64, stderr io.Writer,
	op benchOp, stats map[string]*opStats) time.Duration {
	b.run0 = strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				if err := op(ctx, stats); err == nil || ctx.Err() == nil {
					done.Add(1)
				}
			}
		}()
	}
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-progress.C:
				el := time.Since(start).Seconds()
				var errs int64
				for _, s := range stats {
					s.mu.Lock()
					errs += s.errors
					s.mu.Unlock()
				}
				fmt.Fprintf(stderr, "\r%5.0fs  %8d requests  %7.0f/s  %d errors   ", el, done.Load(), float64(done.Load())/el, errs)
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintln(stderr)
	return elapsed
}

// pick chooses an operation by weight.
func (b *bench) pick() string {
	total := 0
	for _, w := range b.weights {
		total += w
	}
	n := rand.IntN(total)
	for _, name := range benchOps {
		if n < b.weights[name] {
			return name
		}
		n -= b.weights[name]
	}
	return "create"
}

// op runs one operation of the mix. An operation that needs a payment it has none of (pay,
// refund) makes one first, untimed.
func (b *bench) op(ctx context.Context, stats map[string]*opStats) error {
	name := b.pick()
	switch name {
	case "create":
		start := time.Now()
		p, err := b.create(ctx, 1000+rand.Int64N(50)*100+99)
		b.record(ctx, stats[name], time.Since(start), err)
		if err == nil {
			b.mu.Lock()
			b.unpaid = append(b.unpaid, p)
			if len(b.created) < 100000 {
				b.created = append(b.created, p.ID)
			}
			b.mu.Unlock()
		}
		return err
	case "pay":
		p := b.take(&b.unpaid)
		if p == nil {
			var err error
			if p, err = b.create(ctx, 1000+rand.Int64N(50)*100+99); err != nil {
				return err
			}
		}
		start := time.Now()
		err := b.walletPay(ctx, p)
		b.record(ctx, stats[name], time.Since(start), err)
		if err == nil {
			b.mu.Lock()
			b.paid = append(b.paid, p)
			b.mu.Unlock()
		}
		return err
	case "query":
		b.mu.Lock()
		id := ""
		if len(b.created) > 0 {
			id = b.created[rand.IntN(len(b.created))]
		}
		b.mu.Unlock()
		if id == "" {
			p, err := b.create(ctx, 1099)
			if err != nil {
				return err
			}
			id = p.ID
		}
		start := time.Now()
		_, err := b.client.Payment(ctx, id)
		b.record(ctx, stats[name], time.Since(start), err)
		return err
	case "refund":
		// The oldest paid payment, whose callback has most likely arrived; it is waited for
		// (untimed) all the same, since only a succeeded payment can be refunded.
		p := b.takeOldest(&b.paid)
		if p != nil {
			if err := b.waitPaid(ctx, p.ID); err != nil {
				return err
			}
		} else {
			var err error
			if p, err = b.create(ctx, 1099); err != nil {
				return err
			}
			if err = b.walletPay(ctx, p); err != nil {
				return err
			}
			if err = b.waitPaid(ctx, p.ID); err != nil {
				return err
			}
		}
		start := time.Now()
		_, err := b.client.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "bench-r-" + p.ID})
		b.record(ctx, stats[name], time.Since(start), err)
		return err
	}
	return nil
}

// record keeps an operation's outcome; one cut short by the end of the run is not an error.
func (b *bench) record(ctx context.Context, s *opStats, d time.Duration, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	s.add(d, err)
}

func (b *bench) take(pool *[]*client.Payment) *client.Payment {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(*pool) == 0 {
		return nil
	}
	p := (*pool)[len(*pool)-1]
	*pool = (*pool)[:len(*pool)-1]
	return p
}

func (b *bench) takeOldest(pool *[]*client.Payment) *client.Payment {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(*pool) == 0 {
		return nil
	}
	p := (*pool)[0]
	*pool = (*pool)[1:]
	return p
}

func (b *bench) create(ctx context.Context, amount int64) (*client.Payment, error) {
	order := "bench-" + b.run0 + "-" + strconv.FormatInt(b.seq.Add(1), 36)
	return b.client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: order, Amount: amount, Currency: "CNY",
		Description: "bench", Scene: "qr", Channel: "mockpay"})
}

// walletPay pays a code through the mock wallet.
func (b *bench) walletPay(ctx context.Context, p *client.Payment) error {
	body, _ := json.Marshal(map[string]string{"qr": p.QR.Payload, "payer": "bench"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.target+"/mockpay/wallet/pay", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wallet: %d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return nil
}

func (b *bench) waitPaid(ctx context.Context, id string) error {
	for ctx.Err() == nil {
		p, err := b.client.Payment(ctx, id)
		if err != nil {
			return err
		}
		if p.Status == "succeeded" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ctx.Err()
}

// startCeiling serves the bare handler on loopback against the server's database and returns
// the request that loads it as create is loaded, and how to stop it.
func (b *bench) startCeiling(db *store.DB, merchantID string, stderr io.Writer) (benchOp, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: web.Ceiling(db.Gateway(), merchantID), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String() + "/ceiling"
	fmt.Fprintf(stderr, "ceiling: the same writes from a bare handler on the %s database\n", db.Dialect())
	op := func(ctx context.Context, stats map[string]*opStats) error {
		// The same request as create's, signed the same way, so that the load generator spends
		// as much on each; the bare handler ignores it.
		order := "ceiling-" + b.run0 + "-" + strconv.FormatInt(b.seq.Add(1), 36)
		body, _ := json.Marshal(client.PaymentParams{MerchantOrderNo: order, Amount: 1099, Currency: "CNY",
			Description: "bench", Scene: "qr", Channel: "mockpay"})
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		b.client.SignRequest(req, body)
		resp, err := b.http.Do(req)
		if err == nil {
			var p client.Payment
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				err = fmt.Errorf("ceiling answered %d", resp.StatusCode)
			} else {
				err = json.Unmarshal(raw, &p)
			}
		}
		b.record(ctx, stats["ceiling"], time.Since(start), err)
		return err
	}
	return op, func() { srv.Close() }, nil
}

// printBench prints the results as a table.
func printBench(w io.Writer, r benchResult) {
	fmt.Fprintf(w, "%-8s %9s %10s %9s %9s %9s %7s\n", "op", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors")
	names := append(slices.Clone(benchOps), "")
	for _, name := range names {
		o, ok := r.Operations[name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%-8s %9d %10.1f %9.2f %9.2f %9.2f %7d\n", name, o.Count, o.RPS, o.P50, o.P95, o.P99, o.Errors)
		if o.LastError != "" {
			fmt.Fprintf(w, "         last error: %s\n", o.LastError)
		}
		if strings.Contains(o.LastError, "rate_limited") {
			fmt.Fprintf(w, "         (the server's --rate-limit refused requests: start it with a higher one to measure it)\n")
		}
	}
	if d := r.Drain; d != nil {
		state := "drained"
		if !d.Drained {
			state = "NOT drained"
		}
		fmt.Fprintf(w, "at the stop: %d callbacks and %d webhooks outstanding, %s in %.1f s\n",
			d.CallbacksAtStop, d.WebhooksAtStop, state, d.Seconds)
		if d.FlowRPS > 0 {
			fmt.Fprintf(w, "flow: %.1f payments/s paid end to end (created, paid, called back, webhook acknowledged)\n", d.FlowRPS)
		}
	}
	if r.Ceiling != nil {
		c := r.Ceiling
		fmt.Fprintf(w, "%-8s %9d %10.1f %9.2f %9.2f %9.2f %7d\n", "ceiling", c.Count, c.RPS, c.P50, c.P95, c.P99, c.Errors)
		if r.Ratio > 0 {
			fmt.Fprintf(w, "create / ceiling = %.2f\n", r.Ratio)
		} else {
			fmt.Fprintf(w, "create / ceiling: measured with --mix create=1 only\n")
		}
	}
}
