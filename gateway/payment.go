// Package gateway is the heart of qrpay: payments and refunds, their state machines, routing to
// providers, idempotency, provider callbacks and queries, the counter's payment-code flow, expiry
// and polling, and notifications to merchants (events and webhooks).
//
// The Provider interface is the seam adapters implement (gateway/alipay, gateway/wechat,
// gateway/unionpay, gateway/mockpay); Store is the seam the store package implements. Every state
// change is one transaction whose event row, and whatever follow-up job it needs, commit with it.
package gateway

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
)

// Status is where a payment is.
type Status string

// Payment statuses.
const (
	// StatusCreated: recorded and, for a dynamic code, shown; the customer has not acted.
	StatusCreated Status = "created"
	// StatusPending: the provider has the payment in progress (the customer is entering a
	// password) or its outcome is unknown and is being found out.
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusClosed    Status = "closed"
	StatusExpired   Status = "expired"
)

// Statuses lists every payment status.
var Statuses = []Status{StatusCreated, StatusPending, StatusSucceeded, StatusFailed, StatusClosed, StatusExpired}

// Final reports whether no ordinary transition leaves s. (A late success may still move a
// closed, expired or failed payment to succeeded: see Transition.)
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusClosed || s == StatusExpired
}

// transitions is the payment state machine: for each status, where it may go. It is the one
// table every status change is checked against; the store's guarded updates enforce it against
// concurrent changes.
var transitions = map[Status][]Status{
	StatusCreated: {StatusPending, StatusSucceeded, StatusFailed, StatusClosed, StatusExpired},
	StatusPending: {StatusSucceeded, StatusFailed, StatusClosed, StatusExpired},
	// A success the provider reports after qrpay closed, expired or failed a payment: the customer
	// did pay. It is recorded, flagged late_success and raised for refund or review, never dropped.
	StatusClosed:  {StatusSucceeded},
	StatusExpired: {StatusSucceeded},
	StatusFailed:  {StatusSucceeded},
}

// CanTransition reports whether a payment may move from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// IsLateSuccess reports whether moving from one status to succeeded is a late success.
func IsLateSuccess(from, to Status) bool {
	return to == StatusSucceeded && (from == StatusClosed || from == StatusExpired || from == StatusFailed)
}

// Scene is how a payment is taken.
type Scene string

// Scenes.
const (
	SceneQR      Scene = "qr"      // a dynamic code shown by the counter (merchant-presented)
	SceneCode    Scene = "code"    // the customer's payment code scanned by the counter
	SceneSticker Scene = "sticker" // a printed static code; the customer enters the amount
)

// Flags raised on a payment for review.
const (
	FlagLateSuccess    = "late_success"    // paid after qrpay closed it: refund or fulfil
	FlagAmountMismatch = "amount_mismatch" // a provider reported another amount or currency
	FlagReversed       = "reversed"        // closed by a reversal at the provider
)

