package settlement

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// Service is settlement's use cases: the daily run, reconciliation, breaks, payouts and reports.
type Service struct {
	Store Store
	// Gateway writes settlement.created events and late successes (EmitEvent) and knows the
	// channel accounts whose statements can be fetched (its Router).
	Gateway *gateway.Service
	// Merchants opens merchants' bank accounts for the payout file; nil disables the file.
	Merchants *merchant.Service
	Clock     qrpay.Clock
	Log       *slog.Logger
	Calendar  Calendar
	// Lookback is how far before a day's window the run looks for stragglers by time (48 h);
	// older ones are found through the breaks that released them.
	Lookback time.Duration
	// MaxCatchUp bounds how many unsettled days one run settles in order (31).
	MaxCatchUp int
	// Grace is how long after a day's cutoff the daily job waits before settling it (30 min),
	// so that callbacks arriving just after the cutoff land in their day.
	Grace time.Duration
	// MockAccount is the mock provider's channel account ("mockpay").
	MockAccount string
	// AutoReconcile lists the channel accounts whose statements the daily job fetches by API
	// and reconciles before settling (the mock provider's account by default).
	AutoReconcile []string
	// Parsers read statement files by provider (the adapters' ParseStatement), for imports.
	Parsers map[string]func(io.Reader) (*gateway.Statement, error)

	once    sync.Once
	initErr error
}

func (s *Service) init() {
	s.once.Do(func() {
		if s.Clock == nil {
			s.Clock = qrpay.SystemClock{}
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		s.initErr = s.Calendar.Validate()
		if s.Gateway == nil {
			s.initErr = errors.New("settlement: the service needs the gateway (events, late successes)")
		}
		if s.Lookback <= 0 {
			s.Lookback = 48 * time.Hour
		}
		if s.MaxCatchUp <= 0 {
			s.MaxCatchUp = 31
		}
		if s.Grace < 0 {
			s.Grace = 0
		} else if s.Grace == 0 {
			s.Grace = 30 * time.Minute
		}
		if s.MockAccount == "" {
			s.MockAccount = "mockpay"
		}
		if s.AutoReconcile == nil {
			s.AutoReconcile = []string{s.MockAccount}
		}
	})
}

// Settings returns the calendar with its defaults applied.
func (s *Service) Settings() Calendar {
	s.init()
	return s.Calendar
}

// Today returns the settlement day now belongs to.
func (s *Service) Today() Date {
	s.init()
	return s.Calendar.DayOf(s.Clock.Now())
}

// Run settles day d as of asOf (now when zero) and answers its batches. Days are settled in
// order: unsettled days before d are settled first, each in its own transaction, at most
// MaxCatchUp of them. A day settled before is not settled again: the run answers its batches
// unchanged. Several processes may run at once: the store lets one settle and the others find
// the day settled.
//
// Errors: EINVALID for a zero day; EINVALIDSTATE when the day is not over as of asOf, when it is
// before the first settled day (whose batch took it in), or when more than MaxCatchUp days
// would have to be settled first.
func (s *Service) Run(ctx context.Context, d Date, asOf time.Time) (*Run, error) {
	s.init()
	if s.initErr != nil {
		return nil, s.initErr
	}
	if d.IsZero() {
		return nil, qrpay.Invalid("date", "Say which day to settle.")
	}
	if asOf.IsZero() {
		asOf = s.Clock.Now()
	}
	asOf = asOf.UTC().Truncate(time.Microsecond)
	run := &Run{Day: d, AsOf: asOf, Settled: []Date{}}
	// A day settled before answers its batches, whenever asked; one not settled must be over.
	if _, done, err := s.nextDay(ctx, d); err != nil && !qrpay.IsCode(err, qrpay.EINVALIDSTATE) {
		return nil, err
	} else if !done {
		if _, end := s.Calendar.Window(d); asOf.Before(end) {
			return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "Settlement day %s is not over until %s.", d,
				end.In(s.Calendar.Zone).Format("2006-01-02 15:04 MST"))
		}
	}
	for {
		next, done, err := s.nextDay(ctx, d)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		created, settled, err := s.settleDay(ctx, next, asOf)
		if err != nil {
			return nil, fmt.Errorf("settle %s: %w", next, err)
		}
		if settled {
			run.Settled = append(run.Settled, next)
			run.Created += created
		}
	}
	var err error
	run.Batches, _, err = s.Store.FindBatches(ctx, BatchFilter{Day: d, Limit: -1})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// RunBy is Run on an operator's behalf, recorded in the audit log.
func (s *Service) RunBy(ctx context.Context, actor merchant.Actor, d Date, asOf time.Time) (*Run, error) {
	run, err := s.Run(ctx, d, asOf)
	if err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, actor, "", "settlement.run", "settlement_day", d.String(), nil,
			map[string]any{"date": d, "as_of": run.AsOf, "settled": run.Settled, "created": run.Created}))
	})
	return run, err
}

