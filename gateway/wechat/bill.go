package wechat

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// The trade bill (交易账单) format, from WeChat Pay's "交易账单详细说明"
// (pay.weixin.qq.com/docs/merchant/products/bill-download/format-trade.html, updated
// 2024-11-25): a detail header line, detail lines, a summary header line and one summary line.
// Fields are separated by commas and every detail and summary field starts with a backtick (`),
// so that spreadsheets keep long numbers as text. Amounts are in yuan. The three bill types
// have these detail headers:
//
//	ALL:     交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,
//	         付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,
//	         退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
//	SUCCESS: 交易时间,...,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注
//	REFUND:  交易时间,...,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,
//	         商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,
//	         订单金额,申请退款金额,费率备注
//
// and the summary header 总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,
// 申请退款总金额 (SUCCESS: 总交易单数,应结订单总金额,手续费总金额,订单总金额). Published sample bills
// (WeChat's cloud-hosting downloadbill sample, and SDK test fixtures) show the fee (手续费) with
// five decimals ("0.01000") and 微信退款单号/商户退款单号 "0" on payment lines. Older accounts write
// 总金额 where newer ones write 应结订单金额; both are read.
//
// The parser reads columns by header name, so any of the three types works.

// billTimeLayout is the bill's 交易时间 format, China time.
const billTimeLayout = "2006-01-02 15:04:05"

// Column names the parser uses.
const (
	colTime         = "交易时间"
	colTradeNo      = "微信订单号"
	colOutTradeNo   = "商户订单号"
	colTradeState   = "交易状态"
	colCurrency     = "货币种类"
	colSettleAmount = "应结订单金额"
	colLegacyTotal  = "总金额"
	colOrderAmount  = "订单金额"
	colRefundNo     = "微信退款单号"
	colOutRefundNo  = "商户退款单号"
	colRefundAmount = "退款金额"
	colAskedRefund  = "申请退款金额"
	colRefundStatus = "退款状态"
	colFee          = "手续费"
	summaryCount    = "总交易单数"
)

// ParseStatement reads a WeChat Pay trade bill (ALL, SUCCESS or REFUND type). Payment lines
// (交易状态 other than REFUND) give Type "payment", the order amount (订单金额, or 应结订单金额 when
// the bill has no 订单金额) and 交易状态 as Status; refund lines give Type "refund", the requested
// refund amount (申请退款金额, or 退款金额), 商户退款单号 as RefundID and 退款状态 as Status. Fee is
// 手续费 rounded half away from zero to whole fen (negative on refunds that return a fee). At is
// 交易时间 in UTC. The summary's 总交易单数 must equal the number of detail lines.
//
// Any malformed line (a field without its backtick, a wrong field count, an unreadable amount
// or time, a missing or repeated summary) makes the whole bill an EINVALID error; nothing is
// returned with it. Date is left empty: the bill does not state its day.
func ParseStatement(r io.Reader) (*gateway.Statement, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBillBytes+1))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay bill cannot be read.")
	}
	if len(data) > maxBillBytes {
		return nil, qrpay.Errorf(qrpay.EINVALID, "The WeChat Pay bill is larger than %d bytes.", maxBillBytes)
	}
	lines, err := parseBill(data)
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The WeChat Pay bill is malformed: %v.", err)
	}
	return &gateway.Statement{Channel: gateway.ChannelWechat, Lines: lines}, nil
}

// ParseStatement reads a trade bill; see the package function ParseStatement.
func (p *Provider) ParseStatement(r io.Reader) (*gateway.Statement, error) { return ParseStatement(r) }

