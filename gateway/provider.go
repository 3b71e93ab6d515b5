package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"time"

	"github.com/qrpay/qrpay"
)

// Channels, as the "channel" field of a payment says them.
const (
	ChannelAlipay   = "alipay"
	ChannelWechat   = "wechat"
	ChannelUnionpay = "unionpay"
	ChannelMockpay  = "mockpay"
)

// Channels lists every channel qrpay knows.
var Channels = []string{ChannelAlipay, ChannelWechat, ChannelUnionpay, ChannelMockpay}

// Provider is the seam between qrpay and one payment network: one value per channel account
// (its base URL, keys and certificates come from configuration). Adapters in gateway/alipay,
// gateway/wechat, gateway/unionpay and gateway/mockpay implement it, each speaking its network's
// real wire format and signature scheme.
//
// Errors: a call that failed for sure returns a *ProviderError with Unknown false; a call whose
// outcome is unknown (a timeout, a 5xx, an unreadable answer) returns one with Unknown true, and
// the caller must query rather than guess. A declined payment or refund is not an error: it is a
// result whose status says so.
type Provider interface {
	// Channel returns the channel this provider serves ("alipay", "wechat", ...).
	Channel() string

	// CreateCode asks for a dynamic merchant-presented code for one payment
	// (alipay.trade.precreate, WeChat Native, an EMV dynamic code).
	CreateCode(ctx context.Context, req CreateCodeRequest) (*Code, error)

	// PayWithCode charges a customer-presented payment code (alipay.trade.pay, WeChat micropay,
	// UnionPay C2B). The trade's status may be TradePending while the customer enters a
	// password; the caller then polls with Query.
	PayWithCode(ctx context.Context, req PayCodeRequest) (*Trade, error)

	// Query returns the provider's view of a payment. A payment the provider has never seen is
	// a *ProviderError with Code ProviderNotFound and Unknown false.
	Query(ctx context.Context, ref TradeRef) (*Trade, error)

	// Cancel reverses a payment-code payment whose outcome is unknown or late (撤销/冲正): an
	// unpaid trade is closed, a paid one is refunded in full by the provider.
	Cancel(ctx context.Context, ref TradeRef) (*CancelResult, error)

	// Close ends an unpaid payment at the provider. A trade that was paid meanwhile is a
	// *ProviderError with Code ProviderAlreadyPaid.
	Close(ctx context.Context, ref TradeRef) error

	// Refund returns part or all of a paid payment. RefundID makes it idempotent at the
	// provider (out_request_no, out_refund_no).
	Refund(ctx context.Context, req RefundRequest) (*RefundResult, error)

	// QueryRefund returns the provider's view of a refund.
	QueryRefund(ctx context.Context, req RefundRef) (*RefundResult, error)

	// ParseCallback verifies and reads an asynchronous notice from the provider. It returns an
	// EUNAUTHORIZED error when the signature does not verify, and EINVALID when the notice
	// cannot be read; the caller then answers with CallbackNack.
	ParseCallback(ctx context.Context, req CallbackRequest) (*Callback, error)

	// CallbackNack is the answer that makes the provider send a notice again later.
	CallbackNack() Reply

	// Statement fetches the provider's statement of one settlement day (a civil date,
	// "2006-01-02", in the provider's zone), when the provider offers one by API.
	Statement(ctx context.Context, date string) (*Statement, error)

	// ParseStatement reads a statement file downloaded from the provider (a bill CSV).
	// Nothing is returned for a file with any malformed line.
	ParseStatement(r io.Reader) (*Statement, error)
}

// CreateCodeRequest asks for a dynamic code.
type CreateCodeRequest struct {
	PaymentID     string // our id, sent as out_trade_no
	Amount        qrpay.Money
	Description   string
	ExpiresAt     time.Time
	SubMerchantID string // the merchant's binding on the channel account
	NotifyURL     string // where the provider sends its callback
	MerchantName  string // for codes that carry it (EMV tag 59)
	MerchantCity  string
	MCC           string
	TerminalID    string
	StoreID       string
}

// Code is a dynamic code issued by the provider.
type Code struct {
	Payload         string // the QR text: qr_code, code_url or an EMV payload
	ProviderTradeNo string // when the provider assigns one at once
}

// PayCodeRequest charges a customer-presented payment code.
type PayCodeRequest struct {
	PaymentID     string
	AuthCode      string
	Amount        qrpay.Money
	Description   string
	SubMerchantID string
	NotifyURL     string
	TerminalID    string
	StoreID       string
	ClientIP      string
}

// TradeRef names a payment at the provider: by our id, and by the provider's when known.
type TradeRef struct {
	PaymentID       string
	ProviderTradeNo string
	SubMerchantID   string
}

// TradeStatus is the provider's view of a payment.
type TradeStatus string

