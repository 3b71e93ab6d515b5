// Package alipay is qrpay's adapter for the Alipay open platform: the v1 gateway.do protocol
// with RSA2 (SHA256withRSA) signatures, face-to-face payments (alipay.trade.precreate for
// dynamic codes, alipay.trade.pay for customer payment codes), query, cancel, close, refund,
// refund query, asynchronous notices and the daily trade bill.
//
// Every request is signed with the app private key; every answer is verified with the Alipay
// public key over the exact bytes of the response object as they appear in the body, the way
// the official SDKs do it. An answer that does not verify is never trusted: it is a
// *gateway.ProviderError with Code gateway.ProviderTampered and Unknown set, so the caller
// queries. Timeouts, connection failures, non-200 answers and unreadable bodies are
// gateway.ProviderUnavailable with Unknown set.
//
// Sub-merchants. qrpay is an acquirer: a merchant's binding on the Alipay channel account
// (gateway requests' SubMerchantID) is, by default, the merchant's Alipay id as the
// acquirer/service-provider model documents it, sent as sub_merchant.merchant_id in the
// biz_content of alipay.trade.precreate and alipay.trade.pay; the trade lives under the
// acquirer's app, so later calls need nothing more. A binding written as
// "app_auth_token:<token>" is instead a third-party application authorization (the ISV model):
// the token is sent as the app_auth_token common parameter on every call about that merchant's
// trades, and no sub_merchant is sent. Config.SellerID is for the first model only.
package alipay

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve on machines without a zone database.

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// Method names of the Alipay open platform used by the adapter.
const (
	MethodPrecreate   = "alipay.trade.precreate"
	MethodPay         = "alipay.trade.pay"
	MethodQuery       = "alipay.trade.query"
	MethodCancel      = "alipay.trade.cancel"
	MethodClose       = "alipay.trade.close"
	MethodRefund      = "alipay.trade.refund"
	MethodRefundQuery = "alipay.trade.fastpay.refund.query"
	MethodBillURL     = "alipay.data.dataservice.bill.downloadurl.query"
)

// AppAuthTokenPrefix marks a SubMerchantID that is an app_auth_token (the ISV model) rather than
// the sub-merchant's Alipay id.
const AppAuthTokenPrefix = "app_auth_token:"

// DefaultTimeout bounds one call to Alipay when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// maxResponse bounds an API answer; Alipay's answers are a few kilobytes.
const maxResponse = 1 << 20

// timeLayout is how Alipay writes times, always in Asia/Shanghai.
const timeLayout = "2006-01-02 15:04:05"

// shanghai is Alipay's zone for request timestamps, time_expire, gmt_* fields and bill dates.
var shanghai = loadShanghai()

func loadShanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil { // cannot happen with time/tzdata embedded; China has kept UTC+8 since 1991
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// Config is one Alipay app (a channel account).
type Config struct {
	// BaseURL is the gateway URL, https://openapi.alipay.com/gateway.do in production.
	BaseURL string
	// AppID is the open-platform app id (app_id).
	AppID string
	// PrivateKey is the app private key that signs requests (RSA, 2048 bits or more).
	PrivateKey *rsa.PrivateKey
	// AlipayPublicKey verifies Alipay's answers and notices.
	AlipayPublicKey *rsa.PublicKey
	// HTTPClient makes the calls; nil means a client of the adapter's own.
	HTTPClient *http.Client
	// Clock stamps requests (timestamp) and computes time limits; nil means the system clock.
	Clock qrpay.Clock
	// Timeout bounds each call, including the bill download; zero means DefaultTimeout.
	Timeout time.Duration
	// SellerID is the acquirer's Alipay user id (2088...). When set it is sent as seller_id and
	// notices for another seller are refused. Leave it empty with app_auth_token bindings.
	SellerID string
}

// String describes c without its keys.
func (c Config) String() string {
	return fmt.Sprintf("alipay.Config{BaseURL:%q AppID:%q SellerID:%q PrivateKey:%s AlipayPublicKey:%s}",
		c.BaseURL, c.AppID, c.SellerID, redacted(c.PrivateKey != nil), redacted(c.AlipayPublicKey != nil))
}

// GoString describes c without its keys, for %#v.
func (c Config) GoString() string { return c.String() }

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "<nil>"
}

