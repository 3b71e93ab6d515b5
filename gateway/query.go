package gateway

import (
	"context"
	"time"

	"github.com/qrpay/qrpay"
)

// Payment returns one of the merchant's payments; another merchant's is ENOTFOUND.
func (s *Service) Payment(ctx context.Context, merchantID, id string) (*Payment, error) {
	s.init()
	return s.Store.FindPayment(ctx, merchantID, id)
}

// Payments lists payments, newest first. The filter's merchant must be set by the caller for
// merchant-scoped views.
func (s *Service) Payments(ctx context.Context, f PaymentFilter) ([]*Payment, bool, error) {
	s.init()
	if f.Status != "" && !validStatus(f.Status) {
		return nil, false, qrpay.Invalid("status", "Unknown status %q.", f.Status)
	}
	if f.Flag != "" && f.Flag != FlagLateSuccess && f.Flag != FlagAmountMismatch && f.Flag != FlagReversed {
		return nil, false, qrpay.Invalid("flag", "Unknown flag %q.", f.Flag)
	}
	if f.Scene != "" && f.Scene != SceneQR && f.Scene != SceneCode && f.Scene != SceneSticker {
		return nil, false, qrpay.Invalid("scene", "Unknown scene %q.", f.Scene)
	}
	if f.Channel != "" && !knownChannel(f.Channel) {
		return nil, false, qrpay.Invalid("channel", "Unknown channel %q.", f.Channel)
	}
	if f.Limit < 0 || f.Limit > 100 {
		return nil, false, qrpay.Invalid("limit", "limit must be 1 to 100.")
	}
	return s.Store.FindPayments(ctx, f)
}

func validStatus(st Status) bool {
	for _, x := range Statuses {
		if x == st {
			return true
		}
	}
	return false
}

// Refund returns one of the merchant's refunds.
func (s *Service) Refund(ctx context.Context, merchantID, id string) (*Refund, error) {
	s.init()
	return s.Store.FindRefund(ctx, merchantID, id)
}

// Refunds returns a payment's refunds.
func (s *Service) Refunds(ctx context.Context, merchantID, paymentID string) ([]*Refund, error) {
	s.init()
	if _, err := s.Store.FindPayment(ctx, merchantID, paymentID); err != nil {
		return nil, err
	}
	return s.Store.FindRefunds(ctx, paymentID)
}

// Events lists a merchant's events, newest first.
func (s *Service) Events(ctx context.Context, f EventFilter) ([]*Event, bool, error) {
	s.init()
	if f.MerchantID == "" {
		return nil, false, qrpay.Errorf(qrpay.EFORBIDDEN, "Events are listed per merchant.")
	}
	if f.Limit < 0 || f.Limit > 100 {
		return nil, false, qrpay.Invalid("limit", "limit must be 1 to 100.")
	}
	return s.Store.FindEvents(ctx, f)
}

// Timeline is everything that happened to a payment, for its page: events, provider calls and
// webhook deliveries with their attempts.
type Timeline struct {
	Payment    *Payment
	Refunds    []*Refund
	Events     []*Event
	Calls      []*ProviderCall
	Deliveries []*Delivery
	Attempts   map[string][]*Attempt
}

// PaymentTimeline returns a payment's timeline.
func (s *Service) PaymentTimeline(ctx context.Context, merchantID, id string) (*Timeline, error) {
	s.init()
	p, err := s.Store.FindPayment(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	t := &Timeline{Payment: p, Attempts: map[string][]*Attempt{}}
	if t.Refunds, err = s.Store.FindRefunds(ctx, id); err != nil {
		return nil, err
	}
	if t.Events, _, err = s.Store.FindEvents(ctx, EventFilter{MerchantID: p.MerchantID, ObjectID: id, Limit: 100}); err != nil {
		return nil, err
	}
	for _, r := range t.Refunds {
		evs, _, err := s.Store.FindEvents(ctx, EventFilter{MerchantID: p.MerchantID, ObjectID: r.ID, Limit: 100})
		if err != nil {
			return nil, err
		}
		t.Events = append(t.Events, evs...)
	}
	if t.Calls, err = s.Store.FindProviderCalls(ctx, id); err != nil {
		return nil, err
	}
	if t.Deliveries, err = s.Store.FindDeliveries(ctx, DeliveryFilter{MerchantID: p.MerchantID, PaymentID: id, Limit: 100}); err != nil {
		return nil, err
	}
	for _, d := range t.Deliveries {
		if t.Attempts[d.ID], err = s.Store.FindAttempts(ctx, d.ID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// DayBounds returns the start and end, in UTC, of the civil day that contains t in the zone.
func DayBounds(t time.Time, zone *time.Location) (time.Time, time.Time) {
	lt := t.In(zone)
	start := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, zone)
	return start.UTC(), start.AddDate(0, 0, 1).UTC()
}

// Notices returns a merchant's dashboard notices, newest first.
func (s *Service) Notices(ctx context.Context, merchantID string) ([]*Notice, error) {
	s.init()
	return s.Store.FindNotices(ctx, merchantID, 20)
}
