package unionpay

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/qr"
)

// publicPayloads returns the EMV payloads of testdata/vectors.json (a trimmed copy of qrpay's
// shared public vectors) by kind.
func publicPayloads(t *testing.T, kind string) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []struct {
			Kind  string `json:"kind"`
			Input string `json:"input"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range doc.Vectors {
		if v.Kind == kind {
			out = append(out, v.Input)
		}
	}
	return out
}

func wantTampered(t *testing.T, err error, contains string) {
	t.Helper()
	pe, ok := err.(*gateway.ProviderError)
	if !ok || pe.Code != gateway.ProviderTampered || !pe.Unknown || !strings.Contains(pe.Message, contains) {
		t.Fatalf("want tampered (%s), got %v", contains, err)
	}
}

func TestCheckCode(t *testing.T) {
	const account = "48021000" + "00010344" + "777290058110048"
	good := qr.MerchantCode{Dynamic: true, UnionPayAccount: account, MCC: "5814", Amount: qrpay.Money{Amount: 2372, Currency: qrpay.CNY},
		Name: "BEST TRANSPORT", City: "BEIJING", ReferenceLabel: "pay_01hm5dhp80wnwtsk50arb", TerminalLabel: "T1"}
	payload, err := qr.BuildMerchantCode(good)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedCode{account: account, amount: good.Amount, label: good.ReferenceLabel, terminal: "T1"}
	if err := checkCode("op", payload, want); err != nil {
		t.Fatal(err)
	}
	// Each expectation matters.
	for _, tc := range []struct {
		name string
		m    func(*expectedCode)
		msg  string
	}{
		{"amount", func(w *expectedCode) { w.amount.Amount = 2373 }, "asks for 23.72"},
		{"currency", func(w *expectedCode) { w.amount.Currency = "HKD" }, "currency 156"},
		{"account", func(w *expectedCode) { w.account = "48021000" + "00010344" + "777290058110049" }, "another merchant account"},
		{"label", func(w *expectedCode) { w.label = "pay_other" }, "reference label"},
		{"terminal", func(w *expectedCode) { w.terminal = "T2" }, "terminal label"},
	} {
		w := want
		tc.m(&w)
		wantTampered(t, checkCode("op", payload, w), tc.msg)
	}
	// A static code is not a dynamic one, even for the right merchant.
	static := good
	static.Dynamic, static.Amount, static.Currency, static.ReferenceLabel = false, qrpay.Money{}, qrpay.CNY, ""
	sp, err := qr.BuildMerchantCode(static)
	if err != nil {
		t.Fatal(err)
	}
	wantTampered(t, checkCode("op", sp, want), "not a dynamic code")
	// A payload that is not strictly conformant, though its CRC is right: tag 59 missing.
	p, _ := qr.Parse(payload)
	var objs []qr.Object
	for _, o := range p.Objects {
		if o.ID != "59" && o.ID != "63" {
			objs = append(objs, o)
		}
	}
	raw, _ := qr.EncodeObjects(objs)
	raw += "6304"
	raw += crcOf(raw)
	wantTampered(t, checkCode("op", raw, want), "not a conformant")
	// The public payloads with a broken CRC (wrong, not hex, missing) and the Laos static code.
	invalid := publicPayloads(t, "emv_mpm_invalid")
	if len(invalid) != 3 {
		t.Fatalf("%d invalid vectors", len(invalid))
	}
	for _, v := range invalid {
		err := checkCode("op", v, want)
		pe, ok := err.(*gateway.ProviderError)
		if !ok || pe.Code != gateway.ProviderTampered || !pe.Unknown {
			t.Fatalf("%q: %v", v, err)
		}
	}
	for _, v := range publicPayloads(t, "emv_mpm_valid") {
		wantTampered(t, checkCode("op", v, want), "not a dynamic code")
	}
	wantTampered(t, checkCode("op", "", want), "not an EMV payload")
}

// crcOf is the CRC-16/CCITT-FALSE of s as four upper-case hex digits.
func crcOf(s string) string {
	c := qr.CRC16([]byte(s))
	const hexdig = "0123456789ABCDEF"
	return string([]byte{hexdig[c>>12], hexdig[c>>8&15], hexdig[c>>4&15], hexdig[c&15]})
}

func TestMerchantTexts(t *testing.T) {
	c := Config{MerchantName: "DEFAULT NAME", MerchantCity: "DEFAULT CITY"}
	for _, tc := range []struct {
		name, city string
		want       texts
	}{
		{"", "", texts{name: "DEFAULT NAME", city: "DEFAULT CITY"}},
		{" Cafe ", "Beijing", texts{name: "Cafe", city: "Beijing"}},
		{"咖啡馆", "北京", texts{name: "DEFAULT NAME", city: "DEFAULT CITY", nameLocal: "咖啡馆", cityLocal: "北京"}},
		{"Cafe", "北京", texts{name: "Cafe", city: "DEFAULT CITY"}}, // template 64 needs a name first
		{strings.Repeat("长", 30), "", texts{name: "DEFAULT NAME", city: "DEFAULT CITY", nameLocal: strings.Repeat("长", 25)}},
	} {
		got, err := merchantTexts(c, tc.name, tc.city)
		if err != nil || got != tc.want {
			t.Errorf("%q %q: %+v %v", tc.name, tc.city, got, err)
		}
	}
	if _, err := merchantTexts(Config{}, "咖啡馆", "Beijing"); qrpay.ErrorParam(err) != "merchant_name" {
		t.Fatalf("%v", err)
	}
	if _, err := merchantTexts(Config{MerchantName: "X"}, "", ""); qrpay.ErrorParam(err) != "merchant_city" {
		t.Fatalf("%v", err)
	}
}
