package unionpayfake

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// statementText writes the reconciliation file of day (yyyy-mm-dd in Asia/Shanghai) for merID:
// every consume paid, refund made and void that returned money that day, under any merId, in the
// order they happened. Call with s.mu held.
func (s *Server) statementText(day time.Time, merID string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "H %s %s\n", day.Format("20060102"), merID)
	var count, total int64
	for _, t := range s.all {
		s.expire(t)
		if t.FinishedAt.IsZero() || t.RespCode != "00" {
			continue
		}
		if y, m, d := t.FinishedAt.In(shanghai).Date(); y != day.Year() || m != day.Month() || d != day.Day() {
			continue
		}
		txnType, sub := "01", "07"
		orderID, origQry, origOrder := t.OrderID, "", ""
		switch t.Kind {
		case KindC2B:
			sub = "06"
		case KindRefund:
			txnType, sub, origQry, origOrder = "04", "00", t.OrigQueryID, t.OrigOrderID
		case KindVoid:
			txnType, sub, orderID, origQry, origOrder = "31", "00", "", t.OrigQueryID, t.OrigOrderID
		}
		fmt.Fprintf(&b, "D %s %s %s %012d %s %-21s %-32s %-21s %-32s %013d %-15s %s\n",
			txnType, sub, t.FinishedAt.In(shanghai).Format(timeLayout), t.Amount, t.Currency, t.QueryID, orderID,
			origQry, origOrder, t.Fee, t.MerID, t.RespCode)
		count++
		total += t.Amount
	}
	fmt.Fprintf(&b, "T %08d %016d\n", count, total)
	return b.String()
}

// StatementText returns the reconciliation file that the file transfer serves for the day
// (yyyy-mm-dd) and merID, as text.
func (s *Server) StatementText(date, merID string) (string, error) {
	day, err := time.ParseInLocation("2006-01-02", date, shanghai)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statementText(day, merID), nil
}

// fileTransfer serves txnType 76: the file of settleDate (MMDD), the latest such day before
// today. Today's file does not exist yet (respCode 98).
func (s *Server) fileTransfer(f map[string]string, _ Fault) (answer, []*Notify) {
	if f["fileType"] != "00" || !reMMDD.MatchString(f["settleDate"]) {
		return refusal("10", "fileType 或 settleDate 格式错误"), nil
	}
	now := s.now()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, shanghai)
	day, err := time.ParseInLocation("20060102", fmt.Sprintf("%04d%s", now.Year(), f["settleDate"]), shanghai)
	if err != nil {
		return refusal("10", "settleDate 不是日期"), nil
	}
	if day.Equal(today) {
		return refusal("98", "文件不存在"), nil
	}
	if day.After(today) {
		day = day.AddDate(-1, 0, 0)
	}
	var packed bytes.Buffer
	zw := zlib.NewWriter(&packed)
	_, _ = zw.Write([]byte(s.statementText(day, f["merId"])))
	_ = zw.Close()
	return answer{"respCode": "00", "respMsg": "成功[0000000]", "fileType": "00", "settleDate": f["settleDate"],
		"fileName":    "INN" + day.Format("060102") + "88ZM_" + f["merId"],
		"fileContent": base64.StdEncoding.EncodeToString(packed.Bytes())}, nil
}
