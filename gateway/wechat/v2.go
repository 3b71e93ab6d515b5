package wechat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// V2Sign computes a v2 API signature as WeChat Pay's signing rules state it: take every
// non-empty parameter except sign, sort by key (ASCII), join as k=v with &, append &key=API_KEY,
// then MD5 or HMAC-SHA256 (keyed with the API key), in upper-case hex.
func V2Sign(params map[string]string, apiKey, signType string) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k == "sign" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	b.WriteString("&key=")
	b.WriteString(apiKey)
	if signType == SignTypeMD5 {
		sum := md5.Sum([]byte(b.String()))
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	}
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// encodeXML writes flat v2 parameters as <xml><k>v</k>...</xml>, keys sorted.
func encodeXML(params map[string]string) []byte {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, k := range keys {
		b.WriteString("<" + k + ">")
		_ = xml.EscapeText(&b, []byte(params[k]))
		b.WriteString("</" + k + ">")
	}
	b.WriteString("</xml>")
	return b.Bytes()
}

// errXML is a v2 body that is not a flat <xml> document.
var errXML = errors.New("not a flat v2 XML document")

// decodeXML reads a flat v2 XML document (<xml><k>v</k>...</xml>, values optionally in CDATA).
// Nested elements, repeated keys and trailing content are refused.
func decodeXML(data []byte) (map[string]string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	out := map[string]string{}
	depth, key, sawRoot, done := 0, "", false, false
	var val strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errXML, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if done {
				return nil, errXML
			}
			depth++
			switch depth {
			case 1:
				if t.Name.Local != "xml" || sawRoot {
					return nil, errXML
				}
				sawRoot = true
			case 2:
				key = t.Name.Local
				val.Reset()
				if _, dup := out[key]; dup {
					return nil, fmt.Errorf("%w: repeated %q", errXML, key)
				}
			default:
				return nil, errXML
			}
		case xml.EndElement:
			if depth == 2 {
				out[key] = val.String()
			}
			depth--
			if depth == 0 {
				done = true
			}
		case xml.CharData:
			if depth == 2 {
				val.Write(t)
			} else if len(bytes.TrimSpace(t)) != 0 {
				return nil, errXML
			}
		case xml.Directive:
			return nil, errXML
		}
	}
	if !done {
		return nil, errXML
	}
	return out, nil
}

