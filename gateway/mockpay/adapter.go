package mockpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// Provider is the adapter that routes payments to the mock provider over its signed HTTP API.
type Provider struct {
	// BaseURL is where the mock provider's API is, such as http://127.0.0.1:8080/mockpay.
	BaseURL string
	Secret  []byte
	Client  *http.Client
	Clock   qrpay.Clock
}

var _ gateway.Provider = (*Provider)(nil)

// NewProvider returns an adapter for the mock provider at baseURL. timeout bounds each call
// (a call that takes longer has an unknown outcome).
func NewProvider(baseURL string, secret []byte, timeout time.Duration, clock qrpay.Clock) *Provider {
	if clock == nil {
		clock = qrpay.SystemClock{}
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// Keep connections to the provider open: the default transport keeps two per host, and a
	// busy gateway would otherwise dial a new one for most calls.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	return &Provider{BaseURL: strings.TrimRight(baseURL, "/"), Secret: secret, Client: &http.Client{Timeout: timeout, Transport: tr}, Clock: clock}
}

// Channel implements gateway.Provider.
func (p *Provider) Channel() string { return gateway.ChannelMockpay }

// do calls an API operation and reads its verified answer. Failures to get a verified answer
// have an unknown outcome.
func (p *Provider) do(ctx context.Context, op string, req any) (*apiAnswer, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.BaseURL+"/api/"+op, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	setSigned(hr.Header, p.Secret, p.Clock.Now(), op, body)
	resp, err := p.Client.Do(hr)
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Unknown: true, Code: gateway.ProviderUnavailable, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Unknown: true, Code: gateway.ProviderUnavailable, Err: err}
	}
	if resp.StatusCode >= 500 {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Unknown: true, Code: gateway.ProviderUnavailable,
			Message: "answered " + resp.Status}
	}
	if !verify(p.Secret, resp.Header, p.Clock.Now(), op, raw) {
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Code: gateway.ProviderAuth, Message: "our signature was refused"}
		}
		return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Unknown: true, Code: gateway.ProviderTampered,
			Message: "the answer's signature does not verify"}
	}
	var ans apiAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Unknown: true, Code: gateway.ProviderUnavailable, Err: err}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Code: gateway.ProviderAuth, ProviderCode: ans.Code, Message: ans.Message}
	}
	if !ans.OK {
		return &ans, p.failure(op, &ans)
	}
	return &ans, nil
}

// failure maps an API error answer to a determined failure.
func (p *Provider) failure(op string, ans *apiAnswer) error {
	code := gateway.ProviderInvalid
	switch ans.Code {
	case codeNotFound:
		code = gateway.ProviderNotFound
	case codeAlreadyPaid:
		code = gateway.ProviderAlreadyPaid
	case codeClosed:
		code = gateway.ProviderAlreadyClosed
	case codeDeclined, codeAuthCode, codeRefundFail:
		code = gateway.ProviderDeclined
	case codeSignature:
		code = gateway.ProviderAuth
	}
	return &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Code: code, ProviderCode: ans.Code, Message: ans.Message}
}

// trade converts a wire trade.
func trade(w *wireTrade) (*gateway.Trade, error) {
	if w == nil {
		return nil, errors.New("the answer has no trade")
	}
	cur, err := qrpay.ParseCurrency("currency", w.Currency)
	if err != nil {
		return nil, err
	}
	t := &gateway.Trade{PaymentID: w.OutTradeNo, ProviderTradeNo: w.TradeNo, Amount: qrpay.Money{Amount: w.Amount, Currency: cur},
		Payer: w.Payer, FailureReason: w.Reason}
	switch w.Status {
	case TradeWaiting, TradePaying:
		t.Status = gateway.TradePending
	case TradeSuccess:
		t.Status = gateway.TradeSucceeded
		if w.PaidAt != "" {
			t.PaidAt, _ = time.Parse(timeFormat, w.PaidAt)
		}
	case TradeFailed:
		t.Status = gateway.TradeFailed
	case TradeClosed:
		t.Status = gateway.TradeClosed
	default:
		return nil, errors.New("unknown trade status " + w.Status)
	}
	return t, nil
}