// parseBill does the work of ParseStatement.
func parseBill(data []byte) ([]gateway.StatementLine, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	raw := strings.Split(string(data), "\n")
	for i := range raw {
		raw[i] = strings.TrimSuffix(raw[i], "\r")
	}
	// Trailing empty lines are allowed; no others.
	for len(raw) > 0 && raw[len(raw)-1] == "" {
		raw = raw[:len(raw)-1]
	}
	if len(raw) < 3 {
		return nil, fmt.Errorf("too short: %d lines", len(raw))
	}
	header := strings.Split(raw[0], ",")
	cols := make(map[string]int, len(header))
	for i, name := range header {
		if name == "" || strings.HasPrefix(name, "`") {
			return nil, fmt.Errorf("line 1: not a header")
		}
		if _, dup := cols[name]; dup {
			return nil, fmt.Errorf("line 1: repeated column %q", name)
		}
		cols[name] = i
	}
	for _, need := range []string{colTime, colTradeNo, colOutTradeNo, colTradeState, colCurrency, colFee} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("line 1: no column %q", need)
		}
	}
	payCol, ok := cols[colOrderAmount]
	if !ok {
		if payCol, ok = cols[colSettleAmount]; !ok {
			if payCol, ok = cols[colLegacyTotal]; !ok {
				return nil, fmt.Errorf("line 1: no order amount column")
			}
		}
	}
	refundCol, hasRefunds := cols[colAskedRefund]
	if !hasRefunds {
		refundCol, hasRefunds = cols[colRefundAmount]
	}
	// Every amount column is validated, even those the statement does not keep.
	var amountCols []int
	for _, name := range []string{colOrderAmount, colSettleAmount, colLegacyTotal, colRefundAmount, colAskedRefund} {
		if i, ok := cols[name]; ok {
			amountCols = append(amountCols, i)
		}
	}

	var lines []gateway.StatementLine
	n := 1
	for ; n < len(raw) && !strings.HasPrefix(raw[n], summaryCount); n++ {
		fields, err := billFields(raw[n], len(header))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		line, err := billLine(fields, cols, payCol, refundCol, hasRefunds, amountCols)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		lines = append(lines, line)
	}
	// The summary: its header line, then exactly one line of values, then nothing.
	if n+2 != len(raw) {
		return nil, fmt.Errorf("line %d: expected the summary header and one summary line at the end", n+1)
	}
	sumHeader := strings.Split(raw[n], ",")
	for _, name := range sumHeader {
		if name == "" || strings.HasPrefix(name, "`") {
			return nil, fmt.Errorf("line %d: not a summary header", n+1)
		}
	}
	sums, err := billFields(raw[n+1], len(sumHeader))
	if err != nil {
		return nil, fmt.Errorf("line %d: %v", n+2, err)
	}
	for i, name := range sumHeader {
		if i == 0 {
			continue
		}
		if _, err := parseYuan(sums[i], 5, strings.HasPrefix(name, colFee)); err != nil {
			return nil, fmt.Errorf("line %d: %s: %v", n+2, name, err)
		}
	}
	count, err := strconv.Atoi(sums[0])
	if err != nil || count < 0 || strings.TrimLeft(sums[0], "0123456789") != "" {
		return nil, fmt.Errorf("line %d: unreadable %s %q", n+2, summaryCount, sums[0])
	}
	if count != len(lines) {
		return nil, fmt.Errorf("line %d: %s is %d but the bill has %d lines", n+2, summaryCount, count, len(lines))
	}
	return lines, nil
}

// billFields splits a detail or summary line into want fields, each of which must start with a
// backtick, and returns them without it.
func billFields(line string, want int) ([]string, error) {
	fields := strings.Split(line, ",")
	if len(fields) != want {
		return nil, fmt.Errorf("%d fields, want %d", len(fields), want)
	}
	for i, f := range fields {
		if !strings.HasPrefix(f, "`") {
			return nil, fmt.Errorf("field %d has no backtick", i+1)
		}
		fields[i] = f[1:]
	}
	return fields, nil
}

// billLine reads one detail line.
func billLine(f []string, cols map[string]int, payCol, refundCol int, hasRefunds bool, amountCols []int) (gateway.StatementLine, error) {
	var l gateway.StatementLine
	at, err := time.ParseInLocation(billTimeLayout, f[cols[colTime]], china)
	if err != nil {
		return l, fmt.Errorf("unreadable %s %q", colTime, f[cols[colTime]])
	}
	l.At = at.UTC()
	cur, err := qrpay.ParseCurrency("currency", f[cols[colCurrency]])
	if err != nil {
		return l, fmt.Errorf("unsupported %s %q", colCurrency, f[cols[colCurrency]])
	}
	for _, i := range amountCols {
		if _, err := parseYuan(f[i], cur.Exponent(), false); err != nil {
			return l, fmt.Errorf("column %d: %v", i+1, err)
		}
	}
	fee, err := parseYuan(f[cols[colFee]], 5, true)
	if err != nil {
		return l, fmt.Errorf("%s: %v", colFee, err)
	}
	l.Fee = roundFee(fee, 5-cur.Exponent())
	l.ProviderTradeNo = f[cols[colTradeNo]]
	l.PaymentID = f[cols[colOutTradeNo]]
	if l.ProviderTradeNo == "" && l.PaymentID == "" {
		return l, fmt.Errorf("no order number")
	}
	state := f[cols[colTradeState]]
	if state == "" {
		return l, fmt.Errorf("empty %s", colTradeState)
	}
	if state == "REFUND" {
		if !hasRefunds {
			return l, fmt.Errorf("refund line in a bill without refund columns")
		}
		l.Type = "refund"
		if i, ok := cols[colOutRefundNo]; ok {
			l.RefundID = f[i]
		}
		if l.RefundID == "" || l.RefundID == "0" {
			return l, fmt.Errorf("refund line without %s", colOutRefundNo)
		}
		amt, _ := parseYuan(f[refundCol], cur.Exponent(), false)
		l.Amount = qrpay.Money{Amount: amt, Currency: cur}
		if i, ok := cols[colRefundStatus]; ok {
			l.Status = f[i]
		}
		if l.Status == "" {
			return l, fmt.Errorf("refund line without %s", colRefundStatus)
		}
		return l, nil
	}
	l.Type = "payment"
	amt, _ := parseYuan(f[payCol], cur.Exponent(), false)
	l.Amount = qrpay.Money{Amount: amt, Currency: cur}
	l.Status = state
	return l, nil
}

