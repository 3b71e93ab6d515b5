package web

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/qrpay/qrpay"
)

// requestID gives every request an id (the caller's X-Request-Id if it is sane), in the response
// header, the logs and the request's context.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n\"") {
			id = qrpay.NewID("req", s.Clock.Now())
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		ctx := qrpay.WithRequestID(c.Request().Context(), id)
		ctx = qrpay.WithRemoteAddr(ctx, c.RealIP())
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// recoverPanic turns a panic into a logged internal error with the error object, never a stack
// trace to the client.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = qrpay.Errorf(qrpay.EINTERNAL, "Internal error.")
			}
		}()
		return next(c)
	}
}

// accessLog writes one JSON log line per request and feeds the request metrics. The route is
// the pattern (/v1/payments/:id), so metrics stay bounded.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		s.metrics.request(c.Request().Method, route, status, d)
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			return nil
		}
		path := c.Request().URL.Path
		if strings.HasPrefix(route, "/apply/status/") || strings.HasPrefix(route, "/p/") {
			path = route // the path carries a credential (a status link, a sticker token)
		}
		level := levelFor(status)
		if strings.HasPrefix(route, "/mockpay/api/") && level == slog.LevelInfo {
			level = slog.LevelDebug // the mock provider's own traffic echoes the gateway's
		}
		s.Log.LogAttrs(c.Request().Context(), level, "request",
			slogString("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slogString("method", c.Request().Method), slogString("route", route),
			slogString("path", path), slogInt("status", status),
			slogInt("bytes", int(c.Response().Size)), slogDuration("duration", d),
			slogString("remote", c.RealIP()))
		return nil
	}
}

// secureHeaders sets the security headers of every response. Pages may only load their own
// scripts, styles and images.
func (s *Server) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		if strings.HasPrefix(s.PublicURL, "https://") {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// namedParams answers 404 when a named path parameter is empty (/admin/v1/merchants//users/u/
// disable): Echo matches an empty segment, and no handler should look up or act on an empty id.
func (s *Server) namedParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		names := c.ParamNames()
		for i, v := range c.ParamValues() {
			if v == "" && i < len(names) && names[i] != "*" {
				return qrpay.NotFound("object at this path")
			}
		}
		return next(c)
	}
}

// bodyLimit bounds request bodies: 1 MiB, or 10 MiB for image uploads. A body over the limit is
// 413 with the error object, whether it declares its length or not.
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := s.BodyLimit
		p := c.Request().URL.Path
		if p == "/v1/scan" || strings.HasPrefix(p, "/mockpay/wallet/scan") || strings.HasPrefix(p, "/apply") ||
			strings.HasPrefix(p, "/console/") || strings.HasPrefix(p, "/admin/v1/") || p == "/scan" {
			limit = 12 << 20
		}
		r := c.Request()
		if r.ContentLength > limit {
			return &tooLarge{}
		}
		r.Body = &limitedBody{rc: r.Body, left: limit}
		return next(c)
	}
}

// limitedBody fails reads past the limit with a too-large error.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Is there more? One byte tells.
		var one [1]byte
		n, _ := b.rc.Read(one[:])
		if n > 0 {
			return 0, &tooLarge{}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// limiter is a token bucket per key (an API key, a client address).
type limiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond, burst float64) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: int(burst), buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}
