package unionpay

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// The reconciliation file (our design, modelled on ACP's daily "INN…ZM" file of the file
// transfer, txnType 76 with fileType 00).
//
// ACP's ZM file is fixed-width ASCII: one record per line, every field padded to its width and
// fields separated by one space, in the order 交易代码 (3), acquirer and sender institution codes
// (11 each), system trace number (6), transmission time (10, MMDDhhmmss), account (19), txnAmt
// (12), MCC (4), terminal type (2), queryId (21), old pay type (2), orderId (32), card type (2),
// original trace number (6) and time (10), merchant fee (13), settlement amount (13), pay type
// (4), group merchant (15), txnType (2), txnSubType (2), bizType (6), account type (2), bill type
// (4) and number (32), interaction mode (1), origQryId (21), merId (15) and more. We keep its
// shape, its field names and the widths of the fields we keep, and add what qrpay needs and ACP
// does not say in one place: a record type, the full year, the currency, the original orderId,
// the outcome, and a header and trailer so that a cut file is never taken for a whole one.
//
// Lines end in "\n" ("\r\n" is accepted); the file ends after the trailer. Text fields are
// left-aligned and padded with spaces, numbers right-aligned and padded with zeros. All is ASCII.
//
//	H settleDate(8, yyyyMMdd) merId(15)
//	D txnType(2) txnSubType(2) txnTime(14) txnAmt(12) currencyCode(3) queryId(21) orderId(32)
//	  origQryId(21) origOrderId(32) merCharge(13) merId(15) respCode(2)
//	T records(8) total txnAmt(16)
//
// txnType is 01 (a consume: a payment; orderId is ours, origQryId and origOrderId are blank), 04
// (a refund: orderId is the refund's, the orig fields name the payment) or 31 (a void that
// returned the money of a paid consume: orderId blank, the orig fields name the payment). txnTime
// is when the money moved, in Asia/Shanghai; the settlement day is its civil date. merCharge is
// UnionPay's fee in fen: charged on a consume, returned on a refund or void. respCode 00 is a
// succeeded transaction.
const (
	recHeaderLen  = 1 + 1 + 8 + 1 + 15
	recTrailerLen = 1 + 1 + 8 + 1 + 16
)

// detailWidths are the widths of a detail record's fields, the record type first.
var detailWidths = [...]int{1, 2, 2, 14, 12, 3, 21, 32, 21, 32, 13, 15, 2}

// Detail field positions.
const (
	dType = iota
	dTxnType
	dTxnSubType
	dTxnTime
	dTxnAmt
	dCurrency
	dQueryID
	dOrderID
	dOrigQryID
	dOrigOrderID
	dMerCharge
	dMerID
	dRespCode
)

// maxStatement bounds a statement file.
const maxStatement = 64 << 20

// Statement lines' Type values.
const (
	linePayment = "payment"
	lineRefund  = "refund"
)

// ParseStatement reads a reconciliation file in the format described above. Consume lines are
// payments (ProviderTradeNo queryId, PaymentID orderId); refund lines carry the payment's queryId
// and orderId (origQryId, origOrderId) and the refund's orderId as RefundID; void lines are
// refunds of the whole remaining amount without a RefundID. Fee is merCharge; Status is
// "succeeded" for respCode 00 and "failed" otherwise; At is txnTime in UTC; Date is the header's
// settlement day. Any malformed line, a missing or wrong trailer (count or total), or anything
// after it is an EINVALID *qrpay.Error naming the line, and nothing is returned.
func (p *Provider) ParseStatement(r io.Reader) (*gateway.Statement, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxStatement+1))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The statement could not be read.")
	}
	if len(data) > maxStatement {
		return nil, qrpay.Invalid("file", "The statement is larger than %d bytes.", maxStatement)
	}
	st, _, err := parseStatement(data)
	return st, err
}

func lineError(n int, format string, args ...any) error {
	return qrpay.Invalid("file", "Line %d: %s", n, fmt.Sprintf(format, args...))
}

