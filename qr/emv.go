package qr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
)

// MaxPayloadChars is the longest payload EMVCo allows, in characters (4.1). Longer payloads
// still parse, with a Problem.
const MaxPayloadChars = 512

// maxParseBytes bounds the text Parse reads at all; anything longer is an error rather than a
// payload with problems. It leaves room for a 512-character payload of 4-byte characters.
const maxParseBytes = 4096

// Object is one EMV data object: a two-digit ID and its value. Template values are kept as
// their raw strings; Payload.Template parses them.
type Object struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// Problem is one broken EMVCo conformance rule. Tag names the data object ("59", "62.05", or
// "02-51" for the merchant account range) and is "" for rules about the whole payload. Message
// names the tag as well, so it reads on its own.
type Problem struct {
	Tag     string `json:"tag"`
	Message string `json:"message"`
}

// Payload is a parsed EMV MPM payload.
type Payload struct {
	// Raw is the text as given to Parse.
	Raw string
	// Objects are the root data objects in the order they appear, tag 63 included.
	Objects []Object
	// CRC is the value of tag 63 as written ("" when absent).
	CRC string
	// CRCValid says only whether the last object is tag 63 and its value matches the
	// CRC-16/CCITT-FALSE of the UTF-8 bytes of everything before it (its own "6304" included).
	// Hex case is ignored here; lower case is a Problem.
	CRCValid bool
	// Problems are the strict EMVCo conformance problems; empty means conformant.
	Problems []Problem
	// Warnings are deviations that codes in circulation make and wallets accept (an over-long
	// name or city, an additional-data request outside A/M/E, a fee its indicator ignores):
	// reported, but not making the code invalid.
	Warnings []Problem
}

// Parse reads an EMV MPM payload. It returns an EINVALID error only when the text cannot be
// read as ID-length-value data objects at all: empty, longer than 4096 bytes, not UTF-8, a
// length field that is not two digits, or an object cut short. Everything else, a wrong, absent
// or non-hex CRC included, yields a Payload whose CRCValid and Problems say what is wrong.
func Parse(s string) (*Payload, error) {
	if s == "" {
		return nil, qrpay.Invalid("payload", "empty payload")
	}
	if len(s) > maxParseBytes {
		return nil, qrpay.Invalid("payload", "payload is longer than %d bytes", maxParseBytes)
	}
	if !utf8.ValidString(s) {
		return nil, qrpay.Invalid("payload", "payload is not valid UTF-8")
	}
	tlvs, err := parseTLV(s)
	if err != nil {
		return nil, qrpay.Invalid("payload", "%s", err.Error())
	}
	p := &Payload{Raw: s, Objects: make([]Object, len(tlvs))}
	for i, t := range tlvs {
		p.Objects[i] = Object{ID: t.id, Value: t.value}
	}
	if last := tlvs[len(tlvs)-1]; last.id == "63" {
		p.CRC = last.value
		if len(last.value) == 4 {
			if stated, err := strconv.ParseUint(last.value, 16, 16); err == nil {
				p.CRCValid = uint16(stated) == CRC16([]byte(s[:last.start]))
			}
		}
	} else if v, ok := p.Get("63"); ok {
		p.CRC = v
	}
	p.Problems, p.Warnings = validate(p, tlvs)
	return p, nil
}

// Valid reports whether the CRC matches and the payload conforms to EMVCo MPM.
func (p *Payload) Valid() bool { return p.CRCValid && len(p.Problems) == 0 }

// Get returns the value of the first root object with the ID.
func (p *Payload) Get(id string) (string, bool) {
	for _, o := range p.Objects {
		if o.ID == id {
			return o.Value, true
		}
	}
	return "", false
}

// IsTemplate reports whether a root ID is a template whose value holds data objects: 26-51
// (merchant account templates), 62 (additional data), 64 (language template) and 80-99.
func IsTemplate(id string) bool {
	n, ok := twoDigits(id)
	return ok && (n >= 26 && n <= 51 || n == 62 || n == 64 || n >= 80)
}

