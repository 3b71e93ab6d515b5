package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// gatewayTx is a Tx seen through gateway.Tx.
type gatewayTx struct{ *Tx }

var _ gateway.Tx = gatewayTx{}
var _ gateway.Store = (*GatewayStore)(nil)

// GatewayStore implements gateway.Store.
type GatewayStore struct {
	*DB
	batchOnce sync.Once
	batch     *createBatcher
}

// Gateway returns the database as a gateway.Store (one per database: it batches creations).
func (db *DB) Gateway() *GatewayStore {
	db.gatewayOnce.Do(func() { db.gateway = &GatewayStore{DB: db} })
	return db.gateway
}

// InTx implements gateway.Store.
func (s *GatewayStore) InTx(ctx context.Context, fn func(tx gateway.Tx) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(gatewayTx{tx}) })
}

// UseNonce implements gateway.Tx.
func (tx gatewayTx) UseNonce(ctx context.Context, keyID, nonce string, expiresAt time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO api_nonces (key_id, nonce, expires_at) VALUES (?, ?, ?)`, keyID, nonce, utc(expiresAt))
	return err
}

// MerchantStatus implements gateway.Tx.
func (tx gatewayTx) MerchantStatus(ctx context.Context, merchantID string) (merchant.Status, error) {
	var st string
	if err := tx.get(ctx, &st, `SELECT status FROM merchants WHERE id = ?`, merchantID); err != nil {
		return "", notFound(err, "merchant")
	}
	return merchant.Status(st), nil
}

type idempotencyRow struct {
	KeyID          string    `db:"key_id"`
	Key            string    `db:"idem_key"`
	RequestHash    string    `db:"request_hash"`
	Status         string    `db:"status"`
	ResponseStatus int       `db:"response_status"`
	ResponseBody   string    `db:"response_body"`
	CreatedAt      time.Time `db:"created_at"`
	ExpiresAt      time.Time `db:"expires_at"`
}

// BeginIdempotency implements gateway.Tx.
func (tx gatewayTx) BeginIdempotency(ctx context.Context, r *gateway.IdempotencyRecord) error {
	r.CreatedAt = tx.now
	_, err := tx.exec(ctx, `INSERT INTO idempotency_keys (key_id, idem_key, request_hash, status, created_at, expires_at)
		VALUES (?, ?, ?, 'in_flight', ?, ?)`, r.KeyID, r.Key, r.RequestHash, r.CreatedAt, utc(r.ExpiresAt))
	return err
}

// FinishIdempotency implements gateway.Tx.
func (tx gatewayTx) FinishIdempotency(ctx context.Context, r *gateway.IdempotencyRecord) error {
	_, err := tx.exec(ctx, `INSERT INTO idempotency_keys (key_id, idem_key, request_hash, status, response_status,
		response_body, created_at, expires_at) VALUES (?, ?, ?, 'done', ?, ?, ?, ?)
		ON CONFLICT (key_id, idem_key) DO UPDATE SET status = 'done', response_status = excluded.response_status,
		response_body = excluded.response_body`,
		r.KeyID, r.Key, r.RequestHash, r.ResponseStatus, string(r.ResponseBody), tx.now, utc(r.ExpiresAt))
	return err
}

// DeleteIdempotency implements gateway.Tx.
func (tx gatewayTx) DeleteIdempotency(ctx context.Context, keyID, key string) error {
	_, err := tx.exec(ctx, `DELETE FROM idempotency_keys WHERE key_id = ? AND idem_key = ? AND status = 'in_flight'`, keyID, key)
	return err
}

// FindIdempotency implements gateway.Store.
func (db *DB) FindIdempotency(ctx context.Context, keyID, key string) (*gateway.IdempotencyRecord, error) {
	var r idempotencyRow
	if err := db.get(ctx, &r, `SELECT key_id, idem_key, request_hash, status, response_status, response_body,
		created_at, expires_at FROM idempotency_keys WHERE key_id = ? AND idem_key = ?`, keyID, key); err != nil {
		return nil, notFound(err, "idempotency key")
	}
	return &gateway.IdempotencyRecord{KeyID: r.KeyID, Key: r.Key, RequestHash: r.RequestHash, Status: r.Status,
		ResponseStatus: r.ResponseStatus, ResponseBody: []byte(r.ResponseBody), CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC()}, nil
}

// DeleteExpired implements gateway.Tx.
func (tx gatewayTx) DeleteExpired(ctx context.Context, now time.Time) error {
	if _, err := tx.exec(ctx, `DELETE FROM api_nonces WHERE expires_at < ?`, utc(now)); err != nil {
		return err
	}
	_, err := tx.exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at < ?`, utc(now))
	return err
}