// Provider is the Alipay adapter: a gateway.Provider for one app.
type Provider struct {
	cfg     Config
	client  *http.Client
	clock   qrpay.Clock
	timeout time.Duration
}

var _ gateway.Provider = (*Provider)(nil)

// New returns a Provider for the app c. It returns an EINVALID *qrpay.Error naming the field
// when the configuration is incomplete or a key is unusable.
func New(c Config) (*Provider, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, qrpay.Invalid("base_url", "The Alipay gateway URL must be an absolute http(s) URL.")
	}
	if strings.TrimSpace(c.AppID) == "" {
		return nil, qrpay.Invalid("app_id", "The Alipay app id is required.")
	}
	if err := checkPrivateKey(c.PrivateKey); err != nil {
		return nil, err
	}
	if err := checkPublicKey(c.AlipayPublicKey); err != nil {
		return nil, err
	}
	if c.Timeout < 0 {
		return nil, qrpay.Invalid("timeout", "The timeout must not be negative.")
	}
	p := &Provider{cfg: c, client: c.HTTPClient, clock: c.Clock, timeout: c.Timeout}
	if p.client == nil {
		// A busy gateway keeps many calls to its provider in flight: keep their connections
		// open (the default transport keeps two per host).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 128, 64
		p.client = &http.Client{Transport: tr}
	}
	if p.clock == nil {
		p.clock = qrpay.SystemClock{}
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	return p, nil
}

// String describes p without its keys.
func (p *Provider) String() string { return "alipay.Provider{AppID:" + p.cfg.AppID + "}" }

// GoString describes p without its keys, for %#v.
func (p *Provider) GoString() string { return p.String() }

// Channel returns "alipay".
func (p *Provider) Channel() string { return gateway.ChannelAlipay }

// reply is the common part of an Alipay answer, after its signature was checked.
type reply struct {
	Code      string `json:"code"`
	Msg       string `json:"msg"`
	SubCode   string `json:"sub_code"`
	SubMsg    string `json:"sub_msg"`
	RetryFlag string `json:"retry_flag"` // alipay.trade.cancel only

	raw    []byte // the response object's JSON text, exactly as signed
	signed bool
}

// decode reads the method-specific fields of the answer into v.
func (r *reply) decode(v any) error { return json.Unmarshal(r.raw, v) }

// binding is where a sub-merchant goes in a request.
type binding struct {
	merchantID   string // sub_merchant.merchant_id
	appAuthToken string // app_auth_token common parameter
}

func parseBinding(sub string) binding {
	if tok, ok := strings.CutPrefix(sub, AppAuthTokenPrefix); ok {
		return binding{appAuthToken: tok}
	}
	return binding{merchantID: sub}
}

// subMerchant is biz_content.sub_merchant.
type subMerchant struct {
	MerchantID string `json:"merchant_id"`
}

func (b binding) subMerchant() *subMerchant {
	if b.merchantID == "" {
		return nil
	}
	return &subMerchant{MerchantID: b.merchantID}
}

// requestParams returns the signed form of one call: the common parameters, biz_content and
// sign.
func (p *Provider) requestParams(method string, biz any, notifyURL, appAuthToken string) (url.Values, error) {
	bizJSON, err := marshalBiz(biz)
	if err != nil {
		return nil, err
	}
	params := map[string]string{
		"app_id":         p.cfg.AppID,
		"method":         method,
		"format":         "JSON",
		"charset":        "utf-8",
		"sign_type":      "RSA2",
		"timestamp":      p.clock.Now().In(shanghai).Format(timeLayout),
		"version":        "1.0",
		"notify_url":     notifyURL,
		"app_auth_token": appAuthToken,
		"biz_content":    bizJSON,
	}
	sig, err := signRSA2(p.cfg.PrivateKey, signContent(params, "sign"))
	if err != nil {
		return nil, err
	}
	form := make(url.Values, len(params)+1)
	for k, v := range params {
		if v != "" {
			form.Set(k, v)
		}
	}
	form.Set("sign", sig)
	return form, nil
}

