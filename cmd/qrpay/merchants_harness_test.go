package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// Helpers of the merchants' end-to-end tests: the operator API, and a browser-like page client
// with cookies and CSRF tokens.

// startAppDocs is startApp with the application documents' directory wired as serve should
// wire it (<data-dir>/documents, see README-merchants): a hook sets it in serve's own goroutine
// after wire and before the server starts, unless wire already did. It mirrors startApp.
func startAppDocs(t testing.TB, dialect string, o appOptions) *testApp {
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
	args := []string{"--demo", "--addr", addr, "--data-dir", dataDir, "--log-level", "info"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL, "--migrate")
	}
	args = append(args, o.extraArgs...)
	wired := make(chan *app, 1)
	serveHooks.Store(addr, func(a *app) {
		if a.merchants.DocumentsDir == "" {
			a.merchants.DocumentsDir = filepath.Join(dataDir, "documents")
		}
		wired <- a
	})
	t.Cleanup(func() { serveHooks.Delete(addr) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &lockedBuffer{}
	go func() { done <- run(ctx, append([]string{"serve"}, args...), out, out) }()
	ta := &testApp{URL: "http://" + addr, DataDir: dataDir, Output: out}
	deadline := time.Now().Add(60 * time.Second)
	for ta.Demo == nil {
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
		if resp, err := http.Get(ta.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if b, err := os.ReadFile(filepath.Join(dataDir, "demo.json")); resp.StatusCode == 200 && err == nil {
				var d demoFile
				if json.Unmarshal(b, &d) == nil && d.BaseURL == ta.URL {
					ta.Demo = &d
					continue
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ta.Client = client.New(ta.URL, ta.Demo.APIKeyID, ta.Demo.APISecret)
	ta.App = <-wired
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

// adminCall sends an operator API request with the demo operator's token and decodes the answer
// into a generic map (or list).
func adminCall(t testing.TB, ta *testApp, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ta.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+ta.Demo.OperatorToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

// errOf returns an error object's code and param.
func errOf(m map[string]any) (code, param string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	param, _ = e["param"].(string)
	return
}

// str reads a string field of a decoded object.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// pageClient is a browser without JavaScript: cookies, redirects, and the CSRF token of the
// last page it read.
type pageClient struct {
	t    testing.TB
	base string
	http *http.Client
	csrf string
	body string
}

func newPageClient(t testing.TB, ta *testApp) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, base: ta.URL, http: &http.Client{Jar: jar}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (p *pageClient) keep(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.body = string(b)
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		p.csrf = m[1]
	}
	return resp.StatusCode, p.body
}

// get fetches a page (following redirects).
func (p *pageClient) get(path string) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.base+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.keep(resp)
}

// post submits a form with the page's CSRF token (unless form has its own _csrf).
func (p *pageClient) post(path string, form url.Values) (int, string) {
	p.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", p.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, p.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.keep(resp)
}

// postMultipart submits a multipart form with files.
func (p *pageClient) postMultipart(path string, fields map[string]string, files map[string][]byte) (int, string) {
	p.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if _, ok := fields["_csrf"]; !ok {
		w.WriteField("_csrf", p.csrf)
	}
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for k, data := range files {
		fw, _ := w.CreateFormFile(k, k+".bin")
		fw.Write(data)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, p.base+path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept", "text/html")
	resp, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.keep(resp)
}

// login logs the client in through the login form.
func (p *pageClient) login(login, password string) {
	p.t.Helper()
	p.get("/login")
	st, body := p.post("/login", url.Values{"login": {login}, "password": {password}})
	if st != http.StatusOK || strings.Contains(body, `id="login-form"`) {
		p.t.Fatalf("login %s: %d", login, st)
	}
}
