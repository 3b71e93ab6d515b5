package wechat

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay/gateway"
)

// AuthSchema is the APIv3 Authorization scheme.
const AuthSchema = "WECHATPAY2-SHA256-RSA2048"

// Body size limits: API answers are small; bills can be large.
const (
	maxAnswerBytes = 1 << 20
	maxBillBytes   = 256 << 20
)

// signMessage is the APIv3 request signature message:
// METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n (a GET has an empty body line).
func signMessage(method, canonicalURL, timestamp, nonce string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(method) + len(canonicalURL) + len(timestamp) + len(nonce) + len(body) + 5)
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(canonicalURL)
	b.WriteByte('\n')
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(nonce)
	b.WriteByte('\n')
	b.Write(body)
	b.WriteByte('\n')
	return b.Bytes()
}

// verifyMessage is the message WeChat Pay signs on answers and notices:
// Wechatpay-Timestamp\nWechatpay-Nonce\nBODY\n.
func verifyMessage(timestamp, nonce string, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(timestamp) + len(nonce) + len(body) + 3)
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(nonce)
	b.WriteByte('\n')
	b.Write(body)
	b.WriteByte('\n')
	return b.Bytes()
}

// signSHA256WithRSA signs message with SHA256withRSA (PKCS#1 v1.5) and returns it in base64.
func signSHA256WithRSA(key *rsa.PrivateKey, message []byte) (string, error) {
	h := sha256.Sum256(message)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// authorization formats the Authorization header value, fields in the order WeChat Pay's own
// SDK writes them.
func authorization(mchID, nonce, timestamp, serialNo, signature string) string {
	return AuthSchema + ` mchid="` + mchID + `",nonce_str="` + nonce + `",timestamp="` + timestamp +
		`",serial_no="` + serialNo + `",signature="` + signature + `"`
}

// newNonce returns 32 random upper-case hex characters.
func newNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("wechat: crypto/rand failed: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// Reasons a signed answer or notice is refused.
var (
	errNoSignature   = errors.New("missing Wechatpay signature headers")
	errUnknownSerial = errors.New("unknown Wechatpay-Serial")
	errBadTimestamp  = errors.New("malformed Wechatpay-Timestamp")
	errStale         = errors.New("Wechatpay-Timestamp outside the allowed clock skew")
	errBadSignature  = errors.New("Wechatpay-Signature does not verify")
)

// verifySigned checks the Wechatpay-* signature of body: the serial must name a configured
// platform key, the timestamp must lie within MaxClockSkew of the clock, and the signature must
// verify over timestamp, nonce and body.
func (p *Provider) verifySigned(header func(string) string, body []byte) error {
	ts, nonce := header("Wechatpay-Timestamp"), header("Wechatpay-Nonce")
	serial, sig := header("Wechatpay-Serial"), header("Wechatpay-Signature")
	if ts == "" || nonce == "" || serial == "" || sig == "" {
		return errNoSignature
	}
	key, ok := p.platform[serial]
	if !ok {
		return fmt.Errorf("%w %q", errUnknownSerial, serial)
	}
	if len(ts) > 12 || strings.TrimLeft(ts, "0123456789") != "" {
		return errBadTimestamp
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errBadTimestamp
	}
	skew := p.clock.Now().Sub(time.Unix(sec, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > p.maxSkew {
		return errStale
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errBadSignature
	}
	h := sha256.Sum256(verifyMessage(ts, nonce, body))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], raw) != nil {
		return errBadSignature
	}
	return nil
}

// v3Error is APIv3's error body.
type v3Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// callV3 sends one signed APIv3 request and decodes a 2xx JSON answer into out (when out is not
// nil and the answer has a body). path is already escaped; query may be nil; in is marshalled
// as the JSON body when not nil.
func (p *Provider) callV3(ctx context.Context, op, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return perr(op, false, gateway.ProviderInvalid, "", "cannot encode the request", err)
		}
	}
	target := p.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	status, header, answer, err := p.sendV3(ctx, op, method, target, body)
	if err != nil {
		return err
	}
	return p.readV3Answer(op, status, header, answer, out)
}

