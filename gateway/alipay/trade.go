package alipay

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// productFaceToFace is the product code of face-to-face payments (当面付).
const productFaceToFace = "FACE_TO_FACE_PAYMENT"

// maxSubject is the longest subject Alipay takes, in characters.
const maxSubject = 256

// tradeBiz is the biz_content of alipay.trade.precreate and alipay.trade.pay.
type tradeBiz struct {
	OutTradeNo  string       `json:"out_trade_no"`
	Scene       string       `json:"scene,omitempty"`
	AuthCode    string       `json:"auth_code,omitempty"`
	ProductCode string       `json:"product_code"`
	TotalAmount string       `json:"total_amount"`
	Subject     string       `json:"subject"`
	SellerID    string       `json:"seller_id,omitempty"`
	StoreID     string       `json:"store_id,omitempty"`
	TerminalID  string       `json:"terminal_id,omitempty"`
	TimeExpire  string       `json:"time_expire,omitempty"`
	SubMerchant *subMerchant `json:"sub_merchant,omitempty"`
}

// refBiz names a trade: by out_trade_no, and by trade_no when known.
type refBiz struct {
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
}

// tradeAnswer holds the trade fields that precreate, pay and query answer with.
type tradeAnswer struct {
	OutTradeNo   string `json:"out_trade_no"`
	TradeNo      string `json:"trade_no"`
	QRCode       string `json:"qr_code"`
	TradeStatus  string `json:"trade_status"`
	TotalAmount  string `json:"total_amount"`
	BuyerUserID  string `json:"buyer_user_id"`
	BuyerOpenID  string `json:"buyer_open_id"`
	GmtPayment   string `json:"gmt_payment"`   // pay
	SendPayDate  string `json:"send_pay_date"` // query
	RetryFlag    string `json:"retry_flag"`    // cancel
	Action       string `json:"action"`        // cancel
	FundChange   string `json:"fund_change"`   // refund
	GmtRefundPay string `json:"gmt_refund_pay"`
}

func (p *Provider) sellerID(b binding) string {
	if b.appAuthToken != "" {
		return ""
	}
	return p.cfg.SellerID
}

// subject returns the order title Alipay requires: the description, or the payment id.
func subject(desc, paymentID string) string {
	s := strings.TrimSpace(desc)
	if s == "" {
		s = paymentID
	}
	if utf8.RuneCountInString(s) > maxSubject {
		r := []rune(s)
		s = string(r[:maxSubject])
	}
	return s
}

func checkAmount(op string, m qrpay.Money) error {
	if m.Currency != qrpay.CNY {
		return invalidRequest(op, "currency", "Alipay takes CNY only, not %q.", m.Currency)
	}
	if m.Amount <= 0 {
		return invalidRequest(op, "amount", "The amount must be positive.")
	}
	return nil
}

// CreateCode calls alipay.trade.precreate and returns the qr_code to show. ExpiresAt is sent as
// time_expire (absolute, in Asia/Shanghai, to the second), so the code stops working at the
// provider no later than qrpay's own expiry. Alipay assigns no trade_no before the buyer scans,
// so Code.ProviderTradeNo is empty.
func (p *Provider) CreateCode(ctx context.Context, req gateway.CreateCodeRequest) (*gateway.Code, error) {
	const op = "precreate"
	if req.PaymentID == "" {
		return nil, invalidRequest(op, "payment_id", "The payment id is required.")
	}
	if err := checkAmount(op, req.Amount); err != nil {
		return nil, err
	}
	b := parseBinding(req.SubMerchantID)
	biz := tradeBiz{
		OutTradeNo:  req.PaymentID,
		ProductCode: productFaceToFace,
		TotalAmount: req.Amount.Decimal(),
		Subject:     subject(req.Description, req.PaymentID),
		SellerID:    p.sellerID(b),
		StoreID:     req.StoreID,
		TerminalID:  req.TerminalID,
		SubMerchant: b.subMerchant(),
	}
	if !req.ExpiresAt.IsZero() {
		if !req.ExpiresAt.After(p.clock.Now()) {
			return nil, invalidRequest(op, "expires_at", "The code would expire before it is made.")
		}
		biz.TimeExpire = req.ExpiresAt.In(shanghai).Format(timeLayout)
	}
	r, err := p.call(ctx, op, MethodPrecreate, biz, req.NotifyURL, b.appAuthToken)
	if err != nil {
		return nil, err
	}
	if r.Code != "10000" {
		return nil, providerError(op, r)
	}
	var a tradeAnswer
	if err := r.decode(&a); err != nil {
		return nil, unreadable(op, err)
	}
	if err := checkIdentity(op, req.PaymentID, "", a.OutTradeNo, ""); err != nil {
		return nil, err
	}
	if a.QRCode == "" {
		return nil, unavailable(op, "a success without qr_code", nil)
	}
	return &gateway.Code{Payload: a.QRCode, ProviderTradeNo: a.TradeNo}, nil
}

