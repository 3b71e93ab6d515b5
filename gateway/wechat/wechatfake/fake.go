// Package wechatfake is an in-process fake of the WeChat Pay API for tests: an HTTPS server on
// 127.0.0.1 that speaks APIv3 (Native, query, close, refund, refund query, trade bill and its
// download) and the v2 payment-code API (micropay, orderquery, and reverse, which demands the
// merchant's client certificate).
//
// It checks the merchant's side as WeChat Pay does: APIv3 Authorization signatures are verified
// with the merchant certificate's key (a bad one is 401 SIGN_ERROR) and v2 signs with the APIv2
// key. It signs its own APIv3 answers with the platform key and serial, keeps orders and
// refunds in memory, plays the customer (Pay), and sends signed, encrypted notices to
// notify_url over real HTTP (loopback addresses only). Knobs make the next call stall, answer
// 5xx, carry a broken signature, a stale timestamp or an unknown serial; choose micropay
// outcomes per payment code; and alter notices and bills.
//
// The fake implements the protocol on its own, without the adapter's code, so that the two
// sides check each other.
package wechatfake

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
)

// china is WeChat Pay's wall-clock zone.
var china = time.FixedZone("CST", 8*3600)

// Options configure a fake.
type Options struct {
	// Keys are both sides' keys; required (see NewKeys).
	Keys *Keys
	// Clock stamps answers, notices and orders and judges request freshness; nil means the
	// system clock.
	Clock qrpay.Clock
	// UsePublicKeyID makes the fake name its key by Keys.PlatformPublicKeyID (PUB_KEY_ID_...)
	// in Wechatpay-Serial rather than by the platform certificate's serial.
	UsePublicKeyID bool
}

// Request is one request the fake received.
type Request struct {
	Method        string
	URI           string // path and raw query as sent
	Authorization string
	ClientCert    bool // a verified TLS client certificate was presented
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	keys     *Keys
	clock    qrpay.Clock
	serial   string
	ts       *httptest.Server
	mux      *http.ServeMux
	notifier *http.Client
	closing  chan struct{}
	once     sync.Once

	mu       sync.Mutex
	orders   map[string]*order
	refunds  map[string]*refund
	bills    map[string][]byte
	micropay map[string]Micropay
	knobs    knobs
	requests []Request
	seq      int64
}

// knobs are one-shot or standing behaviours set by tests.
type knobs struct {
	stall, tamper, stale, wrongSerial int // next N requests
	fail                              []int
	recallNext                        bool
	notEnoughNext                     bool
	tamperBillNext                    bool
	hideMicropay                      bool
	notifyAmountDelta                 int64
	tamperNotify, staleNotify         int
}

// nextKnobs are the one-shot behaviours taken by one request.
type nextKnobs struct {
	stall, tamper, stale, wrongSerial bool
	fail                              int
}

// Start starts a fake on 127.0.0.1 over HTTPS with the keys' server certificate. Clients must
// trust Keys.RootCAs (Keys.HTTPClient does).
func Start(o Options) (*Server, error) {
	if o.Keys == nil {
		return nil, errors.New("wechatfake: Options.Keys is required")
	}
	s := &Server{
		keys:     o.Keys,
		clock:    o.Clock,
		serial:   o.Keys.PlatformSerialNo,
		closing:  make(chan struct{}),
		orders:   map[string]*order{},
		refunds:  map[string]*refund{},
		bills:    map[string][]byte{},
		micropay: map[string]Micropay{},
		notifier: &http.Client{Timeout: 10 * time.Second},
	}
	if s.clock == nil {
		s.clock = qrpay.SystemClock{}
	}
	if o.UsePublicKeyID {
		s.serial = o.Keys.PlatformPublicKeyID
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.TLS = &tls.Config{
		Certificates: []tls.Certificate{o.Keys.ServerTLS},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    o.Keys.RootCAs(),
		MinVersion:   tls.VersionTLS12,
	}
	s.ts.StartTLS()
	return s, nil
}

// URL returns the fake's base URL ("https://127.0.0.1:port").
func (s *Server) URL() string { return s.ts.URL }

// Close stops the fake, releasing stalled requests.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// StallNext makes the next request hang until the client gives up or the fake closes.
func (s *Server) StallNext() { s.mu.Lock(); s.knobs.stall++; s.mu.Unlock() }

// FailNext makes the next request answer the HTTP status (a 5xx) without a signature.
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	s.knobs.fail = append(s.knobs.fail, status)
	s.mu.Unlock()
}

// TamperNext makes the next answer carry a signature that does not verify (v3) or a wrong sign
// (v2).
func (s *Server) TamperNext() { s.mu.Lock(); s.knobs.tamper++; s.mu.Unlock() }