// sendV3 signs and sends one request to target and reads the answer. Failures to get an
// answer are outcome-unknown.
func (p *Provider) sendV3(ctx context.Context, op, method, target string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, nil, nil, perr(op, false, gateway.ProviderInvalid, "", "cannot build the request", err)
	}
	ts := strconv.FormatInt(p.clock.Now().Unix(), 10)
	nonce := newNonce()
	sig, err := signSHA256WithRSA(p.key, signMessage(method, req.URL.RequestURI(), ts, nonce, body))
	if err != nil {
		return 0, nil, nil, perr(op, false, gateway.ProviderAuth, "", "cannot sign the request", err)
	}
	req.Header.Set("Authorization", authorization(p.mchID, nonce, ts, p.serialNo, sig))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "qrpay-wechat/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, unavailable(op, err)
	}
	defer resp.Body.Close()
	limit := int64(maxAnswerBytes)
	if op == "statement" {
		limit = maxBillBytes
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, nil, unavailable(op, fmt.Errorf("read answer: %w", err))
	}
	if int64(len(answer)) > limit {
		return 0, nil, nil, unavailable(op, fmt.Errorf("answer larger than %d bytes", limit))
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// readV3Answer verifies and interprets an APIv3 answer.
//
// 5xx is outcome-unknown. A 2xx answer must carry a valid signature. A 4xx answer is verified
// when signed; WeChat Pay does not sign the 401 it sends for a request whose own signature
// failed, so an unsigned 401 is accepted as an authentication failure, while any other unsigned
// 4xx is treated as tampered (its code cannot be trusted to decide anything).
func (p *Provider) readV3Answer(op string, status int, header http.Header, answer []byte, out any) error {
	if status >= 500 || status < 200 || (status >= 300 && status < 400) {
		var e v3Error
		_ = json.Unmarshal(answer, &e)
		return perr(op, true, gateway.ProviderUnavailable, e.Code, e.Message, fmt.Errorf("HTTP %d", status))
	}
	signed := header.Get("Wechatpay-Signature") != ""
	if status < 300 || signed || status != http.StatusUnauthorized {
		if err := p.verifySigned(header.Get, answer); err != nil {
			return tampered(op, err)
		}
	}
	if status >= 400 {
		var e v3Error
		if err := json.Unmarshal(answer, &e); err != nil && status != http.StatusUnauthorized {
			return unavailable(op, fmt.Errorf("HTTP %d with an unreadable body: %w", status, err))
		}
		return v3Failure(op, status, e)
	}
	if out != nil && len(answer) > 0 {
		if err := json.Unmarshal(answer, out); err != nil {
			return unavailable(op, fmt.Errorf("unreadable answer: %w", err))
		}
	}
	return nil
}

// v3Failure maps an APIv3 4xx answer to a determined ProviderError.
func v3Failure(op string, status int, e v3Error) error {
	code, unknown := "", false
	switch e.Code {
	case "SIGN_ERROR", "NO_AUTH", "INVALID_AUTHORIZATION", "ILLEGAL_CERT":
		code = gateway.ProviderAuth
	case "ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS", "NOT_FOUND", "NO_STATEMENT_EXIST":
		code = gateway.ProviderNotFound
	case "ORDERPAID", "ORDER_PAID", "TRADE_STATE_ERROR_PAID":
		code = gateway.ProviderAlreadyPaid
	case "ORDER_CLOSED", "ORDERCLOSED", "ORDERREVERSED":
		code = gateway.ProviderAlreadyClosed
	case "NOT_ENOUGH":
		code = gateway.ProviderInsufficient
	case "USER_ACCOUNT_ABNORMAL", "TRADE_ERROR", "RULE_LIMIT", "ACCOUNT_ERROR", "REFUND_NOT_ALLOWED":
		code = gateway.ProviderDeclined
	case "PARAM_ERROR", "INVALID_REQUEST", "APPID_MCHID_NOT_MATCH", "MCH_NOT_EXISTS", "OUT_TRADE_NO_USED",
		"REQUEST_BLOCKED", "INVALID_TRANSACTIONID":
		code = gateway.ProviderInvalid
	case "FREQUENCY_LIMITED", "RATELIMIT_EXCEEDED", "STATEMENT_CREATING":
		code = gateway.ProviderUnavailable
	case "SYSTEM_ERROR", "SYSTEMERROR", "BANK_ERROR", "BANKERROR":
		code, unknown = gateway.ProviderUnavailable, true
	default:
		switch status {
		case http.StatusUnauthorized:
			code = gateway.ProviderAuth
		case http.StatusForbidden:
			code = gateway.ProviderDeclined
		case http.StatusNotFound:
			code = gateway.ProviderNotFound
		case http.StatusTooManyRequests:
			code = gateway.ProviderUnavailable
		default:
			code = gateway.ProviderInvalid
		}
	}
	return perr(op, unknown, code, e.Code, e.Message, fmt.Errorf("HTTP %d", status))
}
