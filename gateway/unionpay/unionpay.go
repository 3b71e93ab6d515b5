// Package unionpay is qrpay's adapter for a UnionPay-style acquiring API: the back-end interface
// of UnionPay's 全渠道 platform (ACP) as its public SDKs show it, applied to UnionPay QR payments
// (银联二维码): EMV merchant-presented codes, dynamic (one per payment) and static (stickers),
// and customer-presented C2B payment codes.
//
// # What is UnionPay's
//
// Taken from UnionPay's public SDKs, their sample configurations and code that uses them:
//
//   - Form-encoded POSTs to /gateway/api/backTransReq.do and /gateway/api/queryTrans.do with
//     version 5.1.0, encoding UTF-8, signMethod 01, certId, merId, accessType 0, bizType 000000,
//     channelType 08, txnTime (yyyyMMddHHmmss in Asia/Shanghai), txnType, txnSubType, orderId,
//     txnAmt (in fen), currencyCode (ISO 4217 numeric, 156), backUrl, payTimeout
//     (yyyyMMddHHmmss), termId, qrNo, origQryId, queryId.
//   - signMethod 01: every field but signature, sorted by name and joined as name=value with
//     '&', is hashed with SHA-256; the lower-case hex of that hash is signed with SHA256withRSA
//     (PKCS #1 v1.5) by the merchant signing key, and the base64 of the signature is the field
//     signature. Answers and back notifications are signed the same way by UnionPay and
//     verified with its verification certificate.
//   - respCode 00 is success; 03, 04 and 05 mean "processing or unknown, query later"; 11 is a
//     signature UnionPay refused; 34 is "no such transaction". A query answer carries the
//     queried transaction's own outcome in origRespCode. queryId is UnionPay's number for a
//     transaction; origQryId names the original of a refund or void.
//   - txnType 00 query, 01 consume, 04 refund (退货), 31 void (消费撤销), 76 file transfer
//     (fileType 00, settleDate MMDD) for the daily reconciliation file; refunds and voids are
//     transactions of their own and can be queried like payments. Back notifications reach
//     backUrl as the same signed form and are acknowledged with HTTP 200.
//   - EMV MPM tag 15 (UnionPay's primitive merchant account) holds acquirer IIN (8 digits),
//     forwarding IIN (8 digits) and merchant id (15 characters), as in the public Laos example;
//     C2B payment codes are 19 digits starting with 62.
//
// # What is our design
//
// Where the public material is thin, or the real thing is heavier than qrpay needs, this is a
// consistent design in the same spirit, implemented alike by the adapter and by unionpayfake:
//
//   - Answers are ordinary application/x-www-form-urlencoded text. (ACP answers raw name=value
//     text and wraps values holding '&' or '=' in braces.)
//   - UnionPay's verification key is chosen by the certId of the answer or notice from
//     Config.VerifyKeys; an unknown certId is refused. (5.1.0 sends the whole certificate as
//     signPubKeyCert and checks it against UnionPay's root; 5.0.0 named it by certId.)
//   - txnType 01 with txnSubType 07 ("applyQrCode") opens a dynamic QR order; the answer's
//     qrCode is the EMV payload, built by the provider from merName, merCity, merCatCode,
//     merNameLocal and merCityLocal (tags 59, 60, 52, 64), the amount, orderId (tag 62.05, see
//     ReferenceLabel) and termId (tag 62.07). txnSubType 06 consumes a C2B code given as qrNo.
//   - txnType 31 names its original by origOrderId or origQryId. With txnSubType 00 it voids or
//     reverses a consume whatever its state: a paid one is refunded in full (the answer's
//     origRespCode 00 says so), an unpaid one is closed. With txnSubType 01 it closes an unpaid
//     order only; a paid one is refused with respCode 35 and origRespCode 00. (ACP splits this
//     between the void, 31, and the reversal 冲正, 99.)
//   - orderId takes 1 to 32 letters, digits, '_' and '-', so qrpay's ids go unchanged. (ACP: 8
//     to 40 letters and digits.)
//   - A query names a transaction by orderId or queryId, without the original txnTime; its
//     answer adds origTxnType, origOrderId (for refunds), finishTime (yyyyMMddHHmmss, when the
//     money moved) and origTxnStatus: "closed" for an order closed unpaid, "voided" for a paid
//     one reversed by txnType 31.
//   - A refund's synchronous respCode 00 is final (ACP: "accepted", the outcome follows by
//     notification or query); 03, 04 and 05 leave it pending.
//   - The file transfer is answered at /gateway/api/fileTransReq.do under the same base URL,
//     with fileContent = base64 of the zlib-compressed statement (ACP: a deflated zip) in the
//     format that ParseStatement documents.
//
// # Sub-merchants
//
// A request's SubMerchantID is the merId it is made under (a merchant's binding on the channel
// account: 15 letters or digits), and the merchant id of tag 15 in its codes; empty means
// Config.MerchantID. The reconciliation file is fetched for Config.MerchantID and lists every
// merId's transactions.
//
// # Errors
//
// The calls to UnionPay return *gateway.ProviderError values: Unknown set for timeouts,
// connection failures, non-200 answers, unreadable answers, answers whose signature does not
// verify or that name an unknown certId (ProviderTampered), and respCodes 02 and 06 (and 03, 04
// and 05 where there is no pending result to report them as); ProviderAuth, not Unknown, when
// UnionPay refused our signature (respCode 11) or our merchant (31, 32). Requests that cannot be
// sent are ProviderInvalid before any call, except a payment code that is not UnionPay's: that is
// an EINVALID *qrpay.Error naming auth_code, as the gateway's routing expects. ParseCallback,
// ParseStatement, New and StaticCode return *qrpay.Error values.
package unionpay

