package wechat

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// vector is one entry of testdata/vectors.json, a copy of the project's public WeChat Pay
// vectors (kinds wechatpay_*) with the key, certificate and notify body their sources name.
type vector struct {
	Kind     string         `json:"kind"`
	Input    map[string]any `json:"input"`
	Expected map[string]any `json:"expected"`
}

func loadVectors(t testing.TB, kind string) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	var out []vector
	for _, v := range file.Vectors {
		if v.Kind == kind {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s vector", kind)
	}
	return out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// testKeyPEM is the public test private key of wechatpay-go, whose PEM type is spelled
// "TESTING KEY" in the source so that secret scanners leave it alone.
func testKeyPEM(t testing.TB) []byte {
	t.Helper()
	v := loadVectors(t, "wechatpay_v3_sha256withrsa_sign")[0]
	return []byte(strings.ReplaceAll(str(v.Input, "private_key_pem"), "TESTING KEY", "PRIVATE KEY"))
}

func TestVectorSHA256WithRSASign(t *testing.T) {
	v := loadVectors(t, "wechatpay_v3_sha256withrsa_sign")[0]
	key, err := LoadPrivateKey(testKeyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := signSHA256WithRSA(key, []byte(str(v.Input, "message")))
	if err != nil {
		t.Fatal(err)
	}
	if want := str(v.Expected, "signature_b64"); got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
}

func TestVectorAuthorizationMessage(t *testing.T) {
	key, err := LoadPrivateKey(testKeyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range loadVectors(t, "wechatpay_v3_authorization_message") {
		in := v.Input
		msg := signMessage(str(in, "method"), str(in, "canonical_url"), str(in, "timestamp"), str(in, "nonce"), []byte(str(in, "body")))
		if want := str(v.Expected, "message"); string(msg) != want {
			t.Errorf("message = %q, want %q", msg, want)
		}
		sig, err := signSHA256WithRSA(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		if want := str(v.Expected, "signature_b64_with_test_key_DERIVED"); sig != want {
			t.Errorf("%s signature = %s, want %s", str(in, "method"), sig, want)
		}
		if mock := str(v.Expected, "header_with_mock_signer"); mock != "" {
			// The SDK's test formats the header with a mock signer; the real schema and the
			// real signature take the mock's places, field order unchanged.
			want := strings.Replace(mock, "WECHATPAY2-Mock", str(v.Expected, "real_schema"), 1)
			want = strings.Replace(want, "Sign:<message>", sig, 1)
			got := authorization(str(in, "mchid"), str(in, "nonce"), str(in, "timestamp"), str(in, "serial_no"), sig)
			if got != want {
				t.Errorf("Authorization = %s\nwant            %s", got, want)
			}
		}
	}
}

func TestVectorAEADDecrypt(t *testing.T) {
	v := loadVectors(t, "wechatpay_v3_aead_aes_gcm_decrypt")[0]
	in := v.Input
	pt, err := decryptResource([]byte(str(in, "key")), str(in, "nonce"), str(in, "associated_data"), str(in, "ciphertext_b64"))
	if err != nil {
		t.Fatal(err)
	}
	if want := str(v.Expected, "plaintext"); string(pt) != want {
		t.Errorf("plaintext = %q, want %q", pt, want)
	}
	if _, err := decryptResource([]byte("testAPIv3Key1111"), str(in, "nonce"), str(in, "associated_data"), str(in, "ciphertext_b64")); err == nil {
		t.Error("the wrong key decrypted the vector")
	}
	if _, err := decryptResource([]byte(str(in, "key")), str(in, "nonce"), "other", str(in, "ciphertext_b64")); err == nil {
		t.Error("other associated data decrypted the vector")
	}
}

// vectorNotifyProvider is a Provider configured with the notify vector's certificate and
// 16-byte APIv3 key (which New refuses, so build is used), its clock pinned to the notice.
func vectorNotifyProvider(t testing.TB, at time.Time) (*Provider, vector) {
	t.Helper()
	v := loadVectors(t, "wechatpay_v3_notify")[0]
	keys, err := LoadPlatformCertificates([]byte(str(v.Input, "platform_cert_pem")))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := LoadPrivateKey(testKeyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := build(Config{BaseURL: "https://api.mch.weixin.qq.com", AppID: "wxd678efh567hg6787", MchID: "1234567890",
		MerchantSerialNo: "F5765756002FDD77", MerchantPrivateKey: mk, PlatformPublicKeys: keys,
		APIv3Key: []byte(str(v.Input, "apiv3_key")), Clock: qrpay.NewFakeClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

func vectorNotifyRequest(v vector) gateway.CallbackRequest {
	h := map[string][]string{"Content-Type": {"application/json"}}
	for k, val := range v.Input["headers"].(map[string]any) {
		h[k] = []string{val.(string)}
	}
	return gateway.CallbackRequest{Method: "POST", Path: "/notify/wechat", Header: h, Body: []byte(str(v.Input, "body"))}
}

func TestVectorNotify(t *testing.T) {
	at := time.Unix(1624523846, 0)
	p, v := vectorNotifyProvider(t, at)
	if _, ok := p.platform["D7CE59D1F522D701"]; !ok {
		t.Fatalf("certificate serial not read as D7CE59D1F522D701: %v", p.platform)
	}
	req := vectorNotifyRequest(v)
	env, pt, err := p.openNotice(req)
	if err != nil {
		t.Fatal(err)
	}
	if want := str(v.Expected, "resource_plaintext"); string(pt) != want {
		t.Errorf("plaintext = %s, want %s", pt, want)
	}
	if env.EventType != "PAYSCORE.USER_OPEN_SERVICE" {
		t.Errorf("event_type = %q", env.EventType)
	}
	// A genuine notice of an event qrpay does not handle is unreadable to it, not forged.
	if _, err := p.ParseCallback(t.Context(), req); qrpay.ErrorCode(err) != qrpay.EINVALID {
		t.Errorf("ParseCallback(payscore notice) = %v, want EINVALID", err)
	}

	// Six minutes later the same notice is stale.
	late, _ := vectorNotifyProvider(t, at.Add(6*time.Minute))
	if _, _, err := late.openNotice(req); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED || !errors.Is(err, errStale) {
		t.Errorf("stale notice: %v, want EUNAUTHORIZED (stale)", err)
	}
	// One changed byte of the body breaks the signature.
	bad := req
	bad.Body = []byte(strings.Replace(string(req.Body), "签约成功", "签约失败", 1))
	if _, _, err := p.openNotice(bad); !errors.Is(err, errBadSignature) {
		t.Errorf("altered notice: %v, want a bad signature", err)
	}
	// The same notice under another APIv3 key does not decrypt.
	p.apiv3Key = []byte("testMchAPIv3Key1")
	if _, _, err := p.openNotice(req); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED || !errors.Is(err, errDecrypt) {
		t.Errorf("wrong APIv3 key: %v, want EUNAUTHORIZED (decrypt)", err)
	}
}

func TestNewRefusesShortAPIv3Key(t *testing.T) {
	p, v := vectorNotifyProvider(t, time.Unix(1624523846, 0))
	c := Config{BaseURL: "https://api.mch.weixin.qq.com", AppID: "wx1", MchID: "1234567890", MerchantSerialNo: "F5765756002FDD77",
		MerchantPrivateKey: p.key, PlatformPublicKeys: p.platform, APIv3Key: []byte(str(v.Input, "apiv3_key"))}
	if _, err := New(c); qrpay.ErrorParam(err) != "APIv3Key" {
		t.Errorf("New with a 16-byte APIv3 key: %v, want EINVALID on APIv3Key", err)
	}
	c.APIv3Key = []byte("0123456789abcdef0123456789abcdef")
	if _, err := New(c); err != nil {
		t.Errorf("New with a 32-byte key: %v", err)
	}
}

func TestVectorV2Sign(t *testing.T) {
	v := loadVectors(t, "wechatpay_v2_sign")[0]
	params := map[string]string{}
	for k, val := range v.Input["params"].(map[string]any) {
		params[k] = val.(string)
	}
	key := str(v.Input, "key")
	if got, want := V2Sign(params, key, SignTypeMD5), str(v.Expected, "md5_upper"); got != want {
		t.Errorf("MD5 sign = %s, want %s", got, want)
	}
	if got, want := V2Sign(params, key, SignTypeHMACSHA256), str(v.Expected, "hmac_sha256_upper"); got != want {
		t.Errorf("HMAC-SHA256 sign = %s, want %s", got, want)
	}
	// sign itself and empty values are not signed.
	params["sign"] = "WHATEVER"
	params["attach"] = ""
	if got, want := V2Sign(params, key, SignTypeMD5), str(v.Expected, "md5_upper"); got != want {
		t.Errorf("MD5 sign with sign and an empty value = %s, want %s", got, want)
	}
}

func TestDecodeXML(t *testing.T) {
	m, err := decodeXML([]byte("<xml><return_code><![CDATA[SUCCESS]]></return_code>\n<total_fee>1</total_fee><body>a&amp;b</body></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	if m["return_code"] != "SUCCESS" || m["total_fee"] != "1" || m["body"] != "a&b" {
		t.Errorf("decoded %v", m)
	}
	for _, bad := range []string{"", "<xml>", "<xml><a><b>1</b></a></xml>", "<x><a>1</a></x>", "<xml><a>1</a><a>2</a></xml>",
		"<xml><a>1</a></xml><xml></xml>", "<xml>text<a>1</a></xml>", `<!DOCTYPE x [<!ENTITY e "v">]><xml><a>&e;</a></xml>`} {
		if _, err := decodeXML([]byte(bad)); err == nil {
			t.Errorf("decodeXML(%q) accepted", bad)
		}
	}
	round, err := decodeXML(encodeXML(map[string]string{"body": "<x>&\"'", "n": "1"}))
	if err != nil || round["body"] != "<x>&\"'" || round["n"] != "1" {
		t.Errorf("round trip = %v, %v", round, err)
	}
}

func TestRoundFee(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{{1000, 1}, {1499, 1}, {1500, 2}, {0, 0}, {-1500, -2}, {-1499, -1}, {7404, 7}} {
		if got := roundFee(c.in, 3); got != c.want {
			t.Errorf("roundFee(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
