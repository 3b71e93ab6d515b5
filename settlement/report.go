package settlement

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/qrpay/qrpay"
)

// Report files are CSV in UTF-8 with a byte-order mark, so that Excel opens the Chinese
// headers and names correctly; amounts are decimals in major units (yuan), which Excel sums.

// BOM is the UTF-8 byte-order mark every report file starts with.
const BOM = "\ufeff"

// ChannelNames are the channels' names in reports.
var ChannelNames = map[string]string{"alipay": "支付宝", "wechat": "微信支付", "unionpay": "云闪付", "mockpay": "模拟渠道"}

// totalLabel names the total row of the lines file.
const totalLabel = "合计"

// LinesHeader is the header of a batch's lines file (GET /v1/settlements/{id}/lines.csv).
var LinesHeader = []string{"结算日期", "批次号", "商户号", "币种", "渠道", "笔数", "交易金额", "退款金额", "手续费", "退还手续费",
	"结算净额", "上期结转", "应付金额"}

// WriteLinesCSV writes a batch's lines file: one row per channel, then the total row, which
// alone carries what was carried in and what is payable.
func WriteLinesCSV(w io.Writer, b *Batch) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write(LinesHeader); err != nil {
		return err
	}
	exp := b.Currency.Exponent()
	money := func(v int64) string { return qrpay.FormatMinor(v, exp) }
	for _, l := range b.Lines {
		name := ChannelNames[l.Channel]
		if name == "" {
			name = l.Channel
		}
		if err := cw.Write([]string{b.Day.String(), b.ID, b.MerchantID, string(b.Currency), name,
			strconv.FormatInt(l.Count, 10), money(l.Gross), money(l.Refunds), money(l.Fees), money(l.ReturnedFees),
			money(l.Net), "", ""}); err != nil {
			return err
		}
	}
	if err := cw.Write([]string{b.Day.String(), b.ID, b.MerchantID, string(b.Currency), totalLabel,
		strconv.FormatInt(b.Count, 10), money(b.Gross), money(b.Refunds), money(b.Fees), money(b.ReturnedFees),
		money(b.Net), money(b.CarriedIn), money(b.Payable)}); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// LinesFile is a lines file read back.
type LinesFile struct {
	Day        Date
	BatchID    string
	MerchantID string
	Currency   qrpay.Currency
	Lines      []Line
	Total      Line
	CarriedIn  int64
	Payable    int64
}

// maxLinesRows bounds a lines file: a batch has a line per channel.
const maxLinesRows = 64

// ReadLinesCSV reads a lines file and checks it: the byte-order mark, the header, every row's
// fields, one batch throughout, and a total row that is the sum of the lines with net = gross −
// refunds − fees + returned fees. Anything else is an EINVALID error naming the row; nothing
// is returned with it.
func ReadLinesCSV(r io.Reader) (*LinesFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The file could not be read.")
	}
	if len(data) > 1<<20 {
		return nil, qrpay.Invalid("file", "The file is too large for a lines file.")
	}
	if !bytes.HasPrefix(data, []byte(BOM)) {
		return nil, qrpay.Invalid("file", "The file does not start with the UTF-8 byte-order mark.")
	}
	cr := csv.NewReader(bytes.NewReader(data[len(BOM):]))
	cr.FieldsPerRecord = len(LinesHeader)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, qrpay.Invalid("file", "The file is not a lines file: %v", err)
	}
	if len(rows) < 2 {
		return nil, qrpay.Invalid("file", "The file has no total row.")
	}
	if len(rows) > maxLinesRows {
		return nil, qrpay.Invalid("file", "The file has more than %d rows.", maxLinesRows)
	}
	for i, h := range LinesHeader {
		if rows[0][i] != h {
			return nil, qrpay.Invalid("file", "Column %d of the header is %q, not %q.", i+1, rows[0][i], h)
		}
	}
	f := &LinesFile{}
	var sum Line
	for n, row := range rows[1:] {
		rowNo := n + 2
		fail := func(format string, args ...any) error {
			return qrpay.Invalid("file", "Row %d: %s", rowNo, fmt.Sprintf(format, args...))
		}
		day, err := ParseDate("date", row[0])
		if err != nil {
			return nil, fail("the date %q is not YYYY-MM-DD", row[0])
		}
		cur, err := qrpay.ParseCurrency("currency", row[3])
		if err != nil {
			return nil, fail("the currency %q is not supported", row[3])
		}
		if n == 0 {
			f.Day, f.BatchID, f.MerchantID, f.Currency = day, row[1], row[2], cur
			if f.BatchID == "" || f.MerchantID == "" {
				return nil, fail("the batch or merchant is empty")
			}
		} else if day != f.Day || row[1] != f.BatchID || row[2] != f.MerchantID || cur != f.Currency {
			return nil, fail("it is of another batch")
		}
		var l Line
		if l.Count, err = strconv.ParseInt(row[5], 10, 64); err != nil || l.Count < 0 {
			return nil, fail("the count %q is not a whole number", row[5])
		}
		amounts := []*int64{&l.Gross, &l.Refunds, &l.Fees, &l.ReturnedFees, &l.Net}
		for i, p := range amounts {
			if *p, err = parseSigned(row[6+i], cur.Exponent()); err != nil {
				return nil, fail("%s %q: %v", LinesHeader[6+i], row[6+i], err)
			}
		}
		if l.Net != Net(l.Gross, l.Refunds, l.Fees, l.ReturnedFees) {
			return nil, fail("the net is not gross − refunds − fees + returned fees")
		}
		last := n == len(rows)-2
		if row[4] == totalLabel {
			if !last {
				return nil, fail("the total row is not the last")
			}
			if l != sum {
				return nil, fail("the total is not the sum of the lines")
			}
			if f.CarriedIn, err = parseSigned(row[11], cur.Exponent()); err != nil {
				return nil, fail("上期结转 %q: %v", row[11], err)
			}
			if f.Payable, err = parseSigned(row[12], cur.Exponent()); err != nil {
				return nil, fail("应付金额 %q: %v", row[12], err)
			}
			f.Total = l
			return f, nil
		}
		if last {
			return nil, fail("the file has no total row")
		}
		if row[11] != "" || row[12] != "" {
			return nil, fail("only the total row carries 上期结转 and 应付金额")
		}
		l.Channel = channelCode(row[4])
		if l.Channel == "" {
			return nil, fail("unknown channel %q", row[4])
		}
		f.Lines = append(f.Lines, l)
		for _, p := range [][2]*int64{{&sum.Count, &l.Count}, {&sum.Gross, &l.Gross}, {&sum.Refunds, &l.Refunds},
			{&sum.Fees, &l.Fees}, {&sum.ReturnedFees, &l.ReturnedFees}, {&sum.Net, &l.Net}} {
			if *p[0], err = qrpay.AddAmounts(*p[0], *p[1]); err != nil {
				return nil, fail("the sums overflow")
			}
		}
	}
	return nil, qrpay.Invalid("file", "The file has no total row.")
}

