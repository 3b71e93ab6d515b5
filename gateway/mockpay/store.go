package mockpay

import (
	"context"
	"time"
)

// Trade is one payment in the mock provider's ledger.
type Trade struct {
	OutTradeNo  string
	TradeNo     string
	Kind        string // "qr" (a code it issued) or "code" (a payment code it charged)
	Amount      int64
	Currency    string
	Subject     string
	SubMerchant string
	NotifyURL   string
	Status      string
	Payer       string
	Refunded    int64
	ExpiresAt   time.Time
	CreatedAt   time.Time
	PaidAt      *time.Time
	ClosedAt    *time.Time
	// PayAt is when a customer still confirming finishes paying; NotifyAt when the next
	// callback is due, NotifyCount how many were sent and NotifiesDue how many more to send.
	PayAt       *time.Time
	NotifyAt    *time.Time
	NotifyCount int
	NotifiesDue int
}

// Refund is one refund in the mock provider's ledger.
type Refund struct {
	OutRefundNo string
	RefundNo    string
	OutTradeNo  string
	Amount      int64
	Status      string
	CreatedAt   time.Time
}

// Store keeps the mock provider's ledger; the store package implements it. The mock provider
// keeps its records in qrpay's database so that they survive a restart and are shared by every
// node, as a real provider's would be.
type Store interface {
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// MockTrade returns a trade by our id (out_trade_no), or ENOTFOUND.
	MockTrade(ctx context.Context, outTradeNo string) (*Trade, error)
	// MockTradeByNo returns a trade by the provider's number, or ENOTFOUND.
	MockTradeByNo(ctx context.Context, tradeNo string) (*Trade, error)
	// MockRefund returns a refund by our id, or ENOTFOUND.
	MockRefund(ctx context.Context, outRefundNo string) (*Refund, error)
	// MockStatement returns the trades paid and the refunds made in [from, to).
	MockStatement(ctx context.Context, from, to time.Time) ([]*Trade, []*Refund, error)
	// InsertMockTradeIfNew inserts a trade in one statement of its own unless its out_trade_no
	// is in the ledger already, and reports whether it did.
	InsertMockTradeIfNew(ctx context.Context, t *Trade) (bool, error)
	// RecordNotified records, in one statement of its own, that sent callbacks of a trade were
	// delivered: they count as sent, and the next is due at once if more are owed (none are
	// due otherwise). An unknown trade is ENOTFOUND.
	RecordNotified(ctx context.Context, outTradeNo string, sent int) error
}

// Tx is one transaction of the mock provider's.
type Tx interface {
	Now() time.Time
	// InsertMockTrade inserts a trade; an existing out_trade_no is ECONFLICT.
	InsertMockTrade(ctx context.Context, t *Trade) error
	// LockMockTrade reads a trade and locks it until the transaction ends.
	LockMockTrade(ctx context.Context, outTradeNo string) (*Trade, error)
	// UpdateMockTrade writes a trade.
	UpdateMockTrade(ctx context.Context, t *Trade) error
	// InsertMockRefund inserts a refund; an existing out_refund_no is ECONFLICT.
	InsertMockRefund(ctx context.Context, r *Refund) error
	// ClaimMockDue leases trades whose payment or callback is due at now, moving those times
	// to leaseUntil, and returns them as they were.
	ClaimMockDue(ctx context.Context, now, leaseUntil time.Time, limit int) ([]*Trade, error)
	// InsertPaymentCode records a payment code issued to a payer.
	InsertPaymentCode(ctx context.Context, code, payer, channel string) error
	// UsePaymentCode marks a payment code used and returns its payer; an unknown code is
	// ENOTFOUND, a used one ECONFLICT.
	UsePaymentCode(ctx context.Context, code string) (payer string, err error)
}
