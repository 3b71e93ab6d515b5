package qr

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
)

// Build encodes root data objects into an EMV MPM payload and appends the CRC ("6304" and four
// hex digits). Tag 00 is moved to the front; every other object keeps its order. Build refuses,
// with an EINVALID error whose Param names the offending tag, anything that would not parse as
// Valid(): a malformed object, a tag 63 of the caller's own, or any EMVCo conformance problem.
func Build(objs []Object) (string, error) {
	var sb strings.Builder
	size := 8
	for _, o := range objs {
		size += 4 + len(o.Value)
	}
	sb.Grow(size)
	write := func(o Object) error {
		if _, ok := twoDigits(o.ID); !ok {
			return qrpay.Invalid(o.ID, "tag %q: the ID must be two digits", o.ID)
		}
		if o.ID == "63" {
			return qrpay.Invalid(o.ID, "tag 63 (CRC) is computed by Build; leave it out")
		}
		if !utf8.ValidString(o.Value) {
			return qrpay.Invalid(o.ID, "tag %s is not valid UTF-8", o.ID)
		}
		n := utf8.RuneCountInString(o.Value)
		if n < 1 || n > 99 {
			return qrpay.Invalid(o.ID, "tag %s must be 1 to 99 characters, not %d", o.ID, n)
		}
		sb.WriteString(o.ID)
		if n < 10 {
			sb.WriteByte('0')
		}
		sb.WriteString(strconv.Itoa(n))
		sb.WriteString(o.Value)
		return nil
	}
	for _, o := range objs {
		if o.ID == "00" {
			if err := write(o); err != nil {
				return "", err
			}
		}
	}
	for _, o := range objs {
		if o.ID != "00" {
			if err := write(o); err != nil {
				return "", err
			}
		}
	}
	sb.WriteString("6304")
	s := sb.String()
	s += crcHex(CRC16([]byte(s)))
	p, err := Parse(s)
	if err != nil {
		return "", err
	}
	if !p.CRCValid {
		return "", qrpay.Errorf(qrpay.EINTERNAL, "built payload fails its own CRC")
	}
	if all := append(append([]Problem(nil), p.Problems...), p.Warnings...); len(all) > 0 {
		// qrpay issues only clean codes: warnings are refused too.
		pr := all[0]
		msg := make([]string, len(all))
		for i, pr := range all {
			msg[i] = pr.Message
		}
		param := pr.Tag
		if param == "" {
			param = "payload"
		}
		return "", qrpay.Invalid(param, "not a conformant EMV payload: %s", strings.Join(msg, "; "))
	}
	return s, nil
}

// MerchantCode describes an EMV MPM code that qrpay issues for a merchant on its UnionPay-style
// channel, with the merchant account in primitive tag 15.
type MerchantCode struct {
	// Dynamic selects point of initiation "12" (one code per payment) instead of "11" (static).
	Dynamic bool
	// UnionPayAccount is the tag 15 value: acquirer IIN (8 digits), forwarding IIN (8 digits)
	// and merchant id (15 letters or digits).
	UnionPayAccount string
	// MCC is the four-digit merchant category code (ISO 18245).
	MCC string
	// Amount is required (positive) for dynamic codes and must be zero for static ones, where
	// the customer enters the amount. Tag 53 comes from its currency, tag 54 is its decimal.
	Amount qrpay.Money
	// Currency is the currency of a static code; for a dynamic code it may be left empty and
	// must otherwise equal Amount.Currency.
	Currency qrpay.Currency
	// Country is the ISO 3166-1 alpha-2 country code; empty means "CN".
	Country string
	// Name and City are tags 59 and 60 in the EMV common character set (printable ASCII, such
	// as a pinyin transliteration), at most 25 and 15 characters.
	Name, City string
	// NameZH and CityZH, when NameZH is set, make template 64 with language "ZH" (at most 25
	// and 15 characters).
	NameZH, CityZH string
	// ReferenceLabel is tag 62.05; qrpay puts the payment id there, and dynamic codes need it.
	ReferenceLabel string
	// TerminalLabel is tag 62.07.
	TerminalLabel string
	// StoreLabel is tag 62.03.
	StoreLabel string
}

