package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// DeliverWebhook is the job that sends one event to one endpoint.
type DeliverWebhook struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements qrpay.Job.
func (DeliverWebhook) Kind() string { return "webhook.deliver" }

// WebhookQueue is the queue webhook deliveries run in, with workers of their own: a delivery
// waits on a merchant's endpoint (up to the client's 10 s timeout), so deliveries need many
// workers, and a backlog of them must not hold up the sweep that reverses and expires payments.
const WebhookQueue = "webhooks"

// Queue implements qrpay.QueuedJob.
func (DeliverWebhook) Queue() string { return WebhookQueue }

// WebhookMaxAttempts bounds the delivery attempts: with WebhookBackoff they span about four
// and a half days, past the 24 hours CONTRACT.md promises and past EndpointDisableAfter.
const WebhookMaxAttempts = 16

// webhookSchedule is the delay after each failed attempt.
var webhookSchedule = []time.Duration{
	30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	4 * time.Hour, 6 * time.Hour, 8 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour,
	12 * time.Hour, 12 * time.Hour, 12 * time.Hour,
}

// WebhookBackoff returns the delay before the next delivery attempt after attempt failures.
func WebhookBackoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(webhookSchedule) {
		return webhookSchedule[len(webhookSchedule)-1]
	}
	return webhookSchedule[attempt-1]
}

// SignWebhook returns the Qrpay-Signature header of a webhook body:
// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>, with one v1 per secret (two
// while an endpoint's rotated secret overlaps its new one; a receiver accepts any that matches).
func SignWebhook(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	h := "t=" + ts
	for _, secret := range secrets {
		h += ",v1=" + webhookMAC(secret, ts, body)
	}
	return h
}

// webhookMAC is a v1 signature: hex HMAC-SHA256(secret, ts + "." + body).
func webhookMAC(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// DeliverWebhookJob sends a delivery's event to its endpoint, records the attempt, and returns
// an error (so the job is tried again with WebhookBackoff) unless the endpoint answered 2xx.
// An endpoint that has failed for EndpointDisableAfter is disabled, with a notice on the
// merchant's dashboard; its pending deliveries then stop.
func (s *Service) DeliverWebhookJob(ctx context.Context, job DeliverWebhook) error {
	s.init()
	d, ep, err := s.Store.DeliveryToSend(ctx, job.DeliveryID)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return qrpay.Permanent(err)
	} else if err != nil {
		return err
	}
	if d.Status == "succeeded" {
		return nil
	}
	if ep == nil || ep.Status != "enabled" {
		return qrpay.Permanent(s.failDelivery(ctx, d.ID, "The endpoint is disabled or deleted."))
	}
	secrets, err := s.Secrets.EndpointSecrets(ep)
	if err != nil {
		return err
	}
	body := d.Event.JSON()
	var res sendResult
	res.status, res.snippet, res.latency, res.err = s.post(ctx, ep.URL, secrets, body)
	ok := res.ok()
	s.Metrics.WebhookAttempt(ok, res.latency)
	// d was read before sending, and its write is guarded by the attempts it had then (one
	// statement on PostgreSQL). If another attempt was recorded meanwhile (a rescued job racing
	// the one it replaced), this one is counted after it, from the delivery read again under lock.
	cur, a := countAttempt(d, res, s.Clock.Now())
	err = s.Store.RecordAttempt(ctx, cur, d.Attempts, a)
	if qrpay.IsCode(err, qrpay.ECONFLICT) {
		err = s.Store.InTx(ctx, func(tx Tx) error {
			locked, err := tx.LockDelivery(ctx, d.ID)
			if err != nil {
				return err
			}
			cur, a := countAttempt(locked, res, tx.Now())
			if err := tx.UpdateDelivery(ctx, cur, locked.Attempts); err != nil {
				return err
			}
			return tx.InsertAttempt(ctx, a)
		})
	}
	if err == nil {
		err = s.endpointHealth(ctx, ep, ok)
	}
	if err != nil {
		return err
	}
	if !ok {
		if res.err != nil {
			return fmt.Errorf("webhook %s to %s: %w", d.ID, ep.URL, res.err)
		}
		return fmt.Errorf("webhook %s to %s: answered %d", d.ID, ep.URL, res.status)
	}
	return nil
}

// sendResult is what one attempt at a delivery got.
type sendResult struct {
	status  int
	snippet string
	latency time.Duration
	err     error
}

func (r sendResult) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// countAttempt returns d with one more attempt counted (succeeded with a 2xx, failed for good
// after WebhookMaxAttempts) and the attempt's record.
func countAttempt(d *Delivery, res sendResult, now time.Time) (*Delivery, *Attempt) {
	cur := *d
	cur.Attempts++
	cur.LastStatus = res.status
	if res.ok() {
		cur.Status, cur.DeliveredAt = "succeeded", &now
	} else if cur.Attempts >= WebhookMaxAttempts {
		cur.Status = "failed"
	}
	a := &Attempt{ID: qrpay.NewID("wha", now), DeliveryID: d.ID, Attempt: cur.Attempts, StatusCode: res.status,
		LatencyMS: int(res.latency.Milliseconds()), Response: res.snippet}
	if res.err != nil {
		a.Error = res.err.Error()
	}
	return &cur, a
}

