package merchant

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
)

// kycVector is one entry of testdata/kyc-vectors.json, the public vectors of kinds
// cn_resident_id_*, cn_uscc_* and luhn copied from the project's shared public vectors.
type kycVector struct {
	Kind     string `json:"kind"`
	Input    string `json:"input"`
	Expected struct {
		Valid        bool   `json:"valid"`
		CorrectCheck string `json:"correct_check"`
	} `json:"expected"`
	Source string `json:"source"`
}

func loadKYCVectors(t *testing.T) []kycVector {
	t.Helper()
	b, err := os.ReadFile("testdata/kyc-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []kycVector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	return f.Vectors
}

// today is the date the resident ID tests run at.
var today = time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)

// wantRule fails t unless err is an EINVALID *qrpay.Error for param caused by rule.
func wantRule(t *testing.T, input string, err error, rule *FieldRule, param string) {
	t.Helper()
	if rule == nil {
		if err != nil {
			t.Errorf("%q: unexpected error %v", input, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%q: no error, want %s", input, rule.Key)
		return
	}
	var e *qrpay.Error
	if !errors.As(err, &e) {
		t.Errorf("%q: error %T is not a *qrpay.Error", input, err)
		return
	}
	if e.Code != qrpay.EINVALID || e.Param != param || e.Message != rule.Message {
		t.Errorf("%q: got code %q param %q message %q, want %q %q %q", input, e.Code, e.Param, e.Message, qrpay.EINVALID, param, rule.Message)
	}
	if !errors.Is(err, rule) || MessageKey(err) != rule.Key {
		t.Errorf("%q: got rule %q, want %q", input, MessageKey(err), rule.Key)
	}
}

func TestKYCPublicVectors(t *testing.T) {
	kinds := map[string]int{}
	for _, v := range loadKYCVectors(t) {
		kinds[v.Kind]++
		switch v.Kind {
		case "cn_resident_id_valid":
			wantRule(t, v.Input, CheckResidentID(v.Input, today), nil, "")
		case "cn_resident_id_invalid":
			wantRule(t, v.Input, CheckResidentID(v.Input, today), ErrResidentIDCheck, "legal_person_id")
			if got := string(residentIDCheck(v.Input[:17])); got != v.Expected.CorrectCheck {
				t.Errorf("%s: computed check %s, vector says %s", v.Input, got, v.Expected.CorrectCheck)
			}
		case "cn_uscc_valid":
			wantRule(t, v.Input, CheckUSCC(v.Input), nil, "")
		case "cn_uscc_invalid":
			wantRule(t, v.Input, CheckUSCC(v.Input), ErrUSCCCheck, "uscc")
			if got := string(usccCheck(v.Input[:17])); got != v.Expected.CorrectCheck {
				t.Errorf("%s: computed check %s, vector says %s", v.Input, got, v.Expected.CorrectCheck)
			}
		case "luhn":
			if Luhn(v.Input) != v.Expected.Valid {
				t.Errorf("Luhn(%q) = %v, want %v", v.Input, !v.Expected.Valid, v.Expected.Valid)
			}
		default:
			t.Errorf("unexpected kind %q", v.Kind)
		}
	}
	for _, k := range []string{"cn_resident_id_valid", "cn_resident_id_invalid", "cn_uscc_valid", "cn_uscc_invalid", "luhn"} {
		if kinds[k] == 0 {
			t.Errorf("no vectors of kind %s", k)
		}
	}
}

// withUSCCCheck appends the check character to 17 characters.
func withUSCCCheck(body string) string { return body + string(usccCheck(body)) }

// withOrgCheck returns 17 characters whose organization code part (9-17) is valid, from the
// first 16.
func withOrgCheck(body16 string) string { return body16 + string(orgCodeCheck(body16[8:16])) }

func TestUSCC(t *testing.T) {
	// A valid code for every authority and entity type pair of the standard's table.
	for auth, types := range usccEntityTypes {
		for _, typ := range types {
			code := withUSCCCheck(withOrgCheck(string(auth) + string(typ) + "350100M000100Y"))
			if err := CheckUSCC(code); err != nil {
				t.Errorf("%s (authority %c, type %c): %v", code, auth, typ, err)
			}
		}
	}
	// Well-formed codes (both checks right) with a pair the standard does not have.
	for _, pair := range []string{"94", "99", "90", "24", "56", "A2", "N4", "Y0", "10"} {
		code := withUSCCCheck(withOrgCheck(pair + "350100M000100Y"))
		wantRule(t, code, CheckUSCC(code), ErrUSCCEntityType, "uscc")
	}
	for _, auth := range []string{"0", "B", "C", "M", "X"} {
		code := withUSCCCheck(withOrgCheck(auth + "1350100M000100Y"))
		wantRule(t, code, CheckUSCC(code), ErrUSCCAuthority, "uscc")
	}
	// A national registration (region 100000) is accepted.
	if code := withUSCCCheck(withOrgCheck("11100000M000100Y")); CheckUSCC(code) != nil {
		t.Errorf("%s: %v", code, CheckUSCC(code))
	}

	tests := []struct {
		in   string
		rule *FieldRule
	}{
		{"91350100M000100Y43", nil},
		{" 91350100m000100y43 ", nil}, // trimmed, upper-cased
		{"", ErrUSCCLength},
		{"91350100M000100Y4", ErrUSCCLength},
		{"91350100M000100Y433", ErrUSCCLength},
		{"91350100Ｍ000100Y4", ErrUSCCLength}, // a full-width letter is 3 bytes, 19 in all
		{"91350100M000100YI3", ErrUSCCCharset},
		{"91350100M000100O43", ErrUSCCCharset},
		{"91350100M0001 0Y43", ErrUSCCCharset},
		{"91350100S000100Y43", ErrUSCCCharset},
		{"Z1350100M000100Y43", ErrUSCCCharset},
		{"9135A100M000100Y43", ErrUSCCRegion},
		{withUSCCCheck(withOrgCheck("9199010000010010")), ErrUSCCRegion}, // no province 99
		{withUSCCCheck(withOrgCheck("9100000000010010")), ErrUSCCRegion},
		{"91350100M000100Y53", ErrUSCCOrgCode},
		{"91350100M000100YX3", ErrUSCCOrgCode},
		{withUSCCCheck("91350100M000100Y5"), ErrUSCCOrgCode},
		{"91350100M000100Y44", ErrUSCCCheck},
		{"91350200M000000510", ErrUSCCCheck},
		{"91110000802100433C", ErrUSCCCheck},
	}
	for _, tt := range tests {
		wantRule(t, tt.in, CheckUSCC(tt.in), tt.rule, "uscc")
	}
	if got, err := NormalizeUSCC(" 91350100m000100y43"); got != "91350100M000100Y43" || err != nil {
		t.Errorf("NormalizeUSCC = %q, %v", got, err)
	}
	// The organization code check maps 10 to X and 11 to 0.
	for _, tt := range []struct{ body, want string }{{"D2143569", "X"}, {"00000000", "0"}, {"59169385", "6"}} {
		if got := string(orgCodeCheck(tt.body)); got != tt.want {
			t.Errorf("orgCodeCheck(%s) = %s, want %s", tt.body, got, tt.want)
		}
	}
}

// TestUSCCMessageHidesCheck makes sure the message cannot carry the expected check character:
// every wrong check character gets the same error text.
func TestUSCCMessageHidesCheck(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range usccChars {
		code := "91350200M00000051" + string(c)
		if c == 'D' {
			continue
		}
		seen[CheckUSCC(code).Error()] = true
	}
	if len(seen) != 1 {
		t.Errorf("check-character errors differ by input: %v", seen)
	}
	seen = map[string]bool{}
	for _, c := range "0123456789" {
		seen[CheckResidentID("11010519491231002"+string(c), today).Error()] = true
	}
	if len(seen) != 1 {
		t.Errorf("resident ID check errors differ by input: %v", seen)
	}
}

// withIDCheck appends the GB 11643 check character to 17 digits.
func withIDCheck(body string) string { return body + string(residentIDCheck(body)) }

func TestResidentID(t *testing.T) {
	tests := []struct {
		in   string
		rule *FieldRule
	}{
		{"11010519491231002X", nil},
		{"11010519491231002x", nil},
		{" 11010519491231002X\n", nil},
		{"110105491231002", nil}, // 15-digit first-generation card
		{"820000200009100032", nil},
		{"932682198501010017", nil},
		{withIDCheck("81000019900101001"), nil},
		{withIDCheck("83000019900101001"), nil},
		{withIDCheck("71000019900101001"), nil},
		{withIDCheck("65010119900101001"), nil},
		{withIDCheck("91101119900101001"), nil}, // permanent residence, Beijing (11), nationality 011
		{withIDCheck("20000020000229001"), ErrResidentIDRegion},
		{withIDCheck("11010520000229001"), nil}, // 2000 is a leap year
		{withIDCheck("11010519000101001"), nil},
		{withIDCheck("11010520260315001"), nil}, // born today

		{"", ErrResidentIDLength},
		{"11010519491231002", ErrResidentIDLength},
		{"110105194912310021X", ErrResidentIDLength},
		{"1101054912310021", ErrResidentIDLength},
		{"11010519491231002Y", ErrResidentIDCharset},
		{"1101051949123100X2", ErrResidentIDCharset},
		{"X10105194912310021", ErrResidentIDCharset},
		{"11010519491231 02X", ErrResidentIDCharset},
		{"11010549123100X", ErrResidentIDCharset}, // 15-digit cards have no X
		{"１１0105491231002", ErrResidentIDLength},  // full-width digits are 3 bytes each

		{withIDCheck("00010519491231002"), ErrResidentIDRegion},
		{withIDCheck("10010519491231002"), ErrResidentIDRegion},
		{withIDCheck("16010519491231002"), ErrResidentIDRegion},
		{withIDCheck("24010519491231002"), ErrResidentIDRegion},
		{withIDCheck("38010519491231002"), ErrResidentIDRegion},
		{withIDCheck("47010519491231002"), ErrResidentIDRegion},
		{withIDCheck("55010519491231002"), ErrResidentIDRegion},
		{withIDCheck("66010519491231002"), ErrResidentIDRegion},
		{withIDCheck("72010519491231002"), ErrResidentIDRegion},
		{withIDCheck("84010519491231002"), ErrResidentIDRegion},
		{withIDCheck("90010519491231002"), ErrResidentIDRegion}, // 9 + "00": no province
		{withIDCheck("99910519491231002"), ErrResidentIDRegion},
		{withIDCheck("97168219850101001"), ErrResidentIDRegion}, // 9 + Taiwan: not an issuing province
		{withIDCheck("98168219850101001"), ErrResidentIDRegion},
		{"990105491231002", ErrResidentIDRegion},

		{withIDCheck("11010519491331002"), ErrResidentIDBirthDate}, // month 13
		{withIDCheck("11010519490001002"), ErrResidentIDBirthDate},
		{withIDCheck("11010519491232002"), ErrResidentIDBirthDate},
		{withIDCheck("11010519490230002"), ErrResidentIDBirthDate},
		{withIDCheck("11010519000229002"), ErrResidentIDBirthDate}, // 1900 is not a leap year
		{withIDCheck("11010520230229002"), ErrResidentIDBirthDate},
		{withIDCheck("11010500000101002"), ErrResidentIDBirthRange},
		{"110105491331002", ErrResidentIDBirthDate},
		{withIDCheck("11010518991231002"), ErrResidentIDBirthRange},
		{withIDCheck("11010520260316002"), ErrResidentIDBirthRange}, // tomorrow
		{withIDCheck("11010530000101002"), ErrResidentIDBirthRange},

		{"110105194912310021", ErrResidentIDCheck},
		{"110105194912310020", ErrResidentIDCheck},
		{"321083197812162118", ErrResidentIDCheck},
		{"932682198501010018", ErrResidentIDCheck},
		{"32108319781216211X", ErrResidentIDCheck},
	}
	for _, tt := range tests {
		wantRule(t, tt.in, CheckResidentID(tt.in, today), tt.rule, "legal_person_id")
	}
}

func TestResidentIDNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"110105491231002":      "11010519491231002X",
		"11010519491231002x":   "11010519491231002X",
		" 321083197812162119 ": "321083197812162119",
	} {
		got, err := NormalizeResidentID(in)
		if got != want || err != nil {
			t.Errorf("NormalizeResidentID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// A future birth date needs a clock: NormalizeResidentID does not judge it.
	future := withIDCheck("11010520990101002")
	if _, err := NormalizeResidentID(future); err != nil {
		t.Errorf("NormalizeResidentID(%s): %v", future, err)
	}
	// The day boundary is today's date in today's own zone.
	shanghai := time.FixedZone("CST", 8*3600)
	justAfterMidnight := time.Date(2026, 3, 16, 0, 30, 0, 0, shanghai) // still 15 March in UTC
	if err := CheckResidentID(withIDCheck("11010520260316002"), justAfterMidnight); err != nil {
		t.Errorf("born today in Shanghai: %v", err)
	}
	if _, err := NormalizeResidentID("11010519491231002"); !errors.Is(err, ErrResidentIDLength) {
		t.Errorf("NormalizeResidentID of 17 characters: %v", err)
	}
}

func TestResidentIDBirthDate(t *testing.T) {
	for in, want := range map[string]time.Time{
		"11010519491231002X": time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC),
		"110105491231002":    time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC),
		"820000200009100032": time.Date(2000, 9, 10, 0, 0, 0, 0, time.UTC),
	} {
		got, err := BirthDate(in)
		if !got.Equal(want) || err != nil {
			t.Errorf("BirthDate(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := BirthDate("110105194912310021"); !errors.Is(err, ErrResidentIDCheck) {
		t.Errorf("BirthDate of a mistyped ID: %v", err)
	}
}

func TestPhone(t *testing.T) {
	tests := []struct {
		in, want string
		rule     *FieldRule
	}{
		{"13893100000", "13893100000", nil},
		{"19912345678", "19912345678", nil},
		{"16612345678", "16612345678", nil},
		{"+86 138 9310 0000", "13893100000", nil},
		{"+86-138-9310-0000", "13893100000", nil},
		{"86 13893100000", "13893100000", nil},
		{"008613893100000", "13893100000", nil},
		{" 138-9310-0000 ", "13893100000", nil},

		{"", "", ErrPhoneFormat},
		{"1389310000", "", ErrPhoneFormat},
		{"138931000001", "", ErrPhoneFormat},
		{"1389310000a", "", ErrPhoneFormat},
		{"+1 13893100000", "", ErrPhoneFormat},
		{"+86 1389310000", "", ErrPhoneFormat},
		{"861389310000", "", ErrPhoneFormat},
		{"(138)93100000", "", ErrPhoneFormat},
		{"１3893100000", "", ErrPhoneFormat},
		{"010-6234-5678", "", ErrPhonePrefix}, // a Beijing landline

		{"10893100000", "", ErrPhonePrefix},
		{"11893100000", "", ErrPhonePrefix},
		{"12893100000", "", ErrPhonePrefix},
		{"23893100000", "", ErrPhonePrefix},
		{"+86 01062345678", "", ErrPhonePrefix},
	}
	for _, tt := range tests {
		wantRule(t, tt.in, CheckPhone(tt.in), tt.rule, "phone")
		got, err := NormalizePhone(tt.in)
		if got != tt.want || (err == nil) != (tt.rule == nil) {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for in, want := range map[string]bool{
		"79927398713":      true,
		"4111111111111111": true,
		"6226090000000048": true,
		"79927398710":      false,
		"79927398714":      false,
		"6226090000000049": false,
		"4111111111111112": false,
		"00":               true,
		"":                 false,
		"0":                false,
		"7992739871a":      false,
		"7992 7398 713":    false,
	} {
		if got := Luhn(in); got != want {
			t.Errorf("Luhn(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLuhnBankAccount(t *testing.T) {
	tests := []struct {
		in, want string
		warn     bool
		rule     *FieldRule
	}{
		{"6226090000000048", "6226090000000048", false, nil},
		{"6226 0900 0000 0048", "6226090000000048", false, nil},
		{"6226-0900-0000-0048", "6226090000000048", false, nil},
		{"6226090000000049", "6226090000000049", true, nil}, // not Luhn: a warning only
		{"110060149018001234567", "110060149018001234567", true, nil},
		{"123456789012", "123456789012", true, nil},
		{strings.Repeat("1", 30), strings.Repeat("1", 30), true, nil},

		{"", "", false, ErrBankAccountLength},
		{"12345678901", "", false, ErrBankAccountLength},
		{strings.Repeat("1", 31), "", false, ErrBankAccountLength},
		{"62260900000A0048", "", false, ErrBankAccountCharset},
		{"6226.0900.0000.0048", "", false, ErrBankAccountCharset},
		{"６226090000000048", "", false, ErrBankAccountCharset},
		{"-", "", false, ErrBankAccountLength},
	}
	for _, tt := range tests {
		warning, err := CheckBankAccount(tt.in)
		wantRule(t, tt.in, err, tt.rule, "bank_account")
		if (warning != "") != tt.warn || (warning != "" && warning != WarnBankAccountLuhn.Message) {
			t.Errorf("CheckBankAccount(%q) warning %q, want warning %v", tt.in, warning, tt.warn)
		}
		if got, _ := NormalizeBankAccount(tt.in); got != tt.want {
			t.Errorf("NormalizeBankAccount(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMCC(t *testing.T) {
	if len(MCCs) < 60 {
		t.Errorf("only %d MCCs", len(MCCs))
	}
	for i, m := range MCCs {
		if len(m.Code) != 4 || !allDigits(m.Code) || m.NameEN == "" || m.NameZH == "" {
			t.Errorf("bad entry %+v", m)
		}
		if i > 0 && MCCs[i-1].Code >= m.Code {
			t.Errorf("MCCs not in strictly ascending order at %s", m.Code)
		}
		if got, ok := LookupMCC(m.Code); !ok || got != m {
			t.Errorf("LookupMCC(%s) = %+v, %v", m.Code, got, ok)
		}
	}
	for _, code := range []string{"5812", "5814", "5411", "5499", "5462", "5311", "5912", "7011", "7230", "4121", "5541", "8062"} {
		if err := CheckMCC(code); err != nil {
			t.Errorf("CheckMCC(%s): %v", code, err)
		}
	}
	if m, _ := LookupMCC("5812"); m.NameZH != "餐馆及餐厅" {
		t.Errorf("5812 = %+v", m)
	}
	for in, rule := range map[string]*FieldRule{
		"": ErrMCCFormat, "581": ErrMCCFormat, "58120": ErrMCCFormat, "58a2": ErrMCCFormat, "５８１２": ErrMCCFormat,
		"0000": ErrMCCUnknown, "9999": ErrMCCUnknown, "7995": ErrMCCUnknown, "4829": ErrMCCUnknown,
	} {
		wantRule(t, in, CheckMCC(in), rule, "mcc")
	}
	if _, ok := LookupMCC("0001"); ok {
		t.Error("LookupMCC(0001) found something")
	}
}

func TestKYCNames(t *testing.T) {
	type check struct {
		fn    func(string) error
		param string
		field textField
	}
	legal := check{CheckLegalName, "legal_name", legalNameField}
	short := check{CheckShortName, "short_name", shortNameField}
	person := check{CheckPersonName, "legal_person_name", personNameField}
	address := check{CheckAddress, "address", addressField}
	city := check{CheckCity, "city", cityField}
	bank := check{CheckBankName, "bank_name", bankNameField}
	ok, req, length, chars := 0, 1, 2, 3
	tests := []struct {
		c    check
		in   string
		want int
	}{
		{legal, "福州市鼓楼区老王餐饮有限公司", ok},
		{legal, "Best Transport Co., Ltd.", ok},
		{legal, "", req},
		{legal, "   ", req},
		{legal, "A", length},
		{legal, strings.Repeat("公", 101), length},
		{legal, strings.Repeat("公", 100), ok},
		{legal, "老王\x00餐饮", chars},
		{legal, "老王\u202e餐饮", chars}, // right-to-left override
		{legal, "老王\u200b餐饮", chars}, // zero-width space
		{legal, "老王\ue000餐饮", chars}, // private use
		{legal, "老王\xff餐饮", chars},   // invalid UTF-8

		{short, "老王面馆", ok},
		{short, " 老王面馆 ", ok},
		{short, "王", length},
		{short, strings.Repeat("面", 20), ok},
		{short, strings.Repeat("面", 21), length},
		{short, "老王\n面馆", chars},
		{short, "老王\t面馆", chars},
		{short, "老王\u2028面馆", chars},

		{person, "马某某", ok},
		{person, "买买提·艾力", ok},
		{person, "阿依古丽·买买提·艾力", ok},
		{person, "John Smith", ok},
		{person, "J. Smith", ok},
		{person, "Anne-Marie O'Neil", ok},
		{person, "José Müller", ok},
		{person, "Jose\u0301 Muller", ok}, // combining accent
		{person, "", req},
		{person, "马", length},
		{person, strings.Repeat("马", 31), length},
		{person, strings.Repeat("马", 30), ok},
		{person, "马某某1", chars},
		{person, "·马某", chars},
		{person, "马某·", chars},
		{person, "买买提··艾力", chars},
		{person, "买买提· 艾力", chars},
		{person, "马某@", chars},
		{person, "马某\u200d某", chars},
		{person, "\u0301马某", chars},

		{address, "福建省福州市鼓楼区五四路 88 号", ok},
		{address, "", req},
		{address, "一", length},
		{address, strings.Repeat("路", 201), length},
		{address, "五四路\r\n88号", chars},

		{city, "福州", ok},
		{city, "Xi'an", ok},
		{city, "", req},
		{city, "京", length},
		{city, strings.Repeat("城", 51), length},
		{city, "福\x7f州", chars},

		{bank, "中国工商银行福州鼓楼支行", ok},
		{bank, "", req},
		{bank, "行", length},
		{bank, "工商\x1b银行", chars},
	}
	for _, tt := range tests {
		var rule *FieldRule
		switch tt.want {
		case req:
			rule = tt.c.field.required
		case length:
			rule = tt.c.field.length
		case chars:
			rule = tt.c.field.chars
		}
		wantRule(t, tt.in, tt.c.fn(tt.in), rule, tt.c.param)
	}
}

func TestKYCCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"  老王\t面馆\n ":   "老王 面馆",
		"五四路\u3000 88号": "五四路 88号",
		"":              "",
		"a  b":          "a b",
	} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKYCProblems(t *testing.T) {
	var p Problems
	if p.Err() != nil || p.Len() != 0 {
		t.Fatal("empty Problems has an error")
	}
	p.Add(nil)
	p.Add(CheckUSCC("91350100M000100Y43")) // valid
	if p.Err() != nil {
		t.Fatal("nil errors were recorded")
	}
	p.Add(CheckPhone("12893100000"))
	p.Add(CheckUSCC("91350200M000000510"))
	p.Add(CheckPhone("1"))                         // phone already has a problem
	p.AddAs("contact_phone", CheckPhone("123"))    // same check, other field
	p.Add(fmt.Errorf("wrapped: %w", CheckMCC(""))) // wrapped errors are found
	if p.Len() != 4 {
		t.Fatalf("Len = %d, want 4", p.Len())
	}
	err := p.Err()
	p.Add(CheckCity("")) // does not change the error already returned

	if qrpay.ErrorCode(err) != qrpay.EINVALID || qrpay.ErrorParam(err) != "phone" || qrpay.ErrorMessage(err) != ErrPhonePrefix.Message {
		t.Errorf("Err() = %v", err)
	}
	if MessageKey(err) != "phone.prefix" {
		t.Errorf("MessageKey = %q", MessageKey(err))
	}
	var got *Problems
	if !errors.As(err, &got) {
		t.Fatalf("errors.As(%v, *Problems) failed", err)
	}
	wantFields := map[string]string{
		"phone":         ErrPhonePrefix.Message,
		"uscc":          ErrUSCCCheck.Message,
		"contact_phone": ErrPhoneFormat.Message,
		"mcc":           ErrMCCFormat.Message,
	}
	wantKeys := map[string]string{"phone": "phone.prefix", "uscc": "uscc.check", "contact_phone": "phone.format", "mcc": "mcc.format"}
	if f := got.Fields(); !equalMaps(f, wantFields) {
		t.Errorf("Fields = %v, want %v", f, wantFields)
	}
	if k := got.Keys(); !equalMaps(k, wantKeys) {
		t.Errorf("Keys = %v, want %v", k, wantKeys)
	}
	if !errors.Is(err, ErrUSCCCheck) || !errors.Is(err, ErrMCCFormat) || errors.Is(err, ErrCityRequired) {
		t.Error("errors.Is does not see exactly the recorded rules")
	}
	if p.Len() != 5 {
		t.Errorf("Len after another Add = %d", p.Len())
	}
	if s := err.Error(); !strings.Contains(s, "uscc: ") || !strings.Contains(s, "contact_phone: ") {
		t.Errorf("Error() = %q does not list the fields", s)
	}

	// An error that is not about the input wins, as it is.
	var q Problems
	q.Add(CheckPhone(""))
	boom := qrpay.Errorf(qrpay.EINTERNAL, "boom")
	q.Add(boom)
	q.Add(errors.New("plain"))
	if q.Err() != boom {
		t.Errorf("Err() = %v, want the internal error", q.Err())
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestKYCFieldRules(t *testing.T) {
	keys := map[string]bool{}
	for _, r := range FieldRules {
		if r.Key == "" || r.Param == "" || r.Message == "" {
			t.Errorf("incomplete rule %+v", r)
		}
		if keys[r.Key] {
			t.Errorf("duplicate key %s", r.Key)
		}
		keys[r.Key] = true
		if !strings.HasSuffix(r.Message, ".") || r.Message[0] < 'A' || r.Message[0] > 'Z' {
			t.Errorf("%s: message %q is not a sentence", r.Key, r.Message)
		}
	}
	for _, k := range []string{"uscc.check", "resident_id.check", "phone.prefix", "bank_account.luhn", "mcc.unknown", "short_name.length", "password.common"} {
		if !keys[k] {
			t.Errorf("FieldRules lacks %s", k)
		}
	}
	if MessageKey(nil) != "" || MessageKey(errors.New("x")) != "" {
		t.Error("MessageKey of a foreign error is not empty")
	}
}
