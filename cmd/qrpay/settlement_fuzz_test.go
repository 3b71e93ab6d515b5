package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/qrpay/qrpay"
)

// FuzzStatementParsers feeds every provider's statement parser, as reconcile --file uses them,
// with mutations of real statement files: a parser never panics, and it either reads the whole
// file or refuses it with an invalid-input error and no statement (nothing half-read).
func FuzzStatementParsers(f *testing.F) {
	for _, path := range []string{"../../gateway/alipay/testdata/trade-bill-sample.csv", "../../gateway/wechat/testdata/tradebill_all.csv",
		"../../gateway/unionpay/testdata/INN240115ZM_777290058110048.txt"} {
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("type,trade_no,out_trade_no,out_refund_no,amount,currency,status,at\npayment,T1,pay_x,,100,CNY,SUCCESS,2026-03-02T01:00:00Z\n"))
	f.Add([]byte{})
	parsers := statementParsers()
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, parse := range parsers {
			st, err := parse(bytes.NewReader(data))
			if err != nil {
				if st != nil || qrpay.ErrorCode(err) != qrpay.EINVALID {
					t.Fatalf("%s: %v with %v", name, err, st)
				}
				continue
			}
			if st == nil {
				t.Fatalf("%s: no statement and no error", name)
			}
		}
	})
}