// parseStatement reads a statement and returns it with the merId of its header.
func parseStatement(data []byte) (*gateway.Statement, string, error) {
	text := string(data)
	if text == "" {
		return nil, "", qrpay.Invalid("file", "The statement is empty.")
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, "", qrpay.Invalid("file", "The statement is truncated: its last line is not ended.")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	st := &gateway.Statement{Channel: gateway.ChannelUnionpay, Lines: make([]gateway.StatementLine, 0, max(len(lines)-2, 0))}
	var (
		total   int64
		trailer bool
		merID   string
	)
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		for j := 0; j < len(line); j++ {
			if line[j] < 0x20 || line[j] > 0x7e {
				return nil, "", lineError(n, "a character outside printable ASCII")
			}
		}
		if trailer {
			return nil, "", lineError(n, "a line after the trailer")
		}
		switch {
		case n == 1:
			date, mer, err := readHeader(line)
			if err != nil {
				return nil, "", lineError(n, "%v", err)
			}
			st.Date, merID = date, mer
		case strings.HasPrefix(line, "D "):
			sl, err := readDetail(line)
			if err != nil {
				return nil, "", lineError(n, "%v", err)
			}
			if total, err = qrpay.AddAmounts(total, sl.amount); err != nil {
				return nil, "", lineError(n, "the total overflows")
			}
			st.Lines = append(st.Lines, sl.StatementLine)
		case strings.HasPrefix(line, "T "):
			count, sum, err := readTrailer(line)
			if err != nil {
				return nil, "", lineError(n, "%v", err)
			}
			if count != int64(len(st.Lines)) {
				return nil, "", lineError(n, "the trailer counts %d records; the file has %d", count, len(st.Lines))
			}
			if sum != total {
				return nil, "", lineError(n, "the trailer totals %d; the records add up to %d", sum, total)
			}
			trailer = true
		default:
			return nil, "", lineError(n, "not a header, detail or trailer record")
		}
	}
	if !trailer {
		return nil, "", qrpay.Invalid("file", "The statement is truncated: the trailer is missing.")
	}
	return st, merID, nil
}

// readHeader reads "H yyyyMMdd merId" and returns the date as yyyy-mm-dd, and the merId.
func readHeader(line string) (string, string, error) {
	if len(line) != recHeaderLen || line[0] != 'H' || line[1] != ' ' || line[10] != ' ' {
		return "", "", fmt.Errorf("not a header record")
	}
	if _, err := digits(line[2:10]); err != nil {
		return "", "", fmt.Errorf("the settlement date %q is not a date", line[2:10])
	}
	d, err := time.Parse("20060102", line[2:10])
	if err != nil {
		return "", "", fmt.Errorf("the settlement date %q is not a date", line[2:10])
	}
	if !isMerID(line[11:]) {
		return "", "", fmt.Errorf("the merId %q is not 15 letters or digits", line[11:])
	}
	return d.Format("2006-01-02"), line[11:], nil
}

// readTrailer reads "T records total".
func readTrailer(line string) (count, sum int64, err error) {
	if len(line) != recTrailerLen || line[1] != ' ' || line[10] != ' ' {
		return 0, 0, fmt.Errorf("not a trailer record")
	}
	if count, err = digits(line[2:10]); err != nil {
		return 0, 0, fmt.Errorf("record count: %v", err)
	}
	if sum, err = digits(line[11:]); err != nil {
		return 0, 0, fmt.Errorf("total: %v", err)
	}
	return count, sum, nil
}

// digits reads a zero-padded unsigned number.
func digits(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return v, nil
}

// detail is a read detail record.
type detail struct {
	gateway.StatementLine
	amount int64 // txnAmt, whatever the currency, for the trailer's total
}

// splitFixed cuts a line into fields of the widths, checking the single spaces between them.
func splitFixed(line string, widths []int) ([]string, error) {
	want := len(widths) - 1
	for _, w := range widths {
		want += w
	}
	if len(line) != want {
		return nil, fmt.Errorf("a detail record has %d characters, not %d", len(line), want)
	}
	out := make([]string, len(widths))
	pos := 0
	for i, w := range widths {
		if i > 0 {
			if line[pos] != ' ' {
				return nil, fmt.Errorf("no separator before field %d", i+1)
			}
			pos++
		}
		out[i] = line[pos : pos+w]
		pos += w
	}
	return out, nil
}

// text reads a left-aligned, space-padded text field: empty or a value of the orderId alphabet.
func text(field string) (string, error) {
	v := strings.TrimRight(field, " ")
	if v != "" && !isOrderID(v) {
		return "", fmt.Errorf("%q is not a left-aligned identifier", field)
	}
	return v, nil
}

