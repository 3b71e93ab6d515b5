package merchant

// KYC checks for a merchant application (CONTRACT.md "Operator API").
//
// Every Check function returns nil or a *qrpay.Error with Code qrpay.EINVALID, Param the field's
// JSON name (uscc, legal_person_id, phone, ...) and an English Message that is safe to show. The
// error's cause (its Err) is the *FieldRule that failed: a stable message key such as
// "uscc.check" plus the default Param and the English message. So the web layer needs nothing
// new to map the error to 400 invalid, and a form that speaks Chinese looks up the key:
//
//	if err := merchant.CheckUSCC(form.USCC); err != nil {
//		field, key := qrpay.ErrorParam(err), merchant.MessageKey(err) // "uscc", "uscc.check"
//		...
//	}
//
// FieldRules lists every rule, so a message catalog can be tested for completeness; errors.Is
// compares an error with one rule (errors.Is(err, merchant.ErrUSCCCheck)). Problems collects one
// error per field for a whole form.
//
// Messages never carry the value or the check character it should have had: an error must not
// help anyone forge a number that passes.
//
// The Normalize functions return the canonical form to store (trimmed, upper-case X, digits
// only, 18-digit resident ID) and the same error as the Check function.

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
)

// FieldRule is one rule an input field must obey. It is the cause of every error a Check
// function returns. Key is stable, "<kind>.<rule>", and is what message catalogs translate;
// Param is the JSON field the rule applies to by default; Message is the English text.
type FieldRule struct {
	Key     string
	Param   string
	Message string
}

// Error returns the rule's key, so that a logged error names the rule that failed.
func (r *FieldRule) Error() string { return r.Key }

// invalid returns the EINVALID error that reports r.
func (r *FieldRule) invalid() error {
	return &qrpay.Error{Code: qrpay.EINVALID, Message: r.Message, Param: r.Param, Err: r}
}

// FieldRules lists every rule of this package in declaration order, warnings included.
var FieldRules []*FieldRule

func newRule(key, param, message string) *FieldRule {
	r := &FieldRule{Key: key, Param: param, Message: message}
	FieldRules = append(FieldRules, r)
	return r
}

// MessageKey returns the key of the first FieldRule in err's chain, or "" if there is none.
func MessageKey(err error) string {
	var r *FieldRule
	if errors.As(err, &r) {
		return r.Key
	}
	return ""
}

// Rules of the unified social credit code (GB 32100-2015), field "uscc".
var (
	ErrUSCCLength     = newRule("uscc.length", "uscc", "The unified social credit code must be 18 characters long.")
	ErrUSCCCharset    = newRule("uscc.charset", "uscc", "The unified social credit code may contain only digits and the capital letters A-H, J-N, P-R, T, U, W, X and Y.")
	ErrUSCCAuthority  = newRule("uscc.authority", "uscc", "The first character of the unified social credit code is not a known registration authority.")
	ErrUSCCEntityType = newRule("uscc.entity_type", "uscc", "The second character of the unified social credit code is not an entity type of its registration authority.")
	ErrUSCCRegion     = newRule("uscc.region", "uscc", "Characters 3 to 8 of the unified social credit code are not an administrative division code.")
	ErrUSCCOrgCode    = newRule("uscc.org_code", "uscc", "The organization code in the unified social credit code (characters 9 to 17) is mistyped: its check character does not match.")
	ErrUSCCCheck      = newRule("uscc.check", "uscc", "The unified social credit code is mistyped: its last character does not match.")
)

// Rules of the resident ID number (GB 11643-1999), field "legal_person_id".
var (
	ErrResidentIDLength     = newRule("resident_id.length", "legal_person_id", "The ID number must be 18 characters long (or 15 digits for an old card).")
	ErrResidentIDCharset    = newRule("resident_id.charset", "legal_person_id", "The ID number may contain only digits, and X as its last character.")
	ErrResidentIDRegion     = newRule("resident_id.region", "legal_person_id", "The ID number does not start with a known region code.")
	ErrResidentIDBirthDate  = newRule("resident_id.birth_date", "legal_person_id", "The birth date in the ID number (characters 7 to 14) is not a real date.")
	ErrResidentIDBirthRange = newRule("resident_id.birth_range", "legal_person_id", "The birth date in the ID number is in the future or before 1900.")
	ErrResidentIDCheck      = newRule("resident_id.check", "legal_person_id", "The ID number is mistyped: its last character does not match.")
)

