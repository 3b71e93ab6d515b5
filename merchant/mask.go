package merchant

import "strings"

// Masking of personal data for pages, API responses and logs. Every function counts runes, so
// that it never splits a character, never panics, and returns "" for "". For input too short
// to keep the usual characters while hiding enough of the rest, it shows no character at all:
// masking never reveals more than the rule allows.

// maskMiddle keeps the first keep and last keepLast runes of s and replaces the rest with '*',
// if at least minHidden runes are hidden that way; otherwise it replaces every rune.
func maskMiddle(s string, keep, keepLast, minHidden int) string {
	r := []rune(s)
	n := len(r)
	if n-keep-keepLast < minHidden {
		return strings.Repeat("*", n)
	}
	return string(r[:keep]) + strings.Repeat("*", n-keep-keepLast) + string(r[n-keepLast:])
}

// MaskResidentID keeps the first 4 (province and city) and the last 4 characters of an ID
// number: "11010519491231002X" becomes "1101**********002X". The birth date is always hidden;
// an input shorter than 15 characters is masked entirely.
func MaskResidentID(id string) string { return maskMiddle(id, 4, 4, 7) }

// MaskBankAccount shows only the last 4 digits of an account number, after four stars that do
// not reveal its length: "6226090000000048" becomes "****0048". An input shorter than 8
// characters becomes "****".
func MaskBankAccount(account string) string {
	r := []rune(account)
	switch {
	case len(r) == 0:
		return ""
	case len(r) < 8:
		return "****"
	default:
		return "****" + string(r[len(r)-4:])
	}
}

// MaskPhone keeps the first 3 and last 4 digits of a mobile number: "13893100000" becomes
// "138****0000". An input shorter than 11 characters is masked entirely.
func MaskPhone(phone string) string { return maskMiddle(phone, 3, 4, 4) }

// MaskName keeps the first character of a person's name (the family name of a Chinese name)
// and hides the rest: "马某某" becomes "马**". A one-character input is masked entirely.
func MaskName(name string) string { return maskMiddle(name, 1, 0, 1) }