func unreadable(op string, err error) error {
	return &gateway.ProviderError{Channel: gateway.ChannelMockpay, Op: op, Unknown: true, Code: gateway.ProviderUnavailable, Err: err}
}

// CreateCode implements gateway.Provider.
func (p *Provider) CreateCode(ctx context.Context, req gateway.CreateCodeRequest) (*gateway.Code, error) {
	ans, err := p.do(ctx, "precreate", precreateReq{OutTradeNo: req.PaymentID, Amount: req.Amount.Amount,
		Currency: string(req.Amount.Currency), Subject: req.Description, SubMerchant: req.SubMerchantID,
		NotifyURL: req.NotifyURL, ExpiresAt: req.ExpiresAt.UTC().Format(timeFormat)})
	if err != nil {
		return nil, err
	}
	if ans.QRCode == "" || ans.Trade == nil {
		return nil, unreadable("precreate", errors.New("no code in the answer"))
	}
	return &gateway.Code{Payload: ans.QRCode, ProviderTradeNo: ans.Trade.TradeNo}, nil
}

// PayWithCode implements gateway.Provider.
func (p *Provider) PayWithCode(ctx context.Context, req gateway.PayCodeRequest) (*gateway.Trade, error) {
	ans, err := p.do(ctx, "pay", payReq{OutTradeNo: req.PaymentID, AuthCode: req.AuthCode, Amount: req.Amount.Amount,
		Currency: string(req.Amount.Currency), Subject: req.Description, SubMerchant: req.SubMerchantID, NotifyURL: req.NotifyURL})
	if err != nil {
		if gateway.ProviderErrorCode(err) == gateway.ProviderDeclined && ans != nil {
			return &gateway.Trade{PaymentID: req.PaymentID, Status: gateway.TradeFailed, FailureReason: ans.Message}, nil
		}
		return nil, err
	}
	t, err := trade(ans.Trade)
	if err != nil {
		return nil, unreadable("pay", err)
	}
	return t, nil
}

// Query implements gateway.Provider.
func (p *Provider) Query(ctx context.Context, ref gateway.TradeRef) (*gateway.Trade, error) {
	ans, err := p.do(ctx, "query", tradeReq{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo})
	if err != nil {
		return nil, err
	}
	t, err := trade(ans.Trade)
	if err != nil {
		return nil, unreadable("query", err)
	}
	return t, nil
}

// Cancel implements gateway.Provider.
func (p *Provider) Cancel(ctx context.Context, ref gateway.TradeRef) (*gateway.CancelResult, error) {
	ans, err := p.do(ctx, "cancel", tradeReq{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo})
	if err != nil {
		return nil, err
	}
	return &gateway.CancelResult{Refunded: ans.Code == "REFUNDED"}, nil
}

// Close implements gateway.Provider.
func (p *Provider) Close(ctx context.Context, ref gateway.TradeRef) error {
	_, err := p.do(ctx, "close", tradeReq{OutTradeNo: ref.PaymentID, TradeNo: ref.ProviderTradeNo})
	return err
}

// refundResult converts a wire refund.
func refundResult(paymentID string, w *wireRefund) (*gateway.RefundResult, error) {
	if w == nil {
		return nil, errors.New("the answer has no refund")
	}
	r := &gateway.RefundResult{PaymentID: paymentID, RefundID: w.OutRefundNo, ProviderRefundNo: w.RefundNo,
		Amount: qrpay.Money{Amount: w.Amount, Currency: qrpay.Currency(w.Currency)}, FailureReason: w.Reason}
	switch w.Status {
	case RefundSuccess:
		r.Status = gateway.RefundSucceeded
		r.RefundedAt, _ = time.Parse(timeFormat, w.RefundedAt)
	case RefundFailed:
		r.Status = gateway.RefundFailed
	case RefundProcessing:
		r.Status = gateway.RefundPending
	default:
		return nil, errors.New("unknown refund status " + w.Status)
	}
	return r, nil
}

