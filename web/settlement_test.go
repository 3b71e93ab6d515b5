package web

import (
	"encoding/xml"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/settlement"
)

// TestSettlementMessages: every message key the settlement pages use, written out or built
// from a value (statuses, kinds, resolutions, cycles, modes), is in the catalog in both
// languages.
func TestSettlementMessages(t *testing.T) {
	keys := map[string]bool{}
	literal := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	for _, name := range []string{"settlements", "settlement", "console_settlements", "console_settlement_breaks"} {
		b, err := fs.ReadFile(templateFS, "templates/"+name+".html")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	for _, s := range []string{settlement.StatusPending, settlement.StatusPaid, settlement.StatusCarried, settlement.StatusZero, settlement.StatusTest} {
		keys["settle.status."+s] = true
	}
	for _, k := range []string{settlement.ItemPayment, settlement.ItemRefund, settlement.ItemAdjustment} {
		keys["settle.kind."+k] = true
	}
	for _, k := range settlement.BreakKinds {
		keys["recon.kind."+k] = true
	}
	for _, r := range []string{settlement.ResolveAccept, settlement.ResolveWriteOff, settlement.ResolveAdjust,
		settlement.ResolveLateSuccess, settlement.ResolveMatched} {
		keys["recon.resolution."+r] = true
	}
	for _, k := range []string{"settle.cycle.T1", "settle.cycle.T0", "settle.cycle.D1", "settle.mode.live", "settle.mode.test",
		"recon.status.open", "recon.status.resolved", "settle.done.run", "settle.done.paid", "settle.done.reconciled",
		"settle.done.resolved", "settle.done.holiday"} {
		keys[k] = true
	}
	if len(keys) < 60 {
		t.Fatalf("found only %d keys", len(keys))
	}
	for k := range keys {
		zh, en := translate(LangZH, k), translate(LangEN, k)
		if zh == k || en == k || zh == "" || en == "" {
			t.Errorf("message %s is missing", k)
		}
	}
}

// TestSettlementChart: the chart is well-formed SVG with a bar per day and channel that has
// takings, sized against a round top, and no style attributes (the content security policy
// allows none).
func TestSettlementChart(t *testing.T) {
	c := &settlement.Chart{Channels: []string{"alipay", "wechat"}}
	day := settlement.MustDate("2026-03-01")
	for i := 0; i < 30; i++ {
		c.Days = append(c.Days, day.AddDays(i))
		c.Gross = append(c.Gross, map[string]int64{})
	}
	c.Gross[3]["alipay"] = 12345
	c.Gross[3]["wechat"] = 100
	c.Gross[29]["wechat"] = 99999
	c.Max = 99999
	svg := string(renderChart(c, qrpay.CNY, func(ch string) string { return `<"` + ch + `">` }, `近 30 天 & "all"`))
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
	}
	if n := strings.Count(svg, `class="bar"`); n != 3 {
		t.Fatalf("%d bars, want 3", n)
	}
	if strings.Contains(svg, "style=") || strings.Contains(svg, "<script") {
		t.Fatal("the chart has a style attribute or a script")
	}
	if !strings.Contains(svg, `data-day="2026-03-30" data-channel="wechat" data-gross="99999"`) || !strings.Contains(svg, "¥1000.00") {
		t.Fatalf("chart:\n%s", svg)
	}
	for _, c := range []struct{ in, want int64 }{{0, 100}, {1, 1}, {7, 10}, {99999, 100000}, {100001, 200000}, {450, 500}} {
		if got := niceCeiling(c.in); got != c.want {
			t.Errorf("niceCeiling(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
