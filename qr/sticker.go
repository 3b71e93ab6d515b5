package qr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/qrpay/qrpay"
)

// A sticker token is "<key id>.<sticker id>.<mac>", all URL-safe:
//   - the key id names the signing key, so keys can rotate while old stickers stay valid;
//   - the sticker id is written as it is when it is 1-64 characters of [A-Za-z0-9_-], and as
//     "~" followed by its unpadded base64url encoding otherwise;
//   - the mac is the first 16 bytes of HMAC-SHA256(key, "qrpay-sticker-v1" 0 keyID 0 stickerID),
//     unpadded base64url (22 characters).
//
// A sticker id such as "stk_01j9..." (30 characters) with key id "k1" gives a 56-character token,
// so that "https://pay.example.com/p/<token>" fits a version 5 QR code at level M.
const (
	stickerMACSize   = 16
	stickerMaxToken  = 256
	stickerMaxID     = 64
	stickerMinKeyLen = 32
	stickerMACDomain = "qrpay-sticker-v1"
)

// StickerSigner makes and checks the signed tokens of sticker URLs (/p/{token}). Revoking one
// sticker is the caller's business (a flag on the sticker row); rotating keys is done by adding
// a key under a new id and making it current, keeping the old one while its stickers are in use.
// A StickerSigner is safe for concurrent use.
type StickerSigner struct {
	keys    map[string][]byte
	current string
}

// NewStickerSigner returns a signer with the keys by key id, signing new tokens with the key
// current. Key ids are 1-16 characters of [A-Za-z0-9_-]; keys are at least 32 bytes. It returns
// EINVALID for anything else.
func NewStickerSigner(keys map[string][]byte, current string) (*StickerSigner, error) {
	s := &StickerSigner{keys: make(map[string][]byte, len(keys)), current: current}
	for id, k := range keys {
		if len(id) < 1 || len(id) > 16 || !isTokenWord(id) {
			return nil, qrpay.Invalid("key_id", "sticker key id %q must be 1-16 characters of letters, digits, '_' and '-'", id)
		}
		if len(k) < stickerMinKeyLen {
			return nil, qrpay.Invalid("key", "sticker key %q is %d bytes; at least %d are needed", id, len(k), stickerMinKeyLen)
		}
		s.keys[id] = append([]byte(nil), k...)
	}
	if _, ok := s.keys[current]; !ok {
		return nil, qrpay.Invalid("key_id", "the current sticker key %q is not among the keys", current)
	}
	return s, nil
}

// Token returns the signed token for a sticker id, made with the current key.
func (s *StickerSigner) Token(stickerID string) string {
	return s.current + "." + encodeStickerID(stickerID) + "." + s.mac(s.current, stickerID)
}

// Verify checks a token and returns the sticker id and the id of the key that signed it. A
// token that is not of the right shape is EINVALID; one with an unknown key id or a wrong
// signature is EUNAUTHORIZED. Whether the sticker is revoked is for the caller to check.
func (s *StickerSigner) Verify(token string) (stickerID, keyID string, err error) {
	if len(token) > stickerMaxToken {
		return "", "", qrpay.Invalid("token", "the sticker token is too long")
	}
	keyID, rest, ok1 := strings.Cut(token, ".")
	sid, mac, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || keyID == "" || !isTokenWord(keyID) || strings.Contains(mac, ".") {
		return "", "", qrpay.Invalid("token", "not a sticker token")
	}
	stickerID, ok := decodeStickerID(sid)
	if !ok {
		return "", "", qrpay.Invalid("token", "not a sticker token")
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || len(got) != stickerMACSize {
		return "", "", qrpay.Invalid("token", "not a sticker token")
	}
	key, ok := s.keys[keyID]
	if !ok {
		return "", "", qrpay.Errorf(qrpay.EUNAUTHORIZED, "the sticker token was signed with an unknown key")
	}
	want := s.macBytes(key, keyID, stickerID)
	if !hmac.Equal(got, want) {
		return "", "", qrpay.Errorf(qrpay.EUNAUTHORIZED, "the sticker token's signature is not valid")
	}
	return stickerID, keyID, nil
}

func (s *StickerSigner) mac(keyID, stickerID string) string {
	return base64.RawURLEncoding.EncodeToString(s.macBytes(s.keys[keyID], keyID, stickerID))
}

func (s *StickerSigner) macBytes(key []byte, keyID, stickerID string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(stickerMACDomain))
	h.Write([]byte{0})
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write([]byte(stickerID))
	return h.Sum(nil)[:stickerMACSize]
}

func encodeStickerID(id string) string {
	if id != "" && len(id) <= stickerMaxID && isTokenWord(id) {
		return id
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeStickerID(s string) (string, bool) {
	if b64, ok := strings.CutPrefix(s, "~"); ok {
		b, err := base64.RawURLEncoding.DecodeString(b64)
		if err != nil || len(b) == 0 {
			return "", false
		}
		return string(b), true
	}
	if s == "" || len(s) > stickerMaxID || !isTokenWord(s) {
		return "", false
	}
	return s, true
}

// isTokenWord reports whether s is made of [A-Za-z0-9_-].
func isTokenWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// StickerToken extracts the token from a sticker URL: an http or https URL, on any host, whose
// path is /p/{token} (a trailing slash, a query and a fragment are ignored). It is for
// classifying scanned text; the token still has to be verified.
func StickerToken(text string) (token string, ok bool) {
	text = strings.TrimSpace(text)
	if len(text) > 2048 {
		return "", false
	}
	u, err := url.Parse(text)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	rest, ok := strings.CutPrefix(u.EscapedPath(), "/p/")
	if !ok {
		return "", false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || len(rest) > stickerMaxToken {
		return "", false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '-' || c == '.' || c == '~') {
			return "", false
		}
	}
	return rest, true
}