// StaleNext makes the next APIv3 answer carry a Wechatpay-Timestamp ten minutes old (validly
// signed).
func (s *Server) StaleNext() { s.mu.Lock(); s.knobs.stale++; s.mu.Unlock() }

// WrongSerialNext makes the next APIv3 answer name a Wechatpay-Serial nobody knows.
func (s *Server) WrongSerialNext() { s.mu.Lock(); s.knobs.wrongSerial++; s.mu.Unlock() }

// RecallNextReverse makes the next reversal answer SYSTEMERROR with recall=Y.
func (s *Server) RecallNextReverse() { s.mu.Lock(); s.knobs.recallNext = true; s.mu.Unlock() }

// NotEnoughNextRefund makes the next refund request answer 403 NOT_ENOUGH.
func (s *Server) NotEnoughNextRefund() { s.mu.Lock(); s.knobs.notEnoughNext = true; s.mu.Unlock() }

// TamperNextBill makes the next bill download differ from the hash_value announced for it.
func (s *Server) TamperNextBill() { s.mu.Lock(); s.knobs.tamperBillNext = true; s.mu.Unlock() }

// HideMicropayFromV3 makes APIv3 order queries answer ORDER_NOT_EXIST for payment-code orders,
// so that only v2 /pay/orderquery sees them.
func (s *Server) HideMicropayFromV3(hide bool) {
	s.mu.Lock()
	s.knobs.hideMicropay = hide
	s.mu.Unlock()
}

// SetNotifyAmountDelta makes payment notices report amount.total and payer_total off by delta
// fen from the order: a genuine, correctly signed notice whose amount does not match, which
// the gateway must catch.
func (s *Server) SetNotifyAmountDelta(delta int64) {
	s.mu.Lock()
	s.knobs.notifyAmountDelta = delta
	s.mu.Unlock()
}

// TamperNextNotify makes the next notice's body differ from what was signed.
func (s *Server) TamperNextNotify() { s.mu.Lock(); s.knobs.tamperNotify++; s.mu.Unlock() }

// StaleNextNotify makes the next notice carry a Wechatpay-Timestamp ten minutes old.
func (s *Server) StaleNextNotify() { s.mu.Lock(); s.knobs.staleNotify++; s.mu.Unlock() }

// takeKnobs pops the one-shot behaviours for one request.
func (s *Server) takeKnobs() nextKnobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n nextKnobs
	if s.knobs.stall > 0 {
		s.knobs.stall--
		n.stall = true
		return n
	}
	if len(s.knobs.fail) > 0 {
		n.fail = s.knobs.fail[0]
		s.knobs.fail = s.knobs.fail[1:]
		return n
	}
	if s.knobs.tamper > 0 {
		s.knobs.tamper--
		n.tamper = true
	}
	if s.knobs.stale > 0 {
		s.knobs.stale--
		n.stale = true
	}
	if s.knobs.wrongSerial > 0 {
		s.knobs.wrongSerial--
		n.wrongSerial = true
	}
	return n
}

// ctxKey carries per-request state from ServeHTTP to the handlers.
type ctxKey int

const (
	ctxBody ctxKey = iota
	ctxKnobs
)

// ServeHTTP implements http.Handler: it records the request, applies the knobs, checks the
// APIv3 Authorization and hands over to the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, URI: r.RequestURI, Authorization: r.Header.Get("Authorization"),
		ClientCert: r.TLS != nil && len(r.TLS.VerifiedChains) > 0}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	k := s.takeKnobs()
	if k.stall {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	if k.fail != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(k.fail)
		_, _ = w.Write([]byte(`{"code":"SYSTEM_ERROR","message":"系统错误"}`))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v3/") {
		if err := s.verifyAuthorization(r, body); err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"code": "SIGN_ERROR", "message": "签名错误: " + err.Error()})
			return
		}
	}
	ctx := context.WithValue(r.Context(), ctxBody, body)
	ctx = context.WithValue(ctx, ctxKnobs, k)
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

