// Package client is the Go client of qrpay's merchant API: it signs requests as the API requires
// (HMAC-SHA256 over method, path, timestamp, nonce and body hash), sends Idempotency-Keys,
// decodes answers and errors, and verifies the signatures of webhooks.
//
//	c := client.New("https://pay.example.com", keyID, secret)
//	p, err := c.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "A-1001", Amount: 1234,
//		Currency: "CNY", Scene: "qr"}, client.IdempotencyKey("A-1001"))
//
// It depends only on the standard library.
package client

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the merchant API with one API key.
type Client struct {
	BaseURL string
	KeyID   string
	Secret  string
	HTTP    *http.Client
	// Now is the clock requests are stamped with; nil means time.Now.
	Now func() time.Time
}

// New returns a client for the API at baseURL with an API key.
func New(baseURL, keyID, secret string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), KeyID: keyID, Secret: secret,
		HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is an error answer of the API.
type Error struct {
	Status  int    // the HTTP status
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("qrpay: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	return s
}

// Option changes one request.
type Option func(*http.Request)

// IdempotencyKey makes a POST safe to retry: the same key and body return the stored answer.
func IdempotencyKey(key string) Option {
	return func(r *http.Request) { r.Header.Set("Idempotency-Key", key) }
}

// Canonical returns the string a request signs: METHOD, path with raw query, timestamp, nonce
// and the hex SHA-256 of the body, joined by newlines.
func Canonical(method, pathWithQuery, timestamp, nonce string, body []byte) string {
	sum := sha256.Sum256(body)
	return method + "\n" + pathWithQuery + "\n" + timestamp + "\n" + nonce + "\n" + hex.EncodeToString(sum[:])
}

// Sign returns the lowercase hex HMAC-SHA256 of a canonical string.
func Sign(secret, canonical string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(canonical))
	return hex.EncodeToString(mac.Sum(nil))
}

// NewNonce returns a random request nonce.
func NewNonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// SignRequest adds the authentication headers to a request whose body is body.
func (c *Client) SignRequest(r *http.Request, body []byte) {
	ts := strconv.FormatInt(c.now().Unix(), 10)
	nonce := NewNonce()
	r.Header.Set("Qrpay-Key", c.KeyID)
	r.Header.Set("Qrpay-Timestamp", ts)
	r.Header.Set("Qrpay-Nonce", nonce)
	r.Header.Set("Qrpay-Signature", Sign(c.Secret, Canonical(r.Method, r.URL.RequestURI(), ts, nonce, body)))
}

// Do sends a signed request with a JSON body (nil for none) and decodes a 2xx answer into out.
// A non-2xx answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, opts ...Option) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	return c.DoRaw(ctx, method, path, "application/json", body, out, opts...)
}

// DoRaw sends a signed request with a body of the given content type.
func (c *Client) DoRaw(ctx context.Context, method, path, contentType string, body []byte, out any, opts ...Option) error {
	r, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		r.Header.Set("Content-Type", contentType)
	}
	for _, o := range opts {
		o(r)
	}
	c.SignRequest(r, body)
	resp, err := c.HTTP.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error Error `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return &Error{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(raw))}
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	if b, ok := out.(*[]byte); ok {
		*b = raw
		return nil
	}
	return json.Unmarshal(raw, out)
}

// --- payments -------------------------------------------------------------------------------

// Payment is a payment as the API shows it.
type Payment struct {
	ID              string            `json:"id"`
	MerchantID      string            `json:"merchant_id"`
	MerchantOrderNo string            `json:"merchant_order_no"`
	Amount          int64             `json:"amount"`
	Currency        string            `json:"currency"`
	Status          string            `json:"status"`
	Scene           string            `json:"scene"`
	Channel         string            `json:"channel"`
	Mode            string            `json:"mode"`
	Description     string            `json:"description"`
	QR              *QR               `json:"qr"`
	ProviderTradeNo string            `json:"provider_trade_no"`
	RefundedAmount  int64             `json:"refunded_amount"`
	StoreID         string            `json:"store_id,omitempty"`
	TerminalID      string            `json:"terminal_id,omitempty"`
	FailureReason   string            `json:"failure_reason,omitempty"`
	Flags           []string          `json:"flags"`
	PaidAt          *time.Time        `json:"paid_at"`
	ClosedAt        *time.Time        `json:"closed_at"`
	ExpiresAt       time.Time         `json:"expires_at"`
	CreatedAt       time.Time         `json:"created_at"`
	Metadata        map[string]string `json:"metadata"`
}

// QR is a payment's dynamic code.
type QR struct {
	Payload   string    `json:"payload"`
	ImageURL  string    `json:"image_url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PaymentParams are the fields of a new payment.