// Rules of the mainland mobile number, field "phone".
var (
	ErrPhoneFormat = newRule("phone.format", "phone", "The mobile number must be 11 digits, optionally after +86.")
	ErrPhonePrefix = newRule("phone.prefix", "phone", "The mobile number must start with 13 to 19.")
)

// Rules of the settlement bank account, field "bank_account". WarnBankAccountLuhn is a
// warning, never an error: CheckBankAccount returns its Message as the warning.
var (
	ErrBankAccountCharset = newRule("bank_account.charset", "bank_account", "The bank account number may contain only digits.")
	ErrBankAccountLength  = newRule("bank_account.length", "bank_account", "The bank account number must be 12 to 30 digits long.")
	WarnBankAccountLuhn   = newRule("bank_account.luhn", "bank_account", "Please check the bank account number: it fails the usual card check digit, which some accounts legitimately do.")
)

// Rules of the merchant category code, field "mcc".
var (
	ErrMCCFormat  = newRule("mcc.format", "mcc", "The merchant category code must be 4 digits.")
	ErrMCCUnknown = newRule("mcc.unknown", "mcc", "The merchant category code is not one that qrpay accepts.")
)

// Rules of the free-text fields. Each field has a required, a length and a characters rule.
var (
	ErrLegalNameRequired   = newRule("legal_name.required", "legal_name", "The registered business name is required.")
	ErrLegalNameLength     = newRule("legal_name.length", "legal_name", "The registered business name must be 2 to 100 characters long.")
	ErrLegalNameCharacters = newRule("legal_name.characters", "legal_name", "The registered business name contains control or invisible characters.")

	ErrShortNameRequired   = newRule("short_name.required", "short_name", "The short name shown to customers is required.")
	ErrShortNameLength     = newRule("short_name.length", "short_name", "The short name shown to customers must be 2 to 20 characters long.")
	ErrShortNameCharacters = newRule("short_name.characters", "short_name", "The short name shown to customers contains control or invisible characters.")

	ErrPersonNameRequired   = newRule("person_name.required", "legal_person_name", "The legal representative's name is required.")
	ErrPersonNameLength     = newRule("person_name.length", "legal_person_name", "The legal representative's name must be 2 to 30 characters long.")
	ErrPersonNameCharacters = newRule("person_name.characters", "legal_person_name", "The legal representative's name may contain only letters, with a middle dot (·), space, hyphen, apostrophe or period between the parts.")

	ErrAddressRequired   = newRule("address.required", "address", "The address is required.")
	ErrAddressLength     = newRule("address.length", "address", "The address must be 2 to 200 characters long.")
	ErrAddressCharacters = newRule("address.characters", "address", "The address contains control or invisible characters.")

	ErrCityRequired   = newRule("city.required", "city", "The city is required.")
	ErrCityLength     = newRule("city.length", "city", "The city must be 2 to 50 characters long.")
	ErrCityCharacters = newRule("city.characters", "city", "The city contains control or invisible characters.")

	ErrBankNameRequired   = newRule("bank_name.required", "bank_name", "The bank name is required.")
	ErrBankNameLength     = newRule("bank_name.length", "bank_name", "The bank name must be 2 to 100 characters long.")
	ErrBankNameCharacters = newRule("bank_name.characters", "bank_name", "The bank name contains control or invisible characters.")
)

// ---- Unified social credit code ----

