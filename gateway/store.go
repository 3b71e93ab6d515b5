package gateway

import (
	"context"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// Store is what the gateway needs of the database; the store package implements it. Reads
// outside a transaction may see a slightly older state; every decision that changes money is
// taken inside InTx.
type Store interface {
	// InTx runs fn in one transaction and commits it when fn returns nil. Everything fn writes,
	// and every job it enqueues, commits together or not at all.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// CreatePayment writes a payment's creation atomically: the hot path, one round trip where
	// the database allows. It returns the merchant's status when it is not active (and writes
	// nothing), ECONFLICT with Param "nonce" for a replayed nonce, "merchant_order_no" for a
	// reused order number, "idempotency_key" for a key another request took.
	CreatePayment(ctx context.Context, c *PaymentCreation) (merchant.Status, error)

	// FindPayment returns a payment by id; a non-empty merchantID scopes the lookup so that
	// another merchant's payment is ENOTFOUND.
	FindPayment(ctx context.Context, merchantID, id string) (*Payment, error)
	// FindPayments returns a page of payments, newest first, and whether more follow.
	FindPayments(ctx context.Context, f PaymentFilter) ([]*Payment, bool, error)
	// FindRefund returns a refund by id, scoped like FindPayment.
	FindRefund(ctx context.Context, merchantID, id string) (*Refund, error)
	// FindRefunds returns a payment's refunds, oldest first.
	FindRefunds(ctx context.Context, paymentID string) ([]*Refund, error)
	// FindEvents returns a page of events, newest first, and whether more follow.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, bool, error)
	// FindEvent returns an event, scoped like FindPayment.
	FindEvent(ctx context.Context, merchantID, id string) (*Event, error)
	// FindIdempotency returns the record of an Idempotency-Key, or ENOTFOUND.
	FindIdempotency(ctx context.Context, keyID, key string) (*IdempotencyRecord, error)
	// FindProviderCalls returns the provider calls made for a payment, oldest first.
	FindProviderCalls(ctx context.Context, paymentID string) ([]*ProviderCall, error)
	// FindDeliveries returns the webhook deliveries of an event or of a merchant, newest first.
	FindDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error)
	// FindAttempts returns the attempts of a delivery, oldest first.
	FindAttempts(ctx context.Context, deliveryID string) ([]*Attempt, error)
	// FindDelivery returns a delivery with its event and endpoint, scoped like FindPayment.
	FindDelivery(ctx context.Context, merchantID, id string) (*Delivery, error)
	// RecordAttempt writes a delivery's status and counters if it still has seenAttempts
	// attempts, and records the attempt, in one commit; otherwise it writes nothing and is
	// ECONFLICT.
	RecordAttempt(ctx context.Context, d *Delivery, seenAttempts int, a *Attempt) error
	// DeliveryToSend returns what the webhook job needs in one read: a delivery with its event
	// and its endpoint's URL, and the endpoint with its sealed secret (nil once deleted).
	DeliveryToSend(ctx context.Context, id string) (*Delivery, *merchant.WebhookEndpoint, error)

	// FindNotices returns a merchant's notices, newest first.
	FindNotices(ctx context.Context, merchantID string, limit int) ([]*Notice, error)

	// FindMerchant returns a merchant without its personal fields.
	FindMerchant(ctx context.Context, id string) (*merchant.Merchant, error)
	// FindBindings returns a merchant's channel bindings.
	FindBindings(ctx context.Context, merchantID string) ([]merchant.Binding, error)
	// FindSticker returns a sticker, scoped like FindPayment.
	FindSticker(ctx context.Context, merchantID, id string) (*merchant.Sticker, error)
	// FindTerminal returns a terminal, scoped like FindPayment.
	FindTerminal(ctx context.Context, merchantID, id string) (*merchant.Terminal, error)
}

// PaymentCreation is everything creating a dynamic-code payment writes, in one transaction: the
// request's nonce, the payment, the provider calls made for it, its payment.created event, and
// the response under the request's Idempotency-Key (nil without one) — but only if the merchant
// is still active when it commits.
type PaymentCreation struct {
	KeyID        string
	Nonce        string
	NonceExpires time.Time
	Payment      *Payment
	Calls        []*ProviderCall
	Event        *Event
	Idempotency  *IdempotencyRecord
}

