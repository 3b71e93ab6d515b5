package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/qrpay/qrpay/store/storetest"
)

// TestBenchCommand loads a server with every operation of the mix for a moment and checks what
// `qrpay bench --json` reports: every operation ran without errors, the callbacks and webhooks
// caught up after the stop, and the ceiling was measured on the server's own database.
func TestBenchCommand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		base := []string{"bench", "--target", ta.URL, "--demo", filepath.Join(ta.DataDir, "demo.json")}
		if ta.DatabaseURL != "" {
			base = append(base, "--database-url", ta.DatabaseURL)
		}
		args := append(slices.Clone(base), "--duration", "2s", "--connections", "4", "--mix", "create=1,pay=2,query=1,refund=1",
			"--json", "--drain-wait", "30s")
		var out, errOut lockedBuffer
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("bench: %v\n%s", err, errOut.String())
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
			t.Fatalf("%v:\n%s", err, out.String())
		}
		for _, op := range benchOps {
			o := r.Operations[op]
			if o.Count == 0 || o.Errors != 0 || o.RPS <= 0 || o.P50 <= 0 || o.P99 < o.P50 {
				t.Errorf("%s: %+v", op, o)
			}
		}
		if d := r.Drain; d == nil || !d.Drained || d.FlowRPS <= 0 {
			t.Errorf("drain: %+v", d)
		}
		// A mixed load is not comparable with the ceiling's creates: no ratio.
		if c := r.Ceiling; c == nil || c.Count == 0 || c.Errors != 0 || r.Ratio != 0 {
			t.Errorf("ceiling %+v, ratio %v", c, r.Ratio)
		}
		// Creates alone are, and the text output says so.
		var text lockedBuffer
		args = append(slices.Clone(base), "--duration", "1s", "--connections", "2", "--mix", "create=1", "--drain-wait", "0")
		if err := run(context.Background(), args, &text, &errOut); err != nil {
			t.Fatalf("bench: %v\n%s", err, errOut.String())
		}
		if !regexp.MustCompile(`(?m)^ceiling +[1-9]`).MatchString(text.String()) ||
			!regexp.MustCompile(`(?m)^create / ceiling = [0-9]+\.[0-9]{2}$`).MatchString(text.String()) {
			t.Errorf("a create-only run prints no ratio:\n%s", text.String())
		}
		// After the drain, /metrics shows the traffic and an empty backlog.
		resp, err := http.Get(ta.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics := string(raw)
		for _, want := range []string{
			"\nqrpay_webhook_backlog 0\n",
			`qrpay_http_requests_total{method="POST",route="/v1/payments",status="201"}`,
			`qrpay_provider_call_duration_seconds_count{channel="mockpay",op="create_code",outcome="ok"}`,
			`qrpay_webhook_attempt_duration_seconds_count{result="delivered"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if !regexp.MustCompile(`\nqrpay_payments_total\{status="succeeded"\} [1-9]`).MatchString(metrics) {
			t.Errorf("/metrics counts no succeeded payment")
		}
	})
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--mix", "create=1,mine=2"},
		{"--mix", "create=0"},
		{"--connections", "0"},
		{"--duration", "soon"},
	} {
		var out, errOut lockedBuffer
		err := run(context.Background(), append([]string{"bench", "--key-id", "k", "--secret", "s", "--ceiling=false",
			"--drain-wait", "0"}, args...), &out, &errOut)
		var ue usageError
		if !errors.As(err, &ue) && exitCode(err, &errOut) != 2 {
			t.Errorf("%v: %v (want a usage error)", args, err)
		}
	}
}

// TestServeWorkersUsage: worker counts out of range are usage mistakes, refused before the
// server listens or opens a database.
func TestServeWorkersUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--workers", "0"},
		{"--workers", "-3"},
		{"--webhook-workers", "0"},
		{"--webhook-workers", "100000"},
	} {
		var out, errOut lockedBuffer
		err := run(context.Background(), append([]string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, args...), &out, &errOut)
		if code := exitCode(err, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "workers must be") {
			t.Errorf("%v: exit %d, %q (want a usage error)", args, code, errOut.String())
		}
	}
}

// TestBenchNamesTheRateLimit: a run the server's rate limit cut short says so, so that nobody
// takes its figures for the server's capacity.
func TestBenchNamesTheRateLimit(t *testing.T) {
	var out strings.Builder
	printBench(&out, benchResult{Operations: map[string]OpResult{
		"create": {Count: 10, RPS: 5, Errors: 3, LastError: "qrpay: 429 rate_limited: Too many requests for this API key; slow down."},
		"query":  {Count: 10, RPS: 5, Errors: 1, LastError: "qrpay: 404 not_found"},
	}})
	if n := strings.Count(out.String(), "--rate-limit"); n != 1 {
		t.Errorf("the hint appears %d times, want once (for create):\n%s", n, out.String())
	}
}
