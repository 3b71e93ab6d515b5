// Package alipayfake is an in-process fake of the Alipay open platform for tests: an HTTP
// server on 127.0.0.1 that speaks the v1 gateway.do wire format in both directions. It checks
// the RSA2 signature of every request with the app public key (refusing bad ones with code 40002
// isv.invalid-signature, as Alipay does), signs its answers and asynchronous notices with its
// own Alipay private key, and keeps trades and refunds in memory.
//
// It implements alipay.trade.precreate, pay, query, cancel, close, refund,
// alipay.trade.fastpay.refund.query and alipay.data.dataservice.bill.downloadurl.query (with a
// GBK zip bill to download), lets a test play the buyer (Pay), delivers notices over real HTTP,
// and has knobs for the failures an adapter must survive: a call that never answers, a 5xx, an
// answer altered after signing, payment codes that make the customer confirm, decline or leave
// the outcome unknown, and a notice altered after signing.
//
// The fake implements its signing on its own, independently of the adapter, so that the
// adapter's tests check it against a second reading of the rules.
package alipayfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai everywhere.

	"github.com/qrpay/qrpay"
)

const timeLayout = "2006-01-02 15:04:05"

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// Options configure a fake.
type Options struct {
	// AppID is the only app the fake serves.
	AppID string
	// AppPublicKey verifies the app's request signatures.
	AppPublicKey *rsa.PublicKey
	// AlipayKey signs the fake's answers and notices; the adapter verifies them with its public
	// half.
	AlipayKey *rsa.PrivateKey
	// SellerID is the seller's Alipay user id; default "2088000000000001".
	SellerID string
	// Clock is the fake's time: gmt_* fields, expiry, timestamp checks and bill days. Default the
	// system clock.
	Clock qrpay.Clock
	// FeeRate is Alipay's service fee in basis points (60 = 0.6%), written on the bill.
	FeeRate int64
	// NotifyClient delivers notices; default a client with a 10-second timeout.
	NotifyClient *http.Client
	// TimestampSkew is how far a request's timestamp may be from the clock; default 10 minutes.
	TimestampSkew time.Duration
}

// Trade statuses, as Alipay writes them.
const (
	StatusWaitBuyerPay  = "WAIT_BUYER_PAY"
	StatusTradeSuccess  = "TRADE_SUCCESS"
	StatusTradeClosed   = "TRADE_CLOSED"
	StatusTradeFinished = "TRADE_FINISHED"
)

// Trade is the fake's record of one trade, as returned by Server.Trade. Amounts are in fen.
type Trade struct {
	OutTradeNo    string
	TradeNo       string
	Status        string
	TotalAmount   int64
	Subject       string
	Scene         string // "precreate", "bar_code" or "wave_code"
	AuthCode      string
	QRCode        string
	BuyerID       string
	SellerID      string
	SubMerchantID string // sub_merchant.merchant_id of the request
	AppAuthToken  string // app_auth_token of the request
	StoreID       string
	TerminalID    string
	NotifyURL     string
	TimeExpire    time.Time
	CreatedAt     time.Time
	PaidAt        time.Time
	ClosedAt      time.Time
	Refunded      int64
	Refunds       []Refund
	CancelAction  string // "close" or "refund" once cancelled
}

// Refund is one refund of a trade. A reversal that refunded a paid trade appears with an empty
// OutRequestNo and Reason "cancel".
type Refund struct {
	OutRequestNo string
	Amount       int64
	Fee          int64 // service fee returned
	Reason       string
	At           time.Time
}

// trade is a Trade with the fake's private state.
type trade struct {
	Trade
	autoPay     bool // a payment code the customer is confirming: Query completes it
	waitQueries int  // queries still answered WAIT_BUYER_PAY before it completes
}

// Call is one request the fake received, after its signature was checked (or not: Code says).
type Call struct {
	Method  string
	Params  map[string]string
	Biz     map[string]any
	Code    string // the answer's code
	SubCode string
}

// Notify is one notice the fake delivered.
type Notify struct {
	URL    string
	Form   url.Values // as sent, after any tampering
	Status int
	Reply  string
	Err    error
}

// Acked reports whether the receiver answered with the literal body "success".
func (n Notify) Acked() bool { return n.Err == nil && n.Reply == "success" }

// Fault is what the next API call suffers.
type Fault int

