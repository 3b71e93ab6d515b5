package gateway

import (
	"encoding/json"
	"time"
)

// Event types. Every state change writes one event in the same transaction; the types in
// WebhookTypes are also delivered to the merchant's webhook endpoints.
const (
	EventPaymentCreated       = "payment.created"
	EventPaymentPending       = "payment.pending"
	EventPaymentSucceeded     = "payment.succeeded"
	EventPaymentLateSucceeded = "payment.late_succeeded" // paid after qrpay closed it: refund or fulfil
	EventPaymentFailed        = "payment.failed"
	EventPaymentClosed        = "payment.closed"
	EventPaymentExpired       = "payment.expired"
	EventPaymentFlagged       = "payment.flagged" // a provider's answer did not match the payment
	EventRefundCreated        = "refund.created"
	EventRefundSucceeded      = "refund.succeeded"
	EventRefundFailed         = "refund.failed"
	EventSettlementCreated    = "settlement.created"
)

// WebhookTypes are the event types pushed to webhook endpoints. payment.created, payment.pending
// and refund.created are recorded and listed by GET /v1/events but not pushed: the caller that
// made the change already has the answer.
var WebhookTypes = map[string]bool{
	EventPaymentSucceeded: true, EventPaymentLateSucceeded: true, EventPaymentFailed: true,
	EventPaymentClosed: true, EventPaymentExpired: true, EventPaymentFlagged: true,
	EventRefundSucceeded: true, EventRefundFailed: true, EventSettlementCreated: true,
}

// Event is the record of one state change, and the body of a webhook.
type Event struct {
	ID         string
	MerchantID string
	Type       string
	ObjectType string
	ObjectID   string
	Data       json.RawMessage // the object after the change
	CreatedAt  time.Time
}

// EventObject is an event as the API and webhooks show it (CONTRACT.md "Webhooks").
type EventObject struct {
	ID      string    `json:"id"`
	Object  string    `json:"object"`
	Type    string    `json:"type"`
	Created int64     `json:"created"`
	Data    EventData `json:"data"`
}

// EventData carries the object an event is about.
type EventData struct {
	Object json.RawMessage `json:"object"`
}

// Object returns the event as the API shows it.
func (e *Event) Object() EventObject {
	return EventObject{ID: e.ID, Object: "event", Type: e.Type, Created: e.CreatedAt.Unix(), Data: EventData{Object: e.Data}}
}

// JSON returns the event's wire form: the exact bytes a webhook sends.
func (e *Event) JSON() []byte {
	b, _ := json.Marshal(e.Object())
	return b
}
