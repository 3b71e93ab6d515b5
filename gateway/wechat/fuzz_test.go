package wechat_test

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/wechat"
)

// The fuzz targets use the public SDK test key as the platform key, so they need no key
// generation; the APIv3 key is a fixed 32-byte test value.
const (
	fuzzSerial = "D7CE59D1F522D701"
	fuzzAPIv3  = "0123456789abcdef0123456789abcdef"
)

var fuzzAt = time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)

// notice is a signed notice as headers and body.
type notice struct {
	ts, nonce, serial, sig string
	body                   []byte
}

func (n notice) request() gateway.CallbackRequest {
	return gateway.CallbackRequest{Method: "POST", Path: "/n", Body: n.body, Header: map[string][]string{
		"Wechatpay-Timestamp": {n.ts}, "Wechatpay-Nonce": {n.nonce}, "Wechatpay-Serial": {n.serial},
		"Wechatpay-Signature": {n.sig}}}
}

// sealNotice encrypts resource and signs the envelope with key, independently of the adapter.
func sealNotice(t testing.TB, key *rsa.PrivateKey, eventType, originalType string, resource any, at time.Time, nonce string) notice {
	t.Helper()
	plain, err := json.Marshal(resource)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher([]byte(fuzzAPIv3))
	aead, _ := cipher.NewGCM(block)
	rnonce := "abcdefghijkl"
	ct := aead.Seal(nil, []byte(rnonce), plain, []byte(originalType))
	body, err := json.Marshal(map[string]any{"id": "n-1", "create_time": at.Format(time.RFC3339), "resource_type": "encrypt-resource",
		"event_type": eventType, "summary": "s", "resource": map[string]string{"original_type": originalType,
			"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64.StdEncoding.EncodeToString(ct), "associated_data": originalType,
			"nonce": rnonce}})
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return notice{ts: ts, nonce: nonce, serial: fuzzSerial, sig: base64.StdEncoding.EncodeToString(sig), body: body}
}

// fuzzSetup returns a provider that trusts the test key as platform key, and genuine notices.
func fuzzSetup(t testing.TB) (*wechat.Provider, []notice) {
	t.Helper()
	key, err := wechat.LoadPrivateKey(vectorTestKey(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := wechat.New(wechat.Config{BaseURL: "https://127.0.0.1:1", AppID: "wx8888888888888888", MchID: "1900000109",
		MerchantSerialNo: "F5765756002FDD77", MerchantPrivateKey: key,
		PlatformPublicKeys: map[string]*rsa.PublicKey{fuzzSerial: &key.PublicKey}, APIv3Key: []byte(fuzzAPIv3),
		Clock: qrpay.NewFakeClock(fuzzAt)})
	if err != nil {
		t.Fatal(err)
	}
	pay := map[string]any{"mchid": "1900000109", "appid": "wx8888888888888888", "out_trade_no": "pay_1",
		"transaction_id": "4200000001", "trade_type": "NATIVE", "trade_state": "SUCCESS", "success_time": "2026-03-10T10:00:00+08:00",
		"payer": map[string]string{"openid": "oX"}, "amount": map[string]any{"total": 100, "payer_total": 100, "currency": "CNY"}}
	refund := map[string]any{"mchid": "1900000109", "out_trade_no": "pay_1", "transaction_id": "4200000001", "out_refund_no": "rf_1",
		"refund_id": "50001", "refund_status": "SUCCESS", "success_time": "2026-03-10T10:05:00+08:00",
		"amount": map[string]any{"total": 100, "refund": 40, "payer_total": 100, "payer_refund": 40}}
	return p, []notice{
		sealNotice(t, key, "TRANSACTION.SUCCESS", "transaction", pay, fuzzAt, "nonceA"),
		sealNotice(t, key, "REFUND.SUCCESS", "refund", refund, fuzzAt.Add(-time.Minute), "nonceB"),
	}
}

func signedMessage(ts, nonce string, body []byte) string {
	return ts + "\n" + nonce + "\n" + string(body) + "\n"
}

func TestGenuineFuzzSeeds(t *testing.T) {
	p, genuine := fuzzSetup(t)
	for i, n := range genuine {
		cb, err := p.ParseCallback(t.Context(), n.request())
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if (i == 0 && (cb.Trade == nil || cb.Trade.Amount != cny(100))) || (i == 1 && (cb.Refund == nil || cb.Refund.Amount != cny(40))) {
			t.Errorf("seed %d = %+v", i, cb)
		}
	}
}

// FuzzParseCallback: ParseCallback never panics, answers only EUNAUTHORIZED or EINVALID when it
// refuses, and accepts nothing but the genuinely signed (timestamp, nonce, body) triples.
func FuzzParseCallback(f *testing.F) {
	p, genuine := fuzzSetup(f)
	signed := map[string]bool{}
	for _, n := range genuine {
		signed[signedMessage(n.ts, n.nonce, n.body)] = true
		f.Add(n.ts, n.nonce, n.serial, n.sig, n.body)
		f.Add(n.ts, n.nonce, n.serial, n.sig, bytes.Replace(n.body, []byte("SUCCESS"), []byte("SUCCEED"), 1))
		f.Add(n.ts, n.nonce+"x", n.serial, n.sig, n.body)
		f.Add(n.ts, n.nonce, "OTHER", n.sig, n.body)
		f.Add("1773108001", n.nonce, n.serial, n.sig, n.body)
		f.Add(n.ts, n.nonce, n.serial, n.sig[:20], n.body)
	}
	f.Add("", "", "", "", []byte(nil))
	f.Add("99999999999999999999", "n", fuzzSerial, "AAAA", []byte("{}"))
	f.Fuzz(func(t *testing.T, ts, nonce, serial, sig string, body []byte) {
		n := notice{ts: ts, nonce: nonce, serial: serial, sig: sig, body: body}
		cb, err := p.ParseCallback(t.Context(), n.request())
		if err != nil {
			if cb != nil {
				t.Fatal("callback returned with an error")
			}
			if c := qrpay.ErrorCode(err); c != qrpay.EUNAUTHORIZED && c != qrpay.EINVALID {
				t.Fatalf("error code %s: %v", c, err)
			}
			return
		}
		if !signed[signedMessage(ts, nonce, body)] {
			t.Fatalf("accepted a notice that was never signed: ts=%q nonce=%q body=%q", ts, nonce, body)
		}
		if (cb.Trade == nil) == (cb.Refund == nil) || cb.Ack.Status != 200 {
			t.Fatalf("callback = %+v", cb)
		}
	})
}

// FuzzParseStatement: ParseStatement never panics and returns either a whole, well-formed
// statement or an error and nothing.
func FuzzParseStatement(f *testing.F) {
	bill := readBill(f)
	f.Add([]byte(bill))
	f.Add([]byte(strings.ReplaceAll(bill, "\r\n", "\n")))
	for _, m := range malformedBills(bill) {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := wechat.ParseStatement(bytes.NewReader(data))
		if (st == nil) == (err == nil) {
			t.Fatalf("statement %v with error %v", st, err)
		}
		if err != nil {
			if qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Fatalf("error code %s", qrpay.ErrorCode(err))
			}
			return
		}
		for i, l := range st.Lines {
			switch {
			case l.Type != "payment" && l.Type != "refund":
				t.Fatalf("line %d type %q", i, l.Type)
			case !l.Amount.Currency.Valid() || l.Amount.Amount < 0:
				t.Fatalf("line %d amount %+v", i, l.Amount)
			case l.Type == "refund" && (l.RefundID == "" || l.Status == ""):
				t.Fatalf("line %d refund without id or status", i)
			case l.At.IsZero() || l.At.Location() != time.UTC:
				t.Fatalf("line %d time %v", i, l.At)
			case l.PaymentID == "" && l.ProviderTradeNo == "":
				t.Fatalf("line %d without order", i)
			}
		}
		again, err := wechat.ParseStatement(bytes.NewReader(data))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(st) {
			t.Fatal("a second parse differs")
		}
	})
}

