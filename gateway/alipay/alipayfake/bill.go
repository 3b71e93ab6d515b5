package alipayfake

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// billHeader is the 业务明细 header of Alipay's trade bill.
var billHeader = []string{"支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号",
	"门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）",
	"支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）", "卡消费金额（元）",
	"退款批次号/请求号", "服务费（元）", "分润（元）", "备注"}

func (s *Server) billURL(_ map[string]string, biz map[string]any) (obj, []*Notify) {
	if bt := bizString(biz, "bill_type"); bt != "trade" {
		return errAnswer("40004", "isp.bill_type_not_support", "账单类型不支持"), nil
	}
	date := bizString(biz, "bill_date")
	day, err := time.ParseInLocation("2006-01-02", date, shanghai)
	if err != nil {
		return invalidParam("bill_date 格式错误"), nil
	}
	today := s.now()
	if !day.Before(time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, shanghai)) {
		return errAnswer("40004", "isp.bill_not_exist", "账单不存在"), nil
	}
	token := randToken(24)
	s.bills[token] = date
	return success().set("bill_download_url",
		s.base+"/bill/"+token+"/"+s.opts.SellerID+"_"+day.Format("20060102")+".csv.zip"), nil
}

// handleBill serves a bill archive: a zip holding the 业务明细 CSV and its 汇总, GBK-encoded, with
// GBK entry names, as Alipay's download does.
func (s *Server) handleBill(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/bill/")
	token, _, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	date, ok := s.bills[token]
	var detail, summary string
	if ok {
		detail, summary = s.billCSV(date)
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := BillZip(s.opts.SellerID, date, detail, summary)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/oct-stream")
	_, _ = w.Write(data)
}

// BillZip builds a bill archive as Alipay serves it: entries "<seller>_<yyyymmdd>_业务明细.csv"
// and "..._业务明细(汇总).csv", names and contents GBK-encoded. It is exported so that tests can
// make archives of their own bills.
func BillZip(sellerID, date, detail, summary string) ([]byte, error) {
	enc := simplifiedchinese.GBK.NewEncoder()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := sellerID + "_" + strings.ReplaceAll(date, "-", "")
	for _, e := range []struct{ name, body string }{
		{prefix + "_业务明细.csv", detail},
		{prefix + "_业务明细(汇总).csv", summary},
	} {
		name, err := enc.String(e.name)
		if err != nil {
			return nil, err
		}
		body, err := enc.String(e.body)
		if err != nil {
			return nil, err
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, NonUTF8: true})
		if err != nil {
			return nil, err
		}
		if _, err := f.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type billRow struct {
	at     time.Time
	fields []string
	refund bool
	amount int64 // 商家实收, signed
}

// billCSV writes the day's 业务明细 and 汇总 (UTF-8; BillZip encodes them). Call with s.mu held.
func (s *Server) billCSV(date string) (detail, summary string) {
	day, _ := time.ParseInLocation("2006-01-02", date, shanghai)
	next := day.AddDate(0, 0, 1)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(day) && t.Before(next) }
	var rows []billRow
	for _, t := range s.trades {
		base := func(kind string, at time.Time) []string {
			f := make([]string, len(billHeader))
			f[0], f[1], f[2], f[3] = t.TradeNo, t.OutTradeNo, kind, t.Subject
			f[4], f[5] = t.CreatedAt.Format(timeLayout), at.Format(timeLayout)
			f[6], f[9], f[10] = t.StoreID, t.TerminalID, "138****0000"
			for _, i := range []int{13, 14, 15, 16, 17, 19, 20, 23} {
				f[i] = "0.00"
			}
			return f
		}
		if in(t.PaidAt) {
			f := base("交易", t.PaidAt)
			f[11], f[12] = yuan(t.TotalAmount), yuan(t.TotalAmount)
			f[22] = "-" + yuan(s.fee(t.TotalAmount))
			rows = append(rows, billRow{at: t.PaidAt, fields: f, amount: t.TotalAmount})
		}
		for _, r := range t.Refunds {
			if !in(r.At) {
				continue
			}
			f := base("退款", r.At)
			f[11], f[12] = yuan(t.TotalAmount), "-"+yuan(r.Amount)
			f[21] = r.OutRequestNo
			f[22] = yuan(r.Fee)
			rows = append(rows, billRow{at: r.At, fields: f, refund: true, amount: -r.Amount})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].at.Equal(rows[j].at) {
			return rows[i].at.Before(rows[j].at)
		}
		return rows[i].fields[0] < rows[j].fields[0]
	})
	var b strings.Builder
	start := day.Format("2006年01月02日 15:04:05")
	end := next.Format("2006年01月02日 15:04:05")
	fmt.Fprintf(&b, "#支付宝业务明细查询\r\n#账号：[%s0156]\r\n#起始日期：[%s]   终止日期：[%s]\r\n", s.opts.SellerID, start, end)
	b.WriteString("#-----------------------------------------业务明细列表----------------------------------------\r\n")
	b.WriteString(strings.Join(billHeader, ",") + "\r\n")
	var nPay, nRefund int
	var sumPay, sumRefund int64
	for _, r := range rows {
		b.WriteString(strings.Join(r.fields, "\t,") + "\t\r\n")
		if r.refund {
			nRefund++
			sumRefund += r.amount
		} else {
			nPay++
			sumPay += r.amount
		}
	}
	b.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
	fmt.Fprintf(&b, "#交易合计：%d笔，商家实收共%s元，商家优惠共0.00元\r\n", nPay, yuan(sumPay))
	fmt.Fprintf(&b, "#退款合计：%d笔，商家实收退款共-%s元，商家优惠退款共0.00元\r\n", nRefund, yuan(-sumRefund))
	fmt.Fprintf(&b, "#导出时间：[%s]\r\n", s.now().Format("2006年01月02日 15:04:05"))

	var sm strings.Builder
	fmt.Fprintf(&sm, "#支付宝业务汇总查询\r\n#账号：[%s0156]\r\n#起始日期：[%s]   终止日期：[%s]\r\n", s.opts.SellerID, start, end)
	sm.WriteString("#-----------------------------------------业务汇总列表----------------------------------------\r\n")
	sm.WriteString("门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\r\n")
	fmt.Fprintf(&sm, "\t,合计\t,%d\t,%d\t,%s\t,%s\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,%s\t\r\n",
		nPay, nRefund, yuan(sumPay), yuan(sumPay+sumRefund), yuan(sumPay+sumRefund))
	sm.WriteString("#----------------------------------------业务汇总列表结束-------------------------------------\r\n")
	fmt.Fprintf(&sm, "#导出时间：[%s]\r\n", s.now().Format("2006年01月02日 15:04:05"))
	return b.String(), sm.String()
}
