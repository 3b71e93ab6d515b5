package wechatfake

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// billHeader is the ALL trade bill's detail header, and billSummaryHeader its summary header
// (WeChat Pay's 交易账单详细说明).
const (
	billHeader = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类," +
		"应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率," +
		"订单金额,申请退款金额,费率备注"
	billSummaryHeader = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)

// feeRateBP is the fake's fee rate: 0.60%, in basis points.
const feeRateBP = 60

// Fee returns the fake's fee on an amount in fen: 0.6%, rounded half up to the fen.
func Fee(amount int64) int64 { return (amount*feeRateBP + 5000) / 10000 }

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	neg := fen < 0
	if neg {
		fen = -fen
	}
	s := strconv.FormatInt(fen/100, 10) + "." + pad2(fen%100)
	if neg {
		s = "-" + s
	}
	return s
}

// yuan5 formats fen as yuan with five decimals, as bills write fees.
func yuan5(fen int64) string {
	neg := fen < 0
	if neg {
		fen = -fen
	}
	s := strconv.FormatInt(fen/100, 10) + "." + pad2(fen%100) + "000"
	if neg {
		s = "-" + s
	}
	return s
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// billRow is one line before formatting.
type billRow struct {
	at     time.Time
	fields []string
}

// Bill builds the ALL trade bill of a day ("2006-01-02", China time) from the fake's orders
// and refunds: one line per payment made that day and one per refund requested that day.
func (s *Server) Bill(date string) ([]byte, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bill(date)
}

// bill does Bill's work with s.mu held.
func (s *Server) bill(date string) ([]byte, int) {
	day := func(t time.Time) bool { return !t.IsZero() && t.In(china).Format("2006-01-02") == date }
	var rows []billRow
	var settle, refunds, fees, orders, asked int64
	for _, o := range s.orders {
		if !day(o.paidAt) {
			continue
		}
		state := "SUCCESS"
		if o.state == "REVOKED" {
			state = "REVOKED"
		}
		fee := Fee(o.total)
		sub := o.subMchID
		if sub == "" {
			sub = "0"
		}
		rows = append(rows, billRow{at: o.paidAt, fields: []string{
			o.paidAt.In(china).Format("2006-01-02 15:04:05"), o.appID, s.keys.MchID, sub, o.deviceInfo, o.transactionID,
			o.outTradeNo, o.openID, o.tradeType, state, "OTHERS", o.currency, yuan(o.total), "0.00", "0", "0", "0.00",
			"0.00", "", "", billText(o.description), "", yuan5(fee), "0.60%", yuan(o.total), "0.00", ""}})
		settle += o.total
		orders += o.total
		fees += fee
	}
	for _, rf := range s.refunds {
		if !day(rf.created) {
			continue
		}
		o := s.orders[rf.outTradeNo]
		fee := -Fee(rf.amount)
		sub := o.subMchID
		if sub == "" {
			sub = "0"
		}
		rows = append(rows, billRow{at: rf.created, fields: []string{
			rf.created.In(china).Format("2006-01-02 15:04:05"), o.appID, s.keys.MchID, sub, o.deviceInfo, o.transactionID,
			o.outTradeNo, o.openID, o.tradeType, "REFUND", "OTHERS", o.currency, "0.00", "0.00", rf.refundID,
			rf.outRefundNo, yuan(rf.amount), "0.00", "ORIGINAL", rf.status, billText(o.description), "", yuan5(fee),
			"0.60%", "0.00", yuan(rf.amount), ""}})
		refunds += rf.amount
		asked += rf.amount
		fees += fee
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].at.Before(rows[j].at) })
	var b strings.Builder
	b.WriteString(billHeader + "\r\n")
	for _, r := range rows {
		b.WriteString("`" + strings.Join(r.fields, ",`") + "\r\n")
	}
	b.WriteString(billSummaryHeader + "\r\n")
	sum := []string{strconv.Itoa(len(rows)), yuan(settle), yuan(refunds), "0.00", yuan5(fees), yuan(orders), yuan(asked)}
	b.WriteString("`" + strings.Join(sum, ",`") + "\r\n")
	return []byte(b.String()), len(rows)
}

// billText keeps a free-text field from breaking the comma-separated line.
func billText(s string) string {
	return strings.NewReplacer(",", "，", "\r", " ", "\n", " ", "`", "'").Replace(s)
}

// handleTradeBill answers GET /v3/bill/tradebill with a download_url and the file's SHA1.
func (s *Server) handleTradeBill(r *http.Request, _ []byte) (int, any) {
	q := r.URL.Query()
	date := q.Get("bill_date")
	if _, err := time.Parse("2006-01-02", date); err != nil {
		return apiError(400, "PARAM_ERROR", "bill_date must be yyyy-MM-DD")
	}
	if t := q.Get("bill_type"); t != "" && t != "ALL" {
		return apiError(400, "PARAM_ERROR", "the fake serves bill_type ALL only")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, n := s.bill(date)
	if n == 0 {
		return apiError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
	}
	sum := sha1.Sum(data)
	if s.knobs.tamperBillNext {
		s.knobs.tamperBillNext = false
		data = append(append([]byte(nil), data...), "\r\n"...)
	}
	token := randAlnum(24)
	s.bills[token] = data
	return 200, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]),
		"download_url": s.ts.URL + "/v3/billdownload/file?token=" + token}
}

// handleBillDownload serves a bill file. Like WeChat Pay it needs a signed request and sends
// an unsigned answer.
func (s *Server) handleBillDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.bills[r.URL.Query().Get("token")]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "RESOURCE_NOT_EXISTS", "message": "账单不存在"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}