// Template returns the data objects inside the root template tag id. It returns EINVALID when id
// is not a template ID or its value does not parse, and ENOTFOUND when the tag is absent.
func (p *Payload) Template(id string) ([]Object, error) {
	if !IsTemplate(id) {
		return nil, qrpay.Invalid("tag", "tag %s is not a template", id)
	}
	v, ok := p.Get(id)
	if !ok {
		return nil, qrpay.Errorf(qrpay.ENOTFOUND, "tag %s is absent", id)
	}
	tlvs, err := parseTLV(v)
	if err != nil {
		return nil, qrpay.Invalid("tag", "tag %s is not a valid template: %s", id, err.Error())
	}
	objs := make([]Object, len(tlvs))
	for i, t := range tlvs {
		objs[i] = Object{ID: t.id, Value: t.value}
	}
	return objs, nil
}

// Field returns the value at a dotted path of IDs, such as "59", "62.05" or "62.50.00", or ""
// when any step is absent or does not parse.
func (p *Payload) Field(path string) string {
	ids := strings.Split(path, ".")
	v, ok := p.Get(ids[0])
	if !ok {
		return ""
	}
	for _, id := range ids[1:] {
		tlvs, err := parseTLV(v)
		if err != nil {
			return ""
		}
		found := false
		for _, t := range tlvs {
			if t.id == id {
				v, found = t.value, true
				break
			}
		}
		if !found {
			return ""
		}
	}
	return v
}

// tlv is one parsed data object with the byte offset of its value in the parsed string.
type tlv struct {
	id, value string
	start     int // byte offset of the value
	pos       int // character offset of the object's ID
}

// parseTLV splits s into data objects. The header is four characters (two of ID, two of
// length); the length counts characters. Offsets in errors are in characters.
func parseTLV(s string) ([]tlv, error) {
	if s == "" {
		return nil, fmt.Errorf("no data objects")
	}
	var out []tlv
	i, pos := 0, 0 // byte and character offsets
	for i < len(s) {
		var hdr [4]rune
		j := i
		for k := range hdr {
			if j >= len(s) {
				return nil, fmt.Errorf("truncated header at %d", pos)
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			hdr[k] = r
			j += size
		}
		if !isDigit(hdr[2]) || !isDigit(hdr[3]) {
			return nil, fmt.Errorf("bad length field %q at %d", string(hdr[2:]), pos+2)
		}
		n := int(hdr[2]-'0')*10 + int(hdr[3]-'0')
		id := s[i : i+len(string(hdr[0]))+len(string(hdr[1]))]
		start := j
		for k := 0; k < n; k++ {
			if j >= len(s) {
				return nil, fmt.Errorf("truncated value of tag %s at %d", id, pos+4+k)
			}
			_, size := utf8.DecodeRuneInString(s[j:])
			j += size
		}
		out = append(out, tlv{id: id, value: s[start:j], start: start, pos: pos})
		i = j
		pos += 4 + n
	}
	return out, nil
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// twoDigits parses an ID of exactly two ASCII digits.
func twoDigits(id string) (int, bool) {
	if len(id) != 2 || !isDigit(rune(id[0])) || !isDigit(rune(id[1])) {
		return 0, false
	}
	return int(id[0]-'0')*10 + int(id[1]-'0'), true
}

// crcTable is the CRC-16/CCITT-FALSE table (polynomial 0x1021, MSB first).
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC-16/CCITT-FALSE of data (ISO/IEC 13239: polynomial 0x1021, initial value
// 0xFFFF, no reflection, no final XOR), as EMV tag 63 carries it. CRC16([]byte("123456789")) is
// 0x29B1.
func CRC16(data []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range data {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^b]
	}
	return crc
}

// crcHex formats a CRC as tag 63 writes it: four upper-case hex digits.
func crcHex(c uint16) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{hex[c>>12], hex[c>>8&15], hex[c>>4&15], hex[c&15]})
}
