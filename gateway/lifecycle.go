package gateway

import (
	"context"
	"time"

	"github.com/qrpay/qrpay"
)

// ClosePayment closes an unpaid payment (POST /v1/payments/{id}/close), at the provider first
// and then here. A payment the provider reports paid meanwhile becomes succeeded and the close
// is refused (EINVALIDSTATE: refund it instead). Closing a closed payment returns it as it is.
func (s *Service) ClosePayment(ctx context.Context, c Caller, id string) (*Result, error) {
	s.init()
	return s.idempotent(ctx, c, func() (*Result, error) {
		p, err := s.Store.FindPayment(ctx, c.MerchantID, id)
		if err != nil {
			return nil, err
		}
		switch p.Status {
		case StatusClosed:
			return s.answer(ctx, c, p.ID, nil)
		case StatusSucceeded:
			return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "This payment succeeded; refund it instead of closing it.")
		case StatusFailed, StatusExpired:
			return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "This payment is already %s.", p.Status)
		}
		if err := s.closeAtProvider(ctx, p, StatusClosed); err != nil {
			return nil, err
		}
		cur, err := s.Store.FindPayment(ctx, c.MerchantID, id)
		if err != nil {
			return nil, err
		}
		if cur.Status == StatusSucceeded {
			s.burnAfterFailure(ctx, c, nil)
			return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "The customer paid before the payment could be closed; refund it instead.")
		}
		return s.answer(ctx, c, p.ID, nil)
	})
}

// closeAtProvider ends an unpaid payment at the provider and moves it to status (closed or
// expired). If the provider says it was paid, the payment is reconciled to succeeded instead; a
// trade the provider never saw is closed here alone. An unknown outcome is
// EPROVIDERUNAVAILABLE and changes nothing.
func (s *Service) closeAtProvider(ctx context.Context, p *Payment, status Status) error {
	route, err := s.routeOf(p)
	if err != nil {
		return err
	}
	op := "close"
	pc, err := s.call(ctx, route, p.ID, "", op, func(ctx context.Context) error {
		return route.Provider.Close(ctx, tradeRef(p))
	})
	switch code := ProviderErrorCode(err); {
	case err == nil, code == ProviderNotFound, code == ProviderAlreadyClosed:
	case code == ProviderAlreadyPaid:
		var t *Trade
		qc, qerr := s.call(ctx, route, p.ID, "", "query", func(ctx context.Context) (err error) {
			t, err = route.Provider.Query(ctx, tradeRef(p))
			return err
		})
		if qerr != nil {
			s.recordAlone(ctx, pc, qc)
			return providerUnavailable(qerr)
		}
		_, err := s.apply(ctx, t, "query", pc, qc)
		return err
	default:
		s.recordAlone(ctx, pc)
		return providerUnavailable(err)
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.LockPayment(ctx, p.ID)
		if err != nil {
			return err
		}
		if err := s.record(ctx, tx, pc); err != nil {
			return err
		}
		if cur.Status.Final() {
			return nil
		}
		return s.transition(ctx, tx, cur, status)
	})
}

// Sweep is the periodic job that looks at payments whose next check is due: dynamic codes that
// expired (closed at the provider, then expired here), payments whose outcome is unknown (asked
// again), and payment-code payments past their deadline (reversed). Several processes may sweep
// at once: each leases different payments.
type Sweep struct{}

// Kind implements qrpay.Job.
func (Sweep) Kind() string { return "payments.sweep" }

// SweepJob runs one sweep: it leases due payments in batches until none are due.
func (s *Service) SweepJob(ctx context.Context, _ Sweep) error {
	s.init()
	for round := 0; round < 20; round++ {
		var due []*Payment
		err := s.Store.InTx(ctx, func(tx Tx) error {
			var err error
			due, err = tx.ClaimChecks(ctx, tx.Now(), tx.Now().Add(2*time.Minute), s.SweepBatch)
			return err
		})
		if err != nil {
			return err
		}
		for _, p := range due {
			if err := s.check(ctx, p); err != nil {
				s.Log.WarnContext(ctx, "sweep: payment check failed", "payment", p.ID, "err", err)
			}
		}
		if len(due) < s.SweepBatch {
			return nil
		}
	}
	return nil
}

// check looks at one leased payment.
func (s *Service) check(ctx context.Context, p *Payment) error {
	now := s.Clock.Now()
	if p.Status.Final() {
		return s.Store.InTx(ctx, func(tx Tx) error {
			cur, err := tx.LockPayment(ctx, p.ID)
			if err != nil || cur.NextCheckAt == nil {
				return err
			}
			from := cur.Status
			cur.NextCheckAt = nil
			return tx.UpdatePayment(ctx, cur, from)
		})
	}
	route, err := s.routeOf(p)
	if err != nil {
		return err
	}
	var t *Trade
	pc, err := s.call(ctx, route, p.ID, "", "query", func(ctx context.Context) (err error) {
		t, err = route.Provider.Query(ctx, tradeRef(p))
		return err
	})
	if err == nil && t.Status != TradePending {
		_, err := s.apply(ctx, t, "query", pc)
		return err
	}
	notFound := ProviderErrorCode(err) == ProviderNotFound
	if err != nil && !notFound {
		s.recordAlone(ctx, pc)
		return s.later(ctx, p.ID, now.Add(s.backoff(p.CheckAttempts)))
	}
	s.recordAlone(ctx, pc)
	if now.Before(p.ExpiresAt) {
		// Still waiting for the customer (a till that did not wait): ask again soon.
		if t != nil && t.Status == TradePending {
			if _, err := s.apply(ctx, t, "query"); err != nil {
				return err
			}
		}
		next := now.Add(s.CheckEvery)
		if next.After(p.ExpiresAt) {
			next = p.ExpiresAt
		}
		return s.later(ctx, p.ID, next)
	}
	if p.Scene == SceneCode {
		return s.reverse(ctx, p.ID)
	}
	if err := s.closeAtProvider(ctx, p, StatusExpired); err != nil {
		return s.later(ctx, p.ID, now.Add(s.backoff(p.CheckAttempts)))
	}
	return nil
}

// backoff spaces out checks of a payment whose provider does not answer: CheckEvery doubling,
// at most 10 minutes.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.CheckEvery
	for i := 1; i < attempts && d < 10*time.Minute; i++ {
		d *= 2
	}
	if d > 10*time.Minute {
		d = 10 * time.Minute
	}
	return d
}

// later sets when the sweeper next looks at a payment.
func (s *Service) later(ctx context.Context, id string, at time.Time) error {
	return s.Store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.LockPayment(ctx, id)
		if err != nil {
			return err
		}
		if cur.Status.Final() {
			return nil
		}
		from := cur.Status
		cur.NextCheckAt = &at
		return tx.UpdatePayment(ctx, cur, from)
	})
}

// Cleanup is the periodic job that forgets expired nonces and idempotency records.
type Cleanup struct{}

// Kind implements qrpay.Job.
func (Cleanup) Kind() string { return "api.cleanup" }

// CleanupJob deletes what has expired.
func (s *Service) CleanupJob(ctx context.Context, _ Cleanup) error {
	s.init()
	return s.Store.InTx(ctx, func(tx Tx) error { return tx.DeleteExpired(ctx, tx.Now()) })
}
