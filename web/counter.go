package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

func init() {
	addMessages(map[string][2]string{
		"counter.title":      {"收银台", "Counter"},
		"counter.login":      {"收银台登录", "Counter login"},
		"counter.code":       {"终端号", "Terminal code"},
		"counter.pin":        {"PIN", "PIN"},
		"counter.bad_login":  {"终端号或 PIN 错误。", "Wrong terminal code or PIN."},
		"counter.amount":     {"收款金额", "Amount"},
		"counter.clear":      {"清除", "Clear"},
		"counter.show_qr":    {"出示二维码", "Show code"},
		"counter.scan":       {"扫码枪扫付款码后按回车", "Scan the customer's payment code (the scanner presses Enter)"},
		"counter.scan_label": {"付款码", "Payment code"},
		"counter.waiting":    {"请顾客扫码付款", "Ask the customer to scan and pay"},
		"counter.expires":    {"剩余 %s", "%s left"},
		"counter.paying":     {"顾客正在付款…", "The customer is paying…"},
		"counter.paid":       {"收款成功", "Paid"},
		"counter.failed":     {"付款失败", "Payment failed"},
		"counter.closed":     {"交易已关闭", "Closed"},
		"counter.expired":    {"二维码已过期", "The code expired"},
		"counter.new":        {"下一笔", "Next payment"},
		"counter.cancel":     {"取消", "Cancel"},
		"counter.today":      {"本终端今日收款", "This terminal today"},
		"counter.receipt":    {"小票", "Receipt"},
		"counter.receipt_no": {"交易号", "Payment"},
		"counter.receipt_at": {"时间", "Time"},
		"counter.print":      {"打印", "Print"},
		"counter.offline":    {"网络中断，正在重试…", "Connection lost; retrying…"},
	})
}

// registerCounterRoutes lists the counter cashier: a terminal's login, its page, and the small
// JSON API its script uses (session and CSRF token authenticated).
func (s *Server) registerCounterRoutes(e *echo.Echo, pages *echo.Group) {
	pages.GET("/counter/login", s.handleCounterLoginPage)
	pages.POST("/counter/login", s.handleCounterLogin)
	pages.GET("/counter", s.handleCounter, s.requireTerminal)
	api := e.Group("/counter/api", s.loadSession, s.checkCSRF, s.requireTerminal)
	api.POST("/payments", s.handleCounterCreate)
	api.GET("/payments/:id", s.handleCounterPayment)
	api.GET("/payments/:id/events", s.handleCounterEvents)
	api.POST("/payments/:id/close", s.handleCounterClose)
	api.GET("/today", s.handleCounterToday)
}

// requireTerminal lets only counter sessions through.
func (s *Server) requireTerminal(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess := sessionOf(c)
		if sess == nil || sess.Terminal == nil {
			if strings.HasPrefix(c.Request().URL.Path, "/counter/api") {
				return qrpay.Errorf(qrpay.EUNAUTHORIZED, "Log the counter in.")
			}
			return c.Redirect(http.StatusSeeOther, "/counter/login")
		}
		return next(c)
	}
}

func (s *Server) handleCounterLoginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "counter_login", s.newView(c, "counter.login", nil))
}

func (s *Server) handleCounterLogin(c echo.Context) error {
	v := s.newView(c, "counter.login", nil)
	if !s.logins.allow("ip:" + c.RealIP()) {
		v.Error = v.T("login.throttled")
		return s.render(c, http.StatusTooManyRequests, "counter_login", v)
	}
	_, token, err := s.Merchants.TerminalLogin(c.Request().Context(), c.FormValue("code"), c.FormValue("pin"), c.RealIP(), c.Request().UserAgent())
	if err != nil {
		if qrpay.IsCode(err, qrpay.EUNAUTHORIZED) || qrpay.IsCode(err, qrpay.EFORBIDDEN) {
			v.Error = v.T("counter.bad_login")
			return s.render(c, http.StatusUnauthorized, "counter_login", v)
		}
		return err
	}
	s.setSessionCookie(c, token)
	return c.Redirect(http.StatusSeeOther, "/counter")
}

func (s *Server) handleCounter(c echo.Context) error {
	v := s.newView(c, "counter.title", nil)
	v.Scripts = []string{"counter.js"}
	return s.render(c, http.StatusOK, "counter", v)
}

