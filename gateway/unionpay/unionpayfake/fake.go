// Package unionpayfake is an in-process fake of a UnionPay-style acquiring API for tests: an HTTP
// server on 127.0.0.1 that speaks, in both directions, the ACP-style wire format that package
// unionpay documents (form-encoded messages, signMethod 01 signatures, respCode/origRespCode,
// txnType 00, 01, 04, 31 and 76).
//
// It verifies every request's signature with the merchant certificate's public key (refusing
// bad ones with respCode 11, as UnionPay does), signs its answers and back notifications with
// its own key and certId, and keeps QR orders, C2B payments, refunds and voids in memory. It
// issues EMV payloads with qr.BuildMerchantCode, lets a test play the customer (Pay), sends
// signed notifications to backUrl over real HTTP, and serves the reconciliation file through the
// file transfer. Knobs make the next call stall, answer 5xx, break its signature or return a code
// with a wrong amount, account or CRC, and make C2B codes be confirmed after some queries, be
// declined or leave the outcome unknown.
//
// The fake implements the wire format on its own, independently of the adapter, so that the
// adapter's tests check it against a second reading of the rules.
package unionpayfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
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

const timeLayout = "20060102150405"

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// Options configure a fake.
type Options struct {
	// MerchantCertID is the certId of the merchant signing certificate; requests naming another
	// are refused with respCode 11.
	MerchantCertID string
	// MerchantKey verifies the merchant's request signatures.
	MerchantKey *rsa.PublicKey
	// UnionPayKey signs the fake's answers and notifications; the adapter verifies them with its
	// public half.
	UnionPayKey *rsa.PrivateKey
	// UnionPayCertID is the certId written on answers and notifications; default "69042905377".
	UnionPayCertID string
	// AcquirerIIN and ForwardingIIN head EMV tag 15 of the codes the fake issues (8 digits each).
	AcquirerIIN, ForwardingIIN string
	// Clock is the fake's time: finish times, expiry and settlement days. Default the system
	// clock.
	Clock qrpay.Clock
	// FeeRate is UnionPay's fee in basis points (30 = 0.3%), written on the statement as
	// merCharge; default 30.
	FeeRate int64
	// NotifyClient delivers notifications; default a client with a 10-second timeout.
	NotifyClient *http.Client
}

// Transaction kinds.
const (
	KindQROrder = "qr_order" // a dynamic QR order (txnType 01, txnSubType 07)
	KindC2B     = "c2b"      // a C2B payment code charge (txnType 01, txnSubType 06)
	KindRefund  = "refund"   // txnType 04
	KindVoid    = "void"     // txnType 31 that returned the money of a paid consume
)

// Transaction statuses.
const (
	StatusWaiting    = "waiting"    // a QR order not paid yet
	StatusProcessing = "processing" // a C2B charge the customer is confirming, or whose outcome is unknown
	StatusSucceeded  = "succeeded"
	StatusFailed     = "failed"
	StatusClosed     = "closed" // closed or reversed unpaid, or expired
	StatusVoided     = "voided" // paid, then reversed by txnType 31: the money went back
)

// Txn is the fake's record of one transaction, as returned by Server.Txn. Amounts are in minor
// units.
type Txn struct {
	Kind        string
	MerID       string
	OrderID     string // empty for voids
	QueryID     string // empty until UnionPay numbers it (a QR order is numbered when paid)
	Status      string
	RespCode    string // the outcome code: 00 when succeeded
	RespMsg     string
	Amount      int64
	Currency    string // ISO 4217 numeric
	QRCode      string // the EMV payload of a QR order
	QRNo        string // the C2B code charged
	TermID      string
	BackURL     string
	Payer       string // accNo, masked
	TxnTime     string // the request's txnTime
	PayTimeout  time.Time
	CreatedAt   time.Time
	FinishedAt  time.Time // when the money moved, or the order closed
	OrigOrderID string    // refunds and voids
	OrigQueryID string
	Refunded    int64 // consumes: money returned so far by refunds and a void
	Fee         int64 // merCharge
	Request     map[string]string
}

