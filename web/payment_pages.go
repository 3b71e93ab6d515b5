package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

func init() {
	addMessages(map[string][2]string{
		"payments.title":          {"交易", "Payments"},
		"payments.search":         {"订单号 / 交易号 / 渠道交易号", "Order no. / payment / provider trade no."},
		"payments.filter":         {"筛选", "Filter"},
		"payments.all":            {"全部", "All"},
		"payments.from":           {"从", "From"},
		"payments.to":             {"到", "To"},
		"payments.csv":            {"导出 CSV", "Export CSV"},
		"payments.next":           {"下一页", "Next page"},
		"payments.flagged":        {"待处理标记", "Flagged"},
		"payment.title":           {"交易详情", "Payment"},
		"payment.refunds":         {"退款", "Refunds"},
		"payment.refund":          {"退款", "Refund"},
		"payment.refund_amount":   {"退款金额（元）", "Refund amount (yuan)"},
		"payment.refund_reason":   {"原因", "Reason"},
		"payment.refund_confirm":  {"确认退款？", "Refund this amount?"},
		"payment.refundable":      {"可退金额 %s", "%s refundable"},
		"payment.refunded":        {"已退款 %s", "%s refunded"},
		"payment.timeline":        {"时间线", "Timeline"},
		"payment.calls":           {"渠道调用", "Provider calls"},
		"payment.webhooks":        {"商户通知", "Webhooks"},
		"payment.attempts":        {"第 %d 次：%d，%d 毫秒", "attempt %d: %d, %d ms"},
		"payment.resend":          {"重发", "Resend"},
		"payment.resent":          {"已重新发送。", "Sent again."},
		"payment.refund_done":     {"已提交退款。", "Refund submitted."},
		"payment.late":            {"关单后才收到的成功支付：顾客已付款，请退款或补发商品。", "Paid after the payment was closed: the customer was charged; refund or fulfil the order."},
		"payment.mismatch":        {"渠道报告的金额与交易不符，已暂停处理，请人工核查。", "The provider reported another amount; held for review."},
		"payment.sync":            {"向渠道查询", "Ask the provider"},
		"field.merchant_order_no": {"商户订单号", "Order no."},
		"field.provider_trade_no": {"渠道交易号", "Provider trade no."},
		"field.created_at":        {"创建时间", "Created"},
		"field.paid_at":           {"支付时间", "Paid"},
		"field.expires_at":        {"过期时间", "Expires"},
		"field.description":       {"描述", "Description"},
		"field.mode":              {"模式", "Mode"},
		"field.terminal":          {"终端", "Terminal"},
		"field.store":             {"门店", "Store"},
		"field.failure":           {"原因", "Reason"},
		"field.flags":             {"标记", "Flags"},
	})
}

// registerPaymentPages lists the merchant's payment pages.
func (s *Server) registerPaymentPages(pages *echo.Group) {
	pages.GET("/payments", s.handlePaymentsPage, s.requireUser(merchantRoles...))
	pages.GET("/payments.csv", s.handlePaymentsCSV, s.requireUser(merchantRoles...))
	pages.GET("/payments/:id", s.handlePaymentPage, s.requireUser(merchantRoles...))
	pages.POST("/payments/:id/refund", s.handlePaymentRefund, s.requireUser(merchant.RoleOwner))
	pages.POST("/payments/:id/sync", s.handlePaymentSync, s.requireUser(merchant.RoleOwner, merchant.RoleCounter))
	pages.POST("/events/:id/resend", s.handleEventResendPage, s.requireUser(merchant.RoleOwner))
}

type paymentsData struct {
	Payments []*gateway.Payment
	HasMore  bool
	Next     string
	Q        url.Values
	Statuses []gateway.Status
	Channels []string
}

// pageFilter reads the list filters of the payments page and its CSV export.
func (s *Server) pageFilter(c echo.Context) (gateway.PaymentFilter, error) {
	f := gateway.PaymentFilter{MerchantID: sessionOf(c).User.MerchantID, Status: gateway.Status(c.QueryParam("status")),
		Channel: c.QueryParam("channel"), Scene: gateway.Scene(c.QueryParam("scene")), Flag: c.QueryParam("flag"),
		Search: strings.TrimSpace(c.QueryParam("q")), StartingAfter: c.QueryParam("after"), Limit: 50}
	for _, p := range []struct {
		name string
		t    *time.Time
		add  int
	}{{"from", &f.CreatedFrom, 0}, {"to", &f.CreatedTo, 1}} {
		if v := c.QueryParam(p.name); v != "" {
			d, err := time.ParseInLocation("2006-01-02", v, s.Zone)
			if err != nil {
				return f, qrpay.Invalid(p.name, "Dates are YYYY-MM-DD.")
			}
			*p.t = d.AddDate(0, 0, p.add).UTC()
		}
	}
	return f, nil
}

func (s *Server) handlePaymentsPage(c echo.Context) error {
	f, err := s.pageFilter(c)
	if err != nil {
		return err
	}
	ps, more, err := s.Gateway.Payments(c.Request().Context(), f)
	if err != nil {
		return err
	}
	d := paymentsData{Payments: ps, HasMore: more, Q: c.QueryParams(), Statuses: gateway.Statuses, Channels: gateway.Channels}
	if more && len(ps) > 0 {
		q := c.QueryParams()
		q.Set("after", ps[len(ps)-1].ID)
		d.Next = "/payments?" + q.Encode()
	}
	return s.render(c, http.StatusOK, "payments", s.newView(c, "payments.title", d))
}