import (
	"context"
	"crypto/rsa"
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

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Wire constants.
const (
	version       = "5.1.0"
	encodingUTF8  = "UTF-8"
	signMethodRSA = "01"
	accessMerch   = "0"      // the merchant connects directly (1: through an acquirer)
	bizTypeQR     = "000000" // the bizType of QR, query and file transfer transactions
	channelMobile = "08"     // mobile; QR payments go through the customer's phone

	txnQuery    = "00"
	txnConsume  = "01"
	txnRefund   = "04"
	txnVoid     = "31"
	txnFileTran = "76"

	subApplyQR = "07" // txnType 01: open a dynamic QR order
	subC2B     = "06" // txnType 01: consume a C2B payment code
	subVoid    = "00" // txnType 31: void or reverse, whatever the state
	subClose   = "01" // txnType 31: close an unpaid order only

	pathBackTrans = "/gateway/api/backTransReq.do"
	pathQuery     = "/gateway/api/queryTrans.do"
	pathFileTrans = "/gateway/api/fileTransReq.do"

	timeLayout = "20060102150405"
)

// maxResponse bounds an API answer; a statement travels in one, compressed.
const maxResponse = 32 << 20

// shanghai is the zone of txnTime, payTimeout, finishTime and settlement days.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil { // cannot happen with time/tzdata embedded; China has kept UTC+8 since 1991
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// isOrderID reports whether s can be an orderId: 1 to 32 letters, digits, '_' or '-'.
func isOrderID(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isMerID reports whether s can be a merId: 15 letters or digits.
func isMerID(s string) bool {
	if len(s) != 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// isDigits reports whether s is n decimal digits (n > 0).
func isDigits(s string, n int) bool {
	if len(s) != n || n == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isC2B reports whether s is a UnionPay C2B payment code: 19 digits starting with 62.
func isC2B(s string) bool { return isDigits(s, 19) && s[:2] == "62" }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// minKeyBits is the smallest RSA key the adapter accepts.
const minKeyBits = 2048

// Config is one UnionPay acquiring account (a channel account).
type Config struct {
	// BaseURL is the API root, such as "https://gateway.95516.com"; the adapter appends
	// /gateway/api/backTransReq.do, /gateway/api/queryTrans.do and /gateway/api/fileTransReq.do.
	BaseURL string
	// MerchantID is the merId used when a request's SubMerchantID is empty, and the account
	// whose reconciliation file Statement fetches: 15 letters or digits.
	MerchantID string
	// AcquirerIIN and ForwardingIIN are the 8-digit institution codes that head EMV tag 15.
	AcquirerIIN, ForwardingIIN string
	// SigningKey signs requests (the key of the merchant signing certificate, RSA ≥ 2048 bits).
	SigningKey *rsa.PrivateKey
	// SigningCertID is the certId of the merchant signing certificate (see CertID).
	SigningCertID string
	// VerifyKeys are UnionPay's verification keys by certId. Several may be listed while
	// UnionPay rotates its certificate; answers and notices naming any other are refused.
	VerifyKeys map[string]*rsa.PublicKey
	// MerchantName, MerchantCity and MCC are defaults for codes: tag 59 (printable ASCII, ≤ 25
	// characters), tag 60 (≤ 15) and tag 52 (4 digits), used when a request's own are missing
	// or, for names, not printable ASCII (those go to template 64 instead).
	MerchantName, MerchantCity, MCC string
	// HTTPClient makes the calls; nil means a client of the adapter's own.
	HTTPClient *http.Client
	// Clock stamps requests (txnTime) and checks expiry times; nil means the system clock.
	Clock qrpay.Clock
	// Timeout bounds each call; zero means DefaultTimeout.
	Timeout time.Duration
}

// String describes c without its keys.
func (c Config) String() string {
	return fmt.Sprintf("unionpay.Config{BaseURL:%q MerchantID:%q AcquirerIIN:%q ForwardingIIN:%q SigningCertID:%q SigningKey:%s VerifyKeys:%d}",
		c.BaseURL, c.MerchantID, c.AcquirerIIN, c.ForwardingIIN, c.SigningCertID, redacted(c.SigningKey != nil), len(c.VerifyKeys))
}

// GoString describes c without its keys, for %#v.
func (c Config) GoString() string { return c.String() }

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "<nil>"
}

// Provider is the UnionPay-style adapter: a gateway.Provider for one account.
type Provider struct {
	cfg     Config
	verify  map[string]*rsa.PublicKey
	client  *http.Client
	clock   qrpay.Clock
	timeout time.Duration
}

var _ gateway.Provider = (*Provider)(nil)

// New returns a Provider for the account c. It returns an EINVALID *qrpay.Error naming the field
// when the configuration is incomplete or a key is unusable.
func New(c Config) (*Provider, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, qrpay.Invalid("base_url", "The UnionPay API URL must be an absolute http(s) URL.")
	}
	if err := checkAccount(c); err != nil {
		return nil, err
	}
	if c.SigningKey == nil || c.SigningKey.N == nil || c.SigningKey.N.BitLen() < minKeyBits {
		return nil, qrpay.Invalid("signing_key", "An RSA signing key of at least %d bits is required.", minKeyBits)
	}
	if err := c.SigningKey.Validate(); err != nil {
		return nil, qrpay.Invalid("signing_key", "The signing key is inconsistent.")
	}
	if !plainValue(c.SigningCertID) {
		return nil, qrpay.Invalid("signing_cert_id", "The certId of the signing certificate is required.")
	}
	if len(c.VerifyKeys) == 0 {
		return nil, qrpay.Invalid("verify_keys", "At least one UnionPay verification key is required.")
	}
	keys := make(map[string]*rsa.PublicKey, len(c.VerifyKeys))
	for id, k := range c.VerifyKeys {
		if !plainValue(id) {
			return nil, qrpay.Invalid("verify_keys", "A verification key has an empty or unusable certId.")
		}
		if k == nil || k.N == nil || k.N.BitLen() < minKeyBits {
			return nil, qrpay.Invalid("verify_keys", "The verification key %s is not an RSA key of at least %d bits.", id, minKeyBits)
		}
		keys[id] = k
	}
	if c.MerchantName != "" && (!isANS(c.MerchantName) || len(c.MerchantName) > 25) {
		return nil, qrpay.Invalid("merchant_name", "The default merchant name must be printable ASCII of at most 25 characters.")
	}
	if c.MerchantCity != "" && (!isANS(c.MerchantCity) || len(c.MerchantCity) > 15) {
		return nil, qrpay.Invalid("merchant_city", "The default merchant city must be printable ASCII of at most 15 characters.")
	}
	if c.MCC != "" && !isDigits(c.MCC, 4) {
		return nil, qrpay.Invalid("mcc", "The default merchant category code must be 4 digits.")
	}
	if c.Timeout < 0 {
		return nil, qrpay.Invalid("timeout", "The timeout must not be negative.")
	}
	p := &Provider{cfg: c, verify: keys, client: c.HTTPClient, clock: c.Clock, timeout: c.Timeout}
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

// checkAccount checks what EMV tag 15 needs: the default merId and the two IINs.
func checkAccount(c Config) error {
	if !isMerID(c.MerchantID) {
		return qrpay.Invalid("merchant_id", "The merId must be 15 letters or digits.")
	}
	if !isDigits(c.AcquirerIIN, 8) {
		return qrpay.Invalid("acquirer_iin", "The acquirer IIN must be 8 digits.")
	}
	if !isDigits(c.ForwardingIIN, 8) {
		return qrpay.Invalid("forwarding_iin", "The forwarding IIN must be 8 digits.")
	}
	return nil
}

// plainValue reports whether s is a non-empty field value without spaces or controls.
func plainValue(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// String describes p without its keys.
func (p *Provider) String() string { return "unionpay.Provider{MerchantID:" + p.cfg.MerchantID + "}" }

// GoString describes p without its keys, for %#v.
func (p *Provider) GoString() string { return p.String() }

// Channel returns "unionpay".
func (p *Provider) Channel() string { return gateway.ChannelUnionpay }

// merID returns the merId of a request: the sub-merchant's binding, or the account's own.
func (p *Provider) merID(op, sub string) (string, error) {
	if sub == "" {
		return p.cfg.MerchantID, nil
	}
	if !isMerID(sub) {
		return "", invalidRequest(op, "sub_merchant_id", "A UnionPay merId is 15 letters or digits, not %q.", sub)
	}
	return sub, nil
}

// fields is one message: a request, an answer or a notice.
type fields map[string]string

// request returns the signed form of a call: the common fields, the call's own and signature.
func (p *Provider) request(own fields) (url.Values, error) {
	f := fields{
		"version":     version,
		"encoding":    encodingUTF8,
		"signMethod":  signMethodRSA,
		"certId":      p.cfg.SigningCertID,
		"accessType":  accessMerch,
		"bizType":     bizTypeQR,
		"channelType": channelMobile,
		"txnTime":     p.clock.Now().In(shanghai).Format(timeLayout),
	}
	for k, v := range own {
		if v != "" {
			f[k] = v
		} else {
			delete(f, k)
		}
	}
	sig, err := sign(p.cfg.SigningKey, signContent(f))
	if err != nil {
		return nil, err
	}
	form := make(url.Values, len(f)+1)
	for k, v := range f {
		form.Set(k, v)
	}
	form.Set(fieldSignature, sig)
	return form, nil
}

// call signs and sends one request to path and returns UnionPay's verified answer, which names
// the same transaction. Every error it returns is a *gateway.ProviderError.
func (p *Provider) call(ctx context.Context, op, path string, own fields) (fields, error) {
	form, err := p.request(own)
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderAuth,
			Message: "could not sign the request", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	endpoint := strings.TrimSuffix(p.cfg.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderInvalid,
			Message: "could not build the request", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
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
	r, err := p.readAnswer(op, body)
	if err != nil {
		return nil, err
	}
	if err := sameTransaction(op, own, r); err != nil {
		return nil, err
	}
	return r, nil
}

// readAnswer parses and verifies an answer.
func (p *Provider) readAnswer(op string, body []byte) (fields, error) {
	r, err := parseForm(string(body))
	if err != nil {
		return nil, unavailable(op, "unreadable answer", err)
	}
	if r[fieldSignature] == "" {
		// UnionPay refuses a malformed or badly signed request before it reaches a business
		// system and may answer unsigned; such an answer says nothing about a transaction.
		switch r["respCode"] {
		case "10", "11", "13":
			return r, nil
		}
		return nil, tampered(op, "an unsigned answer")
	}
	if err := p.verifyFields(r); err != nil {
		return nil, tampered(op, err.Error())
	}
	if r["respCode"] == "" {
		return nil, unavailable(op, "an answer without respCode", nil)
	}
	return r, nil
}

// verifyFields checks the signature of an answer or notice with the key its certId names.
func (p *Provider) verifyFields(f fields) error {
	if m := f["signMethod"]; m != "" && m != signMethodRSA {
		return fmt.Errorf("unsupported signMethod %q", m)
	}
	key, ok := p.verify[f["certId"]]
	if !ok {
		return fmt.Errorf("signed with an unknown certificate %q", f["certId"])
	}
	if !verify(key, signContent(f), f[fieldSignature]) {
		return fmt.Errorf("the signature does not verify")
	}
	return nil
}

// parseForm reads a form strictly: every field at most once.
func parseForm(s string) (fields, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, err
	}
	f := make(fields, len(v))
	for k, vs := range v {
		if len(vs) != 1 {
			return nil, fmt.Errorf("the field %q is repeated", k)
		}
		f[k] = vs[0]
	}
	return f, nil
}

// sameTransaction refuses a signed answer about another transaction than the one asked about:
// a replayed answer for another order must not be taken for ours.
func sameTransaction(op string, asked, got fields) error {
	for _, k := range []string{"txnType", "txnSubType", "orderId", "merId", "origOrderId", "origQryId"} {
		if a, g := asked[k], got[k]; a != "" && g != "" && a != g {
			return tampered(op, "the answer is about "+k+" "+g)
		}
	}
	if q, g := asked["queryId"], got["queryId"]; q != "" && g != "" && q != g {
		return tampered(op, "the answer is about queryId "+g)
	}
	return nil
}

func unavailable(op, msg string, err error) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Unknown: true,
		Code: gateway.ProviderUnavailable, Message: msg, Err: err}
}

func tampered(op, msg string) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Unknown: true,
		Code: gateway.ProviderTampered, Message: msg}
}

