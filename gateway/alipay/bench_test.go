package alipay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qrpay/qrpay/gateway"
)

// The benchmarks pair each operation with the bare cryptography or decoding it cannot avoid,
// measured in the same run, so that the adapter's own overhead reads as a ratio.

func BenchmarkRSASignBaseline(b *testing.B) {
	app, _ := keys(b)
	sum := sha256.Sum256([]byte(strings.Repeat("x", 300)))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, app, crypto.SHA256, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestSign(b *testing.B) {
	p := testProvider(b, "")
	biz := tradeBiz{OutTradeNo: "pay_01HM0000000000000000000000", ProductCode: productFaceToFace, TotalAmount: "12.34",
		Subject: "咖啡", TimeExpire: "2024-01-15 10:15:00"}
	for b.Loop() {
		if _, err := p.requestParams(MethodPrecreate, biz, "https://example.com/callbacks/alipay", ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSAVerifyBaseline(b *testing.B) {
	_, ali := keys(b)
	sum := sha256.Sum256([]byte("x"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, ali, crypto.SHA256, sum[:])
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&ali.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCallback(b *testing.B) {
	p := testProvider(b, "")
	_, ali := keys(b)
	body, _ := signedNotice(b, ali, noticeFields(p.cfg.AppID), false)
	req := gateway.CallbackRequest{Method: "POST", Body: []byte(body)}
	for b.Loop() {
		if _, err := p.ParseCallback(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadReply(b *testing.B) {
	p := testProvider(b, "")
	raw := `{"code":"10000","msg":"Success","trade_no":"2024011522001400000000000001","out_trade_no":"pay_1","trade_status":"TRADE_SUCCESS","total_amount":"12.34","send_pay_date":"2024-01-15 10:01:00"}`
	body := answer(b, responseKey(MethodQuery), raw, raw)
	for b.Loop() {
		r, err := p.readReply("query", MethodQuery, body)
		if err != nil {
			b.Fatal(err)
		}
		var a tradeAnswer
		if err := json.Unmarshal(r.raw, &a); err != nil {
			b.Fatal(err)
		}
	}
}

// bigBill is the sample bill with its rows repeated to n rows, GBK-encoded.
func bigBill(b *testing.B, n int) []byte {
	text := sampleBill(b)
	var rows []string
	var head, tail []string
	for _, l := range strings.Split(text, "\r\n") {
		switch {
		case strings.HasPrefix(l, "2024") && strings.Contains(l, "交易"):
			rows = append(rows, l)
		case strings.HasPrefix(l, "2024"):
		case len(rows) == 0:
			head = append(head, l)
		case strings.HasPrefix(l, "#-") || strings.HasPrefix(l, "#导出"):
			tail = append(tail, l)
		}
	}
	out := append([]string(nil), head...)
	for i := range n {
		out = append(out, rows[i%len(rows)])
	}
	out = append(out, tail...)
	return gbk(b, strings.Join(out, "\r\n"))
}

func BenchmarkGBKDecodeBaseline(b *testing.B) {
	data := bigBill(b, 10000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := simplifiedchinese.GBK.NewDecoder().Bytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStatement10k(b *testing.B) {
	p := testProvider(b, "")
	data := bigBill(b, 10000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		st, err := p.ParseStatement(bytes.NewReader(data))
		if err != nil || len(st.Lines) != 10000 {
			b.Fatal(err)
		}
	}
}
