package store

import (
	"context"
	"time"
)

// Backlog is what the background has yet to do about payments since a time: what the load
// generator waits on after a run stops, and what an operator watches on /metrics.
type Backlog struct {
	// Callbacks counts payments the mock provider charged that qrpay does not have as
	// succeeded yet: their callback (or the poll that replaces it) is still to come.
	Callbacks int64
	// Webhooks counts webhook deliveries not yet acknowledged by the merchant's endpoint.
	Webhooks int64
}

// Backlog counts the work outstanding about what happened at or after since.
func (db *DB) Backlog(ctx context.Context, since time.Time) (Backlog, error) {
	var b Backlog
	if err := db.get(ctx, &b.Webhooks, `SELECT COUNT(*) FROM webhook_deliveries
		WHERE status = 'pending' AND created_at >= ?`, since.UTC()); err != nil {
		return Backlog{}, err
	}
	if err := db.get(ctx, &b.Callbacks, `SELECT COUNT(*) FROM mock_trades t JOIN payments p ON p.id = t.out_trade_no
		WHERE t.status = 'SUCCESS' AND t.paid_at >= ? AND p.status <> 'succeeded'`, since.UTC()); err != nil {
		return Backlog{}, err
	}
	return b, nil
}

// PendingWebhooks counts every webhook delivery not yet acknowledged (or given up on).
func (db *DB) PendingWebhooks(ctx context.Context) (int64, error) {
	var n int64
	err := db.get(ctx, &n, `SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'`)
	return n, err
}