// channelCode maps a channel's report name back to its code.
func channelCode(name string) string {
	for code, n := range ChannelNames {
		if n == name {
			return code
		}
	}
	return ""
}

// parseSigned reads a decimal amount that may be negative.
func parseSigned(s string, exp int) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	v, err := qrpay.ParseDecimal(strings.TrimPrefix(s, "-"), exp)
	if err != nil {
		return 0, err
	}
	if neg {
		if v == 0 {
			return 0, errors.New("negative zero")
		}
		return -v, nil
	}
	return v, nil
}

// ItemsHeader is the header of a batch's items file. Amounts are signed so that a spreadsheet's
// sums come out right: payments positive, refunds negative, and the fee column charges on
// payments and returns (negative) on refunds; 净额 = 金额 − 手续费.
var ItemsHeader = []string{"结算日期", "批次号", "类型", "交易号", "支付单号", "商户订单号", "渠道交易号", "渠道", "时间", "金额", "手续费", "净额"}

// ItemKindNames are the kinds' names in reports.
var ItemKindNames = map[string]string{ItemPayment: "收款", ItemRefund: "退款", ItemAdjustment: "调整"}

// ItemsWriter writes a batch's items file row by row.
type ItemsWriter struct {
	bw    *bufio.Writer
	cw    *csv.Writer
	batch *Batch
	zone  func(Item) string
}

// NewItemsWriter starts an items file; at formats an item's time for the file.
func NewItemsWriter(w io.Writer, b *Batch, at func(Item) string) (*ItemsWriter, error) {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(BOM); err != nil {
		return nil, err
	}
	iw := &ItemsWriter{bw: bw, cw: csv.NewWriter(bw), batch: b, zone: at}
	return iw, iw.cw.Write(ItemsHeader)
}

// Write writes one item.
func (iw *ItemsWriter) Write(it *Item) error {
	exp := iw.batch.Currency.Exponent()
	amount, fee := it.Amount, it.Fee
	if it.Kind == ItemRefund {
		amount, fee = -amount, -fee
	}
	name := ChannelNames[it.Channel]
	if name == "" {
		name = it.Channel
	}
	return iw.cw.Write([]string{iw.batch.Day.String(), iw.batch.ID, ItemKindNames[it.Kind], it.ObjectID, it.PaymentID,
		cell(it.MerchantOrderNo), cell(it.ProviderTradeNo), name, iw.zone(*it), qrpay.FormatMinor(amount, exp),
		qrpay.FormatMinor(fee, exp), qrpay.FormatMinor(amount-fee, exp)})
}

// Close finishes the file.
func (iw *ItemsWriter) Close() error {
	iw.cw.Flush()
	if err := iw.cw.Error(); err != nil {
		return err
	}
	return iw.bw.Flush()
}

// cell keeps text that a spreadsheet would take for a formula (=, +, -, @ first) as text.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// PayoutHeader is the header of the payout file for the bank.
var PayoutHeader = []string{"account", "name", "amount", "reference"}

// PayoutWriter writes the payout file: one transfer per row, the amount in yuan, the batch id as
// the reference the bank returns.
type PayoutWriter struct {
	bw    *bufio.Writer
	cw    *csv.Writer
	Count int
	Total map[qrpay.Currency]int64
}

// NewPayoutWriter starts a payout file.
func NewPayoutWriter(w io.Writer) (*PayoutWriter, error) {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(BOM); err != nil {
		return nil, err
	}
	pw := &PayoutWriter{bw: bw, cw: csv.NewWriter(bw), Total: map[qrpay.Currency]int64{}}
	return pw, pw.cw.Write(PayoutHeader)
}

// Write writes one transfer.
func (pw *PayoutWriter) Write(r PayoutRow) error {
	pw.Count++
	pw.Total[r.Currency] += r.Amount
	return pw.cw.Write([]string{cell(r.Account), cell(r.Name), qrpay.FormatMinor(r.Amount, r.Currency.Exponent()), r.Reference})
}

// Close finishes the file.
func (pw *PayoutWriter) Close() error {
	pw.cw.Flush()
	if err := pw.cw.Error(); err != nil {
		return err
	}
	return pw.bw.Flush()
}
