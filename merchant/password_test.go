package merchant

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/qrpay/qrpay"
)

// cheapParams keep the tests that are about parsing fast.
var cheapParams = argonParams{memory: 64, time: 1, threads: 1, saltLen: 16, keyLen: 32}

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestPasswordHash(t *testing.T) {
	const pw = "correct horse battery staple"
	hash, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(hash) {
		t.Errorf("hash %q is not PHC argon2id with the current parameters", hash)
	}
	ok, rehash, err := CheckPassword(hash, pw)
	if !ok || rehash || err != nil {
		t.Errorf("CheckPassword(right) = %v, %v, %v", ok, rehash, err)
	}
	ok, rehash, err = CheckPassword(hash, pw+" ")
	if ok || rehash || err != nil {
		t.Errorf("CheckPassword(wrong) = %v, %v, %v", ok, rehash, err)
	}
	hash2, _ := HashPassword(pw)
	if hash2 == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// TestPasswordKnownAnswer checks the encoding against argon2.IDKey directly, so that hashes
// stay readable by any PHC-conforming implementation.
func TestPasswordKnownAnswer(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("password"), salt, 1, 64, 1, 32)
	hash := "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" + base64.RawStdEncoding.EncodeToString(key)
	ok, rehash, err := CheckPassword(hash, "password")
	if !ok || !rehash || err != nil {
		t.Errorf("CheckPassword(known) = %v, %v, %v", ok, rehash, err)
	}
}

func TestPasswordRehash(t *testing.T) {
	for _, p := range []argonParams{
		cheapParams,
		{memory: 19 * 1024, time: 1, threads: 1, saltLen: 16, keyLen: 32},
		{memory: 64, time: 2, threads: 2, saltLen: 16, keyLen: 32},
		{memory: 64, time: 1, threads: 1, saltLen: 8, keyLen: 16},
	} {
		hash, err := hashPassword("an old password", p)
		if err != nil {
			t.Fatal(err)
		}
		ok, rehash, err := CheckPassword(hash, "an old password")
		if !ok || !rehash || err != nil {
			t.Errorf("%+v: CheckPassword = %v, %v, %v; want a match that needs rehashing", p, ok, rehash, err)
		}
		ok, rehash, _ = CheckPassword(hash, "another password")
		if ok || rehash {
			t.Errorf("%+v: wrong password matched or asked for a rehash", p)
		}
	}
}

func TestPasswordMalformedHash(t *testing.T) {
	good, err := hashPassword("pw", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, bad := range []string{
		"",
		"pw",
		"$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", // bcrypt
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,x=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=7,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=255$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10],
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "==",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "*",
	} {
		ok, rehash, err := CheckPassword(bad, "pw")
		if ok || rehash || qrpay.ErrorCode(err) != qrpay.EINTERNAL || !errors.Is(err, errBadHash) {
			t.Errorf("CheckPassword(%q) = %v, %v, %v; want an EINTERNAL error", bad, ok, rehash, err)
		}
	}
	if ok, _, err := CheckPassword(good, "pw"); !ok || err != nil {
		t.Errorf("the unaltered hash does not match: %v", err)
	}
}

func TestPasswordStrength(t *testing.T) {
	tests := []struct {
		pw   string
		rule *FieldRule
	}{
		{"correct horse battery staple", nil},
		{"Tr0ub4dor&3", nil},
		{"gateway2026", nil},
		{"老王面馆收银台密码1", nil},
		{"abcdefghiJ", nil},
		{"", ErrPasswordTooShort},
		{"Abc123!@#", ErrPasswordTooShort},
		{"老王面馆收银台密码", ErrPasswordTooShort}, // 9 characters, 27 bytes
		{strings.Repeat("aB", 128), nil},
		{strings.Repeat("aB", 128) + "c", ErrPasswordTooLong},
		{"abcdefghij", ErrPasswordOneClass},
		{"ABCDEFGHIJKL", ErrPasswordOneClass},
		{"1234567890", ErrPasswordOneClass},
		{"!@#$%^&*()", ErrPasswordOneClass},
		{"老王面馆收银台的密码", ErrPasswordOneClass},
		{"password123", ErrPasswordCommon},
		{"Password123", ErrPasswordCommon},
		{"PASSWORD1234", ErrPasswordCommon},
		{"1qaz2wsx3edc", ErrPasswordCommon},
		{"woaini1314", ErrPasswordCommon},
		{"Qwerty123456", ErrPasswordCommon},
		{"qrpay123456", ErrPasswordCommon},
	}
	for _, tt := range tests {
		wantRule(t, tt.pw, CheckPasswordStrength(tt.pw), tt.rule, "password")
	}
	for pw := range commonPasswords {
		if pw != strings.ToLower(pw) {
			t.Errorf("common password %q is not in lower case", pw)
		}
		if CheckPasswordStrength(pw) == nil {
			t.Errorf("common password %q accepted", pw)
		}
	}
}

// BenchmarkHashPassword measures one hash at the current parameters. The baselines in the same
// run are the argon2id unit of work (one pass over 19 MiB) and a plain SHA-256, to express the
// cost as ratios on a shared machine.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, _ := CheckPassword(hash, "correct horse battery staple"); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkPasswordBaselineArgon2OnePass(b *testing.B) {
	salt := make([]byte, 16)
	for b.Loop() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, 1, 19*1024, 1, 32)
	}
}

func BenchmarkPasswordBaselineSHA256(b *testing.B) {
	for b.Loop() {
		sha256.Sum256([]byte("correct horse battery staple"))
	}
}
