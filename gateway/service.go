package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// Config tunes the gateway. Zero values take the defaults in parentheses.
type Config struct {
	// PublicURL is where customers, providers and merchants reach this gateway: it prefixes QR
	// image URLs and the callback URLs given to providers.
	PublicURL string
	// DefaultExpiry is how long a dynamic code lives when the request does not say (15 min);
	// MaxExpiry bounds what a request may ask (2 h).
	DefaultExpiry time.Duration
	MaxExpiry     time.Duration
	// CounterWait bounds how long a payment-code request waits for a final answer before the
	// payment is reversed (20 s; WeChat's guidance is 30 s of polling, minus the till's patience).
	CounterWait time.Duration
	// PollEvery is the pause between queries while a customer enters a password (2 s).
	PollEvery time.Duration
	// CheckEvery is how often the sweeper asks a provider about a payment whose outcome is
	// unknown (5 s); SweepBatch is how many payments one sweep leases (100).
	CheckEvery time.Duration
	SweepBatch int
	// StaticDailyLimit is the PBOC level-D limit on static-code payments per payer and day, in
	// minor units of CNY (50000 = ¥500).
	StaticDailyLimit int64
	// Zone is the settlement zone, in which "a day" is counted (Asia/Shanghai).
	Zone *time.Location
	// NonceTTL is how long request nonces are remembered (10 min: twice the signature window);
	// IdempotencyTTL how long idempotent responses are (24 h).
	NonceTTL       time.Duration
	IdempotencyTTL time.Duration
	// Webhooks: the client that delivers them, and how long an endpoint may fail before it is
	// disabled (72 h).
	WebhookClient        *http.Client
	EndpointDisableAfter time.Duration
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.DefaultExpiry, 15*time.Minute)
	def(&c.MaxExpiry, 2*time.Hour)
	def(&c.CounterWait, 20*time.Second)
	def(&c.PollEvery, 2*time.Second)
	def(&c.CheckEvery, 5*time.Second)
	def(&c.NonceTTL, 10*time.Minute)
	def(&c.IdempotencyTTL, 24*time.Hour)
	def(&c.EndpointDisableAfter, 72*time.Hour)
	if c.SweepBatch <= 0 {
		c.SweepBatch = 100
	}
	if c.StaticDailyLimit <= 0 {
		c.StaticDailyLimit = 50000
	}
	if c.Zone == nil {
		c.Zone = time.UTC
	}
	if c.WebhookClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 32
		c.WebhookClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
}

// Metrics receives what the gateway does, for monitoring. Implementations must be safe for
// concurrent use; nil means none.
type Metrics interface {
	PaymentStatus(status Status)
	ProviderCall(channel, op, outcome string, d time.Duration)
	WebhookAttempt(ok bool, d time.Duration)
}

type noMetrics struct{}

func (noMetrics) PaymentStatus(Status)                               {}
func (noMetrics) ProviderCall(string, string, string, time.Duration) {}
func (noMetrics) WebhookAttempt(bool, time.Duration)                 {}

// Secrets opens the sealed secrets of webhook endpoints; merchant.Service implements it.
type Secrets interface {
	// EndpointSecrets returns the secrets a webhook to the endpoint is signed with: its
	// secret, and during a rotation's overlap the one it replaced.
	EndpointSecrets(e *merchant.WebhookEndpoint) ([]string, error)
}

// Service is the gateway's use cases: the merchant API's payments and refunds, provider
// callbacks, the counter's payment-code flow, sticker payments, the sweeper, and webhooks.
type Service struct {
	Store   Store
	Router  *Router
	Clock   qrpay.Clock
	Log     *slog.Logger
	Secrets Secrets
	Metrics Metrics
	Config

	once      sync.Once
	inflight  sync.Map // idempotency keys being answered by this process
	merchants sync.Map // merchant id -> *cachedMerchant
}

// cachedMerchant is what a payment needs to know of its merchant before asking a provider, kept
// for merchantTTL. Nothing depends on it being current: the merchant's status is read again
// inside every payment's transaction, so a freeze stops payments at once on every node.
type cachedMerchant struct {
	m        *merchant.Merchant
	bindings []merchant.Binding
	at       time.Time
}

// merchantTTL bounds how stale a cached merchant's names and bindings may be.
const merchantTTL = 5 * time.Second

