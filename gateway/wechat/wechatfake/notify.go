package wechatfake

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Delivery is what the merchant's endpoint answered to a notice.
type Delivery struct {
	Status int
	Body   []byte
}

// Acked reports whether the merchant acknowledged the notice (2xx with code SUCCESS, or 204).
func (d *Delivery) Acked() bool {
	if d.Status == http.StatusNoContent {
		return true
	}
	if d.Status < 200 || d.Status > 299 {
		return false
	}
	var v struct {
		Code string `json:"code"`
	}
	return json.Unmarshal(d.Body, &v) == nil && v.Code == "SUCCESS"
}

// Pay plays the customer: the Native order out_trade_no is paid by openid (a default openid
// when empty), and a TRANSACTION.SUCCESS notice is sent to its notify_url. It returns the
// merchant's answer to the notice.
func (s *Server) Pay(ctx context.Context, outTradeNo, openid string) (*Delivery, error) {
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	switch {
	case !ok:
		s.mu.Unlock()
		return nil, fmt.Errorf("wechatfake: no order %q", outTradeNo)
	case o.state != "NOTPAY":
		s.mu.Unlock()
		return nil, fmt.Errorf("wechatfake: order %q is %s", outTradeNo, o.state)
	case !o.expires.IsZero() && s.clock.Now().After(o.expires):
		s.mu.Unlock()
		return nil, fmt.Errorf("wechatfake: order %q expired", outTradeNo)
	}
	if openid != "" {
		o.openID = openid
	}
	s.settle(o, "SUCCESS")
	s.mu.Unlock()
	return s.NotifyPayment(ctx, outTradeNo)
}

// NotifyPayment sends (again) the TRANSACTION.SUCCESS notice of a paid order.
func (s *Server) NotifyPayment(ctx context.Context, outTradeNo string) (*Delivery, error) {
	s.mu.Lock()
	o, ok := s.orders[outTradeNo]
	if !ok || o.paidAt.IsZero() {
		s.mu.Unlock()
		return nil, fmt.Errorf("wechatfake: order %q is not paid", outTradeNo)
	}
	resource := s.transactionJSON(o, s.knobs.notifyAmountDelta)
	resource["trade_state"], resource["trade_state_desc"] = "SUCCESS", "支付成功"
	target := o.notifyURL
	s.mu.Unlock()
	return s.sendNotice(ctx, target, "TRANSACTION.SUCCESS", "支付成功", "transaction", resource)
}

// CompleteRefund ends the refund out_refund_no with status (SUCCESS, ABNORMAL or CLOSED) and
// sends the REFUND.<status> notice to its notify_url.
func (s *Server) CompleteRefund(ctx context.Context, outRefundNo, status string) (*Delivery, error) {
	switch status {
	case "SUCCESS", "ABNORMAL", "CLOSED":
	default:
		return nil, fmt.Errorf("wechatfake: refund status %q", status)
	}
	s.mu.Lock()
	rf, ok := s.refunds[outRefundNo]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("wechatfake: no refund %q", outRefundNo)
	}
	o := s.orders[rf.outTradeNo]
	rf.status = status
	if status == "SUCCESS" {
		rf.succeeded = s.clock.Now()
	} else {
		o.refunded -= rf.amount
	}
	resource := map[string]any{
		"out_trade_no":          o.outTradeNo,
		"transaction_id":        o.transactionID,
		"out_refund_no":         rf.outRefundNo,
		"refund_id":             rf.refundID,
		"refund_status":         status,
		"user_received_account": "支付用户零钱",
		"amount":                map[string]any{"total": rf.total, "refund": rf.amount, "payer_total": rf.total, "payer_refund": rf.amount},
	}
	if o.partner {
		resource["sp_mchid"], resource["sub_mchid"] = s.keys.MchID, o.subMchID
	} else {
		resource["mchid"] = s.keys.MchID
	}
	if !rf.succeeded.IsZero() {
		resource["success_time"] = rf.succeeded.In(china).Format(time.RFC3339)
	}
	target := rf.notifyURL
	s.mu.Unlock()
	return s.sendNotice(ctx, target, "REFUND."+status, "退款状态变更", "refund", resource)
}

// sendNotice encrypts resource with the APIv3 key, signs the notice with the platform key and
// POSTs it to target, which must be a loopback address.
func (s *Server) sendNotice(ctx context.Context, target, eventType, summary, originalType string, resource any) (*Delivery, error) {
	if err := loopbackOnly(target); err != nil {
		return nil, err
	}
	plain, err := json.Marshal(resource)
	if err != nil {
		return nil, err
	}
	nonce := randAlnum(12)
	block, err := aes.NewCipher(s.keys.APIv3Key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sealed := aead.Seal(nil, []byte(nonce), plain, []byte(originalType))
	env := map[string]any{
		"id":            randHex(8) + "-" + randHex(4) + "-" + randHex(4) + "-" + randHex(4) + "-" + randHex(12),
		"create_time":   s.clock.Now().In(china).Format(time.RFC3339),
		"resource_type": "encrypt-resource",
		"event_type":    eventType,
		"summary":       summary,
		"resource": map[string]string{
			"original_type":   originalType,
			"algorithm":       "AEAD_AES_256_GCM",
			"ciphertext":      base64.StdEncoding.EncodeToString(sealed),
			"associated_data": originalType,
			"nonce":           nonce,
		},
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	stale, tamper := s.knobs.staleNotify > 0, s.knobs.tamperNotify > 0
	if stale {
		s.knobs.staleNotify--
	}
	if tamper {
		s.knobs.tamperNotify--
	}
	s.mu.Unlock()
	headers := s.signHeaders(body, stale, false, false)
	if tamper {
		body = bytes.Replace(body, []byte(summary), []byte(summary+" "), 1)
	}
	req, err := http.NewRequestWithContext(ctx, "POST", target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/4.0")
	resp, err := s.notifier.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	return &Delivery{Status: resp.StatusCode, Body: answer}, nil
}

// loopbackOnly refuses notice targets that are not on this machine's loopback.
func loopbackOnly(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("wechatfake: bad notify_url %q", target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("wechatfake: notices go to loopback addresses only, not " + host)
}
