package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzSecret is the webhook secret the fuzzed receiver holds.
const fuzzSecret = "whsec_fuzzing"

func fuzzSign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// FuzzVerifyWebhook feeds webhook headers and bodies to VerifyWebhook, either signed with the
// receiver's secret or with a fuzzed header. It never panics, and it accepts a webhook only if
// one of the header's v1 signatures is the HMAC of this body under the receiver's secret with a
// timestamp within the tolerance; an accepted webhook decodes to the event the body holds.
func FuzzVerifyWebhook(f *testing.F) {
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	event := `{"id":"evt_1","object":"event","type":"payment.succeeded","created":1773480413,"data":{"object":{"id":"pay_1","amount":100}}}`
	f.Add([]byte(event), "", ts, true)
	f.Add([]byte(event), "t="+ts+",v1=00", ts, false)
	f.Add([]byte(event), "t="+ts+",v1="+fuzzSign("another secret", ts, []byte(event)), ts, false)
	f.Add([]byte(event), "v1="+fuzzSign(fuzzSecret, ts, []byte(event)), ts, false)
	f.Add([]byte(event), " t = "+ts+" , v1 = x", ts, false)
	f.Add([]byte(`not json`), "", ts, true)
	f.Add([]byte(event), "", strconv.FormatInt(now.Add(-DefaultTolerance-time.Second).Unix(), 10), true)
	f.Add([]byte(event), "", "+"+ts, true)
	f.Add([]byte{}, ",,,=,t,v1", "9223372036854775807", false)
	f.Fuzz(func(t *testing.T, body []byte, header, stamp string, sign bool) {
		if sign {
			header = "t=" + stamp + ",v1=" + fuzzSign(fuzzSecret, stamp, body)
		}
		e, err := VerifyWebhook(fuzzSecret, header, body, now, DefaultTolerance)
		if err != nil {
			if e != nil {
				t.Fatal("an event and an error")
			}
			return
		}
		if e == nil {
			t.Fatal("neither an event nor an error")
		}
		// Accepted: the header must hold a fresh timestamp and a v1 signature of this body.
		var hts string
		var sigs []string
		for _, part := range strings.Split(header, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				hts = v
			case "v1":
				sigs = append(sigs, v)
			}
		}
		sec, perr := strconv.ParseInt(hts, 10, 64)
		if d := now.Sub(time.Unix(sec, 0)); perr != nil || d > DefaultTolerance || d < -DefaultTolerance {
			t.Fatalf("accepted a stale or unreadable timestamp in %q", header)
		}
		want := fuzzSign(fuzzSecret, hts, body)
		found := false
		for _, s := range sigs {
			found = found || s == want
		}
		if !found {
			t.Fatalf("accepted %q without a signature of the body", header)
		}
		var again Event
		if err := json.Unmarshal(body, &again); err != nil || again.ID != e.ID || again.Type != e.Type {
			t.Fatalf("event %+v from %q (%v)", e, body, err)
		}
	})
}