const refundColumns = `id, payment_id, merchant_id, merchant_refund_no, amount, currency, status, reason,
	provider_refund_no, failure_reason, created_at, updated_at, succeeded_at`

type refundRow struct {
	ID               string       `db:"id"`
	PaymentID        string       `db:"payment_id"`
	MerchantID       string       `db:"merchant_id"`
	MerchantRefundNo string       `db:"merchant_refund_no"`
	Amount           int64        `db:"amount"`
	Currency         string       `db:"currency"`
	Status           string       `db:"status"`
	Reason           string       `db:"reason"`
	ProviderRefundNo string       `db:"provider_refund_no"`
	FailureReason    string       `db:"failure_reason"`
	CreatedAt        time.Time    `db:"created_at"`
	UpdatedAt        time.Time    `db:"updated_at"`
	SucceededAt      sql.NullTime `db:"succeeded_at"`
}

func (r *refundRow) refund() *gateway.Refund {
	return &gateway.Refund{ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID,
		MerchantRefundNo: r.MerchantRefundNo, Amount: r.Amount, Currency: qrpay.Currency(r.Currency),
		Status: gateway.RefundStatus(r.Status), Reason: r.Reason, ProviderRefundNo: r.ProviderRefundNo,
		FailureReason: r.FailureReason, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		SucceededAt: timePtr(r.SucceededAt)}
}

// InsertRefund implements gateway.Tx.
func (tx gatewayTx) InsertRefund(ctx context.Context, r *gateway.Refund) error {
	r.CreatedAt, r.UpdatedAt = tx.now, tx.now
	_, err := tx.exec(ctx, `INSERT INTO refunds (`+refundColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.PaymentID, r.MerchantID, r.MerchantRefundNo, r.Amount, string(r.Currency), string(r.Status),
		r.Reason, r.ProviderRefundNo, r.FailureReason, r.CreatedAt, r.UpdatedAt, utcPtr(r.SucceededAt))
	if qrpay.IsCode(err, qrpay.ECONFLICT) {
		return &qrpay.Error{Code: qrpay.ECONFLICT, Param: "merchant_refund_no",
			Message: "This merchant_refund_no was used for another refund.", Err: err}
	}
	return err
}

// LockRefund implements gateway.Tx.
func (tx gatewayTx) LockRefund(ctx context.Context, id string) (*gateway.Refund, error) {
	return selectOne(ctx, tx, (*refundRow).refund, "refund",
		`SELECT `+refundColumns+` FROM refunds WHERE id = ?`+tx.db.forUpdate(), id)
}

// UpdateRefund implements gateway.Tx.
func (tx gatewayTx) UpdateRefund(ctx context.Context, r *gateway.Refund, from gateway.RefundStatus) error {
	r.UpdatedAt = tx.now
	n, err := tx.exec(ctx, `UPDATE refunds SET status = ?, provider_refund_no = ?, failure_reason = ?,
		updated_at = ?, succeeded_at = ? WHERE id = ? AND status = ?`,
		string(r.Status), r.ProviderRefundNo, r.FailureReason, r.UpdatedAt, utcPtr(r.SucceededAt), r.ID, string(from))
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.ECONFLICT, "The refund changed meanwhile.")
	}
	return nil
}