// PayWithCode calls alipay.trade.pay (scene bar_code). Code 10000 is a succeeded trade; 10003
// (the customer is confirming on the phone) is a pending one to poll with Query; 20000 and
// ACQ.SYSTEM_ERROR are an unknown outcome (a *gateway.ProviderError with Unknown set; query,
// then cancel). A business refusal (40004: an invalid or expired code, not enough balance, a
// risk decision...) is a failed trade whose FailureReason carries Alipay's sub_code and
// message; ACQ.TRADE_HAS_SUCCESS and refusals of our parameters are *gateway.ProviderError.
func (p *Provider) PayWithCode(ctx context.Context, req gateway.PayCodeRequest) (*gateway.Trade, error) {
	const op = "pay"
	if req.PaymentID == "" {
		return nil, invalidRequest(op, "payment_id", "The payment id is required.")
	}
	if strings.TrimSpace(req.AuthCode) == "" {
		return nil, invalidRequest(op, "auth_code", "The payment code is required.")
	}
	if err := checkAmount(op, req.Amount); err != nil {
		return nil, err
	}
	b := parseBinding(req.SubMerchantID)
	biz := tradeBiz{
		OutTradeNo:  req.PaymentID,
		Scene:       "bar_code",
		AuthCode:    strings.TrimSpace(req.AuthCode),
		ProductCode: productFaceToFace,
		TotalAmount: req.Amount.Decimal(),
		Subject:     subject(req.Description, req.PaymentID),
		SellerID:    p.sellerID(b),
		StoreID:     req.StoreID,
		TerminalID:  req.TerminalID,
		SubMerchant: b.subMerchant(),
	}
	r, err := p.call(ctx, op, MethodPay, biz, req.NotifyURL, b.appAuthToken)
	if err != nil {
		return nil, err
	}
	switch r.Code {
	case "10000", "10003":
		var a tradeAnswer
		if err := r.decode(&a); err != nil {
			return nil, unreadable(op, err)
		}
		if err := checkIdentity(op, req.PaymentID, "", a.OutTradeNo, ""); err != nil {
			return nil, err
		}
		t, err := tradeFromAnswer(a, req.PaymentID)
		if err != nil {
			return nil, unreadable(op, err)
		}
		t.Status = gateway.TradeSucceeded
		if r.Code == "10003" {
			t.Status = gateway.TradePending
		} else if t.Amount.Amount == 0 {
			return nil, unavailable(op, "a success without total_amount", nil)
		}
		return t, nil
	case "40004":
		pe := providerError(op, r)
		if pe.Code == gateway.ProviderDeclined {
			return &gateway.Trade{PaymentID: req.PaymentID, Status: gateway.TradeFailed,
				FailureReason: failureReason(r)}, nil
		}
		return nil, pe
	default:
		return nil, providerError(op, r)
	}
}

func failureReason(r *reply) string {
	code := r.SubCode
	if code == "" {
		code = r.Code
	}
	msg := r.SubMsg
	if msg == "" {
		msg = r.Msg
	}
	if msg == "" {
		return code
	}
	return code + ": " + msg
}