// Refund implements gateway.Provider.
func (p *Provider) Refund(ctx context.Context, req gateway.RefundRequest) (*gateway.RefundResult, error) {
	ans, err := p.do(ctx, "refund", refundReq{OutTradeNo: req.PaymentID, OutRefundNo: req.RefundID, Amount: req.Amount.Amount,
		Currency: string(req.Amount.Currency), Reason: req.Reason, NotifyURL: req.NotifyURL})
	if err != nil {
		return nil, err
	}
	r, err := refundResult(req.PaymentID, ans.Refund)
	if err != nil {
		return nil, unreadable("refund", err)
	}
	return r, nil
}

// QueryRefund implements gateway.Provider.
func (p *Provider) QueryRefund(ctx context.Context, ref gateway.RefundRef) (*gateway.RefundResult, error) {
	ans, err := p.do(ctx, "refund_query", refundReq{OutTradeNo: ref.PaymentID, OutRefundNo: ref.RefundID})
	if err != nil {
		return nil, err
	}
	r, err := refundResult(ref.PaymentID, ans.Refund)
	if err != nil {
		return nil, unreadable("refund_query", err)
	}
	return r, nil
}

// ParseCallback implements gateway.Provider: a signed JSON notice.
func (p *Provider) ParseCallback(ctx context.Context, req gateway.CallbackRequest) (*gateway.Callback, error) {
	h := http.Header(req.Header)
	if !verify(p.Secret, h, p.Clock.Now(), "notify", req.Body) {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "The callback's signature does not verify.")
	}
	var n notice
	if err := json.Unmarshal(req.Body, &n); err != nil {
		return nil, qrpay.Errorf(qrpay.EINVALID, "The callback is not valid JSON.")
	}
	cb := &gateway.Callback{Ack: gateway.Reply{Status: http.StatusOK, ContentType: "text/plain", Body: []byte("OK")}}
	var err error
	switch n.Kind {
	case "trade":
		cb.Trade, err = trade(n.Trade)
	case "refund":
		if n.Refund != nil {
			cb.Refund, err = refundResult(n.Refund.OutTradeNo, n.Refund)
		} else {
			err = errors.New("no refund")
		}
	default:
		err = errors.New("unknown kind " + n.Kind)
	}
	if err != nil {
		return nil, qrpay.Errorf(qrpay.EINVALID, "The callback cannot be read: %v", err)
	}
	return cb, nil
}

// CallbackNack implements gateway.Provider: anything but 2xx makes the mock provider retry.
func (p *Provider) CallbackNack() gateway.Reply {
	return gateway.Reply{Status: http.StatusInternalServerError, ContentType: "text/plain", Body: []byte("FAIL")}
}

// Statement implements gateway.Provider: the day's statement through the API.
func (p *Provider) Statement(ctx context.Context, date string) (*gateway.Statement, error) {
	ans, err := p.do(ctx, "statement", statementReq{Date: date})
	if err != nil {
		return nil, err
	}
	st := &gateway.Statement{Channel: gateway.ChannelMockpay, Date: date}
	for _, l := range ans.Lines {
		at, err := time.Parse(timeFormat, l.At)
		if err != nil {
			return nil, unreadable("statement", err)
		}
		st.Lines = append(st.Lines, gateway.StatementLine{Type: l.Type, ProviderTradeNo: l.TradeNo, PaymentID: l.OutTradeNo,
			RefundID: l.OutRefundNo, Amount: qrpay.Money{Amount: l.Amount, Currency: qrpay.Currency(l.Currency)},
			Status: l.Status, At: at.UTC()})
	}
	return st, nil
}

// ParseStatement implements gateway.Provider: the CSV file the mock provider serves at
// /mockpay/statements/<date>.csv.
func (p *Provider) ParseStatement(r io.Reader) (*gateway.Statement, error) {
	return parseStatementCSV(r)
}
