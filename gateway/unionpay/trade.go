package unionpay

import (
	"context"
	"strings"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// origTxnStatus values of a query answer (our design): a consume closed unpaid, and a paid one
// reversed by txnType 31.
const (
	statusClosed = "closed"
	statusVoided = "voided"
)

// tradeFrom reads the consume fields that pay answers, query answers and notices share:
// orderId, queryId, txnAmt with currencyCode, finishTime and accNo (the payer's masked account).
func tradeFrom(f fields, paymentID string) (*gateway.Trade, error) {
	t := &gateway.Trade{PaymentID: f["orderId"], ProviderTradeNo: f["queryId"], Payer: f["accNo"]}
	if t.PaymentID == "" {
		t.PaymentID = paymentID
	}
	var err error
	if t.Amount, err = optionalMoney(f["txnAmt"], f["currencyCode"]); err != nil {
		return nil, err
	}
	if t.PaidAt, err = parseTime(f["finishTime"]); err != nil {
		return nil, err
	}
	return t, nil
}

// customerIP returns the client address when it can go on the wire as it is.
func customerIP(ip string) string {
	if plainValue(ip) && len(ip) <= 40 {
		return ip
	}
	return ""
}

// PayWithCode charges a customer's C2B payment code (txnType 01, txnSubType 06, qrNo). A code
// that is not 19 digits starting with 62 is refused at once with an EINVALID *qrpay.Error
// naming auth_code, and nothing is sent. respCode 00 is a succeeded trade; 03, 04 and 05 (the
// customer is confirming on the phone, or UnionPay does not know yet) are a pending trade to
// poll with Query; a decline is a failed trade whose FailureReason is "respCode: respMsg".
// Timeouts, 5xx and unreadable or unsigned answers are *gateway.ProviderError with Unknown set:
// query, then cancel.
func (p *Provider) PayWithCode(ctx context.Context, req gateway.PayCodeRequest) (*gateway.Trade, error) {
	const op = "pay"
	code := strings.TrimSpace(req.AuthCode)
	if !isC2B(code) {
		return nil, qrpay.Invalid("auth_code", "This is not a UnionPay payment code: those are 19 digits starting with 62.")
	}
	if err := checkOrderID(op, "payment_id", req.PaymentID); err != nil {
		return nil, err
	}
	if err := checkMoney(op, req.Amount); err != nil {
		return nil, err
	}
	merID, err := p.merID(op, req.SubMerchantID)
	if err != nil {
		return nil, err
	}
	f := fields{
		"txnType": txnConsume, "txnSubType": subC2B, "merId": merID, "orderId": req.PaymentID,
		"txnAmt": minor(req.Amount), "currencyCode": req.Amount.Currency.Numeric(), "qrNo": code,
		"backUrl": req.NotifyURL, "termId": terminalLabel(req.TerminalID), "orderDesc": description(req.Description),
		"customerIp": customerIP(req.ClientIP),
	}
	r, err := p.call(ctx, op, pathBackTrans, f)
	if err != nil {
		return nil, err
	}
	switch rc := r["respCode"]; {
	case rc == "00", processing(rc):
		t, err := tradeFrom(r, req.PaymentID)
		if err != nil {
			return nil, unreadable(op, err)
		}
		t.Status = gateway.TradePending
		if rc == "00" {
			if t.Amount.Amount == 0 {
				return nil, unavailable(op, "a success without txnAmt", nil)
			}
			t.Status = gateway.TradeSucceeded
		}
		return t, nil
	default:
		e := respError(op, r)
		if e.Code == gateway.ProviderDeclined {
			return &gateway.Trade{PaymentID: req.PaymentID, Status: gateway.TradeFailed,
				FailureReason: failureReason(rc, r["respMsg"])}, nil
		}
		return nil, e
	}
}

// checkRef checks a TradeRef and returns its merId.
func (p *Provider) checkRef(op string, ref gateway.TradeRef) (string, error) {
	if ref.PaymentID == "" && ref.ProviderTradeNo == "" {
		return "", invalidRequest(op, "payment_id", "A payment id or a provider trade number is required.")
	}
	if ref.PaymentID != "" {
		if err := checkOrderID(op, "payment_id", ref.PaymentID); err != nil {
			return "", err
		}
	}
	if ref.ProviderTradeNo != "" && !plainValue(ref.ProviderTradeNo) {
		return "", invalidRequest(op, "provider_trade_no", "The provider trade number %q cannot be sent.", ref.ProviderTradeNo)
	}
	return p.merID(op, ref.SubMerchantID)
}

// Query asks for a payment (txnType 00) by orderId or queryId. The answer's origRespCode is the
// payment's own outcome: 00 succeeded, 03, 04 and 05 pending, others failed. origTxnStatus
// "closed" is a closed order and "voided" a paid one whose money a Cancel returned (reported as
// refunded: it was paid). Ordinary refunds do not change a payment's answer: it stays
// succeeded. respCode 34 is a *gateway.ProviderError with Code ProviderNotFound.
func (p *Provider) Query(ctx context.Context, ref gateway.TradeRef) (*gateway.Trade, error) {
	const op = "query"
	merID, err := p.checkRef(op, ref)
	if err != nil {
		return nil, err
	}
	r, err := p.call(ctx, op, pathQuery, fields{"txnType": txnQuery, "txnSubType": "00", "merId": merID,
		"orderId": ref.PaymentID, "queryId": ref.ProviderTradeNo})
	if err != nil {
		return nil, err
	}
	if r["respCode"] != "00" {
		return nil, respError(op, r)
	}
	if ot := r["origTxnType"]; ot != "" && ot != txnConsume {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderInvalid,
			Message: "the transaction is not a payment but txnType " + ot}
	}
	t, err := tradeFrom(r, ref.PaymentID)
	if err != nil {
		return nil, unreadable(op, err)
	}
	switch st := r["origTxnStatus"]; st {
	case statusVoided:
		t.Status = gateway.TradeRefunded
		return t, nil
	case statusClosed:
		t.Status = gateway.TradeClosed
		return t, nil
	case "":
	default:
		return nil, unavailable(op, "unknown origTxnStatus "+st, nil)
	}
	switch oc := r["origRespCode"]; {
	case oc == "00":
		t.Status = gateway.TradeSucceeded
	case processing(oc):
		t.Status = gateway.TradePending
	case oc == "":
		return nil, unavailable(op, "a query answer without origRespCode", nil)
	default:
		t.Status = gateway.TradeFailed
		t.FailureReason = failureReason(oc, r["origRespMsg"])
	}
	return t, nil
}

