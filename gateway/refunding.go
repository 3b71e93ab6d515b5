package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/qrpay/qrpay"
)

// CreateRefundRequest is the body of POST /v1/payments/{id}/refunds.
type CreateRefundRequest struct {
	Amount           int64
	MerchantRefundNo string
	Reason           string
}

// CheckRefund is the job that asks the provider about a refund whose outcome is unknown. It is
// inserted with the refund, so a refund never stays pending because a process died.
type CheckRefund struct {
	RefundID string `json:"refund_id"`
}

// Kind implements qrpay.Job.
func (CheckRefund) Kind() string { return "refund.check" }

// CreateRefund refunds part or all of a succeeded payment. The amount is held on the payment by
// a guarded update in the same transaction that records the refund, so concurrent refunds on
// any number of processes never exceed what was paid; then the provider is asked, and the hold
// becomes refunded (or is released when the refund fails). A refund whose outcome is unknown
// stays pending and a CheckRefund job finds out.
//
// Errors: EINVALID; ENOTFOUND (also another merchant's payment); EINVALIDSTATE for a payment
// that did not succeed; EAMOUNTEXCEEDSREFUNDABLE; ECONFLICT for a reused merchant_refund_no.
func (s *Service) CreateRefund(ctx context.Context, c Caller, paymentID string, r CreateRefundRequest) (*Result, error) {
	s.init()
	return s.idempotent(ctx, c, func() (*Result, error) {
		if r.Amount <= 0 {
			return nil, qrpay.Invalid("amount", "amount must be a positive integer in minor units (fen).")
		}
		if !validOrderNo(r.MerchantRefundNo) {
			return nil, qrpay.Invalid("merchant_refund_no", "merchant_refund_no must be 1 to 64 letters, digits and -_.:")
		}
		var err error
		if r.Reason, err = cleanText("reason", r.Reason, 256); err != nil {
			return nil, err
		}
		p, err := s.Store.FindPayment(ctx, c.MerchantID, paymentID)
		if err != nil {
			return nil, err
		}
		if p.Status != StatusSucceeded {
			return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "Only a succeeded payment can be refunded; this one is %s.", p.Status)
		}
		route, err := s.routeOf(p)
		if err != nil {
			return nil, err
		}
		ref := &Refund{MerchantID: c.MerchantID, PaymentID: p.ID, MerchantRefundNo: r.MerchantRefundNo,
			Amount: r.Amount, Currency: p.Currency, Status: RefundPending, Reason: r.Reason}
		err = s.Store.InTx(ctx, func(tx Tx) error {
			ref.ID = qrpay.NewID("re", tx.Now())
			if err := s.useNonce(ctx, tx, c); err != nil {
				return err
			}
			if c.IdempotencyKey != "" {
				if err := tx.BeginIdempotency(ctx, &IdempotencyRecord{KeyID: c.KeyID, Key: c.IdempotencyKey,
					RequestHash: c.RequestHash, ExpiresAt: tx.Now().Add(s.IdempotencyTTL)}); err != nil {
					if qrpay.IsCode(err, qrpay.ECONFLICT) {
						return qrpay.Errorf(qrpay.ECONFLICT, "A request with this Idempotency-Key is still in progress.")
					}
					return err
				}
			}
			if err := tx.HoldRefund(ctx, p.ID, r.Amount); err != nil {
				return err
			}
			if err := tx.InsertRefund(ctx, ref); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, CheckRefund{RefundID: ref.ID}, qrpay.JobOptions{RunAt: tx.Now().Add(30 * time.Second), MaxAttempts: 50}); err != nil {
				return err
			}
			return s.emit(ctx, tx, p.MerchantID, EventRefundCreated, "refund", ref.ID, ref.Object())
		})
		if err != nil {
			return nil, err
		}
		var res *RefundResult
		pc, err := s.call(ctx, route, p.ID, ref.ID, "refund", func(ctx context.Context) (err error) {
			res, err = route.Provider.Refund(ctx, RefundRequest{PaymentID: p.ID, ProviderTradeNo: p.ProviderTradeNo,
				RefundID: ref.ID, Amount: qrpay.Money{Amount: ref.Amount, Currency: ref.Currency}, Total: p.Money(),
				Reason: ref.Reason, SubMerchantID: p.SubMerchantID, NotifyURL: s.callbackURL(route.AccountID)})
			return err
		})
		switch {
		case err == nil:
			res.RefundID = ref.ID
		case IsOutcomeUnknown(err):
			res = &RefundResult{RefundID: ref.ID, Status: RefundPending}
		default:
			res = &RefundResult{RefundID: ref.ID, Status: RefundFailed, FailureReason: ProviderErrorCode(err)}
		}
		cur, err := s.applyRefund(ctx, res, "refund", pc)
		if err != nil {
			return nil, err
		}
		var out *Result
		err = s.Store.InTx(ctx, func(tx Tx) error {
			status := http.StatusCreated
			if cur.Status == RefundPending {
				status = http.StatusAccepted
			}
			out, err = s.finish(ctx, tx, c, status, cur.Object())
			return err
		})
		if err != nil {
			return nil, err
		}
		out.Refund = cur
		return out, nil
	})
}

