package unionpay

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// sampleStatement is a reconciliation file written by hand in the documented format: a QR
// payment, a C2B payment, a partial refund of the first and a void of the second.
func sampleStatement(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/INN240115ZM_777290058110048.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseStatementSample(t *testing.T) {
	p := &Provider{}
	st, err := p.ParseStatement(strings.NewReader(sampleStatement(t)))
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, _ := time.ParseInLocation("20060102150405", s, shanghai)
		return v.UTC()
	}
	cny := func(f int64) qrpay.Money { return qrpay.Money{Amount: f, Currency: qrpay.CNY} }
	want := []gateway.StatementLine{
		{ProviderTradeNo: "202401151001000000001", PaymentID: "pay_01hm5dhp80wnwtsk50arb", Type: "payment", Amount: cny(1234), Fee: 4, Status: "succeeded", At: at("20240115100100")},
		{ProviderTradeNo: "202401151030000000002", PaymentID: "pay_01hm5f0000c1c2b3d4e5f", Type: "payment", Amount: cny(15000), Fee: 45, Status: "succeeded", At: at("20240115103000")},
		{ProviderTradeNo: "202401151001000000001", PaymentID: "pay_01hm5dhp80wnwtsk50arb", Type: "refund", RefundID: "re_01hm5g0000a1b2c3d4e5f", Amount: cny(300), Fee: 1, Status: "succeeded", At: at("20240115110000")},
		{ProviderTradeNo: "202401151030000000002", PaymentID: "pay_01hm5f0000c1c2b3d4e5f", Type: "refund", Amount: cny(15000), Fee: 45, Status: "succeeded", At: at("20240115113000")},
	}
	if st.Channel != "unionpay" || st.Date != "2024-01-15" || len(st.Lines) != len(want) {
		t.Fatalf("%+v", st)
	}
	for i, l := range st.Lines {
		if l != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, l, want[i])
		}
	}
	if !st.Lines[0].At.Equal(time.Date(2024, 1, 15, 2, 1, 0, 0, time.UTC)) {
		t.Fatalf("time zone: %v", st.Lines[0].At)
	}
	// CRLF line ends read the same; a failed transaction is "failed".
	st2, err := p.ParseStatement(strings.NewReader(strings.ReplaceAll(sampleStatement(t), "\n", "\r\n")))
	if err != nil || len(st2.Lines) != 4 {
		t.Fatalf("CRLF: %+v %v", st2, err)
	}
	failed := strings.Replace(sampleStatement(t), "777290058110048 00\nD 01 06", "777290058110048 01\nD 01 06", 1)
	if st3, err := p.ParseStatement(strings.NewReader(failed)); err != nil || st3.Lines[0].Status != "failed" {
		t.Fatalf("failed line: %+v %v", st3, err)
	}
	// An empty day.
	if st4, err := p.ParseStatement(strings.NewReader("H 20240116 777290058110048\nT 00000000 0000000000000000\n")); err != nil ||
		len(st4.Lines) != 0 || st4.Date != "2024-01-16" {
		t.Fatalf("empty day: %+v %v", st4, err)
	}
}

