package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// payCode takes a customer's payment code at the counter. The payment is committed first, with
// its next check at the deadline, so that if this process dies mid-call the sweeper finds out
// what happened and reverses it if need be. Then the code is charged; while the customer enters a
// password (or the outcome is unknown) the provider is queried every PollEvery until CounterWait;
// a payment still without a final answer then is reversed. The till gets one final answer:
// succeeded, failed, or closed (reversed). With NoWait it gets the pending payment at once and the
// sweeper carries on.
func (s *Service) payCode(ctx context.Context, c Caller, p *Payment, route Route, m *merchant.Merchant, authCode string, noWait bool) (*Result, error) {
	// The till waits in real time (time.Now), whatever clock stamps the records.
	deadline := time.Now().Add(s.CounterWait)
	p.ExpiresAt = s.Clock.Now().Add(s.CounterWait)
	check := p.ExpiresAt.Add(s.PollEvery)
	p.NextCheckAt = &check
	err := s.Store.InTx(ctx, func(tx Tx) error {
		if err := s.useNonce(ctx, tx, c); err != nil {
			return err
		}
		st, err := tx.MerchantStatus(ctx, p.MerchantID)
		if err != nil {
			return err
		}
		if st != merchant.StatusActive {
			return merchantRefusal(st)
		}
		if c.IdempotencyKey != "" {
			err := tx.BeginIdempotency(ctx, &IdempotencyRecord{KeyID: c.KeyID, Key: c.IdempotencyKey,
				RequestHash: c.RequestHash, ExpiresAt: tx.Now().Add(s.IdempotencyTTL)})
			if qrpay.IsCode(err, qrpay.ECONFLICT) {
				return qrpay.Errorf(qrpay.ECONFLICT, "A request with this Idempotency-Key is still in progress.")
			} else if err != nil {
				return err
			}
		}
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		return s.emit(ctx, tx, p.MerchantID, EventPaymentCreated, "payment", p.ID, p.Object(s.PublicURL))
	})
	if err != nil {
		return nil, err
	}
	s.Metrics.PaymentStatus(p.Status)
	// From here the payment exists: whatever happens, the caller gets an answer about it, and
	// the nonce is spent.
	c.Nonce = ""

	var trade *Trade
	pc, err := s.call(ctx, route, p.ID, "", "pay", func(ctx context.Context) (err error) {
		trade, err = route.Provider.PayWithCode(ctx, PayCodeRequest{PaymentID: p.ID, AuthCode: authCode, Amount: p.Money(),
			Description: orDefault(p.Description, m.ShortName), SubMerchantID: route.SubMerchantID,
			NotifyURL: s.callbackURL(route.AccountID), TerminalID: p.TerminalID, StoreID: p.StoreID, ClientIP: c.ClientIP})
		return err
	})
	calls := []*ProviderCall{pc}
	if err != nil && !IsOutcomeUnknown(err) {
		// Refused for sure (a bad code, say): the payment failed.
		trade = &Trade{PaymentID: p.ID, Status: TradeFailed, FailureReason: ProviderErrorCode(err)}
	}
	for trade == nil || trade.Status == TradePending {
		if noWait {
			break
		}
		if time.Now().Add(s.PollEvery).After(deadline) {
			break
		}
		if trade != nil && trade.Status == TradePending {
			// The customer is entering the password: say so while we wait.
			if cur, err := s.apply(ctx, trade, "pay", calls...); err == nil {
				p, calls = cur, nil
			}
		}
		select {
		case <-ctx.Done():
			// The till hung up; the sweeper finishes the payment.
			return s.answer(context.WithoutCancel(ctx), c, p.ID, calls)
		case <-time.After(s.PollEvery):
		}
		var q *Trade
		pc, err := s.call(ctx, route, p.ID, "", "query", func(ctx context.Context) (err error) {
			q, err = route.Provider.Query(ctx, tradeRef(p))
			return err
		})
		calls = append(calls, pc)
		switch {
		case err == nil:
			trade = q
		case ProviderErrorCode(err) == ProviderNotFound && trade == nil:
			// The charge never reached the provider: nothing to wait for.
			trade = &Trade{PaymentID: p.ID, Status: TradeFailed, FailureReason: "not_received"}
		}
	}
	if trade != nil && trade.Status != TradePending {
		if _, err := s.apply(ctx, trade, "pay", calls...); err != nil {
			return nil, err
		}
		return s.answer(ctx, c, p.ID, nil)
	}
	if noWait {
		if trade != nil {
			if _, err := s.apply(ctx, trade, "pay", calls...); err == nil {
				calls = nil
			}
		}
		return s.answer(ctx, c, p.ID, calls)
	}
	// No final answer before the deadline: reverse.
	if err := s.reverse(ctx, p.ID, calls...); err != nil {
		s.Log.WarnContext(ctx, "reversal failed; the sweeper retries", "payment", p.ID, "err", err)
	}
	return s.answer(ctx, c, p.ID, nil)
}