// readDetail reads one detail record.
func readDetail(line string) (detail, error) {
	var d detail
	f, err := splitFixed(line, detailWidths[:])
	if err != nil {
		return d, err
	}
	var t [len(detailWidths)]string
	for _, i := range []int{dQueryID, dOrderID, dOrigQryID, dOrigOrderID, dMerID} {
		if t[i], err = text(f[i]); err != nil {
			return d, err
		}
	}
	if !isMerID(t[dMerID]) {
		return d, fmt.Errorf("merId %q is not 15 letters or digits", f[dMerID])
	}
	if t[dQueryID] == "" {
		return d, fmt.Errorf("no queryId")
	}
	for _, i := range []int{dTxnSubType, dRespCode, dTxnTime} {
		if _, err := digits(f[i]); err != nil {
			return d, err
		}
	}
	at, err := parseTime(f[dTxnTime])
	if err != nil {
		return d, fmt.Errorf("txnTime: %v", err)
	}
	m, err := money(f[dTxnAmt], f[dCurrency])
	if err != nil {
		return d, err
	}
	if m.Amount == 0 {
		return d, fmt.Errorf("a zero txnAmt")
	}
	fee, err := digits(f[dMerCharge])
	if err != nil {
		return d, fmt.Errorf("merCharge: %v", err)
	}
	d.amount = m.Amount
	d.StatementLine = gateway.StatementLine{Amount: m, Fee: fee, At: at, Status: "failed"}
	if f[dRespCode] == "00" {
		d.Status = "succeeded"
	}
	switch f[dTxnType] {
	case txnConsume:
		if t[dOrderID] == "" || t[dOrigQryID] != "" || t[dOrigOrderID] != "" {
			return d, fmt.Errorf("a consume needs an orderId and no original")
		}
		d.Type, d.ProviderTradeNo, d.PaymentID = linePayment, t[dQueryID], t[dOrderID]
	case txnRefund, txnVoid:
		if t[dOrigQryID] == "" {
			return d, fmt.Errorf("a refund or void needs origQryId")
		}
		if f[dTxnType] == txnRefund && t[dOrderID] == "" {
			return d, fmt.Errorf("a refund needs its orderId")
		}
		if f[dTxnType] == txnVoid && t[dOrderID] != "" {
			return d, fmt.Errorf("a void has no orderId of its own")
		}
		d.Type, d.ProviderTradeNo, d.PaymentID, d.RefundID = lineRefund, t[dOrigQryID], t[dOrigOrderID], t[dOrderID]
	default:
		return d, fmt.Errorf("unknown txnType %q", f[dTxnType])
	}
	return d, nil
}

// Statement fetches the reconciliation file of one settlement day (a civil date in
// Asia/Shanghai, "2006-01-02") with a signed file transfer (txnType 76, fileType 00,
// settleDate MMDD) and reads it with ParseStatement. The file travels in the signed answer as
// base64 of its zlib compression, so it is as trustworthy as the answer. A day without a file
// (respCode 98, the day is not over yet, say) is a *gateway.ProviderError with Code
// ProviderNotFound; a file that does not read, or is of another day or merId, is
// ProviderInvalid.
func (p *Provider) Statement(ctx context.Context, date string) (*gateway.Statement, error) {
	const op = "statement"
	day, err := time.ParseInLocation("2006-01-02", date, shanghai)
	if err != nil {
		return nil, invalidRequest(op, "date", "The statement date must be YYYY-MM-DD.")
	}
	r, err := p.call(ctx, op, pathFileTrans, fields{"txnType": txnFileTran, "txnSubType": "01",
		"merId": p.cfg.MerchantID, "settleDate": day.Format("0102"), "fileType": "00"})
	if err != nil {
		return nil, err
	}
	if r["respCode"] != "00" {
		return nil, respError(op, r)
	}
	bad := func(msg string, err error) error {
		return &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderInvalid,
			Message: msg, Err: err}
	}
	if r["fileContent"] == "" {
		return nil, bad("an answer without fileContent", nil)
	}
	packed, err := base64.StdEncoding.DecodeString(r["fileContent"])
	if err != nil {
		return nil, bad("fileContent is not base64", err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(packed))
	if err != nil {
		return nil, bad("fileContent is not zlib-compressed", err)
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, maxStatement+1))
	if err != nil {
		return nil, bad("fileContent does not decompress", err)
	}
	if len(data) > maxStatement {
		return nil, bad("the statement is too large", nil)
	}
	st, mer, err := parseStatement(data)
	if err != nil {
		return nil, bad("malformed statement", err)
	}
	if st.Date != date {
		return nil, bad("the statement is for "+st.Date+", not "+date, nil)
	}
	if mer != p.cfg.MerchantID {
		return nil, bad("the statement is for merId "+mer, nil)
	}
	return st, nil
}
