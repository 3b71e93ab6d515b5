package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// CreatePaymentRequest is the body of POST /v1/payments.
type CreatePaymentRequest struct {
	MerchantOrderNo string
	Amount          int64
	Currency        string
	Description     string
	Scene           string
	Channel         string
	AuthCode        string
	// ExpiresIn is the dynamic code's lifetime in seconds; zero takes the default.
	ExpiresIn  int64
	TerminalID string
	Metadata   map[string]string
	// NoWait asks a payment-code request to answer at once with a pending payment to poll,
	// rather than wait up to CounterWait for the final answer.
	NoWait bool
}

// validOrderNo reports whether s is 1–64 letters, digits and -_.:
func validOrderNo(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == ':') {
			return false
		}
	}
	return true
}

// cleanText checks free text: at most max characters, valid UTF-8, no control characters.
func cleanText(param, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", qrpay.Invalid(param, "%s must be at most %d characters of text.", param, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", qrpay.Invalid(param, "%s must not contain control characters.", param)
		}
	}
	return s, nil
}

// validateMetadata bounds metadata: at most 20 keys of 1–40 characters, values of at most 500.
func validateMetadata(m map[string]string) error {
	if len(m) > 20 {
		return qrpay.Invalid("metadata", "metadata may have at most 20 keys.")
	}
	for k, v := range m {
		if k == "" || utf8.RuneCountInString(k) > 40 || !utf8.ValidString(k) {
			return qrpay.Invalid("metadata", "metadata keys must be 1 to 40 characters.")
		}
		if utf8.RuneCountInString(v) > 500 || !utf8.ValidString(v) {
			return qrpay.Invalid("metadata", "metadata values must be at most 500 characters.")
		}
	}
	return nil
}

// validateCreate checks a create request without touching anything.
func (s *Service) validateCreate(r *CreatePaymentRequest) error {
	if !validOrderNo(r.MerchantOrderNo) {
		return qrpay.Invalid("merchant_order_no", "merchant_order_no must be 1 to 64 letters, digits and -_.:")
	}
	if r.Amount <= 0 {
		return qrpay.Invalid("amount", "amount must be a positive integer in minor units (fen).")
	}
	cur, err := qrpay.ParseCurrency("currency", r.Currency)
	if err != nil {
		return err
	}
	if cur != qrpay.CNY {
		return qrpay.Invalid("currency", "The channels settle in CNY; other currencies are not supported yet.")
	}
	switch Scene(r.Scene) {
	case SceneQR:
		if r.AuthCode != "" {
			return qrpay.Invalid("auth_code", "auth_code is for scene code.")
		}
	case SceneCode:
		if r.AuthCode == "" {
			return qrpay.Invalid("auth_code", "auth_code (the customer's payment code) is required for scene code.")
		}
		if len(r.AuthCode) > 32 || strings.Trim(r.AuthCode, "0123456789") != "" {
			return qrpay.Invalid("auth_code", "auth_code must be the digits of the customer's payment code.")
		}
	default:
		return qrpay.Invalid("scene", "scene must be qr (a dynamic code) or code (the customer's payment code).")
	}
	if r.Channel != "" && !knownChannel(r.Channel) {
		return qrpay.Invalid("channel", "channel must be alipay, wechat, unionpay or mockpay.")
	}
	if r.ExpiresIn != 0 && (r.ExpiresIn < 60 || r.ExpiresIn > int64(s.MaxExpiry/time.Second)) {
		return qrpay.Invalid("expires_in", "expires_in must be 60 to %d seconds.", int64(s.MaxExpiry/time.Second))
	}
	if r.Description, err = cleanText("description", r.Description, 128); err != nil {
		return err
	}
	return validateMetadata(r.Metadata)
}

