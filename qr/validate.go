package qr

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// rootRule is the format and size of a root data object (EMV MPM Table 3.6).
type rootRule struct {
	numeric bool // N: digits only
	ans     bool // ans: the EMV common character set
	exact   int  // the length must be exactly this many characters
	max     int  // the length must be at most this many characters
}

// rootRules covers the primitive root objects; templates and the 02-51 range are handled apart.
var rootRules = map[string]rootRule{
	"00": {numeric: true, exact: 2},
	"01": {numeric: true, exact: 2},
	"52": {numeric: true, exact: 4},
	"53": {numeric: true, exact: 3},
	"54": {ans: true, max: 13},
	"55": {numeric: true, exact: 2},
	"56": {ans: true, max: 13},
	"57": {ans: true, max: 5},
	"58": {ans: true, exact: 2},
	"59": {ans: true, max: 25},
	"60": {ans: true, max: 15},
	"61": {ans: true, max: 10},
	"63": {ans: true, exact: 4},
}

// mandatory root tags other than the 02-51 merchant account range, in the order problems are
// reported.
var mandatory = []string{"00", "52", "53", "58", "59", "60", "63"}

// checker collects problems and warnings.
type checker struct{ problems, warnings []Problem }

func (c *checker) add(tag, format string, args ...any) {
	c.problems = append(c.problems, Problem{Tag: tag, Message: fmt.Sprintf(format, args...)})
}

// warn records a deviation that deployed schemes make and wallets accept: a merchant name or
// city longer than the spec's display limit, an additional-data request outside A/M/E, a fee
// value that its indicator (tag 55) says to ignore. They are reported but do not make a code
// invalid, so that codes in circulation (and the public vectors that treat them as conformant)
// read as they are paid. Build refuses them all the same.
func (c *checker) warn(tag, format string, args ...any) {
	c.warnings = append(c.warnings, Problem{Tag: tag, Message: fmt.Sprintf(format, args...)})
}

// validate applies the EMVCo MPM rules (PROTOCOLS.md 1.1-1.5) to a parsed payload.
func validate(p *Payload, tlvs []tlv) (problems, warnings []Problem) {
	c := &checker{}
	// Structure: ID format, empty values, duplicates, positions.
	c.objects("", tlvs)
	for i, t := range tlvs {
		if t.id == "00" && i != 0 {
			c.add("00", "tag 00 must be the first object")
		}
		if t.id == "63" && i != len(tlvs)-1 {
			c.add("63", "tag 63 must be the last object")
		}
	}
	// Mandatory objects.
	for _, id := range mandatory {
		if _, ok := p.Get(id); !ok {
			c.add(id, "missing mandatory tag %s", id)
		}
		if id == "00" && !hasAccount(p) {
			c.add("02-51", "missing merchant account information (at least one of tags 02-51)")
		}
	}
	// Each root object on its own.
	seen := map[string]bool{}
	for _, t := range tlvs {
		if seen[t.id] {
			continue // duplicates are reported once, by objects
		}
		seen[t.id] = true
		c.root(p, t.id, t.value)
	}
	// Rules across objects.
	c.convenienceFee(p)
	if n := utf8.RuneCountInString(p.Raw); n > MaxPayloadChars {
		c.add("", "payload is longer than %d characters (%d)", MaxPayloadChars, n)
	}
	return c.problems, c.warnings
}

// hasAccount reports whether any of the merchant account tags 02-51 is present.
func hasAccount(p *Payload) bool {
	for _, o := range p.Objects {
		if n, ok := twoDigits(o.ID); ok && n >= 2 && n <= 51 {
			return true
		}
	}
	return false
}

// objects checks the ID format, non-empty values and uniqueness of the objects at one level;
// prefix is "" for the root and "62." and so on inside templates.
func (c *checker) objects(prefix string, tlvs []tlv) {
	count := map[string]int{}
	for _, t := range tlvs {
		tag := prefix + t.id
		if _, ok := twoDigits(t.id); !ok {
			c.add(tag, "tag %s: the ID must be two digits", tag)
		}
		if t.value == "" {
			c.add(tag, "tag %s has length 00; values are 1 to 99 characters", tag)
		}
		count[t.id]++
		if count[t.id] == 2 {
			c.add(tag, "tag %s appears more than once", tag)
		}
	}
}