// tradeFromAnswer reads the trade fields common to pay and query answers.
func tradeFromAnswer(a tradeAnswer, paymentID string) (*gateway.Trade, error) {
	t := &gateway.Trade{PaymentID: a.OutTradeNo, ProviderTradeNo: a.TradeNo, Payer: a.BuyerUserID}
	if t.PaymentID == "" {
		t.PaymentID = paymentID
	}
	if t.Payer == "" {
		t.Payer = a.BuyerOpenID
	}
	var err error
	if t.Amount, err = optionalMoney(a.TotalAmount); err != nil {
		return nil, err
	}
	paid := a.GmtPayment
	if paid == "" {
		paid = a.SendPayDate
	}
	if t.PaidAt, err = parseTime(paid); err != nil {
		return nil, err
	}
	return t, nil
}

// Query calls alipay.trade.query. WAIT_BUYER_PAY is pending; TRADE_SUCCESS and TRADE_FINISHED
// are succeeded; TRADE_CLOSED is closed, or refunded when the answer carries a payment time
// (send_pay_date), since Alipay closes a paid trade once it is refunded in full.
// ACQ.TRADE_NOT_EXIST is a *gateway.ProviderError with Code ProviderNotFound: note that
// Alipay does not know a precreated trade until the buyer scans its code.
func (p *Provider) Query(ctx context.Context, ref gateway.TradeRef) (*gateway.Trade, error) {
	const op = "query"
	if ref.PaymentID == "" && ref.ProviderTradeNo == "" {
		return nil, invalidRequest(op, "payment_id", "A payment id or a provider trade number is required.")
	}
	b := parseBinding(ref.SubMerchantID)
	r, err := p.call(ctx, op, MethodQuery, refBiz{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo}, "", b.appAuthToken)
	if err != nil {
		return nil, err
	}
	if r.Code != "10000" {
		return nil, providerError(op, r)
	}
	var a tradeAnswer
	if err := r.decode(&a); err != nil {
		return nil, unreadable(op, err)
	}
	if err := checkIdentity(op, ref.PaymentID, ref.ProviderTradeNo, a.OutTradeNo, a.TradeNo); err != nil {
		return nil, err
	}
	t, err := tradeFromAnswer(a, ref.PaymentID)
	if err != nil {
		return nil, unreadable(op, err)
	}
	switch a.TradeStatus {
	case "WAIT_BUYER_PAY":
		t.Status = gateway.TradePending
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		t.Status = gateway.TradeSucceeded
	case "TRADE_CLOSED":
		t.Status = gateway.TradeClosed
		if !t.PaidAt.IsZero() {
			t.Status = gateway.TradeRefunded
		}
	default:
		return nil, unavailable(op, "unknown trade_status "+a.TradeStatus, nil)
	}
	return t, nil
}

// Cancel calls alipay.trade.cancel (撤销): Alipay closes an unpaid trade and refunds a paid one
// in full; action "refund" is reported as Refunded. An answer with retry_flag Y is a
// *gateway.ProviderError with Unknown set: the reversal did not complete and must be retried.
func (p *Provider) Cancel(ctx context.Context, ref gateway.TradeRef) (*gateway.CancelResult, error) {
	const op = "cancel"
	if ref.PaymentID == "" && ref.ProviderTradeNo == "" {
		return nil, invalidRequest(op, "payment_id", "A payment id or a provider trade number is required.")
	}
	b := parseBinding(ref.SubMerchantID)
	r, err := p.call(ctx, op, MethodCancel, refBiz{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo}, "", b.appAuthToken)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(r.RetryFlag, "Y") {
		pe := providerError(op, r)
		pe.Code, pe.Unknown = gateway.ProviderUnavailable, true
		if pe.Message == "" || r.Code == "10000" {
			pe.Message = "Alipay asks for the reversal to be retried"
		}
		return nil, pe
	}
	if r.Code != "10000" {
		return nil, providerError(op, r)
	}
	var a tradeAnswer
	if err := r.decode(&a); err != nil {
		return nil, unreadable(op, err)
	}
	if err := checkIdentity(op, ref.PaymentID, ref.ProviderTradeNo, a.OutTradeNo, a.TradeNo); err != nil {
		return nil, err
	}
	return &gateway.CancelResult{Refunded: a.Action == "refund"}, nil
}

