// Package web is the only package that speaks HTTP to people and programs: the merchant API
// (/v1), the operator API (/admin/v1), provider callbacks, the mock provider's routes, and the
// server-rendered pages (dashboard, operator console, counter and customer cashiers, mock
// wallet). It is also the only package that imports Echo.
package web

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/qr"
)

// Readiness reports whether the server can do its work (the database answers, migrations are
// applied); store.DB implements it.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Config tunes the server.
type Config struct {
	// PublicURL is where people and providers reach this server.
	PublicURL string
	// BodyLimit bounds request bodies (default 1 MiB; image uploads get 10 MiB).
	BodyLimit int64
	// Zone is the settlement zone, in which pages show dates.
	Zone *time.Location
	// DemoWebhooks serves /demo/webhooks, a receiver for the demo merchant's events.
	DemoWebhooks bool
	// RateLimit is the sustained requests per second allowed per API key (default 200, burst
	// twice that); RateLimitLogin the login attempts per minute per address (default 20).
	RateLimit      float64
	RateLimitLogin int
	// AcquirerIIN identifies this acquirer's own EMV codes for scan verification.
	AcquirerIIN string
	// DemoWebhookSecret verifies what /demo/webhooks receives.
	DemoWebhookSecret string
	// CookieSecure marks session cookies Secure (defaults to PublicURL being https).
	CookieSecure bool
}

// Server is the HTTP server's handler and its dependencies.
type Server struct {
	Gateway   *gateway.Service
	Merchants *merchant.Service
	Mock      *mockpay.Server
	Ready     Readiness
	Log       *slog.Logger
	Clock     qrpay.Clock
	Config

	echo     *echo.Echo
	pages    map[string]*template.Template
	metrics  *Metrics
	qrCache  *qr.Cache
	limiter  *limiter
	logins   *limiter
	demoHook *demoReceiver
	extra    []func(*echo.Echo)
	// pageGroup carries the page middleware (session, CSRF) for features' pages; apiGroup the
	// merchant API's authentication.
	pageGroup *echo.Group
	apiGroup  *echo.Group
}

// New builds the server; Handler serves it. Registry receives the server's metrics (nil for a
// private registry).
func New(s *Server, registry *prometheus.Registry) (*Server, error) {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Clock == nil {
		s.Clock = qrpay.SystemClock{}
	}
	if s.BodyLimit <= 0 {
		s.BodyLimit = 1 << 20
	}
	if s.Zone == nil {
		s.Zone = time.UTC
	}
	if s.RateLimit <= 0 {
		s.RateLimit = 200
	}
	if s.RateLimitLogin <= 0 {
		s.RateLimitLogin = 20
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(registry)
	s.qrCache = qr.NewCache(32 << 20)
	s.limiter = newLimiter(s.RateLimit, 2*s.RateLimit)
	s.logins = newLimiter(float64(s.RateLimitLogin)/60, float64(s.RateLimitLogin))
	if s.DemoWebhooks {
		s.demoHook = &demoReceiver{}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.echo = s.routes(registry)
	return s, nil
}

// Metrics returns the gateway's metrics sink, for gateway.Service.Metrics.
func (s *Server) Metrics() gateway.Metrics { return s.metrics }

// Route is one route the server serves.
type Route struct{ Method, Path string }

// Routes lists the server's routes (the OpenAPI test checks the /v1 ones are documented).
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.echo.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	if s.Mock == nil {
		return s.echo
	}
	// The mock provider's API is another service that happens to share the port: the adapter's
	// calls go straight to it, without the gateway's middleware (its logs and metrics are the
	// gateway's own calls to it, recorded as provider calls).
	mock := s.Mock.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/mockpay/api/") && r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			mock.ServeHTTP(w, r)
			return
		}
		s.echo.ServeHTTP(w, r)
	})
}

// routes builds the router: one place that lists every route.
func (s *Server) routes(registry *prometheus.Registry) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID, s.recoverPanic, s.accessLog, s.secureHeaders, s.bodyLimit, s.namedParams)

	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/metrics", echo.WrapHandler(metricsHandler(registry)))
	e.GET("/static/*", s.handleStatic)
	e.GET("/qr/:file", s.handleQRImage)

	s.registerAPIRoutes(e)
	s.registerCallbackRoutes(e)
	s.registerMockRoutes(e)
	s.registerPageRoutes(e)
	admin := e.Group("/admin/v1", s.adminAuth)
	s.registerAdminRoutes(admin)
	s.registerConsoleRoutes(s.pageGroup)
	s.registerSettlementRoutes(s.apiGroup, admin, s.pageGroup)
	for _, f := range s.extra {
		f(e)
	}
	return e
}

// Extend adds routes registered by a feature outside this file's list, before New. It lets a
// package-level file (settlement pages, say) hook in without touching the router.
func (s *Server) Extend(f func(*echo.Echo)) { s.extra = append(s.extra, f) }

func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(c echo.Context) error {
	if s.Ready != nil {
		if err := s.Ready.Ready(c.Request().Context()); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
