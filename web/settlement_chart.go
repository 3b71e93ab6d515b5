package web

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/settlement"
)

// The settlements page's chart: a merchant's gross per day over the last days, one stacked bar
// per day with a segment per channel, drawn as SVG on the server (no script, no chart library;
// presentation attributes only, which the content security policy allows).

// chartColors are the channels' colours, their brands' where they have one.
var chartColors = map[string]string{"alipay": "#1677ff", "wechat": "#07c160", "unionpay": "#d7000f", "mockpay": "#8c8c8c"}

// Chart geometry, in SVG user units.
const (
	chartWidth  = 760
	chartHeight = 260
	chartLeft   = 64
	chartRight  = 12
	chartTop    = 28
	chartBottom = 36
)

// niceCeiling rounds v up to 1, 2 or 5 times a power of ten (in minor units), so that the
// axis reads well.
func niceCeiling(v int64) int64 {
	if v <= 0 {
		return 100
	}
	p := int64(1)
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// renderChart draws the chart; name translates a channel, title says what it shows.
func renderChart(c *settlement.Chart, cur qrpay.Currency, name func(string) string, title string) template.HTML {
	var b strings.Builder
	top := niceCeiling(c.Max)
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	n := len(c.Days)
	slot := plotW / float64(max(n, 1))
	barW := slot * 0.7
	money := func(v int64) string { return qrpay.Money{Amount: v, Currency: cur}.String() }
	fmt.Fprintf(&b, `<svg id="settlement-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" data-days="%d" data-max="%d">`,
		chartWidth, chartHeight, html.EscapeString(title), n, c.Max)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	// Axis and grid: 0, half and the top.
	for i, v := range []int64{0, top / 2, top} {
		y := float64(chartTop) + plotH - plotH*float64(v)/float64(top)
		stroke := "#e4e7ec"
		if i == 0 {
			stroke = "#98a2b3"
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="1"/>`, chartLeft, y, chartWidth-chartRight, y, stroke)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" fill="#667085" text-anchor="end">%s</text>`, chartLeft-6, y+4, html.EscapeString(money(v)))
	}
	for i, d := range c.Days {
		x := float64(chartLeft) + slot*float64(i) + (slot-barW)/2
		y := float64(chartTop) + plotH
		for _, ch := range c.Channels {
			v := c.Gross[i][ch]
			if v <= 0 {
				continue
			}
			h := plotH * float64(v) / float64(top)
			y -= h
			color := chartColors[ch]
			if color == "" {
				color = "#475467"
			}
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-day="%s" data-channel="%s" data-gross="%d"><title>%s %s %s</title></rect>`,
				x, y, barW, h, color, d, html.EscapeString(ch), v, d, html.EscapeString(name(ch)), html.EscapeString(money(v)))
		}
		if i%5 == 0 || i == n-1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#667085" text-anchor="middle">%s</text>`,
				x+barW/2, chartHeight-chartBottom+16, d.String()[5:])
		}
	}
	// Legend.
	lx := chartLeft
	for _, ch := range c.Channels {
		color := chartColors[ch]
		if color == "" {
			color = "#475467"
		}
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="10" height="10" fill="%s"/><text x="%d" y="17" font-size="12" fill="#1d2530" class="legend">%s</text>`,
			lx, color, lx+14, html.EscapeString(name(ch)))
		lx += 14 + 14*len([]rune(name(ch))) + 16
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
