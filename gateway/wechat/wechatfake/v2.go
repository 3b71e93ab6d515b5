package wechatfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MicropayResult is what the fake does with a payment code.
type MicropayResult int

// Micropay outcomes.
const (
	// MicropaySuccess charges at once (the default for any valid code).
	MicropaySuccess MicropayResult = iota
	// MicropayUserPaying answers USERPAYING; the order stays USERPAYING for Queries order
	// queries (APIv3 or v2), and the next one finds it SUCCESS.
	MicropayUserPaying
	// MicropayDeclined answers result_code FAIL with ErrCode (NOTENOUGH by default); the
	// order is PAYERROR.
	MicropayDeclined
	// MicropaySystemError answers SYSTEMERROR; the order is left in state Then (NOTPAY by
	// default, or SUCCESS: the customer was charged though the merchant was not told).
	MicropaySystemError
)

// Micropay chooses the fake's answer to one payment code.
type Micropay struct {
	Result  MicropayResult
	Queries int    // for MicropayUserPaying
	ErrCode string // for MicropayDeclined
	ErrDesc string // for MicropayDeclined
	Then    string // for MicropaySystemError
}

// SetMicropay chooses what happens when authCode is presented.
func (s *Server) SetMicropay(authCode string, m Micropay) {
	s.mu.Lock()
	s.micropay[authCode] = m
	s.mu.Unlock()
}

// wechatAuthCode is WeChat Pay's payment-code format.
var wechatAuthCode = regexp.MustCompile(`^1[0-5]\d{16}$`)

// v2Sign signs v2 parameters: non-empty values except sign, sorted, k=v&..., &key=, MD5 or
// HMAC-SHA256, upper-case hex.
func v2Sign(params map[string]string, key, signType string) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, k+"="+params[k])
	}
	parts = append(parts, "key="+key)
	msg := strings.Join(parts, "&")
	if signType == "HMAC-SHA256" {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
	}
	sum := md5.Sum([]byte(msg))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// parseXML reads a flat <xml> document.
func parseXML(data []byte) (map[string]string, bool) {
	d := xml.NewDecoder(bytes.NewReader(data))
	out := map[string]string{}
	depth, key := 0, ""
	var val strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, depth == 0 && len(out) > 0
		}
		if err != nil {
			return nil, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				key = t.Name.Local
				val.Reset()
			} else if depth > 2 || (depth == 1 && t.Name.Local != "xml") {
				return nil, false
			}
		case xml.EndElement:
			if depth == 2 {
				out[key] = val.String()
			}
			depth--
		case xml.CharData:
			if depth == 2 {
				val.Write(t)
			}
		}
	}
}

// writeXML writes a flat document, each value in CDATA as WeChat Pay does.
func writeXML(w http.ResponseWriter, params map[string]string) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("<xml>")
	for _, k := range keys {
		b.WriteString("<" + k + "><![CDATA[" + strings.ReplaceAll(params[k], "]]>", "]]]]><![CDATA[>") + "]]></" + k + ">")
	}
	b.WriteString("</xml>")
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// v2Handler answers one v2 route given the verified request parameters; it returns the
// business fields of a return_code SUCCESS answer.
type v2Handler func(r *http.Request, in map[string]string) map[string]string

// v2 wraps a v2Handler: parse and verify the request's sign, then sign the answer with the
// same sign type.
func (s *Server) v2(h v2Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := r.Context().Value(ctxBody).([]byte)
		k, _ := r.Context().Value(ctxKnobs).(nextKnobs)
		in, ok := parseXML(body)
		if !ok {
			writeXML(w, map[string]string{"return_code": "FAIL", "return_msg": "XML格式错误"})
			return
		}
		signType := in["sign_type"]
		if signType == "" {
			signType = "MD5"
		}
		if (signType != "MD5" && signType != "HMAC-SHA256") || in["sign"] != v2Sign(in, s.keys.APIv2Key, signType) {
			writeXML(w, map[string]string{"return_code": "FAIL", "return_msg": "签名错误"})
			return
		}
		if in["appid"] != s.keys.AppID || in["mch_id"] != s.keys.MchID {
			writeXML(w, map[string]string{"return_code": "FAIL", "return_msg": "appid和mch_id不匹配"})
			return
		}
		out := h(r, in)
		if out["return_code"] == "FAIL" {
			writeXML(w, out)
			return
		}
		out["return_code"], out["return_msg"] = "SUCCESS", "OK"
		out["appid"], out["mch_id"] = s.keys.AppID, s.keys.MchID
		if in["sub_mch_id"] != "" {
			out["sub_mch_id"] = in["sub_mch_id"]
		}
		out["nonce_str"] = randAlnum(16)
		out["sign"] = v2Sign(out, s.keys.APIv2Key, signType)
		if k.tamper {
			out["sign"] = strings.Repeat("0", len(out["sign"]))
		}
		writeXML(w, out)
	}
}

// fail is a result_code FAIL answer.
func fail(code, desc string) map[string]string {
	return map[string]string{"result_code": "FAIL", "err_code": code, "err_code_des": desc}
}

// tradeFields adds the fields of a paid (or refunded, or reversed-after-paid) order.
func (s *Server) tradeFields(o *order, out map[string]string) {
	out["out_trade_no"] = o.outTradeNo
	out["trade_type"] = o.tradeType
	out["total_fee"] = strconv.FormatInt(o.total, 10)
	out["fee_type"] = o.currency
	if !o.paidAt.IsZero() {
		out["openid"] = o.openID
		out["is_subscribe"] = "N"
		out["bank_type"] = "OTHERS"
		out["cash_fee"] = strconv.FormatInt(o.total, 10)
		out["cash_fee_type"] = o.currency
		out["transaction_id"] = o.transactionID
		out["time_end"] = o.paidAt.In(china).Format("20060102150405")
	}
}

