package unionpay

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

const testCertID = "70000000002"

var (
	keysOnce        sync.Once
	testUnionPayKey *rsa.PrivateKey
	testKeysErr     error
)

// testProvider returns a provider whose UnionPay verification key is testUnionPayKey. The same
// key signs its requests: these tests send none, and every fuzzing worker makes its own key.
func testProvider(t testing.TB) *Provider {
	t.Helper()
	keysOnce.Do(func() { testUnionPayKey, testKeysErr = rsa.GenerateKey(rand.Reader, 2048) })
	if testKeysErr != nil {
		t.Fatal(testKeysErr)
	}
	p, err := New(Config{BaseURL: "https://up.example", MerchantID: "777290058110048", AcquirerIIN: "48021000",
		ForwardingIIN: "00010344", SigningKey: testUnionPayKey, SigningCertID: "70000000001",
		VerifyKeys: map[string]*rsa.PublicKey{testCertID: &testUnionPayKey.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signedNotice returns the body of a notice signed with the test UnionPay key, and the content
// that was signed.
func signedNotice(t testing.TB, f fields) (string, string) {
	t.Helper()
	f["certId"] = testCertID
	content := signContent(f)
	sig, err := sign(testUnionPayKey, content)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range f {
		form.Set(k, v)
	}
	form.Set("signature", sig)
	return form.Encode(), content
}

func consumeNotice() fields {
	return fields{"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "accessType": "0", "bizType": "000000",
		"merId": "777290058110048", "txnType": "01", "txnSubType": "07", "orderId": "pay_01hm5dhp80wnwtsk50arb",
		"queryId": "202401151001000000001", "txnTime": "20240115100000", "txnAmt": "1234", "currencyCode": "156",
		"respCode": "00", "respMsg": "成功[0000000]", "finishTime": "20240115100100", "accNo": "6216********0018",
		"settleDate": "0115", "traceTime": "0115100100"}
}

// FuzzParseCallback checks that ParseCallback never panics and never accepts a notice whose
// fields are not exactly ones UnionPay signed.
func FuzzParseCallback(f *testing.F) {
	p := testProvider(f)
	signed := map[string]bool{}
	add := func(fl fields) {
		body, content := signedNotice(f, fl)
		signed[content] = true
		f.Add([]byte(body))
	}
	add(consumeNotice())
	refund := consumeNotice()
	refund["txnType"], refund["txnSubType"], refund["orderId"] = "04", "00", "re_01hm5g0000a1b2c3d4e5f"
	refund["origOrderId"], refund["origQryId"], refund["txnAmt"] = "pay_01hm5dhp80wnwtsk50arb", "202401151001000000001", "300"
	add(refund)
	void := consumeNotice()
	void["txnType"], void["txnSubType"], void["origOrderId"] = "31", "00", "pay_01hm5dhp80wnwtsk50arb"
	delete(void, "orderId")
	add(void)
	declined := consumeNotice()
	declined["respCode"], declined["respMsg"] = "65", "余额不足"
	add(declined)
	f.Add([]byte("signature=abc&certId=" + testCertID + "&txnType=01&orderId=pay_1&respCode=00&txnAmt=1"))
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
		if cb == nil || (cb.Trade == nil) == (cb.Refund == nil) || string(cb.Ack.Body) != "ok" || cb.Ack.Status != 200 {
			t.Fatalf("callback %+v", cb)
		}
		form, perr := parseForm(string(body))
		if perr != nil {
			t.Fatalf("accepted an unparsable body: %v", perr)
		}
		if !signed[signContent(form)] {
			t.Fatalf("accepted fields UnionPay never signed: %s", signContent(form))
		}
	})
}

// FuzzParseStatement checks that ParseStatement never panics and returns either a whole
// statement or an error, never both nor a half-read one.
func FuzzParseStatement(f *testing.F) {
	p := &Provider{} // ParseStatement needs no configuration
	text := sampleStatement(f)
	f.Add([]byte(text))
	f.Add([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	f.Add([]byte(text[:len(text)/2]))
	f.Add([]byte("H 20240116 777290058110048\nT 00000000 0000000000000000\n"))
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
		if st.Date == "" || st.Channel != "unionpay" || !bytes.HasSuffix(data, []byte("\n")) {
			t.Fatalf("statement %+v", st)
		}
		var total int64
		for _, l := range st.Lines {
			if l.ProviderTradeNo == "" || (l.Type != "payment" && l.Type != "refund") || !l.Amount.Currency.Valid() ||
				l.Amount.Amount <= 0 || l.Fee < 0 || l.At.IsZero() || (l.Status != "succeeded" && l.Status != "failed") ||
				(l.Type == "payment" && (l.PaymentID == "" || l.RefundID != "")) {
				t.Fatalf("line %+v", l)
			}
			total += l.Amount.Amount
		}
		// The whole file was read: its trailer states the lines and their total.
		tail := strings.TrimRight(string(data), "\r\n")
		trailer := tail[strings.LastIndexByte(tail, '\n')+1:]
		count, sum, terr := readTrailer(trailer)
		if terr != nil || count != int64(len(st.Lines)) || sum != total {
			t.Fatalf("trailer %q for %d lines totalling %d: %v", trailer, len(st.Lines), total, terr)
		}
	})
}
