package merchant

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/qrpay/qrpay"
)

// testKey returns a fixed 32-byte key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func mustSealer(t *testing.T, keys map[string][]byte, current, index string) *Sealer {
	t.Helper()
	s, err := NewSealer(keys, current, index)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantOpenError fails t unless err is an EINTERNAL *qrpay.Error caused by cause.
func wantOpenError(t *testing.T, what string, err, cause error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: opened", what)
		return
	}
	if qrpay.ErrorCode(err) != qrpay.EINTERNAL || !errors.Is(err, cause) {
		t.Errorf("%s: got %v, want EINTERNAL caused by %v", what, err, cause)
	}
}

func TestSealRoundTrip(t *testing.T) {
	s := mustSealer(t, map[string][]byte{"k1": testKey(1)}, "k1", "k1")
	const ad = "merchant:mch_1:legal_person_id"
	for _, plain := range []string{"11010519491231002X", "", "马某某 · 6226090000000048", strings.Repeat("x", 10000)} {
		sealed, err := s.Seal(plain, ad)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1.k1.") || KeyID(sealed) != "k1" {
			t.Errorf("sealed value %.40q does not start v1.k1.", sealed)
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Error("plaintext visible in the sealed value")
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1.k1."))
		if err != nil || len(payload) != 12+len(plain)+16 {
			t.Errorf("payload of %d bytes (%v), want nonce, ciphertext and tag", len(payload), err)
		}
		got, err := s.Open(sealed, ad)
		if err != nil || got != plain {
			t.Errorf("Open = %.20q, %v; want %.20q", got, err, plain)
		}
	}
	a, _ := s.Seal("same", ad)
	b, _ := s.Seal("same", ad)
	if a == b {
		t.Error("two seals of the same plaintext are equal: the nonce is not random")
	}
}

func TestSealRejects(t *testing.T) {
	s := mustSealer(t, map[string][]byte{"k1": testKey(1)}, "k1", "k1")
	const ad = "merchant:mch_1:bank_account"
	sealed, err := s.Seal("6226090000000048", ad)
	if err != nil {
		t.Fatal(err)
	}

	// Another row or another field: the associated data differs.
	_, err = s.Open(sealed, "merchant:mch_2:bank_account")
	wantOpenError(t, "other row", err, ErrSealedAuth)
	_, err = s.Open(sealed, "merchant:mch_1:phone")
	wantOpenError(t, "other field", err, ErrSealedAuth)
	_, err = s.Open(sealed, "")
	wantOpenError(t, "no associated data", err, ErrSealedAuth)

	// Every single-character change of the payload is caught.
	prefix := "v1.k1."
	payload := sealed[len(prefix):]
	for i := range len(payload) {
		c := byte('A')
		if payload[i] == 'A' {
			c = 'B'
		}
		tampered := prefix + payload[:i] + string(c) + payload[i+1:]
		if _, err := s.Open(tampered, ad); err == nil {
			t.Fatalf("tampered payload at %d opened", i)
		} else if !errors.Is(err, ErrSealedAuth) && !errors.Is(err, ErrSealedMalformed) {
			t.Fatalf("tampered payload at %d: %v", i, err)
		}
	}

	// A different key under the same id does not open it either.
	other := mustSealer(t, map[string][]byte{"k1": testKey(2)}, "k1", "k1")
	_, err = other.Open(sealed, ad)
	wantOpenError(t, "other key, same id", err, ErrSealedAuth)

	for what, bad := range map[string]string{
		"empty":           "",
		"plaintext":       "6226090000000048",
		"no payload":      "v1.k1.",
		"version":         "v2.k1." + payload,
		"no version":      "k1." + payload,
		"bad key id":      "v1.k!1." + payload,
		"not base64url":   "v1.k1." + payload[:10] + "+/" + payload[12:],
		"short":           "v1.k1." + payload[:20],
		"padded base64":   "v1.k1." + payload + "==",
		"missing key id":  "v1.." + payload,
		"extra separator": "v1.k1.x." + payload,
	} {
		_, err := s.Open(bad, ad)
		wantOpenError(t, what, err, ErrSealedMalformed)
	}

	_, err = s.Open("v1.k9."+payload, ad)
	wantOpenError(t, "unknown key id", err, ErrUnknownKeyID)
}

