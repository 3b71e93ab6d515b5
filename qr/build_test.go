package qr

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
)

// TestParseBuildIdentity: every strictly valid vector comes back byte for byte from
// Build(objects without 63).
func TestParseBuildIdentity(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t) {
		if v.Kind != "emv_mpm_valid" {
			continue
		}
		s := v.input(t)
		p, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Valid() || len(p.Warnings) > 0 {
			continue
		}
		n++
		got, err := Build(withoutCRC(p.Objects))
		if err != nil || got != s {
			t.Errorf("Build(Parse(%q)) = %q, %v", s, got, err)
		}
	}
	if n < 4 {
		t.Fatalf("only %d strictly valid vectors", n)
	}
}

func withoutCRC(objs []Object) []Object {
	return slices.DeleteFunc(slices.Clone(objs), func(o Object) bool { return o.ID == "63" })
}

func TestBuildOrderAndRefusals(t *testing.T) {
	// 00 goes first; the rest keep their order.
	objs := base()
	objs = append(objs[1:], objs[0])
	objs[0], objs[3] = objs[3], objs[0]
	s, err := Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := Parse(s)
	var ids []string
	for _, o := range p.Objects {
		ids = append(ids, o.ID)
	}
	if want := []string{"00", "53", "15", "52", "01", "54", "58", "59", "60", "63"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
	for _, c := range []struct {
		name  string
		objs  []Object
		param string
	}{
		{"nothing", nil, "00"},
		{"with a CRC", append(base(), Object{"63", "ABCD"}), "63"},
		{"bad ID", append(base(), Object{"6", "x"}), "6"},
		{"empty value", append(base(), Object{"61", ""}), "61"},
		{"100 characters", append(base(), Object{"80", strings.Repeat("x", 100)}), "80"},
		{"not UTF-8", append(base(), Object{"99", "\xff"}), "99"},
		{"missing name", without(base(), "59"), "59"},
		{"zero amount", with(base(), Object{"54", "0"}), "54"},
		{"duplicate", append(base(), Object{"59", "X"}), "59"},
		{"too long", append(base(), Object{"80", tlvs(Object{"00", "x"}, Object{"01", strings.Repeat("x", 90)})}, Object{"81", tlvs(Object{"00", "x"}, Object{"01", strings.Repeat("x", 90)})}, Object{"82", tlvs(Object{"00", "x"}, Object{"01", strings.Repeat("x", 90)})}, Object{"83", tlvs(Object{"00", "x"}, Object{"01", strings.Repeat("x", 90)})}, Object{"84", tlvs(Object{"00", "x"}, Object{"01", strings.Repeat("x", 90)})}), "payload"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Build(c.objs)
			if !qrpay.IsCode(err, qrpay.EINVALID) || qrpay.ErrorParam(err) != c.param {
				t.Fatalf("Build = %q, %v; want EINVALID for %s", s, err, c.param)
			}
		})
	}
}

// randomText returns 1..n characters from alphabet.
func randomText(r *rand.Rand, alphabet []rune, n int) string {
	k := 1 + r.Intn(n)
	b := make([]rune, k)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}