// callV2 signs and posts one v2 request to path with client. It returns the verified answer
// when return_code is SUCCESS. A FAIL return_code (the request was refused before any
// processing) is a determined error: ProviderAuth for signature or certificate problems,
// ProviderInvalid otherwise. No answer, a non-200 status, an unreadable answer or any other
// return_code is outcome-unknown, and an answer whose sign does not verify is ProviderTampered.
func (p *Provider) callV2(ctx context.Context, op string, client *http.Client, path string, params map[string]string) (map[string]string, error) {
	if p.apiv2Key == "" {
		return nil, invalidRequest(op, qrpay.Invalid("APIv2Key", "No APIv2 key is configured for payment codes."))
	}
	params["appid"] = p.appID
	params["mch_id"] = p.mchID
	params["nonce_str"] = newNonce()
	params["sign_type"] = p.signType
	params["sign"] = V2Sign(params, p.apiv2Key, p.signType)

	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", p.base.String()+path, bytes.NewReader(encodeXML(params)))
	if err != nil {
		return nil, perr(op, false, gateway.ProviderInvalid, "", "cannot build the request", err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("User-Agent", "qrpay-wechat/1")
	resp, err := client.Do(req)
	if err != nil {
		return nil, unavailable(op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, unavailable(op, fmt.Errorf("read answer: %w", err))
	}
	if len(body) > maxAnswerBytes {
		return nil, unavailable(op, fmt.Errorf("answer larger than %d bytes", maxAnswerBytes))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(op, fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	ans, err := decodeXML(body)
	if err != nil {
		return nil, unavailable(op, err)
	}
	switch ans["return_code"] {
	case "SUCCESS":
	case "FAIL":
		msg := ans["return_msg"]
		code := gateway.ProviderInvalid
		lower := strings.ToLower(msg)
		if strings.Contains(msg, "签名") || strings.Contains(msg, "证书") || strings.Contains(lower, "sign") || strings.Contains(lower, "cert") {
			code = gateway.ProviderAuth
		}
		return nil, perr(op, false, code, "FAIL", msg, errors.New("return_code FAIL"))
	default:
		return nil, perr(op, true, gateway.ProviderUnavailable, ans["return_code"], ans["return_msg"], errors.New("unexpected return_code"))
	}
	want := V2Sign(ans, p.apiv2Key, p.signType)
	if subtle.ConstantTimeCompare([]byte(want), []byte(ans["sign"])) != 1 {
		return nil, tampered(op, errors.New("v2 answer sign does not verify"))
	}
	if (ans["mch_id"] != "" && ans["mch_id"] != p.mchID) || (ans["appid"] != "" && ans["appid"] != p.appID) {
		return nil, tampered(op, errors.New("v2 answer names another merchant"))
	}
	return ans, nil
}

// parseTimeEnd reads v2's yyyyMMddHHmmss, China time, into UTC.
func parseTimeEnd(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("20060102150405", s, china)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// v2Trade reads the trade fields of a micropay or orderquery answer.
func v2Trade(op string, ans map[string]string, status gateway.TradeStatus) (*gateway.Trade, error) {
	tr := &gateway.Trade{PaymentID: ans["out_trade_no"], ProviderTradeNo: ans["transaction_id"], Status: status,
		Payer: ans["openid"]}
	if s := ans["total_fee"]; s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, unavailable(op, fmt.Errorf("unreadable total_fee %q", s))
		}
		m, err := money(n, ans["fee_type"])
		if err != nil {
			return nil, unavailable(op, err)
		}
		tr.Amount = m
	}
	paid, err := parseTimeEnd(ans["time_end"])
	if err != nil {
		return nil, unavailable(op, fmt.Errorf("unreadable time_end: %w", err))
	}
	if status == gateway.TradeSucceeded || status == gateway.TradeRefunded {
		tr.PaidAt = paid
	}
	return tr, nil
}

// micropayFailure maps a micropay err_code with result_code FAIL. Declines are returned as a
// failed Trade; outcome-unknown codes and refusals of the request as errors.
func micropayFailure(op, paymentID string, ans map[string]string) (*gateway.Trade, error) {
	code, desc := ans["err_code"], ans["err_code_des"]
	switch code {
	case "USERPAYING":
		return &gateway.Trade{PaymentID: paymentID, ProviderTradeNo: ans["transaction_id"], Status: gateway.TradePending}, nil
	case "AUTHCODEEXPIRE", "AUTH_CODE_INVALID", "AUTH_CODE_ERROR", "NOTENOUGH", "NOTSUPORTCARD",
		"BUYER_MISMATCH", "TRADE_ERROR", "PAYERROR", "NOAUTH_USER", "USER_LIMIT":
		reason := code
		if desc != "" {
			reason += ": " + desc
		}
		return &gateway.Trade{PaymentID: paymentID, Status: gateway.TradeFailed, FailureReason: reason}, nil
	case "ORDERPAID":
		return nil, perr(op, false, gateway.ProviderAlreadyPaid, code, desc, nil)
	case "ORDERCLOSED", "ORDERREVERSED":
		return nil, perr(op, false, gateway.ProviderAlreadyClosed, code, desc, nil)
	case "SIGNERROR", "NOAUTH":
		return nil, perr(op, false, gateway.ProviderAuth, code, desc, nil)
	case "PARAM_ERROR", "OUT_TRADE_NO_USED", "XML_FORMAT_ERROR", "LACK_PARAMS", "APPID_NOT_EXIST",
		"MCHID_NOT_EXIST", "APPID_MCHID_NOT_MATCH", "NOT_UTF8", "REQUIRE_POST_METHOD", "POST_DATA_EMPTY",
		"INVALID_REQUEST":
		return nil, perr(op, false, gateway.ProviderInvalid, code, desc, nil)
	}
	// SYSTEMERROR, BANKERROR and anything unknown: the customer may have paid.
	return nil, perr(op, true, gateway.ProviderUnavailable, code, desc, errors.New("payment outcome unknown"))
}

// PayWithCode charges a customer's payment code through v2 /pay/micropay. SUCCESS is a
// succeeded Trade; USERPAYING a pending one (poll with Query, then Cancel); AUTHCODEEXPIRE,
// AUTH_CODE_INVALID, NOTENOUGH and other declines a failed Trade whose FailureReason is the
// err_code and its description; SYSTEMERROR, BANKERROR and unknown codes an outcome-unknown
// error.
func (p *Provider) PayWithCode(ctx context.Context, req gateway.PayCodeRequest) (*gateway.Trade, error) {
	const op = "micropay"
	switch {
	case req.PaymentID == "":
		return nil, invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	case req.AuthCode == "":
		return nil, invalidRequest(op, qrpay.Invalid("auth_code", "The payment code is required."))
	}
	if e := checkAmount("amount", req.Amount); e != nil {
		return nil, invalidRequest(op, e)
	}
	ip := req.ClientIP
	if ip == "" {
		ip = p.serverIP
	}
	body := req.Description
	if body == "" {
		body = req.PaymentID
	}
	params := map[string]string{
		"sub_mch_id":       req.SubMerchantID,
		"device_info":      req.TerminalID,
		"body":             body,
		"out_trade_no":     req.PaymentID,
		"total_fee":        strconv.FormatInt(req.Amount.Amount, 10),
		"fee_type":         string(req.Amount.Currency),
		"spbill_create_ip": ip,
		"auth_code":        req.AuthCode,
	}
	dropEmpty(params)
	ans, err := p.callV2(ctx, op, p.client, "/pay/micropay", params)
	if err != nil {
		return nil, err
	}
	if ans["result_code"] != "SUCCESS" {
		return micropayFailure(op, req.PaymentID, ans)
	}
	tr, err := v2Trade(op, ans, gateway.TradeSucceeded)
	if err != nil {
		return nil, err
	}
	if tr.PaymentID != req.PaymentID {
		return nil, unavailable(op, fmt.Errorf("answer names out_trade_no %q", tr.PaymentID))
	}
	return tr, nil
}

// QueryMicropay asks v2 /pay/orderquery about a payment (any trade type; Query uses it when
// APIv3 does not know the order). ORDERNOTEXIST is ProviderNotFound.
func (p *Provider) QueryMicropay(ctx context.Context, ref gateway.TradeRef) (*gateway.Trade, error) {
	const op = "orderquery"
	if ref.PaymentID == "" {
		return nil, invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	}
	params := map[string]string{"sub_mch_id": ref.SubMerchantID, "out_trade_no": ref.PaymentID}
	dropEmpty(params)
	ans, err := p.callV2(ctx, op, p.client, "/pay/orderquery", params)
	if err != nil {
		return nil, err
	}
	if ans["result_code"] != "SUCCESS" {
		switch ans["err_code"] {
		case "ORDERNOTEXIST":
			return nil, perr(op, false, gateway.ProviderNotFound, ans["err_code"], ans["err_code_des"], nil)
		case "SYSTEMERROR", "":
			return nil, perr(op, true, gateway.ProviderUnavailable, ans["err_code"], ans["err_code_des"], nil)
		}
		return nil, perr(op, false, gateway.ProviderInvalid, ans["err_code"], ans["err_code_des"], nil)
	}
	status, ok := tradeStatus(ans["trade_state"])
	if !ok {
		return nil, unavailable(op, fmt.Errorf("unknown trade_state %q", ans["trade_state"]))
	}
	tr, err := v2Trade(op, ans, status)
	if err != nil {
		return nil, err
	}
	if tr.PaymentID != ref.PaymentID {
		return nil, unavailable(op, fmt.Errorf("answer names out_trade_no %q", tr.PaymentID))
	}
	if status == gateway.TradeFailed {
		tr.FailureReason = ans["trade_state_desc"]
	}
	return tr, nil
}

// Cancel reverses a payment-code payment through v2 /secapi/pay/reverse over mutual TLS with
// Config.ClientCert. The reversal answer does not say whether the customer had paid, so Cancel
// first asks /pay/orderquery: a SUCCESS order is reported Refunded once reversed. (A customer
// who completes the payment between the two calls is refunded by the reversal all the same.)
//
// recall=Y with a failure is outcome-unknown (retry later); REVERSE_EXPIRE and other refusals
// are determined errors; ORDERNOTEXIST is ProviderNotFound. WeChat Pay asks for reversals no
// earlier than 15 s after the payment request; pacing is the caller's.
func (p *Provider) Cancel(ctx context.Context, ref gateway.TradeRef) (*gateway.CancelResult, error) {
	const op = "reverse"
	if ref.PaymentID == "" {
		return nil, invalidRequest(op, qrpay.Invalid("payment_id", "The payment id is required."))
	}
	paid := false
	tr, err := p.QueryMicropay(ctx, ref)
	switch {
	case err == nil:
		paid = tr.Status == gateway.TradeSucceeded
	case gateway.ProviderErrorCode(err) == gateway.ProviderNotFound:
		// Reverse all the same: a micropay request lost on the way may yet be processed.
	default:
		return nil, err
	}
	params := map[string]string{"sub_mch_id": ref.SubMerchantID, "out_trade_no": ref.PaymentID,
		"transaction_id": ref.ProviderTradeNo}
	dropEmpty(params)
	ans, err := p.callV2(ctx, op, p.secClient, "/secapi/pay/reverse", params)
	if err != nil {
		return nil, err
	}
	if ans["result_code"] == "SUCCESS" {
		return &gateway.CancelResult{Refunded: paid}, nil
	}
	code, desc := ans["err_code"], ans["err_code_des"]
	if ans["recall"] == "Y" || code == "SYSTEMERROR" || code == "USERPAYING" {
		return nil, perr(op, true, gateway.ProviderUnavailable, code, desc, errors.New("reversal must be retried"))
	}
	switch code {
	case "ORDERNOTEXIST":
		return nil, perr(op, false, gateway.ProviderNotFound, code, desc, nil)
	case "SIGNERROR", "NOAUTH":
		return nil, perr(op, false, gateway.ProviderAuth, code, desc, nil)
	case "REVERSE_EXPIRE", "TRADE_ERROR", "INVALID_TRANSACTIONID", "PARAM_ERROR", "REQUIRE_POST_METHOD",
		"INVALID_REQUEST":
		return nil, perr(op, false, gateway.ProviderDeclined, code, desc, nil)
	}
	return nil, perr(op, true, gateway.ProviderUnavailable, code, desc, errors.New("unexpected reversal answer"))
}

// dropEmpty removes empty parameters, which v2 signing skips and requests leave out.
func dropEmpty(m map[string]string) {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
}
