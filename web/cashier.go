package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

func init() {
	addMessages(map[string][2]string{
		"cashier.title":      {"付款", "Pay"},
		"cashier.to":         {"付款给", "Pay to"},
		"cashier.amount":     {"金额（元）", "Amount (yuan)"},
		"cashier.pay":        {"付款", "Pay"},
		"cashier.wallet":     {"正在使用：%s", "Paying with %s"},
		"cashier.no_wallet":  {"请用支付宝、微信或云闪付扫码付款。此页面将使用模拟渠道。", "Scan with Alipay, WeChat or UnionPay to pay. This page will use the mock provider."},
		"cashier.revoked":    {"此码牌已停用，不能收款。请向商家确认。", "This sticker has been withdrawn and takes no payment. Ask the shop."},
		"cashier.forged":     {"此二维码无法验证，可能被替换。请勿付款，并告知商家。", "This code cannot be verified and may have been swapped. Do not pay; tell the shop."},
		"cashier.limit":      {"静态码每人每日限额 500 元。", "Static codes take at most ¥500 a day from one customer."},
		"cashier.open":       {"打开钱包付款", "Open the wallet to pay"},
		"cashier.bad_amount": {"请输入正确的金额，例如 12.50。", "Enter an amount such as 12.50."},
		"cashier.store":      {"门店：%s", "Store: %s"},
	})
}

// stickerContext is what a sticker's token leads to.
type stickerContext struct {
	Sticker  *merchant.Sticker
	Merchant *merchant.Merchant
	Store    *merchant.Store
}

// resolveSticker verifies a sticker token and loads its sticker, merchant and store. A token
// that does not verify is EUNAUTHORIZED; a revoked sticker comes back with its status.
func (s *Server) resolveSticker(c echo.Context, token string) (*stickerContext, error) {
	ctx := c.Request().Context()
	signer, err := s.Merchants.StickerSigner(ctx)
	if err != nil {
		return nil, err
	}
	id, _, err := signer.Verify(token)
	if err != nil {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "This code cannot be verified.")
	}
	st, err := s.Merchants.Store.FindSticker(ctx, "", id)
	if err != nil {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "This code cannot be verified.")
	}
	m, err := s.Merchants.Merchant(ctx, st.MerchantID)
	if err != nil {
		return nil, err
	}
	sc := &stickerContext{Sticker: st, Merchant: m}
	if st.StoreID != "" {
		sc.Store, _ = s.Merchants.Store.FindStore(ctx, st.MerchantID, st.StoreID)
	}
	return sc, nil
}

// payerOf identifies a customer for the daily limit: the wallet's own id when the wallet says
// (the mock wallet does), else a long-lived random cookie of this browser.
func (s *Server) payerOf(c echo.Context, given string) string {
	if given = strings.TrimSpace(given); given != "" {
		return given
	}
	if ck, err := c.Cookie("qrpay_payer"); err == nil && len(ck.Value) >= 16 && len(ck.Value) <= 64 {
		return ck.Value
	}
	id := "browser-" + qrpay.RandomToken(12)
	c.SetCookie(&http.Cookie{Name: "qrpay_payer", Value: id, Path: "/p/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureCookies()})
	return id
}

type cashierData struct {
	Token    string
	Merchant string
	Store    string
	Channel  string
	Revoked  bool
	Forged   bool
	PayURL   string
	Amount   string
}

// handleCashierPage is the customer cashier behind a sticker (/p/{token}).
func (s *Server) handleCashierPage(c echo.Context) error {
	token := c.Param("token")
	d := &cashierData{Token: token, Channel: gateway.ChannelForUserAgent(c.Request().UserAgent())}
	v := s.newView(c, "cashier.title", d)
	v.Scripts = []string{"cashier.js"}
	sc, err := s.resolveSticker(c, token)
	if qrpay.IsCode(err, qrpay.EUNAUTHORIZED) {
		d.Forged = true
		return s.render(c, http.StatusNotFound, "cashier", v)
	} else if err != nil {
		return err
	}
	d.Merchant = sc.Merchant.ShortName
	if sc.Store != nil {
		d.Store = sc.Store.Name
	}
	d.Revoked = sc.Sticker.Status != "active" || !sc.Merchant.CanTakePayments()
	s.payerOf(c, "")
	status := http.StatusOK
	if d.Revoked {
		status = http.StatusGone
	}
	return s.render(c, status, "cashier", v)
}

// stickerPay creates the payment behind a sticker for an amount in fen.
func (s *Server) stickerPay(c echo.Context, amount int64, payer string) (*gateway.Payment, error) {
	sc, err := s.resolveSticker(c, c.Param("token"))
	if err != nil {
		return nil, err
	}
	return s.Gateway.CreateStickerPayment(c.Request().Context(), gateway.StickerPaymentRequest{Sticker: sc.Sticker,
		Amount: amount, Payer: s.payerOf(c, payer), UserAgent: c.Request().UserAgent(), ClientIP: c.RealIP()})
}

// handleCashierPay is the cashier's JSON API (the page's script and wallets use it):
// {amount (fen), payer?} -> {payment_id, pay_url}.
func (s *Server) handleCashierPay(c echo.Context) error {
	var b struct {
		Amount int64  `json:"amount"`
		Payer  string `json:"payer"`
	}
	// A JSON body cannot be sent across sites without a preflight, which this route refuses:
	// that is its CSRF defence.
	if !strings.HasPrefix(c.Request().Header.Get("Content-Type"), "application/json") {
		return qrpay.Errorf(qrpay.EINVALID, "Send JSON: {\"amount\": fen}.")
	}
	body, err := readAll(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(body, &b); err != nil {
		return err
	}
	p, err := s.stickerPay(c, b.Amount, b.Payer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"payment_id": p.ID, "pay_url": p.QRPayload, "amount": p.Amount,
		"currency": p.Currency, "channel": p.Channel})
}

// handleCashierForm is the cashier without JavaScript: the form posts the amount in yuan and
// the page answers with the wallet link.
func (s *Server) handleCashierForm(c echo.Context) error {
	d := &cashierData{Token: c.Param("token"), Channel: gateway.ChannelForUserAgent(c.Request().UserAgent()), Amount: c.FormValue("amount")}
	v := s.newView(c, "cashier.title", d)
	if sc, err := s.resolveSticker(c, d.Token); err == nil {
		d.Merchant = sc.Merchant.ShortName
		if sc.Store != nil {
			d.Store = sc.Store.Name
		}
	}
	amount, err := qrpay.ParseDecimal(strings.TrimSpace(d.Amount), 2)
	if err != nil || amount <= 0 {
		v.Error = v.T("cashier.bad_amount")
		return s.render(c, http.StatusBadRequest, "cashier", v)
	}
	p, err := s.stickerPay(c, amount, "")
	if err != nil {
		switch qrpay.ErrorCode(err) {
		case qrpay.ELIMITEXCEEDED:
			v.Error = v.T("cashier.limit") + " " + qrpay.ErrorMessage(err)
		case qrpay.EUNAUTHORIZED:
			d.Forged = true
		default:
			v.Error = qrpay.ErrorMessage(err)
		}
		return s.render(c, StatusOf(err), "cashier", v)
	}
	d.PayURL = p.QRPayload
	return s.render(c, http.StatusOK, "cashier", v)
}
