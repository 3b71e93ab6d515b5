package alipay

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// The trade bill (业务明细) layout.
//
// Sources: smartwalle/alipay bill.go (BillTradeEntry, which reads the 25 columns of the
// "业务明细.csv" entry of the zip that alipay.data.dataservice.bill.downloadurl.query links to,
// GBK-encoded, fields padded with a trailing tab, '#' comment lines skipped), and the parsers and
// fixtures of several public reconciliation projects that read real files, which show the
// framing: "#支付宝业务明细查询", "#账号：[...]", "#起始日期：[2021年10月21日 00:00:00]
// 终止日期：[...]", "#---...业务明细列表---...", the header row, the rows,
// "#---...业务明细列表结束---...", "#交易合计：N笔，...", "#退款合计：M笔，...", "#导出时间：[...]".
// The header is:
//
//	支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,
//	对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,
//	商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,
//	退款批次号/请求号,服务费（元）,分润（元）,备注
//
// Columns are found by name, so a file with more columns (Alipay has added some over time) or
// another order still reads. 业务类型 is 交易 (a payment) or 退款 (a refund); on a refund row
// 商家实收 is negative and 退款批次号/请求号 holds the refund's out_request_no.
const (
	colTradeNo   = "支付宝交易号"
	colOutNo     = "商户订单号"
	colType      = "业务类型"
	colFinished  = "完成时间"
	colTotal     = "订单金额（元）"
	colReceived  = "商家实收（元）"
	colRequestNo = "退款批次号/请求号"
	colFee       = "服务费（元）"
)

// requiredColumns must all be in the header.
var requiredColumns = []string{colTradeNo, colOutNo, colType, colFinished, colTotal, colReceived, colRequestNo}

// maxBill bounds a bill file and a bill download.
const maxBill = 64 << 20

// Statement lines' Type and Status values.
const (
	linePayment   = "payment"
	lineRefund    = "refund"
	lineSucceeded = "succeeded"
)

var (
	reStartDate   = regexp.MustCompile(`起始日期：\[(\d{4})年(\d{2})月(\d{2})日`)
	reTradeCount  = regexp.MustCompile(`^#交易合计：(\d+)笔`)
	reRefundCount = regexp.MustCompile(`^#退款合计：(\d+)笔`)
)

// Statement fetches the trade bill of one day (bill_type trade) with
// alipay.data.dataservice.bill.downloadurl.query, downloads the zip it links to and reads its
// 业务明细 CSV. Alipay makes a day's bill the next morning; until then (and for days without a
// bill) the answer is isp.bill_not_exist, a *gateway.ProviderError with Code ProviderNotFound.
func (p *Provider) Statement(ctx context.Context, date string) (*gateway.Statement, error) {
	const op = "bill"
	if _, err := time.Parse("2006-01-02", date); err != nil {
		return nil, invalidRequest(op, "date", "The statement date must be YYYY-MM-DD.")
	}
	r, err := p.call(ctx, op, MethodBillURL, map[string]string{"bill_type": "trade", "bill_date": date}, "", "")
	if err != nil {
		return nil, err
	}
	if r.Code != "10000" {
		return nil, providerError(op, r)
	}
	var a struct {
		URL string `json:"bill_download_url"`
	}
	if err := r.decode(&a); err != nil {
		return nil, unreadable(op, err)
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, unavailable(op, "no usable bill_download_url", err)
	}
	data, err := p.download(ctx, op, u.String())
	if err != nil {
		return nil, err
	}
	csvData, err := billFromZip(data)
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Code: gateway.ProviderInvalid,
			Message: "unreadable bill archive", Err: err}
	}
	st, err := p.ParseStatement(bytes.NewReader(csvData))
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Code: gateway.ProviderInvalid,
			Message: "malformed bill", Err: err}
	}
	if st.Date != "" && st.Date != date {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelAlipay, Op: op, Code: gateway.ProviderInvalid,
			Message: "the bill is for " + st.Date + ", not " + date}
	}
	st.Date = date
	return st, nil
}

// download GETs a bill archive.
func (p *Provider) download(ctx context.Context, op, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, unavailable(op, "could not build the download", err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, unavailable(op, "bill download failed", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(op, fmt.Sprintf("bill download: HTTP status %d", resp.StatusCode), nil)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBill+1))
	if err != nil {
		return nil, unavailable(op, "bill download cut short", err)
	}
	if len(data) > maxBill {
		return nil, unavailable(op, "bill too large", nil)
	}
	return data, nil
}