// handlePaymentsCSV exports the filtered payments as CSV in UTF-8 with a byte-order mark, so
// that Excel opens it, in pages of 100 rows read one after another.
func (s *Server) handlePaymentsCSV(c echo.Context) error {
	f, err := s.pageFilter(c)
	if err != nil {
		return err
	}
	if _, _, err := s.Gateway.Payments(c.Request().Context(), gateway.PaymentFilter{MerchantID: f.MerchantID, Limit: 1, Status: f.Status, Channel: f.Channel, Scene: f.Scene, Flag: f.Flag}); err != nil {
		return err
	}
	lang := langOf(c)
	w := c.Response()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="payments-`+s.Clock.Now().In(s.Zone).Format("20060102-150405")+`.csv"`)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("\xEF\xBB\xBF"))
	cw := csv.NewWriter(w)
	cw.Write([]string{translate(lang, "col.id"), translate(lang, "col.order"), translate(lang, "col.time"), translate(lang, "field.paid_at"),
		translate(lang, "col.amount"), "currency", translate(lang, "col.status"), translate(lang, "col.channel"), translate(lang, "col.scene"),
		translate(lang, "field.provider_trade_no"), "refunded", translate(lang, "field.store"), translate(lang, "field.terminal")})
	f.Limit = 100
	f.StartingAfter = ""
	for {
		ps, more, err := s.Gateway.Payments(c.Request().Context(), f)
		if err != nil {
			s.Log.ErrorContext(c.Request().Context(), "csv export", "err", err)
			break
		}
		for _, p := range ps {
			paid := ""
			if p.PaidAt != nil {
				paid = p.PaidAt.In(s.Zone).Format("2006-01-02 15:04:05")
			}
			cw.Write([]string{p.ID, csvSafe(p.MerchantOrderNo), p.CreatedAt.In(s.Zone).Format("2006-01-02 15:04:05"), paid,
				qrpay.FormatMinor(p.Amount, 2), string(p.Currency), translate(lang, "status."+string(p.Status)),
				translate(lang, "channel."+p.Channel), translate(lang, "scene."+string(p.Scene)), csvSafe(p.ProviderTradeNo),
				qrpay.FormatMinor(p.RefundedAmount, 2), p.StoreID, p.TerminalID})
			f.StartingAfter = p.ID
		}
		cw.Flush()
		if !more {
			break
		}
	}
	return nil
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

type paymentData struct {
	T          *gateway.Timeline
	Refundable int64
	Now        time.Time
}

func (s *Server) handlePaymentPage(c echo.Context) error {
	t, err := s.Gateway.PaymentTimeline(c.Request().Context(), sessionOf(c).User.MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	v := s.newView(c, "payment.title", paymentData{T: t, Refundable: t.Payment.Refundable()})
	switch c.QueryParam("done") {
	case "refund":
		v.Flash = v.T("payment.refund_done")
	case "resend":
		v.Flash = v.T("payment.resent")
	}
	if e := c.QueryParam("error"); e != "" {
		v.Error = e
	}
	return s.render(c, http.StatusOK, "payment", v)
}

// handlePaymentRefund refunds from the payment's page (owners only), idempotent per form.
func (s *Server) handlePaymentRefund(c echo.Context) error {
	id := c.Param("id")
	u := sessionOf(c).User
	back := "/payments/" + url.PathEscape(id)
	amount, err := qrpay.ParseDecimal(strings.TrimSpace(c.FormValue("amount")), 2)
	if err != nil || amount <= 0 {
		return c.Redirect(http.StatusSeeOther, back+"?error="+url.QueryEscape(translate(langOf(c), "cashier.bad_amount")))
	}
	formKey := c.FormValue("key")
	if formKey == "" || len(formKey) > 64 {
		formKey = qrpay.RandomToken(10)
	}
	caller := gateway.Caller{MerchantID: u.MerchantID, KeyID: "user:" + u.ID, IdempotencyKey: formKey,
		RequestHash: hashBody("POST "+back+"/refund", []byte(fmt.Sprint(amount, c.FormValue("reason"))))}
	_, err = s.Gateway.CreateRefund(c.Request().Context(), caller, id, gateway.CreateRefundRequest{Amount: amount,
		MerchantRefundNo: "dash-" + formKey, Reason: c.FormValue("reason")})
	if err != nil {
		if qrpay.ErrorCode(err) == qrpay.EINTERNAL {
			return err
		}
		return c.Redirect(http.StatusSeeOther, back+"?error="+url.QueryEscape(qrpay.ErrorMessage(err)))
	}
	return c.Redirect(http.StatusSeeOther, back+"?done=refund")
}

func (s *Server) handlePaymentSync(c echo.Context) error {
	id := c.Param("id")
	back := "/payments/" + url.PathEscape(id)
	if _, err := s.Gateway.SyncPayment(c.Request().Context(), sessionOf(c).User.MerchantID, id); err != nil {
		if qrpay.ErrorCode(err) == qrpay.EINTERNAL {
			return err
		}
		return c.Redirect(http.StatusSeeOther, back+"?error="+url.QueryEscape(qrpay.ErrorMessage(err)))
	}
	return c.Redirect(http.StatusSeeOther, back)
}

func (s *Server) handleEventResendPage(c echo.Context) error {
	m := sessionOf(c).User.MerchantID
	e, err := s.Gateway.ResendEvent(c.Request().Context(), m, c.Param("id"))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/payments/"+url.PathEscape(e.ObjectID)+"?done=resend")
}