// FindRefund implements gateway.Store.
func (db *DB) FindRefund(ctx context.Context, merchantID, id string) (*gateway.Refund, error) {
	query, args := scoped(`SELECT `+refundColumns+` FROM refunds WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*refundRow).refund, "refund", query, args...)
}

// FindRefunds implements gateway.Store.
func (db *DB) FindRefunds(ctx context.Context, paymentID string) ([]*gateway.Refund, error) {
	return selectAll(ctx, db, (*refundRow).refund,
		`SELECT `+refundColumns+` FROM refunds WHERE payment_id = ? ORDER BY id`, paymentID)
}

const eventColumns = `id, merchant_id, type, object_type, object_id, data, created_at`

type eventRow struct {
	ID         string    `db:"id"`
	MerchantID string    `db:"merchant_id"`
	Type       string    `db:"type"`
	ObjectType string    `db:"object_type"`
	ObjectID   string    `db:"object_id"`
	Data       string    `db:"data"`
	CreatedAt  time.Time `db:"created_at"`
}

func (r *eventRow) event() *gateway.Event {
	return &gateway.Event{ID: r.ID, MerchantID: r.MerchantID, Type: r.Type, ObjectType: r.ObjectType,
		ObjectID: r.ObjectID, Data: json.RawMessage(r.Data), CreatedAt: r.CreatedAt.UTC()}
}

// InsertEvent implements gateway.Tx.
func (tx gatewayTx) InsertEvent(ctx context.Context, e *gateway.Event) error {
	e.CreatedAt = tx.now
	_, err := tx.exec(ctx, `INSERT INTO events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.Type, e.ObjectType, e.ObjectID, string(e.Data), e.CreatedAt)
	return err
}

// FindEvents implements gateway.Store.
func (db *DB) FindEvents(ctx context.Context, f gateway.EventFilter) ([]*gateway.Event, bool, error) {
	var w where
	w.add("merchant_id = ?", f.MerchantID) // unconditional: events are listed per merchant
	w.filter("object_id", f.ObjectID)
	w.filter("type", f.Type)
	if f.StartingAfter != "" {
		w.add("id < ?", f.StartingAfter)
	}
	return selectPage(ctx, db, (*eventRow).event, clampLimit(f.Limit),
		`SELECT `+eventColumns+` FROM events`+w.sql()+` ORDER BY id DESC`, w.args...)
}

// FindEvent implements gateway.Store.
func (db *DB) FindEvent(ctx context.Context, merchantID, id string) (*gateway.Event, error) {
	query, args := scoped(`SELECT `+eventColumns+` FROM events WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*eventRow).event, "event", query, args...)
}

// EnabledEndpoints implements gateway.Tx.
func (tx gatewayTx) EnabledEndpoints(ctx context.Context, merchantID string) ([]merchant.WebhookEndpoint, error) {
	return selectAll(ctx, tx, func(r *endpointRow) merchant.WebhookEndpoint { return *r.endpoint() },
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE merchant_id = ? AND status = 'enabled' AND deleted_at IS NULL
		ORDER BY id`, merchantID)
}

const deliveryColumns = `d.id, d.event_id, d.endpoint_id, d.merchant_id, d.status, d.attempts, d.last_status,
	d.created_at, d.updated_at, d.delivered_at`

type deliveryRow struct {
	ID          string       `db:"id"`
	EventID     string       `db:"event_id"`
	EndpointID  string       `db:"endpoint_id"`
	MerchantID  string       `db:"merchant_id"`
	Status      string       `db:"status"`
	Attempts    int          `db:"attempts"`
	LastStatus  int          `db:"last_status"`
	CreatedAt   time.Time    `db:"created_at"`
	UpdatedAt   time.Time    `db:"updated_at"`
	DeliveredAt sql.NullTime `db:"delivered_at"`
}

func (r *deliveryRow) delivery() *gateway.Delivery {
	return &gateway.Delivery{ID: r.ID, EventID: r.EventID, EndpointID: r.EndpointID, MerchantID: r.MerchantID,
		Status: r.Status, Attempts: r.Attempts, LastStatus: r.LastStatus, CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), DeliveredAt: timePtr(r.DeliveredAt)}
}

