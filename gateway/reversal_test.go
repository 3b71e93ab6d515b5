package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/store/storetest"
)

// cancelHook is a provider whose Cancel runs a function first: the test's way of making news
// arrive between a reversal's decision and the provider's answer.
type cancelHook struct {
	gateway.Provider
	before func()
}

func (p *cancelHook) Cancel(ctx context.Context, ref gateway.TradeRef) (*gateway.CancelResult, error) {
	p.before()
	return p.Provider.Cancel(ctx, ref)
}

// TestReversalAfterASuccessCallback: the till gives up on a customer typing a password and the
// payment is reversed; just before the provider takes the reversal, the customer's payment comes
// through and its success callback is recorded. The provider returns the money, so qrpay records
// that as a full refund and flags the payment reversed, instead of keeping a success the
// customer does not pay for.
func TestReversalAfterASuccessCallback(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		w := newWorld(t, dialect)
		ctx := context.Background()
		var paymentID atomic.Value // string
		hook := &cancelHook{Provider: mockpay.NewProvider(w.gw.PublicURL+"/mockpay", w.mock.Secret, 2*time.Second, w.clock)}
		hook.before = func() {
			// The customer finishes the password (PasswordDelay is 10 s): the provider pays and
			// its callback is applied before the reversal reaches it.
			w.clock.Advance(11 * time.Second)
			id, _ := paymentID.Load().(string)
			w.waitFor(t, id, gateway.StatusSucceeded)
		}
		router, err := gateway.NewRouter([]*gateway.Account{{ID: "mock", Channel: gateway.ChannelMockpay, Provider: hook}}, nil, "mock", w.clock)
		if err != nil {
			t.Fatal(err)
		}
		w.gw.Router = router
		code, err := w.mock.IssuePaymentCode(ctx, "typing-customer", "alipay")
		if err != nil {
			t.Fatal(err)
		}
		// The payment's id is known once it is committed, before the provider is called.
		go func() {
			for i := 0; i < 1000; i++ {
				ps, _, err := w.gw.Payments(ctx, gateway.PaymentFilter{MerchantID: w.merchant.ID, MerchantOrderNo: "rev-1"})
				if err == nil && len(ps) == 1 {
					paymentID.Store(ps[0].ID)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		res, err := w.gw.CreatePayment(ctx, w.caller, gateway.CreatePaymentRequest{MerchantOrderNo: "rev-1", Amount: 1002,
			Currency: "CNY", Scene: "code", AuthCode: code})
		if err != nil {
			t.Fatal(err)
		}
		p, err := w.gw.Payment(ctx, "", res.Payment.ID)
		if err != nil {
			t.Fatal(err)
		}
		trade, err := w.db.MockTrade(ctx, p.ID)
		if err != nil || trade.Status != mockpay.TradeClosed || trade.Refunded != 1002 {
			t.Fatalf("the provider's trade: %+v %v; want closed with the money returned", trade, err)
		}
		if p.Status != gateway.StatusSucceeded || p.RefundedAmount != 1002 || !p.HasFlag(gateway.FlagReversed) {
			t.Fatalf("payment %s %s, refunded %d, flags %v; want succeeded, refunded in full, flagged reversed",
				p.ID, p.Status, p.RefundedAmount, p.Flags)
		}
		refunds, err := w.gw.Refunds(ctx, w.merchant.ID, p.ID)
		if err != nil || len(refunds) != 1 || refunds[0].Status != gateway.RefundSucceeded || refunds[0].Amount != 1002 ||
			refunds[0].ProviderRefundNo != "reversal" {
			t.Fatalf("refunds %+v %v; want one succeeded reversal of 1002", refunds, err)
		}
		evs, _, _ := w.gw.Events(ctx, gateway.EventFilter{MerchantID: w.merchant.ID, ObjectID: refunds[0].ID})
		if types := eventTypes(evs); len(types) != 2 || !(types[0] == gateway.EventRefundSucceeded && types[1] == gateway.EventRefundCreated ||
			types[1] == gateway.EventRefundSucceeded && types[0] == gateway.EventRefundCreated) {
			t.Fatalf("refund events %v, want refund.created and refund.succeeded", types)
		}
	})
}
