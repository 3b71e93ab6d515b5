package merchant

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/qrpay/qrpay"
)

// Errors of Open, as the causes of the EINTERNAL *qrpay.Error it returns: a sealed value that
// cannot be opened is corrupt data or a configuration mistake, never the caller's input.
var (
	// ErrSealedMalformed means the value is not of the form v1.<keyid>.<payload>.
	ErrSealedMalformed = errors.New("merchant: sealed value is malformed")
	// ErrUnknownKeyID means the value was sealed under a key id the Sealer does not hold.
	ErrUnknownKeyID = errors.New("merchant: sealed value names an unknown key id")
	// ErrSealedAuth means the value failed authentication: it was altered, or it is opened
	// with associated data other than it was sealed with (another row or field).
	ErrSealedAuth = errors.New("merchant: sealed value failed authentication")
)

// Labels that separate the uses of a configured key (HKDF info strings).
const (
	sealInfo  = "qrpay seal v1"
	blindInfo = "qrpay blind index v1"
	sealAAD   = "qrpay/seal/v1\x00"
)

// sealVersion starts every sealed value.
const sealVersion = "v1"

// Sealer encrypts personal data at rest (ID numbers, bank accounts, phone numbers) with
// AES-256-GCM, and computes blind indexes of it. It holds any number of keys by key id, one of
// which is current: Seal uses the current key, Open any key whose id the value names.
//
// A configured key is never used directly. The AES key for key id k is HKDF-SHA256(key k,
// info "qrpay seal v1"), and the blind index key is HKDF-SHA256(key of the index key id,
// info "qrpay blind index v1"), so no key serves two algorithms.
//
// Blind indexes and rotation: a blind index must not change when the data key is rotated, or
// every stored index would have to be recomputed and lookups would silently miss in between.
// So the index key is derived from a separately named, stable key id (ParseKeys takes the last
// key of QRPAY_DATA_KEY, the oldest), not from the current key. That key must stay configured
// for as long as blind indexes made with it are stored; replacing it means recomputing every
// blind index from the plaintext (open, Blind, update) in one maintenance run. IndexKeyID
// reports which key id is in use so that the caller can record it and refuse to start if it
// changes unexpectedly.
//
// A Sealer is safe for concurrent use.
type Sealer struct {
	aeads   map[string]cipher.AEAD
	current string
	indexID string
	index   []byte
}

// NewSealer returns a Sealer with the keys by key id, sealing under the key id current and
// deriving blind indexes from the key id index. Every key must be 32 bytes; key ids are 1 to 32
// characters of A-Z, a-z, 0-9, '_' and '-'; current and index must be among the keys (they may
// be the same key).
func NewSealer(keys map[string][]byte, current, index string) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("merchant: no data keys")
	}
	s := &Sealer{aeads: make(map[string]cipher.AEAD, len(keys)), current: current, indexID: index}
	for id, key := range keys {
		if !validKeyID(id) {
			return nil, fmt.Errorf("merchant: data key id %q: want 1 to 32 characters of A-Z, a-z, 0-9, _ and -", id)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("merchant: data key %q is %d bytes, want 32 (AES-256)", id, len(key))
		}
		sub, err := hkdf.Key(sha256.New, key, nil, sealInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("merchant: derive data key %q: %w", id, err)
		}
		block, err := aes.NewCipher(sub)
		if err != nil {
			return nil, fmt.Errorf("merchant: data key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("merchant: data key %q: %w", id, err)
		}
		s.aeads[id] = aead
	}
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("merchant: current data key id %q is not among the keys", current)
	}
	root, ok := keys[index]
	if !ok {
		return nil, fmt.Errorf("merchant: blind index key id %q is not among the keys", index)
	}
	var err error
	if s.index, err = hkdf.Key(sha256.New, root, nil, blindInfo, 32); err != nil {
		return nil, fmt.Errorf("merchant: derive blind index key: %w", err)
	}
	return s, nil
}

// ParseKeys returns a Sealer for the value of the QRPAY_DATA_KEY environment variable:
// comma-separated entries "keyid:base64key", each key 32 bytes in standard or URL-safe base64
// (padding optional), white space around entries ignored. The first entry is the current key,
// which Seal uses; the last entry is the blind index key (see Sealer). A single entry is both.
//
// To rotate: generate a key (GenerateKey, FormatKey), put it first, restart, and run
// `qrpay keys rotate`, which re-seals every value for which NeedsRotation is true. Keep the
// older keys while any value sealed under them remains, and keep the last entry for as long as
// blind indexes made with it are stored: new keys go in front, never at the end.
//
//	QRPAY_DATA_KEY="k2:3q2+7w...=,k1:q83vEj...="
func ParseKeys(s string) (*Sealer, error) {
	keys := make(map[string][]byte)
	var first, last string
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, b64, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, errors.New(`merchant: QRPAY_DATA_KEY: want comma-separated "keyid:base64key" entries`)
		}
		id = strings.TrimSpace(id)
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("merchant: QRPAY_DATA_KEY: key id %q appears twice", id)
		}
		key, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("merchant: QRPAY_DATA_KEY: key %q is not base64", id)
		}
		keys[id] = key
		if first == "" {
			first = id
		}
		last = id
	}
	if len(keys) == 0 {
		return nil, errors.New("merchant: QRPAY_DATA_KEY is empty")
	}
	return NewSealer(keys, first, last)
}

