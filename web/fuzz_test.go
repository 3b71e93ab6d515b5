package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// FuzzDecodeJSON feeds request bodies to decodeJSON with every body type the API decodes: it
// never panics, every failure is a *qrpay.Error with code invalid (and never an internal
// error), and a body it accepts is one object of known fields that encoding/json also reads.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"merchant_order_no":"A-1","amount":1234,"currency":"CNY","scene":"qr","description":"牛肉面","metadata":{"k":"v"}}`,
		`{"merchant_order_no":"A-2","amount":1,"currency":"CNY","scene":"code","auth_code":"134567890123456789","wait":false}`,
		`{"amount":100,"merchant_refund_no":"r-1","reason":"<script>alert(1)</script>"}`,
		`{"url":"https://example.com/hooks"}`,
		`{"legal_name":"x","short_name":"y","draft":true}`,
		`[{"channel":"alipay","account_id":"a","sub_merchant_id":"2088"}]`,
		`{"amount":"12"}`, `{"amount":12.5}`, `{"amount":9223372036854775808}`, `{"amount":-1}`,
		`{"colour":"red"}`, `{"metadata":{"k":1}}`, `{"metadata":[]}`, `{} {}`, `{}garbage`, `[1,2]`,
		`null`, `"x"`, `{"a":`, "\xff\xfe", `{"amount":1e3}`, ``, `   `, `{"":""}`, `{"amount":1,"amount":2}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return &paymentCreateBody{} },
		func() any { return &refundCreateBody{} },
		func() any { return &struct{}{} },
		func() any {
			return &struct {
				URL string `json:"url"`
			}{}
		},
		func() any {
			return &struct {
				Text string `json:"text"`
			}{}
		},
		func() any { return &merchantCreateBody{} },
		func() any { return &[]merchant.BindingInput{} },
		func() any { return &map[string]any{} },
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for i, mk := range targets {
			v := mk()
			err := decodeJSON(body, v)
			if err == nil {
				// Accepted: it must be valid JSON, one value, that the standard decoder reads too.
				if !json.Valid(body) {
					t.Fatalf("target %d accepted invalid JSON %q", i, body)
				}
				// decodeJSON keeps numbers as json.Number (1E700 is a valid number that
				// does not fit a float64), so the oracle reads them the same way.
				std := json.NewDecoder(bytes.NewReader(body))
				std.UseNumber()
				if err := std.Decode(mk()); err != nil {
					t.Fatalf("target %d accepted %q that encoding/json refuses: %v", i, body, err)
				}
				continue
			}
			var qe *qrpay.Error
			if !errors.As(err, &qe) {
				t.Fatalf("target %d: error %T %v is not a *qrpay.Error", i, err, err)
			}
			if qe.Code != qrpay.EINVALID {
				t.Fatalf("target %d: error code %q for %q, want invalid", i, qe.Code, body)
			}
			if qe.Message == "" {
				t.Fatalf("target %d: an error without a message for %q", i, body)
			}
		}
	})
}