// nextDay returns the next day to settle on the way to d, or done when d is settled.
func (s *Service) nextDay(ctx context.Context, d Date) (Date, bool, error) {
	last, err := s.Store.LastSettledDay(ctx)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return d, false, nil
	} else if err != nil {
		return Date{}, false, err
	}
	if !last.Before(d) {
		var settled bool
		err := s.Store.InTx(ctx, func(tx Tx) error {
			_, err := tx.DayRun(ctx, d)
			settled = err == nil
			if qrpay.IsCode(err, qrpay.ENOTFOUND) {
				return nil
			}
			return err
		})
		if err != nil {
			return Date{}, false, err
		}
		if !settled {
			return Date{}, false, qrpay.Errorf(qrpay.EINVALIDSTATE,
				"Settlement day %s was not settled on its own: it is before the first settled day, whose batches took in everything before them.", d)
		}
		return Date{}, true, nil
	}
	next := last.AddDays(1)
	if n := next.DaysUntil(d) + 1; n > s.MaxCatchUp {
		return Date{}, false, qrpay.Errorf(qrpay.EINVALIDSTATE,
			"Days are settled in order, and %d days (from %s) would have to be settled first; settle up to %s, then go on.",
			n-1, next, next.AddDays(s.MaxCatchUp-1))
	}
	return next, false, nil
}

// settleDay settles one day in its own run transaction, unless it is settled already. It returns
// how many batches it made and whether it settled the day.
func (s *Service) settleDay(ctx context.Context, d Date, asOf time.Time) (int, bool, error) {
	created, settled := 0, false
	err := s.Store.RunTx(ctx, func(tx Tx) error {
		created, settled = 0, false
		if _, err := tx.DayRun(ctx, d); err == nil {
			return nil // another process settled it meanwhile
		} else if !qrpay.IsCode(err, qrpay.ENOTFOUND) {
			return err
		}
		last, err := tx.LastDayRun(ctx)
		first := qrpay.IsCode(err, qrpay.ENOTFOUND)
		if err != nil && !first {
			return err
		}
		if !first && last.Day.AddDays(1) != d {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "Settlement day %s cannot be settled before %s.", d, last.Day.AddDays(1))
		}
		start, end := s.Calendar.Window(d)
		entries, err := tx.Holidays(ctx, d, d.AddDays(maxHolidayRun+2))
		if err != nil {
			return err
		}
		days := s.Calendar.Days(entries)
		p := SettleParams{Day: d, Start: start, End: end, Rates: merchant.DefaultFeeRates, DefaultRate: defaultRate,
			PayoutDates: map[Cycle]Date{CycleT1: days.PayoutDate(d, CycleT1), CycleT0: days.PayoutDate(d, CycleT0),
				CycleD1: days.PayoutDate(d, CycleD1)}}
		if !first {
			p.StragglersFrom = start.Add(-s.Lookback)
		}
		if err := tx.StartDay(ctx, &DayRun{Day: d, Start: start, End: end, AsOf: asOf, CreatedAt: tx.Now()}); err != nil {
			return err
		}
		stats, err := tx.Settle(ctx, p)
		if err != nil {
			return err
		}
		if stats.MaxAmount > MaxAmount {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "A payment of %d minor units is beyond what settlement computes exactly (%d).",
				stats.MaxAmount, int64(MaxAmount))
		}
		batches, err := tx.DayBatches(ctx, d)
		if err != nil {
			return err
		}
		for _, b := range batches {
			if err := s.Gateway.EmitEvent(ctx, tx.Gateway(), b.MerchantID, gateway.EventSettlementCreated, "settlement", b.ID, b.Object()); err != nil {
				return err
			}
		}
		stats.Batches = len(batches)
		created, settled = len(batches), true
		return tx.FinishDay(ctx, d, stats)
	})
	if err == nil && settled {
		s.Log.InfoContext(ctx, "settled", "day", d.String(), "batches", created)
	}
	return created, settled, err
}