func TestSealRotation(t *testing.T) {
	old := mustSealer(t, map[string][]byte{"k1": testKey(1)}, "k1", "k1")
	const ad = "merchant:mch_1:phone"
	sealed, err := old.Seal("13893100000", ad)
	if err != nil {
		t.Fatal(err)
	}
	blindBefore := old.Blind("13893100000", "phone")

	// A new key goes in front; the old one stays, and stays the index key.
	s, err := ParseKeys(FormatKey("k2", testKey(2)) + "," + FormatKey("k1", testKey(1)))
	if err != nil {
		t.Fatal(err)
	}
	if s.CurrentKeyID() != "k2" || s.IndexKeyID() != "k1" {
		t.Fatalf("current %s, index %s; want k2, k1", s.CurrentKeyID(), s.IndexKeyID())
	}
	if got, err := s.Open(sealed, ad); err != nil || got != "13893100000" {
		t.Fatalf("old value under the new key ring: %q, %v", got, err)
	}
	if !s.NeedsRotation(sealed) || old.NeedsRotation(sealed) {
		t.Error("NeedsRotation wrong for a value under the old key")
	}
	resealed, changed, err := s.Reseal(sealed, ad)
	if err != nil || !changed {
		t.Fatalf("Reseal: %v, changed %v", err, changed)
	}
	if KeyID(resealed) != "k2" || s.NeedsRotation(resealed) {
		t.Errorf("resealed under %q", KeyID(resealed))
	}
	if got, err := s.Open(resealed, ad); err != nil || got != "13893100000" {
		t.Errorf("resealed value: %q, %v", got, err)
	}
	if _, err := old.Open(resealed, ad); !errors.Is(err, ErrUnknownKeyID) {
		t.Errorf("old ring opened a value under k2: %v", err)
	}
	again, changed, err := s.Reseal(resealed, ad)
	if err != nil || changed || again != resealed {
		t.Errorf("Reseal of a current value: changed %v, %v", changed, err)
	}
	if _, _, err := s.Reseal(sealed, "merchant:mch_2:phone"); !errors.Is(err, ErrSealedAuth) {
		t.Errorf("Reseal with other associated data: %v", err)
	}
	if !s.NeedsRotation("garbage") || KeyID("garbage") != "" {
		t.Error("a malformed value does not need attention")
	}

	// Blind indexes do not change with the data key.
	if got := s.Blind("13893100000", "phone"); got != blindBefore {
		t.Errorf("blind index changed on rotation: %s != %s", got, blindBefore)
	}
	// Once k1 is retired from sealing but kept as the index key, nothing changes either.
	later := mustSealer(t, map[string][]byte{"k3": testKey(3), "k1": testKey(1)}, "k3", "k1")
	if later.Blind("13893100000", "phone") != blindBefore {
		t.Error("blind index changed with a third current key")
	}
}

func TestBlind(t *testing.T) {
	s := mustSealer(t, map[string][]byte{"k1": testKey(1), "k2": testKey(2)}, "k1", "k1")
	b := s.Blind("11010519491231002X", "legal_person_id")
	if len(b) != 64 || strings.Trim(b, "0123456789abcdef") != "" {
		t.Errorf("Blind = %q, want 64 lower-case hex digits", b)
	}
	if s.Blind("11010519491231002X", "legal_person_id") != b {
		t.Error("Blind is not deterministic")
	}
	if s.Blind("11010519491231002x", "legal_person_id") == b {
		t.Error("Blind ignores the value")
	}
	if s.Blind("11010519491231002X", "bank_account") == b {
		t.Error("Blind ignores the field")
	}
	// The field and the value cannot trade characters.
	if s.Blind("b", "a") == s.Blind("", "ab") {
		t.Error("Blind confuses field and value")
	}
	// The index key is not the current key, and another index key gives other indexes.
	sameCurrent := mustSealer(t, map[string][]byte{"k1": testKey(1), "k2": testKey(2)}, "k1", "k2")
	if sameCurrent.Blind("11010519491231002X", "legal_person_id") == b {
		t.Error("Blind does not depend on the index key")
	}
	otherCurrent := mustSealer(t, map[string][]byte{"k1": testKey(1), "k2": testKey(2)}, "k2", "k1")
	if otherCurrent.Blind("11010519491231002X", "legal_person_id") != b {
		t.Error("Blind depends on the current key")
	}
}