// Cancel voids or reverses a payment (txnType 31, txnSubType 00): an unpaid one is closed, a
// paid one is refunded in full by UnionPay, reported as Refunded (the answer's origRespCode 00
// says the payment had been made). Cancelling again answers the same. A payment UnionPay never
// saw is a *gateway.ProviderError with Code ProviderNotFound; 03, 04 and 05 leave the outcome
// unknown (Unknown set): cancel again later.
func (p *Provider) Cancel(ctx context.Context, ref gateway.TradeRef) (*gateway.CancelResult, error) {
	const op = "cancel"
	merID, err := p.checkRef(op, ref)
	if err != nil {
		return nil, err
	}
	r, err := p.call(ctx, op, pathBackTrans, fields{"txnType": txnVoid, "txnSubType": subVoid, "merId": merID,
		"origOrderId": ref.PaymentID, "origQryId": ref.ProviderTradeNo})
	if err != nil {
		return nil, err
	}
	if r["respCode"] != "00" {
		return nil, respError(op, r)
	}
	return &gateway.CancelResult{Refunded: r["origRespCode"] == "00"}, nil
}

// Close closes an unpaid payment (txnType 31, txnSubType 01); closing a closed one succeeds. A
// paid payment is refused with respCode 35 and origRespCode 00: a *gateway.ProviderError with
// Code ProviderAlreadyPaid (ProviderAlreadyClosed when a Cancel had already returned the money).
func (p *Provider) Close(ctx context.Context, ref gateway.TradeRef) error {
	const op = "close"
	merID, err := p.checkRef(op, ref)
	if err != nil {
		return err
	}
	r, err := p.call(ctx, op, pathBackTrans, fields{"txnType": txnVoid, "txnSubType": subClose, "merId": merID,
		"origOrderId": ref.PaymentID, "origQryId": ref.ProviderTradeNo})
	if err != nil {
		return err
	}
	switch rc := r["respCode"]; {
	case rc == "00":
		return nil
	case rc == "35" && r["origRespCode"] == "00":
		e := respError(op, r)
		e.Code = gateway.ProviderAlreadyPaid
		if r["origTxnStatus"] == statusVoided {
			e.Code = gateway.ProviderAlreadyClosed
		}
		return e
	default:
		return respError(op, r)
	}
}