// Faults.
const (
	// FaultTimeout holds the next call without acting on it until the client gives up.
	FaultTimeout Fault = iota + 1
	// FaultTimeoutAfterApply acts on the next call, then holds the answer until the client
	// gives up: the outcome is real but the caller never hears of it.
	FaultTimeoutAfterApply
	// FaultServerError answers the next call with a 502 and an HTML page, without acting on it.
	FaultServerError
	// FaultTamper acts on the next call and alters its answer after signing it.
	FaultTamper
	// FaultBadSignature acts on the next call and answers with a signature made by another key.
	FaultBadSignature
)

type pendingFault struct {
	fault                 Fault
	code, subCode, subMsg string // a forced error answer, when code != ""
}

// CodeOutcome is what a payment code does when charged with alipay.trade.pay.
type CodeOutcome int

// Payment code outcomes.
const (
	// CodeSuccess charges at once (code 10000).
	CodeSuccess CodeOutcome = iota
	// CodeUserPaying answers 10003: the customer confirms on the phone; the trade succeeds
	// after Queries queries answered WAIT_BUYER_PAY (or when a test calls Pay).
	CodeUserPaying
	// CodeDeclined refuses with 40004 and SubCode (default ACQ.PAYMENT_AUTH_CODE_INVALID).
	CodeDeclined
	// CodeUnknown answers 20000 isp.unknow-error; Charged says whether the money moved anyway.
	CodeUnknown
)

// CodeBehavior configures one payment code.
type CodeBehavior struct {
	Outcome CodeOutcome
	Queries int    // CodeUserPaying: queries answered WAIT_BUYER_PAY before the trade succeeds
	SubCode string // CodeDeclined: the sub_code, such as ACQ.BUYER_BALANCE_NOT_ENOUGH
	SubMsg  string // CodeDeclined: the sub_msg
	Charged bool   // CodeUnknown: the customer was charged although the answer was 20000
	BuyerID string // the buyer's Alipay user id; default a random one
}

// reAuthCode is Alipay's payment code shape; other codes are declined as invalid by default.
var reAuthCode = regexp.MustCompile(`^(2[5-9]|30)\d{14,22}$`)

// Server is a running fake.
type Server struct {
	opts    Options
	ln      net.Listener
	srv     *http.Server
	base    string
	closing chan struct{}
	closed  sync.Once
	wg      sync.WaitGroup

	mu           sync.Mutex
	trades       map[string]*trade // by app_auth_token + "\x00" + out_trade_no
	byTradeNo    map[string]*trade
	faults       []pendingFault
	codes        map[string]CodeBehavior
	notifies     []Notify
	notifyTamper map[string]string
	keepSignType bool
	bills        map[string]string // download token -> bill date
	calls        []Call
}

// GenerateKeys returns a fresh app key pair and Alipay key pair (RSA 2048) for wiring an adapter
// to a fake: the adapter signs with app and verifies with alipay's public half; the fake the
// other way round.
func GenerateKeys() (app, alipay *rsa.PrivateKey, err error) {
	if app, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, nil, err
	}
	if alipay, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, nil, err
	}
	return app, alipay, nil
}

// New starts a fake on 127.0.0.1 on a free port. Close stops it.
func New(opts Options) (*Server, error) {
	if opts.AppID == "" || opts.AppPublicKey == nil || opts.AlipayKey == nil {
		return nil, errors.New("alipayfake: AppID, AppPublicKey and AlipayKey are required")
	}
	if opts.SellerID == "" {
		opts.SellerID = "2088000000000001"
	}
	if opts.Clock == nil {
		opts.Clock = qrpay.SystemClock{}
	}
	if opts.FeeRate == 0 {
		opts.FeeRate = 60
	}
	if opts.NotifyClient == nil {
		opts.NotifyClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.TimestampSkew == 0 {
		opts.TimestampSkew = 10 * time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("alipayfake: %w", err)
	}
	s := &Server{
		opts: opts, ln: ln, base: "http://" + ln.Addr().String(), closing: make(chan struct{}),
		trades: map[string]*trade{}, byTradeNo: map[string]*trade{}, codes: map[string]CodeBehavior{},
		notifyTamper: map[string]string{}, bills: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/gateway.do", s.handleGateway)
	mux.HandleFunc("/bill/", s.handleBill)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL returns the fake's base URL, http://127.0.0.1:port.
func (s *Server) URL() string { return s.base }

// GatewayURL returns the gateway.do URL to configure the adapter with.
func (s *Server) GatewayURL() string { return s.base + "/gateway.do" }

// Close stops the fake, releasing held calls, and waits for notices in flight.
func (s *Server) Close() {
	s.closed.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
		_ = s.srv.Close()
	})
	s.wg.Wait()
}

// FailNext makes the next API call suffer f. Faults queue up, one per call.
func (s *Server) FailNext(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, pendingFault{fault: f})
}

