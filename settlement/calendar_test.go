package settlement

import (
	"testing"
	"time"
)

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDayOfAcrossCutoffAndMidnight(t *testing.T) {
	loc := shanghai(t)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05.000000", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		cutoff time.Duration
		at     string
		want   string
	}{
		{0, "2026-03-03 00:00:00.000000", "2026-03-03"},
		{0, "2026-03-02 23:59:59.999999", "2026-03-02"},
		{0, "2026-03-03 23:59:59.999999", "2026-03-03"},
		{23 * time.Hour, "2026-03-03 22:59:59.999999", "2026-03-03"},
		{23 * time.Hour, "2026-03-03 23:00:00.000000", "2026-03-04"},
		{23 * time.Hour, "2026-03-03 23:59:59.999999", "2026-03-04"},
		{23 * time.Hour, "2026-03-04 00:00:00.000000", "2026-03-04"},
		{23 * time.Hour, "2026-03-04 00:30:00.000000", "2026-03-04"},
		{90 * time.Minute, "2026-03-04 01:29:59.999999", "2026-03-04"},
		{90 * time.Minute, "2026-03-04 01:30:00.000000", "2026-03-05"},
		{90 * time.Minute, "2026-12-31 01:30:00.000000", "2027-01-01"},
		{23 * time.Hour, "2028-02-28 23:00:00.000000", "2028-02-29"},
	}
	for _, c := range cases {
		cal := Calendar{Zone: loc, Cutoff: c.cutoff}
		if err := cal.Validate(); err != nil {
			t.Fatal(err)
		}
		got := cal.DayOf(at(c.at))
		if got.String() != c.want {
			t.Errorf("cutoff %s: %s belongs to %s, want %s", c.cutoff, c.at, got, c.want)
		}
		// The day's window holds the instant, and windows of consecutive days touch.
		start, end := cal.Window(got)
		if x := at(c.at); x.Before(start) || !x.Before(end) {
			t.Errorf("cutoff %s: %s is outside its day's window [%s, %s)", c.cutoff, c.at, start.In(loc), end.In(loc))
		}
		if s2, _ := cal.Window(got.AddDays(1)); !s2.Equal(end) {
			t.Errorf("cutoff %s: windows of %s and the next day do not touch", c.cutoff, got)
		}
	}
}

func TestWindowIsInTheZone(t *testing.T) {
	cal := Calendar{Zone: shanghai(t)}
	start, end := cal.Window(MustDate("2026-03-03"))
	if start != time.Date(2026, 3, 2, 16, 0, 0, 0, time.UTC) || end != time.Date(2026, 3, 3, 16, 0, 0, 0, time.UTC) {
		t.Fatalf("window %s .. %s, want 2026-03-02 16:00Z .. 2026-03-03 16:00Z", start, end)
	}
}

func TestParseCutoffAndDates(t *testing.T) {
	if d, err := ParseCutoff("23:00"); err != nil || d != 23*time.Hour {
		t.Fatalf("ParseCutoff(23:00) = %s, %v", d, err)
	}
	for _, bad := range []string{"24:00", "7", "", "23:00:00", "-1:00"} {
		if _, err := ParseCutoff(bad); err == nil {
			t.Errorf("ParseCutoff(%q) = nil error", bad)
		}
	}
	for _, bad := range []string{"2026-02-30", "2026-3-1", "", "1999-12-31", "2026-03-01T00:00:00Z", "20260301"} {
		if _, err := ParseDate("date", bad); err == nil {
			t.Errorf("ParseDate(%q) = nil error", bad)
		}
	}
	var d Date
	if err := d.UnmarshalText([]byte("2026-03-01")); err != nil || d != MustDate("2026-03-01") || d.Compact() != "20260301" {
		t.Fatalf("UnmarshalText: %v %s", err, d)
	}
	if MustDate("2026-03-01").DaysUntil(MustDate("2026-04-01")) != 31 {
		t.Fatal("DaysUntil")
	}
}

func TestPayoutDates(t *testing.T) {
	cal := Calendar{Zone: shanghai(t)}
	if err := cal.Validate(); err != nil {
		t.Fatal(err)
	}
	// 2026-10-01..07 is the National Day holiday; 2026-10-10 (a Saturday) a make-up workday.
	var entries []Holiday
	for d := MustDate("2026-10-01"); !d.After(MustDate("2026-10-07")); d = d.AddDays(1) {
		entries = append(entries, Holiday{Date: d, Kind: KindHoliday, Name: "国庆节"})
	}
	entries = append(entries, Holiday{Date: MustDate("2026-10-10"), Kind: KindWorkday, Name: "调休"})
	days := cal.Days(entries)
	cases := []struct {
		day   string
		cycle Cycle
		want  string
	}{
		{"2026-09-28", CycleT1, "2026-09-29"}, // Monday → Tuesday
		{"2026-09-25", CycleT1, "2026-09-28"}, // Friday → Monday
		{"2026-09-26", CycleT1, "2026-09-28"}, // Saturday → Monday
		{"2026-09-30", CycleT1, "2026-10-08"}, // the eve of the holiday → the first workday after it
		{"2026-10-03", CycleT1, "2026-10-08"},
		{"2026-10-09", CycleT1, "2026-10-10"}, // Friday → the make-up Saturday
		{"2026-09-28", CycleT0, "2026-09-28"},
		{"2026-10-02", CycleT0, "2026-10-08"},
		{"2026-09-26", CycleT0, "2026-09-28"},
		{"2026-10-10", CycleT0, "2026-10-10"},
		{"2026-09-30", CycleD1, "2026-10-01"}, // D+1 ignores holidays
		{"2026-09-26", CycleD1, "2026-09-27"},
	}
	for _, c := range cases {
		if got := days.PayoutDate(MustDate(c.day), c.cycle); got.String() != c.want {
			t.Errorf("%s on %s pays on %s, want %s", c.day, c.cycle, got, c.want)
		}
	}
	if !days.IsSettlementDay(MustDate("2026-10-10")) || days.IsSettlementDay(MustDate("2026-10-11")) || days.IsSettlementDay(MustDate("2026-10-05")) {
		t.Fatal("IsSettlementDay")
	}
	// A calendar with every day a holiday still answers.
	var all []Holiday
	for d := MustDate("2027-01-01"); !d.After(MustDate("2027-12-31")); d = d.AddDays(1) {
		all = append(all, Holiday{Date: d, Kind: KindHoliday})
	}
	if got := cal.Days(all).PayoutDate(MustDate("2027-01-01"), CycleT1); got.IsZero() {
		t.Fatal("no payout date")
	}
	for _, s := range []string{"", "t1", "T1"} {
		if c, err := ParseCycle(s); err != nil || c != CycleT1 {
			t.Errorf("ParseCycle(%q) = %s, %v", s, c, err)
		}
	}
	if _, err := ParseCycle("T2"); err == nil {
		t.Error("ParseCycle(T2) = nil error")
	}
}

func TestCalendarValidate(t *testing.T) {
	c := Calendar{}
	if err := c.Validate(); err != nil || c.Zone.String() != "Asia/Shanghai" || len(c.Weekend) != 2 {
		t.Fatalf("defaults: %v %+v", err, c)
	}
	c = Calendar{Cutoff: 24 * time.Hour}
	if err := c.Validate(); err == nil {
		t.Fatal("a cutoff of 24:00 validates")
	}
	c = Calendar{Weekend: []time.Weekday{}}
	if err := c.Validate(); err != nil || !c.Days(nil).IsSettlementDay(MustDate("2026-09-26")) {
		t.Fatal("an empty weekend makes Saturday a settlement day")
	}
}