// Trade statuses.
const (
	TradePending   TradeStatus = "pending"   // awaiting the customer (WAIT_BUYER_PAY, USERPAYING)
	TradeSucceeded TradeStatus = "succeeded" // paid (TRADE_SUCCESS, TRADE_FINISHED, SUCCESS)
	TradeFailed    TradeStatus = "failed"    // declined or failed for good
	TradeClosed    TradeStatus = "closed"    // closed or reversed unpaid (TRADE_CLOSED, CLOSED, REVOKED)
	TradeRefunded  TradeStatus = "refunded"  // paid, then refunded (REFUND); the payment did succeed
)

// Trade is the provider's view of one payment.
type Trade struct {
	PaymentID       string
	ProviderTradeNo string
	Status          TradeStatus
	Amount          qrpay.Money // what the customer was charged; zero when the provider did not say
	PaidAt          time.Time
	Payer           string // the provider's id of the payer (buyer_id, openid), if given
	FailureReason   string
}

// CancelResult is the outcome of a reversal.
type CancelResult struct {
	// Refunded reports that the customer had paid and the provider returned the money.
	Refunded bool
}

// RefundRequest asks for a refund.
type RefundRequest struct {
	PaymentID       string
	ProviderTradeNo string
	RefundID        string // our refund id, sent as out_request_no / out_refund_no
	Amount          qrpay.Money
	Total           qrpay.Money // the payment's amount
	Reason          string
	SubMerchantID   string
	NotifyURL       string
}

// RefundRef names a refund at the provider.
type RefundRef struct {
	PaymentID       string
	ProviderTradeNo string
	RefundID        string
	SubMerchantID   string
}

// RefundStatus is the provider's view of a refund.
type RefundStatus string

// Refund statuses.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// RefundResult is the provider's view of one refund.
type RefundResult struct {
	PaymentID        string
	RefundID         string
	ProviderRefundNo string
	Status           RefundStatus
	Amount           qrpay.Money
	RefundedAt       time.Time
	FailureReason    string
}

// CallbackRequest is an HTTP request from a provider, as the web layer received it.
type CallbackRequest struct {
	Method string
	Path   string
	Query  string // the raw query string
	Header map[string][]string
	Body   []byte
}

// HeaderValue returns the first value of the header key, matched case-insensitively.
func (r CallbackRequest) HeaderValue(key string) string {
	if v := r.Header[textproto.CanonicalMIMEHeaderKey(key)]; len(v) > 0 {
		return v[0]
	}
	for k, v := range r.Header {
		if len(v) > 0 && textproto.CanonicalMIMEHeaderKey(k) == textproto.CanonicalMIMEHeaderKey(key) {
			return v[0]
		}
	}
	return ""
}

// Callback is a verified notice from a provider: about a payment or about a refund.
type Callback struct {
	Trade  *Trade        // set for a payment notice
	Refund *RefundResult // set for a refund notice
	Ack    Reply         // what to answer once the notice is recorded
}

// Reply is an HTTP answer to a provider.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
}

// StatementLine is one transaction on a provider's statement.
type StatementLine struct {
	ProviderTradeNo string
	PaymentID       string // our out_trade_no, when the provider lists it
	Type            string // "payment" or "refund"
	RefundID        string // our refund id, for refunds
	Amount          qrpay.Money
	Fee             int64 // the provider's fee in minor units, when listed
	Status          string
	At              time.Time
}

// Statement is a provider's list of one day's transactions.
type Statement struct {
	Channel string
	Date    string
	Lines   []StatementLine
}

// Provider error codes: what a failed call was about, independent of the network's own codes.
const (
	ProviderNotFound      = "not_found"      // the provider has no such trade or refund
	ProviderAlreadyPaid   = "already_paid"   // a close or reversal found the trade paid
	ProviderAlreadyClosed = "already_closed" // the trade is closed or finished
	ProviderDeclined      = "declined"       // the provider refused the request
	ProviderInvalid       = "invalid"        // the provider rejected our parameters
	ProviderAuth          = "auth"           // signature or credentials refused
	ProviderUnavailable   = "unavailable"    // timeouts, 5xx, unreadable answers
	ProviderInsufficient  = "insufficient"   // not enough balance to refund
	ProviderTampered      = "tampered"       // the answer failed its signature check
)

// ProviderError is a failed call to a provider.
type ProviderError struct {
	Channel string
	Op      string // "precreate", "pay", "query", ...
	// Unknown reports that the outcome of the call is unknown: the provider may or may not have
	// acted. The caller must find out with a query before deciding.
	Unknown bool
	Code    string // one of the Provider* codes
	// ProviderCode and Message are what the network said, for logs and the dashboard.
	ProviderCode string
	Message      string
	Err          error
}

// Error implements the error interface.
func (e *ProviderError) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Channel, e.Op, e.Code)
	if e.ProviderCode != "" {
		s += " [" + e.ProviderCode + "]"
	}
	if e.Message != "" {
		s += " " + e.Message
	}
	if e.Unknown {
		s += " (outcome unknown)"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *ProviderError) Unwrap() error { return e.Err }

// IsOutcomeUnknown reports whether err is a provider call whose outcome is unknown.
func IsOutcomeUnknown(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && pe.Unknown
}

// ProviderErrorCode returns the Provider* code of err, or "" when err is not a *ProviderError.
func ProviderErrorCode(err error) string {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