var (
	ansAlphabet = []rune(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
	hanAlphabet = []rune("最佳运输北京上海广州深圳杭州南京成都武汉西安餐厅超市便利店咖啡茶馆书店药房水果面包烧烤火锅")
	mixAlphabet = append(slices.Clone(hanAlphabet), []rune("ABCxyz 0123·（）🍜é")...)
)

// TestBuildMerchantCodeRandom builds random merchant codes, static and dynamic, with and
// without the Chinese language template, and parses them back.
func TestBuildMerchantCodeRandom(t *testing.T) {
	r := rand.New(rand.NewSource(20240611))
	currencies := []qrpay.Currency{"CNY", "HKD", "USD", "JPY"}
	for i := range 500 {
		c := MerchantCode{
			Dynamic:         r.Intn(2) == 0,
			UnionPayAccount: fmt.Sprintf("%08d%08d%s", r.Intn(1e8), r.Intn(1e8), randomAlnum(r, 15)),
			MCC:             fmt.Sprintf("%04d", r.Intn(10000)),
			Name:            randomText(r, ansAlphabet, 25),
			City:            randomText(r, ansAlphabet, 15),
		}
		cur := currencies[r.Intn(len(currencies))]
		if c.Dynamic {
			c.Amount = qrpay.Money{Amount: 1 + r.Int63n(1e12), Currency: cur}
			c.ReferenceLabel = randomText(r, ansAlphabet, 25)
		} else {
			c.Currency = cur
		}
		if r.Intn(2) == 0 {
			c.NameZH = randomText(r, mixAlphabet, 25)
			if r.Intn(2) == 0 {
				c.CityZH = randomText(r, hanAlphabet, 15)
			}
		}
		if r.Intn(3) == 0 {
			c.TerminalLabel = randomText(r, ansAlphabet, 25)
		}
		if r.Intn(3) == 0 {
			c.StoreLabel = randomText(r, ansAlphabet, 25)
		}
		s, err := BuildMerchantCode(c)
		if err != nil {
			// Only the 99-character template limit may refuse a random set: three 25-character
			// labels do not fit in template 62 with room to spare, but they always do (3×29).
			t.Fatalf("#%d BuildMerchantCode(%+v): %v", i, c, err)
		}
		p, err := Parse(s)
		if err != nil || !p.Valid() {
			t.Fatalf("#%d Parse(%q) = %+v, %v", i, s, p, err)
		}
		want := map[string]string{
			"01": map[bool]string{true: "12", false: "11"}[c.Dynamic], "15": c.UnionPayAccount, "52": c.MCC,
			"53": cur.Numeric(), "58": "CN", "59": c.Name, "60": c.City,
			"62.05": c.ReferenceLabel, "62.07": c.TerminalLabel, "62.03": c.StoreLabel,
			"64.00": "", "64.01": c.NameZH, "64.02": c.CityZH, "54": "",
		}
		if c.NameZH != "" {
			want["64.00"] = "ZH"
		}
		if c.Dynamic {
			want["54"] = c.Amount.Decimal()
			got, err := qrpay.ParseDecimal(p.Field("54"), cur.Exponent())
			if err != nil || got != c.Amount.Amount {
				t.Errorf("#%d amount %q parses to %d, %v; want %d", i, p.Field("54"), got, err, c.Amount.Amount)
			}
		}
		for path, v := range want {
			if got := p.Field(path); got != v {
				t.Errorf("#%d Field(%s) = %q, want %q", i, path, got, v)
			}
		}
		// Parse -> Build is the identity on our own codes too.
		if again, err := Build(withoutCRC(p.Objects)); err != nil || again != s {
			t.Errorf("#%d rebuild = %q, %v", i, again, err)
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxPayloadChars {
			t.Errorf("#%d payload %q", i, s)
		}
	}
}

func randomAlnum(r *rand.Rand, n int) string {
	const a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = a[r.Intn(len(a))]
	}
	return string(b)
}

// TestBuildObjectsRandom builds random root object sets (templates with multi-byte names
// included) and checks Build -> Parse gives the same objects back.
func TestBuildObjectsRandom(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for i := range 500 {
		objs := base()
		if r.Intn(2) == 0 {
			objs = without(objs, "01", "54")
		}
		if r.Intn(2) == 0 {
			objs = append(objs, Object{fmt.Sprint(26 + r.Intn(26)), tlvs(Object{"00", randomText(r, ansAlphabet, 32)}, Object{"01", randomText(r, ansAlphabet, 40)})})
		}
		if r.Intn(2) == 0 {
			objs = append(objs, Object{"64", tlvs(Object{"00", "ZH"}, Object{"01", randomText(r, mixAlphabet, 25)}, Object{"02", randomText(r, mixAlphabet, 15)})})
		}
		if r.Intn(2) == 0 {
			objs = append(objs, Object{"61", randomText(r, ansAlphabet, 10)})
		}
		if r.Intn(2) == 0 {
			objs = append(objs, Object{fmt.Sprint(80 + r.Intn(20)), tlvs(Object{"00", "cn.qrpay"}, Object{"01", randomText(r, mixAlphabet, 80)})})
		}
		r.Shuffle(len(objs)-1, func(a, b int) { objs[a+1], objs[b+1] = objs[b+1], objs[a+1] })
		s, err := Build(objs)
		if err != nil {
			t.Fatalf("#%d Build(%q): %v", i, objs, err)
		}
		p, err := Parse(s)
		if err != nil || !p.Valid() {
			t.Fatalf("#%d Parse(%q) = %+v, %v", i, s, p, err)
		}
		if got := withoutCRC(p.Objects); !slices.Equal(got, objs) {
			t.Fatalf("#%d objects %q, want %q", i, got, objs)
		}
	}
}

func TestBuildMerchantCodeErrors(t *testing.T) {
	static := MerchantCode{
		UnionPayAccount: testAccount, MCC: "5812", Currency: "CNY", Name: "XIAOCHI DIAN", City: "SHANGHAI",
	}
	dynamic := static
	dynamic.Dynamic, dynamic.Currency = true, ""
	dynamic.Amount = qrpay.Money{Amount: 2372, Currency: "CNY"}
	dynamic.ReferenceLabel = "01j9zzzzzzzzzzzzzzzzzzzzz" // 25 characters: a whole qrpay id (30) does not fit
	for _, c := range []MerchantCode{static, dynamic} {
		if _, err := BuildMerchantCode(c); err != nil {
			t.Fatalf("BuildMerchantCode(%+v): %v", c, err)
		}
	}
	s, _ := BuildMerchantCode(dynamic)
	p, _ := Parse(s)
	if p.Field("54") != "23.72" || p.Field("53") != "156" || p.Field("01") != "12" || p.Field("62.05") != dynamic.ReferenceLabel {
		t.Errorf("dynamic code %s", s)
	}
	s, _ = BuildMerchantCode(static)
	p, _ = Parse(s)
	if _, ok := p.Get("54"); ok || p.Field("01") != "11" || p.Field("58") != "CN" {
		t.Errorf("static code %s", s)
	}
	for _, c := range []struct {
		param string
		edit  func(*MerchantCode)
	}{
		{"UnionPayAccount", func(c *MerchantCode) { c.UnionPayAccount = "123" }},
		{"UnionPayAccount", func(c *MerchantCode) { c.UnionPayAccount = "2031041X00520446JDBMSZZXE44BFS0" }},
		{"UnionPayAccount", func(c *MerchantCode) { c.UnionPayAccount = "2031041800520446JDBMSZZXE44BF-0" }},
		{"MCC", func(c *MerchantCode) { c.MCC = "581" }},
		{"Amount", func(c *MerchantCode) { c.Amount = qrpay.Money{Amount: 1, Currency: "CNY"} }},
		{"Currency", func(c *MerchantCode) { c.Currency = "EUR" }},
		{"Currency", func(c *MerchantCode) { c.Currency = "" }},
		{"Country", func(c *MerchantCode) { c.Country = "cn" }},
		{"Name", func(c *MerchantCode) { c.Name = "" }},
		{"Name", func(c *MerchantCode) { c.Name = "小吃店" }},
		{"Name", func(c *MerchantCode) { c.Name = strings.Repeat("N", 26) }},
		{"City", func(c *MerchantCode) { c.City = strings.Repeat("C", 16) }},
		{"NameZH", func(c *MerchantCode) { c.NameZH = strings.Repeat("小", 26) }},
		{"NameZH", func(c *MerchantCode) { c.CityZH = "上海" }},
		{"NameZH", func(c *MerchantCode) { c.NameZH = "小\x00吃" }},
		{"CityZH", func(c *MerchantCode) { c.NameZH, c.CityZH = "小吃店", strings.Repeat("海", 16) }},
		{"StoreLabel", func(c *MerchantCode) { c.StoreLabel = strings.Repeat("s", 26) }},
		{"TerminalLabel", func(c *MerchantCode) { c.TerminalLabel = "收银台" }},
	} {
		m := static
		c.edit(&m)
		if _, err := BuildMerchantCode(m); !qrpay.IsCode(err, qrpay.EINVALID) || qrpay.ErrorParam(err) != c.param {
			t.Errorf("static %+v: %v; want EINVALID for %s", m, err, c.param)
		}
	}
	for _, c := range []struct {
		param string
		edit  func(*MerchantCode)
	}{
		{"Amount", func(c *MerchantCode) { c.Amount.Amount = 0 }},
		{"Amount", func(c *MerchantCode) { c.Amount.Amount = -5 }},
		{"Currency", func(c *MerchantCode) { c.Currency = "USD" }},
		{"Currency", func(c *MerchantCode) { c.Amount.Currency = "XXX" }},
		{"ReferenceLabel", func(c *MerchantCode) { c.ReferenceLabel = "" }},
		{"ReferenceLabel", func(c *MerchantCode) { c.ReferenceLabel = strings.Repeat("r", 26) }},
	} {
		m := dynamic
		c.edit(&m)
		if _, err := BuildMerchantCode(m); !qrpay.IsCode(err, qrpay.EINVALID) || qrpay.ErrorParam(err) != c.param {
			t.Errorf("dynamic %+v: %v; want EINVALID for %s", m, err, c.param)
		}
	}
}

func TestEncodeObjects(t *testing.T) {
	v, err := EncodeObjects([]Object{{"00", "ZH"}, {"01", "最佳运输"}})
	if err != nil || v != "0002ZH0104最佳运输" {
		t.Fatalf("EncodeObjects = %q, %v", v, err)
	}
	if _, err := EncodeObjects([]Object{{"00", strings.Repeat("x", 99)}}); !qrpay.IsCode(err, qrpay.EINVALID) {
		t.Errorf("a 103-character template: %v", err)
	}
	if _, err := EncodeObjects([]Object{{"0", "x"}}); !qrpay.IsCode(err, qrpay.EINVALID) {
		t.Errorf("a one-digit ID: %v", err)
	}
}