// Close calls alipay.trade.close. Alipay answers ACQ.TRADE_STATUS_ERROR for any trade that is
// not waiting for payment, paid or already closed alike; Close then queries the trade: a closed
// unpaid trade is success (closing is idempotent), anything else is a *gateway.ProviderError
// with Code ProviderAlreadyPaid.
func (p *Provider) Close(ctx context.Context, ref gateway.TradeRef) error {
	const op = "close"
	if ref.PaymentID == "" && ref.ProviderTradeNo == "" {
		return invalidRequest(op, "payment_id", "A payment id or a provider trade number is required.")
	}
	b := parseBinding(ref.SubMerchantID)
	r, err := p.call(ctx, op, MethodClose, refBiz{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo}, "", b.appAuthToken)
	if err != nil {
		return err
	}
	if r.Code == "10000" {
		var a tradeAnswer
		if err := r.decode(&a); err != nil {
			return unreadable(op, err)
		}
		return checkIdentity(op, ref.PaymentID, ref.ProviderTradeNo, a.OutTradeNo, a.TradeNo)
	}
	pe := providerError(op, r)
	if strings.TrimPrefix(r.SubCode, "aop.") != "ACQ.TRADE_STATUS_ERROR" {
		return pe
	}
	pe.Code = gateway.ProviderAlreadyPaid
	t, qerr := p.Query(ctx, ref)
	if qerr != nil {
		pe.Message += " (the trade could not be queried to tell paid from closed)"
		pe.Err = qerr
		return pe
	}
	if t.Status == gateway.TradeClosed {
		return nil
	}
	return pe
}

// refundBiz is the biz_content of alipay.trade.refund.
type refundBiz struct {
	OutTradeNo   string `json:"out_trade_no,omitempty"`
	TradeNo      string `json:"trade_no,omitempty"`
	RefundAmount string `json:"refund_amount"`
	OutRequestNo string `json:"out_request_no"`
	RefundReason string `json:"refund_reason,omitempty"`
}

// Refund calls alipay.trade.refund with out_request_no = RefundID, so a repeated request is the
// same refund. fund_change Y is a succeeded refund. fund_change N means this call moved no
// money (typically a repeat of a refund already made); the result is then pending and
// QueryRefund tells the outcome. Alipay's answer carries only the trade's cumulative refund_fee,
// not this refund's amount, so the result's Amount is zero ("not said"): QueryRefund reports it.
// A business refusal (40004 other than a missing trade, invalid parameters or an insufficient
// balance) is a failed refund with FailureReason, not an error.
func (p *Provider) Refund(ctx context.Context, req gateway.RefundRequest) (*gateway.RefundResult, error) {
	const op = "refund"
	if req.PaymentID == "" && req.ProviderTradeNo == "" {
		return nil, invalidRequest(op, "payment_id", "A payment id or a provider trade number is required.")
	}
	if req.RefundID == "" {
		return nil, invalidRequest(op, "refund_id", "The refund id is required.")
	}
	if err := checkAmount(op, req.Amount); err != nil {
		return nil, err
	}
	b := parseBinding(req.SubMerchantID)
	biz := refundBiz{OutTradeNo: req.PaymentID, TradeNo: req.ProviderTradeNo, RefundAmount: req.Amount.Decimal(),
		OutRequestNo: req.RefundID, RefundReason: req.Reason}
	r, err := p.call(ctx, op, MethodRefund, biz, req.NotifyURL, b.appAuthToken)
	if err != nil {
		return nil, err
	}
	res := &gateway.RefundResult{PaymentID: req.PaymentID, RefundID: req.RefundID}
	switch r.Code {
	case "10000":
		var a tradeAnswer
		if err := r.decode(&a); err != nil {
			return nil, unreadable(op, err)
		}
		if err := checkIdentity(op, req.PaymentID, req.ProviderTradeNo, a.OutTradeNo, a.TradeNo); err != nil {
			return nil, err
		}
		if a.OutTradeNo != "" {
			res.PaymentID = a.OutTradeNo
		}
		res.Status = gateway.RefundPending
		if a.FundChange == "Y" {
			res.Status = gateway.RefundSucceeded
		}
		if res.RefundedAt, err = parseTime(a.GmtRefundPay); err != nil {
			return nil, unreadable(op, err)
		}
		return res, nil
	case "40004":
		pe := providerError(op, r)
		if pe.Code == gateway.ProviderDeclined {
			res.Status = gateway.RefundFailed
			res.FailureReason = failureReason(r)
			return res, nil
		}
		return nil, pe
	default:
		return nil, providerError(op, r)
	}
}

