// Package mockpay is qrpay's built-in mock provider: a simulated payment network served by the
// same binary under /mockpay, with its own ledger, signed API, signed callbacks over real HTTP,
// daily statements and a wallet (scan a code or a photo of one, pay, show a payment code), and
// the adapter that routes payments to it. It is how a shop tries qrpay before it has provider
// contracts, and what test-mode keys always use.
//
// Behaviour is chosen by the amount's last two digits, in fen, for amounts of a yuan or more
// (CONTRACT.md "Mock provider"):
//
//	01 declined                       05 the success arrives late, after the payment was closed
//	02 about 10 s of password, then paid  06 refunds fail
//	03 the provider never answers     07 the provider answers 5xx on the first try
//	04 the callback is sent twice     anything else pays at once
//
// The wire protocol is small and real: JSON over HTTP, each request, answer and callback signed
// with HMAC-SHA256 over "<unix seconds>\n<operation>\n<body>" in the Mockpay-Signature header,
// with the timestamp in Mockpay-Timestamp (answers and callbacks are checked for freshness too).
package mockpay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Behaviours by the amount's last two digits.
const (
	BehaviourDecline   = 1
	BehaviourPassword  = 2
	BehaviourNoAnswer  = 3
	BehaviourDuplicate = 4
	BehaviourLate      = 5
	BehaviourNoRefund  = 6
	Behaviour5xx       = 7
)

// Behaviour returns the behaviour an amount selects: the fen digits of an amount of a yuan or
// more (1001 fen, ¥10.01, declines). Amounts under a yuan (1 fen, 13 fen) always pay: their
// digits are the whole amount, not a choice made on top of one.
func Behaviour(amount int64) int {
	if amount < 100 {
		return 0
	}
	return int(amount % 100)
}

// Headers of the wire protocol.
const (
	HeaderTimestamp = "Mockpay-Timestamp"
	HeaderSignature = "Mockpay-Signature"
)

// MaxSkew is how old a signed message may be.
const MaxSkew = 5 * time.Minute

// Sign returns the signature of a message: hex HMAC-SHA256(secret, ts "\n" op "\n" body).
func Sign(secret []byte, ts, op string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("\n"))
	mac.Write([]byte(op))
	mac.Write([]byte("\n"))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// setSigned signs a message into h.
func setSigned(h http.Header, secret []byte, now time.Time, op string, body []byte) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign(secret, ts, op, body))
}

// verify checks a signed message: the signature, and a timestamp within MaxSkew of now.
func verify(secret []byte, h interface{ Get(string) string }, now time.Time, op string, body []byte) bool {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return false
	}
	want := Sign(secret, ts, op, body)
	return hmac.Equal([]byte(want), []byte(h.Get(HeaderSignature)))
}

// Trade statuses in the mock provider's ledger.
const (
	TradeWaiting = "WAIT_PAY" // a code was issued; nobody has scanned it
	TradePaying  = "PAYING"   // the customer is confirming (or the provider is stuck)
	TradeSuccess = "SUCCESS"
	TradeFailed  = "FAILED"
	TradeClosed  = "CLOSED"
)

// Refund statuses.
const (
	RefundSuccess    = "SUCCESS"
	RefundFailed     = "FAILED"
	RefundProcessing = "PROCESSING"
)

// Wire types.

// apiAnswer is every API answer: ok, or an error code and message.
type apiAnswer struct {
	OK      bool        `json:"ok"`
	Code    string      `json:"code,omitempty"`
	Message string      `json:"message,omitempty"`
	Trade   *wireTrade  `json:"trade,omitempty"`
	Refund  *wireRefund `json:"refund,omitempty"`
	QRCode  string      `json:"qr_code,omitempty"`
	Lines   []wireLine  `json:"lines,omitempty"`
}

// Error codes of the API.
const (
	codeNotFound    = "TRADE_NOT_EXIST"
	codeAlreadyPaid = "TRADE_HAS_SUCCESS"
	codeClosed      = "TRADE_CLOSED"
	codeInvalid     = "INVALID_PARAMETER"
	codeSignature   = "INVALID_SIGNATURE"
	codeDeclined    = "PAYMENT_DECLINED"
	codeAuthCode    = "AUTH_CODE_INVALID"
	codeRefundFail  = "REFUND_FAILED"
	codeExceeds     = "REFUND_AMOUNT_EXCEEDED"
	codeDuplicate   = "DUPLICATE_ORDER"
)

type wireTrade struct {
	OutTradeNo string `json:"out_trade_no"`
	TradeNo    string `json:"trade_no"`
	Status     string `json:"status"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Payer      string `json:"payer,omitempty"`
	PaidAt     string `json:"paid_at,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Refunded   int64  `json:"refunded"`
}

type wireRefund struct {
	OutRefundNo string `json:"out_refund_no"`
	RefundNo    string `json:"refund_no"`
	OutTradeNo  string `json:"out_trade_no"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
	RefundedAt  string `json:"refunded_at,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

type wireLine struct {
	Type        string `json:"type"` // "payment" or "refund"
	TradeNo     string `json:"trade_no"`
	OutTradeNo  string `json:"out_trade_no"`
	OutRefundNo string `json:"out_refund_no,omitempty"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
	At          string `json:"at"`
}

// notice is the body of a callback.
type notice struct {
	Kind   string      `json:"kind"` // "trade" or "refund"
	Trade  *wireTrade  `json:"trade,omitempty"`
	Refund *wireRefund `json:"refund,omitempty"`
}

// Request bodies of the API operations.
type precreateReq struct {
	OutTradeNo  string `json:"out_trade_no"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Subject     string `json:"subject"`
	SubMerchant string `json:"sub_merchant"`
	NotifyURL   string `json:"notify_url"`
	ExpiresAt   string `json:"expires_at"`
}

type payReq struct {
	OutTradeNo  string `json:"out_trade_no"`
	AuthCode    string `json:"auth_code"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Subject     string `json:"subject"`
	SubMerchant string `json:"sub_merchant"`
	NotifyURL   string `json:"notify_url"`
}

type tradeReq struct {
	OutTradeNo string `json:"out_trade_no"`
	TradeNo    string `json:"trade_no,omitempty"`
}

type refundReq struct {
	OutTradeNo  string `json:"out_trade_no"`
	OutRefundNo string `json:"out_refund_no"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason,omitempty"`
	NotifyURL   string `json:"notify_url,omitempty"`
}

type statementReq struct {
	Date string `json:"date"`
}

// timeFormat is how the wire writes times.
const timeFormat = time.RFC3339