// decodeKey decodes standard or URL-safe base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// GenerateKey returns a new random 32-byte data key and an id for it ("k" and 8 random
// characters).
func GenerateKey() (id string, key []byte) {
	key = make([]byte, 32)
	rand.Read(key) // never fails; see crypto/rand.Read
	return "k" + qrpay.RandomToken(5), key
}

// FormatKey returns the QRPAY_DATA_KEY entry "keyid:base64key" for a key.
func FormatKey(id string, key []byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(key)
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CurrentKeyID returns the id of the key Seal uses.
func (s *Sealer) CurrentKeyID() string { return s.current }

// IndexKeyID returns the id of the key blind indexes are derived from.
func (s *Sealer) IndexKeyID() string { return s.indexID }

// aad binds a sealed value to its format, key id and the caller's associated data.
func aad(keyID, associatedData string) []byte {
	return []byte(sealAAD + keyID + "\x00" + associatedData)
}

// Seal encrypts plaintext under the current key with a random 12-byte nonce and returns
// "v1.<keyid>.<base64url(nonce || ciphertext || tag)>", text that fits a TEXT column.
// associatedData is authenticated but not stored: pass what the value belongs to, such as
// "merchant:<id>:bank_account", and pass the same to Open, so that a value copied to another
// row or field does not open. The error is only ever from the system's random source.
func (s *Sealer) Seal(plaintext, associatedData string) (string, error) {
	aead := s.aeads[s.current]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", qrpay.WrapError(qrpay.EINTERNAL, err, "Cannot seal data.")
	}
	buf = aead.Seal(buf, buf, []byte(plaintext), aad(s.current, associatedData))
	return sealVersion + "." + s.current + "." + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal, under whichever configured key it names, with the same
// associated data. Its errors are EINTERNAL *qrpay.Error values whose cause is
// ErrSealedMalformed, ErrUnknownKeyID or ErrSealedAuth.
func (s *Sealer) Open(sealed, associatedData string) (string, error) {
	id, payload, ok := splitSealed(sealed)
	if !ok {
		return "", qrpay.WrapError(qrpay.EINTERNAL, ErrSealedMalformed, "Cannot open sealed data.")
	}
	aead, ok := s.aeads[id]
	if !ok {
		return "", qrpay.WrapError(qrpay.EINTERNAL, fmt.Errorf("key id %q: %w", id, ErrUnknownKeyID), "Cannot open sealed data.")
	}
	buf, err := base64.RawURLEncoding.Strict().DecodeString(payload)
	if err != nil || len(buf) < aead.NonceSize()+aead.Overhead() {
		return "", qrpay.WrapError(qrpay.EINTERNAL, ErrSealedMalformed, "Cannot open sealed data.")
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, buf[:n], buf[n:], aad(id, associatedData))
	if err != nil {
		return "", qrpay.WrapError(qrpay.EINTERNAL, ErrSealedAuth, "Cannot open sealed data.")
	}
	return string(plain), nil
}

// Reseal returns sealed re-sealed under the current key, and whether it changed; a value
// already under the current key is returned as it is. It is the step of `qrpay keys rotate`.
func (s *Sealer) Reseal(sealed, associatedData string) (string, bool, error) {
	if !s.NeedsRotation(sealed) {
		return sealed, false, nil
	}
	plain, err := s.Open(sealed, associatedData)
	if err != nil {
		return "", false, err
	}
	out, err := s.Seal(plain, associatedData)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// NeedsRotation reports whether sealed is not under the current key (a malformed value also
// needs attention, so it reports true for that too).
func (s *Sealer) NeedsRotation(sealed string) bool { return KeyID(sealed) != s.current }

// KeyID returns the key id a sealed value names, or "" if it is not a sealed value.
func KeyID(sealed string) string {
	id, _, _ := splitSealed(sealed)
	return id
}

// splitSealed splits "v1.<keyid>.<payload>".
func splitSealed(sealed string) (id, payload string, ok bool) {
	rest, ok := strings.CutPrefix(sealed, sealVersion+".")
	if !ok {
		return "", "", false
	}
	id, payload, ok = strings.Cut(rest, ".")
	if !ok || !validKeyID(id) || payload == "" {
		return "", "", false
	}
	return id, payload, true
}

// Blind returns a blind index of value for field: the lower-case hex HMAC-SHA256, under the
// blind index key, of the field name and the value. It is deterministic, so the database can
// enforce uniqueness of, or look up, an exact value (an ID number, a bank account) stored only
// sealed; the field name keeps the indexes of different fields apart. Pass the normalized value
// (NormalizeResidentID, NormalizePhone, ...), since "x" and "X" blind differently.
//
// Anyone holding the index key can test guesses against a blind index, and ID numbers have
// little entropy, so the index key is as secret as the data keys. Rotating the data key leaves
// blind indexes unchanged (see Sealer).
func (s *Sealer) Blind(value, field string) string {
	m := hmac.New(sha256.New, s.index)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(field)))
	m.Write(n[:])
	m.Write([]byte(field))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}
