package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
)

// newBareServer is the web server with no services: enough for the middleware and the error
// handler, which every route shares.
func newBareServer(t *testing.T, extra func(e *echo.Echo)) *Server {
	t.Helper()
	s := &Server{}
	s.Extend(extra)
	srv, err := New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestErrorHandlerAndMiddleware(t *testing.T) {
	srv := newBareServer(t, func(e *echo.Echo) {
		e.GET("/v1/boom", func(c echo.Context) error { panic("kaboom: secret detail") })
		e.GET("/v1/err/:code", func(c echo.Context) error {
			return &qrpay.Error{Code: c.Param("code"), Message: "m", Param: "p"}
		})
		e.POST("/v1/echo", func(c echo.Context) error {
			b, err := readAll(c)
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, string(b))
		})
	})
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := do("GET", "/v1/boom", "")
	var eo ErrorObject
	if rec.Code != 500 || json.Unmarshal(rec.Body.Bytes(), &eo) != nil || eo.Error.Code != "internal" || strings.Contains(rec.Body.String(), "kaboom") {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
	for code, status := range statuses {
		rec := do("GET", "/v1/err/"+code, "")
		if rec.Code != status {
			t.Errorf("%s answered %d, want %d", code, rec.Code, status)
		}
		json.Unmarshal(rec.Body.Bytes(), &eo)
		if eo.Error.Code != code || (code != qrpay.EINTERNAL && eo.Error.Param != "p") {
			t.Errorf("%s: body %s", code, rec.Body)
		}
	}
	if len(statuses) != len(qrpay.Codes) {
		t.Fatalf("%d statuses for %d codes", len(statuses), len(qrpay.Codes))
	}
	rec = do("GET", "/v1/err/429", "")
	if rec.Header().Get("Retry-After") != "" {
		t.Fatal("Retry-After on a 500")
	}
	rec = do("GET", "/v1/err/rate_limited", "")
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("rate limited: %d %v", rec.Code, rec.Header())
	}
	rec = do("POST", "/v1/echo", strings.Repeat("x", 2<<20))
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("oversized: %d %.100s", rec.Code, rec.Body)
	}
	rec = do("GET", "/healthz/nothing", "")
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Fatalf("unknown route: %d %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	for _, k := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy", "X-Request-Id"} {
		if h.Get(k) == "" {
			t.Errorf("header %s missing", k)
		}
	}
	if srv := newBareServer(t, func(*echo.Echo) {}); srv == nil {
		t.Fatal("no server")
	}
}