// ErrorNext makes the next API call answer with code, subCode and subMsg (signed) without acting
// on it. For alipay.trade.cancel, retry_flag is Y when the error is 20000 or ACQ.SYSTEM_ERROR.
func (s *Server) ErrorNext(code, subCode, subMsg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, pendingFault{code: code, subCode: subCode, subMsg: subMsg})
}

// SetPaymentCode sets what authCode does when charged. Codes without a behaviour succeed when
// they look like Alipay payment codes and are declined as invalid otherwise.
func (s *Server) SetPaymentCode(authCode string, b CodeBehavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[authCode] = b
}

// TamperNextNotify changes field to value in the next notice after it is signed.
func (s *Server) TamperNextNotify(field, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyTamper[field] = value
}

// SignNotifiesWithSignType makes notices signed over their fields including sign_type (as
// some Alipay notices are) instead of excluding it.
func (s *Server) SignNotifiesWithSignType(keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keepSignType = keep
}

// Trade returns the trade with out_trade_no outTradeNo (in any app_auth_token namespace).
func (s *Server) Trade(outTradeNo string) (Trade, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trades {
		if t.OutTradeNo == outTradeNo {
			s.expire(t)
			return copyTrade(t), true
		}
	}
	return Trade{}, false
}

// Trades returns every trade, ordered by creation.
func (s *Server) Trades() []Trade {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Trade, 0, len(s.trades))
	for _, t := range s.trades {
		s.expire(t)
		out = append(out, copyTrade(t))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].OutTradeNo < out[j].OutTradeNo
	})
	return out
}

func copyTrade(t *trade) Trade {
	c := t.Trade
	c.Refunds = append([]Refund(nil), t.Refunds...)
	return c
}

// Notifies waits for notices in flight and returns every notice delivered so far.
func (s *Server) Notifies() []Notify {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notify(nil), s.notifies...)
}

// Calls returns every API call received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Pay plays the buyer: it pays the waiting trade outTradeNo (a scanned precreated code, or a
// payment code being confirmed) as buyerID, then delivers the notice to the trade's notify_url
// before returning. It fails for a trade that is not waiting for payment or has expired.
func (s *Server) Pay(outTradeNo, buyerID string) error {
	s.mu.Lock()
	var found []*trade
	for _, t := range s.trades {
		if t.OutTradeNo == outTradeNo {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		s.mu.Unlock()
		return fmt.Errorf("alipayfake: %d trades with out_trade_no %q", len(found), outTradeNo)
	}
	t := found[0]
	s.expire(t)
	if t.Status != StatusWaitBuyerPay {
		s.mu.Unlock()
		return fmt.Errorf("alipayfake: trade %s is %s", outTradeNo, t.Status)
	}
	if buyerID != "" {
		t.BuyerID = buyerID
	}
	s.markPaid(t)
	n := s.notice(t, nil)
	s.mu.Unlock()
	if n != nil {
		s.deliver(n)
	}
	return nil
}

// now is the fake's clock in Asia/Shanghai.
func (s *Server) now() time.Time { return s.opts.Clock.Now().In(shanghai) }

// expire closes a waiting trade whose time_expire has passed.
func (s *Server) expire(t *trade) {
	if t.Status == StatusWaitBuyerPay && !t.TimeExpire.IsZero() && !s.now().Before(t.TimeExpire) {
		t.Status = StatusTradeClosed
		t.ClosedAt = t.TimeExpire
	}
}

func (s *Server) markPaid(t *trade) {
	t.Status = StatusTradeSuccess
	t.PaidAt = s.now()
	t.autoPay = false
	if t.BuyerID == "" {
		t.BuyerID = "2088102" + randDigits(9)
	}
}

// randDigits returns n random decimal digits.
func randDigits(n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			b.WriteByte('0')
			continue
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// randToken returns n random lower-case letters and digits.
func randToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			b.WriteByte('a')
			continue
		}
		b.WriteByte(alphabet[d.Int64()])
	}
	return b.String()
}

func (s *Server) newTradeNo() string {
	return s.now().Format("20060102") + "22001" + randDigits(15)
}

