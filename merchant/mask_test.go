package merchant

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMask(t *testing.T) {
	tests := []struct {
		fn       func(string) string
		in, want string
	}{
		{MaskResidentID, "11010519491231002X", "1101**********002X"},
		{MaskResidentID, "110105491231002", "1101*******1002"},
		{MaskResidentID, "11010519491231", "**************"},
		{MaskResidentID, "1101", "****"},
		{MaskResidentID, "1", "*"},
		{MaskResidentID, "", ""},

		{MaskBankAccount, "6226090000000048", "****0048"},
		{MaskBankAccount, "110060149018001234567", "****4567"},
		{MaskBankAccount, "12345678", "****5678"},
		{MaskBankAccount, "1234567", "****"},
		{MaskBankAccount, "1", "****"},
		{MaskBankAccount, "", ""},

		{MaskPhone, "13893100000", "138****0000"},
		{MaskPhone, "8613893100000", "861******0000"},
		{MaskPhone, "1389310000", "**********"},
		{MaskPhone, "138", "***"},
		{MaskPhone, "", ""},

		{MaskName, "马某某", "马**"},
		{MaskName, "马某", "马*"},
		{MaskName, "买买提·艾力", "买*****"},
		{MaskName, "John Smith", "J*********"},
		{MaskName, "马", "*"},
		{MaskName, "", ""},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMaskNeverRevealsMuch runs every function over inputs of every length up to 40 runes,
// ASCII, Chinese and invalid UTF-8: no panic, valid UTF-8 out, never more characters shown than
// the rule allows, and none at all for input shorter than the rule needs.
func TestMaskNeverRevealsMuch(t *testing.T) {
	for _, m := range []struct {
		name string
		fn   func(string) string
		max  int // characters that may show
		min  int // shorter input shows nothing
	}{
		{"MaskResidentID", MaskResidentID, 8, 15},
		{"MaskBankAccount", MaskBankAccount, 4, 8},
		{"MaskPhone", MaskPhone, 7, 11},
		{"MaskName", MaskName, 1, 2},
	} {
		for _, unit := range []string{"7", "马", "\xff"} {
			for n := 0; n <= 40; n++ {
				in := strings.Repeat(unit, n)
				out := m.fn(in)
				if !utf8.ValidString(out) {
					t.Errorf("%s(%q) = %q is not UTF-8", m.name, in, out)
				}
				shown := utf8.RuneCountInString(out) - strings.Count(out, "*")
				if shown > m.max || (n < m.min && shown > 0) {
					t.Errorf("%s of %d runes shows %d: %q", m.name, n, shown, out)
				}
				if n == 0 && out != "" {
					t.Errorf("%s(\"\") = %q", m.name, out)
				}
			}
		}
	}
}
