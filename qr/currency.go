package qr

// exponents maps ISO 4217 numeric currency codes to their number of minor-unit digits, for the
// currencies found on EMV MPM codes in the region and the world's major ones. A code not listed
// is "unknown" and its amounts are not checked for decimals.
var exponents = map[string]int{
	// No minor unit.
	"108": 0, "152": 0, "174": 0, "262": 0, "324": 0, "352": 0, "392": 0, "410": 0, "548": 0,
	"600": 0, "646": 0, "704": 0, "800": 0, "950": 0, "952": 0, "953": 0,
	// Three decimals.
	"048": 3, "368": 3, "400": 3, "414": 3, "434": 3, "512": 3, "788": 3,
	// Two decimals.
	"036": 2, "050": 2, "104": 2, "116": 2, "124": 2, "144": 2, "156": 2, "203": 2, "208": 2,
	"344": 2, "348": 2, "356": 2, "360": 2, "376": 2, "398": 2, "404": 2, "418": 2, "446": 2,
	"458": 2, "484": 2, "496": 2, "524": 2, "554": 2, "566": 2, "578": 2, "586": 2, "608": 2,
	"643": 2, "682": 2, "702": 2, "710": 2, "752": 2, "756": 2, "764": 2, "784": 2, "818": 2,
	"826": 2, "840": 2, "901": 2, "949": 2, "978": 2, "985": 2, "986": 2,
}

// currencyExponent returns the exponent of the payload's tag 53 currency, or -1 when the
// currency is absent or unknown.
func currencyExponent(p *Payload) int {
	code, _ := p.Get("53")
	if e, ok := exponents[code]; ok {
		return e
	}
	return -1
}
