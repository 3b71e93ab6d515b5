package settlement

import (
	"context"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// Store is what settlement needs of the database; the store package implements it. The run and
// the matching of statements are set-based SQL behind Tx.Settle and Tx.Match: no method loads
// every payment into memory.
type Store interface {
	// InTx runs fn in one transaction and commits it when fn returns nil.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// RunTx is InTx for a settlement run: at most one runs at a time across every process
	// sharing the database, and it reads one consistent snapshot from its first statement to
	// its commit.
	RunTx(ctx context.Context, fn func(tx Tx) error) error

	// LastSettledDay returns the latest settled day; ENOTFOUND before the first run.
	LastSettledDay(ctx context.Context) (Date, error)
	// FindBatch returns a batch with its lines; a non-empty merchantID scopes the lookup so that
	// another merchant's batch is ENOTFOUND.
	FindBatch(ctx context.Context, merchantID, id string) (*Batch, error)
	// FindBatches returns a page of batches with their lines, newest day first, and whether
	// more follow.
	FindBatches(ctx context.Context, f BatchFilter) ([]*Batch, bool, error)
	// FindItems returns a page of a batch's items ordered by object id.
	FindItems(ctx context.Context, batchID string, f ItemFilter) ([]Item, bool, error)
	// EachItem calls fn for every item of a batch, ordered by kind and object id, without
	// holding them all in memory.
	EachItem(ctx context.Context, batchID string, fn func(*Item) error) error
	// DayTotals returns a merchant's totals per day and channel over an inclusive range of
	// settlement days, from its batches of the mode.
	DayTotals(ctx context.Context, merchantID, mode string, from, to Date) ([]DayTotal, error)
	// OpenBreakCounts counts open breaks by kind, all of them when day is zero.
	OpenBreakCounts(ctx context.Context, day Date) (map[string]int, error)
	// FindBreaks returns a page of breaks, newest first.
	FindBreaks(ctx context.Context, f BreakFilter) ([]*Break, bool, error)
	// FindBreak returns a break.
	FindBreak(ctx context.Context, id string) (*Break, error)
	// FindHolidays returns the calendar's entries within an inclusive range.
	FindHolidays(ctx context.Context, from, to Date) ([]Holiday, error)
	// EachPayout calls fn for every live batch pending payout whose payout date is on or before
	// upTo, oldest first, with the merchant's sealed bank account.
	EachPayout(ctx context.Context, upTo Date, fn func(*Payout) error) error
	// FindStatement returns an imported statement's record.
	FindStatement(ctx context.Context, id string) (*Statement, error)
}

// Tx is one transaction of settlement's.
type Tx interface {
	// Now is the transaction's time.
	Now() time.Time
	// Gateway is the same transaction seen by the gateway, for events and late successes.
	Gateway() gateway.Tx

	// DayRun returns the record of a settled day, or ENOTFOUND.
	DayRun(ctx context.Context, d Date) (*DayRun, error)
	// LastDayRun returns the record of the latest settled day, or ENOTFOUND.
	LastDayRun(ctx context.Context) (*DayRun, error)
	// StartDay records a day as being settled; a day recorded before is ECONFLICT.
	StartDay(ctx context.Context, r *DayRun) error
	// Settle makes the day's batches, lines and items as the package documentation says,
	// set-based.
	Settle(ctx context.Context, p SettleParams) (Stats, error)
	// FinishDay records what the day's run did.
	FinishDay(ctx context.Context, d Date, s Stats) error
	// DayBatches returns every batch of a day with its lines.
	DayBatches(ctx context.Context, d Date) ([]*Batch, error)
	// Holidays returns the calendar's entries within an inclusive range.
	Holidays(ctx context.Context, from, to Date) ([]Holiday, error)
	// PutHoliday adds or replaces a calendar entry; DeleteHoliday removes one (ENOTFOUND).
	PutHoliday(ctx context.Context, h Holiday) error
	DeleteHoliday(ctx context.Context, d Date) error

	// LockBatch reads a batch and locks it until the transaction ends.
	LockBatch(ctx context.Context, id string) (*Batch, error)
	// MarkPaid records a batch's payout if the batch is still pending; otherwise ECONFLICT.
	MarkPaid(ctx context.Context, b *Batch, reference, paidBy string) error

	// InsertAudit writes an audit log entry.
	InsertAudit(ctx context.Context, e *merchant.AuditEntry) error

	// SaveStatement records a statement and its lines, replacing the lines of an earlier import
	// of the same channel account and day.
	SaveStatement(ctx context.Context, st *Statement, lines []gateway.StatementLine) error
	// Match compares a saved statement with qrpay's records and opens the breaks it finds
	// (except late successes, which LateSuccesses lists), set-based. A break that exists
	// already is not opened twice.
	Match(ctx context.Context, p MatchParams) (*MatchResult, error)
	// LateSuccesses lists the statement's successful payment lines whose payment qrpay knows
	// but has not recorded as succeeded.
	LateSuccesses(ctx context.Context, statementID string) ([]LateSuccess, error)
	// InsertBreak records a break unless one of the same kind about the same object exists,
	// and reports whether it did.
	InsertBreak(ctx context.Context, b *Break) (bool, error)
	// LockBreak reads a break and locks it until the transaction ends.
	LockBreak(ctx context.Context, id string) (*Break, error)
	// UpdateBreak writes a break's resolution if its status is still from; otherwise ECONFLICT.
	UpdateBreak(ctx context.Context, b *Break, from string) error
	// SettledItem returns the settled item of a payment, refund or adjustment, or ENOTFOUND.
	SettledItem(ctx context.Context, objectID string) (*Item, error)
}

// SettleParams is what Tx.Settle needs to settle one day.
type SettleParams struct {
	Day        Date
	Start, End time.Time // the day's window
	// StragglersFrom bounds the search for stragglers by time: items in [StragglersFrom, Start)
	// are looked at; the zero time means every item before Start (the first run).
	StragglersFrom time.Time
	// PayoutDates gives each cycle's payout date of the day.
	PayoutDates map[Cycle]Date
	// Rates are the fee rates of merchants without a rate for a channel; DefaultRate is for a
	// channel not in Rates.
	Rates       map[string]int
	DefaultRate int
}

// BatchID returns the id of the batch of a merchant, day, currency and mode. Ids are
// deterministic so that several nodes settling the same day cannot make two batches.
func BatchID(day Date, merchantID string, cur qrpay.Currency, mode string) string {
	id := "stl_" + day.Compact() + "_" + merchantID + "_" + lower(string(cur))
	if mode == merchant.ModeTest {
		id += "_test"
	}
	return id
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
