package mockpay

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// fuzzNow is the fuzzing provider's clock.
var fuzzNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func fuzzProvider() *Provider {
	return &Provider{BaseURL: "http://127.0.0.1:1/mockpay", Secret: []byte("fuzzing secret of the mock provider"),
		Clock: qrpay.NewFakeClock(fuzzNow)}
}

// FuzzParseCallback feeds callbacks to the adapter's parser: signed by the provider's key (so
// that the JSON behind the signature is fuzzed too) or with a fuzzed signature. It never panics;
// a callback it accepts carries the provider's valid signature of that very body, a fresh
// timestamp, and exactly one trade or refund; every refusal is unauthorized or invalid.
func FuzzParseCallback(f *testing.F) {
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	for _, body := range []string{
		`{"kind":"trade","trade":{"out_trade_no":"pay_1","trade_no":"MP1","status":"SUCCESS","amount":500,"currency":"CNY","paid_at":"2026-03-14T09:26:50Z","refunded":0}}`,
		`{"kind":"trade","trade":{"out_trade_no":"pay_1","trade_no":"MP1","status":"FAILED","amount":501,"currency":"CNY","reason":"declined","refunded":0}}`,
		`{"kind":"trade","trade":{"out_trade_no":"pay_1","status":"WAIT_PAY","amount":1,"currency":"USD"}}`,
		`{"kind":"refund","refund":{"out_refund_no":"re_1","refund_no":"MR1","out_trade_no":"pay_1","amount":100,"currency":"CNY","status":"SUCCESS","refunded_at":"2026-03-14T09:26:50Z"}}`,
		`{"kind":"refund"}`, `{"kind":"trade","trade":{"status":"BOGUS"}}`, `{"kind":"x"}`, `[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(body), ts, "", true)
		f.Add([]byte(body), ts, "00", false)
	}
	f.Add([]byte(`{"kind":"trade"}`), "99999999999999999999", "", true)
	f.Add([]byte(`{"kind":"trade"}`), strconv.FormatInt(fuzzNow.Add(-MaxSkew-time.Second).Unix(), 10), "", true)
	f.Add([]byte(`{"kind":"trade"}`), "+"+ts, "", true)
	p := fuzzProvider()
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string, sign bool) {
		if sign {
			sig = Sign(p.Secret, ts, "notify", body)
		}
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		cb, err := p.ParseCallback(context.Background(), gateway.CallbackRequest{Method: "POST", Header: h, Body: body})
		if err != nil {
			if cb != nil {
				t.Fatal("a callback and an error")
			}
			if c := qrpay.ErrorCode(err); c != qrpay.EUNAUTHORIZED && c != qrpay.EINVALID {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		if want := Sign(p.Secret, h.Get(HeaderTimestamp), "notify", body); h.Get(HeaderSignature) != want {
			t.Fatalf("accepted a signature that is not the provider's: %q", sig)
		}
		sec, perr := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
		if d := fuzzNow.Sub(time.Unix(sec, 0)); perr != nil || d > MaxSkew || d < -MaxSkew {
			t.Fatalf("accepted a stale or unreadable timestamp %q", ts)
		}
		if cb == nil || (cb.Trade == nil) == (cb.Refund == nil) || cb.Ack.Status != http.StatusOK {
			t.Fatalf("callback %+v", cb)
		}
		var n notice
		if json.Unmarshal(body, &n) != nil {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		if cb.Trade != nil {
			if n.Trade == nil || cb.Trade.PaymentID != n.Trade.OutTradeNo || cb.Trade.Amount.Amount != n.Trade.Amount ||
				!cb.Trade.Amount.Currency.Valid() {
				t.Fatalf("trade %+v from %q", cb.Trade, body)
			}
		}
		if cb.Refund != nil && (n.Refund == nil || cb.Refund.RefundID != n.Refund.OutRefundNo) {
			t.Fatalf("refund %+v from %q", cb.Refund, body)
		}
	})
}

// sampleStatement is a statement as the mock provider writes it.
func sampleStatement(t testing.TB) []byte {
	var buf bytes.Buffer
	err := writeStatementCSV(&buf, []wireLine{
		{Type: "payment", TradeNo: "MP202603140000000000000001", OutTradeNo: "pay_01a", Amount: 1234, Currency: "CNY", Status: "SUCCESS", At: "2026-03-14T01:02:03Z"},
		{Type: "refund", TradeNo: "MP202603140000000000000001", OutTradeNo: "pay_01a", OutRefundNo: "re_01b", Amount: 300, Currency: "CNY", Status: "SUCCESS", At: "2026-03-14T02:03:04Z"},
		{Type: "refund", TradeNo: "MP202603140000000000000002", OutTradeNo: "pay_01c", OutRefundNo: "reversal", Amount: 99, Currency: "CNY", Status: "SUCCESS", At: "2026-03-14T03:04:05+08:00"},
		{Type: "payment", TradeNo: "", OutTradeNo: "pay_01d", Amount: 1, Currency: "CNY", Status: "SUCCESS", At: "2026-03-14T04:05:06.5Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzParseStatement feeds statement files to the adapter's parser. It never panics; it returns
// a whole statement or an error (invalid), never both; every line it returns is well formed;
// and writing the lines back and reading them again gives the same lines.
func FuzzParseStatement(f *testing.F) {
	text := sampleStatement(f)
	f.Add(text)
	f.Add(bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n")))
	f.Add(text[:len(text)/2])
	f.Add([]byte(strings.Join(statementHeader, ",") + "\n"))
	f.Add([]byte("type,trade_no\n"))
	f.Add([]byte(strings.Join(statementHeader, ",") + "\npayment,MP1,pay_1,,-5,CNY,SUCCESS,2026-03-14T01:02:03Z\n"))
	f.Add([]byte(strings.Join(statementHeader, ",") + "\n\"payment\",\"MP\"\"1\",pay_1,,5,CNY,SUCCESS,2026-03-14T01:02:03Z\n"))
	f.Add([]byte{})
	p := fuzzProvider()
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := p.ParseStatement(bytes.NewReader(data))
		if (st == nil) == (err == nil) {
			t.Fatalf("statement %v and error %v", st, err)
		}
		if err != nil {
			if qrpay.ErrorCode(err) != qrpay.EINVALID {
				t.Fatalf("error code %q: %v", qrpay.ErrorCode(err), err)
			}
			return
		}
		if st.Channel != gateway.ChannelMockpay {
			t.Fatalf("channel %q", st.Channel)
		}
		wire := make([]wireLine, len(st.Lines))
		for i, l := range st.Lines {
			if (l.Type != "payment" && l.Type != "refund") || l.PaymentID == "" || l.Amount.Amount <= 0 ||
				!l.Amount.Currency.Valid() || l.At.Location() != time.UTC {
				t.Fatalf("line %+v", l)
			}
			if y := l.At.Year(); y < 1 || y > 9999 {
				// RFC 3339 reads 0000-01-01T00:00:00+01:00, which is in year -1 in UTC and
				// cannot be written back; the provider writes no such times.
				return
			}
			wire[i] = wireLine{Type: l.Type, TradeNo: l.ProviderTradeNo, OutTradeNo: l.PaymentID, OutRefundNo: l.RefundID,
				Amount: l.Amount.Amount, Currency: string(l.Amount.Currency), Status: l.Status, At: l.At.Format(time.RFC3339Nano)}
		}
		var buf bytes.Buffer
		if err := writeStatementCSV(&buf, wire); err != nil {
			t.Fatal(err)
		}
		again, err := p.ParseStatement(&buf)
		if err != nil {
			t.Fatalf("the statement written back does not read: %v\n%s", err, buf.String())
		}
		if len(again.Lines) != len(st.Lines) {
			t.Fatalf("%d lines read back, want %d", len(again.Lines), len(st.Lines))
		}
		for i := range st.Lines {
			a, b := st.Lines[i], again.Lines[i]
			if a.Type != b.Type || a.ProviderTradeNo != b.ProviderTradeNo || a.PaymentID != b.PaymentID || a.RefundID != b.RefundID ||
				a.Amount != b.Amount || a.Status != b.Status || !a.At.Equal(b.At) {
				t.Fatalf("line %d read back as %+v, want %+v", i, b, a)
			}
		}
	})
}