func invalidRequest(op, param, format string, args ...any) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderInvalid,
		Message: fmt.Sprintf(format, args...), Err: qrpay.Invalid(param, format, args...)}
}

// unreadable is the error for a verified answer whose fields cannot be read.
func unreadable(op string, err error) error { return unavailable(op, "unreadable answer", err) }

// processing reports whether a respCode means "processing or unknown, query later".
func processing(code string) bool { return code == "03" || code == "04" || code == "05" }

// declined reports whether a respCode is a refusal of the transaction itself: a general
// failure (01), a refused transaction (30), an amount or risk limit (33, 38), outside business
// hours (39), or the customer's account or card (60 to 79).
func declined(code string) bool {
	switch code {
	case "01", "30", "33", "38", "39":
		return true
	}
	return len(code) == 2 && code[0] >= '6' && code[0] <= '7' && code[1] >= '0' && code[1] <= '9'
}

// respError turns a non-success answer into a *gateway.ProviderError. Codes it does not know are
// an unknown outcome: the caller queries rather than guesses.
func respError(op string, r fields) *gateway.ProviderError {
	code := r["respCode"]
	e := &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, ProviderCode: code, Message: r["respMsg"]}
	switch {
	case code == "02" || code == "06" || processing(code):
		e.Code, e.Unknown = gateway.ProviderUnavailable, true
	case code == "37": // too many queries or too frequent: refused, nothing done
		e.Code = gateway.ProviderUnavailable
	case code == "10" || code == "12" || code == "13" || code == "14" || code == "35" || code == "36":
		e.Code = gateway.ProviderInvalid
	case code == "11" || code == "31" || code == "32":
		e.Code = gateway.ProviderAuth
	case code == "34" || code == "98":
		e.Code = gateway.ProviderNotFound
	case declined(code):
		e.Code = gateway.ProviderDeclined
	default:
		e.Code, e.Unknown = gateway.ProviderUnavailable, true
	}
	return e
}