// marshalBiz encodes biz_content without HTML escaping (the value is signed as it is sent).
func marshalBiz(biz any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(biz); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// call signs and sends one request and returns Alipay's verified answer. Every error it returns
// is a *gateway.ProviderError.
func (p *Provider) call(ctx context.Context, op, method string, biz any, notifyURL, appAuthToken string) (*reply, error) {
	form, err := p.requestParams(method, biz, notifyURL, appAuthToken)
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Code: gateway.ProviderAuth,
			Message: "could not sign the request", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.BaseURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Code: gateway.ProviderInvalid,
			Message: "could not build the request", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, unavailable(op, "no answer", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, unavailable(op, "answer cut short", err)
	}
	if len(body) > maxResponse {
		return nil, unavailable(op, "answer too large", nil)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(op, fmt.Sprintf("HTTP status %d", resp.StatusCode), nil)
	}
	return p.readReply(op, method, body)
}

// readReply extracts, verifies and decodes the response object of method from body.
func (p *Provider) readReply(op, method string, body []byte) (*reply, error) {
	raw, sign, err := extractResponse(body, responseKey(method))
	if err != nil {
		return nil, unavailable(op, "unreadable answer", err)
	}
	r := &reply{raw: raw}
	if err := json.Unmarshal(raw, r); err != nil {
		return nil, unavailable(op, "unreadable answer", err)
	}
	switch {
	case sign != "":
		if !verifyResponse(p.cfg.AlipayPublicKey, raw, sign) {
			return nil, tampered(op, "the answer's signature does not verify")
		}
		r.signed = true
	case !unsignedAllowed(r.Code):
		// Alipay's business system signs what it answers; only the gateway's own early
		// refusals may come unsigned, and none of them says anything about a trade.
		return nil, tampered(op, "an unsigned answer with code "+r.Code)
	}
	if r.Code == "" {
		return nil, unavailable(op, "answer without a code", nil)
	}
	return r, nil
}

// responseKey is the member of the answer that holds the response object of method.
func responseKey(method string) string { return strings.ReplaceAll(method, ".", "_") + "_response" }

// unsignedAllowed reports whether an answer with code may come without a signature: the
// gateway-level errors (unavailable, bad token, missing or invalid arguments, permissions),
// which Alipay can answer before the request reaches a business system.
func unsignedAllowed(code string) bool {
	switch code {
	case "20000", "20001", "40001", "40002", "40003", "40006":
		return true
	}
	return false
}

func unavailable(op, msg string, err error) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Unknown: true,
		Code: gateway.ProviderUnavailable, Message: msg, Err: err}
}

func tampered(op, msg string) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Unknown: true,
		Code: gateway.ProviderTampered, Message: msg}
}

func invalidRequest(op, param, format string, args ...any) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Code: gateway.ProviderInvalid,
		Message: fmt.Sprintf(format, args...), Err: qrpay.Invalid(param, format, args...)}
}