// format checks a value against N or ans and a length rule.
func (c *checker) format(tag, v string, r rootRule) {
	n := utf8.RuneCountInString(v)
	if r.numeric && !isNumeric(v) {
		c.add(tag, "tag %s must contain only digits", tag)
	}
	if r.ans && !isANS(v) {
		c.add(tag, "tag %s must contain only EMV common characters (printable ASCII)", tag)
	}
	if r.exact > 0 && n != r.exact {
		c.add(tag, "tag %s must be %d characters long, not %d", tag, r.exact, n)
	}
	if r.max > 0 && n > r.max {
		if tag == "59" || tag == "60" || tag == "62.09" {
			c.warn(tag, "tag %s is longer than %d characters (%d)", tag, r.max, n)
		} else {
			c.add(tag, "tag %s is longer than %d characters (%d)", tag, r.max, n)
		}
	}
}

// root checks one root object.
func (c *checker) root(p *Payload, id, v string) {
	if v == "" {
		return // reported by objects
	}
	if r, ok := rootRules[id]; ok {
		c.format(id, v, r)
	}
	n, _ := twoDigits(id)
	switch {
	case id == "00":
		if v != "01" {
			c.add(id, "tag 00 (payload format indicator) must be \"01\", not %q", v)
		}
	case id == "01":
		if v != "11" && v != "12" {
			c.add(id, "tag 01 (point of initiation) must be \"11\" (static) or \"12\" (dynamic), not %q", v)
		}
	case id == "54":
		c.amount(id, v, currencyExponent(p))
	case id == "55":
		if v != "01" && v != "02" && v != "03" {
			c.add(id, "tag 55 (tip or convenience indicator) must be \"01\", \"02\" or \"03\", not %q", v)
		}
	case id == "63":
		c.crc(p, v)
	case n >= 2 && n <= 25:
		if !isANS(v) {
			c.add(id, "tag %s must contain only EMV common characters (printable ASCII)", id)
		}
	case n >= 26 && n <= 51:
		if !isANS(v) {
			c.add(id, "tag %s must contain only EMV common characters (printable ASCII)", id)
		}
		c.guiTemplate(id, v)
	case n >= 80 && n <= 99:
		c.guiTemplate(id, v)
	case id == "62":
		c.additionalData(v)
	case id == "64":
		c.language(v)
	}
}

// crc checks tag 63's format and value.
func (c *checker) crc(p *Payload, v string) {
	hex, upper := true, true
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'F':
		case r >= 'a' && r <= 'f':
			upper = false
		default:
			hex = false
		}
	}
	if !hex || !upper || len(v) != 4 {
		c.add("63", "tag 63 (CRC) must be 4 upper-case hex digits, not %q", v)
	}
	if hex && len(v) == 4 && !p.CRCValid && len(p.Objects) > 0 && p.Objects[len(p.Objects)-1].ID == "63" {
		last := p.Raw[:len(p.Raw)-len(v)]
		c.add("63", "tag 63 (CRC) does not match: stated %s, computed %s", strings.ToUpper(v), crcHex(CRC16([]byte(last))))
	}
}

// amount checks a transaction amount or fixed fee (4.7.4.1): non-zero, digits with an optional
// single "." and, when the currency is known, no more decimals than its exponent.
func (c *checker) amount(tag, v string, exp int) {
	whole, frac, _ := strings.Cut(v, ".")
	if whole+frac == "" || !isNumeric(whole) || !isNumeric(frac) {
		c.add(tag, "tag %s must be digits with an optional single \".\", not %q", tag, v)
		return
	}
	if strings.Trim(whole+frac, "0") == "" {
		c.add(tag, "tag %s must not be zero", tag)
	}
	if exp >= 0 && len(frac) > exp {
		c.add(tag, "tag %s has %d decimals; the currency in tag 53 has %d", tag, len(frac), exp)
	}
}

