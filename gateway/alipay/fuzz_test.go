package alipay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// signedNotice returns a notice body signed with the test Alipay key, and the sign contents
// that Alipay signed (with and without sign_type): the only contents a forged body may carry.
func signedNotice(t testing.TB, ali *rsa.PrivateKey, fields map[string]string, keepSignType bool) (string, []string) {
	t.Helper()
	exclude := []string{"sign", "sign_type"}
	if keepSignType {
		exclude = []string{"sign"}
	}
	content := signContent(fields, exclude...)
	sig, err := signRSA2(ali, content)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range fields {
		form.Set(k, v)
	}
	form.Set("sign", sig)
	return form.Encode(), []string{content}
}

func noticeFields(app string) map[string]string {
	return map[string]string{
		"notify_time": "2024-01-15 10:01:02", "notify_type": "trade_status_sync", "notify_id": "2024011500222100102000000001",
		"app_id": app, "charset": "utf-8", "version": "1.0", "sign_type": "RSA2", "trade_no": "2024011522001400000000000001",
		"out_trade_no": "pay_1", "buyer_id": "2088102000000001", "seller_id": "2088000000000001", "trade_status": "TRADE_SUCCESS",
		"total_amount": "12.34", "receipt_amount": "12.34", "subject": "咖啡 & 蛋糕=1", "gmt_create": "2024-01-15 10:00:00",
		"gmt_payment": "2024-01-15 10:01:00", "fund_bill_list": `[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]`,
	}
}

// FuzzParseCallback checks that ParseCallback never panics and never accepts a body whose
// fields are not exactly ones Alipay signed: any accepted body must carry, sign_type aside, the
// same fields and values as a genuinely signed notice.
func FuzzParseCallback(f *testing.F) {
	// A fixed key: fuzz workers start often, and generating keys in each is slow.
	key := sdkKey(f)
	p, err := New(Config{BaseURL: "https://openapi.alipay.com/gateway.do", AppID: "2021000000000001",
		PrivateKey: key, AlipayPublicKey: &key.PublicKey})
	if err != nil {
		f.Fatal(err)
	}
	signed := map[string]bool{}
	add := func(fields map[string]string, keep bool) {
		body, contents := signedNotice(f, key, fields, keep)
		for _, c := range contents {
			signed[c] = true
		}
		f.Add([]byte(body))
	}
	add(noticeFields(p.cfg.AppID), false)
	add(noticeFields(p.cfg.AppID), true)
	refund := noticeFields(p.cfg.AppID)
	refund["refund_fee"], refund["gmt_refund"], refund["out_biz_no"] = "3.00", "2024-01-15 11:00:00.320", "ref_1"
	add(refund, false)
	closed := noticeFields(p.cfg.AppID)
	closed["trade_status"] = "TRADE_CLOSED"
	delete(closed, "gmt_payment")
	add(closed, false)
	f.Add([]byte("sign=abc&app_id=" + p.cfg.AppID))
	f.Add([]byte("%zz&&=="))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := p.ParseCallback(context.Background(), gateway.CallbackRequest{Method: "POST", Body: body})
		if err != nil {
			if cb != nil {
				t.Fatal("a callback with an error")
			}
			if c := qrpay.ErrorCode(err); c != qrpay.EUNAUTHORIZED && c != qrpay.EINVALID {
				t.Fatalf("error code %s: %v", c, err)
			}
			return
		}
		if cb == nil || (cb.Trade == nil) == (cb.Refund == nil) || string(cb.Ack.Body) != "success" {
			t.Fatalf("callback %+v", cb)
		}
		form, perr := url.ParseQuery(string(body))
		if perr != nil {
			t.Fatalf("accepted an unparsable body: %v", perr)
		}
		fields := map[string]string{}
		for k, v := range form {
			fields[k] = v[0]
		}
		without := signContent(fields, "sign", "sign_type")
		if fields["sign_type"] == "" {
			fields["sign_type"] = "RSA2" // an absent sign_type means RSA2
		}
		withType := signContent(fields, "sign")
		if !signed[without] && !signed[withType] {
			t.Fatalf("accepted fields Alipay never signed: %s", without)
		}
	})
}

// FuzzParseStatement checks that ParseStatement never panics and returns either a whole
// statement or an error, never both nor a half-read one.
func FuzzParseStatement(f *testing.F) {
	p := &Provider{} // ParseStatement needs no configuration
	text := sampleBill(f)
	f.Add([]byte(text))
	f.Add(gbk(f, text))
	f.Add([]byte(strings.ReplaceAll(text, "\r\n", "\n")))
	f.Add([]byte(text[:len(text)/2]))
	f.Add([]byte("支付宝交易号,商户订单号,业务类型,完成时间,订单金额（元）,商家实收（元）,退款批次号/请求号\n#业务明细列表结束\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := p.ParseStatement(bytes.NewReader(data))
		if (st == nil) == (err == nil) {
			t.Fatalf("statement %v and error %v", st, err)
		}
		if err != nil {
			if qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Fatalf("error code: %v", err)
			}
			return
		}
		for _, l := range st.Lines {
			if l.ProviderTradeNo == "" || (l.Type != "payment" && l.Type != "refund") || l.Amount.Currency != qrpay.CNY ||
				l.Amount.Amount < 0 || l.Fee < 0 || l.At.IsZero() || l.Status != "succeeded" {
				t.Fatalf("line %+v", l)
			}
		}
	})
}

// sdkKey is the public test key of the official Node SDK (testdata/sdk-app-private-key.pem).
func sdkKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/sdk-app-private-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
