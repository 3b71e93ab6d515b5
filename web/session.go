package web

import (
	"crypto/hmac"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// Cookies.
const (
	sessionCookie = "qrpay_session"
	anonCookie    = "qrpay_csrf"
)

// sessionOf returns the request's session, or nil.
func sessionOf(c echo.Context) *merchant.Session {
	s, _ := c.Get("session").(*merchant.Session)
	return s
}

// loadSession reads the session cookie, if any, into the context. An expired session clears the
// cookie; pages that need a login redirect with requireUser.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(sessionCookie)
		if err == nil && ck.Value != "" {
			sess, err := s.Merchants.SessionByToken(c.Request().Context(), ck.Value)
			switch {
			case err == nil:
				c.Set("session", sess)
				if sess.User != nil && sess.User.MerchantID != "" {
					if m, err := s.Merchants.Merchant(c.Request().Context(), sess.User.MerchantID); err == nil {
						c.Set("merchant", m)
					}
				}
				if sess.Terminal != nil {
					if m, err := s.Merchants.Merchant(c.Request().Context(), sess.Terminal.MerchantID); err == nil {
						c.Set("merchant", m)
					}
				}
			case qrpay.IsCode(err, qrpay.EUNAUTHORIZED):
				s.clearCookie(c, sessionCookie)
			default:
				return err
			}
		}
		return next(c)
	}
}

// checkCSRF refuses a state-changing page request whose token does not match: the session's
// token for a logged-in user, the double-submit cookie before login.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		got := c.Request().Header.Get("X-CSRF-Token")
		if got == "" {
			got = c.FormValue("_csrf")
		}
		want := ""
		if sess := sessionOf(c); sess != nil {
			want = sess.CSRFToken
		} else if ck, err := c.Cookie(anonCookie); err == nil {
			want = ck.Value
		}
		if want == "" || !hmac.Equal([]byte(got), []byte(want)) {
			return &qrpay.Error{Code: qrpay.EFORBIDDEN, Message: translate(langOf(c), "error.csrf")}
		}
		return next(c)
	}
}

// anonCSRF returns the double-submit token of a visitor without a session, setting its cookie.
func anonCSRF(c echo.Context) string {
	if ck, err := c.Cookie(anonCookie); err == nil && len(ck.Value) >= 20 {
		return ck.Value
	}
	if v, ok := c.Get("anon_csrf").(string); ok {
		return v
	}
	tok := qrpay.RandomToken(20)
	c.Set("anon_csrf", tok)
	c.SetCookie(&http.Cookie{Name: anonCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return tok
}

func (s *Server) secureCookies() bool {
	return s.CookieSecure || strings.HasPrefix(s.PublicURL, "https://")
}

func (s *Server) setSessionCookie(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteLaxMode, MaxAge: int((12 * time.Hour).Seconds())})
}

func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: s.secureCookies(), MaxAge: -1})
}

// requireUser lets through only logged-in users (fully, past two-factor) whose role is one of
// roles (any role when none are given); others go to the login page.
func (s *Server) requireUser(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			sess := sessionOf(c)
			if sess == nil || sess.User == nil {
				return c.Redirect(http.StatusSeeOther, "/login?next="+urlQueryEscape(c.Request().URL.RequestURI()))
			}
			if sess.Stage == "totp" {
				return c.Redirect(http.StatusSeeOther, "/login/totp")
			}
			// A password an operator handed over must be replaced before anything else.
			if sess.User.MustChangePassword && c.Request().URL.Path != "/settings/password" {
				return c.Redirect(http.StatusSeeOther, "/settings/password")
			}
			if len(roles) == 0 {
				return next(c)
			}
			for _, r := range roles {
				if sess.User.Role == r {
					return next(c)
				}
			}
			return qrpay.Errorf(qrpay.EFORBIDDEN, "Forbidden.")
		}
	}
}

// merchantRoles are the roles of merchant users; operatorRoles those of the acquirer's staff.
var (
	merchantRoles = []string{merchant.RoleOwner, merchant.RoleCounter, merchant.RoleReadOnly}
	operatorRoles = []string{merchant.RoleAdmin, merchant.RoleReviewer}
)

// userActor is the audit log's actor for a page's user.
func userActor(c echo.Context) merchant.Actor {
	sess := sessionOf(c)
	if sess == nil || sess.User == nil {
		return merchant.Actor{Kind: "anonymous", ID: "anonymous", RemoteAddr: c.RealIP()}
	}
	u := sess.User
	kind := "merchant_user"
	if u.IsOperator() {
		kind = "operator"
	}
	return merchant.Actor{Kind: kind, ID: u.ID, Name: u.Login, Role: u.Role, MerchantID: u.MerchantID, RemoteAddr: c.RealIP()}
}
