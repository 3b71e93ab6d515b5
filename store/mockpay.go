package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway/mockpay"
)

// mockTx is a Tx seen through mockpay.Tx.
type mockTx struct{ *Tx }

var _ mockpay.Tx = mockTx{}
var _ mockpay.Store = (*MockStore)(nil)

// MockStore implements mockpay.Store: the mock provider's ledger lives in qrpay's database.
type MockStore struct{ *DB }

// Mock returns the database as the mock provider's ledger.
func (db *DB) Mock() *MockStore { return &MockStore{db} }

// InTx implements mockpay.Store.
func (s *MockStore) InTx(ctx context.Context, fn func(tx mockpay.Tx) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(mockTx{tx}) })
}

const mockTradeColumns = `out_trade_no, trade_no, kind, amount, currency, subject, sub_merchant, notify_url, status,
	payer, refunded, expires_at, created_at, paid_at, closed_at, pay_at, notify_at, notify_count, notifies_due`

type mockTradeRow struct {
	OutTradeNo  string       `db:"out_trade_no"`
	TradeNo     string       `db:"trade_no"`
	Kind        string       `db:"kind"`
	Amount      int64        `db:"amount"`
	Currency    string       `db:"currency"`
	Subject     string       `db:"subject"`
	SubMerchant string       `db:"sub_merchant"`
	NotifyURL   string       `db:"notify_url"`
	Status      string       `db:"status"`
	Payer       string       `db:"payer"`
	Refunded    int64        `db:"refunded"`
	ExpiresAt   time.Time    `db:"expires_at"`
	CreatedAt   time.Time    `db:"created_at"`
	PaidAt      sql.NullTime `db:"paid_at"`
	ClosedAt    sql.NullTime `db:"closed_at"`
	PayAt       sql.NullTime `db:"pay_at"`
	NotifyAt    sql.NullTime `db:"notify_at"`
	NotifyCount int          `db:"notify_count"`
	NotifiesDue int          `db:"notifies_due"`
}

func (r *mockTradeRow) trade() *mockpay.Trade {
	return &mockpay.Trade{OutTradeNo: r.OutTradeNo, TradeNo: r.TradeNo, Kind: r.Kind, Amount: r.Amount, Currency: r.Currency,
		Subject: r.Subject, SubMerchant: r.SubMerchant, NotifyURL: r.NotifyURL, Status: r.Status, Payer: r.Payer,
		Refunded: r.Refunded, ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(), PaidAt: timePtr(r.PaidAt),
		ClosedAt: timePtr(r.ClosedAt), PayAt: timePtr(r.PayAt), NotifyAt: timePtr(r.NotifyAt), NotifyCount: r.NotifyCount,
		NotifiesDue: r.NotifiesDue}
}

