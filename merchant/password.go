package merchant

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/qrpay/qrpay"
)

// argonParams are argon2id cost parameters: memory in KiB, passes, lanes, and the lengths of
// the salt and the derived key in bytes.
type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	saltLen int
	keyLen  int
}

// passwordParams are the parameters HashPassword uses: OWASP's first argon2id configuration
// (m = 19 MiB, t = 2, p = 1), about 30 ms per hash on one core of a small server, with one lane
// so that a login takes one core of the two and concurrent logins do not starve each other.
var passwordParams = argonParams{memory: 19 * 1024, time: 2, threads: 1, saltLen: 16, keyLen: 32}

// Bounds on the parameters CheckPassword accepts from a stored hash, so that a corrupted or
// planted hash cannot make a login cost gigabytes or minutes.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 16
	maxArgonThreads = 16
)

// Rules of a new password, field "password".
var (
	ErrPasswordTooShort = newRule("password.too_short", "password", "The password must be at least 10 characters long.")
	ErrPasswordTooLong  = newRule("password.too_long", "password", "The password must be at most 256 characters long.")
	ErrPasswordOneClass = newRule("password.one_class", "password", "The password must mix at least two of: lower-case letters, capital letters, digits, and other characters.")
	ErrPasswordCommon   = newRule("password.common", "password", "This password is too common; please choose another.")
)

// errBadHash is the cause of CheckPassword's error for a stored hash it cannot read.
var errBadHash = errors.New("merchant: malformed argon2id password hash")

// HashPassword returns an argon2id hash of pw in the PHC string format,
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded standard base64), with a random
// 16-byte salt. It does not judge the password: call CheckPasswordStrength first when a user
// chooses one.
func HashPassword(pw string) (string, error) { return hashPassword(pw, passwordParams) }

func hashPassword(pw string, p argonParams) (string, error) {
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", qrpay.WrapError(qrpay.EINTERNAL, err, "Cannot hash the password.")
	}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(p.keyLen))
	var b strings.Builder
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.threads), 10))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(base64.RawStdEncoding.EncodeToString(key))
	return b.String(), nil
}

// CheckPassword reports whether pw matches hash, a PHC argon2id string from HashPassword,
// comparing the derived keys in constant time. needsRehash is true when pw matches but the
// hash was made with other parameters than HashPassword uses now: the caller should then store
// a fresh HashPassword(pw). A hash that cannot be read is an EINTERNAL error.
//
// To not reveal whether an account exists, a caller that finds no user should still spend the
// time of one check, for instance on a hash of a random password made at startup.
func CheckPassword(hash, pw string) (ok bool, needsRehash bool, err error) {
	p, salt, want, err := parsePasswordHash(hash)
	if err != nil {
		return false, false, qrpay.WrapError(qrpay.EINTERNAL, err, "Cannot check the password.")
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != passwordParams, nil
}

// parsePasswordHash parses "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parsePasswordHash(hash string) (p argonParams, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var m, t, par uint64
	for i, kv := range strings.Split(parts[3], ",") {
		name, val, ok := strings.Cut(kv, "=")
		if i > 2 || !ok || name != "mtp"[i:i+1] {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return p, nil, nil, errBadHash
		}
		switch i {
		case 0:
			m = n
		case 1:
			t = n
		case 2:
			par = n
		}
	}
	if par < 1 || par > maxArgonThreads || t < 1 || t > maxArgonTime || m < 8*par || m > maxArgonMemory {
		return p, nil, nil, errBadHash
	}
	salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, errBadHash
	}
	key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	p = argonParams{memory: uint32(m), time: uint32(t), threads: uint8(par), saltLen: len(salt), keyLen: len(key)}
	return p, salt, key, nil
}

// commonPasswords are frequently used passwords, in lower case, that pass the length and class
// rules but head every guessing list: keyboard walks, "password" and "admin" variants, and
// Chinese favourites (woaini, 5201314).
var commonPasswords = map[string]bool{
	"password12": true, "password123": true, "password1234": true, "password1!": true,
	"password!!": true, "passw0rd123": true, "p@ssw0rd123": true, "p@ssword123": true,
	"p@ssw0rd!!": true, "qwerty1234": true, "qwerty12345": true, "qwerty123456": true,
	"qwertyuiop1": true, "qwertyuiop123": true, "1qaz2wsx3edc": true, "1qaz2wsx3e": true,
	"1qaz@wsx3edc": true, "1q2w3e4r5t": true, "1q2w3e4r5t6y": true, "zaq12wsxcde3": true,
	"qweasdzxc123": true, "123qweasdzxc": true, "qweasd123456": true, "zxcvbnm123": true,
	"asdfghjkl1": true, "asdf123456": true, "a123456789": true, "a1234567890": true,
	"abc1234567": true, "abc123456789": true, "abcd123456": true, "abcd1234!@#$": true,
	"aa123456789": true, "qq123456789": true, "qaz123456789": true, "123456789a": true,
	"1234567890a": true, "123456abcd": true, "12345678abc": true, "iloveyou12": true,
	"iloveyou123": true, "woaini1314": true, "woaini520!": true, "woaini123456": true,
	"5201314abc": true, "5201314woaini": true, "admin12345": true, "admin123456": true,
	"admin@1234": true, "administrator1": true, "root123456": true, "welcome123": true,
	"welcome1234": true, "letmein123": true, "changeme123": true, "test123456": true,
	"football123": true, "baseball123": true, "superman123": true, "sunshine123": true,
	"princess123": true, "dragon12345": true, "monkey12345": true, "trustno1!!": true,
	"qrpay12345": true, "qrpay123456": true, "qrpay@1234": true,
}

// CheckPasswordStrength checks a password a user is choosing: at least 10 and at most 256
// characters, at least two classes among lower-case letters, capital letters, digits and
// anything else (symbols, spaces, Chinese characters), and not a common password (compared
// without regard to case). It returns nil or an EINVALID *qrpay.Error with Param "password"
// whose cause is one of the ErrPassword rules.
func CheckPasswordStrength(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < 10 {
		return ErrPasswordTooShort.invalid()
	}
	if n > 256 {
		return ErrPasswordTooLong.invalid()
	}
	var lower, upper, digit, other int
	for _, r := range pw {
		switch {
		case r >= 'a' && r <= 'z':
			lower = 1
		case r >= 'A' && r <= 'Z':
			upper = 1
		case r >= '0' && r <= '9':
			digit = 1
		default:
			other = 1
		}
	}
	if lower+upper+digit+other < 2 {
		return ErrPasswordOneClass.invalid()
	}
	if commonPasswords[strings.Map(unicode.ToLower, pw)] {
		return ErrPasswordCommon.invalid()
	}
	return nil
}