// answer reads the payment as it now stands and stores it as the request's response.
func (s *Service) answer(ctx context.Context, c Caller, paymentID string, calls []*ProviderCall) (*Result, error) {
	var res *Result
	err := s.Store.InTx(ctx, func(tx Tx) error {
		p, err := tx.LockPayment(ctx, paymentID)
		if err != nil {
			return err
		}
		if err := s.record(ctx, tx, calls...); err != nil {
			return err
		}
		status := http.StatusCreated
		if !p.Status.Final() {
			status = http.StatusAccepted
		}
		res, err = s.finish(ctx, tx, c, status, p.Object(s.PublicURL))
		if res != nil {
			res.Payment = p
		}
		return err
	})
	return res, err
}

// reverse cancels a payment at the provider (撤销/冲正) and closes it, flagged reversed. If the
// provider had taken the money it returns it; either way the payment ends closed. An unknown
// outcome leaves the payment pending for the sweeper to try again.
func (s *Service) reverse(ctx context.Context, paymentID string, calls ...*ProviderCall) error {
	p, err := s.Store.FindPayment(ctx, "", paymentID)
	if err != nil {
		return err
	}
	if p.Status.Final() {
		return nil
	}
	route, err := s.routeOf(p)
	if err != nil {
		return err
	}
	var res *CancelResult
	pc, err := s.call(ctx, route, p.ID, "", "reverse", func(ctx context.Context) (err error) {
		res, err = route.Provider.Cancel(ctx, tradeRef(p))
		return err
	})
	calls = append(calls, pc)
	if err != nil && ProviderErrorCode(err) != ProviderNotFound && ProviderErrorCode(err) != ProviderAlreadyClosed {
		next := s.Clock.Now().Add(s.CheckEvery)
		s.Store.InTx(ctx, func(tx Tx) error {
			cur, lerr := tx.LockPayment(ctx, p.ID)
			if lerr != nil {
				return lerr
			}
			if err := s.record(ctx, tx, calls...); err != nil {
				return err
			}
			if cur.Status.Final() {
				return nil
			}
			from := cur.Status
			cur.NextCheckAt = &next
			if cur.Status == StatusCreated {
				cur.Status = StatusPending
				if err := tx.UpdatePayment(ctx, cur, from); err != nil {
					return err
				}
				return s.emit(ctx, tx, cur.MerchantID, EventPaymentPending, "payment", cur.ID, cur.Object(s.PublicURL))
			}
			return tx.UpdatePayment(ctx, cur, from)
		})
		return err
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.LockPayment(ctx, p.ID)
		if err != nil {
			return err
		}
		if err := s.record(ctx, tx, calls...); err != nil {
			return err
		}
		if cur.Status == StatusSucceeded && res != nil && res.Refunded {
			return s.recordReversalRefund(ctx, tx, cur)
		}
		if cur.Status.Final() {
			return nil
		}
		cur.AddFlag(FlagReversed)
		if res != nil && res.Refunded {
			cur.FailureReason = "reversed: the provider returned the money"
		} else {
			cur.FailureReason = "reversed: no final answer in time"
		}
		return s.transition(ctx, tx, cur, StatusClosed)
	})
}

// recordReversalRefund records that a reversal returned the money of a payment whose success
// was recorded while it was being reversed (the provider's success news arrived between its
// answer to the reversal and the reversal's transaction): a succeeded refund of what remained,
// so that qrpay's books say what the provider did, and the payment flagged reversed. Without it
// the payment would stay succeeded with the customer's money back in their wallet.
func (s *Service) recordReversalRefund(ctx context.Context, tx Tx, p *Payment) error {
	amount := p.Refundable()
	if amount <= 0 || p.HasFlag(FlagReversed) {
		return nil
	}
	now := tx.Now()
	r := &Refund{ID: qrpay.NewID("re", now), PaymentID: p.ID, MerchantID: p.MerchantID, MerchantRefundNo: "reversal-" + p.ID,
		Amount: amount, Currency: p.Currency, Status: RefundPending, Reason: "reversed: the provider returned the money",
		ProviderRefundNo: "reversal"}
	if err := tx.HoldRefund(ctx, p.ID, amount); err != nil {
		return err
	}
	if err := tx.InsertRefund(ctx, r); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, p.MerchantID, EventRefundCreated, "refund", r.ID, r.Object()); err != nil {
		return err
	}
	r.Status, r.SucceededAt = RefundSucceeded, &now
	if err := tx.UpdateRefund(ctx, r, RefundPending); err != nil {
		return err
	}
	if err := tx.ReleaseRefund(ctx, p.ID, amount, true); err != nil {
		return err
	}
	if err := s.emit(ctx, tx, p.MerchantID, EventRefundSucceeded, "refund", r.ID, r.Object()); err != nil {
		return err
	}
	p.AddFlag(FlagReversed)
	p.FailureReason = "reversed after it succeeded: the provider returned the money"
	return tx.UpdatePayment(ctx, p, p.Status)
}