// billFromZip returns the 业务明细 CSV (not the 汇总 one) of a bill archive. Alipay writes the
// entry names in GBK without the zip UTF-8 flag.
func billFromZip(data []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var pick, onlyCSV *zip.File
	csvs := 0
	for _, f := range zr.File {
		name := f.Name
		if !utf8.ValidString(name) {
			if u, err := simplifiedchinese.GB18030.NewDecoder().String(name); err == nil {
				name = u
			}
		}
		if !strings.HasSuffix(strings.ToLower(name), ".csv") || strings.Contains(name, "汇总") {
			continue
		}
		csvs++
		onlyCSV = f
		if strings.HasSuffix(name, "业务明细.csv") {
			if pick != nil {
				return nil, fmt.Errorf("the archive has more than one 业务明细.csv")
			}
			pick = f
		}
	}
	if pick == nil && csvs == 1 {
		pick = onlyCSV
	}
	if pick == nil {
		return nil, fmt.Errorf("the archive has no 业务明细.csv")
	}
	rc, err := pick.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out, err := io.ReadAll(io.LimitReader(rc, maxBill+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxBill {
		return nil, fmt.Errorf("the bill is larger than %d bytes", maxBill)
	}
	return out, nil
}

// ParseStatement reads an Alipay trade bill (业务明细) CSV, GBK-encoded as Alipay serves it, or
// UTF-8 with or without a byte-order mark. Payment lines carry 订单金额 as Amount; refund lines
// carry the refunded amount (the magnitude of the negative 商家实收) and the refund's
// out_request_no as RefundID. Fee is the magnitude of 服务费: charged on a payment, returned on
// a refund. Times are 完成时间 in Asia/Shanghai, returned in UTC. Date is the bill's start date
// when the file states it.
//
// The file must be whole: a header, rows whose column count matches it, and the
// 业务明细列表结束 marker; when the footer states the numbers of payments and refunds, they must
// match. Any malformed line is an EINVALID *qrpay.Error naming the line, and nothing is
// returned.
func (p *Provider) ParseStatement(r io.Reader) (*gateway.Statement, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBill+1))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The bill could not be read.")
	}
	if len(data) > maxBill {
		return nil, qrpay.Invalid("file", "The bill is larger than %d bytes.", maxBill)
	}
	text, err := billText(data)
	if err != nil {
		return nil, err
	}
	return parseBill(text)
}

// billText decodes a bill to UTF-8 and refuses binary content.
func billText(data []byte) (string, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var text string
	if utf8.Valid(data) {
		text = string(data)
	} else {
		u, err := simplifiedchinese.GBK.NewDecoder().Bytes(data)
		if err != nil || bytes.ContainsRune(u, utf8.RuneError) {
			return "", qrpay.Invalid("file", "The bill is neither UTF-8 nor GBK text.")
		}
		text = string(u)
	}
	for _, c := range text {
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f || c == utf8.RuneError {
			return "", qrpay.Invalid("file", "The bill contains binary data.")
		}
	}
	return text, nil
}

func lineError(n int, format string, args ...any) error {
	return qrpay.Invalid("file", "Line %d: %s", n, fmt.Sprintf(format, args...))
}

// parseBill reads the decoded text of a bill.
func parseBill(text string) (*gateway.Statement, error) {
	st := &gateway.Statement{Channel: gateway.ChannelAlipay, Lines: []gateway.StatementLine{}}
	var (
		header               map[string]int
		width                int
		ended                bool
		payments, refunds    int
		wantPay, wantRefunds = -1, -1
	)
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimRight(line, "\r")
		if strings.Trim(line, " \t") == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			switch {
			case header == nil:
				if m := reStartDate.FindStringSubmatch(line); m != nil {
					st.Date = m[1] + "-" + m[2] + "-" + m[3]
					if _, err := time.Parse("2006-01-02", st.Date); err != nil {
						return nil, lineError(n, "the start date is not a date")
					}
				}
			case strings.Contains(line, "业务明细列表结束"):
				ended = true
			case ended:
				if m := reTradeCount.FindStringSubmatch(line); m != nil {
					wantPay, _ = strconv.Atoi(m[1])
				}
				if m := reRefundCount.FindStringSubmatch(line); m != nil {
					wantRefunds, _ = strconv.Atoi(m[1])
				}
			}
			continue
		}
		if ended {
			return nil, lineError(n, "a row after the end of the list")
		}
		fields, err := splitRow(line)
		if err != nil {
			return nil, lineError(n, "%v", err)
		}
		if header == nil {
			header = make(map[string]int, len(fields))
			for j, f := range fields {
				name := strings.ReplaceAll(strings.ReplaceAll(f, "(元)", "（元）"), "（元)", "（元）")
				if _, dup := header[name]; dup {
					return nil, lineError(n, "the header repeats column %q", name)
				}
				header[name] = j
			}
			for _, c := range requiredColumns {
				if _, ok := header[c]; !ok {
					return nil, lineError(n, "the header has no column %q", c)
				}
			}
			width = len(fields)
			continue
		}
		if len(fields) != width {
			return nil, lineError(n, "%d columns where the header has %d", len(fields), width)
		}
		sl, err := billLine(header, fields)
		if err != nil {
			return nil, lineError(n, "%v", err)
		}
		if sl.Type == linePayment {
			payments++
		} else {
			refunds++
		}
		st.Lines = append(st.Lines, sl)
	}
	if header == nil {
		return nil, qrpay.Invalid("file", "The bill has no header row.")
	}
	if !ended {
		return nil, qrpay.Invalid("file", "The bill is truncated: the end-of-list marker is missing.")
	}
	if wantPay >= 0 && wantPay != payments {
		return nil, qrpay.Invalid("file", "The footer counts %d payments; the bill lists %d.", wantPay, payments)
	}
	if wantRefunds >= 0 && wantRefunds != refunds {
		return nil, qrpay.Invalid("file", "The footer counts %d refunds; the bill lists %d.", wantRefunds, refunds)
	}
	return st, nil
}

