package mockpay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
)

// A dynamic code of the mock provider is stateless, as a real provider's is until the customer
// scans it: its URL carries the order (our id, amount, currency, shop, callback URL, expiry)
// and the provider's MAC over it. Issuing one writes nothing; the provider's ledger gets a row
// when the customer pays (or when the merchant closes the order). So creating a payment costs
// the gateway one commit, not two.

// codeClaims is what a code carries.
type codeClaims struct {
	OutTradeNo  string `json:"o"`
	Amount      int64  `json:"a"`
	Currency    string `json:"c"`
	Subject     string `json:"s,omitempty"`
	SubMerchant string `json:"m,omitempty"`
	NotifyURL   string `json:"n,omitempty"`
	Expires     int64  `json:"e"`
}

// codeMAC is the provider's MAC over a code's claims: 128 bits of HMAC-SHA256 under a key derived
// for codes, so that a code cannot be mistaken for a signed API message.
func codeMAC(secret []byte, payload string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("mockpay code\n"))
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// issueToken makes the token of a code.
func issueToken(secret []byte, c codeClaims) string {
	b, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + codeMAC(secret, payload)
}

// errBadCode is a code the provider did not issue.
var errBadCode = qrpay.Errorf(qrpay.ENOTFOUND, "This code is unknown to the provider.")

// readToken verifies a code's token and returns its claims.
func readToken(secret []byte, token string) (*codeClaims, error) {
	payload, mac, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok || len(token) > 2048 || !hmac.Equal([]byte(codeMAC(secret, payload)), []byte(mac)) {
		return nil, errBadCode
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errBadCode
	}
	var c codeClaims
	if err := json.Unmarshal(b, &c); err != nil || c.OutTradeNo == "" || c.Amount <= 0 {
		return nil, errBadCode
	}
	return &c, nil
}

// CodePaymentID reads the order id (our payment id) from one of the mock provider's code URLs
// without verifying it, for scan verification; the caller checks the payment's stored code.
func CodePaymentID(text string) (string, bool) {
	i := strings.Index(text, CodePrefix)
	if i < 0 {
		return "", false
	}
	payload, _, _ := strings.Cut(strings.Trim(text[i+len(CodePrefix):], "/ "), ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	var c codeClaims
	if json.Unmarshal(b, &c) != nil || c.OutTradeNo == "" {
		return "", false
	}
	return c.OutTradeNo, true
}

// tradeNoFor is the provider's trade number of an order: MP and 18 digits derived from the order
// id, the same whenever it is asked.
func tradeNoFor(secret []byte, outTradeNo string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("mockpay trade\n" + outTradeNo))
	n := binary.BigEndian.Uint64(mac.Sum(nil)) % 1e18
	return "MP" + leftPad(strconv.FormatUint(n, 10), 18)
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// tradeFromClaims is the ledger row of a scanned code.
func (s *Server) tradeFromClaims(c *codeClaims, now time.Time) *Trade {
	return &Trade{OutTradeNo: c.OutTradeNo, TradeNo: tradeNoFor(s.Secret, c.OutTradeNo), Kind: "qr",
		Amount: c.Amount, Currency: c.Currency, Subject: c.Subject, SubMerchant: c.SubMerchant, NotifyURL: c.NotifyURL,
		Status: TradeWaiting, ExpiresAt: time.Unix(c.Expires, 0).UTC(), CreatedAt: now}
}

// CodeInfo is what the provider's cashier page shows of a code.
type CodeInfo struct {
	Token    string
	Subject  string
	Amount   int64
	Currency string
	Status   string // the ledger's, or WAIT_PAY for a code nobody paid
}
