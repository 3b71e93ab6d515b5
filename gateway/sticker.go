package gateway

import (
	"context"
	"strings"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// StickerPaymentRequest is a customer paying a sticker (聚合码): the amount they typed, the
// wallet that opened the page, and who they are to that wallet (for the PBOC daily limit).
type StickerPaymentRequest struct {
	Sticker   *merchant.Sticker
	Amount    int64
	Payer     string
	UserAgent string
	ClientIP  string
}

// CreateStickerPayment creates a payment for a sticker and returns it with the code the
// customer's wallet opens (QRPayload: the provider's cashier link). The wallet is recognised by
// its user agent; the merchant's live binding on that channel takes the payment, and a merchant
// without one (the demo, or a shop still trying qrpay) pays through the mock provider. Static
// codes obey the PBOC level-D rule: at most StaticDailyLimit (¥500) per payer per day, counting
// payments that succeeded or may still (ELIMITEXCEEDED).
func (s *Service) CreateStickerPayment(ctx context.Context, r StickerPaymentRequest) (*Payment, error) {
	s.init()
	st := r.Sticker
	if st == nil || st.Status != "active" {
		return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "This sticker was revoked and takes no payment.")
	}
	if r.Amount <= 0 {
		return nil, qrpay.Invalid("amount", "Enter an amount greater than zero.")
	}
	if r.Amount > s.StaticDailyLimit {
		return nil, qrpay.Errorf(qrpay.ELIMITEXCEEDED, "A sticker takes at most %s a day from one customer.", qrpay.Money{Amount: s.StaticDailyLimit, Currency: qrpay.CNY})
	}
	r.Payer = strings.TrimSpace(r.Payer)
	if r.Payer == "" || len(r.Payer) > 64 {
		return nil, qrpay.Invalid("payer", "The payer is not identified.")
	}
	m, err := s.Store.FindMerchant(ctx, st.MerchantID)
	if err != nil {
		return nil, err
	}
	if !m.CanTakePayments() {
		return nil, merchantRefusal(m.Status)
	}
	bindings, err := s.Store.FindBindings(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	channel := ChannelForUserAgent(r.UserAgent)
	mode := merchant.ModeTest
	for _, b := range bindings {
		if channel != "" && b.Channel == channel && b.Status == "active" {
			mode = merchant.ModeLive
		}
	}
	if channel == "" {
		channel = ChannelMockpay
	}
	route, err := s.Router.Route(RouteRequest{Mode: mode, Channel: channel, Bindings: bindings})
	if err != nil {
		return nil, err
	}
	now := s.Clock.Now()
	id := qrpay.NewID("pay", now)
	p := &Payment{ID: id, MerchantID: m.ID, StoreID: st.StoreID, TerminalID: st.TerminalID, StickerID: st.ID,
		MerchantOrderNo: "sticker-" + strings.TrimPrefix(id, "pay_"), Amount: r.Amount, Currency: qrpay.CNY,
		Status: StatusCreated, Scene: SceneSticker, Channel: route.Channel, ChannelAccount: route.AccountID,
		SubMerchantID: route.SubMerchantID, Mode: mode, Description: m.ShortName, Payer: r.Payer,
		ExpiresAt: now.Add(s.DefaultExpiry)}
	var code *Code
	pc, err := s.call(ctx, route, p.ID, "", "create_code", func(ctx context.Context) (err error) {
		code, err = route.Provider.CreateCode(ctx, CreateCodeRequest{PaymentID: p.ID, Amount: p.Money(), Description: m.ShortName,
			ExpiresAt: p.ExpiresAt, SubMerchantID: route.SubMerchantID, NotifyURL: s.callbackURL(route.AccountID),
			MerchantName: m.ShortName, MerchantCity: m.City, MCC: m.MCC, StoreID: p.StoreID, TerminalID: p.TerminalID})
		return err
	})
	if err != nil {
		s.recordLost(ctx, []*ProviderCall{pc})
		return nil, providerUnavailable(err)
	}
	p.QRPayload, p.ProviderTradeNo = code.Payload, code.ProviderTradeNo
	next := p.ExpiresAt
	p.NextCheckAt = &next
	from, to := DayBounds(now, s.Zone)
	err = s.Store.InTx(ctx, func(tx Tx) error {
		st, err := tx.MerchantStatus(ctx, p.MerchantID)
		if err != nil {
			return err
		}
		if st != merchant.StatusActive {
			return merchantRefusal(st)
		}
		total, err := tx.PayerTotal(ctx, p.Payer, p.Currency, from, to)
		if err != nil {
			return err
		}
		if total+p.Amount > s.StaticDailyLimit {
			return qrpay.Errorf(qrpay.ELIMITEXCEEDED, "Static codes take at most %s a day from one customer; %s is left today.",
				qrpay.Money{Amount: s.StaticDailyLimit, Currency: qrpay.CNY}, qrpay.Money{Amount: max(0, s.StaticDailyLimit-total), Currency: qrpay.CNY})
		}
		if err := tx.InsertPayment(ctx, p); err != nil {
			return err
		}
		if err := s.record(ctx, tx, pc); err != nil {
			return err
		}
		return s.emit(ctx, tx, p.MerchantID, EventPaymentCreated, "payment", p.ID, p.Object(s.PublicURL))
	})
	if err != nil {
		return nil, err
	}
	s.Metrics.PaymentStatus(p.Status)
	return p, nil
}
