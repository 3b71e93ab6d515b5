package alipay

import (
	"bytes"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/alipay/alipayfake"
)

// sampleBill is testdata/trade-bill-sample.csv: a trade bill in Alipay's layout (see bill.go),
// stored as UTF-8 so that it can be read; the tests encode it as Alipay serves it.
func sampleBill(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/trade-bill-sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(b)
}

func cny(fen int64) qrpay.Money { return qrpay.Money{Amount: fen, Currency: qrpay.CNY} }

func TestParseStatementSample(t *testing.T) {
	p := testProvider(t, "")
	text := sampleBill(t)
	want := []gateway.StatementLine{
		{ProviderTradeNo: "2024011522001412340000000001", PaymentID: "pay_01HM0001", Type: "payment", Amount: cny(3200),
			Fee: 19, Status: "succeeded", At: time.Date(2024, 1, 15, 1, 0, 3, 0, time.UTC)},
		{ProviderTradeNo: "2024011522001412340000000002", PaymentID: "pay_01HM0002", Type: "payment", Amount: cny(1850),
			Fee: 11, Status: "succeeded", At: time.Date(2024, 1, 15, 4, 30, 9, 0, time.UTC)},
		{ProviderTradeNo: "2024011522001412340000000001", PaymentID: "pay_01HM0001", Type: "refund", RefundID: "ref_01HM0001",
			Amount: cny(1200), Fee: 7, Status: "succeeded", At: time.Date(2024, 1, 15, 15, 59, 59, 0, time.UTC)},
	}
	for name, data := range map[string][]byte{
		"gbk": gbk(t, text), "utf-8": []byte(text), "utf-8 bom": append([]byte("\xef\xbb\xbf"), text...),
		"lf":                []byte(strings.ReplaceAll(text, "\r\n", "\n")),
		"ascii parentheses": []byte(strings.ReplaceAll(text, "（元）", "(元)")),
	} {
		st, err := p.ParseStatement(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Channel != "alipay" || st.Date != "2024-01-15" || len(st.Lines) != len(want) {
			t.Fatalf("%s: %+v", name, st)
		}
		for i := range want {
			if st.Lines[i] != want[i] {
				t.Errorf("%s line %d:\n got %+v\nwant %+v", name, i, st.Lines[i], want[i])
			}
		}
	}

	// More columns, in another order: columns are found by name.
	lines := strings.Split(text, "\r\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ",")
		f[0], f[1] = f[1], f[0]
		extra := "交易方式"
		if i > 5 {
			extra = "花呗\t"
		}
		lines[i] = strings.Join(append(f, extra), ",")
	}
	st, err := p.ParseStatement(strings.NewReader(strings.Join(lines, "\r\n")))
	if err != nil || len(st.Lines) != 3 || st.Lines[2] != want[2] {
		t.Fatalf("reordered: %+v %v", st, err)
	}

	// An empty day is a statement with no lines.
	var empty []string
	for _, l := range strings.Split(text, "\r\n") {
		if !strings.HasPrefix(l, "2024") {
			empty = append(empty, strings.NewReplacer("2笔", "0笔", "1笔", "0笔").Replace(l))
		}
	}
	st, err = p.ParseStatement(strings.NewReader(strings.Join(empty, "\r\n")))
	if err != nil || st == nil || len(st.Lines) != 0 {
		t.Fatalf("empty day: %+v %v", st, err)
	}
}

func TestParseStatementMalformed(t *testing.T) {
	p := testProvider(t, "")
	text := sampleBill(t)
	row2 := "2024011522001412340000000002\t,pay_01HM0002"
	junk := make([]byte, 4096)
	if _, err := rand.Read(junk); err != nil {
		t.Fatal(err)
	}
	zipped, err := alipayfake.BillZip("2088000000000001", "2024-01-15", text, "")
	if err != nil {
		t.Fatal(err)
	}
	end := strings.Index(text, "#-----------------------------------------业务明细列表结束")
	cases := map[string][]byte{
		"empty":              nil,
		"comments only":      []byte("#支付宝业务明细查询\r\n#账号：[2088]\r\n"),
		"wrong column count": []byte(strings.Replace(text, "\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,\t,-0.11", "\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,\t,-0.11", 1)),
		"extra column":       []byte(strings.Replace(text, "部分退款\t", "部分退款\t,x", 1)),
		"bad amount":         []byte(strings.Replace(text, "18.50\t,18.50", "18.5O\t,18.50", 1)),
		"bad received":       []byte(strings.Replace(text, "-12.00", "-12,00", 1)),
		"three decimals":     []byte(strings.Replace(text, "32.00\t,32.00", "32.001\t,32.00", 1)),
		"bad fee":            []byte(strings.Replace(text, "-0.19", "-0.1.9", 1)),
		"negative twice":     []byte(strings.Replace(text, "-12.00", "--12.00", 1)),
		"unknown type":       []byte(strings.Replace(text, "退款\t", "转账\t", 1)),
		"bad time":           []byte(strings.Replace(text, "2024-01-15 12:30:09", "2024-01-15 25:30:09", 1)),
		"no time":            []byte(strings.Replace(text, "2024-01-15 12:30:09", "", 1)),
		"no trade no":        []byte(strings.Replace(text, row2, "\t,pay_01HM0002", 1)),
		"truncated at end":   []byte(text[:end]),
		"truncated mid row":  []byte(text[:strings.Index(text, row2)+40]),
		"footer count":       []byte(strings.Replace(text, "#交易合计：2笔", "#交易合计：3笔", 1)),
		"footer refunds":     []byte(strings.Replace(text, "#退款合计：1笔", "#退款合计：0笔", 1)),
		"no header":          []byte(strings.Replace(text, "支付宝交易号,", "", 1)),
		"header missing col": []byte(strings.Replace(text, "商户订单号", "订单号", 1)),
		"header repeats col": []byte(strings.Replace(text, "商品名称", "商户订单号", 1)),
		"row after end":      []byte(text + row2 + "\r\n"),
		"stray quote":        []byte(strings.Replace(text, "拿铁 大杯", "拿\"铁", 1)),
		"open quote":         []byte(strings.Replace(text, "\"三明治, 加蛋\"", "\"三明治, 加蛋", 1)),
		"text after quote":   []byte(strings.Replace(text, "\"三明治, 加蛋\"", "\"三明治\" 加蛋", 1)),
		"bad start date":     []byte(strings.Replace(text, "2024年01月15日", "2024年13月45日", 1)),
		"random bytes":       junk,
		"a zip, not a csv":   zipped,
		"nul byte":           []byte(strings.Replace(text, "静安店", "静安\x00店", 1)),
		"invalid gbk":        append(gbk(t, text[:strings.Index(text, "支付宝交易号,")]), 0x81, 0x20, 0xff, 0xfe),
	}
	for name, data := range cases {
		st, err := p.ParseStatement(bytes.NewReader(data))
		if st != nil || qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: %+v %v", name, st, err)
		}
	}
}

func TestBillFromZip(t *testing.T) {
	text := sampleBill(t)
	zipped, err := alipayfake.BillZip("2088000000000001", "2024-01-15", text, "#支付宝业务汇总查询\r\n")
	if err != nil {
		t.Fatal(err)
	}
	csvData, err := billFromZip(zipped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(csvData, gbk(t, text)) {
		t.Fatal("picked the wrong entry")
	}
	for name, data := range map[string][]byte{"not a zip": []byte(text), "empty": nil} {
		if _, err := billFromZip(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