// failureReason is "respCode: respMsg" for a declined transaction.
func failureReason(code, msg string) string {
	if msg == "" {
		return code
	}
	return code + ": " + msg
}

// money reads txnAmt (minor units) and currencyCode (ISO 4217 numeric; empty means CNY).
func money(amount, currency string) (qrpay.Money, error) {
	if len(amount) < 1 || len(amount) > 12 || !isDigits(amount, len(amount)) {
		return qrpay.Money{}, fmt.Errorf("txnAmt %q is not an amount in minor units", amount)
	}
	var v int64
	for i := 0; i < len(amount); i++ {
		v = v*10 + int64(amount[i]-'0')
	}
	cur := qrpay.CNY
	if currency != "" {
		c, ok := qrpay.CurrencyByNumeric(currency)
		if !ok || !isDigits(currency, 3) {
			return qrpay.Money{}, fmt.Errorf("unsupported currencyCode %q", currency)
		}
		cur = c
	}
	return qrpay.Money{Amount: v, Currency: cur}, nil
}

// optionalMoney is money for an amount that may be absent; absent is the zero Money.
func optionalMoney(amount, currency string) (qrpay.Money, error) {
	if amount == "" {
		return qrpay.Money{}, nil
	}
	return money(amount, currency)
}

// parseTime reads a yyyyMMddHHmmss time in Asia/Shanghai and returns it in UTC; empty is the
// zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) != len(timeLayout) {
		return time.Time{}, fmt.Errorf("time %q is not yyyyMMddHHmmss", s)
	}
	t, err := time.ParseInLocation(timeLayout, s, shanghai)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// checkMoney checks an amount the provider can take.
func checkMoney(op string, m qrpay.Money) error {
	if !m.Currency.Valid() {
		return invalidRequest(op, "currency", "Unsupported currency %q.", m.Currency)
	}
	if m.Amount <= 0 || m.Amount > 999_999_999_999 {
		return invalidRequest(op, "amount", "The amount must be positive and at most 12 digits of minor units.")
	}
	return nil
}

// checkOrderID checks an id sent as orderId.
func checkOrderID(op, param, id string) error {
	if !isOrderID(id) {
		return invalidRequest(op, param, "An orderId is 1 to 32 letters, digits, '_' or '-', not %q.", id)
	}
	return nil
}

// minor formats minor units as txnAmt.
func minor(m qrpay.Money) string { return fmt.Sprint(m.Amount) }