// applyRefund reconciles what a provider says of a refund: a final answer ends the hold on
// the payment (refunded, or released) with a refund.succeeded or refund.failed event. Repeated
// news changes nothing.
func (s *Service) applyRefund(ctx context.Context, res *RefundResult, source string, calls ...*ProviderCall) (*Refund, error) {
	var out *Refund
	err := s.Store.InTx(ctx, func(tx Tx) error {
		r, err := tx.LockRefund(ctx, res.RefundID)
		if err != nil {
			return err
		}
		out = r
		if err := s.record(ctx, tx, calls...); err != nil {
			return err
		}
		if r.Status != RefundPending || res.Status == RefundPending {
			if res.ProviderRefundNo != "" && r.ProviderRefundNo == "" && r.Status == RefundPending {
				r.ProviderRefundNo = res.ProviderRefundNo
				return tx.UpdateRefund(ctx, r, RefundPending)
			}
			return nil
		}
		if res.Amount.Amount != 0 && res.Amount.Amount != r.Amount {
			s.Log.WarnContext(ctx, "refund amount differs at the provider", "refund", r.ID, "ours", r.Amount, "theirs", res.Amount.Amount, "source", source)
		}
		succeeded := res.Status == RefundSucceeded
		r.Status = res.Status
		if res.ProviderRefundNo != "" {
			r.ProviderRefundNo = res.ProviderRefundNo
		}
		eventType := EventRefundFailed
		if succeeded {
			now := tx.Now()
			if !res.RefundedAt.IsZero() {
				now = res.RefundedAt.UTC()
			}
			r.SucceededAt = &now
			eventType = EventRefundSucceeded
		} else {
			r.FailureReason = orDefault(res.FailureReason, "refused by the provider")
		}
		if err := tx.UpdateRefund(ctx, r, RefundPending); err != nil {
			return err
		}
		if err := tx.ReleaseRefund(ctx, r.PaymentID, r.Amount, succeeded); err != nil {
			return err
		}
		return s.emit(ctx, tx, r.MerchantID, eventType, "refund", r.ID, r.Object())
	})
	return out, err
}

// CheckRefundJob asks the provider about a pending refund; while the outcome stays unknown the
// job is tried again later.
func (s *Service) CheckRefundJob(ctx context.Context, job CheckRefund) error {
	s.init()
	r, err := s.Store.FindRefund(ctx, "", job.RefundID)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return qrpay.Permanent(err)
	} else if err != nil {
		return err
	}
	if r.Status != RefundPending {
		return nil
	}
	p, err := s.Store.FindPayment(ctx, "", r.PaymentID)
	if err != nil {
		return err
	}
	route, err := s.routeOf(p)
	if err != nil {
		return qrpay.Permanent(err)
	}
	var res *RefundResult
	pc, err := s.call(ctx, route, p.ID, r.ID, "refund_query", func(ctx context.Context) (err error) {
		res, err = route.Provider.QueryRefund(ctx, RefundRef{PaymentID: p.ID, ProviderTradeNo: p.ProviderTradeNo,
			RefundID: r.ID, SubMerchantID: p.SubMerchantID})
		return err
	})
	switch {
	case err == nil:
		res.RefundID = r.ID
	case ProviderErrorCode(err) == ProviderNotFound:
		// The provider never received it: ask again with the same refund id, which is
		// idempotent at the provider.
		pc2, rerr := s.call(ctx, route, p.ID, r.ID, "refund", func(ctx context.Context) (err error) {
			res, err = route.Provider.Refund(ctx, RefundRequest{PaymentID: p.ID, ProviderTradeNo: p.ProviderTradeNo,
				RefundID: r.ID, Amount: qrpay.Money{Amount: r.Amount, Currency: r.Currency}, Total: p.Money(),
				Reason: r.Reason, SubMerchantID: p.SubMerchantID, NotifyURL: s.callbackURL(route.AccountID)})
			return err
		})
		s.recordAlone(ctx, pc)
		pc = pc2
		if rerr != nil {
			s.recordAlone(ctx, pc)
			return rerr
		}
		res.RefundID = r.ID
	default:
		s.recordAlone(ctx, pc)
		return err
	}
	cur, err := s.applyRefund(ctx, res, "query", pc)
	if err != nil {
		return err
	}
	if cur.Status == RefundPending {
		return qrpay.RetryAfter{After: time.Minute}
	}
	return nil
}