// usccChars is the GB 32100 character set, in value order: no I, O, S, V or Z.
const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccEntityTypes maps each registration authority code (GB 32100-2015 appendix A) to the
// entity type codes it issues:
//
//	1 institutional staffing (机构编制): 1 government body, 2 public institution, 3 mass organisation, 9 other
//	2 foreign affairs (外交): 1 resident foreign news agency, 9 other
//	3 justice (司法行政): 1 law firm, 2 notary, 3 grassroots legal service, 4 forensic institute, 5 arbitration commission, 9 other
//	4 culture (文化): 1 foreign cultural centre, 9 other
//	5 civil affairs (民政): 1 social group, 2 private non-enterprise unit, 3 foundation, 9 other
//	6 tourism (旅游): 1 foreign tourism office, 2 Hong Kong, Macau or Taiwan tourism office, 9 other
//	7 religion (宗教): 1 place of worship, 2 religious school, 9 other
//	8 trade unions (工会): 1 grassroots union, 9 other
//	9 market regulation (工商): 1 enterprise, 2 individual business (个体工商户), 3 farmers' cooperative
//	A military (中央军委改革和编制办公室): 1 military public institution, 9 other
//	N agriculture (农业): 1 group, 2 village, 3 township collective economic organisation, 9 other
//	Y other authorities: the standard lists no types, so any digit 1-9 is accepted.
var usccEntityTypes = map[byte]string{
	'1': "1239",
	'2': "19",
	'3': "123459",
	'4': "19",
	'5': "1239",
	'6': "129",
	'7': "129",
	'8': "19",
	'9': "123",
	'A': "19",
	'N': "1239",
	'Y': "123456789",
}

// NormalizeUSCC returns s trimmed and in upper case if it is a valid unified social credit
// code, and otherwise the error CheckUSCC returns.
func NormalizeUSCC(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 18 {
		return "", ErrUSCCLength.invalid()
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(usccChars, s[i]) < 0 {
			return "", ErrUSCCCharset.invalid()
		}
	}
	types, ok := usccEntityTypes[s[0]]
	if !ok {
		return "", ErrUSCCAuthority.invalid()
	}
	if strings.IndexByte(types, s[1]) < 0 {
		return "", ErrUSCCEntityType.invalid()
	}
	region := s[2:8]
	if !allDigits(region) || !(region[:2] == "10" || provinces[region[:2]]) {
		return "", ErrUSCCRegion.invalid()
	}
	if orgCodeCheck(s[8:16]) != s[16] {
		return "", ErrUSCCOrgCode.invalid()
	}
	if usccCheck(s[:17]) != s[17] {
		return "", ErrUSCCCheck.invalid()
	}
	return s, nil
}

// CheckUSCC checks a unified social credit code (统一社会信用代码, GB 32100-2015), in this
// order: 18 characters (after trimming; lower case is accepted), the GB 32100 character set,
// the registration authority (character 1) and the entity type it issues (character 2), an
// administrative division code (characters 3-8: six digits starting with a province-level code,
// or 10 for national registrations), the GB 11714 organization code check (characters 9-17), and
// the check character (18). The error's rule says which of these failed.
func CheckUSCC(s string) error {
	_, err := NormalizeUSCC(s)
	return err
}

// usccCheck returns the GB 32100 check character of the 17 characters of body, which must be
// in usccChars.
func usccCheck(body string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(usccChars, body[i]) * usccWeights[i]
	}
	return usccChars[(31-sum%31)%31]
}

