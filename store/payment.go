package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// paymentColumns are the columns of payments in the order paymentRow scans them.
const paymentColumns = `id, merchant_id, store_id, terminal_id, sticker_id, merchant_order_no, amount, currency,
	status, scene, channel, channel_account, sub_merchant_id, mode, description, qr_payload, auth_code_mask,
	provider_trade_no, refunded_amount, refunding_amount, payer, failure_reason, flags, metadata, expires_at,
	next_check_at, check_attempts, paid_at, closed_at, created_at, updated_at`

type paymentRow struct {
	ID              string       `db:"id"`
	MerchantID      string       `db:"merchant_id"`
	StoreID         string       `db:"store_id"`
	TerminalID      string       `db:"terminal_id"`
	StickerID       string       `db:"sticker_id"`
	MerchantOrderNo string       `db:"merchant_order_no"`
	Amount          int64        `db:"amount"`
	Currency        string       `db:"currency"`
	Status          string       `db:"status"`
	Scene           string       `db:"scene"`
	Channel         string       `db:"channel"`
	ChannelAccount  string       `db:"channel_account"`
	SubMerchantID   string       `db:"sub_merchant_id"`
	Mode            string       `db:"mode"`
	Description     string       `db:"description"`
	QRPayload       string       `db:"qr_payload"`
	AuthCodeMask    string       `db:"auth_code_mask"`
	ProviderTradeNo string       `db:"provider_trade_no"`
	RefundedAmount  int64        `db:"refunded_amount"`
	RefundingAmount int64        `db:"refunding_amount"`
	Payer           string       `db:"payer"`
	FailureReason   string       `db:"failure_reason"`
	Flags           string       `db:"flags"`
	Metadata        string       `db:"metadata"`
	ExpiresAt       time.Time    `db:"expires_at"`
	NextCheckAt     sql.NullTime `db:"next_check_at"`
	CheckAttempts   int          `db:"check_attempts"`
	PaidAt          sql.NullTime `db:"paid_at"`
	ClosedAt        sql.NullTime `db:"closed_at"`
	CreatedAt       time.Time    `db:"created_at"`
	UpdatedAt       time.Time    `db:"updated_at"`
}