// handleMicropay charges a payment code.
func (s *Server) handleMicropay(_ *http.Request, in map[string]string) map[string]string {
	for _, f := range []string{"nonce_str", "body", "out_trade_no", "total_fee", "spbill_create_ip", "auth_code"} {
		if in[f] == "" {
			return fail("LACK_PARAMS", "缺少参数 "+f)
		}
	}
	total, err := strconv.ParseInt(in["total_fee"], 10, 64)
	if err != nil || total <= 0 {
		return fail("PARAM_ERROR", "total_fee 不正确")
	}
	if ft := in["fee_type"]; ft != "" && ft != "CNY" {
		return fail("PARAM_ERROR", "fee_type 不正确")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[in["out_trade_no"]]; ok {
		switch o.state {
		case "SUCCESS", "REFUND":
			return fail("ORDERPAID", "订单已支付")
		case "CLOSED":
			return fail("ORDERCLOSED", "订单已关闭")
		case "REVOKED":
			return fail("ORDERREVERSED", "订单已撤销")
		case "USERPAYING":
			return fail("USERPAYING", "需要用户输入支付密码")
		}
		return fail("OUT_TRADE_NO_USED", "商户订单号重复")
	}
	if !wechatAuthCode.MatchString(in["auth_code"]) {
		return fail("AUTH_CODE_INVALID", "请扫描微信支付授权码")
	}
	o := &order{outTradeNo: in["out_trade_no"], partner: in["sub_mch_id"] != "", subMchID: in["sub_mch_id"],
		appID: s.keys.AppID, description: in["body"], total: total, currency: "CNY", tradeType: "MICROPAY",
		state: "NOTPAY", deviceInfo: in["device_info"], created: s.clock.Now(), openID: "oUpF8uN95-Ptaags6E_roPHg7AG0"}
	s.orders[o.outTradeNo] = o
	m := s.micropay[in["auth_code"]]
	switch m.Result {
	case MicropayUserPaying:
		o.state, o.queriesLeft, o.thenState = "USERPAYING", m.Queries, "SUCCESS"
		return fail("USERPAYING", "需要用户输入支付密码")
	case MicropayDeclined:
		code, desc := m.ErrCode, m.ErrDesc
		if code == "" {
			code = "NOTENOUGH"
		}
		if desc == "" {
			desc = "用户余额不足"
		}
		o.state, o.stateDesc = "PAYERROR", desc
		return fail(code, desc)
	case MicropaySystemError:
		s.settle(o, orDefault(m.Then, "NOTPAY"))
		return fail("SYSTEMERROR", "系统超时")
	}
	s.settle(o, "SUCCESS")
	out := map[string]string{"result_code": "SUCCESS"}
	if o.deviceInfo != "" {
		out["device_info"] = o.deviceInfo
	}
	s.tradeFields(o, out)
	return out
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// handleOrderQuery answers v2 /pay/orderquery.
func (s *Server) handleOrderQuery(_ *http.Request, in map[string]string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookupV2(in)
	if o == nil {
		return fail("ORDERNOTEXIST", "此交易订单号不存在")
	}
	s.observe(o)
	out := map[string]string{"result_code": "SUCCESS", "trade_state": o.state, "trade_state_desc": stateDesc(o)}
	s.tradeFields(o, out)
	return out
}

// lookupV2 finds the order named by out_trade_no or transaction_id (and sub_mch_id).
func (s *Server) lookupV2(in map[string]string) *order {
	var o *order
	if no := in["out_trade_no"]; no != "" {
		o = s.orders[no]
	} else if id := in["transaction_id"]; id != "" {
		for _, c := range s.orders {
			if c.transactionID == id {
				o = c
			}
		}
	}
	if o == nil || o.subMchID != in["sub_mch_id"] {
		return nil
	}
	return o
}

// handleReverse reverses a payment-code order; it demands a verified client certificate
// issued to the merchant.
func (s *Server) handleReverse(r *http.Request, in map[string]string) map[string]string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.VerifiedChains[0][0].Subject.CommonName != s.keys.MchID {
		return map[string]string{"return_code": "FAIL", "return_msg": "证书验证失败"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.knobs.recallNext {
		s.knobs.recallNext = false
		out := fail("SYSTEMERROR", "系统错误，请稍后重试")
		out["recall"] = "Y"
		return out
	}
	o := s.lookupV2(in)
	if o == nil {
		out := fail("ORDERNOTEXIST", "订单不存在")
		out["recall"] = "N"
		return out
	}
	if o.tradeType != "MICROPAY" {
		out := fail("TRADE_ERROR", "非付款码支付订单不能撤销")
		out["recall"] = "N"
		return out
	}
	if s.clock.Now().Sub(o.created) > 7*24*time.Hour {
		out := fail("REVERSE_EXPIRE", "订单已超过撤销期限")
		out["recall"] = "N"
		return out
	}
	if o.state == "REFUND" {
		out := fail("TRADE_ERROR", "订单已退款，不能撤销")
		out["recall"] = "N"
		return out
	}
	o.state = "REVOKED"
	return map[string]string{"result_code": "SUCCESS", "recall": "N"}
}