var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// orgCodeCheck returns the GB 11714 check character of an 8-character organization code body
// (digits are worth 0-9, letters A-Z 10-35), or 0 if body holds another character.
func orgCodeCheck(body string) byte {
	sum := 0
	for i := 0; i < 8; i++ {
		c := body[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		default:
			return 0
		}
		sum += v * orgWeights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// ---- Resident ID ----

// provinces are the province-level codes that start a region code: the 31 mainland provinces,
// autonomous regions and municipalities of GB/T 2260, its 71 (Taiwan), 81 (Hong Kong) and 82
// (Macau), and 83, which with 81 and 82 starts the residence permits of Hong Kong, Macau and
// Taiwan residents (810000, 820000, 830000).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// mainland reports whether code is one of the 31 mainland province-level codes.
func mainland(code string) bool { return provinces[code] && code < "70" }

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// residentIDCheck returns the GB 11643 check character of 17 digits.
func residentIDCheck(body string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

// earliestBirth is the first birth date accepted.
var earliestBirth = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// NormalizeResidentID returns the canonical 18-character form of a resident ID number: trimmed,
// with an upper-case X, and a 15-digit number of the first-generation card converted to 18
// characters (century 19 inserted before the birth year, check character appended). It checks
// everything CheckResidentID does except that the birth date is not after today, which needs a
// clock; call CheckResidentID to validate input.
//
// Region codes: an ID must start with a province-level code (see provinces: 11-15, 21-23,
// 31-37, 41-46, 50-54, 61-65, 71, 81, 82, 83), except that a number starting with 9 is the
// foreigner's permanent residence ID card of the 2023 format, "9" + the issuing province's code
// + a 3-digit nationality code + birth date + sequence + check, whose characters 2-3 must be a
// mainland province code. So 820000... (a Macau resident's residence permit) and 932682...
// (permanent residence issued in Jiangsu, 32) are accepted, while 93 is not taken to be a region
// of its own and 91 ("abroad" in some old tables) is no region either.
func NormalizeResidentID(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch len(s) {
	case 18:
		if !allDigits(s[:17]) || !(isDigit(s[17]) || s[17] == 'X' || s[17] == 'x') {
			return "", ErrResidentIDCharset.invalid()
		}
		s = s[:17] + strings.ToUpper(s[17:])
	case 15:
		if !allDigits(s) {
			return "", ErrResidentIDCharset.invalid()
		}
		body := s[:6] + "19" + s[6:]
		s = body + string(residentIDCheck(body))
	default:
		return "", ErrResidentIDLength.invalid()
	}
	if s[0] == '9' {
		if !mainland(s[1:3]) {
			return "", ErrResidentIDRegion.invalid()
		}
	} else if !provinces[s[:2]] {
		return "", ErrResidentIDRegion.invalid()
	}
	birth, ok := parseDate(s[6:14])
	if !ok {
		return "", ErrResidentIDBirthDate.invalid()
	}
	if birth.Before(earliestBirth) {
		return "", ErrResidentIDBirthRange.invalid()
	}
	if residentIDCheck(s[:17]) != s[17] {
		return "", ErrResidentIDCheck.invalid()
	}
	return s, nil
}

// CheckResidentID checks a mainland resident ID number (居民身份证号, GB 11643-1999) — or a
// residence permit or foreigner's permanent residence ID number, which share its format — as of
// today: 18 characters (or 15 digits of a first-generation card), digits with an optional X
// (or x) last, a known region code (see NormalizeResidentID), a real birth date in characters
// 7-14 that is not before 1900 and not after today's date in today's location, and the check
// character. Store NormalizeResidentID(s), not s.
func CheckResidentID(s string, today time.Time) error {
	id, err := NormalizeResidentID(s)
	if err != nil {
		return err
	}
	birth, _ := parseDate(id[6:14])
	y, m, d := today.Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return ErrResidentIDBirthRange.invalid()
	}
	return nil
}

// BirthDate returns the birth date in a resident ID number (18 or 15 characters), as midnight
// UTC, or the error NormalizeResidentID returns.
func BirthDate(id string) (time.Time, error) {
	id, err := NormalizeResidentID(id)
	if err != nil {
		return time.Time{}, err
	}
	birth, _ := parseDate(id[6:14])
	return birth, nil
}

// parseDate parses eight digits YYYYMMDD as a date at midnight UTC, reporting whether it is a
// real date.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 8 || !allDigits(s) {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102", s)
	return t, err == nil
}

// ---- Phone ----

// NormalizePhone returns a mainland mobile number as 11 digits: spaces and hyphens are
// removed, and a leading +86, 0086 or 86 (followed by 11 digits) is dropped. It returns the
// error CheckPhone returns if the result is not a mobile number.
func NormalizePhone(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u3000' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(s, "+86"):
		s = s[3:]
	case strings.HasPrefix(s, "0086"):
		s = s[4:]
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		s = s[2:]
	}
	if len(s) != 11 || !allDigits(s) {
		return "", ErrPhoneFormat.invalid()
	}
	if s[0] != '1' || s[1] < '3' {
		return "", ErrPhonePrefix.invalid()
	}
	return s, nil
}

// CheckPhone checks a mainland mobile number: after NormalizePhone, 11 digits matching
// ^1[3-9]\d{9}$. Store NormalizePhone(s), not s.
func CheckPhone(s string) error {
	_, err := NormalizePhone(s)
	return err
}

// ---- Bank account ----

// NormalizeBankAccount returns a bank account number with spaces and hyphens removed (people
// copy numbers grouped in fours), or the error CheckBankAccount returns.
func NormalizeBankAccount(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u3000' {
			return -1
		}
		return r
	}, s)
	if s != "" && !allDigits(s) {
		return "", ErrBankAccountCharset.invalid()
	}
	if len(s) < 12 || len(s) > 30 {
		return "", ErrBankAccountLength.invalid()
	}
	return s, nil
}