// Tx is one transaction of the gateway's. Methods that change a row guard the change with the
// row's expected state and return ECONFLICT when another change got there first.
type Tx interface {
	// Now is the transaction's time: one timestamp for everything it writes.
	Now() time.Time

	// UseNonce records an API request nonce; a nonce seen before for the key is ECONFLICT.
	UseNonce(ctx context.Context, keyID, nonce string, expiresAt time.Time) error
	// MerchantStatus reads a merchant's status inside the transaction, so that a freeze takes
	// effect for every payment that commits after it.
	MerchantStatus(ctx context.Context, merchantID string) (merchant.Status, error)

	// BeginIdempotency records an Idempotency-Key as in flight; an existing record is ECONFLICT.
	BeginIdempotency(ctx context.Context, r *IdempotencyRecord) error
	// FinishIdempotency stores the response of an Idempotency-Key, inserting the record if it
	// was not begun in this or an earlier transaction.
	FinishIdempotency(ctx context.Context, r *IdempotencyRecord) error
	// DeleteIdempotency removes an in-flight record whose request failed before any change, so
	// that the caller may retry with the same key.
	DeleteIdempotency(ctx context.Context, keyID, key string) error

	// InsertPayment inserts a payment; a merchant_order_no the merchant used before is ECONFLICT.
	InsertPayment(ctx context.Context, p *Payment) error
	// LockPayment reads a payment and locks it until the transaction ends.
	LockPayment(ctx context.Context, id string) (*Payment, error)
	// UpdatePayment writes p's mutable fields if the stored status is still from.
	UpdatePayment(ctx context.Context, p *Payment, from Status) error
	// HoldRefund reserves amount of a succeeded payment for a pending refund, if that much is
	// still refundable; otherwise it is EAMOUNTEXCEEDSREFUNDABLE. The guard is in the UPDATE, so
	// concurrent refunds on any number of processes can never reserve more than was paid.
	HoldRefund(ctx context.Context, paymentID string, amount int64) error
	// ReleaseRefund ends a hold: the amount moves to refunded when succeeded, back otherwise.
	ReleaseRefund(ctx context.Context, paymentID string, amount int64, succeeded bool) error
	// PayerTotal sums the payer's sticker payments that are not failed, closed or expired,
	// created in [from, to).
	PayerTotal(ctx context.Context, payer string, currency qrpay.Currency, from, to time.Time) (int64, error)

	// InsertRefund inserts a refund; a merchant_refund_no the merchant used before is ECONFLICT.
	InsertRefund(ctx context.Context, r *Refund) error
	// LockRefund reads a refund and locks it until the transaction ends.
	LockRefund(ctx context.Context, id string) (*Refund, error)
	// UpdateRefund writes r's mutable fields if the stored status is still from.
	UpdateRefund(ctx context.Context, r *Refund, from RefundStatus) error

	// InsertEvent records an event.
	InsertEvent(ctx context.Context, e *Event) error
	// EnabledEndpoints returns the merchant's enabled webhook endpoints.
	EnabledEndpoints(ctx context.Context, merchantID string) ([]merchant.WebhookEndpoint, error)
	// InsertDelivery records a delivery to be made.
	InsertDelivery(ctx context.Context, d *Delivery) error
	// LockDelivery reads a delivery and locks it until the transaction ends.
	LockDelivery(ctx context.Context, id string) (*Delivery, error)
	// UpdateDelivery writes a delivery's status and counters if it still has seenAttempts
	// attempts (as read before); otherwise it writes nothing and is ECONFLICT.
	UpdateDelivery(ctx context.Context, d *Delivery, seenAttempts int) error
	// InsertAttempt records one delivery attempt.
	InsertAttempt(ctx context.Context, a *Attempt) error
	// UpdateEndpointHealth records whether an endpoint is failing, or disables it.
	UpdateEndpointHealth(ctx context.Context, e *merchant.WebhookEndpoint) error
	// InsertNotice leaves a notice on the merchant's dashboard.
	InsertNotice(ctx context.Context, n *Notice) error

	// InsertProviderCall records a call to a provider for the payment's timeline.
	InsertProviderCall(ctx context.Context, c *ProviderCall) error

	// ClaimChecks leases up to limit payments whose next check is due at now, moving their
	// next check to leaseUntil so that other processes skip them, and returns them.
	ClaimChecks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*Payment, error)
	// DeleteExpiredNonces removes nonces and idempotency records past their expiry.
	DeleteExpired(ctx context.Context, now time.Time) error

	// Enqueue inserts a background job that commits with the transaction.
	Enqueue(ctx context.Context, job qrpay.Job, opts qrpay.JobOptions) error
}

// PaymentFilter selects payments. Zero fields do not filter.
type PaymentFilter struct {
	MerchantID      string
	MerchantOrderNo string
	Status          Status
	Channel         string
	Scene           Scene
	StoreID         string
	TerminalID      string
	Flag            string
	Search          string // matches the id, merchant_order_no or provider_trade_no exactly
	CreatedFrom     time.Time
	CreatedTo       time.Time
	Limit           int
	StartingAfter   string // an id: the page starts after it
}

// EventFilter selects events.
type EventFilter struct {
	MerchantID    string
	ObjectID      string
	Type          string
	Limit         int
	StartingAfter string
}

// DeliveryFilter selects webhook deliveries.
type DeliveryFilter struct {
	MerchantID string
	EventID    string
	PaymentID  string // deliveries of events about this payment
	Limit      int
}

// IdempotencyRecord is what qrpay remembers of an Idempotency-Key: the request's hash and,
// once answered, the response.
type IdempotencyRecord struct {
	KeyID          string
	Key            string
	RequestHash    string
	Status         string // "in_flight" or "done"
	ResponseStatus int
	ResponseBody   []byte
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// ProviderCall is one call to a provider, for a payment's timeline.
type ProviderCall struct {
	ID        string
	PaymentID string
	RefundID  string
	Channel   string
	Op        string
	Outcome   string // "ok", "failed", "unknown"
	Detail    string
	LatencyMS int
	CreatedAt time.Time
}

// Delivery is one event to deliver to one webhook endpoint.
type Delivery struct {
	ID          string
	EventID     string
	EndpointID  string
	MerchantID  string
	Status      string // "pending", "succeeded", "failed"
	Attempts    int
	LastStatus  int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeliveredAt *time.Time

	// Filled by FindDelivery and LockDelivery.
	Event       *Event
	EndpointURL string
}

// Attempt is one try at a delivery.
type Attempt struct {
	ID         string
	DeliveryID string
	Attempt    int
	StatusCode int
	LatencyMS  int
	Response   string // the first bytes of the answer
	Error      string
	CreatedAt  time.Time
}

// Notice is a message on a merchant's dashboard, written like an email.
type Notice struct {
	ID         string
	MerchantID string
	Kind       string
	Subject    string
	Body       string
	CreatedAt  time.Time
	ReadAt     *time.Time
}
