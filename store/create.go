package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/lib/pq"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// CreatePayment implements gateway.Store. On PostgreSQL the creation is one statement — data-
// modifying CTEs, each insert drawing its row from the payment's, which is inserted only if the
// merchant is active — so a payment costs one round trip and one commit. On SQLite, where the
// writer is single, the same writes run one by one in a transaction, shared by the creations
// that arrive together (group commit, see createBatcher).
func (s *GatewayStore) CreatePayment(ctx context.Context, c *gateway.PaymentCreation) (merchant.Status, error) {
	if s.dialect == Postgres {
		return s.createPaymentPostgres(ctx, c)
	}
	return s.batcher().create(ctx, c)
}

// writeCreation makes a creation's writes in tx (SQLite). A merchant that is not active
// writes nothing and returns its status.
func writeCreation(ctx context.Context, tx gatewayTx, c *gateway.PaymentCreation) (merchant.Status, error) {
	status, err := tx.MerchantStatus(ctx, c.Payment.MerchantID)
	if err != nil || status != merchant.StatusActive {
		return status, err
	}
	if c.Nonce != "" {
		if err := tx.UseNonce(ctx, c.KeyID, c.Nonce, c.NonceExpires); err != nil {
			return "", withParam(err, "nonce")
		}
	}
	if err := tx.InsertPayment(ctx, c.Payment); err != nil {
		return "", err
	}
	for _, pc := range c.Calls {
		if err := tx.InsertProviderCall(ctx, pc); err != nil {
			return "", err
		}
	}
	if err := tx.insertEventAt(ctx, c.Event); err != nil {
		return "", err
	}
	if c.Idempotency != nil {
		if err := tx.BeginIdempotency(ctx, &gateway.IdempotencyRecord{KeyID: c.Idempotency.KeyID, Key: c.Idempotency.Key,
			RequestHash: c.Idempotency.RequestHash, ExpiresAt: c.Idempotency.ExpiresAt}); err != nil {
			return "", withParam(err, "idempotency_key")
		}
		if err := tx.FinishIdempotency(ctx, c.Idempotency); err != nil {
			return "", err
		}
	}
	return status, nil
}

// createBatcher commits the creations waiting at the same moment together (SQLite): the single
// writer then pays one commit for many payments. Each creation runs in a savepoint of its own,
// so one that fails (a replayed nonce, a reused order number) rolls back alone; the others
// commit. A creation that comes alone is committed alone, at once.
type createBatcher struct {
	db   *DB
	ch   chan *createReq
	quit chan struct{}
}

type createReq struct {
	ctx    context.Context
	c      *gateway.PaymentCreation
	done   chan struct{}
	status merchant.Status
	err    error
}

// maxBatch bounds how many creations share a commit.
const maxBatch = 64

// batcher returns the database's batcher, starting it on first use.
func (s *GatewayStore) batcher() *createBatcher {
	s.batchOnce.Do(func() {
		s.batch = &createBatcher{db: s.DB, ch: make(chan *createReq, 4*maxBatch), quit: make(chan struct{})}
		s.onClose(func() { close(s.batch.quit) })
		go s.batch.run()
	})
	return s.batch
}

func (b *createBatcher) create(ctx context.Context, c *gateway.PaymentCreation) (merchant.Status, error) {
	r := &createReq{ctx: ctx, c: c, done: make(chan struct{})}
	select {
	case b.ch <- r:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-b.quit:
		return "", errors.New("the database is closed")
	}
	// Once queued the creation is committed or refused whatever the caller does, so wait.
	<-r.done
	return r.status, r.err
}

func (b *createBatcher) run() {
	for {
		var first *createReq
		select {
		case first = <-b.ch:
		case <-b.quit:
			return
		}
		batch := []*createReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-b.ch:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.commit(batch)
	}
}

