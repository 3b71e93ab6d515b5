package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how old a webhook's timestamp may be.
const DefaultTolerance = 5 * time.Minute

// ErrWebhookSignature is returned for a webhook whose signature does not verify.
var ErrWebhookSignature = errors.New("qrpay: webhook signature does not verify")

// VerifyWebhook checks the Qrpay-Signature header of a webhook
// (t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>) and that its timestamp is
// within tolerance of now, and returns the event. Pass the raw body exactly as received.
func VerifyWebhook(secret, header string, body []byte, now time.Time, tolerance time.Duration) (*Event, error) {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return nil, ErrWebhookSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return nil, ErrWebhookSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return nil, ErrWebhookSignature
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
