package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/web"
)

// serveFlags are serve's flags.
type serveFlags struct {
	dbFlags
	addr          string
	publicURL     string
	demo          bool
	migrate       bool
	counterWait   time.Duration
	workers       int
	hookWorkers   int
	channels      string
	prefixes      string
	mockLatency   time.Duration
	mockTimeout   time.Duration
	acquirerIIN   string
	shutdownWait  time.Duration
	sweepEvery    time.Duration
	passwordDelay time.Duration
	rateLimit     float64
	readTimeout   time.Duration
	writeTimeout  time.Duration
	maxConns      int
	debugAddr     string
	settle        settlementFlags
}

func (f *serveFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
}) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&f.publicURL, "public-url", "", "URL where customers, providers and merchants reach this server (default http://<addr>)")
	fs.BoolVar(&f.demo, "demo", false, "create the demo operator, merchant, store, terminal, sticker and keys once, and write <data-dir>/demo.json")
	fs.BoolVar(&f.migrate, "migrate", false, "apply migrations at start on PostgreSQL too (the embedded database always migrates)")
	fs.DurationVar(&f.counterWait, "counter-wait", 20*time.Second, "how long a payment-code request waits for a final answer before reversing")
	fs.IntVar(&f.workers, "workers", 10, "background jobs (sweeps, refund checks, settlement) run at once by this process")
	fs.IntVar(&f.hookWorkers, "webhook-workers", 32, "webhook deliveries sent at once by this process (a queue of their own)")
	fs.StringVar(&f.channels, "channels", "", "JSON file of live channel accounts (alipay, wechat, unionpay); see the README")
	fs.StringVar(&f.prefixes, "payment-code-prefixes", "", `payment-code routing table: "wechat=^1[0-5]\d{16}$;alipay=...;unionpay=..." (default: DESIGN.md's)`)
	fs.DurationVar(&f.mockLatency, "mockpay-latency", 0, "extra latency of every mock provider answer")
	fs.DurationVar(&f.mockTimeout, "mockpay-timeout", 5*time.Second, "how long the gateway waits for the mock provider")
	fs.DurationVar(&f.passwordDelay, "mockpay-password-delay", 10*time.Second, "how long the mock customer takes to enter a password (amounts ending 02)")
	fs.StringVar(&f.acquirerIIN, "acquirer-iin", "20310418", "this acquirer's IIN in EMV tag 15, to recognise its own codes")
	fs.DurationVar(&f.shutdownWait, "shutdown-wait", 30*time.Second, "how long a shutdown waits for requests and jobs in flight")
	fs.DurationVar(&f.sweepEvery, "sweep-every", 2*time.Second, "how often due payments are swept (expiry, polling, reversal)")
	fs.Float64Var(&f.rateLimit, "rate-limit", 2000, "requests per second per API key (burst twice that)")
	fs.DurationVar(&f.readTimeout, "read-timeout", 30*time.Second, "longest time to read a request")
	fs.DurationVar(&f.writeTimeout, "write-timeout", 60*time.Second, "longest time to write a response")
	fs.IntVar(&f.maxConns, "db-max-conns", 0, "database pool size (PostgreSQL default 16; SQLite readers default 4)")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; keep it private")
}

// serveHooks lets tests in this package see the app a serve on an address wired (by address).
var serveHooks sync.Map