type PaymentParams struct {
	MerchantOrderNo string            `json:"merchant_order_no"`
	Amount          int64             `json:"amount"`
	Currency        string            `json:"currency"`
	Description     string            `json:"description,omitempty"`
	Scene           string            `json:"scene"`
	Channel         string            `json:"channel,omitempty"`
	AuthCode        string            `json:"auth_code,omitempty"`
	ExpiresIn       int64             `json:"expires_in,omitempty"`
	TerminalID      string            `json:"terminal_id,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	// Wait, when false, makes a payment-code request answer at once with a pending payment.
	Wait *bool `json:"wait,omitempty"`
}

// CreatePayment creates a payment: a dynamic code (scene "qr") or a charge of a customer's
// payment code (scene "code").
func (c *Client) CreatePayment(ctx context.Context, p PaymentParams, opts ...Option) (*Payment, error) {
	var out Payment
	if err := c.Do(ctx, http.MethodPost, "/v1/payments", p, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// Payment returns a payment.
func (c *Client) Payment(ctx context.Context, id string) (*Payment, error) {
	var out Payment
	if err := c.Do(ctx, http.MethodGet, "/v1/payments/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PaymentList is a page of payments.
type PaymentList struct {
	Data    []Payment `json:"data"`
	HasMore bool      `json:"has_more"`
}

// ListParams filter and page a list.
type ListParams struct {
	MerchantOrderNo string
	Status          string
	Limit           int
	StartingAfter   string
}

func (p ListParams) query() string {
	q := url.Values{}
	if p.MerchantOrderNo != "" {
		q.Set("merchant_order_no", p.MerchantOrderNo)
	}
	if p.Status != "" {
		q.Set("status", p.Status)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.StartingAfter != "" {
		q.Set("starting_after", p.StartingAfter)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// Payments lists payments, newest first.
func (c *Client) Payments(ctx context.Context, p ListParams) (*PaymentList, error) {
	var out PaymentList
	if err := c.Do(ctx, http.MethodGet, "/v1/payments"+p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ClosePayment closes an unpaid payment.
func (c *Client) ClosePayment(ctx context.Context, id string, opts ...Option) (*Payment, error) {
	var out Payment
	if err := c.Do(ctx, http.MethodPost, "/v1/payments/"+url.PathEscape(id)+"/close", nil, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// Refund is a refund as the API shows it.
type Refund struct {
	ID               string     `json:"id"`
	PaymentID        string     `json:"payment_id"`
	MerchantRefundNo string     `json:"merchant_refund_no"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	Status           string     `json:"status"`
	Reason           string     `json:"reason"`
	ProviderRefundNo string     `json:"provider_refund_no"`
	FailureReason    string     `json:"failure_reason,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	SucceededAt      *time.Time `json:"succeeded_at"`
}

// RefundParams are the fields of a new refund.
type RefundParams struct {
	Amount           int64  `json:"amount"`
	MerchantRefundNo string `json:"merchant_refund_no"`
	Reason           string `json:"reason,omitempty"`
}

// CreateRefund refunds part or all of a succeeded payment.
func (c *Client) CreateRefund(ctx context.Context, paymentID string, p RefundParams, opts ...Option) (*Refund, error) {
	var out Refund
	if err := c.Do(ctx, http.MethodPost, "/v1/payments/"+url.PathEscape(paymentID)+"/refunds", p, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// Refund returns a refund.
func (c *Client) Refund(ctx context.Context, id string) (*Refund, error) {
	var out Refund
	if err := c.Do(ctx, http.MethodGet, "/v1/refunds/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Event is a state change, and the body of a webhook.
type Event struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// EventList is a page of events.
type EventList struct {
	Data    []Event `json:"data"`
	HasMore bool    `json:"has_more"`
}

// Events lists events, newest first.
func (c *Client) Events(ctx context.Context, p ListParams) (*EventList, error) {
	var out EventList
	if err := c.Do(ctx, http.MethodGet, "/v1/events"+p.query(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResendEvent sends an event's webhook again.
func (c *Client) ResendEvent(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodPost, "/v1/events/"+url.PathEscape(id)+"/resend", nil, nil)
}

// WebhookEndpoint is a URL that receives webhooks; Secret is only set when it is created or its
// secret rotated. After a rotation, PreviousSecretExpires (Unix seconds) is when the replaced
// secret stops signing.
type WebhookEndpoint struct {
	ID                    string `json:"id"`
	URL                   string `json:"url"`
	Status                string `json:"status"`
	Secret                string `json:"secret,omitempty"`
	PreviousSecretExpires int64  `json:"previous_secret_expires,omitempty"`
}

// CreateWebhookEndpoint registers a URL for webhooks and returns its secret, once.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, endpointURL string, opts ...Option) (*WebhookEndpoint, error) {
	var out WebhookEndpoint
	if err := c.Do(ctx, http.MethodPost, "/v1/webhook_endpoints", map[string]string{"url": endpointURL}, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateWebhookEndpointSecret gives an endpoint a new secret, returned once. Webhooks carry a
// signature with the new secret and one with the old until overlap ends (0: the server's
// default, 24 hours), so a receiver verifying with either accepts them meanwhile.
func (c *Client) RotateWebhookEndpointSecret(ctx context.Context, id string, overlap time.Duration, opts ...Option) (*WebhookEndpoint, error) {
	var in any
	if overlap > 0 {
		in = map[string]int64{"overlap_seconds": int64(overlap / time.Second)}
	}
	var out WebhookEndpoint
	if err := c.Do(ctx, http.MethodPost, "/v1/webhook_endpoints/"+url.PathEscape(id)+"/rotate", in, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhookEndpoint removes a webhook endpoint.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/webhook_endpoints/"+url.PathEscape(id), nil, nil)
}

// ScanResult says what a scanned code is.
type ScanResult struct {
	Kind         string   `json:"kind"`
	Text         string   `json:"text,omitempty"`
	Genuine      *bool    `json:"genuine,omitempty"`
	Channel      string   `json:"channel,omitempty"`
	MerchantID   string   `json:"merchant_id,omitempty"`
	MerchantName string   `json:"merchant_name,omitempty"`
	StoreID      string   `json:"store_id,omitempty"`
	StickerID    string   `json:"sticker_id,omitempty"`
	Status       string   `json:"status,omitempty"`
	PaymentID    string   `json:"payment_id,omitempty"`
	Expired      *bool    `json:"expired,omitempty"`
	Warnings     []string `json:"warnings"`
}

// ScanText classifies a scanned text.
func (c *Client) ScanText(ctx context.Context, text string) (*ScanResult, error) {
	var out ScanResult
	if err := c.Do(ctx, http.MethodPost, "/v1/scan", map[string]string{"text": text}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ScanImage decodes and classifies the code in an image (PNG, JPEG or GIF).
func (c *Client) ScanImage(ctx context.Context, filename string, image []byte) (*ScanResult, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("image", filename)
	if err != nil {
		return nil, err
	}
	fw.Write(image)
	mw.Close()
	var out ScanResult
	if err := c.DoRaw(ctx, http.MethodPost, "/v1/scan", mw.FormDataContentType(), buf.Bytes(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- settlements ----------------------------------------------------------------------------

// Settlement is a day's settlement batch of one merchant and currency, as the API shows it.
// Amounts are in fen; Net = Gross - Refunds - Fees + ReturnedFees + Adjustments, and Payable is
// what the payout carries after a carried-in negative balance (see the settlement docs).
type Settlement struct {
	ID              string           `json:"id"`
	Date            string           `json:"date"`
	MerchantID      string           `json:"merchant_id"`
	Currency        string           `json:"currency"`
	Mode            string           `json:"mode"`
	Count           int64            `json:"count"`
	PaymentCount    int64            `json:"payment_count"`
	RefundCount     int64            `json:"refund_count"`
	AdjustmentCount int64            `json:"adjustment_count"`
	Gross           int64            `json:"gross"`
	Refunds         int64            `json:"refunds"`
	Fees            int64            `json:"fees"`
	ReturnedFees    int64            `json:"returned_fees"`
	Adjustments     int64            `json:"adjustments"`
	Net             int64            `json:"net"`
	CarriedIn       int64            `json:"carried_in"`
	CarriedOut      int64            `json:"carried_out"`
	Payable         int64            `json:"payable"`
	Status          string           `json:"status"`
	Cycle           string           `json:"cycle"`
	PayoutDate      string           `json:"payout_date"`
	Reference       string           `json:"reference"`
	PaidAt          *time.Time       `json:"paid_at"`
	CreatedAt       time.Time        `json:"created_at"`
	Lines           []SettlementLine `json:"lines"`
}

// SettlementLine is one channel of a settlement.
type SettlementLine struct {
	Channel         string `json:"channel"`
	Count           int64  `json:"count"`
	PaymentCount    int64  `json:"payment_count"`
	RefundCount     int64  `json:"refund_count"`
	AdjustmentCount int64  `json:"adjustment_count"`
	Gross           int64  `json:"gross"`
	Refunds         int64  `json:"refunds"`
	Fees            int64  `json:"fees"`
	ReturnedFees    int64  `json:"returned_fees"`
	Adjustments     int64  `json:"adjustments"`
	Net             int64  `json:"net"`
	FeeRate         int    `json:"fee_rate"`
}

// SettlementList is a page of settlements.
type SettlementList struct {
	Data    []Settlement `json:"data"`
	HasMore bool         `json:"has_more"`
}

// SettlementParams filter and page the settlement list.
type SettlementParams struct {
	Date          string // YYYY-MM-DD, the settlement day; empty for all days
	Limit         int
	StartingAfter string
}

// Settlements lists the key's merchant's settlements of the key's mode, newest first.
func (c *Client) Settlements(ctx context.Context, p SettlementParams) (*SettlementList, error) {
	q := url.Values{}
	if p.Date != "" {
		q.Set("date", p.Date)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.StartingAfter != "" {
		q.Set("starting_after", p.StartingAfter)
	}
	path := "/v1/settlements"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out SettlementList
	if err := c.Do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Settlement returns a settlement.
func (c *Client) Settlement(ctx context.Context, id string) (*Settlement, error) {
	var out Settlement
	if err := c.Do(ctx, http.MethodGet, "/v1/settlements/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SettlementLinesCSV returns a settlement's lines file: UTF-8 CSV with a byte-order mark, one
// row per payment, refund and adjustment, which opens in Excel as it is.
func (c *Client) SettlementLinesCSV(ctx context.Context, id string) ([]byte, error) {
	var out []byte
	if err := c.Do(ctx, http.MethodGet, "/v1/settlements/"+url.PathEscape(id)+"/lines.csv", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