const insertMockTrade = `INSERT INTO mock_trades (` + mockTradeColumns + `) VALUES
	(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func mockTradeArgs(t *mockpay.Trade) []any {
	return []any{t.OutTradeNo, t.TradeNo, t.Kind, t.Amount, t.Currency, t.Subject, t.SubMerchant, t.NotifyURL, t.Status, t.Payer,
		t.Refunded, utc(t.ExpiresAt), utc(t.CreatedAt), utcPtr(t.PaidAt), utcPtr(t.ClosedAt), utcPtr(t.PayAt),
		utcPtr(t.NotifyAt), t.NotifyCount, t.NotifiesDue}
}

// InsertMockTrade implements mockpay.Tx.
func (tx mockTx) InsertMockTrade(ctx context.Context, t *mockpay.Trade) error {
	_, err := tx.exec(ctx, insertMockTrade, mockTradeArgs(t)...)
	return err
}

// InsertMockTradeIfNew implements mockpay.Store: the first scan of every code.
func (s *MockStore) InsertMockTradeIfNew(ctx context.Context, t *mockpay.Trade) (bool, error) {
	n, err := s.execW(ctx, insertMockTrade+` ON CONFLICT (out_trade_no) DO NOTHING`, mockTradeArgs(t)...)
	return n == 1, err
}

// LockMockTrade implements mockpay.Tx.
func (tx mockTx) LockMockTrade(ctx context.Context, outTradeNo string) (*mockpay.Trade, error) {
	return selectOne(ctx, tx, (*mockTradeRow).trade, "trade",
		`SELECT `+mockTradeColumns+` FROM mock_trades WHERE out_trade_no = ?`+tx.db.forUpdate(), outTradeNo)
}

// UpdateMockTrade implements mockpay.Tx.
func (tx mockTx) UpdateMockTrade(ctx context.Context, t *mockpay.Trade) error {
	_, err := tx.exec(ctx, `UPDATE mock_trades SET status = ?, payer = ?, refunded = ?, paid_at = ?, closed_at = ?,
		pay_at = ?, notify_at = ?, notify_count = ?, notifies_due = ? WHERE out_trade_no = ?`,
		t.Status, t.Payer, t.Refunded, utcPtr(t.PaidAt), utcPtr(t.ClosedAt), utcPtr(t.PayAt), utcPtr(t.NotifyAt),
		t.NotifyCount, t.NotifiesDue, t.OutTradeNo)
	return err
}

// RecordNotified implements mockpay.Store in one autocommit statement: it is on the path of
// every payment, and a transaction around one statement would cost two more round trips.
func (s *MockStore) RecordNotified(ctx context.Context, outTradeNo string, sent int) error {
	at := "?" // PostgreSQL cannot tell a parameter's type inside CASE
	if s.dialect == Postgres {
		at = "CAST(? AS TIMESTAMPTZ)"
	}
	n, err := s.execW(ctx, `UPDATE mock_trades SET notify_count = notify_count + ?,
		notifies_due = CASE WHEN notifies_due > ? THEN notifies_due - ? ELSE 0 END,
		notify_at = CASE WHEN notifies_due > ? THEN `+at+` ELSE NULL END WHERE out_trade_no = ?`,
		sent, sent, sent, sent, utc(s.clock.Now()), outTradeNo)
	if err == nil && n == 0 {
		return qrpay.NotFound("trade")
	}
	return err
}

// InsertMockRefund implements mockpay.Tx.
func (tx mockTx) InsertMockRefund(ctx context.Context, r *mockpay.Refund) error {
	_, err := tx.exec(ctx, `INSERT INTO mock_refunds (`+mockRefundColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, r.OutRefundNo, r.RefundNo, r.OutTradeNo, r.Amount, r.Status, utc(r.CreatedAt))
	return err
}

// ClaimMockDue implements mockpay.Tx.
func (tx mockTx) ClaimMockDue(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*mockpay.Trade, error) {
	lock := ""
	if tx.db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var rows []mockTradeRow
	err := tx.sel(ctx, &rows, `SELECT `+mockTradeColumns+` FROM mock_trades WHERE out_trade_no IN (
		SELECT out_trade_no FROM mock_trades WHERE pay_at <= ? UNION
		SELECT out_trade_no FROM mock_trades WHERE notify_at <= ?) ORDER BY out_trade_no LIMIT ?`+lock, utc(now), utc(now), limit)
	if err != nil {
		return nil, err
	}
	out := make([]*mockpay.Trade, len(rows))
	for i := range rows {
		out[i] = rows[i].trade()
		// Lease: push due times forward so that other nodes skip these trades meanwhile.
		if _, err := tx.exec(ctx, `UPDATE mock_trades SET
			pay_at = CASE WHEN pay_at <= ? THEN ? ELSE pay_at END,
			notify_at = CASE WHEN notify_at <= ? THEN ? ELSE notify_at END WHERE out_trade_no = ?`,
			utc(now), utc(leaseUntil), utc(now), utc(leaseUntil), rows[i].OutTradeNo); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InsertPaymentCode implements mockpay.Tx.
func (tx mockTx) InsertPaymentCode(ctx context.Context, code, payer, channel string) error {
	_, err := tx.exec(ctx, `INSERT INTO mock_payment_codes (auth_code, payer, channel, created_at) VALUES (?, ?, ?, ?)`,
		code, payer, channel, tx.now)
	return err
}

// UsePaymentCode implements mockpay.Tx.
func (tx mockTx) UsePaymentCode(ctx context.Context, code string) (string, error) {
	var r struct {
		Payer  string       `db:"payer"`
		UsedAt sql.NullTime `db:"used_at"`
	}
	if err := tx.get(ctx, &r, `SELECT payer, used_at FROM mock_payment_codes WHERE auth_code = ?`+tx.db.forUpdate(), code); err != nil {
		return "", notFound(err, "payment code")
	}
	if r.UsedAt.Valid {
		return "", qrpay.Errorf(qrpay.ECONFLICT, "The payment code was used.")
	}
	_, err := tx.exec(ctx, `UPDATE mock_payment_codes SET used_at = ? WHERE auth_code = ?`, tx.now, code)
	return r.Payer, err
}

// MockTrade implements mockpay.Store.
func (db *DB) MockTrade(ctx context.Context, outTradeNo string) (*mockpay.Trade, error) {
	return selectOne(ctx, db, (*mockTradeRow).trade, "trade",
		`SELECT `+mockTradeColumns+` FROM mock_trades WHERE out_trade_no = ?`, outTradeNo)
}

// MockTradeByNo implements mockpay.Store.
func (db *DB) MockTradeByNo(ctx context.Context, tradeNo string) (*mockpay.Trade, error) {
	return selectOne(ctx, db, (*mockTradeRow).trade, "trade",
		`SELECT `+mockTradeColumns+` FROM mock_trades WHERE trade_no = ?`, tradeNo)
}

const mockRefundColumns = `out_refund_no, refund_no, out_trade_no, amount, status, created_at`

type mockRefundRow struct {
	OutRefundNo string    `db:"out_refund_no"`
	RefundNo    string    `db:"refund_no"`
	OutTradeNo  string    `db:"out_trade_no"`
	Amount      int64     `db:"amount"`
	Status      string    `db:"status"`
	CreatedAt   time.Time `db:"created_at"`
}

func (r *mockRefundRow) refund() *mockpay.Refund {
	return &mockpay.Refund{OutRefundNo: r.OutRefundNo, RefundNo: r.RefundNo, OutTradeNo: r.OutTradeNo, Amount: r.Amount,
		Status: r.Status, CreatedAt: r.CreatedAt.UTC()}
}

// MockRefund implements mockpay.Store.
func (db *DB) MockRefund(ctx context.Context, outRefundNo string) (*mockpay.Refund, error) {
	return selectOne(ctx, db, (*mockRefundRow).refund, "refund",
		`SELECT `+mockRefundColumns+` FROM mock_refunds WHERE out_refund_no = ?`, outRefundNo)
}

// MockStatement implements mockpay.Store.
func (db *DB) MockStatement(ctx context.Context, from, to time.Time) ([]*mockpay.Trade, []*mockpay.Refund, error) {
	trades, err := selectAll(ctx, db, (*mockTradeRow).trade, `SELECT `+mockTradeColumns+` FROM mock_trades
		WHERE paid_at >= ? AND paid_at < ? ORDER BY paid_at, out_trade_no`, utc(from), utc(to))
	if err != nil {
		return nil, nil, err
	}
	refunds, err := selectAll(ctx, db, (*mockRefundRow).refund, `SELECT `+mockRefundColumns+` FROM mock_refunds
		WHERE status = 'SUCCESS' AND created_at >= ? AND created_at < ? ORDER BY created_at, out_refund_no`, utc(from), utc(to))
	if err != nil {
		return nil, nil, err
	}
	return trades, refunds, nil
}
