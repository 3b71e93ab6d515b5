package gateway

import (
	"context"
	"errors"
	"fmt"
)

// errAmountMismatch marks a provider answer whose amount or currency differs from the payment.
var errAmountMismatch = errors.New("the provider's amount or currency differs from the payment's")

// errClosedHere is apply's answer to a callback's success for a payment that ended here without
// one (closed, expired, failed): the callback may be stale news, so the caller asks the provider.
var errClosedHere = errors.New("a callback's success for a payment that ended without one")

// apply reconciles what a provider says of a payment (a callback, a query, a pay answer) into
// the state machine, idempotently: the same news twice changes nothing. A provider amount or
// currency that differs from the payment's is never believed: the payment is flagged for review
// (once, with a payment.flagged event) and errAmountMismatch returned. A success reported after
// qrpay closed, expired or failed the payment is recorded as a late success and raised. Provider
// calls are recorded in the same transaction. It returns the payment as it now stands.
func (s *Service) apply(ctx context.Context, t *Trade, source string, calls ...*ProviderCall) (*Payment, error) {
	var out *Payment
	mismatch := false
	err := s.Store.InTx(ctx, func(tx Tx) error {
		p, err := tx.LockPayment(ctx, t.PaymentID)
		if err != nil {
			return err
		}
		if source == "callback" && t.Status == TradeSucceeded && p.Status.Final() && p.Status != StatusSucceeded {
			return errClosedHere
		}
		out = p
		if err := s.record(ctx, tx, calls...); err != nil {
			return err
		}
		if t.Amount.Amount != 0 || t.Amount.Currency != "" {
			if t.Amount.Amount != p.Amount || (t.Amount.Currency != "" && t.Amount.Currency != p.Currency) {
				mismatch = true
				if p.HasFlag(FlagAmountMismatch) {
					return nil
				}
				from := p.Status
				p.AddFlag(FlagAmountMismatch)
				p.FailureReason = fmt.Sprintf("%s reported %d %s for a payment of %d %s", source, t.Amount.Amount,
					t.Amount.Currency, p.Amount, p.Currency)
				if err := tx.UpdatePayment(ctx, p, from); err != nil {
					return err
				}
				return s.emit(ctx, tx, p.MerchantID, EventPaymentFlagged, "payment", p.ID, p.Object(s.PublicURL))
			}
		}
		if t.ProviderTradeNo != "" && p.ProviderTradeNo == "" {
			p.ProviderTradeNo = t.ProviderTradeNo
		}
		switch t.Status {
		case TradeSucceeded, TradeRefunded:
			if p.Status == StatusSucceeded {
				return nil // a duplicate notice
			}
			if t.Payer != "" {
				p.Payer = t.Payer
			}
			if !t.PaidAt.IsZero() {
				paid := t.PaidAt.UTC()
				p.PaidAt = &paid
			}
			p.FailureReason = ""
			return s.transition(ctx, tx, p, StatusSucceeded)
		case TradeFailed:
			if p.Status != StatusCreated && p.Status != StatusPending {
				return nil
			}
			p.FailureReason = orDefault(t.FailureReason, "declined")
			return s.transition(ctx, tx, p, StatusFailed)
		case TradeClosed:
			if p.Status != StatusCreated && p.Status != StatusPending {
				return nil
			}
			return s.transition(ctx, tx, p, StatusClosed)
		case TradePending:
			if p.Status != StatusCreated {
				return nil
			}
			return s.transition(ctx, tx, p, StatusPending)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if mismatch {
		return out, errAmountMismatch
	}
	return out, nil
}

// HandleCallback verifies a provider's callback for a channel account and reconciles it. It
// returns what to answer the provider: the acknowledgement once the news is recorded, and the
// provider's "send again" answer when the callback does not verify, names a payment qrpay does
// not know yet, or could not be recorded. A forged or tampered callback changes nothing.
func (s *Service) HandleCallback(ctx context.Context, accountID string, req CallbackRequest) Reply {
	s.init()
	acc, ok := s.Router.Account(accountID)
	if !ok {
		return Reply{Status: 404, ContentType: "text/plain", Body: []byte("unknown channel account")}
	}
	nack := acc.Provider.CallbackNack()
	cb, err := acc.Provider.ParseCallback(ctx, req)
	if err != nil {
		s.Log.WarnContext(ctx, "callback refused", "account", accountID, "err", err)
		return nack
	}
	switch {
	case cb.Trade != nil:
		_, err = s.apply(ctx, cb.Trade, "callback")
		if errors.Is(err, errClosedHere) {
			// A success for a payment qrpay closed, failed or reversed may be stale news (sent
			// before a reversal returned the money): believe the provider's current answer.
			_, err = s.SyncPayment(ctx, "", cb.Trade.PaymentID)
		}
	case cb.Refund != nil:
		_, err = s.applyRefund(ctx, cb.Refund, "callback")
	}
	if err != nil {
		s.Log.WarnContext(ctx, "callback not applied", "account", accountID, "err", err)
		return nack
	}
	return cb.Ack
}

// SyncPayment asks the provider about a payment and reconciles the answer (the dashboard's
// "ask the provider" and the reconciliation of a statement use it).
func (s *Service) SyncPayment(ctx context.Context, merchantID, id string) (*Payment, error) {
	s.init()
	p, err := s.Store.FindPayment(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	route, err := s.routeOf(p)
	if err != nil {
		return nil, err
	}
	var t *Trade
	pc, err := s.call(ctx, route, p.ID, "", "query", func(ctx context.Context) (err error) {
		t, err = route.Provider.Query(ctx, tradeRef(p))
		return err
	})
	if err != nil {
		s.recordAlone(ctx, pc)
		return nil, providerUnavailable(err)
	}
	return s.apply(ctx, t, "query", pc)
}
