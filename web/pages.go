package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/qr"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// registerPageRoutes lists the pages of the foundation; features add theirs with Extend.
func (s *Server) registerPageRoutes(e *echo.Echo) {
	g := e.Group("", s.loadSession, s.checkCSRF)
	g.GET("/", s.handleHome)
	g.GET("/lang", s.handleLang)
	g.GET("/login", s.handleLoginPage)
	g.POST("/login", s.handleLogin)
	g.GET("/login/totp", s.handleTOTPPage)
	g.POST("/login/totp", s.handleTOTP)
	g.POST("/logout", s.handleLogout)
	g.GET("/dashboard", s.handleDashboard, s.requireUser(merchantRoles...))
	g.GET("/p/:token", s.handleCashierPage)
	g.POST("/p/:token", s.handleCashierForm)
	e.POST("/p/:token/pay", s.handleCashierPay)
	s.registerCounterRoutes(e, g)
	s.registerPaymentPages(g)
	if s.demoHook != nil {
		e.POST("/demo/webhooks", s.handleDemoWebhook)
		g.GET("/demo/webhooks", s.handleDemoWebhookPage)
	}
	s.pageGroup = g
}

// handleHome sends each kind of visitor to their start page.
func (s *Server) handleHome(c echo.Context) error {
	sess := sessionOf(c)
	switch {
	case sess == nil:
		return c.Redirect(http.StatusSeeOther, "/login")
	case sess.Terminal != nil:
		return c.Redirect(http.StatusSeeOther, "/counter")
	case sess.User != nil && sess.User.IsOperator():
		return c.Redirect(http.StatusSeeOther, "/console")
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

// handleLang switches the page language and sticks to it.
func (s *Server) handleLang(c echo.Context) error {
	to := c.QueryParam("to")
	if to != LangEN {
		to = LangZH
	}
	c.SetCookie(&http.Cookie{Name: "lang", Value: to, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next"), "/"))
}

// safeNext keeps redirects on this site: only local absolute paths are followed.
func safeNext(next, def string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return def
	}
	return next
}

type loginData struct {
	Login string
	Next  string
}

func (s *Server) handleLoginPage(c echo.Context) error {
	v := s.newView(c, "login.title", loginData{Next: c.QueryParam("next")})
	return s.render(c, http.StatusOK, "login", v)
}

func (s *Server) handleLogin(c echo.Context) error {
	ctx := c.Request().Context()
	login, password, next := c.FormValue("login"), c.FormValue("password"), c.FormValue("next")
	v := s.newView(c, "login.title", loginData{Login: login, Next: next})
	if !s.logins.allow("ip:" + c.RealIP()) {
		v.Error = v.T("login.throttled")
		return s.render(c, http.StatusTooManyRequests, "login", v)
	}
	sess, token, err := s.Merchants.Login(ctx, login, password, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		switch qrpay.ErrorCode(err) {
		case qrpay.EUNAUTHORIZED:
			v.Error = v.T("login.bad")
			return s.render(c, http.StatusUnauthorized, "login", v)
		case qrpay.ELIMITEXCEEDED:
			v.Error = v.T("login.locked")
			return s.render(c, http.StatusTooManyRequests, "login", v)
		}
		return err
	}
	s.setSessionCookie(c, token)
	if sess.Stage == "totp" {
		return c.Redirect(http.StatusSeeOther, "/login/totp?next="+urlQueryEscape(next))
	}
	def := "/dashboard"
	if sess.User.IsOperator() {
		def = "/console"
	}
	return c.Redirect(http.StatusSeeOther, safeNext(next, def))
}

func (s *Server) handleTOTPPage(c echo.Context) error {
	if sessionOf(c) == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return s.render(c, http.StatusOK, "totp", s.newView(c, "login.totp_title", loginData{Next: c.QueryParam("next")}))
}

func (s *Server) handleTOTP(c echo.Context) error {
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	sess, err := s.Merchants.VerifyTOTP(c.Request().Context(), ck.Value, c.FormValue("code"))
	if err != nil {
		if qrpay.IsCode(err, qrpay.EUNAUTHORIZED) {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		v := s.newView(c, "login.totp_title", loginData{Next: c.FormValue("next")})
		v.Error = v.T("login.totp_bad")
		return s.render(c, http.StatusUnauthorized, "totp", v)
	}
	def := "/dashboard"
	if sess.User != nil && sess.User.IsOperator() {
		def = "/console"
	}
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next"), def))
}

func (s *Server) handleLogout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.Merchants.Logout(c.Request().Context(), ck.Value)
	}
	s.clearCookie(c, sessionCookie)
	return c.Redirect(http.StatusSeeOther, "/login")
}

type dashboardData struct {
	Payments []*gateway.Payment
	Notices  []*gateway.Notice
	Today    int64
	Count    int
}

// handleDashboard is the merchant's home: today's takings and the latest payments.
func (s *Server) handleDashboard(c echo.Context) error {
	ctx := c.Request().Context()
	m := sessionOf(c).User.MerchantID
	ps, _, err := s.Gateway.Payments(ctx, gateway.PaymentFilter{MerchantID: m, Limit: 20})
	if err != nil {
		return err
	}
	notices, err := s.Gateway.Notices(ctx, m)
	if err != nil {
		return err
	}
	d := dashboardData{Payments: ps, Notices: notices}
	from, to := gateway.DayBounds(s.Clock.Now(), s.Zone)
	today, _, err := s.Gateway.Payments(ctx, gateway.PaymentFilter{MerchantID: m, Status: gateway.StatusSucceeded,
		CreatedFrom: from, CreatedTo: to, Limit: 100})
	if err != nil {
		return err
	}
	for _, p := range today {
		d.Today += p.Amount - p.RefundedAmount
		d.Count++
	}
	return s.render(c, http.StatusOK, "dashboard", s.newView(c, "dash.title", d))
}

// --- the mock wallet --------------------------------------------------------------------------

type walletData struct {
	QR     string
	Payer  string
	Result *mockpay.WalletPayResult
	Code   string
}

func (s *Server) handleWalletPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "wallet", s.newView(c, "wallet.title", walletData{Payer: "demo-customer"}))
}

