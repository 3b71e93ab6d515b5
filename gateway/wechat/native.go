package wechat

import (
	"context"
	"fmt"
	"net/url"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// v3Amount is an APIv3 amount object; every amount is in fen.
type v3Amount struct {
	Total          int64  `json:"total,omitempty"`
	Refund         int64  `json:"refund,omitempty"`
	PayerTotal     int64  `json:"payer_total,omitempty"`
	PayerRefund    int64  `json:"payer_refund,omitempty"`
	Currency       string `json:"currency,omitempty"`
	PayerCurrency  string `json:"payer_currency,omitempty"`
	DiscountRefund int64  `json:"discount_refund,omitempty"`
}

// nativeRequest is the body of a Native order, direct or partner mode.
type nativeRequest struct {
	AppID       string   `json:"appid,omitempty"`
	MchID       string   `json:"mchid,omitempty"`
	SpAppID     string   `json:"sp_appid,omitempty"`
	SpMchID     string   `json:"sp_mchid,omitempty"`
	SubMchID    string   `json:"sub_mchid,omitempty"`
	Description string   `json:"description"`
	OutTradeNo  string   `json:"out_trade_no"`
	TimeExpire  string   `json:"time_expire,omitempty"`
	NotifyURL   string   `json:"notify_url"`
	Amount      v3Amount `json:"amount"`
}

// v3Transaction is an APIv3 order as query and notices give it.
type v3Transaction struct {
	AppID          string   `json:"appid"`
	MchID          string   `json:"mchid"`
	SpAppID        string   `json:"sp_appid"`
	SpMchID        string   `json:"sp_mchid"`
	SubMchID       string   `json:"sub_mchid"`
	OutTradeNo     string   `json:"out_trade_no"`
	TransactionID  string   `json:"transaction_id"`
	TradeType      string   `json:"trade_type"`
	TradeState     string   `json:"trade_state"`
	TradeStateDesc string   `json:"trade_state_desc"`
	SuccessTime    string   `json:"success_time"`
	Amount         v3Amount `json:"amount"`
	Payer          struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

// v3Refund is an APIv3 refund as the refund and refund query answers give it.
type v3Refund struct {
	RefundID      string   `json:"refund_id"`
	OutRefundNo   string   `json:"out_refund_no"`
	TransactionID string   `json:"transaction_id"`
	OutTradeNo    string   `json:"out_trade_no"`
	Status        string   `json:"status"`
	SuccessTime   string   `json:"success_time"`
	CreateTime    string   `json:"create_time"`
	Amount        v3Amount `json:"amount"`
}

// tradeStatus maps an APIv3 or v2 trade_state.
func tradeStatus(state string) (gateway.TradeStatus, bool) {
	switch state {
	case "SUCCESS":
		return gateway.TradeSucceeded, true
	case "NOTPAY", "USERPAYING", "ACCEPT":
		return gateway.TradePending, true
	case "CLOSED", "REVOKED":
		return gateway.TradeClosed, true
	case "PAYERROR":
		return gateway.TradeFailed, true
	case "REFUND":
		return gateway.TradeRefunded, true
	}
	return "", false
}

// refundStatus maps an APIv3 refund status.
func refundStatus(status string) (gateway.RefundStatus, bool) {
	switch status {
	case "SUCCESS":
		return gateway.RefundSucceeded, true
	case "PROCESSING":
		return gateway.RefundPending, true
	case "ABNORMAL", "CLOSED":
		return gateway.RefundFailed, true
	}
	return "", false
}

// money converts an APIv3 amount in fen; an empty currency means CNY, as WeChat Pay defaults it.
func money(amount int64, currency string) (qrpay.Money, error) {
	if currency == "" {
		currency = string(qrpay.CNY)
	}
	c, err := qrpay.ParseCurrency("currency", currency)
	if err != nil {
		return qrpay.Money{}, err
	}
	if amount < 0 {
		return qrpay.Money{}, fmt.Errorf("negative amount %d", amount)
	}
	return qrpay.Money{Amount: amount, Currency: c}, nil
}

// trade converts an APIv3 order. Amount is amount.total, the order amount qrpay asked for (a
// coupon lowers payer_total, not total, and must not look like a mismatch); a notice or answer
// without it falls back to payer_total.
func (t *v3Transaction) trade() (*gateway.Trade, error) {
	status, ok := tradeStatus(t.TradeState)
	if !ok {
		return nil, fmt.Errorf("unknown trade_state %q", t.TradeState)
	}
	tr := &gateway.Trade{PaymentID: t.OutTradeNo, ProviderTradeNo: t.TransactionID, Status: status}
	total := t.Amount.Total
	if total == 0 {
		total = t.Amount.PayerTotal
	}
	if total > 0 {
		m, err := money(total, t.Amount.Currency)
		if err != nil {
			return nil, err
		}
		tr.Amount = m
	}
	paid, err := parseWechatTime(t.SuccessTime)
	if err != nil {
		return nil, err
	}
	tr.PaidAt = paid
	tr.Payer = t.Payer.OpenID
	if tr.Payer == "" {
		tr.Payer = t.Payer.SpOpenID
	}
	if tr.Payer == "" {
		tr.Payer = t.Payer.SubOpenID
	}
	if status == gateway.TradeFailed {
		tr.FailureReason = t.TradeStateDesc
		if tr.FailureReason == "" {
			tr.FailureReason = t.TradeState
		}
	}
	return tr, nil
}

// result converts an APIv3 refund.
func (r *v3Refund) result() (*gateway.RefundResult, error) {
	status, ok := refundStatus(r.Status)
	if !ok {
		return nil, fmt.Errorf("unknown refund status %q", r.Status)
	}
	res := &gateway.RefundResult{PaymentID: r.OutTradeNo, RefundID: r.OutRefundNo, ProviderRefundNo: r.RefundID, Status: status}
	if r.Amount.Refund > 0 {
		m, err := money(r.Amount.Refund, r.Amount.Currency)
		if err != nil {
			return nil, err
		}
		res.Amount = m
	}
	at, err := parseWechatTime(r.SuccessTime)
	if err != nil {
		return nil, err
	}
	res.RefundedAt = at
	if status == gateway.RefundFailed {
		res.FailureReason = r.Status
	}
	return res, nil
}

// CreateCode creates an APIv3 Native order and returns its code_url. With a SubMerchantID it
// uses the partner path /v3/pay/partner/transactions/native (sp_appid, sp_mchid, sub_mchid);
// otherwise the direct path /v3/pay/transactions/native (appid, mchid). ExpiresAt is sent as
// time_expire in +08:00. WeChat Pay assigns transaction_id only on payment, so ProviderTradeNo
// is empty.
func (p *Provider) CreateCode(ctx context.Context, req gateway.CreateCodeRequest) (*gateway.Code, error) {
	const op = "native"
	if req.PaymentID == "" {
		return nil, invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	}
	if req.NotifyURL == "" {
		return nil, invalidRequest(op, qrpay.Invalid("notify_url", "The notify URL is required."))
	}
	if e := checkAmount("amount", req.Amount); e != nil {
		return nil, invalidRequest(op, e)
	}
	body := nativeRequest{
		Description: req.Description,
		OutTradeNo:  req.PaymentID,
		NotifyURL:   req.NotifyURL,
		Amount:      v3Amount{Total: req.Amount.Amount, Currency: string(req.Amount.Currency)},
	}
	if body.Description == "" {
		body.Description = req.PaymentID
	}
	if !req.ExpiresAt.IsZero() {
		body.TimeExpire = req.ExpiresAt.In(china).Format(time3339)
	}
	path := "/v3/pay/transactions/native"
	if req.SubMerchantID != "" {
		path = "/v3/pay/partner/transactions/native"
		body.SpAppID, body.SpMchID, body.SubMchID = p.appID, p.mchID, req.SubMerchantID
	} else {
		body.AppID, body.MchID = p.appID, p.mchID
	}
	var out struct {
		CodeURL string `json:"code_url"`
	}
	if err := p.callV3(ctx, op, "POST", path, nil, body, &out); err != nil {
		return nil, err
	}
	if out.CodeURL == "" {
		return nil, unavailable(op, fmt.Errorf("answer without code_url"))
	}
	return &gateway.Code{Payload: out.CodeURL}, nil
}

// time3339 is RFC 3339 without fractional seconds, as WeChat Pay wants time_expire.
const time3339 = "2006-01-02T15:04:05-07:00"

// Query returns WeChat Pay's view of a payment.
//
// It asks APIv3 (GET /v3/pay/transactions/out-trade-no/{no}, or the partner path), which lists
// every trade type, payment-code (MICROPAY) orders included. When APIv3 reports
// ORDER_NOT_EXIST and an APIv2 key is configured, it asks v2 /pay/orderquery too, where
// payment-code orders live natively, so a micropay order is never reported missing merely
// because of the API asked. Only when both say so is it ProviderNotFound.
func (p *Provider) Query(ctx context.Context, ref gateway.TradeRef) (*gateway.Trade, error) {
	tr, err := p.queryV3(ctx, ref)
	if err == nil || !p.hasV2Creds || gateway.ProviderErrorCode(err) != gateway.ProviderNotFound {
		return tr, err
	}
	return p.QueryMicropay(ctx, ref)
}

// queryV3 is the APIv3 order query.
func (p *Provider) queryV3(ctx context.Context, ref gateway.TradeRef) (*gateway.Trade, error) {
	const op = "query"
	if ref.PaymentID == "" {
		return nil, invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	}
	q := url.Values{}
	path := "/v3/pay/transactions/out-trade-no/" + url.PathEscape(ref.PaymentID)
	if ref.SubMerchantID != "" {
		path = "/v3/pay/partner/transactions/out-trade-no/" + url.PathEscape(ref.PaymentID)
		q.Set("sp_mchid", p.mchID)
		q.Set("sub_mchid", ref.SubMerchantID)
	} else {
		q.Set("mchid", p.mchID)
	}
	var t v3Transaction
	if err := p.callV3(ctx, op, "GET", path, q, nil, &t); err != nil {
		return nil, err
	}
	if t.OutTradeNo != ref.PaymentID {
		return nil, unavailable(op, fmt.Errorf("answer names out_trade_no %q", t.OutTradeNo))
	}
	tr, err := t.trade()
	if err != nil {
		return nil, unavailable(op, err)
	}
	return tr, nil
}

// Close closes an unpaid order (POST .../out-trade-no/{no}/close, 204). A paid order is
// ProviderAlreadyPaid.
func (p *Provider) Close(ctx context.Context, ref gateway.TradeRef) error {
	const op = "close"
	if ref.PaymentID == "" {
		return invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	}
	path := "/v3/pay/transactions/out-trade-no/" + url.PathEscape(ref.PaymentID) + "/close"
	var body any = map[string]string{"mchid": p.mchID}
	if ref.SubMerchantID != "" {
		path = "/v3/pay/partner/transactions/out-trade-no/" + url.PathEscape(ref.PaymentID) + "/close"
		body = map[string]string{"sp_mchid": p.mchID, "sub_mchid": ref.SubMerchantID}
	}
	return p.callV3(ctx, op, "POST", path, nil, body, nil)
}

// refundRequest is the body of POST /v3/refund/domestic/refunds.
type refundRequest struct {
	SubMchID      string   `json:"sub_mchid,omitempty"`
	TransactionID string   `json:"transaction_id,omitempty"`
	OutTradeNo    string   `json:"out_trade_no,omitempty"`
	OutRefundNo   string   `json:"out_refund_no"`
	Reason        string   `json:"reason,omitempty"`
	NotifyURL     string   `json:"notify_url,omitempty"`
	Amount        v3Amount `json:"amount"`
}

// Refund asks for a refund (POST /v3/refund/domestic/refunds) naming the order by
// out_trade_no; RefundID is out_refund_no, which makes a repeated request idempotent. The
// refund usually starts PROCESSING (RefundPending) and ends with a REFUND.* notice. A refusal
// (4xx) is an error: NOT_ENOUGH is ProviderInsufficient.
func (p *Provider) Refund(ctx context.Context, req gateway.RefundRequest) (*gateway.RefundResult, error) {
	const op = "refund"
	switch {
	case req.PaymentID == "":
		return nil, invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	case req.RefundID == "":
		return nil, invalidRequest(op, qrpay.Invalid("refund_id", "The refund id is required."))
	}
	if e := checkAmount("amount", req.Amount); e != nil {
		return nil, invalidRequest(op, e)
	}
	if e := checkAmount("total", req.Total); e != nil {
		return nil, invalidRequest(op, e)
	}
	if req.Amount.Amount > req.Total.Amount {
		return nil, invalidRequest(op, qrpay.Invalid("amount", "The refund exceeds the payment."))
	}
	body := refundRequest{
		SubMchID:    req.SubMerchantID,
		OutTradeNo:  req.PaymentID,
		OutRefundNo: req.RefundID,
		Reason:      req.Reason,
		NotifyURL:   req.NotifyURL,
		Amount:      v3Amount{Refund: req.Amount.Amount, Total: req.Total.Amount, Currency: string(req.Amount.Currency)},
	}
	var out v3Refund
	if err := p.callV3(ctx, op, "POST", "/v3/refund/domestic/refunds", nil, body, &out); err != nil {
		return nil, err
	}
	if out.OutRefundNo != req.RefundID {
		return nil, unavailable(op, fmt.Errorf("answer names out_refund_no %q", out.OutRefundNo))
	}
	res, err := out.result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	if res.PaymentID == "" {
		res.PaymentID = req.PaymentID
	}
	return res, nil
}

// QueryRefund returns WeChat Pay's view of a refund (GET /v3/refund/domestic/refunds/{no}).
func (p *Provider) QueryRefund(ctx context.Context, req gateway.RefundRef) (*gateway.RefundResult, error) {
	const op = "refund_query"
	if req.RefundID == "" {
		return nil, invalidRequest(op, qrpay.Invalid("refund_id", "The refund id is required."))
	}
	var q url.Values
	if req.SubMerchantID != "" {
		q = url.Values{"sub_mchid": {req.SubMerchantID}}
	}
	var out v3Refund
	if err := p.callV3(ctx, op, "GET", "/v3/refund/domestic/refunds/"+url.PathEscape(req.RefundID), q, nil, &out); err != nil {
		return nil, err
	}
	if out.OutRefundNo != req.RefundID {
		return nil, unavailable(op, fmt.Errorf("answer names out_refund_no %q", out.OutRefundNo))
	}
	res, err := out.result()
	if err != nil {
		return nil, unavailable(op, err)
	}
	return res, nil
}
