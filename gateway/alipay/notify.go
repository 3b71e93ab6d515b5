package alipay

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// maxNotify bounds a notice body; Alipay's are around two kilobytes.
const maxNotify = 64 << 10

// ackBody and nackBody are the literal answers Alipay reads: anything but "success" makes it
// send the notice again (8 times over about 25 hours).
const (
	ackBody  = "success"
	nackBody = "fail"
)

// ParseCallback verifies and reads an asynchronous notice (notify_type trade_status_sync), a
// form-encoded POST. Verification follows the official SDKs: sign and sign_type are removed,
// the form-decoded values are sorted and joined, and the RSA2 signature is checked with the
// Alipay public key; when that fails it is checked once more with sign_type kept, since Alipay
// has signed notices both ways. The notice must be for this app (app_id) and, when
// Config.SellerID is set, for this seller.
//
// A notice with out_biz_no and gmt_refund is about a refund (Callback.Refund, succeeded; its
// Amount is zero because the notice carries only the trade's cumulative refund_fee); any other
// is about the payment (Callback.Trade): TRADE_SUCCESS and TRADE_FINISHED succeeded with
// total_amount, gmt_payment, trade_no and buyer_id, TRADE_CLOSED closed, WAIT_BUYER_PAY pending.
//
// It returns an EUNAUTHORIZED *qrpay.Error when the notice is unsigned, its signature does not
// verify or it is for another app or seller, and EINVALID when it cannot be read.
func (p *Provider) ParseCallback(_ context.Context, req gateway.CallbackRequest) (*gateway.Callback, error) {
	if req.Method != "" && req.Method != http.MethodPost {
		return nil, qrpay.Invalid("method", "Alipay notices are POST requests.")
	}
	if len(req.Body) > maxNotify {
		return nil, qrpay.Invalid("body", "The notice is too large.")
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The notice is not a form.")
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) != 1 {
			return nil, qrpay.Invalid(k, "The notice repeats the field %q.", k)
		}
		params[k] = v[0]
	}
	if err := p.verifyNotify(params); err != nil {
		return nil, err
	}
	if cs := strings.ToLower(params["charset"]); cs == "gbk" || cs == "gb2312" || cs == "gb18030" {
		// The signature was over the raw bytes; read the values as UTF-8 from here on.
		for k, v := range params {
			u, err := simplifiedchinese.GB18030.NewDecoder().String(v)
			if err != nil {
				return nil, qrpay.WrapError(qrpay.EINVALID, err, "The notice is not valid %s.", cs)
			}
			params[k] = u
		}
	}
	return readNotify(params)
}

// verifyNotify checks the signature, app_id and seller_id of a notice.
func (p *Provider) verifyNotify(params map[string]string) error {
	sig := params["sign"]
	if sig == "" {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The notice is not signed.")
	}
	signType := params["sign_type"]
	if signType != "" && signType != "RSA2" {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "Unsupported sign_type %q.", signType)
	}
	ok := verifyRSA2(p.cfg.AlipayPublicKey, []byte(signContent(params, "sign", "sign_type")), sig)
	if !ok {
		kept := params
		if signType == "" {
			kept = make(map[string]string, len(params)+1)
			for k, v := range params {
				kept[k] = v
			}
			kept["sign_type"] = "RSA2"
		}
		ok = verifyRSA2(p.cfg.AlipayPublicKey, []byte(signContent(kept, "sign")), sig)
	}
	if !ok {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The notice's signature does not verify.")
	}
	if params["app_id"] != p.cfg.AppID {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The notice is for another app.")
	}
	if p.cfg.SellerID != "" && params["seller_id"] != "" && params["seller_id"] != p.cfg.SellerID {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The notice is for another seller.")
	}
	return nil
}

// readNotify turns the verified fields of a notice into a Callback.
func readNotify(params map[string]string) (*gateway.Callback, error) {
	if nt := params["notify_type"]; nt != "" && nt != "trade_status_sync" {
		return nil, qrpay.Invalid("notify_type", "Unsupported notify_type %q.", nt)
	}
	out := params["out_trade_no"]
	if out == "" {
		return nil, qrpay.Invalid("out_trade_no", "The notice names no out_trade_no.")
	}
	cb := &gateway.Callback{Ack: gateway.Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8",
		Body: []byte(ackBody)}}

	if params["out_biz_no"] != "" && params["gmt_refund"] != "" {
		at, err := parseTime(params["gmt_refund"])
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable gmt_refund.")
		}
		if _, err := optionalMoney(params["refund_fee"]); err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable refund_fee.")
		}
		cb.Refund = &gateway.RefundResult{PaymentID: out, RefundID: params["out_biz_no"],
			Status: gateway.RefundSucceeded, RefundedAt: at}
		return cb, nil
	}

	t := &gateway.Trade{PaymentID: out, ProviderTradeNo: params["trade_no"], Payer: params["buyer_id"]}
	if t.Payer == "" {
		t.Payer = params["buyer_open_id"]
	}
	var err error
	if t.Amount, err = optionalMoney(params["total_amount"]); err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable total_amount.")
	}
	if t.PaidAt, err = parseTime(params["gmt_payment"]); err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "Unreadable gmt_payment.")
	}
	switch params["trade_status"] {
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		t.Status = gateway.TradeSucceeded
		if t.Amount.Amount == 0 {
			return nil, qrpay.Invalid("total_amount", "A paid notice without total_amount.")
		}
	case "TRADE_CLOSED":
		t.Status = gateway.TradeClosed
	case "WAIT_BUYER_PAY":
		t.Status = gateway.TradePending
	default:
		return nil, qrpay.Invalid("trade_status", "Unknown trade_status %q.", params["trade_status"])
	}
	cb.Trade = t
	return cb, nil
}

// CallbackNack is the answer that makes Alipay send a notice again: the body "fail". Alipay
// reads only the body (anything but "success" is a failure), so the status is 200: an unreadable
// or forged notice is not a fault of ours and must not look like one in our 5xx metrics.
func (p *Provider) CallbackNack() gateway.Reply {
	return gateway.Reply{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(nackBody)}
}