// app is everything serve wires together.
type app struct {
	db         *store.DB
	merchants  *merchant.Service
	gateway    *gateway.Service
	mock       *mockpay.Server
	settlement *settlement.Service
	web        *web.Server
	log        *slog.Logger
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	var f serveFlags
	f.dbFlags.register(fs)
	f.register(fs)
	f.settle.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments (got %q)", fs.Arg(0))
	}
	if f.workers < 1 || f.workers > 1000 {
		return usagef("--workers must be 1 to 1000")
	}
	if f.hookWorkers < 1 || f.hookWorkers > 1000 {
		return usagef("--webhook-workers must be 1 to 1000")
	}
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log := f.logger(logOut)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	defer ln.Close()
	if f.publicURL == "" {
		f.publicURL = "http://" + hostPort(ln.Addr())
	}
	f.publicURL = strings.TrimRight(f.publicURL, "/")

	a, err := wire(ctx, &f, ln, log)
	if err != nil {
		return err
	}
	defer a.db.Close()
	if hook, ok := serveHooks.Load(f.addr); ok {
		hook.(func(*app))(a)
	}
	if f.demo {
		d, err := ensureDemo(ctx, a, f.dataDir, f.publicURL)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		a.web.DemoWebhookSecret = d.WebhookSecret
		printDemo(stdout, d, f.dataDir)
	}

	srv := &http.Server{
		Handler:           a.web.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       f.readTimeout,
		WriteTimeout:      f.writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	mockCtx, stopMock := context.WithCancel(context.WithoutCancel(ctx))
	mockDone := make(chan struct{})
	go func() { a.mock.Run(mockCtx); close(mockDone) }()

	if f.debugAddr != "" {
		go func() {
			dbg := &http.Server{Addr: f.debugAddr, Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
			if err := dbg.ListenAndServe(); err != nil {
				log.Warn("debug server", "err", err)
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("qrpay serving", "addr", ln.Addr().String(), "public_url", f.publicURL, "database", a.db.Dialect())

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			stopMock()
			return err
		}
	case <-ctx.Done():
	}
	// Stop accepting, finish requests in flight, then the mock provider and the job queue.
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownWait)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at shutdown", "err", err)
	}
	stopMock()
	<-mockDone
	if err := a.db.StopJobs(sctx); err != nil {
		log.Warn("jobs still running at shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// pprofMux serves Go's profiler.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// hostPort is the address a listener can be reached at on this machine.
func hostPort(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

// wire opens and migrates the database and builds the services, the job queue and the web server.
func wire(ctx context.Context, f *serveFlags, ln net.Listener, log *slog.Logger) (*app, error) {
	zone, err := f.location()
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, store.Config{DatabaseURL: f.databaseURL, DataDir: f.dataDir, Logger: log, MaxConns: f.maxConns})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*app, error) { db.Close(); return nil, err }
	if db.Dialect() == store.SQLite || f.migrate {
		if err := db.Migrate(ctx); err != nil {
			return fail(err)
		}
	} else if n, err := db.Pending(ctx); err != nil || n > 0 {
		return fail(qrpay.Errorf(qrpay.EINVALIDSTATE, "The database needs migrating: run qrpay migrate (or serve --migrate). %v", err))
	}
	sealer, err := f.sealer(log)
	if err != nil {
		return fail(err)
	}
	a := &app{db: db, log: log}
	a.merchants = &merchant.Service{Store: db.Merchants(), Sealer: sealer, Zone: zone,
		DocumentsDir: filepath.Join(f.dataDir, "documents")}
	mockSecret, err := a.merchants.SigningKey(ctx, "mockpay")
	if err != nil {
		return fail(err)
	}
	self := "http://" + hostPort(ln.Addr())
	a.mock = &mockpay.Server{Store: db.Mock(), Secret: mockSecret, Log: log, PublicURL: f.publicURL, Zone: zone,
		Latency: f.mockLatency, PasswordDelay: f.passwordDelay}
	accounts := []*gateway.Account{{ID: "mockpay", Channel: gateway.ChannelMockpay, Weight: 1,
		Provider: mockpay.NewProvider(self+"/mockpay", mockSecret, f.mockTimeout, nil)}}
	live, err := loadChannels(f.channels, zone)
	if err != nil {
		return fail(err)
	}
	accounts = append(accounts, live...)
	var prefixes []gateway.PrefixRule
	if f.prefixes != "" {
		if prefixes, err = gateway.ParsePrefixRules(f.prefixes); err != nil {
			return fail(err)
		}
	}
	router, err := gateway.NewRouter(accounts, prefixes, "mockpay", nil)
	if err != nil {
		return fail(err)
	}
	a.gateway = &gateway.Service{Store: db.Gateway(), Router: router, Log: log, Secrets: a.merchants,
		Config: gateway.Config{PublicURL: f.publicURL, CounterWait: f.counterWait, Zone: zone}}
	registry := prometheus.NewRegistry()
	registry.MustRegister(backlogCollector{db})
	a.web, err = web.New(&web.Server{Gateway: a.gateway, Merchants: a.merchants, Mock: a.mock, Ready: db, Log: log,
		Config: web.Config{PublicURL: f.publicURL, Zone: zone, DemoWebhooks: f.demo, RateLimit: f.rateLimit,
			AcquirerIIN: f.acquirerIIN}}, registry)
	if err != nil {
		return fail(err)
	}
	a.gateway.Metrics = a.web.Metrics()
	cal, err := f.settle.calendar(zone)
	if err != nil {
		return fail(err)
	}
	a.settlement = newSettlementService(db, a.gateway, a.merchants, cal, f.settle, log)
	a.web.UseSettlement(a.settlement)
	settlementJobs(db, a.settlement)

	store.Handle(db, a.gateway.DeliverWebhookJob, store.HandlerOptions{Backoff: gateway.WebhookBackoff, Timeout: 30 * time.Second})
	store.Handle(db, a.gateway.CheckRefundJob, store.HandlerOptions{})
	// A sweep left running by a process that died blocks the next ones until River rescues it,
	// which it does only after this timeout: keep it short. A sweep cut off here stops early;
	// the payments it leased are checked by a later one.
	store.Handle(db, a.gateway.SweepJob, store.HandlerOptions{Timeout: time.Minute})
	store.Handle(db, a.gateway.CleanupJob, store.HandlerOptions{})
	db.Every(f.sweepEvery, func() qrpay.Job { return gateway.Sweep{} })
	db.Every(10*time.Minute, func() qrpay.Job { return gateway.Cleanup{} })
	if err := db.StartJobs(context.WithoutCancel(ctx), store.JobsConfig{Workers: f.workers,
		QueueWorkers: map[string]int{gateway.WebhookQueue: f.hookWorkers}}); err != nil {
		return fail(err)
	}
	return a, nil
}