// Refund returns part or all of a paid payment (txnType 04) as a transaction of its own whose
// orderId is RefundID: partial refunds are distinct RefundIDs, and sending the same RefundID
// again is the same refund. The payment is named by origQryId (ProviderTradeNo) and origOrderId
// (PaymentID). respCode 00 is a succeeded refund; 03, 04 and 05 a pending one (ask QueryRefund);
// a decline is a failed refund with FailureReason. A payment that was closed or voided is a
// *gateway.ProviderError with Code ProviderAlreadyClosed; an amount beyond what remains is
// ProviderInvalid.
func (p *Provider) Refund(ctx context.Context, req gateway.RefundRequest) (*gateway.RefundResult, error) {
	const op = "refund"
	merID, err := p.checkRef(op, gateway.TradeRef{PaymentID: req.PaymentID, ProviderTradeNo: req.ProviderTradeNo,
		SubMerchantID: req.SubMerchantID})
	if err != nil {
		return nil, err
	}
	if err := checkOrderID(op, "refund_id", req.RefundID); err != nil {
		return nil, err
	}
	if err := checkMoney(op, req.Amount); err != nil {
		return nil, err
	}
	r, err := p.call(ctx, op, pathBackTrans, fields{"txnType": txnRefund, "txnSubType": "00", "merId": merID,
		"orderId": req.RefundID, "origOrderId": req.PaymentID, "origQryId": req.ProviderTradeNo,
		"txnAmt": minor(req.Amount), "currencyCode": req.Amount.Currency.Numeric(), "backUrl": req.NotifyURL})
	if err != nil {
		return nil, err
	}
	res := &gateway.RefundResult{PaymentID: req.PaymentID, RefundID: req.RefundID, ProviderRefundNo: r["queryId"]}
	if res.PaymentID == "" {
		res.PaymentID = r["origOrderId"]
	}
	switch rc := r["respCode"]; {
	case rc == "00", processing(rc):
		if res.Amount, err = optionalMoney(r["txnAmt"], r["currencyCode"]); err != nil {
			return nil, unreadable(op, err)
		}
		if res.RefundedAt, err = parseTime(r["finishTime"]); err != nil {
			return nil, unreadable(op, err)
		}
		res.Status = gateway.RefundPending
		if rc == "00" {
			res.Status = gateway.RefundSucceeded
		}
		return res, nil
	case rc == "35" && (r["origTxnStatus"] == statusClosed || r["origTxnStatus"] == statusVoided):
		e := respError(op, r)
		e.Code = gateway.ProviderAlreadyClosed
		return nil, e
	default:
		e := respError(op, r)
		if e.Code == gateway.ProviderDeclined {
			res.Status = gateway.RefundFailed
			res.FailureReason = failureReason(rc, r["respMsg"])
			return res, nil
		}
		return nil, e
	}
}

// QueryRefund asks for a refund (txnType 00 with orderId = RefundID). origRespCode 00 is
// succeeded, 03, 04 and 05 pending, others failed. An answer about another payment's refund, or
// about a transaction that is not a refund, is a *gateway.ProviderError with Code
// ProviderInvalid; respCode 34 is ProviderNotFound.
func (p *Provider) QueryRefund(ctx context.Context, ref gateway.RefundRef) (*gateway.RefundResult, error) {
	const op = "refund_query"
	if err := checkOrderID(op, "refund_id", ref.RefundID); err != nil {
		return nil, err
	}
	merID, err := p.merID(op, ref.SubMerchantID)
	if err != nil {
		return nil, err
	}
	r, err := p.call(ctx, op, pathQuery, fields{"txnType": txnQuery, "txnSubType": "00", "merId": merID,
		"orderId": ref.RefundID})
	if err != nil {
		return nil, err
	}
	if r["respCode"] != "00" {
		return nil, respError(op, r)
	}
	other := func(msg string) error {
		return &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderInvalid, Message: msg}
	}
	if ot := r["origTxnType"]; ot != "" && ot != txnRefund {
		return nil, other("the transaction is not a refund but txnType " + ot)
	}
	if g := r["origOrderId"]; ref.PaymentID != "" && g != "" && g != ref.PaymentID {
		return nil, other("the refund is of payment " + g)
	}
	if g := r["origQryId"]; ref.ProviderTradeNo != "" && g != "" && g != ref.ProviderTradeNo {
		return nil, other("the refund is of queryId " + g)
	}
	res := &gateway.RefundResult{PaymentID: r["origOrderId"], RefundID: ref.RefundID, ProviderRefundNo: r["queryId"]}
	if res.PaymentID == "" {
		res.PaymentID = ref.PaymentID
	}
	if res.Amount, err = optionalMoney(r["txnAmt"], r["currencyCode"]); err != nil {
		return nil, unreadable(op, err)
	}
	if res.RefundedAt, err = parseTime(r["finishTime"]); err != nil {
		return nil, unreadable(op, err)
	}
	switch oc := r["origRespCode"]; {
	case oc == "00":
		res.Status = gateway.RefundSucceeded
	case processing(oc):
		res.Status = gateway.RefundPending
	case oc == "":
		return nil, unavailable(op, "a query answer without origRespCode", nil)
	default:
		res.Status = gateway.RefundFailed
		res.FailureReason = failureReason(oc, r["origRespMsg"])
	}
	return res, nil
}