// CreatePayment creates a payment (POST /v1/payments). Scene qr asks the routed provider for a
// dynamic code first and then records the payment, its event, the nonce and the idempotent
// response in one commit. Scene code records the payment first (money may move), charges the
// payment code, and waits up to CounterWait for the final answer, reversing the payment when
// none comes (see payCode).
//
// Errors: EINVALID with the field; EMERCHANTFROZEN; ECONFLICT for a reused merchant_order_no
// or a concurrent request with the same Idempotency-Key; EIDEMPOTENCYCONFLICT; EUNAUTHORIZED
// for a replayed nonce; EPROVIDERUNAVAILABLE when no code could be had.
func (s *Service) CreatePayment(ctx context.Context, c Caller, r CreatePaymentRequest) (*Result, error) {
	s.init()
	return s.idempotent(ctx, c, func() (*Result, error) {
		if err := s.validateCreate(&r); err != nil {
			return nil, err
		}
		m, bindings, err := s.merchantInfo(ctx, c.MerchantID)
		if err != nil {
			return nil, err
		}
		if !m.CanTakePayments() {
			return nil, merchantRefusal(m.Status)
		}
		if r.TerminalID == "" {
			r.TerminalID = c.TerminalID
		}
		storeID := c.StoreID
		if r.TerminalID != "" && storeID == "" {
			// The terminal's store is recorded with the payment; an unknown terminal is refused.
			storeID, err = s.terminalStore(ctx, c.MerchantID, r.TerminalID)
			if err != nil {
				return nil, err
			}
		}
		route, err := s.Router.Route(RouteRequest{Mode: c.Mode, Channel: r.Channel, AuthCode: r.AuthCode, Bindings: bindings})
		if err != nil {
			return nil, err
		}
		now := s.Clock.Now()
		expiry := s.DefaultExpiry
		if r.ExpiresIn > 0 {
			expiry = time.Duration(r.ExpiresIn) * time.Second
		}
		p := &Payment{
			ID: qrpay.NewID("pay", now), MerchantID: c.MerchantID, StoreID: storeID, TerminalID: r.TerminalID,
			MerchantOrderNo: r.MerchantOrderNo, Amount: r.Amount, Currency: qrpay.Currency(r.Currency),
			Status: StatusCreated, Scene: Scene(r.Scene), Channel: route.Channel, ChannelAccount: route.AccountID,
			SubMerchantID: route.SubMerchantID, Mode: c.Mode, Description: r.Description, Metadata: r.Metadata,
			ExpiresAt: now.Add(expiry),
		}
		if p.Scene == SceneCode {
			p.AuthCodeMask = maskAuthCode(r.AuthCode)
			return s.payCode(ctx, c, p, route, m, r.AuthCode, r.NoWait)
		}
		return s.createQR(ctx, c, p, route, m, bindings)
	})
}

// merchantRefusal is the error for a merchant that may not take payments.
func merchantRefusal(st merchant.Status) error {
	if st == merchant.StatusFrozen {
		return qrpay.Errorf(qrpay.EMERCHANTFROZEN, "This merchant is frozen and cannot take payments.")
	}
	return qrpay.Errorf(qrpay.EFORBIDDEN, "This merchant cannot take payments (status %s).", st)
}

// terminalStore returns the store of one of the merchant's terminals.
func (s *Service) terminalStore(ctx context.Context, merchantID, terminalID string) (string, error) {
	t, err := s.Store.FindTerminal(ctx, merchantID, terminalID)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return "", qrpay.Invalid("terminal_id", "No such terminal.")
	} else if err != nil {
		return "", err
	}
	return t.StoreID, nil
}

// maskAuthCode keeps the first 4 and last 4 digits of a payment code: enough to match a
// receipt, not enough to charge it again.
func maskAuthCode(code string) string {
	if len(code) <= 8 {
		return strings.Repeat("*", len(code))
	}
	return code[:4] + strings.Repeat("*", len(code)-8) + code[len(code)-4:]
}