// refundQueryBiz is the biz_content of alipay.trade.fastpay.refund.query.
type refundQueryBiz struct {
	OutTradeNo   string   `json:"out_trade_no,omitempty"`
	TradeNo      string   `json:"trade_no,omitempty"`
	OutRequestNo string   `json:"out_request_no"`
	QueryOptions []string `json:"query_options,omitempty"`
}

// refundAnswer is the answer of alipay.trade.fastpay.refund.query.
type refundAnswer struct {
	OutTradeNo   string `json:"out_trade_no"`
	TradeNo      string `json:"trade_no"`
	OutRequestNo string `json:"out_request_no"`
	RefundAmount string `json:"refund_amount"`
	RefundStatus string `json:"refund_status"`
	GmtRefundPay string `json:"gmt_refund_pay"`
}

// QueryRefund calls alipay.trade.fastpay.refund.query. REFUND_SUCCESS is succeeded. Alipay
// documents that an answer without refund_status means the refund was not received, failed, or
// is not processed yet; it is reported as pending, to be asked again later.
func (p *Provider) QueryRefund(ctx context.Context, ref gateway.RefundRef) (*gateway.RefundResult, error) {
	const op = "refund_query"
	if ref.PaymentID == "" && ref.ProviderTradeNo == "" {
		return nil, invalidRequest(op, "payment_id", "A payment id or a provider trade number is required.")
	}
	if ref.RefundID == "" {
		return nil, invalidRequest(op, "refund_id", "The refund id is required.")
	}
	b := parseBinding(ref.SubMerchantID)
	biz := refundQueryBiz{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo, OutRequestNo: ref.RefundID,
		QueryOptions: []string{"gmt_refund_pay"}}
	r, err := p.call(ctx, op, MethodRefundQuery, biz, "", b.appAuthToken)
	if err != nil {
		return nil, err
	}
	if r.Code != "10000" {
		return nil, providerError(op, r)
	}
	var a refundAnswer
	if err := r.decode(&a); err != nil {
		return nil, unreadable(op, err)
	}
	if err := checkIdentity(op, ref.PaymentID, ref.ProviderTradeNo, a.OutTradeNo, a.TradeNo); err != nil {
		return nil, err
	}
	if a.OutRequestNo != "" && a.OutRequestNo != ref.RefundID {
		return nil, tampered(op, "the answer is about out_request_no "+a.OutRequestNo)
	}
	res := &gateway.RefundResult{PaymentID: ref.PaymentID, RefundID: ref.RefundID}
	if a.OutTradeNo != "" {
		res.PaymentID = a.OutTradeNo
	}
	if res.Amount, err = optionalMoney(a.RefundAmount); err != nil {
		return nil, unreadable(op, err)
	}
	if res.RefundedAt, err = parseTime(a.GmtRefundPay); err != nil {
		return nil, unreadable(op, err)
	}
	switch a.RefundStatus {
	case "REFUND_SUCCESS":
		res.Status = gateway.RefundSucceeded
	case "", "REFUND_PROCESSING":
		res.Status = gateway.RefundPending
	case "REFUND_FAIL", "REFUND_FAILED":
		res.Status = gateway.RefundFailed
		res.FailureReason = a.RefundStatus
	default:
		return nil, unavailable(op, "unknown refund_status "+a.RefundStatus, nil)
	}
	return res, nil
}