// endpointHealth tracks how long an endpoint has been failing and disables it after
// EndpointDisableAfter, leaving an email-style notice for the merchant. It writes only when
// that changes: not after a success of a healthy endpoint, the usual case.
func (s *Service) endpointHealth(ctx context.Context, ep *merchant.WebhookEndpoint, ok bool) error {
	now := s.Clock.Now()
	switch {
	case ok && ep.FailingSince == nil:
		return nil
	case ok:
		ep.FailingSince = nil
		return s.Store.InTx(ctx, func(tx Tx) error { return tx.UpdateEndpointHealth(ctx, ep) })
	case ep.FailingSince == nil:
		ep.FailingSince = &now
		return s.Store.InTx(ctx, func(tx Tx) error { return tx.UpdateEndpointHealth(ctx, ep) })
	case now.Sub(*ep.FailingSince) < s.EndpointDisableAfter:
		return nil
	}
	ep.Status = "disabled"
	ep.DisabledReason = fmt.Sprintf("failing since %s", ep.FailingSince.In(s.Zone).Format("2006-01-02 15:04"))
	return s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.UpdateEndpointHealth(ctx, ep); err != nil {
			return err
		}
		return tx.InsertNotice(ctx, &Notice{ID: qrpay.NewID("ntc", now), MerchantID: ep.MerchantID, Kind: "webhook_disabled",
			Subject: "Webhook endpoint disabled / 通知地址已停用",
			Body: fmt.Sprintf("Your webhook endpoint %s has not accepted events since %s, so qrpay has stopped sending to it. "+
				"Fix the endpoint, enable it again in Settings → Webhooks, and resend the events you missed.\n\n"+
				"您的通知地址 %s 自 %s 起一直无法接收事件，qrpay 已停止向其发送。请修复后在“设置 → 通知地址”中重新启用，并重发错过的事件。",
				ep.URL, ep.FailingSince.In(s.Zone).Format("2006-01-02 15:04"), ep.URL, ep.FailingSince.In(s.Zone).Format("2006-01-02 15:04"))})
	})
}

// failDelivery marks a delivery failed for good.
func (s *Service) failDelivery(ctx context.Context, id, reason string) error {
	err := s.Store.InTx(ctx, func(tx Tx) error {
		d, err := tx.LockDelivery(ctx, id)
		if err != nil {
			return err
		}
		seen := d.Attempts
		d.Status = "failed"
		if err := tx.InsertAttempt(ctx, &Attempt{ID: qrpay.NewID("wha", tx.Now()), DeliveryID: id, Attempt: d.Attempts, Error: reason}); err != nil {
			return err
		}
		return tx.UpdateDelivery(ctx, d, seen)
	})
	if err != nil {
		return err
	}
	return qrpay.Errorf(qrpay.EINVALIDSTATE, "%s", reason)
}

// post sends a signed webhook and reads at most 1 KiB of the answer.
func (s *Service) post(ctx context.Context, url string, secrets []string, body []byte) (int, string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "qrpay-webhooks/1")
	req.Header.Set("Qrpay-Signature", SignWebhook(secrets, s.Clock.Now(), body))
	start := time.Now()
	resp, err := s.WebhookClient.Do(req)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(snippet), time.Since(start), nil
}

// ResendEvent schedules an event again to each of the merchant's enabled endpoints.
func (s *Service) ResendEvent(ctx context.Context, merchantID, eventID string) (*Event, error) {
	s.init()
	e, err := s.Store.FindEvent(ctx, merchantID, eventID)
	if err != nil {
		return nil, err
	}
	if !WebhookTypes[e.Type] {
		return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "Events of type %s are not sent as webhooks.", e.Type)
	}
	err = s.Store.InTx(ctx, func(tx Tx) error { return s.deliver(ctx, tx, e) })
	if err != nil {
		return nil, err
	}
	return e, nil
}

// VerifyWebhook checks a Qrpay-Signature header against a body: one of its v1 signatures (there
// are two while the endpoint's secret rotates) must be the secret's HMAC, and the timestamp be
// within tolerance of now (to refuse replays).
func VerifyWebhook(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The Qrpay-Signature header is malformed.")
	}
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The webhook's timestamp is too old or in the future.")
	}
	want := webhookMAC(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal([]byte(want), []byte(sig)) {
			return nil
		}
	}
	return qrpay.Errorf(qrpay.EUNAUTHORIZED, "The webhook's signature does not match.")
}