func TestSealKeys(t *testing.T) {
	for what, tt := range map[string]struct {
		keys           map[string][]byte
		current, index string
	}{
		"no keys":         {map[string][]byte{}, "k1", "k1"},
		"short key":       {map[string][]byte{"k1": testKey(1)[:16]}, "k1", "k1"},
		"long key":        {map[string][]byte{"k1": append(testKey(1), 0)}, "k1", "k1"},
		"missing current": {map[string][]byte{"k1": testKey(1)}, "k2", "k1"},
		"missing index":   {map[string][]byte{"k1": testKey(1)}, "k1", "k0"},
		"bad id":          {map[string][]byte{"k.1": testKey(1)}, "k.1", "k.1"},
		"empty id":        {map[string][]byte{"": testKey(1)}, "", ""},
		"long id":         {map[string][]byte{strings.Repeat("k", 33): testKey(1)}, strings.Repeat("k", 33), strings.Repeat("k", 33)},
	} {
		if _, err := NewSealer(tt.keys, tt.current, tt.index); err == nil {
			t.Errorf("%s: NewSealer accepted it", what)
		}
	}

	id, key := GenerateKey()
	if len(key) != 32 || !validKeyID(id) || bytes.Equal(key, make([]byte, 32)) {
		t.Fatalf("GenerateKey = %q, %x", id, key)
	}
	if id2, key2 := GenerateKey(); id2 == id || bytes.Equal(key2, key) {
		t.Error("GenerateKey repeats itself")
	}
	s, err := ParseKeys(FormatKey(id, key))
	if err != nil || s.CurrentKeyID() != id || s.IndexKeyID() != id {
		t.Fatalf("ParseKeys(FormatKey): %v", err)
	}

	k1 := base64.StdEncoding.EncodeToString(testKey(1))
	k2url := base64.URLEncoding.EncodeToString(testKey(0xff)) // "____...8=": URL-safe, padded
	k3raw := base64.RawStdEncoding.EncodeToString(testKey(3))
	good, err := ParseKeys(" k3:" + k3raw + " , k2:" + k2url + ",k1:" + k1 + ", ")
	if err != nil || good.CurrentKeyID() != "k3" || good.IndexKeyID() != "k1" {
		t.Fatalf("ParseKeys: %v", err)
	}
	for what, bad := range map[string]string{
		"empty":       "",
		"only commas": " , ,",
		"no colon":    "k1" + k1,
		"bad base64":  "k1:***",
		"short key":   "k1:" + base64.StdEncoding.EncodeToString(testKey(1)[:31]),
		"duplicate":   "k1:" + k1 + ",k1:" + k1,
		"bad id":      "k 1:" + k1,
	} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%s) accepted it", what)
		} else if strings.Contains(err.Error(), k1) {
			t.Errorf("ParseKeys(%s) error shows the key: %v", what, err)
		}
	}
}

// TestSealConcurrent runs sealing, opening and blinding from several goroutines, for -race.
func TestSealConcurrent(t *testing.T) {
	s := mustSealer(t, map[string][]byte{"k1": testKey(1)}, "k1", "k1")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for range 50 {
				ad := "merchant:" + string(rune('a'+g)) + ":phone"
				v, err := s.Seal("13893100000", ad)
				if err == nil {
					_, err = s.Open(v, ad)
				}
				_ = s.Blind("13893100000", "phone")
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