// deliverySelect reads deliveries with their endpoint's URL, into deliveryURLRow.
const deliverySelect = `SELECT ` + deliveryColumns + `, e.url FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id`

type deliveryURLRow struct {
	deliveryRow
	URL string `db:"url"`
}

func (r *deliveryURLRow) deliveryWithURL() *gateway.Delivery {
	d := r.delivery()
	d.EndpointURL = r.URL
	return d
}

// InsertDelivery implements gateway.Tx.
func (tx gatewayTx) InsertDelivery(ctx context.Context, d *gateway.Delivery) error {
	d.CreatedAt, d.UpdatedAt = tx.now, tx.now
	_, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, status, attempts,
		last_status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)`,
		d.ID, d.EventID, d.EndpointID, d.MerchantID, d.Status, d.CreatedAt, d.UpdatedAt)
	return err
}

// LockDelivery implements gateway.Tx.
func (tx gatewayTx) LockDelivery(ctx context.Context, id string) (*gateway.Delivery, error) {
	return selectOne(ctx, tx, (*deliveryURLRow).deliveryWithURL, "webhook delivery",
		deliverySelect+` WHERE d.id = ?`+forUpdateOf(tx.db, "d"), id)
}

// updateDelivery writes a delivery's status and counters if it still has the attempts read
// before (the last parameter); updateDeliveryArgs are its parameters.
const updateDelivery = `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status = ?, updated_at = ?,
	delivered_at = ? WHERE id = ? AND attempts = ?`

func updateDeliveryArgs(d *gateway.Delivery, seenAttempts int) []any {
	return []any{d.Status, d.Attempts, d.LastStatus, utc(d.UpdatedAt), utcPtr(d.DeliveredAt), d.ID, seenAttempts}
}

const attemptColumns = `id, delivery_id, attempt, status_code, latency_ms, response, error, created_at`

// UpdateDelivery implements gateway.Tx.
func (tx gatewayTx) UpdateDelivery(ctx context.Context, d *gateway.Delivery, seenAttempts int) error {
	d.UpdatedAt = tx.now
	n, err := tx.exec(ctx, updateDelivery, updateDeliveryArgs(d, seenAttempts)...)
	if err == nil && n == 0 {
		return deliveryChanged(d.ID)
	}
	return err
}

// RecordAttempt implements gateway.Store. It is on the path of every webhook: on PostgreSQL
// it is one statement that commits alone (the attempt is inserted only if the guarded update
// found the delivery); SQLite, whose statements cost no round trip, runs the two in a
// transaction.
func (s *GatewayStore) RecordAttempt(ctx context.Context, d *gateway.Delivery, seenAttempts int, a *gateway.Attempt) error {
	if s.dialect != Postgres {
		return s.InTx(ctx, func(tx gateway.Tx) error {
			if err := tx.UpdateDelivery(ctx, d, seenAttempts); err != nil {
				return err
			}
			return tx.InsertAttempt(ctx, a)
		})
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	d.UpdatedAt, a.CreatedAt = now, now
	// The attempt's row takes its values from parameters, except its delivery id, which comes
	// from the update: no row is inserted unless the update found the delivery.
	n, err := s.execW(ctx, `WITH u AS (`+updateDelivery+` RETURNING id)
		INSERT INTO webhook_attempts (`+attemptColumns+`)
		SELECT CAST(? AS TEXT), u.id, CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS INTEGER), CAST(? AS TEXT),
		CAST(? AS TEXT), CAST(? AS TIMESTAMPTZ) FROM u`,
		append(updateDeliveryArgs(d, seenAttempts), a.ID, a.Attempt, a.StatusCode, a.LatencyMS, a.Response, a.Error, a.CreatedAt)...)
	if err == nil && n == 0 {
		return deliveryChanged(d.ID)
	}
	return err
}

// deliveryChanged is the ECONFLICT of a delivery's guarded update.
func deliveryChanged(id string) error {
	return qrpay.Errorf(qrpay.ECONFLICT, "The webhook delivery %s changed meanwhile.", id)
}

// InsertAttempt implements gateway.Tx.
func (tx gatewayTx) InsertAttempt(ctx context.Context, a *gateway.Attempt) error {
	a.CreatedAt = tx.now
	_, err := tx.exec(ctx, `INSERT INTO webhook_attempts (`+attemptColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.DeliveryID, a.Attempt, a.StatusCode, a.LatencyMS, a.Response, a.Error, a.CreatedAt)
	return err
}

// UpdateEndpointHealth implements gateway.Tx.
func (tx gatewayTx) UpdateEndpointHealth(ctx context.Context, e *merchant.WebhookEndpoint) error {
	_, err := tx.exec(ctx, `UPDATE webhook_endpoints SET status = ?, disabled_reason = ?, failing_since = ? WHERE id = ?`,
		e.Status, e.DisabledReason, utcPtr(e.FailingSince), e.ID)
	return err
}

// InsertNotice implements gateway.Tx.
func (tx gatewayTx) InsertNotice(ctx context.Context, n *gateway.Notice) error {
	n.CreatedAt = tx.now
	_, err := tx.exec(ctx, `INSERT INTO notices (id, merchant_id, kind, subject, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		n.ID, n.MerchantID, n.Kind, n.Subject, n.Body, n.CreatedAt)
	return err
}