// parseYuan reads a decimal amount with at most exp decimals into units of 10^-exp; a leading
// minus sign is allowed only when signed.
func parseYuan(s string, exp int, signed bool) (int64, error) {
	neg := false
	if signed && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return 0, fmt.Errorf("unreadable amount %q", s)
	}
	v, err := qrpay.ParseDecimal(s, exp)
	if err != nil {
		return 0, err
	}
	if neg {
		v = -v
	}
	return v, nil
}

// roundFee converts an amount with extra decimals beyond the minor unit to minor units,
// rounding half away from zero.
func roundFee(v int64, extra int) int64 {
	div := int64(1)
	for ; extra > 0; extra-- {
		div *= 10
	}
	q, r := v/div, v%div
	if r < 0 {
		r = -r
	}
	if 2*r >= div {
		if v < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// tradeBill is the answer of GET /v3/bill/tradebill.
type tradeBill struct {
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
	DownloadURL string `json:"download_url"`
}

// Statement fetches the trade bill (bill_type ALL) of a day ("2006-01-02", China time): GET
// /v3/bill/tradebill gives a download_url and a SHA1 hash_value; the file is downloaded with a
// signed GET (its answer is not signed, as WeChat Pay documents), its SHA1 checked, and parsed.
// The download URL must be on the BaseURL's host, so that the signed request never goes
// elsewhere. A day without a bill is ProviderNotFound; a hash mismatch is ProviderTampered.
func (p *Provider) Statement(ctx context.Context, date string) (*gateway.Statement, error) {
	const op = "statement"
	if _, err := time.Parse("2006-01-02", date); err != nil {
		return nil, invalidRequest(op, qrpay.Invalid("date", "The bill date must be YYYY-MM-DD."))
	}
	var tb tradeBill
	q := url.Values{"bill_date": {date}, "bill_type": {"ALL"}}
	if err := p.callV3(ctx, op, "GET", "/v3/bill/tradebill", q, nil, &tb); err != nil {
		return nil, err
	}
	if !strings.EqualFold(tb.HashType, "SHA1") {
		return nil, unavailable(op, fmt.Errorf("unsupported hash_type %q", tb.HashType))
	}
	want, err := hex.DecodeString(tb.HashValue)
	if err != nil || len(want) != sha1.Size {
		return nil, unavailable(op, fmt.Errorf("unreadable hash_value %q", tb.HashValue))
	}
	u, err := url.Parse(tb.DownloadURL)
	if err != nil || u.Scheme != p.base.Scheme || u.Host != p.base.Host {
		return nil, unavailable(op, fmt.Errorf("download_url %q is not on %s", tb.DownloadURL, p.base.Host))
	}
	status, _, body, err := p.sendV3(ctx, op, "GET", u.String(), nil)
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, unavailable(op, fmt.Errorf("bill download: HTTP %d", status))
	}
	got := sha1.Sum(body)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return nil, tampered(op, fmt.Errorf("bill SHA1 %x, want %x", got, want))
	}
	st, err := ParseStatement(bytes.NewReader(body))
	if err != nil {
		return nil, perr(op, false, gateway.ProviderInvalid, "", "the bill is malformed", err)
	}
	st.Date = date
	return st, nil
}