// merchantInfo returns a merchant and its bindings, cached for merchantTTL.
func (s *Service) merchantInfo(ctx context.Context, id string) (*merchant.Merchant, []merchant.Binding, error) {
	if v, ok := s.merchants.Load(id); ok {
		cm := v.(*cachedMerchant)
		if time.Since(cm.at) < merchantTTL {
			return cm.m, cm.bindings, nil
		}
	}
	m, err := s.Store.FindMerchant(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	bindings, err := s.Store.FindBindings(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	s.merchants.Store(id, &cachedMerchant{m: m, bindings: bindings, at: time.Now()})
	return m, bindings, nil
}

func (s *Service) init() {
	s.once.Do(func() {
		s.Config.defaults()
		if s.Clock == nil {
			s.Clock = qrpay.SystemClock{}
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		if s.Metrics == nil {
			s.Metrics = noMetrics{}
		}
	})
}

// Settings returns the configuration with defaults applied.
func (s *Service) Settings() Config {
	s.init()
	return s.Config
}

// Caller is who makes a merchant API request, as authentication established it.
type Caller struct {
	MerchantID string
	KeyID      string
	Mode       string // "test" or "live"
	// Nonce of the request, recorded in the request's transaction so that it cannot be replayed.
	Nonce string
	// IdempotencyKey and the SHA-256 of the body, when the request carries a key.
	IdempotencyKey string
	RequestHash    string
	// TerminalID and StoreID when the request comes from a counter session.
	TerminalID string
	StoreID    string
	ClientIP   string
}

// Result is the answer to a request that changes something: the HTTP status and JSON body,
// stored under the Idempotency-Key (if any) in the same transaction as the change.
type Result struct {
	Status   int
	Body     []byte
	Replayed bool
	Payment  *Payment // set by payment requests
	Refund   *Refund  // set by refund requests
}

// CallbackPath is where a channel account's provider sends its callbacks.
func CallbackPath(accountID string) string { return "/callbacks/" + accountID }

func (s *Service) callbackURL(accountID string) string {
	return s.PublicURL + CallbackPath(accountID)
}

// --- nonces and idempotency -----------------------------------------------------------------

// useNonce records the caller's nonce in tx; a replay is EUNAUTHORIZED.
func (s *Service) useNonce(ctx context.Context, tx Tx, c Caller) error {
	if c.Nonce == "" {
		return nil
	}
	err := tx.UseNonce(ctx, c.KeyID, c.Nonce, tx.Now().Add(s.NonceTTL))
	if qrpay.IsCode(err, qrpay.ECONFLICT) {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "This request was already made (nonce reused).")
	}
	return err
}

// BurnNonce records a nonce in a transaction of its own: for requests that change nothing (a
// GET) and for failed ones, so that no request can be replayed.
func (s *Service) BurnNonce(ctx context.Context, c Caller) error {
	s.init()
	if c.Nonce == "" {
		return nil
	}
	return s.Store.InTx(ctx, func(tx Tx) error { return s.useNonce(ctx, tx, c) })
}

// idempotent wraps a change under the caller's Idempotency-Key (Stripe's semantics): a key seen
// with the same body returns the stored response; with another body, EIDEMPOTENCYCONFLICT; while
// the first request is still in flight, ECONFLICT. Without a key fn just runs. A failed request
// burns its nonce and stores nothing, so the key may be retried.
func (s *Service) idempotent(ctx context.Context, c Caller, fn func() (*Result, error)) (*Result, error) {
	if c.IdempotencyKey == "" {
		res, err := fn()
		if err != nil {
			s.burnAfterFailure(ctx, c, err)
		}
		return res, err
	}
	rec, err := s.Store.FindIdempotency(ctx, c.KeyID, c.IdempotencyKey)
	switch {
	case err == nil:
		if rec.RequestHash != c.RequestHash {
			s.burnAfterFailure(ctx, c, nil)
			return nil, qrpay.Errorf(qrpay.EIDEMPOTENCYCONFLICT, "This Idempotency-Key was used with a different request body.")
		}
		if rec.Status != "done" {
			s.burnAfterFailure(ctx, c, nil)
			return nil, qrpay.Errorf(qrpay.ECONFLICT, "A request with this Idempotency-Key is still in progress.")
		}
		if err := s.BurnNonce(ctx, c); err != nil {
			return nil, err
		}
		return &Result{Status: rec.ResponseStatus, Body: rec.ResponseBody, Replayed: true}, nil
	case !qrpay.IsCode(err, qrpay.ENOTFOUND):
		return nil, err
	}
	key := c.KeyID + "\x00" + c.IdempotencyKey
	if _, busy := s.inflight.LoadOrStore(key, true); busy {
		s.burnAfterFailure(ctx, c, nil)
		return nil, qrpay.Errorf(qrpay.ECONFLICT, "A request with this Idempotency-Key is still in progress.")
	}
	defer s.inflight.Delete(key)
	res, err := fn()
	if err != nil {
		s.burnAfterFailure(ctx, c, err)
	}
	return res, err
}

// burnAfterFailure records the nonce of a request that failed before its transaction
// committed. A replay error means it was recorded already.
func (s *Service) burnAfterFailure(ctx context.Context, c Caller, err error) {
	if qrpay.IsCode(err, qrpay.EUNAUTHORIZED) {
		return
	}
	if berr := s.BurnNonce(context.WithoutCancel(ctx), c); berr != nil && !qrpay.IsCode(berr, qrpay.EUNAUTHORIZED) {
		s.Log.Warn("record nonce of a failed request", "err", berr)
	}
}

// finish stores the response under the idempotency key in tx.
func (s *Service) finish(ctx context.Context, tx Tx, c Caller, status int, obj any) (*Result, error) {
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return s.finishJSON(ctx, tx, c, status, body)
}

// finishJSON is finish with the body already rendered.
func (s *Service) finishJSON(ctx context.Context, tx Tx, c Caller, status int, body []byte) (*Result, error) {
	if c.IdempotencyKey != "" {
		err := tx.FinishIdempotency(ctx, &IdempotencyRecord{KeyID: c.KeyID, Key: c.IdempotencyKey,
			RequestHash: c.RequestHash, Status: "done", ResponseStatus: status, ResponseBody: body,
			ExpiresAt: tx.Now().Add(s.IdempotencyTTL)})
		if err != nil {
			return nil, err
		}
	}
	return &Result{Status: status, Body: body}, nil
}

// --- state changes, events and webhooks ------------------------------------------------------

// transition moves a locked payment to a new status in tx, checked against the state machine
// and guarded against concurrent changes, and writes its event (and webhook deliveries).
func (s *Service) transition(ctx context.Context, tx Tx, p *Payment, to Status) error {
	from := p.Status
	if !CanTransition(from, to) {
		return qrpay.Errorf(qrpay.EINVALIDSTATE, "A %s payment cannot become %s.", from, to)
	}
	now := tx.Now()
	p.Status = to
	eventType := ""
	switch to {
	case StatusPending:
		eventType = EventPaymentPending
	case StatusSucceeded:
		if p.PaidAt == nil {
			p.PaidAt = &now
		}
		eventType = EventPaymentSucceeded
		if IsLateSuccess(from, to) {
			p.AddFlag(FlagLateSuccess)
			eventType = EventPaymentLateSucceeded
		}
		p.NextCheckAt = nil
	case StatusFailed:
		eventType = EventPaymentFailed
		p.NextCheckAt = nil
	case StatusClosed:
		p.ClosedAt = &now
		eventType = EventPaymentClosed
		p.NextCheckAt = nil
	case StatusExpired:
		p.ClosedAt = &now
		eventType = EventPaymentExpired
		p.NextCheckAt = nil
	}
	if err := tx.UpdatePayment(ctx, p, from); err != nil {
		return err
	}
	s.Metrics.PaymentStatus(to)
	return s.emit(ctx, tx, p.MerchantID, eventType, "payment", p.ID, p.Object(s.PublicURL))
}

// emit writes an event in tx and, for webhook types, a delivery and its job per enabled endpoint.
func (s *Service) emit(ctx context.Context, tx Tx, merchantID, eventType, objectType, objectID string, obj any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return s.emitJSON(ctx, tx, merchantID, eventType, objectType, objectID, data)
}

// emitJSON is emit with the object already rendered (outside the transaction, on the hot path).
func (s *Service) emitJSON(ctx context.Context, tx Tx, merchantID, eventType, objectType, objectID string, data []byte) error {
	e := &Event{ID: qrpay.NewID("evt", tx.Now()), MerchantID: merchantID, Type: eventType, ObjectType: objectType,
		ObjectID: objectID, Data: data}
	if err := tx.InsertEvent(ctx, e); err != nil {
		return err
	}
	if !WebhookTypes[eventType] {
		return nil
	}
	return s.deliver(ctx, tx, e)
}

// deliver schedules an event's delivery to each of the merchant's enabled endpoints.
func (s *Service) deliver(ctx context.Context, tx Tx, e *Event) error {
	endpoints, err := tx.EnabledEndpoints(ctx, e.MerchantID)
	if err != nil {
		return err
	}
	for _, ep := range endpoints {
		d := &Delivery{ID: qrpay.NewID("whd", tx.Now()), EventID: e.ID, EndpointID: ep.ID, MerchantID: e.MerchantID, Status: "pending"}
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, DeliverWebhook{DeliveryID: d.ID}, qrpay.JobOptions{MaxAttempts: WebhookMaxAttempts}); err != nil {
			return err
		}
	}
	return nil
}

// EmitEvent records an event about an object of another domain (a settlement batch, say) and
// schedules its webhooks, in a transaction of the gateway's.
func (s *Service) EmitEvent(ctx context.Context, tx Tx, merchantID, eventType, objectType, objectID string, obj any) error {
	s.init()
	return s.emit(ctx, tx, merchantID, eventType, objectType, objectID, obj)
}

// --- provider calls --------------------------------------------------------------------------

// call runs one provider call, timing it for metrics and the payment's timeline and feeding the
// account's circuit breaker.
func (s *Service) call(ctx context.Context, route Route, paymentID, refundID, op string, fn func(ctx context.Context) error) (*ProviderCall, error) {
	start := time.Now()
	err := fn(ctx)
	d := time.Since(start)
	outcome := "ok"
	detail := ""
	switch {
	case err == nil:
	case IsOutcomeUnknown(err):
		outcome, detail = "unknown", err.Error()
	default:
		outcome, detail = "failed", err.Error()
	}
	if len(detail) > 500 {
		detail = detail[:500]
	}
	s.Router.Report(route.AccountID, err)
	s.Metrics.ProviderCall(route.Channel, op, outcome, d)
	return &ProviderCall{ID: qrpay.NewID("pc", s.Clock.Now()), PaymentID: paymentID, RefundID: refundID, Channel: route.Channel,
		Op: op, Outcome: outcome, Detail: detail, LatencyMS: int(d.Milliseconds()), CreatedAt: s.Clock.Now()}, err
}

// record writes provider calls in tx; a failure to record is logged, never fatal.
func (s *Service) record(ctx context.Context, tx Tx, calls ...*ProviderCall) error {
	for _, c := range calls {
		if c == nil {
			continue
		}
		if err := tx.InsertProviderCall(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// recordAlone writes provider calls in a transaction of their own.
func (s *Service) recordAlone(ctx context.Context, calls ...*ProviderCall) {
	if err := s.Store.InTx(ctx, func(tx Tx) error { return s.record(ctx, tx, calls...) }); err != nil {
		s.Log.Warn("record provider calls", "err", err)
	}
}

// routeOf returns the route a payment was given.
func (s *Service) routeOf(p *Payment) (Route, error) {
	a, ok := s.Router.Account(p.ChannelAccount)
	if !ok {
		return Route{}, fmt.Errorf("payment %s: channel account %q is not configured", p.ID, p.ChannelAccount)
	}
	return Route{Channel: p.Channel, AccountID: a.ID, SubMerchantID: p.SubMerchantID, Provider: a.Provider}, nil
}

// providerUnavailable turns a provider failure into the API's error.
func providerUnavailable(err error) error {
	var pe *ProviderError
	if errors.As(err, &pe) && !pe.Unknown && pe.Code != ProviderUnavailable {
		return &qrpay.Error{Code: qrpay.EPROVIDERUNAVAILABLE, Message: "The payment provider refused the request: " + pe.Code + ".", Err: err}
	}
	return &qrpay.Error{Code: qrpay.EPROVIDERUNAVAILABLE, Message: "The payment provider did not answer; try again.", Err: err}
}

func tradeRef(p *Payment) TradeRef {
	return TradeRef{PaymentID: p.ID, ProviderTradeNo: p.ProviderTradeNo, SubMerchantID: p.SubMerchantID}
}

// Idempotent runs a change that is not a payment's (creating a webhook endpoint, say) under the
// caller's Idempotency-Key, and stores its response with the request's nonce. The change and its
// stored response are two commits here: these requests are not on the hot path.
func (s *Service) Idempotent(ctx context.Context, c Caller, fn func() (int, any, error)) (*Result, error) {
	s.init()
	return s.idempotent(ctx, c, func() (*Result, error) {
		status, obj, err := fn()
		if err != nil {
			return nil, err
		}
		var res *Result
		err = s.Store.InTx(ctx, func(tx Tx) error {
			if err := s.useNonce(ctx, tx, c); err != nil {
				return err
			}
			res, err = s.finish(ctx, tx, c, status, obj)
			return err
		})
		return res, err
	})
}