// txn is a Txn with the fake's private state.
type txn struct {
	Txn
	pendingCode string // origRespCode while processing: 05 (confirming) or 04 (unknown)
	waitQueries int    // queries still answered "processing" before it resolves
	charged     bool   // how a processing charge resolves: paid, or failed
}

// Call is one request the fake received, and the respCode it answered (empty when it did not
// answer: a stall or a 5xx).
type Call struct {
	Path     string
	Fields   map[string]string
	RespCode string
}

// Notify is one notification the fake delivered.
type Notify struct {
	URL    string
	Form   url.Values // as sent, after any tampering
	Status int
	Body   string
	Err    error
}

// Acked reports whether the receiver answered HTTP 200, all that UnionPay looks at.
func (n Notify) Acked() bool { return n.Err == nil && n.Status == http.StatusOK }

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
	// FaultBadSignature acts on the next call and signs its answer with another key.
	FaultBadSignature
	// FaultUnknownCert acts on the next call and signs its answer with its key under a certId
	// the adapter does not know.
	FaultUnknownCert
	// FaultUnsigned acts on the next call and answers without a signature.
	FaultUnsigned
	// FaultWrongAmount makes the next QR order's payload ask for one fen more than the order
	// (the answer is properly signed: the payload itself lies).
	FaultWrongAmount
	// FaultBadCRC makes the next QR order's payload fail its CRC.
	FaultBadCRC
	// FaultWrongAccount makes the next QR order's payload pay another merchant (tag 15).
	FaultWrongAccount
)

type pendingFault struct {
	fault         Fault
	code, message string // a forced answer, when code != ""
}

// CodeOutcome is what a C2B payment code does when charged.
type CodeOutcome int

// C2B outcomes.
const (
	// CodeSuccess charges at once (respCode 00).
	CodeSuccess CodeOutcome = iota
	// CodeProcessing answers 05: the customer confirms on the phone; the charge succeeds after
	// Queries queries answered 05 (or when a test calls Pay).
	CodeProcessing
	// CodeDeclined refuses with RespCode (default 01) and RespMsg.
	CodeDeclined
	// CodeUnknown answers 04 (outcome unknown); after Queries queries answered 04 the charge
	// resolves: paid when Charged, else failed.
	CodeUnknown
)

// CodeBehavior configures one payment code.
type CodeBehavior struct {
	// Outcome is what charging the code does.
	Outcome CodeOutcome
	// Queries is how many queries answer "processing" before a CodeProcessing or CodeUnknown
	// charge resolves.
	Queries int
	// RespCode and RespMsg are the decline of CodeDeclined; default 01.
	RespCode, RespMsg string
	// Charged says how a CodeUnknown charge resolves: paid, or failed.
	Charged bool
	// Payer is the masked account (accNo) of the customer; default "6216********0018".
	Payer string
}

// reC2B is UnionPay's C2B code shape; other codes are declined.
var reC2B = regexp.MustCompile(`^62[0-9]{17}$`)

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
	txns         map[string]*txn // by merId + "\x00" + orderId
	byQueryID    map[string]*txn
	all          []*txn
	seq          int
	faults       []pendingFault
	codes        map[string]CodeBehavior
	notifies     []Notify
	notifyTamper map[string]string
	calls        []Call
}

// GenerateKeys returns a fresh merchant key pair and UnionPay key pair (RSA 2048) for wiring an
// adapter to a fake: the adapter signs with merchant and verifies with unionpay's public half;
// the fake the other way round.
func GenerateKeys() (merchant, unionpay *rsa.PrivateKey, err error) {
	if merchant, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, nil, err
	}
	if unionpay, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, nil, err
	}
	return merchant, unionpay, nil
}

var reIIN = regexp.MustCompile(`^[0-9]{8}$`)