// verifyAuthorization checks a WECHATPAY2-SHA256-RSA2048 Authorization header against the
// merchant's certificate key.
func (s *Server) verifyAuthorization(r *http.Request, body []byte) error {
	h := r.Header.Get("Authorization")
	schema, rest, ok := strings.Cut(h, " ")
	if !ok || schema != "WECHATPAY2-SHA256-RSA2048" {
		return errors.New("bad schema")
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return errors.New("malformed Authorization")
		}
		params[k] = v[1 : len(v)-1]
	}
	if params["mchid"] != s.keys.MchID {
		return errors.New("unknown mchid")
	}
	if params["serial_no"] != s.keys.MerchantSerialNo {
		return errors.New("unknown serial_no")
	}
	if params["nonce_str"] == "" {
		return errors.New("no nonce_str")
	}
	ts, err := strconv.ParseInt(params["timestamp"], 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := s.clock.Now().Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp expired")
	}
	sig, err := base64.StdEncoding.DecodeString(params["signature"])
	if err != nil {
		return errors.New("bad signature encoding")
	}
	msg := r.Method + "\n" + r.RequestURI + "\n" + params["timestamp"] + "\n" + params["nonce_str"] + "\n" + string(body) + "\n"
	sum := sha256.Sum256([]byte(msg))
	if rsa.VerifyPKCS1v15(&s.keys.MerchantKey.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// signHeaders returns the Wechatpay-* headers for body, signed now (or ten minutes ago when
// stale).
func (s *Server) signHeaders(body []byte, stale, tamper, wrongSerial bool) http.Header {
	now := s.clock.Now()
	if stale {
		now = now.Add(-10 * time.Minute)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := randAlnum(32)
	sum := sha256.Sum256([]byte(ts + "\n" + nonce + "\n" + string(body) + "\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.keys.PlatformKey, crypto.SHA256, sum[:])
	if err != nil {
		panic("wechatfake: sign: " + err.Error())
	}
	if tamper {
		sig[len(sig)/2] ^= 0x40
	}
	serial := s.serial
	if wrongSerial {
		serial = "0000DEADBEEF0000"
	}
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Signature", base64.StdEncoding.EncodeToString(sig))
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	return h
}

// v3Handler answers one APIv3 route: a status and a value to encode as JSON (nil for no body).
type v3Handler func(r *http.Request, body []byte) (int, any)

// v3 wraps a v3Handler: the answer is JSON, signed with the platform key.
func (s *Server) v3(h v3Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := r.Context().Value(ctxBody).([]byte)
		k, _ := r.Context().Value(ctxKnobs).(nextKnobs)
		status, v := h(r, body)
		var out []byte
		if v != nil {
			var err error
			if out, err = json.Marshal(v); err != nil {
				panic("wechatfake: encode: " + err.Error())
			}
		}
		for name, vals := range s.signHeaders(out, k.stale, k.tamper, k.wrongSerial) {
			w.Header()[name] = vals
		}
		w.Header().Set("Request-ID", fmt.Sprintf("fake-%d", time.Now().UnixNano()))
		if out != nil {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}
}

// apiError is an APIv3 error answer.
func apiError(status int, code, message string) (int, any) {
	return status, map[string]string{"code": code, "message": message}
}

// writeJSON writes an unsigned JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	out, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// nextID returns a fresh numeric id with the prefix, padded to n digits.
func (s *Server) nextID(prefix string, n int) string {
	s.seq++
	id := strconv.FormatInt(s.seq, 10)
	if pad := n - len(prefix) - len(id); pad > 0 {
		id = randDigits(pad) + id
	}
	return prefix + id
}

// routes registers the API.
func (s *Server) routes() {
	s.mux.HandleFunc("POST /v3/pay/transactions/native", s.v3(s.handleNative(false)))
	s.mux.HandleFunc("POST /v3/pay/partner/transactions/native", s.v3(s.handleNative(true)))
	s.mux.HandleFunc("GET /v3/pay/transactions/out-trade-no/{no}", s.v3(s.handleQuery(false)))
	s.mux.HandleFunc("GET /v3/pay/partner/transactions/out-trade-no/{no}", s.v3(s.handleQuery(true)))
	s.mux.HandleFunc("POST /v3/pay/transactions/out-trade-no/{no}/close", s.v3(s.handleClose(false)))
	s.mux.HandleFunc("POST /v3/pay/partner/transactions/out-trade-no/{no}/close", s.v3(s.handleClose(true)))
	s.mux.HandleFunc("POST /v3/refund/domestic/refunds", s.v3(s.handleRefund))
	s.mux.HandleFunc("GET /v3/refund/domestic/refunds/{no}", s.v3(s.handleRefundQuery))
	s.mux.HandleFunc("GET /v3/bill/tradebill", s.v3(s.handleTradeBill))
	s.mux.HandleFunc("GET /v3/billdownload/file", s.handleBillDownload)
	s.mux.HandleFunc("/v3/", s.v3(func(*http.Request, []byte) (int, any) {
		return apiError(http.StatusNotFound, "NOT_FOUND", "no such API")
	}))
	s.mux.HandleFunc("POST /pay/micropay", s.v2(s.handleMicropay))
	s.mux.HandleFunc("POST /pay/orderquery", s.v2(s.handleOrderQuery))
	s.mux.HandleFunc("POST /secapi/pay/reverse", s.v2(s.handleReverse))
}