// TestParseStatementMalformed: any malformed line, and any cut, is an error with nothing
// returned.
func TestParseStatementMalformed(t *testing.T) {
	p := &Provider{}
	s := sampleStatement(t)
	lines := strings.SplitAfter(s, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last "\n"
	if len(lines) != 6 {
		t.Fatalf("%d lines", len(lines))
	}
	d1 := lines[1]
	replaceLine := func(i int, with string) string {
		c := append([]string(nil), lines...)
		c[i] = with
		return strings.Join(c, "")
	}
	cases := map[string]string{
		"empty":               "",
		"header only":         lines[0],
		"no trailer":          strings.Join(lines[:len(lines)-1], ""),
		"cut mid-line":        s[:len(s)-10],
		"no final newline":    strings.TrimSuffix(s, "\n"),
		"after the trailer":   s + d1,
		"blank line":          replaceLine(2, "\n"+lines[2]),
		"wrong count":         strings.Replace(s, "T 00000004", "T 00000005", 1),
		"wrong total":         strings.Replace(s, "0000000000031534", "0000000000031535", 1),
		"bad header date":     strings.Replace(s, "H 20240115", "H 20241315", 1),
		"bad header merId":    strings.Replace(s, "H 20240115 777290058110048", "H 20240115 77729005811004X!", 1),
		"header not first":    d1 + s,
		"short line":          replaceLine(1, strings.Replace(d1, "pay_01hm5dhp80wnwtsk50arb ", "pay_01hm5dhp80wnwtsk50arb", 1)),
		"shifted field":       replaceLine(1, strings.Replace(d1, "D 01 07 ", "D 01 07  ", 1)[:len(d1)-1]+"\n"),
		"unknown txnType":     replaceLine(1, strings.Replace(d1, "D 01 07", "D 02 07", 1)),
		"letters in amount":   replaceLine(1, strings.Replace(d1, "000000001234", "00000000123A", 1)),
		"zero amount":         strings.Replace(strings.Replace(s, "000000001234", "000000000000", 1), "0000000000031534", "0000000000030300", 1),
		"unknown currency":    replaceLine(1, strings.Replace(d1, " 156 ", " 999 ", 1)),
		"bad time":            replaceLine(1, strings.Replace(d1, "20240115100100", "20240115250100", 1)),
		"no queryId":          replaceLine(1, strings.Replace(d1, "202401151001000000001", "                     ", 1)),
		"right-aligned id":    replaceLine(1, strings.Replace(d1, "pay_01hm5dhp80wnwtsk50arb       ", "       pay_01hm5dhp80wnwtsk50arb", 1)),
		"consume with orig":   replaceLine(1, strings.Replace(d1, "                      0000000000004", "202401151001000000009 0000000000004", 1)),
		"refund without orig": replaceLine(3, strings.Replace(lines[3], "202401151001000000001 pay_", "                      pay_", 1)),
		"non-ASCII":           replaceLine(1, strings.Replace(d1, "pay_01hm5dhp80wnwtsk50arb", "pay_01hm5dhp80wnwtsk50ar¥", 1)),
		"control character":   replaceLine(1, strings.Replace(d1, " 156 ", "\t156 ", 1)),
		"bad merId":           replaceLine(1, strings.Replace(d1, "777290058110048", "77729005811004-", 1)),
		"bad respCode":        replaceLine(1, strings.Replace(d1, "777290058110048 00", "777290058110048 0X", 1)),
		"a second header":     replaceLine(2, lines[0]+lines[2]),
		"unknown record":      replaceLine(2, "X"+lines[2][1:]),
		"fee not a number":    replaceLine(1, strings.Replace(d1, "0000000000004", "000000000000-", 1)),
		"void with own order": replaceLine(4, strings.Replace(lines[4], "202401151130000000004                                  ", "202401151130000000004 re_void                          ", 1)),
	}
	for name, text := range cases {
		st, err := p.ParseStatement(strings.NewReader(text))
		if st != nil || qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: %+v %v", name, st, err)
		}
	}
}

func TestSignature(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := fields{"version": "5.1.0", "txnAmt": "1", "orderId": "pay_1", "empty": "", "signature": "ignored", "Z": "upper"}
	if c := signContent(f); c != "Z=upper&empty=&orderId=pay_1&txnAmt=1&version=5.1.0" {
		t.Fatalf("content %q", c)
	}
	content := signContent(f)
	sig, err := sign(key, content)
	if err != nil {
		t.Fatal(err)
	}
	if !verify(&key.PublicKey, content, sig) {
		t.Fatal("does not verify")
	}
	if verify(&key.PublicKey, content+"x", sig) || verify(&key.PublicKey, content, sig[:len(sig)-4]+"AAA=") {
		t.Fatal("verifies what was not signed")
	}
	// A '+' turned into a space on the way still verifies.
	if strings.Contains(sig, "+") && !verify(&key.PublicKey, content, strings.ReplaceAll(sig, "+", " ")) {
		t.Fatal("a space for a plus")
	}
	// The signed message is the hex string of the SHA-256 of the content (the SDKs' sha256X16).
	if d := digest("abc"); d != sha256Hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") {
		t.Fatalf("digest %x", d)
	}
}

// sha256Hex is SHA-256 of the given text, for TestSignature's known answer: SHA-256("abc") is
// the FIPS 180-2 example ba7816bf...; signMethod 01 hashes its lower-case hex once more.
func sha256Hex(s string) [32]byte { return sha256.Sum256([]byte(s)) }