// New starts a fake on 127.0.0.1 on a free port. Close stops it.
func New(opts Options) (*Server, error) {
	if opts.MerchantCertID == "" || opts.MerchantKey == nil || opts.UnionPayKey == nil {
		return nil, errors.New("unionpayfake: MerchantCertID, MerchantKey and UnionPayKey are required")
	}
	if !reIIN.MatchString(opts.AcquirerIIN) || !reIIN.MatchString(opts.ForwardingIIN) {
		return nil, errors.New("unionpayfake: AcquirerIIN and ForwardingIIN must be 8 digits")
	}
	if opts.UnionPayCertID == "" {
		opts.UnionPayCertID = "69042905377"
	}
	if opts.Clock == nil {
		opts.Clock = qrpay.SystemClock{}
	}
	if opts.FeeRate == 0 {
		opts.FeeRate = 30
	}
	if opts.NotifyClient == nil {
		opts.NotifyClient = &http.Client{Timeout: 10 * time.Second}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("unionpayfake: %w", err)
	}
	s := &Server{
		opts: opts, ln: ln, base: "http://" + ln.Addr().String(), closing: make(chan struct{}),
		txns: map[string]*txn{}, byQueryID: map[string]*txn{}, codes: map[string]CodeBehavior{},
		notifyTamper: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc(pathBackTrans, s.handle)
	mux.HandleFunc(pathQuery, s.handle)
	mux.HandleFunc(pathFileTrans, s.handle)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL returns the fake's base URL, http://127.0.0.1:port, to configure the adapter with.
func (s *Server) URL() string { return s.base }

// CertID returns the certId the fake signs under.
func (s *Server) CertID() string { return s.opts.UnionPayCertID }

// Close stops the fake, releasing held calls, and waits for notifications in flight.
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

// RespondNext makes the next API call answer respCode and respMsg (signed) without acting on it.
func (s *Server) RespondNext(respCode, respMsg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, pendingFault{code: respCode, message: respMsg})
}

// SetPaymentCode sets what the C2B code qrNo does when charged. Codes without a behaviour
// succeed when they look like UnionPay codes and are declined otherwise.
func (s *Server) SetPaymentCode(qrNo string, b CodeBehavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[qrNo] = b
}

// TamperNextNotify changes field to value in the next notification after it is signed.
func (s *Server) TamperNextNotify(field, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notifyTamper[field] = value
}

// Txn returns the consume or refund with the orderId (under any merId).
func (s *Server) Txn(orderID string) (Txn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.all {
		if t.OrderID == orderID {
			s.expire(t)
			return copyTxn(t), true
		}
	}
	return Txn{}, false
}

// Txns returns every transaction, voids included, in the order they were made.
func (s *Server) Txns() []Txn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Txn, len(s.all))
	for i, t := range s.all {
		s.expire(t)
		out[i] = copyTxn(t)
	}
	return out
}

func copyTxn(t *txn) Txn {
	c := t.Txn
	c.Request = make(map[string]string, len(t.Request))
	for k, v := range t.Request {
		c.Request[k] = v
	}
	return c
}

// Notifies waits for notifications in flight and returns every notification delivered so far.
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