// commit writes a batch in one transaction, each creation in its savepoint.
func (b *createBatcher) commit(batch []*createReq) {
	ctx := context.Background()
	err := b.db.inTx(ctx, func(t *Tx) error {
		tx := gatewayTx{t}
		for _, r := range batch {
			if len(batch) == 1 {
				r.status, r.err = writeCreation(r.ctx, tx, r.c)
				return r.err
			}
			if _, err := t.tx.ExecContext(ctx, `SAVEPOINT creation`); err != nil {
				return err
			}
			r.status, r.err = writeCreation(ctx, tx, r.c)
			if r.err != nil {
				if _, err := t.tx.ExecContext(ctx, `ROLLBACK TO creation`); err != nil {
					return err
				}
			}
			if _, err := t.tx.ExecContext(ctx, `RELEASE creation`); err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// withParam names the input a unique violation is about.
func withParam(err error, param string) error {
	var qe *qrpay.Error
	if errors.As(err, &qe) && qe.Code == qrpay.ECONFLICT {
		c := *qe
		c.Param = param
		return &c
	}
	return err
}

// insertEventAt inserts an event keeping its own CreatedAt.
func (tx gatewayTx) insertEventAt(ctx context.Context, e *gateway.Event) error {
	_, err := tx.exec(ctx, `INSERT INTO events (id, merchant_id, type, object_type, object_id, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ID, e.MerchantID, e.Type, e.ObjectType, e.ObjectID, string(e.Data), utc(e.CreatedAt))
	return err
}

// createPaymentPostgres is CreatePayment as one statement.
func (s *GatewayStore) createPaymentPostgres(ctx context.Context, c *gateway.PaymentCreation) (merchant.Status, error) {
	p := c.Payment
	args := []any{p.MerchantID}
	arg := func(v any, typ string) string {
		args = append(args, v)
		return "$" + itoa(len(args)) + "::" + typ
	}
	var b strings.Builder
	b.WriteString(`WITH m AS (SELECT status FROM merchants WHERE id = $1),
p AS (INSERT INTO payments (` + paymentColumns + `) SELECT `)
	vals := []string{arg(p.ID, "text"), arg(p.MerchantID, "text"), arg(p.StoreID, "text"), arg(p.TerminalID, "text"),
		arg(p.StickerID, "text"), arg(p.MerchantOrderNo, "text"), arg(p.Amount, "bigint"), arg(string(p.Currency), "text"),
		arg(string(p.Status), "text"), arg(string(p.Scene), "text"), arg(p.Channel, "text"), arg(p.ChannelAccount, "text"),
		arg(p.SubMerchantID, "text"), arg(p.Mode, "text"), arg(p.Description, "text"), arg(p.QRPayload, "text"),
		arg(p.AuthCodeMask, "text"), arg(p.ProviderTradeNo, "text"), arg(p.RefundedAmount, "bigint"),
		arg(p.RefundingAmount, "bigint"), arg(p.Payer, "text"), arg(p.FailureReason, "text"), arg(p.FlagsString(), "text"),
		arg(p.MetadataJSON(), "text"), arg(utc(p.ExpiresAt), "timestamptz"), arg(utcPtr(p.NextCheckAt), "timestamptz"),
		arg(p.CheckAttempts, "integer"), arg(utcPtr(p.PaidAt), "timestamptz"), arg(utcPtr(p.ClosedAt), "timestamptz"),
		arg(utc(p.CreatedAt), "timestamptz"), arg(utc(p.UpdatedAt), "timestamptz")}
	b.WriteString(strings.Join(vals, ", "))
	b.WriteString(` WHERE (SELECT status FROM m) = 'active' RETURNING id)`)
	if c.Nonce != "" {
		b.WriteString(`,
n AS (INSERT INTO api_nonces (key_id, nonce, expires_at) SELECT ` + arg(c.KeyID, "text") + `, ` + arg(c.Nonce, "text") + `, ` +
			arg(utc(c.NonceExpires), "timestamptz") + ` FROM p)`)
	}
	for i, pc := range c.Calls {
		b.WriteString(`,
c` + itoa(i) + ` AS (INSERT INTO provider_calls (id, payment_id, refund_id, channel, op, outcome, detail, latency_ms, created_at) SELECT ` +
			strings.Join([]string{arg(pc.ID, "text"), arg(pc.PaymentID, "text"), arg(pc.RefundID, "text"), arg(pc.Channel, "text"),
				arg(pc.Op, "text"), arg(pc.Outcome, "text"), arg(pc.Detail, "text"), arg(pc.LatencyMS, "integer"),
				arg(utc(pc.CreatedAt), "timestamptz")}, ", ") + ` FROM p)`)
	}
	e := c.Event
	b.WriteString(`,
e AS (INSERT INTO events (id, merchant_id, type, object_type, object_id, data, created_at) SELECT ` +
		strings.Join([]string{arg(e.ID, "text"), arg(e.MerchantID, "text"), arg(e.Type, "text"), arg(e.ObjectType, "text"),
			arg(e.ObjectID, "text"), arg(string(e.Data), "text"), arg(utc(e.CreatedAt), "timestamptz")}, ", ") + ` FROM p)`)
	if r := c.Idempotency; r != nil {
		b.WriteString(`,
i AS (INSERT INTO idempotency_keys (key_id, idem_key, request_hash, status, response_status, response_body, created_at, expires_at) SELECT ` +
			strings.Join([]string{arg(r.KeyID, "text"), arg(r.Key, "text"), arg(r.RequestHash, "text"), arg("done", "text"),
				arg(r.ResponseStatus, "integer"), arg(string(r.ResponseBody), "text"), arg(utc(p.CreatedAt), "timestamptz"),
				arg(utc(r.ExpiresAt), "timestamptz")}, ", ") + ` FROM p)`)
	}
	b.WriteString(`
SELECT (SELECT status FROM m), (SELECT count(*) FROM p)`)
	// The statement has a handful of shapes (with or without a nonce, an Idempotency-Key, a
	// retried provider call): each is prepared once and then costs one round trip.
	var status sql.NullString
	var inserted int
	var err error
	if st, perr := s.stmt(ctx, s.w, b.String()); perr == nil && st != nil {
		err = st.QueryRowxContext(ctx, args...).Scan(&status, &inserted)
	} else {
		err = s.w.QueryRowContext(ctx, b.String(), args...).Scan(&status, &inserted)
	}
	if err != nil {
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "23505" {
			switch {
			case strings.Contains(pe.Constraint, "api_nonces"):
				return "", withParam(translate(err), "nonce")
			case strings.Contains(pe.Constraint, "idempotency"):
				return "", withParam(translate(err), "idempotency_key")
			case strings.Contains(pe.Constraint, "merchant_order_no"):
				return "", &qrpay.Error{Code: qrpay.ECONFLICT, Param: "merchant_order_no",
					Message: "This merchant_order_no was used for another payment.", Err: err}
			}
		}
		return "", translate(err)
	}
	if !status.Valid {
		return "", qrpay.NotFound("merchant")
	}
	return merchant.Status(status.String), nil
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
