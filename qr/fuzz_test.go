package qr

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, CRCValid is never claimed for a CRC that does not match the
// text before it, and a valid payload is rebuilt byte for byte by Build.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		if strings.HasPrefix(v.Kind, "emv_mpm") {
			var s string
			_ = jsonString(v.Input, &s)
			f.Add(s)
		}
	}
	f.Add(raw(base()...))
	f.Add(raw(with(base(), Object{"64", tlvs(Object{"00", "ZH"}, Object{"01", "最佳运输"})})...))
	f.Add("")
	f.Add("0002016304")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned both a payload and an error")
			}
			return
		}
		if p.CRCValid {
			i := strings.LastIndex(s, "6304")
			if i < 0 || i+8 != len(s) {
				t.Fatalf("CRCValid for %q without a final 6304xxxx", s)
			}
			stated, err := strconv.ParseUint(s[i+4:], 16, 16)
			if err != nil || uint16(stated) != CRC16([]byte(s[:i+4])) {
				t.Fatalf("CRCValid for %q whose CRC does not match", s)
			}
		}
		if p.Valid() && len(p.Warnings) == 0 {
			got, err := Build(withoutCRC(p.Objects))
			if err != nil || got != s {
				t.Fatalf("Build(Parse(%q)) = %q, %v", s, got, err)
			}
		}
		r := NewReport(p)
		if r.Errors == nil || r.Valid != p.Valid() {
			t.Fatalf("report %+v", r)
		}
		_ = p.Field("62.05")
		for _, o := range p.Objects {
			if IsTemplate(o.ID) {
				_, _ = p.Template(o.ID)
			}
		}
	})
}
