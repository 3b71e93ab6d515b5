package qrpay

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Currency is an ISO 4217 alphabetic code, such as "CNY".
type Currency string

// CNY is the Chinese yuan renminbi, qrpay's home currency.
const CNY Currency = "CNY"

// currencyInfo is what qrpay knows of a supported currency.
type currencyInfo struct {
	numeric  string // ISO 4217 numeric code, as EMV tag 53 carries it
	exponent int    // number of minor-unit digits
	symbol   string
}

// currencies are the currencies qrpay supports. The providers settle in CNY; the others are
// accepted for cross-border merchants whose channel account supports them.
var currencies = map[Currency]currencyInfo{
	"CNY": {"156", 2, "¥"},
	"HKD": {"344", 2, "HK$"},
	"USD": {"840", 2, "US$"},
	"JPY": {"392", 0, "JP¥"},
}

// ParseCurrency returns the supported currency for code, or an EINVALID error naming param.
func ParseCurrency(param, code string) (Currency, error) {
	c := Currency(code)
	if _, ok := currencies[c]; !ok {
		return "", Invalid(param, "Unsupported currency %q; use an ISO 4217 code such as CNY.", code)
	}
	return c, nil
}

// Valid reports whether c is a supported currency.
func (c Currency) Valid() bool { _, ok := currencies[c]; return ok }

// Exponent returns the number of minor-unit digits of c (2 for CNY).
func (c Currency) Exponent() int { return currencies[c].exponent }

// Numeric returns the ISO 4217 numeric code of c ("156" for CNY).
func (c Currency) Numeric() string { return currencies[c].numeric }

// CurrencyByNumeric returns the supported currency with the ISO 4217 numeric code.
func CurrencyByNumeric(numeric string) (Currency, bool) {
	for c, info := range currencies {
		if info.numeric == numeric {
			return c, true
		}
	}
	return "", false
}

// Money is an amount in the currency's minor units (fen for CNY). No floats touch money.
type Money struct {
	Amount   int64    `json:"amount"`
	Currency Currency `json:"currency"`
}

// String formats m like "¥12.34".
func (m Money) String() string {
	return currencies[m.Currency].symbol + FormatMinor(m.Amount, m.Currency.Exponent())
}

// Decimal formats m in major units with the currency's decimals, like "12.34", as providers
// and EMV tag 54 want it.
func (m Money) Decimal() string { return FormatMinor(m.Amount, m.Currency.Exponent()) }

// FormatMinor formats an amount of minor units with exp decimals: FormatMinor(1234, 2) = "12.34".
func FormatMinor(amount int64, exp int) string {
	neg := amount < 0
	u := uint64(amount)
	if neg {
		u = uint64(-(amount + 1)) + 1 // safe for math.MinInt64
	}
	s := strconv.FormatUint(u, 10)
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// ParseDecimal parses a non-negative decimal amount in major units ("12.34", "12", "12.") into
// minor units with exp decimals. More decimals than exp, signs, exponents, separators and
// overflow are errors.
func ParseDecimal(s string, exp int) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("amount %q has no digits", s)
	}
	if len(frac) > exp {
		return 0, fmt.Errorf("amount %q has more than %d decimals", s, exp)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q is not a plain decimal number", s)
		}
	}
	frac += strings.Repeat("0", exp-len(frac))
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(digits, 10, 63)
	if err != nil || v > math.MaxInt64 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	return int64(v), nil
}

// AddAmounts returns a + b, or an error when the sum would overflow int64.
func AddAmounts(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, Errorf(EINVALID, "Amount overflows.")
	}
	return s, nil
}
