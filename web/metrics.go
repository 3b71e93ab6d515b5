package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/qrpay/qrpay/gateway"
)

// Metrics are the server's Prometheus series. It implements gateway.Metrics.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	payments  *prometheus.CounterVec
	providers *prometheus.HistogramVec
	webhooks  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "qrpay_http_requests_total",
			Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "qrpay_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"route"}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "qrpay_payments_total",
			Help: "Payments that reached each status on this node."}, []string{"status"}),
		providers: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "qrpay_provider_call_duration_seconds",
			Help: "Provider calls by channel, operation and outcome (ok, failed, unknown).", Buckets: prometheus.DefBuckets},
			[]string{"channel", "op", "outcome"}),
		webhooks: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "qrpay_webhook_attempt_duration_seconds",
			Help: "Webhook delivery attempts by result.", Buckets: prometheus.DefBuckets}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.payments, m.providers, m.webhooks)
	// Every status appears from the start, at zero.
	for _, st := range gateway.Statuses {
		m.payments.WithLabelValues(string(st))
	}
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

func (m *Metrics) request(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// PaymentStatus implements gateway.Metrics.
func (m *Metrics) PaymentStatus(st gateway.Status) { m.payments.WithLabelValues(string(st)).Inc() }

// ProviderCall implements gateway.Metrics.
func (m *Metrics) ProviderCall(channel, op, outcome string, d time.Duration) {
	m.providers.WithLabelValues(channel, op, outcome).Observe(d.Seconds())
}

// WebhookAttempt implements gateway.Metrics.
func (m *Metrics) WebhookAttempt(ok bool, d time.Duration) {
	result := "failed"
	if ok {
		result = "delivered"
	}
	m.webhooks.WithLabelValues(result).Observe(d.Seconds())
}

// Log attribute helpers, so the access log builds its line without allocating maps.
func slogString(k, v string) slog.Attr  { return slog.String(k, v) }
func slogInt(k string, v int) slog.Attr { return slog.Int(k, v) }
func slogDuration(k string, d time.Duration) slog.Attr {
	return slog.Float64(k+"_ms", float64(d.Microseconds())/1000)
}

func levelFor(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

var _ gateway.Metrics = (*Metrics)(nil)