func (r *paymentRow) payment() *gateway.Payment {
	p := &gateway.Payment{
		ID: r.ID, MerchantID: r.MerchantID, StoreID: r.StoreID, TerminalID: r.TerminalID, StickerID: r.StickerID,
		MerchantOrderNo: r.MerchantOrderNo, Amount: r.Amount, Currency: qrpay.Currency(r.Currency),
		Status: gateway.Status(r.Status), Scene: gateway.Scene(r.Scene), Channel: r.Channel,
		ChannelAccount: r.ChannelAccount, SubMerchantID: r.SubMerchantID, Mode: r.Mode, Description: r.Description,
		QRPayload: r.QRPayload, AuthCodeMask: r.AuthCodeMask, ProviderTradeNo: r.ProviderTradeNo,
		RefundedAmount: r.RefundedAmount, RefundingAmount: r.RefundingAmount, Payer: r.Payer,
		FailureReason: r.FailureReason, Flags: gateway.ParseFlags(r.Flags), ExpiresAt: r.ExpiresAt.UTC(),
		NextCheckAt: timePtr(r.NextCheckAt), CheckAttempts: r.CheckAttempts, PaidAt: timePtr(r.PaidAt),
		ClosedAt: timePtr(r.ClosedAt), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Metadata != "" && r.Metadata != "{}" {
		_ = json.Unmarshal([]byte(r.Metadata), &p.Metadata)
	}
	return p
}

// InsertPayment implements gateway.Tx.
func (tx gatewayTx) InsertPayment(ctx context.Context, p *gateway.Payment) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt, p.UpdatedAt = tx.now, tx.now
	}
	_, err := tx.exec(ctx, `INSERT INTO payments (`+paymentColumns+`) VALUES
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.MerchantID, p.StoreID, p.TerminalID, p.StickerID, p.MerchantOrderNo, p.Amount, string(p.Currency),
		string(p.Status), string(p.Scene), p.Channel, p.ChannelAccount, p.SubMerchantID, p.Mode, p.Description,
		p.QRPayload, p.AuthCodeMask, p.ProviderTradeNo, p.RefundedAmount, p.RefundingAmount, p.Payer,
		p.FailureReason, p.FlagsString(), p.MetadataJSON(), utc(p.ExpiresAt), utcPtr(p.NextCheckAt),
		p.CheckAttempts, utcPtr(p.PaidAt), utcPtr(p.ClosedAt), p.CreatedAt, p.UpdatedAt)
	if qrpay.IsCode(err, qrpay.ECONFLICT) {
		return &qrpay.Error{Code: qrpay.ECONFLICT, Param: "merchant_order_no",
			Message: "This merchant_order_no was used for another payment.", Err: err}
	}
	return err
}

// LockPayment implements gateway.Tx.
func (tx gatewayTx) LockPayment(ctx context.Context, id string) (*gateway.Payment, error) {
	return selectOne(ctx, tx, (*paymentRow).payment, "payment",
		`SELECT `+paymentColumns+` FROM payments WHERE id = ?`+tx.db.forUpdate(), id)
}

// UpdatePayment implements gateway.Tx.
func (tx gatewayTx) UpdatePayment(ctx context.Context, p *gateway.Payment, from gateway.Status) error {
	p.UpdatedAt = tx.now
	n, err := tx.exec(ctx, `UPDATE payments SET status = ?, channel = ?, channel_account = ?, sub_merchant_id = ?,
		qr_payload = ?, provider_trade_no = ?, payer = ?, failure_reason = ?, flags = ?, expires_at = ?,
		next_check_at = ?, check_attempts = ?, paid_at = ?, closed_at = ?, updated_at = ?
		WHERE id = ? AND status = ?`,
		string(p.Status), p.Channel, p.ChannelAccount, p.SubMerchantID, p.QRPayload, p.ProviderTradeNo, p.Payer,
		p.FailureReason, p.FlagsString(), utc(p.ExpiresAt), utcPtr(p.NextCheckAt), p.CheckAttempts,
		utcPtr(p.PaidAt), utcPtr(p.ClosedAt), p.UpdatedAt, p.ID, string(from))
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.ECONFLICT, "The payment changed meanwhile.")
	}
	return nil
}

// HoldRefund implements gateway.Tx. The guard is in the UPDATE itself.
func (tx gatewayTx) HoldRefund(ctx context.Context, paymentID string, amount int64) error {
	n, err := tx.exec(ctx, `UPDATE payments SET refunding_amount = refunding_amount + ?, updated_at = ?
		WHERE id = ? AND status = 'succeeded' AND amount - refunded_amount - refunding_amount >= ?`,
		amount, tx.now, paymentID, amount)
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.EAMOUNTEXCEEDSREFUNDABLE, "The refund exceeds what remains refundable.")
	}
	return nil
}

// ReleaseRefund implements gateway.Tx.
func (tx gatewayTx) ReleaseRefund(ctx context.Context, paymentID string, amount int64, succeeded bool) error {
	moved := int64(0)
	if succeeded {
		moved = amount
	}
	n, err := tx.exec(ctx, `UPDATE payments SET refunding_amount = refunding_amount - ?,
		refunded_amount = refunded_amount + ?, updated_at = ? WHERE id = ? AND refunding_amount >= ?`,
		amount, moved, tx.now, paymentID, amount)
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.EINTERNAL, "No refund hold of %d on payment %s.", amount, paymentID)
	}
	return nil
}

// PayerTotal implements gateway.Tx.
func (tx gatewayTx) PayerTotal(ctx context.Context, payer string, currency qrpay.Currency, from, to time.Time) (int64, error) {
	var total int64
	err := tx.get(ctx, &total, `SELECT COALESCE(SUM(amount - refunded_amount), 0) FROM payments
		WHERE payer = ? AND scene = 'sticker' AND currency = ? AND created_at >= ? AND created_at < ?
		AND status IN ('created', 'pending', 'succeeded')`, payer, string(currency), utc(from), utc(to))
	return total, translate(err)
}

// ClaimChecks implements gateway.Tx: a lease on due rows, so that several processes sweeping at
// once each take different payments (SKIP LOCKED on PostgreSQL; SQLite has one writer).
func (tx gatewayTx) ClaimChecks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*gateway.Payment, error) {
	lock := ""
	if tx.db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return selectAll(ctx, tx, (*paymentRow).payment, `UPDATE payments SET next_check_at = ?, check_attempts = check_attempts + 1
		WHERE id IN (SELECT id FROM payments WHERE next_check_at IS NOT NULL AND next_check_at <= ?
			ORDER BY next_check_at LIMIT ?`+lock+`)
		RETURNING `+paymentColumns, utc(leaseUntil), utc(now), limit)
}

// FindPayment implements gateway.Store.
func (db *DB) FindPayment(ctx context.Context, merchantID, id string) (*gateway.Payment, error) {
	query, args := scoped(`SELECT `+paymentColumns+` FROM payments WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*paymentRow).payment, "payment", query, args...)
}

// FindPayments implements gateway.Store.
func (db *DB) FindPayments(ctx context.Context, f gateway.PaymentFilter) ([]*gateway.Payment, bool, error) {
	var w where
	w.filter("merchant_id", f.MerchantID)
	w.filter("merchant_order_no", f.MerchantOrderNo)
	w.filter("status", string(f.Status))
	w.filter("channel", f.Channel)
	w.filter("scene", string(f.Scene))
	w.filter("store_id", f.StoreID)
	w.filter("terminal_id", f.TerminalID)
	if f.Flag != "" {
		// Flags are a short comma-separated list of known words (the service checks the word);
		// match one whole word.
		w.add("(',' || flags || ',') LIKE ?", "%,"+f.Flag+",%")
	}
	if f.Search != "" {
		w.add("(id = ? OR merchant_order_no = ? OR provider_trade_no = ?)", f.Search, f.Search, f.Search)
	}
	if !f.CreatedFrom.IsZero() {
		w.add("created_at >= ?", utc(f.CreatedFrom))
	}
	if !f.CreatedTo.IsZero() {
		w.add("created_at < ?", utc(f.CreatedTo))
	}
	if f.StartingAfter != "" {
		w.add("id < ?", f.StartingAfter)
	}
	return selectPage(ctx, db, (*paymentRow).payment, clampLimit(f.Limit),
		`SELECT `+paymentColumns+` FROM payments`+w.sql()+` ORDER BY id DESC`, w.args...)
}
