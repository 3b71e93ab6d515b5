package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/qrpay/qrpay/store"
)

var backlogDesc = prometheus.NewDesc("qrpay_webhook_backlog",
	"Webhook deliveries not yet acknowledged by the merchants' endpoints, on every node.", nil, nil)

// backlogCollector counts the webhook backlog at each scrape (an index holds only the pending
// rows, so the count stays cheap); a database that does not answer fails the series, not the
// scrape.
type backlogCollector struct{ db *store.DB }

func (backlogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc }

func (c backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.db.PendingWebhooks(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
}