// defaultRate is the fee rate of a channel qrpay does not know (basis points).
const defaultRate = 38

// Daily is the periodic job that settles the last day whose cutoff (plus Grace) has passed,
// after reconciling the statements it can fetch. It is inserted every few minutes and does
// nothing once the day is settled.
type Daily struct{}

// Kind implements qrpay.Job.
func (Daily) Kind() string { return "settlement.daily" }

// DailyJob runs the Daily job.
func (s *Service) DailyJob(ctx context.Context, _ Daily) error {
	s.init()
	now := s.Clock.Now()
	d := s.Calendar.DayOf(now.Add(-s.Grace)).AddDays(-1)
	from := d
	last, err := s.Store.LastSettledDay(ctx)
	switch {
	case err == nil && !last.Before(d):
		return nil
	case err == nil:
		from = last.AddDays(1)
		// A long outage is caught up MaxCatchUp days per run of the job.
		if last.AddDays(s.MaxCatchUp).Before(d) {
			d = last.AddDays(s.MaxCatchUp)
		}
	case !qrpay.IsCode(err, qrpay.ENOTFOUND):
		return err
	}
	for day := from; !day.After(d); day = day.AddDays(1) {
		for _, acc := range s.AutoReconcile {
			provider := gateway.ChannelMockpay
			if s.Gateway != nil && s.Gateway.Router != nil {
				a, ok := s.Gateway.Router.Account(acc)
				if !ok {
					continue
				}
				provider = a.Channel
			}
			if _, err := s.Reconcile(ctx, ReconcileRequest{Provider: provider, Account: acc, Date: day}); err != nil {
				s.Log.WarnContext(ctx, "reconciliation before settlement failed; settling anyway", "account", acc, "day", day.String(), "err", err)
			}
		}
	}
	_, err = s.Run(ctx, d, now)
	return err
}

// --- reads --------------------------------------------------------------------------------------

// Batches lists batches, newest day first. Merchant-facing callers set f.MerchantID.
func (s *Service) Batches(ctx context.Context, f BatchFilter) ([]*Batch, bool, error) {
	s.init()
	if f.Limit < 0 || f.Limit > 100 {
		return nil, false, qrpay.Invalid("limit", "limit must be 1 to 100.")
	}
	if f.Status != "" && !contains([]string{StatusPending, StatusPaid, StatusCarried, StatusZero, StatusTest}, f.Status) {
		return nil, false, qrpay.Invalid("status", "Unknown batch status %q.", f.Status)
	}
	return s.Store.FindBatches(ctx, f)
}

// Batch returns one batch with its lines; another merchant's is ENOTFOUND.
func (s *Service) Batch(ctx context.Context, merchantID, id string) (*Batch, error) {
	s.init()
	return s.Store.FindBatch(ctx, merchantID, id)
}

// Items lists a page of a batch's items; another merchant's batch is ENOTFOUND.
func (s *Service) Items(ctx context.Context, merchantID, batchID string, f ItemFilter) ([]Item, bool, error) {
	s.init()
	if _, err := s.Store.FindBatch(ctx, merchantID, batchID); err != nil {
		return nil, false, err
	}
	if f.Limit < 0 || f.Limit > 500 {
		return nil, false, qrpay.Invalid("limit", "limit must be 1 to 500.")
	}
	return s.Store.FindItems(ctx, batchID, f)
}

