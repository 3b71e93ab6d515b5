// Package settlement counts the money: it settles each settlement day into one batch per
// merchant, currency and mode, with a line per channel and an item per payment, refund or
// adjustment; it reconciles qrpay's records with the providers' statements and holds what does
// not match until an operator resolves it; and it reports (batches, charts' data, CSV files,
// the payout file for the bank).
//
// The rules, precisely:
//
//   - Days. A settlement day covers an interval of instants in the settlement zone, cut at the
//     configured cutoff (Calendar). A payment belongs to the day of its paid_at, a refund to
//     the day of its succeeded_at, an adjustment to the day its break was resolved.
//   - Order. Days are settled in order, each once. A run for day D first settles, in order,
//     the days after the last settled one (at most MaxCatchUp of them). A day once settled is
//     never settled again: a rerun changes nothing and answers the same batches.
//   - What a batch holds. The run of day D takes every succeeded payment and refund, and every
//     adjustment, of day D that is not held; and the stragglers: items of earlier (settled)
//     days that were not settleable when their day was run (a late success, a refund
//     confirmed late, an item whose hold was released), looked for within Lookback before D,
//     and for any age when a reconciliation break points at them. Each lands in exactly one
//     batch: the items table's primary key is the payment's or refund's id.
//   - Holds. A payment or refund with an open reconciliation break, or one whose break was
//     resolved by excluding it, is held out; so is a payment flagged amount_mismatch by the
//     gateway (the run opens a break for it). A payment's break holds its refunds too. A
//     refund is settled only with or after its payment.
//   - Fees. Per payment at the merchant's rate for the payment's channel when the payment is
//     settled (Fee); per refund, the proportional part of its payment's fee (ReturnedFee).
//     net = gross − refunds − fees + returned fees, per line and per batch. An adjustment of
//     +x counts as gross, of −x as refunds, without fees.
//   - Carry-over. A batch's total is its net plus carried_in, the carried_out of the previous
//     batch of the same merchant, currency and mode. A negative total is not paid: it is
//     carried out to the next batch (status carried). Otherwise payable = total (status
//     pending, or zero when nothing is due), paid on the payout date of the merchant's cycle.
//   - Test mode. Test-mode payments settle into their own batches (mode test, status test),
//     which are never paid out.
package settlement

import (
	"time"

	"github.com/qrpay/qrpay"
)

// Batch statuses.
const (
	StatusPending = "pending" // payable, awaiting payout
	StatusPaid    = "paid"    // paid out with a reference
	StatusCarried = "carried" // the total is negative: carried into the next batch
	StatusZero    = "zero"    // nothing is due
	StatusTest    = "test"    // test mode: never paid out
)

// Item kinds.
const (
	ItemPayment    = "payment"
	ItemRefund     = "refund"
	ItemAdjustment = "adjustment"
)

// Batch is what one merchant is owed for one settlement day in one currency and mode.
type Batch struct {
	ID              string
	MerchantID      string
	Day             Date
	Currency        qrpay.Currency
	Mode            string // "live" or "test"
	Cycle           Cycle
	PayoutDate      Date
	Count           int64 // items: payments + refunds + adjustments
	PaymentCount    int64
	RefundCount     int64
	AdjustmentCount int64
	Gross           int64
	Refunds         int64
	Fees            int64
	ReturnedFees    int64
	Adjustments     int64 // the signed sum of adjustments, included in Gross and Refunds
	Net             int64
	CarriedIn       int64 // ≤ 0: the debt of the previous batch
	CarriedOut      int64 // ≤ 0: the debt this batch passes on
	Payable         int64
	Status          string
	Reference       string // the payout's reference, once paid
	PaidAt          *time.Time
	CreatedAt       time.Time
	Lines           []Line

	// MerchantName is filled by reads that join the merchant (the console).
	MerchantName string
}

// Line is one channel of a batch.
type Line struct {
	ID              int64
	BatchID         string
	Channel         string
	Count           int64
	PaymentCount    int64
	RefundCount     int64
	AdjustmentCount int64
	Gross           int64
	Refunds         int64
	Fees            int64
	ReturnedFees    int64
	Adjustments     int64
	Net             int64
	BPS             int // the fee rate of the line's payments
}

// Item is one payment, refund or adjustment of a batch, with what the reports show of it.
type Item struct {
	ObjectID        string
	Kind            string
	BatchID         string
	Channel         string
	Amount          int64 // positive for payments and refunds; signed for adjustments
	Fee             int64 // the fee charged (payments) or returned (refunds)
	At              time.Time
	PaymentID       string
	MerchantOrderNo string
	ProviderTradeNo string
}

// BatchFilter selects batches.
type BatchFilter struct {
	MerchantID    string
	Day           Date
	From, To      Date // an inclusive range of days, when set
	Status        string
	Mode          string
	Limit         int
	StartingAfter string
}

// ItemFilter pages through a batch's items.
type ItemFilter struct {
	Limit         int
	StartingAfter string
}

// DayTotal is one channel's totals on one day, for charts.
type DayTotal struct {
	Day     Date
	Channel string
	Count   int64
	Gross   int64
	Net     int64
}

// DayRun records that a settlement day was settled.
type DayRun struct {
	Day       Date
	Start     time.Time
	End       time.Time
	AsOf      time.Time
	Batches   int
	Items     int64
	CreatedAt time.Time
}

// Run is the answer to a settlement run: the days it settled and the batches of the day asked.
type Run struct {
	Day     Date
	AsOf    time.Time
	Settled []Date // days settled by this run, in order; empty on a rerun
	Created int    // batches created by this run
	Batches []*Batch
}

// Stats is what one day's run did, as the store reports it.
type Stats struct {
	Batches   int
	Items     int64
	Held      int64 // breaks opened for flagged payments
	MaxAmount int64 // the largest payment amount met
}

// Payout is a batch due for payout, with the merchant's personal fields sealed as stored
// (merchant.Service.Open opens them together).
type Payout struct {
	BatchID             string
	MerchantID          string
	LegalName           string
	BankName            string
	BankAccountSealed   string
	LegalPersonIDSealed string
	PhoneSealed         string
	Amount              int64
	Currency            qrpay.Currency
	PayoutDate          Date
}

// Overview is one day across merchants, for operators.
type Overview struct {
	Day          Date
	Settled      bool
	Batches      []*Batch
	Count        int64
	Gross        int64
	Refunds      int64
	Fees         int64
	ReturnedFees int64
	Net          int64
	Payable      int64
	Paid         int64
	FeesEarned   int64 // fees − returned fees of live batches
	OpenBreaks   map[string]int
	DuePayouts   int64 // live batches pending payout whose payout date is on or before the day
}