// Payment is one attempt to take money for one merchant order.
type Payment struct {
	ID              string
	MerchantID      string
	StoreID         string
	TerminalID      string
	StickerID       string
	MerchantOrderNo string
	Amount          int64
	Currency        qrpay.Currency
	Status          Status
	Scene           Scene
	Channel         string
	ChannelAccount  string
	SubMerchantID   string
	Mode            string
	Description     string
	QRPayload       string
	AuthCodeMask    string
	ProviderTradeNo string
	RefundedAmount  int64
	RefundingAmount int64 // held by refunds still pending at the provider
	Payer           string
	FailureReason   string
	Flags           []string
	Metadata        map[string]string
	ExpiresAt       time.Time
	NextCheckAt     *time.Time // when the sweeper next asks the provider (expiry, polling, reversal)
	CheckAttempts   int
	PaidAt          *time.Time
	ClosedAt        *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Money returns the payment's amount and currency.
func (p *Payment) Money() qrpay.Money { return qrpay.Money{Amount: p.Amount, Currency: p.Currency} }

// Refundable returns what may still be refunded: the amount less what was refunded and what
// pending refunds hold.
func (p *Payment) Refundable() int64 {
	if p.Status != StatusSucceeded {
		return 0
	}
	return p.Amount - p.RefundedAmount - p.RefundingAmount
}

// HasFlag reports whether the payment carries the flag.
func (p *Payment) HasFlag(f string) bool {
	for _, x := range p.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// AddFlag adds the flag once.
func (p *Payment) AddFlag(f string) {
	if !p.HasFlag(f) {
		p.Flags = append(p.Flags, f)
	}
}

// FlagsString returns the flags as stored: comma-separated.
func (p *Payment) FlagsString() string { return strings.Join(p.Flags, ",") }

// ParseFlags reads flags as stored.
func ParseFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// PaymentObject is a payment as the merchant API, webhooks and events show it (CONTRACT.md).
type PaymentObject struct {
	ID              string            `json:"id"`
	Object          string            `json:"object"`
	MerchantID      string            `json:"merchant_id"`
	MerchantOrderNo string            `json:"merchant_order_no"`
	Amount          int64             `json:"amount"`
	Currency        qrpay.Currency    `json:"currency"`
	Status          Status            `json:"status"`
	Scene           Scene             `json:"scene"`
	Channel         string            `json:"channel"`
	Mode            string            `json:"mode"`
	Description     string            `json:"description"`
	QR              *QRObject         `json:"qr"`
	ProviderTradeNo string            `json:"provider_trade_no"`
	RefundedAmount  int64             `json:"refunded_amount"`
	StoreID         string            `json:"store_id,omitempty"`
	TerminalID      string            `json:"terminal_id,omitempty"`
	FailureReason   string            `json:"failure_reason,omitempty"`
	Flags           []string          `json:"flags"`
	PaidAt          *time.Time        `json:"paid_at"`
	ClosedAt        *time.Time        `json:"closed_at"`
	ExpiresAt       time.Time         `json:"expires_at"`
	CreatedAt       time.Time         `json:"created_at"`
	Metadata        map[string]string `json:"metadata"`
}

// QRObject is a dynamic code: its payload, a PNG of it, and when it expires.
type QRObject struct {
	Payload   string    `json:"payload"`
	ImageURL  string    `json:"image_url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// QRImagePath is where a payment's code is served as a PNG, relative to the public URL.
func QRImagePath(paymentID string) string { return "/qr/" + paymentID + ".png" }

// Object returns the payment as the API shows it; publicURL prefixes the image URL.
func (p *Payment) Object(publicURL string) PaymentObject {
	o := PaymentObject{
		ID: p.ID, Object: "payment", MerchantID: p.MerchantID, MerchantOrderNo: p.MerchantOrderNo,
		Amount: p.Amount, Currency: p.Currency, Status: p.Status, Scene: p.Scene, Channel: p.Channel,
		Mode: p.Mode, Description: p.Description, ProviderTradeNo: p.ProviderTradeNo,
		RefundedAmount: p.RefundedAmount, StoreID: p.StoreID, TerminalID: p.TerminalID,
		FailureReason: p.FailureReason, Flags: p.Flags, PaidAt: p.PaidAt, ClosedAt: p.ClosedAt,
		ExpiresAt: p.ExpiresAt, CreatedAt: p.CreatedAt, Metadata: p.Metadata,
	}
	if o.Flags == nil {
		o.Flags = []string{}
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	if p.QRPayload != "" {
		o.QR = &QRObject{Payload: p.QRPayload, ImageURL: strings.TrimRight(publicURL, "/") + QRImagePath(p.ID), ExpiresAt: p.ExpiresAt}
	}
	return o
}

// MetadataJSON returns the metadata as stored.
func (p *Payment) MetadataJSON() string {
	if len(p.Metadata) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(p.Metadata)
	return string(b)
}