// EachItem calls fn for every item of a batch (one the caller may see), streaming them from
// the store: for the items file.
func (s *Service) EachItem(ctx context.Context, batchID string, fn func(*Item) error) error {
	s.init()
	return s.Store.EachItem(ctx, batchID, fn)
}

// Chart is a merchant's settled totals per day and channel over the last days.
type Chart struct {
	From, To Date
	Days     []Date
	Channels []string
	// Gross[i][channel] is day i's gross on that channel.
	Gross []map[string]int64
	Max   int64 // the largest day's gross, all channels together
}

// Chart returns a merchant's settled gross per day and channel for the n settlement days up to
// today.
func (s *Service) Chart(ctx context.Context, merchantID, mode string, n int) (*Chart, error) {
	s.init()
	to := s.Today()
	from := to.AddDays(-(n - 1))
	totals, err := s.Store.DayTotals(ctx, merchantID, mode, from, to)
	if err != nil {
		return nil, err
	}
	c := &Chart{From: from, To: to}
	index := map[Date]int{}
	for d := from; !d.After(to); d = d.AddDays(1) {
		index[d] = len(c.Days)
		c.Days = append(c.Days, d)
		c.Gross = append(c.Gross, map[string]int64{})
	}
	seen := map[string]bool{}
	for _, t := range totals {
		i, ok := index[t.Day]
		if !ok {
			continue
		}
		c.Gross[i][t.Channel] += t.Gross
		seen[t.Channel] = true
	}
	for _, ch := range gateway.Channels {
		if seen[ch] {
			c.Channels = append(c.Channels, ch)
			delete(seen, ch)
		}
	}
	for ch := range seen {
		c.Channels = append(c.Channels, ch)
	}
	for _, day := range c.Gross {
		var sum int64
		for _, v := range day {
			sum += v
		}
		if sum > c.Max {
			c.Max = sum
		}
	}
	return c, nil
}

// Overview returns one day across merchants: its batches, their sums, the fees earned, the
// open breaks and what is due for payout.
func (s *Service) Overview(ctx context.Context, d Date) (*Overview, error) {
	s.init()
	o := &Overview{Day: d}
	var err error
	if o.Batches, _, err = s.Store.FindBatches(ctx, BatchFilter{Day: d, Limit: -1}); err != nil {
		return nil, err
	}
	last, err := s.Store.LastSettledDay(ctx)
	o.Settled = err == nil && !last.Before(d)
	for _, b := range o.Batches {
		if b.Mode == merchant.ModeTest {
			continue
		}
		o.Count += b.Count
		o.Gross += b.Gross
		o.Refunds += b.Refunds
		o.Fees += b.Fees
		o.ReturnedFees += b.ReturnedFees
		o.Net += b.Net
		o.Payable += b.Payable
		if b.Status == StatusPaid {
			o.Paid += b.Payable
		}
	}
	o.FeesEarned = o.Fees - o.ReturnedFees
	if o.OpenBreaks, err = s.Store.OpenBreakCounts(ctx, Date{}); err != nil {
		return nil, err
	}
	err = s.Store.EachPayout(ctx, d, func(p *Payout) error { o.DuePayouts += p.Amount; return nil })
	return o, err
}

// --- payouts ------------------------------------------------------------------------------------