// BuildMerchantCode encodes c as an EMV MPM payload. Invalid fields are EINVALID errors whose
// Param is the MerchantCode field name ("Name", "Amount", ...).
func BuildMerchantCode(c MerchantCode) (string, error) {
	acct := c.UnionPayAccount
	if len(acct) != 31 || !isNumeric(acct[:16]) || !isAlnum(acct[16:]) {
		return "", qrpay.Invalid("UnionPayAccount", "the UnionPay account must be 8 + 8 digits (acquirer and forwarding IIN) and a 15-character merchant id")
	}
	if len(c.MCC) != 4 || !isNumeric(c.MCC) {
		return "", qrpay.Invalid("MCC", "the merchant category code must be 4 digits")
	}
	cur := c.Currency
	if c.Dynamic {
		if c.Amount.Amount <= 0 {
			return "", qrpay.Invalid("Amount", "a dynamic code needs a positive amount")
		}
		if cur != "" && cur != c.Amount.Currency {
			return "", qrpay.Invalid("Currency", "the currency %s differs from the amount's %s", cur, c.Amount.Currency)
		}
		cur = c.Amount.Currency
		if c.ReferenceLabel == "" {
			return "", qrpay.Invalid("ReferenceLabel", "a dynamic code needs a reference label (the payment id)")
		}
	} else if c.Amount.Amount != 0 {
		return "", qrpay.Invalid("Amount", "a static code carries no amount; the customer enters it")
	}
	if !cur.Valid() {
		return "", qrpay.Invalid("Currency", "unsupported currency %q", cur)
	}
	country := c.Country
	if country == "" {
		country = "CN"
	}
	if len(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' || country[1] > 'Z' {
		return "", qrpay.Invalid("Country", "the country must be an ISO 3166-1 alpha-2 code such as CN")
	}
	if err := ansField("Name", c.Name, 25); err != nil {
		return "", err
	}
	if err := ansField("City", c.City, 15); err != nil {
		return "", err
	}
	poi := "11"
	if c.Dynamic {
		poi = "12"
	}
	objs := []Object{{"00", "01"}, {"01", poi}, {"15", acct}, {"52", c.MCC}, {"53", cur.Numeric()}}
	if c.Dynamic {
		objs = append(objs, Object{"54", c.Amount.Decimal()})
	}
	objs = append(objs, Object{"58", country}, Object{"59", c.Name}, Object{"60", c.City})

	var add []Object
	for _, f := range []struct {
		param, id, v string
	}{{"StoreLabel", "03", c.StoreLabel}, {"ReferenceLabel", "05", c.ReferenceLabel}, {"TerminalLabel", "07", c.TerminalLabel}} {
		if f.v == "" {
			continue
		}
		if err := ansField(f.param, f.v, 25); err != nil {
			return "", err
		}
		add = append(add, Object{f.id, f.v})
	}
	if len(add) > 0 {
		v, err := encodeObjects("62", add)
		if err != nil {
			return "", err
		}
		objs = append(objs, Object{"62", v})
	}
	if c.NameZH != "" || c.CityZH != "" {
		if err := textField("NameZH", c.NameZH, 25); err != nil {
			return "", err
		}
		lang := []Object{{"00", "ZH"}, {"01", c.NameZH}}
		if c.CityZH != "" {
			if err := textField("CityZH", c.CityZH, 15); err != nil {
				return "", err
			}
			lang = append(lang, Object{"02", c.CityZH})
		}
		v, err := encodeObjects("64", lang)
		if err != nil {
			return "", err
		}
		objs = append(objs, Object{"64", v})
	}
	return Build(objs)
}

// EncodeObjects encodes data objects as ID, two-digit length in characters and value, without a
// CRC: the raw value of a template such as 62 or 64, to pass to Build as an Object's Value.
func EncodeObjects(objs []Object) (string, error) { return encodeObjects("template", objs) }

func encodeObjects(parent string, objs []Object) (string, error) {
	var sb strings.Builder
	for _, o := range objs {
		n := utf8.RuneCountInString(o.Value)
		if _, ok := twoDigits(o.ID); !ok || n < 1 || n > 99 || !utf8.ValidString(o.Value) {
			return "", qrpay.Invalid(parent, "%s: tag %q needs a two-digit ID and 1 to 99 characters of UTF-8", parent, o.ID)
		}
		sb.WriteString(o.ID)
		if n < 10 {
			sb.WriteByte('0')
		}
		sb.WriteString(strconv.Itoa(n))
		sb.WriteString(o.Value)
	}
	if n := utf8.RuneCountInString(sb.String()); n > 99 {
		return "", qrpay.Invalid(parent, "tag %s would be %d characters; the limit is 99", parent, n)
	}
	return sb.String(), nil
}

// ansField checks a required field in the EMV common character set.
func ansField(param, v string, max int) error {
	if v == "" {
		return qrpay.Invalid(param, "%s is required", param)
	}
	if !isANS(v) {
		return qrpay.Invalid(param, "%s must be printable ASCII (use a transliteration such as pinyin)", param)
	}
	if n := len(v); n > max {
		return qrpay.Invalid(param, "%s is %d characters; the limit is %d", param, n, max)
	}
	return nil
}

// textField checks a required field of any Unicode text, counted in characters.
func textField(param, v string, max int) error {
	if v == "" {
		return qrpay.Invalid(param, "%s is required", param)
	}
	if !utf8.ValidString(v) {
		return qrpay.Invalid(param, "%s is not valid UTF-8", param)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
			return qrpay.Invalid(param, "%s contains a control character", param)
		}
	}
	if n := utf8.RuneCountInString(v); n > max {
		return qrpay.Invalid(param, "%s is %d characters; the limit is %d", param, n, max)
	}
	return nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
