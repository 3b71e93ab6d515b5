package settlement

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the settlement zone must load on machines without a zone database

	"github.com/qrpay/qrpay"
)

// Date is a civil date: a settlement day, a payout date or a statement's day. It has no zone of
// its own; Calendar says which instants belong to it.
type Date struct {
	t time.Time // midnight UTC of the date
}

// DateLayout is how dates are written everywhere: in the API, the database, files and flags.
const DateLayout = "2006-01-02"

// ParseDate reads a date written YYYY-MM-DD, or returns an EINVALID error naming param.
func ParseDate(param, s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Date{}, qrpay.Invalid(param, "%s must be a date written YYYY-MM-DD.", param)
	}
	if t.Year() < 2000 {
		return Date{}, qrpay.Invalid(param, "%s must be in the year 2000 or later.", param)
	}
	return Date{t}, nil
}

// MustDate is ParseDate for constants in tests and examples; it panics on a bad date.
func MustDate(s string) Date {
	d, err := ParseDate("date", s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf returns the civil date of t in loc (not the settlement day: see Calendar.DayOf).
func DateOf(t time.Time, loc *time.Location) Date {
	lt := t.In(loc)
	return Date{time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)}
}

// String writes the date YYYY-MM-DD; the zero Date is "".
func (d Date) String() string {
	if d.t.IsZero() {
		return ""
	}
	return d.t.Format(DateLayout)
}

// Compact writes the date YYYYMMDD, as batch ids carry it.
func (d Date) Compact() string { return d.t.Format("20060102") }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return d.t.Weekday() }

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// After reports whether d is later than e.
func (d Date) After(e Date) bool { return d.t.After(e.t) }

// DaysUntil returns the number of days from d to e (negative when e is earlier).
func (d Date) DaysUntil(e Date) int { return int(e.t.Sub(d.t).Hours() / 24) }

// At returns the instant the date's clock shows h:m in loc.
func (d Date) At(loc *time.Location, clock time.Duration) time.Time {
	return time.Date(d.t.Year(), d.t.Month(), d.t.Day(), 0, 0, 0, 0, loc).Add(clock)
}

// MarshalText implements encoding.TextMarshaler: YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	x, err := ParseDate("date", string(b))
	if err != nil {
		return err
	}
	*d = x
	return nil
}

// Cycle is when a merchant is paid for a settlement day: merchants.settlement_cycle.
type Cycle string

// Settlement cycles. The cycle decides the payout date of a batch, never which transactions it
// holds: the batch of day D always holds day D's transactions (and the stragglers it picks up).
const (
	// CycleT1 (the default) pays day D on the first settlement day after D: a Friday's batch on
	// Monday, the eve of a holiday's batch on the first working day after it.
	CycleT1 Cycle = "T1"
	// CycleT0 pays day D on D itself when D is a settlement day, otherwise on the next one.
	CycleT0 Cycle = "T0"
	// CycleD1 pays day D on the next calendar day, holidays and weekends included.
	CycleD1 Cycle = "D1"
)

// ParseCycle reads a cycle; empty means T1.
func ParseCycle(s string) (Cycle, error) {
	switch Cycle(strings.ToUpper(s)) {
	case "", CycleT1:
		return CycleT1, nil
	case CycleT0:
		return CycleT0, nil
	case CycleD1:
		return CycleD1, nil
	}
	return "", qrpay.Invalid("settlement_cycle", "The settlement cycle must be T1, T0 or D1.")
}

// Calendar is where and when settlement days begin and end, and which days are settlement
// (business) days.
//
// A settlement day D covers the instants in [start(D), end(D)), computed in Zone: with a zero
// Cutoff, from D 00:00 to D+1 00:00; with a Cutoff c (say 23:00), from D-1 at c to D at c. So
// with a 23:00 cutoff a payment at 22:59:59 on 3 March belongs to 3 March, one at 23:00:00 on
// 3 March to 4 March, and one at 00:30 on 4 March to 4 March as well.
//
// A day is a settlement day unless it falls on a Weekend day or is listed as a holiday; a day
// listed as a workday (a make-up working day, 调休) is a settlement day even on a weekend.
type Calendar struct {
	Zone   *time.Location
	Cutoff time.Duration // time of day, 0 to 24h exclusive
	// Weekend lists the weekdays that are not settlement days (Saturday and Sunday when nil;
	// an empty non-nil list makes every day a settlement day).
	Weekend []time.Weekday
}