// counterCaller is the caller of a counter session's payments: the terminal's merchant, in
// live mode when the merchant has a live binding and through the mock provider otherwise.
func (s *Server) counterCaller(c echo.Context) (gateway.Caller, error) {
	t := sessionOf(c).Terminal
	bindings, err := s.Merchants.Store.FindBindings(c.Request().Context(), t.MerchantID)
	if err != nil {
		return gateway.Caller{}, err
	}
	mode := merchant.ModeTest
	for _, b := range bindings {
		if b.Status == "active" {
			mode = merchant.ModeLive
		}
	}
	return gateway.Caller{MerchantID: t.MerchantID, KeyID: "terminal:" + t.ID, Mode: mode, TerminalID: t.ID,
		StoreID: t.StoreID, ClientIP: c.RealIP()}, nil
}

// handleCounterCreate takes a payment at the counter: {amount (fen), scene: qr|code, auth_code?,
// key} where key is the page's idempotency key for this payment (a double tap pays once).
func (s *Server) handleCounterCreate(c echo.Context) error {
	var b struct {
		Amount   int64  `json:"amount"`
		Scene    string `json:"scene"`
		AuthCode string `json:"auth_code"`
		Key      string `json:"key"`
	}
	body, err := readAll(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(body, &b); err != nil {
		return err
	}
	caller, err := s.counterCaller(c)
	if err != nil {
		return err
	}
	if b.Key != "" {
		if len(b.Key) > 64 {
			return qrpay.Invalid("key", "The key is too long.")
		}
		caller.IdempotencyKey, caller.RequestHash = b.Key, hashBody("POST /counter/api/payments", body)
	}
	order := "counter-" + time.Now().In(s.Zone).Format("20060102-150405") + "-" + qrpay.RandomToken(4)
	res, err := s.Gateway.CreatePayment(c.Request().Context(), caller, gateway.CreatePaymentRequest{MerchantOrderNo: order,
		Amount: b.Amount, Currency: "CNY", Scene: b.Scene, AuthCode: strings.TrimSpace(b.AuthCode), TerminalID: caller.TerminalID})
	return s.result(c, res, err)
}

// counterPayment loads a payment of the session's terminal.
func (s *Server) counterPayment(c echo.Context) (*gateway.Payment, error) {
	t := sessionOf(c).Terminal
	p, err := s.Gateway.Payment(c.Request().Context(), t.MerchantID, c.Param("id"))
	if err != nil {
		return nil, err
	}
	if p.TerminalID != t.ID {
		return nil, qrpay.NotFound("payment")
	}
	return p, nil
}

func (s *Server) handleCounterPayment(c echo.Context) error {
	p, err := s.counterPayment(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p.Object(s.PublicURL))
}

// handleCounterEvents streams a payment's status to the counter as server-sent events until it
// is final (or the client goes away), so the screen changes without reloading.
func (s *Server) handleCounterEvents(c echo.Context) error {
	p, err := s.counterPayment(c)
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(p *gateway.Payment) {
		b, _ := json.Marshal(p.Object(s.PublicURL))
		fmt.Fprintf(w, "event: payment\ndata: %s\n\n", b)
		w.Flush()
	}
	send(p)
	last := p.Status
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Minute)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for !last.Final() {
		select {
		case <-ctx.Done():
			return nil
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			w.Flush()
		case <-tick.C:
			cur, err := s.Gateway.Payment(ctx, p.MerchantID, p.ID)
			if err != nil {
				return nil
			}
			if cur.Status != last || (cur.Status == gateway.StatusSucceeded) {
				send(cur)
				last = cur.Status
			}
		}
	}
	return nil
}

func (s *Server) handleCounterClose(c echo.Context) error {
	p, err := s.counterPayment(c)
	if err != nil {
		return err
	}
	caller, err := s.counterCaller(c)
	if err != nil {
		return err
	}
	res, err := s.Gateway.ClosePayment(c.Request().Context(), caller, p.ID)
	return s.result(c, res, err)
}

// handleCounterToday is the terminal's takings today (in the settlement zone).
func (s *Server) handleCounterToday(c echo.Context) error {
	t := sessionOf(c).Terminal
	from, to := gateway.DayBounds(s.Clock.Now(), s.Zone)
	var total int64
	count := 0
	after := ""
	for {
		ps, more, err := s.Gateway.Payments(c.Request().Context(), gateway.PaymentFilter{MerchantID: t.MerchantID, TerminalID: t.ID,
			Status: gateway.StatusSucceeded, CreatedFrom: from, CreatedTo: to, Limit: 100, StartingAfter: after})
		if err != nil {
			return err
		}
		for _, p := range ps {
			total += p.Amount - p.RefundedAmount
			count++
			after = p.ID
		}
		if !more {
			break
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"count": count, "total": total, "currency": "CNY",
		"display": qrpay.Money{Amount: total, Currency: qrpay.CNY}.String()})
}
