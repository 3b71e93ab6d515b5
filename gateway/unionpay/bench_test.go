package unionpay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/qr"
)

// The benchmarks pair each operation with the bare cryptography or parsing it cannot avoid,
// measured in the same run, so that the adapter's own overhead reads as a ratio.

func BenchmarkRSASignBaseline(b *testing.B) {
	p := testProvider(b)
	sum := sha256.Sum256([]byte("x"))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, p.cfg.SigningKey, crypto.SHA256, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestSign(b *testing.B) {
	p := testProvider(b)
	own := fields{"txnType": txnConsume, "txnSubType": subApplyQR, "merId": "777290058110048",
		"orderId": "pay_01hm5dhp80wnwtsk50arb", "txnAmt": "1234", "currencyCode": "156",
		"backUrl": "https://qrpay.example/callbacks/unionpay/acc_1", "payTimeout": "20240115101500",
		"termId": "T0001", "orderDesc": "拿铁", "merName": "LUCKY COFFEE", "merCity": "SHANGHAI", "merCatCode": "5814"}
	for b.Loop() {
		if _, err := p.request(own); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSAVerifyBaseline(b *testing.B) {
	p := testProvider(b)
	sum := sha256.Sum256([]byte("x"))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, testUnionPayKey, crypto.SHA256, sum[:])
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(p.verify[testCertID], crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCallback(b *testing.B) {
	p := testProvider(b)
	body, _ := signedNotice(b, consumeNotice())
	req := gateway.CallbackRequest{Method: "POST", Body: []byte(body)}
	for b.Loop() {
		if _, err := p.ParseCallback(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPayload(b *testing.B) (string, expectedCode) {
	c := qr.MerchantCode{Dynamic: true, UnionPayAccount: "48021000" + "00010344" + "777290058110048", MCC: "5814",
		Amount: qrpay.Money{Amount: 1234, Currency: qrpay.CNY}, Name: "LUCKY COFFEE", City: "SHANGHAI",
		NameZH: "幸运咖啡", CityZH: "上海", ReferenceLabel: "pay_01hm5dhp80wnwtsk50arb", TerminalLabel: "T0001"}
	payload, err := qr.BuildMerchantCode(c)
	if err != nil {
		b.Fatal(err)
	}
	return payload, expectedCode{account: c.UnionPayAccount, amount: c.Amount, label: c.ReferenceLabel, terminal: "T0001"}
}

func BenchmarkQRParseBaseline(b *testing.B) {
	payload, _ := benchPayload(b)
	for b.Loop() {
		if p, err := qr.Parse(payload); err != nil || !p.Valid() {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckCode(b *testing.B) {
	payload, want := benchPayload(b)
	for b.Loop() {
		if err := checkCode("create_code", payload, want); err != nil {
			b.Fatal(err)
		}
	}
}

// bigStatement is a reconciliation file of n consumes.
func bigStatement(n int) []byte {
	var sb strings.Builder
	sb.WriteString("H 20240115 777290058110048\n")
	for i := range n {
		fmt.Fprintf(&sb, "D 01 07 20240115100100 %012d 156 %-21s %-32s %-21s %-32s %013d 777290058110048 00\n",
			1234, fmt.Sprintf("2024011510010%08d", i), fmt.Sprintf("pay_%021d", i), "", "", 4)
	}
	fmt.Fprintf(&sb, "T %08d %016d\n", n, int64(n)*1234)
	return []byte(sb.String())
}

func BenchmarkSplitLinesBaseline(b *testing.B) {
	data := bigStatement(10000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if n := len(bytes.Split(data, []byte("\n"))); n != 10003 {
			b.Fatal(n)
		}
	}
}

func BenchmarkParseStatement(b *testing.B) {
	p := &Provider{}
	data := bigStatement(10000)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		st, err := p.ParseStatement(bytes.NewReader(data))
		if err != nil || len(st.Lines) != 10000 {
			b.Fatal(err)
		}
	}
}