// CheckBankAccount checks a settlement bank account number (a card number or a corporate
// account number): digits only after NormalizeBankAccount, 12 to 30 of them. A number that
// fails the Luhn check is not an error, because many domestic account numbers do not use it:
// it returns the message of WarnBankAccountLuhn as a warning for the form to show.
func CheckBankAccount(s string) (warning string, err error) {
	s, err = NormalizeBankAccount(s)
	if err != nil {
		return "", err
	}
	if !Luhn(s) {
		return WarnBankAccountLuhn.Message, nil
	}
	return "", nil
}

// Luhn reports whether s is two or more ASCII digits whose last digit is the Luhn (mod 10)
// check digit of the rest.
func Luhn(s string) bool {
	if len(s) < 2 || !allDigits(s) {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ---- MCC ----

// CheckMCC checks a merchant category code: 4 digits that are in MCCs.
func CheckMCC(code string) error {
	code = strings.TrimSpace(code)
	if len(code) != 4 || !allDigits(code) {
		return ErrMCCFormat.invalid()
	}
	if _, ok := LookupMCC(code); !ok {
		return ErrMCCUnknown.invalid()
	}
	return nil
}

// ---- Free text ----

// textField is the rules and bounds of one free-text field; lengths count runes of the
// trimmed value.
type textField struct {
	min, max                int
	required, length, chars *FieldRule
	allowed                 func(string) bool // extra character rule, nil for none
}

var (
	legalNameField  = textField{2, 100, ErrLegalNameRequired, ErrLegalNameLength, ErrLegalNameCharacters, nil}
	shortNameField  = textField{2, 20, ErrShortNameRequired, ErrShortNameLength, ErrShortNameCharacters, nil}
	personNameField = textField{2, 30, ErrPersonNameRequired, ErrPersonNameLength, ErrPersonNameCharacters, personNameOK}
	addressField    = textField{2, 200, ErrAddressRequired, ErrAddressLength, ErrAddressCharacters, nil}
	cityField       = textField{2, 50, ErrCityRequired, ErrCityLength, ErrCityCharacters, nil}
	bankNameField   = textField{2, 100, ErrBankNameRequired, ErrBankNameLength, ErrBankNameCharacters, nil}
)

func (f textField) check(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return f.required.invalid()
	}
	if !printable(s) {
		return f.chars.invalid()
	}
	if n := utf8.RuneCountInString(s); n < f.min || n > f.max {
		return f.length.invalid()
	}
	if f.allowed != nil && !f.allowed(s) {
		return f.chars.invalid()
	}
	return nil
}

// CheckLegalName checks the registered business name (field legal_name): 2 to 100 characters
// after trimming, no control or invisible characters.
func CheckLegalName(s string) error { return legalNameField.check(s) }

// CheckShortName checks the short name shown to customers on the cashier page and in their
// wallet (field short_name): 2 to 20 characters after trimming, no control or invisible
// characters.
func CheckShortName(s string) error { return shortNameField.check(s) }

// CheckPersonName checks the legal representative's name (field legal_person_name): 2 to 30
// characters after trimming, made of letters (Chinese or other scripts, with their combining
// marks) in parts separated by one middle dot "·" (as in ethnic-minority and transliterated
// foreign names: 买买提·艾力), space, hyphen, apostrophe or period (a period may be followed by
// a space: "J. Smith"); no digits, and no separator first or last.
func CheckPersonName(s string) error { return personNameField.check(s) }

// CheckAddress checks a business address (field address): 2 to 200 characters after trimming,
// no control or invisible characters.
func CheckAddress(s string) error { return addressField.check(s) }

// CheckCity checks a city name (field city): 2 to 50 characters after trimming, no control or
// invisible characters.
func CheckCity(s string) error { return cityField.check(s) }

// CheckBankName checks the name of the settlement account's bank or branch (field bank_name):
// 2 to 100 characters after trimming, no control or invisible characters.
func CheckBankName(s string) error { return bankNameField.check(s) }

// CleanText returns s trimmed, with each run of white space (tabs, line breaks and the
// ideographic space included) replaced by one ASCII space: the form in which free-text fields
// are stored and checked.
func CleanText(s string) string { return strings.Join(strings.Fields(s), " ") }

// printable reports whether s is valid UTF-8 with no control, format (zero-width and
// bidirectional marks), private-use, surrogate, line or paragraph separator character, and no
// U+FFFD replacement character.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp) {
			return false
		}
	}
	return true
}

