package unionpay

import (
	"context"
	"net/http"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// maxNotify bounds a notice body; UnionPay's are a few kilobytes.
const maxNotify = 64 << 10

// ParseCallback verifies and reads a back notification (the form UnionPay POSTs to backUrl).
// The signature is checked with the verification key that the notice's certId names in
// Config.VerifyKeys; a notice that is unsigned, names an unknown certId or does not verify is
// refused with an EUNAUTHORIZED *qrpay.Error, and one that cannot be read with EINVALID. No
// field of a refused notice is believed.
//
// txnType 01 (a QR order or a C2B code) is about the payment orderId: respCode 00 succeeded with
// txnAmt, queryId, finishTime and accNo; 03, 04 and 05 pending; others failed. txnType 04 is
// about the refund orderId of the payment origOrderId, with the same statuses. txnType 31 (a
// void or close) reports the payment origOrderId closed. Ack is HTTP 200 with the body "ok".
func (p *Provider) ParseCallback(_ context.Context, req gateway.CallbackRequest) (*gateway.Callback, error) {
	if req.Method != "" && req.Method != http.MethodPost {
		return nil, qrpay.Invalid("method", "UnionPay notices are POST requests.")
	}
	if len(req.Body) > maxNotify {
		return nil, qrpay.Invalid("body", "The notice is too large.")
	}
	f, err := parseForm(string(req.Body))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The notice is not a form.")
	}
	if f[fieldSignature] == "" {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "The notice is not signed.")
	}
	if err := p.verifyFields(f); err != nil {
		return nil, qrpay.WrapError(qrpay.EUNAUTHORIZED, err, "The notice's signature does not verify.")
	}
	return readNotice(f)
}

// readNotice turns the verified fields of a notice into a Callback.
func readNotice(f fields) (*gateway.Callback, error) {
	cb := &gateway.Callback{Ack: gateway.Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8",
		Body: []byte("ok")}}
	rc := f["respCode"]
	if rc == "" {
		return nil, qrpay.Invalid("respCode", "The notice has no respCode.")
	}
	switch f["txnType"] {
	case txnConsume:
		if !isOrderID(f["orderId"]) {
			return nil, qrpay.Invalid("orderId", "The notice names no usable orderId.")
		}
		t, err := tradeFrom(f, "")
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable amount or time.")
		}
		switch {
		case rc == "00":
			if t.Amount.Amount == 0 {
				return nil, qrpay.Invalid("txnAmt", "A paid notice without txnAmt.")
			}
			t.Status = gateway.TradeSucceeded
		case processing(rc):
			t.Status = gateway.TradePending
		default:
			t.Status = gateway.TradeFailed
			t.FailureReason = failureReason(rc, f["respMsg"])
		}
		cb.Trade = t
	case txnRefund:
		if !isOrderID(f["orderId"]) || !isOrderID(f["origOrderId"]) {
			return nil, qrpay.Invalid("orderId", "The refund notice names no usable orderId and origOrderId.")
		}
		r := &gateway.RefundResult{PaymentID: f["origOrderId"], RefundID: f["orderId"], ProviderRefundNo: f["queryId"]}
		var err error
		if r.Amount, err = optionalMoney(f["txnAmt"], f["currencyCode"]); err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable txnAmt.")
		}
		if r.RefundedAt, err = parseTime(f["finishTime"]); err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable finishTime.")
		}
		switch {
		case rc == "00":
			r.Status = gateway.RefundSucceeded
		case processing(rc):
			r.Status = gateway.RefundPending
		default:
			r.Status = gateway.RefundFailed
			r.FailureReason = failureReason(rc, f["respMsg"])
		}
		cb.Refund = r
	case txnVoid:
		if !isOrderID(f["origOrderId"]) {
			return nil, qrpay.Invalid("origOrderId", "The void notice names no usable origOrderId.")
		}
		if rc != "00" {
			return nil, qrpay.Invalid("respCode", "A void notice with respCode %q says nothing to record.", rc)
		}
		cb.Trade = &gateway.Trade{PaymentID: f["origOrderId"], ProviderTradeNo: f["origQryId"], Status: gateway.TradeClosed}
	default:
		return nil, qrpay.Invalid("txnType", "Unsupported txnType %q.", f["txnType"])
	}
	return cb, nil
}

// CallbackNack is the answer that makes UnionPay send a notice again: any status but 200 does;
// 500 with the body "fail".
func (p *Provider) CallbackNack() gateway.Reply {
	return gateway.Reply{Status: http.StatusInternalServerError, ContentType: "text/plain; charset=utf-8",
		Body: []byte("fail")}
}