// createQR gets a dynamic code from the provider, failing over once to another of the
// merchant's accounts when the first is unavailable, then commits the payment.
func (s *Service) createQR(ctx context.Context, c Caller, p *Payment, route Route, m *merchant.Merchant, bindings []merchant.Binding) (*Result, error) {
	var calls []*ProviderCall
	var code *Code
	req := CreateCodeRequest{PaymentID: p.ID, Amount: p.Money(), Description: orDefault(p.Description, m.ShortName),
		ExpiresAt: p.ExpiresAt, SubMerchantID: route.SubMerchantID, NotifyURL: s.callbackURL(route.AccountID),
		MerchantName: m.ShortName, MerchantCity: m.City, MCC: m.MCC, TerminalID: p.TerminalID, StoreID: p.StoreID}
	for attempt := 0; ; attempt++ {
		pc, err := s.call(ctx, route, p.ID, "", "create_code", func(ctx context.Context) (err error) {
			code, err = route.Provider.CreateCode(ctx, req)
			return err
		})
		calls = append(calls, pc)
		if err == nil {
			break
		}
		if !IsOutcomeUnknown(err) || attempt >= 1 {
			s.recordLost(ctx, calls)
			return nil, providerUnavailable(err)
		}
		// Creating a code is idempotent at the provider (same out_trade_no), so an unknown
		// outcome is simply asked again; in live mode another account may take the retry.
		if c.Mode == merchant.ModeLive {
			if alt, rerr := s.Router.Route(RouteRequest{Mode: c.Mode, Channel: route.Channel, Bindings: bindings, Exclude: []string{route.AccountID}}); rerr == nil {
				route = alt
				p.ChannelAccount, p.SubMerchantID = alt.AccountID, alt.SubMerchantID
				req.SubMerchantID, req.NotifyURL = alt.SubMerchantID, s.callbackURL(alt.AccountID)
			}
		}
	}
	p.QRPayload, p.ProviderTradeNo = code.Payload, code.ProviderTradeNo
	// The sweeper looks at the payment again when it expires.
	next := p.ExpiresAt
	p.NextCheckAt = &next
	// Everything that needs no database is done before the transaction, which holds the
	// database's writer: the object is rendered once, for the event and the response.
	p.CreatedAt = s.Clock.Now()
	p.UpdatedAt = p.CreatedAt
	body, err := json.Marshal(p.Object(s.PublicURL))
	if err != nil {
		return nil, err
	}
	pc := &PaymentCreation{KeyID: c.KeyID, Nonce: c.Nonce, NonceExpires: p.CreatedAt.Add(s.NonceTTL), Payment: p, Calls: calls,
		Event: &Event{ID: qrpay.NewID("evt", p.CreatedAt), MerchantID: p.MerchantID, Type: EventPaymentCreated,
			ObjectType: "payment", ObjectID: p.ID, Data: body, CreatedAt: p.CreatedAt}}
	if c.IdempotencyKey != "" {
		pc.Idempotency = &IdempotencyRecord{KeyID: c.KeyID, Key: c.IdempotencyKey, RequestHash: c.RequestHash,
			Status: "done", ResponseStatus: http.StatusCreated, ResponseBody: body, ExpiresAt: p.CreatedAt.Add(s.IdempotencyTTL)}
	}
	st, err := s.Store.CreatePayment(ctx, pc)
	switch {
	case err == nil && st != merchant.StatusActive:
		return nil, merchantRefusal(st)
	case qrpay.IsCode(err, qrpay.ECONFLICT) && qrpay.ErrorParam(err) == "nonce":
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "This request was already made (nonce reused).")
	case qrpay.IsCode(err, qrpay.ECONFLICT) && qrpay.ErrorParam(err) == "idempotency_key":
		return nil, qrpay.Errorf(qrpay.ECONFLICT, "A request with this Idempotency-Key is still in progress.")
	case err != nil:
		return nil, err
	}
	res := &Result{Status: http.StatusCreated, Body: body}
	s.Metrics.PaymentStatus(p.Status)
	res.Payment = p
	return res, nil
}

// recordLost logs provider calls made for a payment that was never recorded.
func (s *Service) recordLost(ctx context.Context, calls []*ProviderCall) {
	for _, c := range calls {
		s.Log.WarnContext(ctx, "provider call for an unrecorded payment", "payment", c.PaymentID, "op", c.Op,
			"outcome", c.Outcome, "detail", c.Detail)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
