package wechat_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/wechat"
)

// testdata/tradebill_all.csv is an ALL trade bill written for these tests in the layout of
// WeChat Pay's 交易账单详细说明 (header, backtick-prefixed fields, five-decimal fees, the summary
// section), with a coupon on the second payment and a partial refund of the first.

func readBill(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/tradebill_all.csv")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseStatement(t *testing.T) {
	st, err := wechat.ParseStatement(strings.NewReader(readBill(t)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Channel != "wechat" || len(st.Lines) != 3 {
		t.Fatalf("statement = %+v", st)
	}
	want := []gateway.StatementLine{
		{ProviderTradeNo: "4200000001202603100000000001", PaymentID: "pay_01hx0000000000000000000001", Type: "payment",
			Amount: cny(1234), Fee: 7, Status: "SUCCESS", At: time.Date(2026, 3, 10, 1, 15, 2, 0, time.UTC)},
		{ProviderTradeNo: "4200000001202603100000000002", PaymentID: "pay_01hx0000000000000000000002", Type: "payment",
			Amount: cny(10000), Fee: 59, Status: "SUCCESS", At: time.Date(2026, 3, 10, 3, 40, 59, 0, time.UTC)},
		{ProviderTradeNo: "4200000001202603100000000001", PaymentID: "pay_01hx0000000000000000000001", Type: "refund",
			RefundID: "rf_01hx0000000000000000000001", Amount: cny(300), Fee: -2, Status: "SUCCESS",
			At: time.Date(2026, 3, 10, 8, 3, 12, 0, time.UTC)},
	}
	for i, w := range want {
		if got := st.Lines[i]; got != w {
			t.Errorf("line %d = %+v\nwant     %+v", i+1, got, w)
		}
	}
	// The method reads the same.
	p := &wechat.Provider{}
	if st2, err := p.ParseStatement(strings.NewReader(readBill(t))); err != nil || len(st2.Lines) != 3 {
		t.Errorf("method ParseStatement = %v, %v", st2, err)
	}
}

func TestParseStatementVariants(t *testing.T) {
	bill := readBill(t)
	ok := map[string]string{
		"LF line ends":   strings.ReplaceAll(bill, "\r\n", "\n"),
		"BOM":            "\uFEFF" + bill,
		"trailing blank": bill + "\r\n\r\n",
		"no final EOL":   strings.TrimSuffix(bill, "\r\n"),
		"SUCCESS type": "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注\n" +
			"`2026-03-10 09:15:02,`wx8888888888888888,`1900000109,`0,`,`4200000001,`pay_1,`oX,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.01,`0.00,`Tea,`,`0.00000,`0.60%,`0.01,`\n" +
			"总交易单数,应结订单总金额,手续费总金额,订单总金额\n`1,`0.01,`0.00000,`0.01\n",
		"legacy 总金额": "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,企业红包金额,商品名称,商户数据包,手续费,费率\n" +
			"`2018-04-18 17:08:23,`wx1,`1498143142,`0,`WEB,`4200000077201804180423198134,`BV1R180418170252DS,`oa15W,`NATIVE,`SUCCESS,`BOC_DEBIT,`CNY,`0.01,`0.00,`点数,`,`0.00000,`0.60%\n" +
			"总交易单数,总交易额,总退款金额,总企业红包退款金额,手续费总金额\n`1,`0.01,`0.00,`0.00,`0.00000\n",
		"empty day": "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注\n" +
			"总交易单数,应结订单总金额,手续费总金额,订单总金额\n`0,`0.00,`0.00000,`0.00\n",
	}
	for name, text := range ok {
		st, err := wechat.ParseStatement(strings.NewReader(text))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name == "legacy 总金额" && (len(st.Lines) != 1 || st.Lines[0].Amount != cny(1)) {
			t.Errorf("legacy bill = %+v", st.Lines)
		}
	}
}

// malformedBills are bills that must be refused whole.
func malformedBills(bill string) map[string]string {
	lines := strings.Split(bill, "\r\n")
	with := func(i int, line string) string {
		c := append([]string(nil), lines...)
		c[i] = line
		return strings.Join(c, "\r\n")
	}
	without := func(i int) string {
		c := append(append([]string(nil), lines[:i]...), lines[i+1:]...)
		return strings.Join(c, "\r\n")
	}
	return map[string]string{
		"empty":               "",
		"header only":         lines[0],
		"no summary":          strings.Join(lines[:4], "\r\n"),
		"summary header only": strings.Join(lines[:5], "\r\n"),
		"missing backtick":    with(1, strings.Replace(lines[1], ",`NATIVE", ",NATIVE", 1)),
		"extra field":         with(1, lines[1]+",`x"),
		"missing field":       with(1, strings.TrimSuffix(lines[1], ",`")),
		"bad time":            with(1, strings.Replace(lines[1], "2026-03-10 09:15:02", "2026-03-10T09:15:02", 1)),
		"bad amount":          with(1, strings.Replace(lines[1], "`12.34,`0.00,`0,", "`12.3.4,`0.00,`0,", 1)),
		"three decimals":      with(1, strings.Replace(lines[1], "`12.34,`0.00,`0,", "`12.345,`0.00,`0,", 1)),
		"negative amount":     with(1, strings.Replace(lines[1], "`12.34,`0.00,`0,", "`-12.34,`0.00,`0,", 1)),
		"unknown currency":    with(1, strings.Replace(lines[1], "`CNY", "`XYZ", 1)),
		"bad fee":             with(1, strings.Replace(lines[1], "`0.07000", "`0.07x00", 1)),
		"refund without id":   with(3, strings.Replace(lines[3], "`rf_01hx0000000000000000000001", "`0", 1)),
		"count too high":      with(5, strings.Replace(lines[5], "`3,", "`4,", 1)),
		"count not a number":  with(5, strings.Replace(lines[5], "`3,", "`three,", 1)),
		"summary no backtick": with(5, strings.Replace(lines[5], "`3,", "3,", 1)),
		"line after summary":  strings.Join(lines[:6], "\r\n") + "\r\n" + lines[1],
		"blank line inside":   with(2, ""),
		"header repeated":     with(2, lines[0]),
		"lost line":           without(2),
		"repeated column":     with(0, strings.Replace(lines[0], "公众账号ID", "商户号", 1)),
		"no fee column":       with(0, strings.Replace(lines[0], "手续费", "服务费", 1)),
		"not UTF-8":           with(1, strings.Replace(lines[1], "Coffee", "\xff\xfe", 1)),
	}
}

func TestParseStatementMalformed(t *testing.T) {
	for name, text := range malformedBills(readBill(t)) {
		st, err := wechat.ParseStatement(strings.NewReader(text))
		if err == nil || st != nil {
			t.Errorf("%s: got %v, %v; want an error and nothing", name, st, err)
			continue
		}
		if qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("%s: error code %s", name, qrpay.ErrorCode(err))
		}
	}
}

// TestFakeBillParses checks that the fake's bill is what the parser reads, line for line.
func TestFakeBillParses(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i, fen := range []int64{1, 99, 100, 12345} {
		id := "pay_bill_" + string(rune('a'+i))
		if _, err := e.p.CreateCode(ctx, gateway.CreateCodeRequest{PaymentID: id, Amount: cny(fen), Description: "a, b`c", NotifyURL: e.notify.URL}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.fake.Pay(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	data, n := e.fake.Bill("2026-03-10")
	st, err := wechat.ParseStatement(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(st.Lines) != n || n != 4 {
		t.Fatalf("%d lines, fake wrote %d", len(st.Lines), n)
	}
	var total int64
	for _, l := range st.Lines {
		total += l.Amount.Amount
	}
	if total != 1+99+100+12345 {
		t.Errorf("total = %d", total)
	}
}