// BenchmarkParseCallback measures a whole notice (RSA-2048 verification, AES-GCM, JSON);
// BenchmarkNoticeRSAVerify is the signature check alone, as a baseline.
func BenchmarkParseCallback(b *testing.B) {
	p, genuine := fuzzSetup(b)
	req := genuine[0].request()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseCallback(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNoticeRSAVerify(b *testing.B) {
	key, err := wechat.LoadPrivateKey(vectorTestKey(b))
	if err != nil {
		b.Fatal(err)
	}
	_, genuine := fuzzSetup(b)
	n := genuine[0]
	sig, _ := base64.StdEncoding.DecodeString(n.sig)
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256([]byte(signedMessage(n.ts, n.nonce, n.body)))
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
			b.Fatal("verify")
		}
	}
}

// bigBill is an ALL bill of n payment lines.
func bigBill(n int) []byte {
	var b strings.Builder
	b.WriteString("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n")
	for i := range n {
		fmt.Fprintf(&b, "`2026-03-10 09:%02d:%02d,`wx8888888888888888,`1900000109,`0,`,`42000000012026031%011d,`pay_%026d,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`Coffee,`,`0.07000,`0.60%%,`12.34,`0.00,`\r\n", i/60%60, i%60, i, i)
	}
	b.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n")
	fmt.Fprintf(&b, "`%d,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00\r\n", n)
	return []byte(b.String())
}

// BenchmarkParseStatement parses a 10,000-line bill; BenchmarkBillSplit only splits it into
// lines and fields, as a baseline.
func BenchmarkParseStatement(b *testing.B) {
	data := bigBill(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := wechat.ParseStatement(bytes.NewReader(data))
		if err != nil || len(st.Lines) != 10000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkBillSplit(b *testing.B) {
	data := bigBill(10000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, line := range strings.Split(string(data), "\r\n") {
			n += len(strings.Split(line, ","))
		}
		if n == 0 {
			b.Fatal("nothing")
		}
	}
}
