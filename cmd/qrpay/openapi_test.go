package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/qrpay/qrpay/web"
)

// The OpenAPI document cannot drift from the handlers: every request the test suite makes to
// /v1 through a test app's client goes through openAPIChecker, which checks the answer (its
// status must be documented and its body match the schema) and, when the server accepted the
// request, the request itself (a request the server takes must be one the document allows).
// A mismatch fails the test that made the request.

// openAPIServer is the server the checker matches requests against.
const openAPIServer = "http://qrpay.test"

var (
	openAPIOnce   sync.Once
	openAPIRouter routers.Router
	openAPIErr    error
)

func loadOpenAPI() (routers.Router, error) {
	openAPIOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(web.OpenAPI())
		if err != nil {
			openAPIErr = fmt.Errorf("load: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			openAPIErr = fmt.Errorf("the document is invalid: %w", err)
			return
		}
		// Test servers listen on random ports: requests are matched as if sent to this one.
		doc.Servers = openapi3.Servers{{URL: openAPIServer}}
		openAPIRouter, openAPIErr = legacy.NewRouter(doc)
	})
	return openAPIRouter, openAPIErr
}

// openAPIChecker is an http.RoundTripper that validates /v1 traffic against the document.
type openAPIChecker struct {
	t    testing.TB
	next http.RoundTripper
}

func (c *openAPIChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/v1/") {
		return resp, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if verr := checkOpenAPI(req, reqBody, resp, respBody); verr != nil {
		c.t.Errorf("OpenAPI: %s %s -> %d: %v", req.Method, req.URL.RequestURI(), resp.StatusCode, verr)
	}
	return resp, nil
}

// checkOpenAPI validates one exchange.
func checkOpenAPI(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	router, err := loadOpenAPI()
	if err != nil {
		return err
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	r.URL.Scheme, r.URL.Host, r.Host = "http", strings.TrimPrefix(openAPIServer, "http://"), strings.TrimPrefix(openAPIServer, "http://")
	route, params, err := router.FindRoute(r)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnauthorized {
			return nil // an unknown path is the server's 404 error object, checked elsewhere
		}
		return fmt.Errorf("the route is not documented: %w", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if resp.StatusCode/100 == 2 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("the server accepted a request the document forbids: %w", err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("the answer does not match the document: %w", err)
	}
	return nil
}

// TestOpenAPIDocument: the served document is valid OpenAPI 3 and documents every /v1 route the
// server has.
func TestOpenAPIDocument(t *testing.T) {
	if _, err := loadOpenAPI(); err != nil {
		t.Fatal(err)
	}
	ta := startApp(t, "sqlite", appOptions{})
	resp, err := http.Get(ta.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, web.OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json: %d", resp.StatusCode)
	}
	doc, _ := openapi3.NewLoader().LoadFromData(body)
	for _, r := range ta.App.web.Routes() {
		if !strings.HasPrefix(r.Path, "/v1/") || strings.HasSuffix(r.Path, "*") {
			continue
		}
		path := openAPIPath(r.Path)
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is served but not documented", r.Method, path)
		}
	}
}

// openAPIPath turns Echo's /v1/payments/:id into OpenAPI's /v1/payments/{id}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}