// MarkPaid records that a live batch pending payout was paid, with the bank's reference, and the
// audit log entry.
//
// Errors: EINVALID for an empty or long reference; ENOTFOUND; EINVALIDSTATE for a batch that
// is not pending payout (test mode, carried, zero, or paid already).
func (s *Service) MarkPaid(ctx context.Context, actor merchant.Actor, id, reference string) (*Batch, error) {
	s.init()
	reference = strings.TrimSpace(reference)
	if reference == "" || len(reference) > 128 {
		return nil, qrpay.Invalid("reference", "Give the payout's bank reference (1 to 128 characters).")
	}
	for _, r := range reference {
		if r < 0x20 || r == 0x7f {
			return nil, qrpay.Invalid("reference", "The reference must be printable text.")
		}
	}
	var out *Batch
	err := s.Store.InTx(ctx, func(tx Tx) error {
		b, err := tx.LockBatch(ctx, id)
		if err != nil {
			return err
		}
		if b.Status != StatusPending {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "Only a batch pending payout can be marked paid; this one is %s.", b.Status)
		}
		before := map[string]any{"status": b.Status}
		if err := tx.MarkPaid(ctx, b, reference, actor.ID); err != nil {
			return err
		}
		now := tx.Now()
		b.Status, b.Reference, b.PaidAt = StatusPaid, reference, &now
		out = b
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, actor, b.MerchantID, "settlement.paid", "settlement", b.ID, before,
			map[string]any{"status": b.Status, "reference": reference, "amount": b.Payable, "currency": b.Currency}))
	})
	return out, err
}

// PayoutRow is one line of the payout file: the bank account in the clear.
type PayoutRow struct {
	Account   string
	Name      string
	Bank      string
	Amount    int64
	Currency  qrpay.Currency
	Reference string
}

// Payouts calls fn for each live batch pending payout whose payout date is on or before upTo,
// with the merchant's bank account opened. The account number must go nowhere but the payout
// file: not in logs, not in errors. The download is recorded in the audit log.
func (s *Service) Payouts(ctx context.Context, actor merchant.Actor, upTo Date, fn func(PayoutRow) error) error {
	s.init()
	if s.Merchants == nil {
		return qrpay.Errorf(qrpay.EINVALIDSTATE, "The payout file needs the merchant service and its data key.")
	}
	n := 0
	var total int64
	err := s.Store.EachPayout(ctx, upTo, func(p *Payout) error {
		m := &merchant.Merchant{ID: p.MerchantID, LegalPersonIDSealed: p.LegalPersonIDSealed, PhoneSealed: p.PhoneSealed,
			BankAccountSealed: p.BankAccountSealed}
		if err := s.Merchants.Open(m); err != nil {
			// The error may carry sealed data: it is not passed on.
			return qrpay.Errorf(qrpay.EINTERNAL, "The bank account of merchant %s cannot be opened.", p.MerchantID)
		}
		n++
		total += p.Amount
		return fn(PayoutRow{Account: m.BankAccount, Name: p.LegalName, Bank: p.BankName, Amount: p.Amount, Currency: p.Currency, Reference: p.BatchID})
	})
	if err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, actor, "", "settlement.payout_file", "payout_file", upTo.String(), nil,
			map[string]any{"up_to": upTo, "batches": n, "total": total}))
	})
}

// --- calendar -------------------------------------------------------------------------------

// Holidays returns the calendar's entries within an inclusive range.
func (s *Service) Holidays(ctx context.Context, from, to Date) ([]Holiday, error) {
	s.init()
	return s.Store.FindHolidays(ctx, from, to)
}

// PutHoliday adds or replaces a calendar entry, with its audit log entry. Entries change payout
// dates of batches made afterwards, never those of existing batches.
func (s *Service) PutHoliday(ctx context.Context, actor merchant.Actor, h Holiday) error {
	s.init()
	if h.Date.IsZero() {
		return qrpay.Invalid("date", "Say which date.")
	}
	if h.Kind != KindHoliday && h.Kind != KindWorkday {
		return qrpay.Invalid("kind", "kind must be holiday or workday.")
	}
	h.Name = strings.TrimSpace(h.Name)
	if len([]rune(h.Name)) > 64 {
		return qrpay.Invalid("name", "The name is at most 64 characters.")
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.PutHoliday(ctx, h); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, actor, "", "settlement.calendar.put", "settlement_calendar", h.Date.String(), nil, h))
	})
}

// DeleteHoliday removes a calendar entry.
func (s *Service) DeleteHoliday(ctx context.Context, actor merchant.Actor, d Date) error {
	s.init()
	return s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.DeleteHoliday(ctx, d); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, actor, "", "settlement.calendar.delete", "settlement_calendar", d.String(), nil, nil))
	})
}