// handleWalletScan is the wallet's form: a code's text or an uploaded image, paid at once; or a
// payment code to show.
func (s *Server) handleWalletScan(c echo.Context) error {
	ctx := c.Request().Context()
	d := walletData{Payer: strings.TrimSpace(c.FormValue("payer")), QR: strings.TrimSpace(c.FormValue("qr"))}
	v := s.newView(c, "wallet.title", &d)
	if ck, err := c.Cookie(anonCookie); err != nil || !validFormToken(c, ck.Value) {
		return &qrpay.Error{Code: qrpay.EFORBIDDEN, Message: v.T("error.csrf")}
	}
	if c.FormValue("action") == "code" {
		code, err := s.Mock.IssuePaymentCode(ctx, d.Payer, c.FormValue("channel"))
		if err != nil {
			v.Error = qrpay.ErrorMessage(err)
		}
		d.Code = code
		return s.render(c, http.StatusOK, "wallet", v)
	}
	if fh, err := c.FormFile("image"); err == nil && fh.Size > 0 {
		f, err := fh.Open()
		if err == nil {
			texts, derr := qr.DecodeContext(ctx, f, qr.DecodeOptions{})
			f.Close()
			if derr != nil {
				v.Error = qrpay.ErrorMessage(derr)
				return s.render(c, http.StatusBadRequest, "wallet", v)
			}
			d.QR = texts[0]
		}
	}
	var amount int64
	if a := strings.TrimSpace(c.FormValue("amount")); a != "" {
		n, err := qrpay.ParseDecimal(a, 2)
		if err != nil || n <= 0 {
			v.Error = qrpay.ErrorMessage(qrpay.Invalid("amount", "Enter an amount in yuan, like 12.34."))
			return s.render(c, http.StatusBadRequest, "wallet", v)
		}
		amount = n
	}
	res, err := s.Mock.WalletPay(ctx, mockpay.WalletPayRequest{QR: d.QR, Payer: d.Payer, Amount: amount, Channel: c.FormValue("channel")})
	if err != nil {
		v.Error = qrpay.ErrorMessage(err)
		return s.render(c, StatusOf(err), "wallet", v)
	}
	d.Result = res
	return s.render(c, http.StatusOK, "wallet", v)
}

// validFormToken checks a pre-login form's double-submit token.
func validFormToken(c echo.Context, want string) bool {
	got := c.FormValue("_csrf")
	return want != "" && got == want
}

type confirmData struct {
	Subject  string
	Amount   int64
	Currency qrpay.Currency
	Status   string
	Result   *mockpay.WalletPayResult
}

// handleMockConfirmPage is the mock provider's own cashier: what a customer's wallet shows when
// it opens one of the provider's codes (the sticker cashier sends customers here in test mode).
func (s *Server) handleMockConfirmPage(c echo.Context) error {
	info, err := s.Mock.Code(c.Request().Context(), c.Param("trade"))
	if err != nil {
		return err
	}
	d := confirmData{Subject: info.Subject, Amount: info.Amount, Currency: qrpay.Currency(info.Currency), Status: info.Status}
	return s.render(c, http.StatusOK, "confirm", s.newView(c, "confirm.title", &d))
}

func (s *Server) handleMockConfirm(c echo.Context) error {
	ctx := c.Request().Context()
	info, err := s.Mock.Code(ctx, c.Param("trade"))
	if err != nil {
		return err
	}
	d := confirmData{Subject: info.Subject, Amount: info.Amount, Currency: qrpay.Currency(info.Currency), Status: info.Status}
	v := s.newView(c, "confirm.title", &d)
	if ck, err := c.Cookie(anonCookie); err != nil || !validFormToken(c, ck.Value) {
		return &qrpay.Error{Code: qrpay.EFORBIDDEN, Message: v.T("error.csrf")}
	}
	payer := strings.TrimSpace(c.FormValue("payer"))
	if payer == "" {
		payer = "customer-" + qrpay.RandomToken(4)
	}
	res, err := s.Mock.PayCode(ctx, info.Token, payer)
	if err != nil {
		v.Error = qrpay.ErrorMessage(err)
		return s.render(c, StatusOf(err), "confirm", v)
	}
	d.Result = res
	return s.render(c, http.StatusOK, "confirm", v)
}

func (s *Server) handleDemoWebhookPage(c echo.Context) error {
	s.demoHook.mu.Lock()
	evs := append([]demoEvent(nil), s.demoHook.events...)
	s.demoHook.mu.Unlock()
	return s.render(c, http.StatusOK, "demo_webhooks", s.newView(c, "demo.title", evs))
}