// yuan formats fen as Alipay writes amounts.
func yuan(fen int64) string { return qrpay.FormatMinor(fen, 2) }

// parseYuan reads an amount with at most two decimals.
func parseYuan(s string) (int64, bool) {
	v, err := qrpay.ParseDecimal(s, 2)
	return v, err == nil
}

// fee is the service fee on amount, rounded half up.
func (s *Server) fee(amount int64) int64 { return (amount*s.opts.FeeRate + 5000) / 10000 }

// tradeKey namespaces out_trade_no by app_auth_token: each authorizing merchant has its own.
func tradeKey(token, outTradeNo string) string { return token + "\x00" + outTradeNo }

// deliver posts a notice and records the outcome.
func (s *Server) deliver(n *Notify) {
	req, err := http.NewRequest(http.MethodPost, n.URL, strings.NewReader(n.Form.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		var resp *http.Response
		resp, err = s.opts.NotifyClient.Do(req)
		if err == nil {
			var buf [256]byte
			m, _ := readSome(resp.Body, buf[:])
			resp.Body.Close()
			n.Status = resp.StatusCode
			n.Reply = string(buf[:m])
		}
	}
	n.Err = err
	s.mu.Lock()
	s.notifies = append(s.notifies, *n)
	s.mu.Unlock()
}

// deliverAsync delivers notices after the API answer, tracked by Notifies and Close.
func (s *Server) deliverAsync(ns []*Notify) {
	for _, n := range ns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(n)
		}()
	}
}

// readSome reads up to len(buf) bytes.
func readSome(r interface{ Read([]byte) (int, error) }, buf []byte) (int, error) {
	total := 0
	for total < len(buf) {
		m, err := r.Read(buf[total:])
		total += m
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// notice builds the signed trade_status_sync notice of t (or of its refund r), or nil when the
// trade has no notify_url. Call with s.mu held.
func (s *Server) notice(t *trade, r *Refund) *Notify {
	if t.NotifyURL == "" {
		return nil
	}
	now := s.now()
	f := map[string]string{
		"notify_time":      now.Format(timeLayout),
		"notify_type":      "trade_status_sync",
		"notify_id":        now.Format("2006010215") + randDigits(24),
		"app_id":           s.opts.AppID,
		"charset":          "utf-8",
		"version":          "1.0",
		"sign_type":        "RSA2",
		"trade_no":         t.TradeNo,
		"out_trade_no":     t.OutTradeNo,
		"buyer_id":         t.BuyerID,
		"buyer_logon_id":   "138****0000",
		"seller_id":        t.SellerID,
		"trade_status":     t.Status,
		"total_amount":     yuan(t.TotalAmount),
		"receipt_amount":   yuan(t.TotalAmount),
		"invoice_amount":   yuan(t.TotalAmount),
		"buyer_pay_amount": yuan(t.TotalAmount),
		"point_amount":     "0.00",
		"subject":          t.Subject,
		"gmt_create":       t.CreatedAt.Format(timeLayout),
		"fund_bill_list":   `[{"amount":"` + yuan(t.TotalAmount) + `","fundChannel":"ALIPAYACCOUNT"}]`,
	}
	if !t.PaidAt.IsZero() {
		f["gmt_payment"] = t.PaidAt.Format(timeLayout)
	}
	if t.Status == StatusTradeClosed && !t.ClosedAt.IsZero() {
		f["gmt_close"] = t.ClosedAt.Format(timeLayout)
	}
	if t.AppAuthToken != "" {
		f["auth_app_id"] = "2019000000000001"
	}
	if r != nil {
		f["refund_fee"] = yuan(t.Refunded)
		f["gmt_refund"] = r.At.Format("2006-01-02 15:04:05.000")
		f["out_biz_no"] = r.OutRequestNo
	}
	exclude := []string{"sign", "sign_type"}
	if s.keepSignType {
		exclude = []string{"sign"}
	}
	sig, err := sign(s.opts.AlipayKey, []byte(canonical(f, exclude...)))
	if err != nil {
		sig = ""
	}
	form := url.Values{}
	for k, v := range f {
		if v != "" {
			form.Set(k, v)
		}
	}
	form.Set("sign", sig)
	for k, v := range s.notifyTamper {
		form.Set(k, v)
	}
	clear(s.notifyTamper)
	return &Notify{URL: t.NotifyURL, Form: form}
}

// bizString reads a string (or number) member of biz_content.
func bizString(biz map[string]any, key string) string {
	switch v := biz[key].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	}
	return ""
}
