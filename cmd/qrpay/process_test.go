package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
)

// The tests of several nodes and of crashes run real `qrpay serve` processes: the test binary
// itself, started again with childEnv set, in which case TestMain runs qrpay's main instead of
// the tests. A child of a -race test binary is race-checked too.

// childEnv makes the test binary behave as the qrpay binary.
const childEnv = "QRPAY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// procOptions describe one `qrpay serve` process.
type procOptions struct {
	databaseURL string // empty: the embedded database in the data directory
	dataDir     string // empty: a temporary directory
	demo        bool
	args        []string // further flags
}

// qrpayProcess is a `qrpay serve` running as an operating-system process on a loopback port.
type qrpayProcess struct {
	t       testing.TB
	name    string
	URL     string
	Addr    string
	DataDir string
	args    []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error         // how the last run ended
	out     *lockedBuffer // stdout and stderr of every run
	runs    int
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess starts `qrpay serve` and waits until it is ready (and, with demo, has written
// demo.json for its address). It is killed when the test ends if still running.
func startProcess(t testing.TB, name string, o procOptions) *qrpayProcess {
	t.Helper()
	p := newProcess(t, name, o)
	p.start()
	p.waitReady(90 * time.Second)
	return p
}

// newProcess prepares a process without starting it.
func newProcess(t testing.TB, name string, o procOptions) *qrpayProcess {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	addr := freeAddr(t)
	p := &qrpayProcess{t: t, name: name, URL: "http://" + addr, Addr: addr, DataDir: o.dataDir, out: &lockedBuffer{}}
	p.args = []string{"serve", "--addr", addr, "--public-url", p.URL, "--data-dir", o.dataDir, "--log-level", "warn"}
	if o.databaseURL != "" {
		p.args = append(p.args, "--database-url", o.databaseURL, "--migrate")
	}
	if o.demo {
		p.args = append(p.args, "--demo")
	}
	p.args = append(p.args, o.args...)
	t.Cleanup(func() {
		p.kill()
		if out := p.out.String(); strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
			t.Errorf("%s reported a data race or a panic:\n%s", p.name, out)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, tail(p.out.String(), 6000))
		}
	})
	return p
}

// tail returns the end of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// start runs the process (again).
func (p *qrpayProcess) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	exe, err := os.Executable()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(exe, p.args...)
	cmd.Env = append(os.Environ(), childEnv+"=1", "QRPAY_DATA_KEY="+testDataKey)
	p.runs++
	fmt.Fprintf(p.out, "--- run %d of %s\n", p.runs, p.name)
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// running reports whether the process is alive.
func (p *qrpayProcess) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitReady waits for /readyz to answer 200 and, for a demo process, for demo.json naming
// this process's URL.
func (p *qrpayProcess) waitReady(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	demo := false
	for _, a := range p.args {
		demo = demo || a == "--demo"
	}
	for {
		if !p.running() {
			p.t.Fatalf("%s exited:\n%s", p.name, tail(p.out.String(), 6000))
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready within %s:\n%s", p.name, timeout, tail(p.out.String(), 6000))
		}
		if resp, err := hc.Get(p.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && (!demo || p.demoFile() != nil) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// demoFile reads the demo.json this process wrote, or nil.
func (p *qrpayProcess) demoFile() *demoFile {
	b, err := os.ReadFile(filepath.Join(p.DataDir, "demo.json"))
	if err != nil {
		return nil
	}
	var d demoFile
	if json.Unmarshal(b, &d) != nil || d.BaseURL != p.URL {
		return nil
	}
	return &d
}

// kill ends the process with SIGKILL (no shutdown at all) and waits for it to be gone.
func (p *qrpayProcess) kill() {
	p.signal(syscall.SIGKILL, 30*time.Second)
}

// stop ends the process gracefully with SIGTERM and returns how it exited (nil for status 0).
func (p *qrpayProcess) stop() error {
	p.signal(syscall.SIGTERM, 60*time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

func (p *qrpayProcess) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-done
		p.t.Errorf("%s did not end within %s of %v", p.name, wait, sig)
	}
}

// client returns an API client of this process with a key.
func (p *qrpayProcess) client(keyID, secret string) *client.Client {
	c := client.New(p.URL, keyID, secret)
	c.HTTP = &http.Client{Timeout: 60 * time.Second}
	return c
}

// ready reports /readyz's answer, or 0 when the process does not answer.
func (p *qrpayProcess) ready(ctx context.Context) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/readyz", nil)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
