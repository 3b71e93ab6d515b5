package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// testApp is a whole qrpay serving on a loopback port, as `qrpay serve --demo` would, on a
// database of the test's own.
type testApp struct {
	URL     string
	Demo    *demoFile
	Client  *client.Client
	App     *app
	DataDir string
	// DatabaseURL is the PostgreSQL database, for a second process to share.
	DatabaseURL string
	Output      *lockedBuffer
	stop        func()
}

// appOptions tune a test server.
type appOptions struct {
	counterWait   time.Duration
	passwordDelay time.Duration
	mockTimeout   time.Duration
	sweepEvery    time.Duration
	databaseURL   string // reuse a database (several processes); empty makes one
	dataDir       string
	extraArgs     []string
}

// startApp serves qrpay for the test on the dialect's database and waits until it is ready.
func startApp(t testing.TB, dialect string, o appOptions) *testApp {
	t.Helper()
	dataDir := o.dataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	dbURL := o.databaseURL
	if dialect == store.Postgres && dbURL == "" {
		dbURL = storetest.NewPostgres(t)
	}
	if dbURL != "" && os.Getenv("QRPAY_DATA_KEY") == "" {
		t.Setenv("QRPAY_DATA_KEY", testDataKey)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"--demo", "--addr", addr, "--data-dir", dataDir, "--log-level", "warn"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL, "--migrate")
	}
	if o.counterWait > 0 {
		args = append(args, "--counter-wait", o.counterWait.String())
	}
	if o.passwordDelay > 0 {
		args = append(args, "--mockpay-password-delay", o.passwordDelay.String())
	}
	if o.mockTimeout > 0 {
		args = append(args, "--mockpay-timeout", o.mockTimeout.String())
	}
	if o.sweepEvery > 0 {
		args = append(args, "--sweep-every", o.sweepEvery.String())
	}
	args = append(args, o.extraArgs...)
	wired := make(chan *app, 1)
	serveHooks.Store(addr, func(a *app) { wired <- a })
	t.Cleanup(func() { serveHooks.Delete(addr) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &lockedBuffer{}
	go func() { done <- run(ctx, append([]string{"serve"}, args...), out, out) }()
	ta := &testApp{URL: "http://" + addr, DataDir: dataDir, DatabaseURL: dbURL}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not become ready:\n%s", out.String())
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(ta.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if b, err := os.ReadFile(filepath.Join(dataDir, "demo.json")); resp.StatusCode == 200 && err == nil {
				var d demoFile
				if json.Unmarshal(b, &d) == nil && d.BaseURL == ta.URL {
					ta.Demo = &d
					break
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ta.Client = client.New(ta.URL, ta.Demo.APIKeyID, ta.Demo.APISecret)
	ta.Client.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: &openAPIChecker{t: t, next: http.DefaultTransport}}
	ta.App = <-wired
	ta.Output = out
	var once sync.Once
	ta.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Errorf("serve did not stop within 60 s")
			}
		})
	}
	t.Cleanup(ta.stop)
	return ta
}

// testDataKey is a fixed data key for tests that share a PostgreSQL database between processes.
const testDataKey = "test1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"

// lockedBuffer collects a server's output safely.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// post sends JSON without a signature (the mock wallet, callbacks) and decodes the answer.
func post(t testing.TB, url string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("POST %s: %d %s", url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// waitStatus polls a payment until it reaches one of the statuses, failing after timeout.
func waitStatus(t testing.TB, c *client.Client, id string, timeout time.Duration, want ...string) *client.Payment {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *client.Payment
	for time.Now().Before(deadline) {
		p, err := c.Payment(context.Background(), id)
		if err != nil {
			t.Fatalf("get payment: %v", err)
		}
		last = p
		for _, w := range want {
			if p.Status == w {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("payment %s is %s after %s, want %v", id, last.Status, timeout, want)
	return nil
}

// webhookSink is a merchant's webhook receiver for tests: it verifies each webhook's signature
// and keeps the verified events.
type webhookSink struct {
	mu       sync.Mutex
	secret   string
	events   []client.Event
	rejected int
	fail     bool
	srv      *http.Server
	URL      string
}

func newWebhookSink(t testing.TB) *webhookSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &webhookSink{URL: "http://" + ln.Addr().String() + "/hooks"}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
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

// subscribeSink starts a webhook receiver and registers it as an endpoint of c's merchant.
func subscribeSink(t testing.TB, c *client.Client) (*webhookSink, *client.WebhookEndpoint) {
	t.Helper()
	sink := newWebhookSink(t)
	ep, err := c.CreateWebhookEndpoint(context.Background(), sink.URL)
	if err != nil {
		t.Fatal(err)
	}
	sink.setSecret(ep.Secret)
	return sink, ep
}

func (s *webhookSink) setSecret(secret string) {
	s.mu.Lock()
	s.secret = secret
	s.mu.Unlock()
}

// waitEvent waits for a verified event of a type about an object.
func (s *webhookSink) waitEvent(t testing.TB, typ, objectID string, timeout time.Duration) client.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, e := range s.events {
			var obj struct {
				ID string `json:"id"`
			}
			json.Unmarshal(e.Data.Object, &obj)
			if e.Type == typ && obj.ID == objectID {
				s.mu.Unlock()
				return e
			}
		}
		s.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no verified %s webhook for %s within %s", typ, objectID, timeout)
	return client.Event{}
}

// merchantFilterAll lists every merchant.
func merchantFilterAll() merchant.Filter { return merchant.Filter{Limit: 100} }

// errorsAs is errors.As for the tests' client errors.
func errorsAs(err error, target **client.Error) bool { return errors.As(err, target) }