// convenienceFee checks tags 55, 56 and 57 together (Table 3.6).
func (c *checker) convenienceFee(p *Payload) {
	ind, _ := p.Get("55")
	fixed, hasFixed := p.Get("56")
	pct, hasPct := p.Get("57")
	switch {
	case ind == "02" && !hasFixed:
		c.add("56", "tag 56 (fixed convenience fee) must be present when tag 55 is \"02\"")
	case ind != "02" && hasFixed:
		c.warn("56", "tag 56 (fixed convenience fee) must be absent unless tag 55 is \"02\"")
	case hasFixed && fixed != "":
		c.amount("56", fixed, currencyExponent(p))
	}
	switch {
	case ind == "03" && !hasPct:
		c.add("57", "tag 57 (convenience fee percentage) must be present when tag 55 is \"03\"")
	case ind != "03" && hasPct:
		c.warn("57", "tag 57 (convenience fee percentage) must be absent unless tag 55 is \"03\"")
	case hasPct && pct != "":
		whole, frac, _ := strings.Cut(pct, ".")
		switch {
		case whole+frac == "" || !isNumeric(whole) || !isNumeric(frac):
			c.add("57", "tag 57 must be digits with an optional single \".\", not %q", pct)
		case strings.Trim(whole+frac, "0") == "":
			c.add("57", "tag 57 must not be zero")
		case len(strings.TrimLeft(whole, "0")) > 2:
			c.add("57", "tag 57 must be a percentage below 100")
		}
	}
}

// subObjects parses a template value; a value that does not parse is one problem.
func (c *checker) subObjects(id, v string) ([]tlv, bool) {
	tlvs, err := parseTLV(v)
	if err != nil {
		c.add(id, "tag %s is not a valid template: %s", id, err.Error())
		return nil, false
	}
	c.objects(id+".", tlvs)
	return tlvs, true
}

func firstSub(tlvs []tlv, id string) (string, bool) {
	for _, t := range tlvs {
		if t.id == id {
			return t.value, true
		}
	}
	return "", false
}

// guiTemplate checks a payment system template (26-51, 80-99, 62.50-99): it holds sub-ID 00, a
// globally unique identifier of at most 32 characters.
func (c *checker) guiTemplate(id, v string) {
	tlvs, ok := c.subObjects(id, v)
	if !ok {
		return
	}
	gui, ok := firstSub(tlvs, "00")
	switch {
	case !ok:
		c.add(id+".00", "missing mandatory tag %s.00 (globally unique identifier)", id)
	case utf8.RuneCountInString(gui) > 32:
		c.add(id+".00", "tag %s.00 (globally unique identifier) is longer than 32 characters", id)
	}
}

// additionalData checks template 62 (Table 3.7).
func (c *checker) additionalData(v string) {
	tlvs, ok := c.subObjects("62", v)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, t := range tlvs {
		n, ok := twoDigits(t.id)
		if !ok || seen[t.id] || t.value == "" {
			continue
		}
		seen[t.id] = true
		tag := "62." + t.id
		switch {
		case n >= 1 && n <= 8:
			c.format(tag, t.value, rootRule{ans: true, max: 25})
		case n == 9:
			c.format(tag, t.value, rootRule{ans: true, max: 3})
			if !consumerDataRequest(t.value) {
				c.warn(tag, "tag 62.09 must combine \"A\", \"M\" and \"E\", each at most once, not %q", t.value)
			}
		case n >= 50:
			c.guiTemplate(tag, t.value)
		}
	}
}

func consumerDataRequest(v string) bool {
	seen := map[rune]bool{}
	for _, r := range v {
		if r != 'A' && r != 'M' && r != 'E' || seen[r] {
			return false
		}
		seen[r] = true
	}
	return true
}

// language checks template 64 (Table 3.8).
func (c *checker) language(v string) {
	tlvs, ok := c.subObjects("64", v)
	if !ok {
		return
	}
	if lang, ok := firstSub(tlvs, "00"); !ok {
		c.add("64.00", "missing mandatory tag 64.00 (language preference)")
	} else if lang != "" {
		c.format("64.00", lang, rootRule{ans: true, exact: 2})
	}
	if name, ok := firstSub(tlvs, "01"); !ok {
		c.add("64.01", "missing mandatory tag 64.01 (merchant name in the alternate language)")
	} else {
		c.format("64.01", name, rootRule{max: 25})
	}
	if city, ok := firstSub(tlvs, "02"); ok {
		c.format("64.02", city, rootRule{max: 15})
	}
}

func isNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isANS reports whether s holds only the EMV common character set (Book 4 Annex B): the
// printable ASCII characters from space to tilde.
func isANS(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}