// Pay plays the customer: it pays the QR order orderID (scanned and paid in the UnionPay app) or
// confirms the C2B charge orderID being confirmed, as payer (a masked account; empty for a
// default), then delivers the notification to the order's backUrl before returning. It fails for
// an order that is not waiting for payment or has expired.
func (s *Server) Pay(orderID, payer string) error {
	s.mu.Lock()
	var found []*txn
	for _, t := range s.all {
		if t.OrderID == orderID && (t.Kind == KindQROrder || t.Kind == KindC2B) {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		s.mu.Unlock()
		return fmt.Errorf("unionpayfake: %d orders with orderId %q", len(found), orderID)
	}
	t := found[0]
	s.expire(t)
	if t.Status != StatusWaiting && t.Status != StatusProcessing {
		s.mu.Unlock()
		return fmt.Errorf("unionpayfake: order %s is %s", orderID, t.Status)
	}
	if payer != "" {
		t.Payer = payer
	}
	s.markPaid(t)
	n := s.notice(t)
	s.mu.Unlock()
	if n != nil {
		s.deliver(n)
	}
	return nil
}

// now is the fake's clock in Asia/Shanghai.
func (s *Server) now() time.Time { return s.opts.Clock.Now().In(shanghai) }

// expire closes a waiting QR order whose payTimeout has passed.
func (s *Server) expire(t *txn) {
	if t.Status == StatusWaiting && !t.PayTimeout.IsZero() && !s.now().Before(t.PayTimeout) {
		t.Status, t.RespCode, t.RespMsg, t.FinishedAt = StatusClosed, "01", "订单已超时关闭", t.PayTimeout
	}
}

// newQueryID returns a fresh 21-character queryId: the Shanghai time and a sequence number.
func (s *Server) newQueryID() string {
	s.seq++
	return fmt.Sprintf("%s%07d", s.now().Format(timeLayout), s.seq)
}

func (s *Server) markPaid(t *txn) {
	t.Status, t.RespCode, t.RespMsg = StatusSucceeded, "00", "成功[0000000]"
	t.FinishedAt = s.now()
	if t.QueryID == "" {
		t.QueryID = s.newQueryID()
		s.byQueryID[t.QueryID] = t
	}
	if t.Payer == "" {
		t.Payer = "6216********0018"
	}
	t.Fee = s.fee(t.Amount)
}

// fee is UnionPay's fee on amount, rounded half up.
func (s *Server) fee(amount int64) int64 { return (amount*s.opts.FeeRate + 5000) / 10000 }

func orderKey(merID, orderID string) string { return merID + "\x00" + orderID }

// store records a new transaction.
func (s *Server) store(t *txn) {
	if t.OrderID != "" {
		s.txns[orderKey(t.MerID, t.OrderID)] = t
	}
	if t.QueryID != "" {
		s.byQueryID[t.QueryID] = t
	}
	s.all = append(s.all, t)
}

// notice builds the signed back notification of a consume or refund t, or nil when it has no
// backUrl. Call with s.mu held.
func (s *Server) notice(t *txn) *Notify {
	if t.BackURL == "" {
		return nil
	}
	f := map[string]string{
		"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "certId": s.opts.UnionPayCertID,
		"accessType": "0", "bizType": "000000", "channelType": "08", "merId": t.MerID,
		"orderId": t.OrderID, "queryId": t.QueryID, "txnTime": t.TxnTime,
		"txnAmt": fmt.Sprint(t.Amount), "currencyCode": t.Currency,
		"respCode": t.RespCode, "respMsg": t.RespMsg,
		"settleAmt": fmt.Sprint(t.Amount), "settleCurrencyCode": t.Currency,
		"settleDate": t.FinishedAt.Format("0102"), "traceTime": t.FinishedAt.Format("0102150405"),
		"traceNo": t.QueryID[len(t.QueryID)-6:], "finishTime": t.FinishedAt.Format(timeLayout),
	}
	switch t.Kind {
	case KindRefund:
		f["txnType"], f["txnSubType"] = "04", "00"
		f["origQryId"], f["origOrderId"] = t.OrigQueryID, t.OrigOrderID
	case KindQROrder:
		f["txnType"], f["txnSubType"], f["accNo"] = "01", "07", t.Payer
	default:
		f["txnType"], f["txnSubType"], f["accNo"] = "01", "06", t.Payer
	}
	form, err := signedForm(s.opts.UnionPayKey, f)
	if err != nil {
		return nil
	}
	for k, v := range s.notifyTamper {
		form.Set(k, v)
	}
	clear(s.notifyTamper)
	return &Notify{URL: t.BackURL, Form: form}
}

// deliver posts a notification and records the outcome.
func (s *Server) deliver(n *Notify) {
	req, err := http.NewRequest(http.MethodPost, n.URL, strings.NewReader(n.Form.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
		var resp *http.Response
		resp, err = s.opts.NotifyClient.Do(req)
		if err == nil {
			var buf [256]byte
			m := 0
			for m < len(buf) {
				k, rerr := resp.Body.Read(buf[m:])
				m += k
				if rerr != nil {
					break
				}
			}
			resp.Body.Close()
			n.Status, n.Body = resp.StatusCode, string(buf[:m])
		}
	}
	n.Err = err
	s.mu.Lock()
	s.notifies = append(s.notifies, *n)
	s.mu.Unlock()
}

// deliverAsync delivers notifications after the API answer, tracked by Notifies and Close.
func (s *Server) deliverAsync(ns []*Notify) {
	for _, n := range ns {
		if n == nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.deliver(n)
		}()
	}
}

// sortedKeys returns the keys of m in byte order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
