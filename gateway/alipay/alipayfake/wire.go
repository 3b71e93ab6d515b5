package alipayfake

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"
)

// canonical is the RSA2 string to sign: non-empty parameters minus the excluded ones, sorted,
// key=value joined by '&', raw.
func canonical(params map[string]string, exclude ...string) string {
	var keys []string
	for k, v := range params {
		skip := v == ""
		for _, e := range exclude {
			skip = skip || k == e
		}
		if !skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return strings.Join(parts, "&")
}

func sign(key *rsa.PrivateKey, content []byte) (string, error) {
	h := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func verify(pub *rsa.PublicKey, content []byte, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	h := sha256.Sum256(content)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], raw) == nil
}

// obj is a JSON object that keeps its members in order, as Alipay's answers do.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the members in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// set adds or replaces a member; empty strings are left out, as Alipay leaves out absent fields.
func (o obj) set(k string, v any) obj {
	if s, ok := v.(string); ok && s == "" {
		return o
	}
	for i := range o {
		if o[i].k == k {
			o[i].v = v
			return o
		}
	}
	return append(o, kv{k, v})
}

func (o obj) get(k string) string {
	for _, m := range o {
		if m.k == k {
			s, _ := m.v.(string)
			return s
		}
	}
	return ""
}

// apiError is a non-success answer.
type apiError struct {
	code, subCode, subMsg string
}

var codeMsg = map[string]string{
	"10000": "Success",
	"10003": "order success pay inprocess",
	"20000": "Service Currently Unavailable",
	"40001": "Missing Required Arguments",
	"40002": "Invalid Arguments",
	"40004": "Business Failed",
	"40006": "Insufficient Permissions",
}

func errAnswer(code, subCode, subMsg string) obj {
	return obj{}.set("code", code).set("msg", codeMsg[code]).set("sub_code", subCode).set("sub_msg", subMsg)
}

func success() obj { return obj{}.set("code", "10000").set("msg", "Success") }

// render writes an answer: {"<key>":<object>,"sign":"..."}. The object's text escapes '/' as
// Alipay does ("https:\/\/qr.alipay.com\/..."), and the signature covers that exact text.
func (s *Server) render(w http.ResponseWriter, key string, o obj, signed bool, f Fault) {
	raw, err := json.Marshal(o)
	if err != nil {
		http.Error(w, "marshal", http.StatusInternalServerError)
		return
	}
	raw = bytes.ReplaceAll(raw, []byte("/"), []byte(`\/`))
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(key)
	b.WriteString(`":`)
	var sig string
	if signed {
		content := raw
		if f == FaultBadSignature { // a genuine signature, but of other content
			content = append(append([]byte(nil), raw...), ' ')
		}
		sig, _ = sign(s.opts.AlipayKey, content)
	}
	if f == FaultTamper {
		raw = append([]byte(`{"x_tampered":"1",`), raw[1:]...)
	}
	b.Write(raw)
	if signed {
		b.WriteString(`,"sign":"`)
		b.WriteString(sig)
		b.WriteString(`"`)
	}
	b.WriteString("}")
	w.Header().Set("Content-Type", "text/html;charset=utf-8") // what the real gateway says
	_, _ = w.Write(b.Bytes())
}

// checkRequest verifies the common parameters and the signature of a request. It returns the
// error answer to give, or nil.
func (s *Server) checkRequest(p map[string]string) *apiError {
	switch {
	case p["app_id"] == "":
		return &apiError{code: "40001", subCode: "isv.missing-app-id", subMsg: "缺少AppID参数"}
	case p["app_id"] != s.opts.AppID:
		return &apiError{code: "40002", subCode: "isv.invalid-app-id", subMsg: "无效的AppID参数"}
	case p["sign"] == "":
		return &apiError{code: "40001", subCode: "isv.missing-signature", subMsg: "缺少签名参数"}
	case p["sign_type"] != "RSA2":
		return &apiError{code: "40002", subCode: "isv.invalid-signature-type", subMsg: "无效的签名类型"}
	case !strings.EqualFold(p["charset"], "utf-8"):
		return &apiError{code: "40002", subCode: "isv.invalid-charset", subMsg: "字符集错误"}
	case p["format"] != "" && !strings.EqualFold(p["format"], "JSON"):
		return &apiError{code: "40002", subCode: "isv.invalid-format", subMsg: "无效的数据格式"}
	case p["version"] != "1.0":
		return &apiError{code: "40002", subCode: "isv.invalid-version", subMsg: "无效的版本"}
	}
	ts, err := time.ParseInLocation(timeLayout, p["timestamp"], shanghai)
	if err != nil {
		return &apiError{code: "40002", subCode: "isv.invalid-timestamp", subMsg: "非法的时间戳参数"}
	}
	if d := ts.Sub(s.opts.Clock.Now()); d > s.opts.TimestampSkew || d < -s.opts.TimestampSkew {
		return &apiError{code: "40002", subCode: "isv.invalid-timestamp", subMsg: "非法的时间戳参数"}
	}
	content := canonical(p, "sign")
	if !verify(s.opts.AppPublicKey, []byte(content), p["sign"]) {
		return &apiError{code: "40002", subCode: "isv.invalid-signature",
			subMsg: "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：" + content}
	}
	return nil
}
