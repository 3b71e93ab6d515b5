package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Helpers of the merchants' end-to-end tests: the operator API, and a browser-like page client
// with cookies and CSRF tokens.

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