// providerError turns a non-success answer into a *gateway.ProviderError by Alipay's public
// codes and the ACQ sub-codes that every trade method shares. Unknown codes are treated as an
// unknown outcome: the caller queries rather than guesses.
func providerError(op string, r *reply) *gateway.ProviderError {
	e := &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, ProviderCode: r.Code, Message: r.Msg}
	if r.SubCode != "" {
		e.ProviderCode = r.SubCode
	}
	if r.SubMsg != "" {
		e.Message = r.SubMsg
	}
	sub := strings.TrimPrefix(r.SubCode, "aop.")
	switch r.Code {
	case "20000":
		e.Code, e.Unknown = gateway.ProviderUnavailable, true
	case "20001", "40006":
		e.Code = gateway.ProviderAuth
	case "40001", "40003":
		e.Code = gateway.ProviderInvalid
	case "40002":
		e.Code = gateway.ProviderInvalid
		if strings.Contains(sub, "signature") || strings.Contains(sub, "app-id") ||
			strings.Contains(sub, "auth-token") || strings.Contains(sub, "app-auth") {
			e.Code = gateway.ProviderAuth
		}
	case "40004":
		switch sub {
		case "ACQ.SYSTEM_ERROR", "isp.unknow-error", "isp.unknown-error":
			e.Code, e.Unknown = gateway.ProviderUnavailable, true
		case "ACQ.TRADE_NOT_EXIST", "isp.bill_not_exist", "isp.bill_not_exit":
			e.Code = gateway.ProviderNotFound
		case "ACQ.TRADE_HAS_SUCCESS":
			e.Code = gateway.ProviderAlreadyPaid
		case "ACQ.TRADE_HAS_CLOSE", "ACQ.TRADE_HAS_FINISHED", "ACQ.TRADE_HAS_FINISHED_OR_CLOSED":
			e.Code = gateway.ProviderAlreadyClosed
		case "ACQ.SELLER_BALANCE_NOT_ENOUGH":
			e.Code = gateway.ProviderInsufficient
		case "ACQ.INVALID_PARAMETER", "ACQ.CONTEXT_INCONSISTENT", "ACQ.TOTAL_FEE_EXCEED",
			"ACQ.DISCORDANT_REPEAT_REQUEST", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
			"ACQ.REASON_TRADE_REFUND_FEE_ERR", "ACQ.PAYMENT_REQUEST_HAS_RISK":
			e.Code = gateway.ProviderInvalid
		case "ACQ.ACCESS_FORBIDDEN", "ACQ.PARTNER_ERROR", "ACQ.SELLER_NOT_EXIST", "ACQ.INVALID_STORE_ID":
			e.Code = gateway.ProviderAuth
		default:
			e.Code = gateway.ProviderDeclined
		}
	default:
		e.Code, e.Unknown = gateway.ProviderUnavailable, true
	}
	return e
}

// checkIdentity refuses an answer about another trade than the one asked for: the signed
// object names its trade, and a replayed answer for another order must not be taken for ours.
func checkIdentity(op, askedOut, askedTradeNo, gotOut, gotTradeNo string) error {
	if askedOut != "" && gotOut != "" && gotOut != askedOut {
		return tampered(op, "the answer is about out_trade_no "+gotOut)
	}
	if askedTradeNo != "" && gotTradeNo != "" && gotTradeNo != askedTradeNo {
		return tampered(op, "the answer is about trade_no "+gotTradeNo)
	}
	return nil
}

// money parses an Alipay yuan amount ("12.34") into CNY fen.
func money(s string) (qrpay.Money, error) {
	v, err := qrpay.ParseDecimal(strings.TrimSpace(s), qrpay.CNY.Exponent())
	if err != nil {
		return qrpay.Money{}, err
	}
	return qrpay.Money{Amount: v, Currency: qrpay.CNY}, nil
}

// optionalMoney is money for a field that may be absent; absent is the zero Money.
func optionalMoney(s string) (qrpay.Money, error) {
	if strings.TrimSpace(s) == "" {
		return qrpay.Money{}, nil
	}
	return money(s)
}

// parseTime reads an Alipay time ("2006-01-02 15:04:05", optionally with fractional seconds)
// in Asia/Shanghai and returns it in UTC. An empty string is the zero time.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(timeLayout, s, shanghai)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// unreadable is the error for a verified answer whose fields cannot be read.
func unreadable(op string, err error) error {
	return unavailable(op, "unreadable answer", err)
}
