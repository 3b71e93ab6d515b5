package settlement

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
)

func testBatch() *Batch {
	b := &Batch{ID: "stl_20260303_mch_a_cny", MerchantID: "mch_a", Day: MustDate("2026-03-03"), Currency: qrpay.CNY,
		Mode: "live", CarriedIn: -150}
	for _, l := range []Line{
		{Channel: "alipay", Count: 3, Gross: 123456, Refunds: 1000, Fees: 469, ReturnedFees: 4},
		{Channel: "wechat", Count: 1, Gross: 99, Fees: 0},
		{Channel: "mockpay", Count: 2, Gross: 100, Refunds: 5000, Fees: 1, ReturnedFees: 19},
	} {
		l.Net = Net(l.Gross, l.Refunds, l.Fees, l.ReturnedFees)
		b.Lines = append(b.Lines, l)
		b.Count += l.Count
		b.Gross += l.Gross
		b.Refunds += l.Refunds
		b.Fees += l.Fees
		b.ReturnedFees += l.ReturnedFees
		b.Net += l.Net
	}
	b.Payable = max(b.Net+b.CarriedIn, 0)
	return b
}

func TestLinesCSVRoundTrip(t *testing.T) {
	b := testBatch()
	var buf bytes.Buffer
	if err := WriteLinesCSV(&buf, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\xef\xbb\xbf结算日期,批次号")) {
		t.Fatalf("file starts %q", buf.String()[:20])
	}
	f, err := ReadLinesCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if f.BatchID != b.ID || f.Total.Gross != b.Gross || f.Total.Net != b.Net || f.CarriedIn != b.CarriedIn ||
		f.Payable != b.Payable || len(f.Lines) != 3 || f.Lines[2].Channel != "mockpay" || f.Lines[2].Net != b.Lines[2].Net {
		t.Fatalf("read back %+v", f)
	}
	if !strings.Contains(buf.String(), "1234.56") || !strings.Contains(buf.String(), "-48.82") {
		t.Fatalf("amounts are not in yuan:\n%s", buf.String())
	}
}

func TestReadLinesCSVRefusesBrokenFiles(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteLinesCSV(&buf, testBatch()); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	broken := map[string]string{
		"no BOM":           strings.TrimPrefix(good, BOM),
		"empty":            "",
		"header only":      lines[0] + "\n",
		"no total":         strings.Join(lines[:len(lines)-1], "\n") + "\n",
		"wrong sum":        strings.Replace(good, "1234.56", "1234.57", 1),
		"wrong net":        strings.Replace(good, lines[2], strings.Replace(lines[2], ",0.99,", ",0.98,", 1), 1),
		"three decimals":   strings.Replace(good, "1234.56", "1234.560", 1),
		"unknown channel":  strings.Replace(good, "支付宝", "PayPal", 1),
		"another batch":    strings.Replace(good, lines[2], strings.Replace(lines[2], "stl_20260303", "stl_20260304", 1), 1),
		"total not last":   BOM + strings.Join([]string{strings.TrimPrefix(lines[0], BOM), lines[len(lines)-1], lines[1]}, "\n") + "\n",
		"short row":        strings.Replace(good, lines[1], lines[1][:len(lines[1])-2], 1),
		"bad date":         strings.ReplaceAll(good, "2026-03-03", "2026-02-30"),
		"binary":           BOM + "\x00\x01\x02",
		"negative zero":    strings.Replace(good, ",0.00,", ",-0.00,", 1),
		"carried on line":  strings.Replace(good, lines[1], lines[1][:len(lines[1])-1]+"1", 1),
		"unquoted garbage": good + "\"unterminated\n",
	}
	for name, file := range broken {
		f, err := ReadLinesCSV(strings.NewReader(file))
		if err == nil || f != nil {
			t.Errorf("%s: read %+v, %v", name, f, err)
			continue
		}
		if qrpay.ErrorCode(err) != qrpay.EINVALID || qrpay.ErrorParam(err) != "file" {
			t.Errorf("%s: %v is not an invalid file error", name, err)
		}
	}
}

func FuzzReadLinesCSV(f *testing.F) {
	var buf bytes.Buffer
	WriteLinesCSV(&buf, testBatch())
	f.Add(buf.Bytes())
	f.Add([]byte(BOM + strings.Join(LinesHeader, ",") + "\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		lf, err := ReadLinesCSV(bytes.NewReader(data))
		if err != nil {
			if lf != nil || qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Fatalf("error %v with %v", err, lf)
			}
			return
		}
		// Whatever reads is consistent: the total is the sum and the nets add up.
		var sum Line
		for _, l := range lf.Lines {
			if l.Net != Net(l.Gross, l.Refunds, l.Fees, l.ReturnedFees) {
				t.Fatalf("line %+v", l)
			}
			sum.Count += l.Count
			sum.Gross += l.Gross
			sum.Refunds += l.Refunds
			sum.Fees += l.Fees
			sum.ReturnedFees += l.ReturnedFees
			sum.Net += l.Net
		}
		if sum != lf.Total {
			t.Fatalf("total %+v, sum %+v", lf.Total, sum)
		}
	})
}

func TestItemsAndPayoutFiles(t *testing.T) {
	b := testBatch()
	var buf bytes.Buffer
	w, err := NewItemsWriter(&buf, b, func(it Item) string { return it.At.UTC().Format(time.DateTime) })
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 3, 1, 2, 3, 0, time.UTC)
	for _, it := range []Item{
		{ObjectID: "pay_1", Kind: ItemPayment, Channel: "alipay", Amount: 1000, Fee: 4, At: at, PaymentID: "pay_1", MerchantOrderNo: "-A1"},
		{ObjectID: "re_1", Kind: ItemRefund, Channel: "alipay", Amount: 400, Fee: 2, At: at, PaymentID: "pay_1", MerchantOrderNo: "=1+1"},
		{ObjectID: "brk_1", Kind: ItemAdjustment, Channel: "alipay", Amount: -30, At: at},
	} {
		if err := w.Write(&it); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), BOM))).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "结算日期" {
		t.Fatalf("items file %v: %q", err, buf.String())
	}
	var net int64
	for _, r := range rows[1:] {
		v, err := parseSigned(r[11], 2)
		if err != nil {
			t.Fatal(err)
		}
		net += v
	}
	if net != 1000-4-400+2-30 || rows[1][5] != "'-A1" || rows[2][5] != "'=1+1" || rows[2][9] != "-4.00" {
		t.Fatalf("items rows %v (net %d)", rows, net)
	}

	buf.Reset()
	pw, err := NewPayoutWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(PayoutRow{Account: "6226090000000048", Name: "兰州马记牛肉面馆有限公司", Amount: 123456, Currency: qrpay.CNY, Reference: "stl_x"})
	pw.Write(PayoutRow{Account: "6226090000000055", Name: "=HYPERLINK()", Amount: 5, Currency: qrpay.CNY, Reference: "stl_y"})
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	want := BOM + "account,name,amount,reference\n6226090000000048,兰州马记牛肉面馆有限公司,1234.56,stl_x\n6226090000000055,'=HYPERLINK(),0.05,stl_y\n"
	if buf.String() != want || pw.Count != 2 || pw.Total[qrpay.CNY] != 123461 {
		t.Fatalf("payout file %q", buf.String())
	}
}
