package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// funcs are the template helpers that need no request.
var funcs = template.FuncMap{
	"money": func(amount int64, cur qrpay.Currency) string {
		return qrpay.Money{Amount: amount, Currency: cur}.String()
	},
	"yuan":  func(amount int64) string { return qrpay.FormatMinor(amount, 2) },
	"json":  func(b []byte) string { return string(b) },
	"add":   func(a, b int) int { return a + b },
	"asset": assetURL,
	"short": func(s string, n int) string {
		if len([]rune(s)) <= n {
			return s
		}
		return string([]rune(s)[:n]) + "…"
	},
}

// parsePages parses each page template with the layout. Every file in templates/ except
// layout.html is a page; a page that does not parse stops the server from starting.
func parsePages() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		body, err := fs.ReadFile(templateFS, f)
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("layout: %w", err)
		}
		if _, err := t.New(name).Parse(string(body)); err != nil {
			return nil, fmt.Errorf("page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page template sees: the request's language, session and CSRF token, and
// the page's own data.
type view struct {
	Lang      string
	Title     string
	CSRF      string
	User      *merchant.User
	Terminal  *merchant.Terminal
	Merchant  *merchant.Merchant
	Flash     string
	Error     string
	Errors    map[string]string
	Data      any
	Scripts   []string // page scripts under static/
	PublicURL string
	Path      string
	zone      *time.Location
	Now       time.Time
}

// T translates a message key into the page's language.
func (v *view) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Date formats a time in the settlement zone.
func (v *view) Date(t any) string {
	switch x := t.(type) {
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.In(v.zone).Format("2006-01-02 15:04:05")
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.In(v.zone).Format("2006-01-02 15:04:05")
	}
	return ""
}

// Day formats a time as a date in the settlement zone.
func (v *view) Day(t time.Time) string { return t.In(v.zone).Format("2006-01-02") }

// IsOperator reports whether the page's user works for the acquirer.
func (v *view) IsOperator() bool { return v.User != nil && v.User.IsOperator() }

// IsOwner reports whether the page's user owns the merchant.
func (v *view) IsOwner() bool { return v.User != nil && v.User.Role == merchant.RoleOwner }

// Other is the language the switch offers.
func (v *view) Other() string {
	if v.Lang == LangEN {
		return LangZH
	}
	return LangEN
}

// newView starts a page's view from the request.
func (s *Server) newView(c echo.Context, titleKey string, data any) *view {
	v := &view{Lang: langOf(c), Data: data, PublicURL: s.PublicURL, Path: c.Request().URL.Path, zone: s.Zone, Now: s.Clock.Now()}
	v.Title = v.T(titleKey)
	if sess := sessionOf(c); sess != nil {
		v.CSRF = sess.CSRFToken
		v.User, v.Terminal = sess.User, sess.Terminal
	} else {
		v.CSRF = anonCSRF(c)
	}
	if m, ok := c.Get("merchant").(*merchant.Merchant); ok {
		v.Merchant = m
	}
	return v
}

// render writes a page.
func (s *Server) render(c echo.Context, status int, page string, v *view) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("no page template %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, page, v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// renderError writes the error page.
func (s *Server) renderError(c echo.Context, status int, msg string) {
	v := s.newView(c, "error.title", nil)
	switch status {
	case http.StatusNotFound:
		v.Error = v.T("error.404")
	case http.StatusForbidden:
		v.Error = v.T("error.403")
		if msg != "" && msg != "Forbidden." {
			v.Error = msg
		}
	case http.StatusInternalServerError:
		v.Error = v.T("error.500")
	default:
		v.Error = msg
	}
	if err := s.render(c, status, "error", v); err != nil {
		c.String(status, v.Error)
	}
}

// assetHashes caches the content hash of each static file.
var assetHashes sync.Map

// assetURL returns a static file's URL with its content hash, so that a new build busts caches.
func assetURL(name string) string {
	if h, ok := assetHashes.Load(name); ok {
		return "/static/" + name + "?v=" + h.(string)
	}
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil {
		return "/static/" + name
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:6])
	assetHashes.Store(name, h)
	return "/static/" + name + "?v=" + h
}

// handleStatic serves the embedded assets; their URLs carry a content hash, so they may be
// cached for a year.
func (s *Server) handleStatic(c echo.Context) error {
	name := strings.TrimPrefix(c.Param("*"), "/")
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil || strings.Contains(name, "..") {
		return qrpay.NotFound("file")
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	case ".png":
		ct = "image/png"
	}
	if c.QueryParam("v") != "" {
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	return c.Blob(http.StatusOK, ct, b)
}