// splitRow splits one CSV row and trims the spaces and tabs that pad Alipay's fields. A field
// may be quoted ("a, b", with "" for a quote); padding may surround the quotes.
func splitRow(line string) ([]string, error) {
	var fields []string
	for i := 0; ; {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		var f strings.Builder
		if i < len(line) && line[i] == '"' {
			i++
			for {
				q := strings.IndexByte(line[i:], '"')
				if q < 0 {
					return nil, fmt.Errorf("an unterminated quoted field")
				}
				f.WriteString(line[i : i+q])
				i += q + 1
				if i < len(line) && line[i] == '"' {
					f.WriteByte('"')
					i++
					continue
				}
				break
			}
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			if i < len(line) && line[i] != ',' {
				return nil, fmt.Errorf("text after a quoted field")
			}
			fields = append(fields, f.String())
		} else {
			end := strings.IndexByte(line[i:], ',')
			if end < 0 {
				end = len(line) - i
			}
			v := strings.Trim(line[i:i+end], " \t")
			if strings.ContainsRune(v, '"') {
				return nil, fmt.Errorf("a stray quote")
			}
			fields = append(fields, v)
			i += end
		}
		if i >= len(line) {
			return fields, nil
		}
		i++ // the comma
	}
}

// billLine reads one row.
func billLine(header map[string]int, f []string) (gateway.StatementLine, error) {
	get := func(col string) string {
		if j, ok := header[col]; ok {
			return f[j]
		}
		return ""
	}
	sl := gateway.StatementLine{ProviderTradeNo: get(colTradeNo), PaymentID: get(colOutNo), Status: lineSucceeded}
	if sl.ProviderTradeNo == "" {
		return sl, fmt.Errorf("no %s", colTradeNo)
	}
	at, err := parseTime(get(colFinished))
	if err != nil || at.IsZero() {
		return sl, fmt.Errorf("bad %s %q", colFinished, get(colFinished))
	}
	sl.At = at
	var amountCol string
	switch get(colType) {
	case "交易":
		sl.Type, amountCol = linePayment, colTotal
	case "退款":
		sl.Type, amountCol = lineRefund, colReceived
		sl.RefundID = get(colRequestNo)
	default:
		return sl, fmt.Errorf("unknown %s %q", colType, get(colType))
	}
	amount, err := magnitude(get(amountCol))
	if err != nil {
		return sl, fmt.Errorf("bad %s: %v", amountCol, err)
	}
	sl.Amount = qrpay.Money{Amount: amount, Currency: qrpay.CNY}
	// The other amount columns must read too, so that a shifted or corrupted row is caught.
	for _, c := range []string{colTotal, colReceived, colFee} {
		if v := get(c); v != "" || c != colFee {
			if _, err := magnitude(v); err != nil {
				return sl, fmt.Errorf("bad %s: %v", c, err)
			}
		}
	}
	if v := get(colFee); v != "" {
		sl.Fee, _ = magnitude(v)
	}
	return sl, nil
}

// magnitude parses a signed yuan amount ("-12.34") into the fen of its absolute value.
func magnitude(s string) (int64, error) {
	s = strings.TrimPrefix(s, "-")
	return qrpay.ParseDecimal(s, qrpay.CNY.Exponent())
}
