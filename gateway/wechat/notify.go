package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// notifyEnvelope is the outer, signed body of an APIv3 notice.
type notifyEnvelope struct {
	ID           string `json:"id"`
	CreateTime   string `json:"create_time"`
	EventType    string `json:"event_type"`
	ResourceType string `json:"resource_type"`
	Summary      string `json:"summary"`
	Resource     struct {
		Algorithm      string `json:"algorithm"`
		Ciphertext     string `json:"ciphertext"`
		AssociatedData string `json:"associated_data"`
		Nonce          string `json:"nonce"`
		OriginalType   string `json:"original_type"`
	} `json:"resource"`
}

// refundNotice is the decrypted resource of a REFUND.* notice.
type refundNotice struct {
	MchID         string   `json:"mchid"`
	SpMchID       string   `json:"sp_mchid"`
	SubMchID      string   `json:"sub_mchid"`
	OutTradeNo    string   `json:"out_trade_no"`
	TransactionID string   `json:"transaction_id"`
	OutRefundNo   string   `json:"out_refund_no"`
	RefundID      string   `json:"refund_id"`
	RefundStatus  string   `json:"refund_status"`
	SuccessTime   string   `json:"success_time"`
	Amount        v3Amount `json:"amount"`
}

// openNotice verifies a notice's signature headers (serial, freshness, signature) and decrypts
// its resource. Failures of either are EUNAUTHORIZED; a body that is not a notice is EINVALID.
func (p *Provider) openNotice(req gateway.CallbackRequest) (*notifyEnvelope, []byte, error) {
	if err := p.verifySigned(req.HeaderValue, req.Body); err != nil {
		return nil, nil, qrpay.WrapError(qrpay.EUNAUTHORIZED, err, "The WeChat Pay notice failed its signature check.")
	}
	var env notifyEnvelope
	if err := json.Unmarshal(req.Body, &env); err != nil {
		return nil, nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay notice is not readable JSON.")
	}
	if env.Resource.Algorithm != AlgorithmAEADAES256GCM {
		return nil, nil, qrpay.Errorf(qrpay.EINVALID, "The WeChat Pay notice uses algorithm %q.", env.Resource.Algorithm)
	}
	pt, err := decryptResource(p.apiv3Key, env.Resource.Nonce, env.Resource.AssociatedData, env.Resource.Ciphertext)
	if err != nil {
		return nil, nil, qrpay.WrapError(qrpay.EUNAUTHORIZED, err, "The WeChat Pay notice does not decrypt with the APIv3 key.")
	}
	return &env, pt, nil
}

// ParseCallback verifies and reads an APIv3 notice: the Wechatpay-* signature headers are
// checked like an answer's (known serial, timestamp within MaxClockSkew, SHA256withRSA over
// timestamp, nonce and body), then the resource is decrypted with AEAD_AES_256_GCM under the
// APIv3 key.
//
// TRANSACTION.SUCCESS gives a Trade; REFUND.SUCCESS, REFUND.ABNORMAL and REFUND.CLOSED give a
// Refund. Returns EUNAUTHORIZED for a signature that does not verify, a stale timestamp, an
// unknown serial, a resource that does not decrypt, or a notice for another merchant; EINVALID
// for a notice that cannot be read or whose event type qrpay does not handle.
func (p *Provider) ParseCallback(ctx context.Context, req gateway.CallbackRequest) (*gateway.Callback, error) {
	env, pt, err := p.openNotice(req)
	if err != nil {
		return nil, err
	}
	switch env.EventType {
	case "TRANSACTION.SUCCESS":
		var t v3Transaction
		if err := json.Unmarshal(pt, &t); err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay payment notice is not readable.")
		}
		if err := p.checkMerchant(t.MchID, t.SpMchID); err != nil {
			return nil, err
		}
		tr, err := t.trade()
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay payment notice is not readable.")
		}
		if tr.PaymentID == "" || tr.Status != gateway.TradeSucceeded || tr.Amount.Amount == 0 {
			return nil, qrpay.Errorf(qrpay.EINVALID, "The WeChat Pay payment notice lacks out_trade_no, amount or trade_state SUCCESS.")
		}
		return &gateway.Callback{Trade: tr, Ack: ackReply()}, nil
	case "REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED":
		var n refundNotice
		if err := json.Unmarshal(pt, &n); err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay refund notice is not readable.")
		}
		if err := p.checkMerchant(n.MchID, n.SpMchID); err != nil {
			return nil, err
		}
		r := v3Refund{RefundID: n.RefundID, OutRefundNo: n.OutRefundNo, TransactionID: n.TransactionID,
			OutTradeNo: n.OutTradeNo, Status: n.RefundStatus, SuccessTime: n.SuccessTime, Amount: n.Amount}
		res, err := r.result()
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay refund notice is not readable.")
		}
		if res.RefundID == "" {
			return nil, qrpay.Errorf(qrpay.EINVALID, "The WeChat Pay refund notice lacks out_refund_no.")
		}
		return &gateway.Callback{Refund: res, Ack: ackReply()}, nil
	}
	return nil, qrpay.Errorf(qrpay.EINVALID, "Unhandled WeChat Pay event type %q.", env.EventType)
}

// errOtherMerchant is a genuine notice addressed to another merchant account.
var errOtherMerchant = errors.New("notice for another merchant")

// checkMerchant refuses a notice whose mchid (or sp_mchid in partner mode) is not ours.
func (p *Provider) checkMerchant(mchID, spMchID string) error {
	if mchID == p.mchID || (mchID == "" && spMchID == p.mchID) {
		return nil
	}
	return qrpay.WrapError(qrpay.EUNAUTHORIZED, fmt.Errorf("%w: mchid %q sp_mchid %q", errOtherMerchant, mchID, spMchID),
		"The WeChat Pay notice is for another merchant.")
}