// FindDeliveries implements gateway.Store.
func (db *DB) FindDeliveries(ctx context.Context, f gateway.DeliveryFilter) ([]*gateway.Delivery, error) {
	var w where
	w.filter("d.merchant_id", f.MerchantID)
	w.filter("d.event_id", f.EventID)
	if f.PaymentID != "" {
		w.add("d.event_id IN (SELECT id FROM events WHERE object_id = ?)", f.PaymentID)
	}
	return selectAll(ctx, db, (*deliveryURLRow).deliveryWithURL, deliverySelect+w.sql()+` ORDER BY d.id DESC LIMIT ?`,
		append(w.args, clampLimit(f.Limit))...)
}

// FindDelivery implements gateway.Store.
func (db *DB) FindDelivery(ctx context.Context, merchantID, id string) (*gateway.Delivery, error) {
	query, args := deliverySelect+` WHERE d.id = ?`, []any{id}
	if merchantID != "" {
		query, args = query+` AND d.merchant_id = ?`, append(args, merchantID)
	}
	d, err := selectOne(ctx, db, (*deliveryURLRow).deliveryWithURL, "webhook delivery", query, args...)
	if err != nil {
		return nil, err
	}
	ev, err := db.FindEvent(ctx, "", d.EventID)
	if err != nil {
		return nil, err
	}
	d.Event = ev
	return d, nil
}

// nested writes the columns of table alias t as "n.column", for a nested struct n of sqlx.
func nested(t, n, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = t + "." + c + ` AS "` + n + "." + c + `"`
	}
	return strings.Join(cols, ", ")
}

// deliveryToSendQuery reads a delivery, its event and its endpoint at once.
var deliveryToSendQuery = `SELECT ` + deliveryColumns + `, e.url, ` + nested("ev", "ev", eventColumns) + `, ` +
	nested("e", "ep", endpointColumns) + `, e.deleted_at IS NULL AS ep_live
	FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id
	WHERE d.id = ?`

// DeliveryToSend implements gateway.Store.
func (db *DB) DeliveryToSend(ctx context.Context, id string) (*gateway.Delivery, *merchant.WebhookEndpoint, error) {
	var r struct {
		deliveryURLRow
		Event    eventRow    `db:"ev"`
		Endpoint endpointRow `db:"ep"`
		Live     bool        `db:"ep_live"`
	}
	if err := db.get(ctx, &r, deliveryToSendQuery, id); err != nil {
		return nil, nil, notFound(err, "webhook delivery")
	}
	d := r.deliveryWithURL()
	d.Event = r.Event.event()
	if !r.Live {
		return d, nil, nil
	}
	return d, r.Endpoint.endpoint(), nil
}