// personNameOK reports whether s is letters in parts joined by single separators.
func personNameOK(s string) bool {
	var prev rune // the previous separator, or 0 after a letter
	for i, r := range s {
		switch {
		case unicode.IsLetter(r):
			prev = 0
		case unicode.IsMark(r):
			if i == 0 || prev != 0 {
				return false
			}
		case r == '·' || r == ' ' || r == '-' || r == '\'' || r == '.':
			if i == 0 || (prev != 0 && !(prev == '.' && r == ' ')) {
				return false
			}
			prev = r
		default:
			return false
		}
	}
	return prev == 0 || prev == '.'
}

// ---- Problems ----

// Problems collects the validation errors of a form, one per field, in the order they were
// added, so that a form can show every problem at once. The zero value is ready to use:
//
//	var p merchant.Problems
//	p.Add(merchant.CheckUSCC(a.USCC))
//	p.Add(merchant.CheckPhone(a.Phone))
//	p.AddAs("contact_phone", merchant.CheckPhone(a.ContactPhone))
//	if err := p.Err(); err != nil { return err }
//
// A *Problems is also an error: Err returns it wrapped, and a caller gets every field back with
// errors.As(err, &problems) and Fields or Keys.
type Problems struct {
	fields []*qrpay.Error
	other  error
}

// Add records err. A nil err is ignored; an EINVALID *qrpay.Error in err's chain is recorded
// under its Param unless that field already has one; any other error is kept, and Err returns
// the first of those instead, since it is not a problem with the input.
func (p *Problems) Add(err error) { p.add("", err) }

// AddAs records err like Add but under the field param, for a field that reuses a check
// (CheckPhone for a contact phone, say). The message key stays that of the rule.
func (p *Problems) AddAs(param string, err error) { p.add(param, err) }

func (p *Problems) add(param string, err error) {
	if err == nil {
		return
	}
	var e *qrpay.Error
	if !errors.As(err, &e) || e.Code != qrpay.EINVALID {
		if p.other == nil {
			p.other = err
		}
		return
	}
	if param != "" && param != e.Param {
		c := *e
		c.Param = param
		e = &c
	}
	for _, f := range p.fields {
		if f.Param == e.Param {
			return
		}
	}
	p.fields = append(p.fields, e)
}

// Len returns the number of fields with a problem.
func (p *Problems) Len() int { return len(p.fields) }

// Err returns nil if nothing was added. Otherwise it returns the first non-validation error
// added, if any, and else an EINVALID *qrpay.Error with the first field's Param and Message
// whose cause is a copy of p (so errors.As finds *Problems, and MessageKey the first field's
// key).
func (p *Problems) Err() error {
	if p.other != nil {
		return p.other
	}
	if len(p.fields) == 0 {
		return nil
	}
	first := p.fields[0]
	snapshot := &Problems{fields: append([]*qrpay.Error(nil), p.fields...)}
	return &qrpay.Error{Code: qrpay.EINVALID, Message: first.Message, Param: first.Param, Err: snapshot}
}

// Fields returns each field's English message by field name.
func (p *Problems) Fields() map[string]string {
	m := make(map[string]string, len(p.fields))
	for _, f := range p.fields {
		m[f.Param] = f.Message
	}
	return m
}

// Keys returns each field's message key by field name, for a form that translates messages.
// A field whose error came from outside this package has the key "".
func (p *Problems) Keys() map[string]string {
	m := make(map[string]string, len(p.fields))
	for _, f := range p.fields {
		m[f.Param] = MessageKey(f)
	}
	return m
}

// Error lists the fields and their messages.
func (p *Problems) Error() string {
	var b strings.Builder
	for i, f := range p.fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Param)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Unwrap returns the fields' errors, so that errors.Is(err, merchant.ErrPhonePrefix) holds for
// any field.
func (p *Problems) Unwrap() []error {
	errs := make([]error, len(p.fields))
	for i, f := range p.fields {
		errs[i] = f
	}
	return errs
}

// ---- digits ----

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// allDigits reports whether s is non-empty and all ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
