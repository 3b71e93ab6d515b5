package mockpay

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// statementHeader is the first row of a statement file.
var statementHeader = []string{"type", "trade_no", "out_trade_no", "out_refund_no", "amount", "currency", "status", "at"}

// writeStatementCSV writes a statement file: a header row, then one row per line, amounts in fen.
func writeStatementCSV(w io.Writer, lines []wireLine) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(statementHeader); err != nil {
		return err
	}
	for _, l := range lines {
		if err := cw.Write([]string{l.Type, l.TradeNo, l.OutTradeNo, l.OutRefundNo, strconv.FormatInt(l.Amount, 10),
			l.Currency, l.Status, l.At}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// maxStatementLines bounds a statement file, so a huge upload cannot exhaust memory.
const maxStatementLines = 5_000_000

// parseStatementCSV reads a statement file. Any malformed row fails the whole file: nothing is
// returned half-read.
func parseStatementCSV(r io.Reader) (*gateway.Statement, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(statementHeader)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, qrpay.Invalid("file", "The statement is empty or not CSV: %v", err)
	}
	for i, h := range statementHeader {
		if head[i] != h {
			return nil, qrpay.Invalid("file", "The statement's header is not the mock provider's (column %d is %q).", i+1, head[i])
		}
	}
	st := &gateway.Statement{Channel: gateway.ChannelMockpay}
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, qrpay.Invalid("file", "Row %d: %v", row, err)
		}
		if row > maxStatementLines {
			return nil, qrpay.Invalid("file", "The statement has more than %d rows.", maxStatementLines)
		}
		l, err := statementLine(rec)
		if err != nil {
			return nil, qrpay.Invalid("file", "Row %d: %v", row, err)
		}
		st.Lines = append(st.Lines, l)
	}
	return st, nil
}

// statementLine reads one row.
func statementLine(rec []string) (gateway.StatementLine, error) {
	var l gateway.StatementLine
	switch rec[0] {
	case "payment", "refund":
	default:
		return l, fmt.Errorf("type %q is neither payment nor refund", rec[0])
	}
	amount, err := strconv.ParseInt(rec[4], 10, 64)
	if err != nil || amount <= 0 {
		return l, fmt.Errorf("amount %q is not a positive number of fen", rec[4])
	}
	cur, err := qrpay.ParseCurrency("currency", rec[5])
	if err != nil {
		return l, fmt.Errorf("currency %q is not supported", rec[5])
	}
	at, err := time.Parse(timeFormat, rec[7])
	if err != nil {
		return l, fmt.Errorf("time %q is not RFC 3339", rec[7])
	}
	if rec[2] == "" {
		return l, fmt.Errorf("out_trade_no is empty")
	}
	return gateway.StatementLine{Type: rec[0], ProviderTradeNo: rec[1], PaymentID: rec[2], RefundID: rec[3],
		Amount: qrpay.Money{Amount: amount, Currency: cur}, Status: rec[6], At: at.UTC()}, nil
}