// DefaultZone is the settlement zone when none is configured.
const DefaultZone = "Asia/Shanghai"

// Validate checks the calendar and fills its defaults.
func (c *Calendar) Validate() error {
	if c.Zone == nil {
		loc, err := time.LoadLocation(DefaultZone)
		if err != nil {
			return fmt.Errorf("load %s: %w", DefaultZone, err)
		}
		c.Zone = loc
	}
	if c.Cutoff < 0 || c.Cutoff >= 24*time.Hour {
		return qrpay.Invalid("cutoff", "The cutoff must be a time of day from 00:00 to 23:59.")
	}
	if c.Weekend == nil {
		c.Weekend = []time.Weekday{time.Saturday, time.Sunday}
	}
	return nil
}

// ParseCutoff reads a cutoff written HH:MM.
func ParseCutoff(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, qrpay.Invalid("cutoff", "The cutoff must be a time of day written HH:MM, such as 23:00.")
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Window returns the instants of settlement day d: [start, end), in UTC.
func (c *Calendar) Window(d Date) (start, end time.Time) {
	if c.Cutoff == 0 {
		return d.At(c.Zone, 0).UTC(), d.AddDays(1).At(c.Zone, 0).UTC()
	}
	return d.AddDays(-1).At(c.Zone, c.Cutoff).UTC(), d.At(c.Zone, c.Cutoff).UTC()
}

// DayOf returns the settlement day an instant belongs to.
func (c *Calendar) DayOf(t time.Time) Date {
	d := DateOf(t, c.Zone)
	if c.Cutoff == 0 {
		return d
	}
	if !t.Before(d.At(c.Zone, c.Cutoff)) {
		return d.AddDays(1)
	}
	return d
}

// Holiday is an entry of the settlement calendar: a holiday (not a settlement day) or a
// make-up workday (a settlement day even on a weekend).
type Holiday struct {
	Date Date   `json:"date"`
	Kind string `json:"kind"` // "holiday" or "workday"
	Name string `json:"name"`
}

// Holiday kinds.
const (
	KindHoliday = "holiday"
	KindWorkday = "workday"
)

// BusinessDays answers whether a date is a settlement day, given the calendar's entries.
type BusinessDays struct {
	cal     *Calendar
	entries map[Date]string
}

// Days returns the business-day rule of the calendar with its holiday and workday entries.
func (c *Calendar) Days(entries []Holiday) *BusinessDays {
	m := make(map[Date]string, len(entries))
	for _, h := range entries {
		m[h.Date] = h.Kind
	}
	return &BusinessDays{cal: c, entries: m}
}

// IsSettlementDay reports whether payouts happen on d.
func (b *BusinessDays) IsSettlementDay(d Date) bool {
	switch b.entries[d] {
	case KindHoliday:
		return false
	case KindWorkday:
		return true
	}
	for _, w := range b.cal.Weekend {
		if d.Weekday() == w {
			return false
		}
	}
	return true
}

// maxHolidayRun bounds the search for the next settlement day, so that a calendar that lists
// every day as a holiday cannot loop forever.
const maxHolidayRun = 60

// Next returns the first settlement day on or after d.
func (b *BusinessDays) Next(d Date) Date {
	for i := 0; i < maxHolidayRun; i++ {
		if b.IsSettlementDay(d) {
			return d
		}
		d = d.AddDays(1)
	}
	return d
}

// PayoutDate returns when a batch of day d is paid on the cycle.
func (b *BusinessDays) PayoutDate(d Date, cycle Cycle) Date {
	switch cycle {
	case CycleT0:
		return b.Next(d)
	case CycleD1:
		return d.AddDays(1)
	}
	return b.Next(d.AddDays(1))
}
