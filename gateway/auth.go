package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// SignatureWindow is how far a request's timestamp may be from the server's clock.
const SignatureWindow = 300 * time.Second

// Canonical returns the string a merchant API request signs (CONTRACT.md "Authentication"):
// METHOD "\n" PATH_WITH_RAW_QUERY "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA-256(body)).
func Canonical(method, pathWithQuery, timestamp, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	return method + "\n" + pathWithQuery + "\n" + timestamp + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])
}

// SignRequest returns the lowercase hex HMAC-SHA256 of a canonical string.
func SignRequest(secret, canonical string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(canonical))
	return hex.EncodeToString(mac.Sum(nil))
}

// SignedRequest is what authentication reads of a merchant API request.
type SignedRequest struct {
	Method        string
	PathWithQuery string
	KeyID         string
	Timestamp     string
	Nonce         string
	Signature     string
	Body          []byte
}

// Keys finds API keys with their secrets; merchant.Service implements it.
type Keys interface {
	// RequestKey returns a usable key with its secret, and whether nonce was used with it
	// already; an unknown, revoked or expired key is EUNAUTHORIZED.
	RequestKey(ctx context.Context, id, nonce string) (*merchant.APIKey, bool, error)
}

// validNonce reports whether a nonce is 16 to 64 characters of [A-Za-z0-9_-].
func validNonce(n string) bool {
	if len(n) < 16 || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Authenticate checks a request's key, timestamp and signature and returns the caller. The nonce
// is not recorded here: the request's own transaction records it, so that a request is one
// commit. Every failure is EUNAUTHORIZED with a message that says what to fix, never which part
// of a secret was wrong.
func (s *Service) Authenticate(ctx context.Context, keys Keys, r SignedRequest) (Caller, error) {
	s.init()
	unauthorized := func(msg string) (Caller, error) {
		return Caller{}, qrpay.Errorf(qrpay.EUNAUTHORIZED, "%s", msg)
	}
	if r.KeyID == "" || r.Timestamp == "" || r.Nonce == "" || r.Signature == "" {
		return unauthorized("Sign the request: Qrpay-Key, Qrpay-Timestamp, Qrpay-Nonce and Qrpay-Signature are required.")
	}
	if !validNonce(r.Nonce) {
		return unauthorized("Qrpay-Nonce must be 16 to 64 characters of letters, digits, _ and -.")
	}
	ts, err := strconv.ParseInt(r.Timestamp, 10, 64)
	if err != nil {
		return unauthorized("Qrpay-Timestamp must be Unix seconds.")
	}
	if d := s.Clock.Now().Sub(time.Unix(ts, 0)); d > SignatureWindow || d < -SignatureWindow {
		return unauthorized("Qrpay-Timestamp is more than 300 seconds from the server's clock.")
	}
	// The key and whether the nonce was used with it come in one read.
	key, seen, err := keys.RequestKey(ctx, r.KeyID, r.Nonce)
	if err != nil {
		if qrpay.IsCode(err, qrpay.EUNAUTHORIZED) {
			return unauthorized("Unknown, revoked or expired API key.")
		}
		return Caller{}, err
	}
	want := SignRequest(key.Secret, Canonical(r.Method, r.PathWithQuery, r.Timestamp, r.Nonce, r.Body))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(r.Signature))) {
		return unauthorized("The signature does not match the request.")
	}
	// A replay (told only to a caller who signed it) is refused before anything else happens;
	// the insert in the request's own transaction is what guards against two copies racing.
	if seen {
		return unauthorized("This request was already made (nonce reused).")
	}
	return Caller{MerchantID: key.MerchantID, KeyID: key.ID, Mode: key.Mode, Nonce: r.Nonce}, nil
}