// FindAttempts implements gateway.Store.
func (db *DB) FindAttempts(ctx context.Context, deliveryID string) ([]*gateway.Attempt, error) {
	var rows []struct {
		ID         string    `db:"id"`
		DeliveryID string    `db:"delivery_id"`
		Attempt    int       `db:"attempt"`
		StatusCode int       `db:"status_code"`
		LatencyMS  int       `db:"latency_ms"`
		Response   string    `db:"response"`
		Error      string    `db:"error"`
		CreatedAt  time.Time `db:"created_at"`
	}
	if err := db.sel(ctx, &rows, `SELECT `+attemptColumns+` FROM webhook_attempts WHERE delivery_id = ? ORDER BY id`, deliveryID); err != nil {
		return nil, err
	}
	out := make([]*gateway.Attempt, len(rows))
	for i, r := range rows {
		out[i] = &gateway.Attempt{ID: r.ID, DeliveryID: r.DeliveryID, Attempt: r.Attempt, StatusCode: r.StatusCode,
			LatencyMS: r.LatencyMS, Response: r.Response, Error: r.Error, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// InsertProviderCall implements gateway.Tx.
func (tx gatewayTx) InsertProviderCall(ctx context.Context, c *gateway.ProviderCall) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = tx.now
	}
	_, err := tx.exec(ctx, `INSERT INTO provider_calls (id, payment_id, refund_id, channel, op, outcome, detail,
		latency_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.PaymentID, c.RefundID, c.Channel, c.Op, c.Outcome, c.Detail, c.LatencyMS, utc(c.CreatedAt))
	return err
}

// FindProviderCalls implements gateway.Store.
func (db *DB) FindProviderCalls(ctx context.Context, paymentID string) ([]*gateway.ProviderCall, error) {
	var rows []struct {
		ID        string    `db:"id"`
		PaymentID string    `db:"payment_id"`
		RefundID  string    `db:"refund_id"`
		Channel   string    `db:"channel"`
		Op        string    `db:"op"`
		Outcome   string    `db:"outcome"`
		Detail    string    `db:"detail"`
		LatencyMS int       `db:"latency_ms"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := db.sel(ctx, &rows, `SELECT id, payment_id, refund_id, channel, op, outcome, detail, latency_ms, created_at
		FROM provider_calls WHERE payment_id = ? ORDER BY id`, paymentID); err != nil {
		return nil, err
	}
	out := make([]*gateway.ProviderCall, len(rows))
	for i, r := range rows {
		out[i] = &gateway.ProviderCall{ID: r.ID, PaymentID: r.PaymentID, RefundID: r.RefundID, Channel: r.Channel,
			Op: r.Op, Outcome: r.Outcome, Detail: r.Detail, LatencyMS: r.LatencyMS, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// FindNotices implements gateway.Store.
func (db *DB) FindNotices(ctx context.Context, merchantID string, limit int) ([]*gateway.Notice, error) {
	var rows []struct {
		ID         string       `db:"id"`
		MerchantID string       `db:"merchant_id"`
		Kind       string       `db:"kind"`
		Subject    string       `db:"subject"`
		Body       string       `db:"body"`
		CreatedAt  time.Time    `db:"created_at"`
		ReadAt     sql.NullTime `db:"read_at"`
	}
	if err := db.sel(ctx, &rows, `SELECT id, merchant_id, kind, subject, body, created_at, read_at FROM notices
		WHERE merchant_id = ? ORDER BY id DESC LIMIT ?`, merchantID, clampLimit(limit)); err != nil {
		return nil, err
	}
	out := make([]*gateway.Notice, len(rows))
	for i, r := range rows {
		out[i] = &gateway.Notice{ID: r.ID, MerchantID: r.MerchantID, Kind: r.Kind, Subject: r.Subject, Body: r.Body,
			CreatedAt: r.CreatedAt.UTC(), ReadAt: timePtr(r.ReadAt)}
	}
	return out, nil
}
