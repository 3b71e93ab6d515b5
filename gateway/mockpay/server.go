package mockpay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// Server is the simulated provider: its API (for the adapter), its wallet API, its callbacks
// and statements. Serve Handler under /mockpay and run Run in the background.
type Server struct {
	Store  Store
	Secret []byte
	Clock  qrpay.Clock
	Log    *slog.Logger
	// PublicURL is where customers reach this binary; codes are <PublicURL>/mockpay/c/<trade_no>.
	PublicURL string
	// Zone is the provider's business zone, in which statements are cut (Asia/Shanghai).
	Zone *time.Location
	// PasswordDelay is how long behaviour 02's customer takes (10 s); LateDelay how long after
	// a close behaviour 05's success arrives (2 s); NoAnswerHold how long behaviour 03 keeps a
	// payment-code request hanging if the client does not give up first (2 min).
	PasswordDelay time.Duration
	LateDelay     time.Duration
	NoAnswerHold  time.Duration
	// Latency is added to every API answer, to simulate a slow provider.
	Latency time.Duration
	// Client sends callbacks (5 s timeout by default).
	Client *http.Client

	once       sync.Once
	wg         sync.WaitGroup
	failedOnce sync.Map // orders whose first precreate answered 5xx (behaviour 07)
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Clock == nil {
			s.Clock = qrpay.SystemClock{}
		}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
		if s.Zone == nil {
			s.Zone = time.UTC
		}
		if s.PasswordDelay <= 0 {
			s.PasswordDelay = 10 * time.Second
		}
		if s.LateDelay <= 0 {
			s.LateDelay = 2 * time.Second
		}
		if s.NoAnswerHold <= 0 {
			s.NoAnswerHold = 2 * time.Minute
		}
		if s.Client == nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 64
			s.Client = &http.Client{Timeout: 5 * time.Second, Transport: tr}
		}
		s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	})
}

// CodePrefix is the path of the mock provider's codes.
const CodePrefix = "/mockpay/c/"

// CodeURL returns the payload of a code the mock provider issued.
func (s *Server) CodeURL(token string) string { return s.PublicURL + CodePrefix + token }

// Handler serves the API (/mockpay/api/<operation>), the wallet API (/mockpay/wallet/pay and
// /mockpay/wallet/payment-code) and statements (/mockpay/statements/<date>.csv).
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mockpay/api/{op}", s.handleAPI)
	mux.HandleFunc("POST /mockpay/wallet/pay", s.handleWalletPay)
	mux.HandleFunc("POST /mockpay/wallet/payment-code", s.handlePaymentCode)
	mux.HandleFunc("GET /mockpay/statements/{file}", s.handleStatementFile)
	return mux
}

// --- the API ---------------------------------------------------------------------------------

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if !verify(s.Secret, r.Header, s.Clock.Now(), op, body) {
		s.answer(w, op, http.StatusUnauthorized, apiAnswer{Code: codeSignature, Message: "the signature does not verify"})
		return
	}
	if s.Latency > 0 {
		select {
		case <-time.After(s.Latency):
		case <-r.Context().Done():
			return
		}
	}
	ctx := r.Context()
	var ans apiAnswer
	status := http.StatusOK
	switch op {
	case "precreate":
		var req precreateReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.precreate(ctx, req)
		}
	case "pay":
		var req payReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.pay(ctx, r, req)
			if status == 0 {
				return // behaviour 03: no answer at all
			}
		}
	case "query":
		var req tradeReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.query(ctx, req)
		}
	case "close", "cancel":
		var req tradeReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.closeTrade(ctx, req, op == "cancel")
		}
	case "refund":
		var req refundReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.refund(ctx, req)
		}
	case "refund_query":
		var req refundReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.refundQuery(ctx, req)
		}
	case "statement":
		var req statementReq
		if err = json.Unmarshal(body, &req); err == nil {
			ans, status = s.statement(ctx, req.Date)
		}
	default:
		ans, status = apiAnswer{Code: codeInvalid, Message: "unknown operation"}, http.StatusNotFound
	}
	if err != nil {
		ans, status = apiAnswer{Code: codeInvalid, Message: "the body is not valid JSON"}, http.StatusBadRequest
	}
	s.answer(w, op, status, ans)
}

// answer writes a signed API answer.
func (s *Server) answer(w http.ResponseWriter, op string, status int, ans apiAnswer) {
	body, _ := json.Marshal(ans)
	setSigned(w.Header(), s.Secret, s.Clock.Now(), op, body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func fail(code, msg string) apiAnswer { return apiAnswer{Code: code, Message: msg} }

// internal answers a 5xx for a ledger failure; the caller learns nothing and must query.
func (s *Server) internal(err error) (apiAnswer, int) {
	s.Log.Error("mockpay ledger", "err", err)
	return fail("SYSTEM_ERROR", "system error, query later"), http.StatusInternalServerError
}

func (s *Server) precreate(ctx context.Context, req precreateReq) (apiAnswer, int) {
	if req.OutTradeNo == "" || req.Amount <= 0 || req.Currency == "" {
		return fail(codeInvalid, "out_trade_no, amount and currency are required"), http.StatusBadRequest
	}
	expires, err := time.Parse(timeFormat, req.ExpiresAt)
	if err != nil {
		return fail(codeInvalid, "expires_at must be RFC 3339"), http.StatusBadRequest
	}
	if Behaviour(req.Amount) == Behaviour5xx {
		// The first try of each order fails; the caller's retry succeeds.
		if _, retried := s.failedOnce.LoadOrStore(req.OutTradeNo, true); !retried {
			return fail("SYSTEM_ERROR", "temporary failure, try again"), http.StatusServiceUnavailable
		}
	}
	subject := req.Subject
	if r := []rune(subject); len(r) > 20 {
		subject = string(r[:20])
	}
	// Nothing is written: the code carries the order until a customer scans it.
	token := issueToken(s.Secret, codeClaims{OutTradeNo: req.OutTradeNo, Amount: req.Amount, Currency: req.Currency,
		Subject: subject, SubMerchant: req.SubMerchant, NotifyURL: req.NotifyURL, Expires: expires.Unix()})
	w := &wireTrade{OutTradeNo: req.OutTradeNo, TradeNo: tradeNoFor(s.Secret, req.OutTradeNo), Status: TradeWaiting,
		Amount: req.Amount, Currency: req.Currency}
	return apiAnswer{OK: true, QRCode: s.CodeURL(token), Trade: w}, http.StatusOK
}

// pay charges a payment code. Behaviour 03 returns status 0: the handler then answers nothing
// until the client gives up.
func (s *Server) pay(ctx context.Context, r *http.Request, req payReq) (apiAnswer, int) {
	if req.OutTradeNo == "" || req.Amount <= 0 || req.AuthCode == "" {
		return fail(codeInvalid, "out_trade_no, amount and auth_code are required"), http.StatusBadRequest
	}
	if existing, err := s.Store.MockTrade(ctx, req.OutTradeNo); err == nil {
		// A retry of a charge already made: answer with the trade as it stands.
		return apiAnswer{OK: true, Trade: s.wire(existing)}, http.StatusOK
	}
	b := Behaviour(req.Amount)
	var t *Trade
	declined := ""
	err := s.Store.InTx(ctx, func(tx Tx) error {
		now := tx.Now()
		payer, err := tx.UsePaymentCode(ctx, req.AuthCode)
		if err != nil {
			if qrpay.IsCode(err, qrpay.ENOTFOUND) || qrpay.IsCode(err, qrpay.ECONFLICT) {
				declined = "the payment code is invalid or was used; ask the customer to refresh it"
				return nil
			}
			return err
		}
		t = &Trade{OutTradeNo: req.OutTradeNo, TradeNo: tradeNo(now, s.Zone), Kind: "code", Amount: req.Amount,
			Currency: req.Currency, Subject: req.Subject, SubMerchant: req.SubMerchant, NotifyURL: req.NotifyURL,
			Payer: payer, ExpiresAt: now.Add(24 * time.Hour), CreatedAt: now}
		s.settle(t, b, now)
		return tx.InsertMockTrade(ctx, t)
	})
	if err != nil {
		return s.internal(err)
	}
	if declined != "" {
		return fail(codeAuthCode, declined), http.StatusOK
	}
	switch b {
	case BehaviourNoAnswer:
		select {
		case <-r.Context().Done():
		case <-time.After(s.NoAnswerHold):
		}
		return apiAnswer{}, 0
	case Behaviour5xx:
		return fail("SYSTEM_ERROR", "temporary failure, query later"), http.StatusBadGateway
	}
	s.notifySoon(t)
	return apiAnswer{OK: true, Trade: s.wire(t)}, http.StatusOK
}

// settle decides what a customer's confirmation does to a trade, by behaviour.
func (s *Server) settle(t *Trade, b int, now time.Time) {
	switch b {
	case BehaviourDecline:
		t.Status = TradeFailed
		t.NotifiesDue = 1
	case BehaviourPassword:
		t.Status = TradePaying
		at := now.Add(s.PasswordDelay)
		t.PayAt = &at
	case BehaviourNoAnswer:
		t.Status = TradePaying
	case BehaviourLate:
		// The customer's confirmation is slow to come through: it arrives after a close.
		t.Status = TradePaying
		at := now.Add(30 * time.Second)
		t.PayAt = &at
	case BehaviourDuplicate:
		s.paid(t, now)
		t.NotifiesDue = 2
	default:
		s.paid(t, now)
	}
	if t.NotifiesDue > 0 {
		// Leased to the goroutine that sends it now; the loop takes over if that fails.
		at := now.Add(30 * time.Second)
		t.NotifyAt = &at
	}
}

func (s *Server) paid(t *Trade, now time.Time) {
	t.Status = TradeSuccess
	t.PaidAt = &now
	t.PayAt = nil
	t.NotifiesDue = 1
}

func (s *Server) query(ctx context.Context, req tradeReq) (apiAnswer, int) {
	t, err := s.Store.MockTrade(ctx, req.OutTradeNo)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return fail(codeNotFound, "no such trade"), http.StatusOK
	} else if err != nil {
		return s.internal(err)
	}
	return apiAnswer{OK: true, Trade: s.wire(t)}, http.StatusOK
}

// closeTrade closes (or, with cancel, reverses) a trade. Reversing a paid trade returns the
// money. Behaviour 05's payment still comes through, LateDelay after the close.
func (s *Server) closeTrade(ctx context.Context, req tradeReq, cancel bool) (apiAnswer, int) {
	var ans apiAnswer
	closeTx := func(tx Tx) error {
		t, err := tx.LockMockTrade(ctx, req.OutTradeNo)
		now := tx.Now()
		if qrpay.IsCode(err, qrpay.ENOTFOUND) {
			if cancel {
				ans = fail(codeNotFound, "no such trade")
				return nil
			}
			// An order nobody scanned: closing it records it closed, so that its code can no
			// longer be paid.
			ans = apiAnswer{OK: true, Code: "CLOSED"}
			return tx.InsertMockTrade(ctx, &Trade{OutTradeNo: req.OutTradeNo, TradeNo: tradeNoFor(s.Secret, req.OutTradeNo),
				Kind: "qr", Currency: "CNY", Status: TradeClosed, ExpiresAt: now, CreatedAt: now, ClosedAt: &now})
		} else if err != nil {
			return err
		}
		switch t.Status {
		case TradeSuccess:
			if !cancel {
				ans = fail(codeAlreadyPaid, "the trade was paid")
				return nil
			}
			t.Refunded = t.Amount
			ans = apiAnswer{OK: true, Code: "REFUNDED"}
		case TradeClosed:
			ans = apiAnswer{OK: true, Code: "CLOSED"}
			ans.Trade = s.wire(t)
			return nil
		default:
			ans = apiAnswer{OK: true, Code: "CLOSED"}
		}
		t.Status = TradeClosed
		t.ClosedAt = &now
		t.PayAt = nil
		if Behaviour(t.Amount) == BehaviourLate && t.PaidAt == nil {
			at := now.Add(s.LateDelay)
			t.PayAt = &at
		}
		ans.Trade = s.wire(t)
		return tx.UpdateMockTrade(ctx, t)
	}
	err := s.Store.InTx(ctx, closeTx)
	if qrpay.IsCode(err, qrpay.ECONFLICT) {
		// Another close of the same unscanned order recorded it first: it exists now.
		err = s.Store.InTx(ctx, closeTx)
	}
	if err != nil {
		return s.internal(err)
	}
	return ans, http.StatusOK
}

func (s *Server) refund(ctx context.Context, req refundReq) (apiAnswer, int) {
	if req.OutRefundNo == "" || req.Amount <= 0 {
		return fail(codeInvalid, "out_refund_no and a positive amount are required"), http.StatusBadRequest
	}
	var ans apiAnswer
	err := s.Store.InTx(ctx, func(tx Tx) error {
		if r, err := s.Store.MockRefund(ctx, req.OutRefundNo); err == nil {
			ans = apiAnswer{OK: true, Refund: s.wireRefund(r)}
			return nil
		}
		t, err := tx.LockMockTrade(ctx, req.OutTradeNo)
		if qrpay.IsCode(err, qrpay.ENOTFOUND) {
			ans = fail(codeNotFound, "no such trade")
			return nil
		} else if err != nil {
			return err
		}
		if t.Status != TradeSuccess {
			ans = fail(codeInvalid, "only a paid trade can be refunded")
			return nil
		}
		r := &Refund{OutRefundNo: req.OutRefundNo, RefundNo: "MR" + digits(16), OutTradeNo: t.OutTradeNo,
			Amount: req.Amount, CreatedAt: tx.Now()}
		switch {
		case Behaviour(t.Amount) == BehaviourNoRefund:
			r.Status = RefundFailed
		case req.Amount > t.Amount-t.Refunded:
			ans = fail(codeExceeds, "the refund exceeds what remains")
			return nil
		default:
			r.Status = RefundSuccess
			t.Refunded += req.Amount
			if err := tx.UpdateMockTrade(ctx, t); err != nil {
				return err
			}
		}
		if err := tx.InsertMockRefund(ctx, r); err != nil {
			return err
		}
		ans = apiAnswer{OK: true, Refund: s.wireRefund(r)}
		return nil
	})
	if err != nil {
		return s.internal(err)
	}
	return ans, http.StatusOK
}

func (s *Server) refundQuery(ctx context.Context, req refundReq) (apiAnswer, int) {
	r, err := s.Store.MockRefund(ctx, req.OutRefundNo)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return fail(codeNotFound, "no such refund"), http.StatusOK
	} else if err != nil {
		return s.internal(err)
	}
	return apiAnswer{OK: true, Refund: s.wireRefund(r)}, http.StatusOK
}

// statementLines returns a day's statement: the trades paid and the refunds made that day in
// the provider's zone.
func (s *Server) statementLines(ctx context.Context, date string) ([]wireLine, error) {
	day, err := time.ParseInLocation("2006-01-02", date, s.Zone)
	if err != nil {
		return nil, qrpay.Invalid("date", "date must be YYYY-MM-DD")
	}
	trades, refunds, err := s.Store.MockStatement(ctx, day.UTC(), day.AddDate(0, 0, 1).UTC())
	if err != nil {
		return nil, err
	}
	lines := make([]wireLine, 0, len(trades)+len(refunds))
	for _, t := range trades {
		lines = append(lines, wireLine{Type: "payment", TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo, Amount: t.Amount,
			Currency: t.Currency, Status: "SUCCESS", At: t.PaidAt.UTC().Format(timeFormat)})
		if t.Refunded > 0 && t.Status == TradeClosed {
			// A reversal of a paid trade returns all of it.
			lines = append(lines, wireLine{Type: "refund", TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo,
				OutRefundNo: "reversal", Amount: t.Refunded, Currency: t.Currency, Status: "SUCCESS",
				At: t.ClosedAt.UTC().Format(timeFormat)})
		}
	}
	byTrade := map[string]*Trade{}
	for _, t := range trades {
		byTrade[t.OutTradeNo] = t
	}
	for _, r := range refunds {
		cur := "CNY"
		tradeNo := ""
		if t := byTrade[r.OutTradeNo]; t != nil {
			cur, tradeNo = t.Currency, t.TradeNo
		} else if t, err := s.Store.MockTrade(ctx, r.OutTradeNo); err == nil {
			cur, tradeNo = t.Currency, t.TradeNo
		}
		lines = append(lines, wireLine{Type: "refund", TradeNo: tradeNo, OutTradeNo: r.OutTradeNo, OutRefundNo: r.OutRefundNo,
			Amount: r.Amount, Currency: cur, Status: r.Status, At: r.CreatedAt.UTC().Format(timeFormat)})
	}
	return lines, nil
}

func (s *Server) statement(ctx context.Context, date string) (apiAnswer, int) {
	lines, err := s.statementLines(ctx, date)
	if qrpay.IsCode(err, qrpay.EINVALID) {
		return fail(codeInvalid, qrpay.ErrorMessage(err)), http.StatusBadRequest
	} else if err != nil {
		return s.internal(err)
	}
	return apiAnswer{OK: true, Lines: lines}, http.StatusOK
}

// handleStatementFile serves a day's statement as the CSV file ParseStatement reads.
func (s *Server) handleStatementFile(w http.ResponseWriter, r *http.Request) {
	date, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok {
		http.NotFound(w, r)
		return
	}
	lines, err := s.statementLines(r.Context(), date)
	if err != nil {
		http.Error(w, qrpay.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="mockpay-`+date+`.csv"`)
	writeStatementCSV(w, lines)
}

// --- the wallet ------------------------------------------------------------------------------

// WalletPayRequest is the body of POST /mockpay/wallet/pay.
type WalletPayRequest struct {
	QR      string `json:"qr"`
	Payer   string `json:"payer"`
	Amount  int64  `json:"amount,omitempty"`  // for static codes (stickers)
	Channel string `json:"channel,omitempty"` // the wallet that scans a sticker: alipay, wechat, unionpay
}

// WalletPayResult is what the wallet shows after paying.
type WalletPayResult struct {
	Status          string `json:"status"` // "paid", "declined" or "pending"
	ProviderTradeNo string `json:"provider_trade_no"`
	PaymentID       string `json:"payment_id"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	Merchant        string `json:"merchant,omitempty"`
	Message         string `json:"message,omitempty"`
}

func (s *Server) handleWalletPay(w http.ResponseWriter, r *http.Request) {
	var req WalletPayRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("invalid", "The body must be JSON: {qr, payer, amount?}.", ""))
		return
	}
	res, err := s.WalletPay(r.Context(), req)
	if err != nil {
		status := http.StatusBadRequest
		switch qrpay.ErrorCode(err) {
		case qrpay.ENOTFOUND:
			status = http.StatusNotFound
		case qrpay.EINVALIDSTATE, qrpay.ELIMITEXCEEDED:
			status = http.StatusUnprocessableEntity
		case qrpay.EINTERNAL:
			status = http.StatusInternalServerError
		case qrpay.EPROVIDERUNAVAILABLE:
			status = http.StatusBadGateway
		}
		writeJSON(w, status, errorBody(qrpay.ErrorCode(err), qrpay.ErrorMessage(err), qrpay.ErrorParam(err)))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// WalletPay is the customer paying a code with the simulated wallet: one of the mock
// provider's codes (its URL or payload), or a qrpay sticker URL (the wallet opens it as a
// phone would, with the amount, and pays the code the cashier gives it).
func (s *Server) WalletPay(ctx context.Context, req WalletPayRequest) (*WalletPayResult, error) {
	s.init()
	req.QR = strings.TrimSpace(req.QR)
	if req.QR == "" {
		return nil, qrpay.Invalid("qr", "Scan a code first.")
	}
	if req.Payer == "" {
		req.Payer = "wallet-user"
	}
	if len(req.Payer) > 64 {
		return nil, qrpay.Invalid("payer", "The payer name is too long.")
	}
	if i := strings.Index(req.QR, CodePrefix); i >= 0 {
		return s.PayCode(ctx, strings.Trim(req.QR[i+len(CodePrefix):], "/ "), req.Payer)
	}
	if u, err := url.Parse(req.QR); err == nil && strings.HasPrefix(u.Path, "/p/") && (u.Scheme == "http" || u.Scheme == "https") {
		return s.paySticker(ctx, req)
	}
	return nil, qrpay.Invalid("qr", "This wallet cannot pay this code: it is neither a mock provider code nor a qrpay sticker.")
}

// PayCode pays one of the mock provider's codes by its token: the customer confirms. The first
// scan writes the order into the ledger.
func (s *Server) PayCode(ctx context.Context, token, payer string) (*WalletPayResult, error) {
	s.init()
	claims, err := readToken(s.Secret, token)
	if err != nil {
		return nil, err
	}
	var out *Trade
	// The first scan of a live code, the usual case, writes the trade as it ends in one
	// statement that does nothing if the code is in the ledger already; then (or for an
	// expired code) the transaction below decides from the ledger's row.
	if now := s.Clock.Now(); !now.After(time.Unix(claims.Expires, 0)) {
		t := s.tradeFromClaims(claims, now)
		t.Payer = payer
		s.settle(t, Behaviour(t.Amount), now)
		if fresh, err := s.Store.InsertMockTradeIfNew(ctx, t); err != nil {
			return nil, err
		} else if fresh {
			out = t
		}
	}
	if out != nil {
		return s.walletResult(out), nil
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		now := tx.Now()
		t, err := tx.LockMockTrade(ctx, claims.OutTradeNo)
		fresh := qrpay.IsCode(err, qrpay.ENOTFOUND)
		switch {
		case fresh:
			t = s.tradeFromClaims(claims, now)
		case err != nil:
			return err
		}
		switch {
		case t.Status == TradeSuccess:
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "This code was paid already.")
		case t.Status == TradeClosed || now.After(time.Unix(claims.Expires, 0)):
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "This code has expired or was closed.")
		case t.Status == TradePaying:
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "A payment of this code is in progress.")
		case t.Status == TradeFailed:
			// A declined attempt may be tried again.
		}
		t.Payer = payer
		s.settle(t, Behaviour(t.Amount), now)
		out = t
		if fresh {
			// Not in the ledger even now (the clock stepped back past the expiry check above):
			// insert it; a scan that wrote it meanwhile makes this one ECONFLICT.
			return tx.InsertMockTrade(ctx, t)
		}
		return tx.UpdateMockTrade(ctx, t)
	})
	if err != nil {
		return nil, err
	}
	return s.walletResult(out), nil
}

// walletResult sends the callbacks a paid trade owes and tells the wallet how it went.
func (s *Server) walletResult(out *Trade) *WalletPayResult {
	s.notifySoon(out)
	res := &WalletPayResult{ProviderTradeNo: out.TradeNo, PaymentID: out.OutTradeNo, Amount: out.Amount, Currency: out.Currency, Merchant: out.Subject}
	switch out.Status {
	case TradeSuccess:
		res.Status = "paid"
	case TradeFailed:
		res.Status, res.Message = "declined", "The bank declined the payment."
	default:
		res.Status, res.Message = "pending", "Waiting for the customer to confirm."
	}
	return res
}

// Code returns what the provider's cashier page shows of a code.
func (s *Server) Code(ctx context.Context, token string) (*CodeInfo, error) {
	s.init()
	claims, err := readToken(s.Secret, token)
	if err != nil {
		return nil, err
	}
	info := &CodeInfo{Token: token, Subject: claims.Subject, Amount: claims.Amount, Currency: claims.Currency, Status: TradeWaiting}
	if t, err := s.Store.MockTrade(ctx, claims.OutTradeNo); err == nil {
		info.Status = t.Status
	} else if !qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return nil, err
	}
	if s.Clock.Now().After(time.Unix(claims.Expires, 0)) && info.Status == TradeWaiting {
		info.Status = TradeClosed
	}
	return info, nil
}

// wallet user agents, by channel, as the sticker cashier recognises them.
var walletAgents = map[string]string{
	"alipay":   "Mozilla/5.0 (Linux; Android 14) AlipayClient/10.5.90 MockWallet",
	"wechat":   "Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0.50 MockWallet",
	"unionpay": "Mozilla/5.0 (Linux; Android 14) UnionPay/1.0 CloudPay MockWallet",
}

// paySticker opens a sticker URL as a wallet would, asks its cashier for a payment of the amount
// and pays the code it gives.
func (s *Server) paySticker(ctx context.Context, req WalletPayRequest) (*WalletPayResult, error) {
	if req.Amount <= 0 {
		return nil, qrpay.Invalid("amount", "A sticker has no amount: enter one.")
	}
	ch := req.Channel
	if ch == "" {
		ch = "alipay"
	}
	ua, ok := walletAgents[ch]
	if !ok {
		return nil, qrpay.Invalid("channel", "The wallet is alipay, wechat or unionpay.")
	}
	body, _ := json.Marshal(map[string]any{"amount": req.Amount, "payer": req.Payer})
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(req.QR, "/")+"/pay", bytes.NewReader(body))
	if err != nil {
		return nil, qrpay.Invalid("qr", "The sticker URL is not usable.")
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", ua)
	resp, err := s.Client.Do(hr)
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EPROVIDERUNAVAILABLE, err, "The sticker's cashier did not answer.")
	}
	defer resp.Body.Close()
	var out struct {
		PaymentID string `json:"payment_id"`
		PayURL    string `json:"pay_url"`
		Error     *struct {
			Code, Message, Param string
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return nil, qrpay.WrapError(qrpay.EPROVIDERUNAVAILABLE, err, "The sticker's cashier answered %d.", resp.StatusCode)
	}
	if out.Error != nil {
		return nil, &qrpay.Error{Code: out.Error.Code, Message: out.Error.Message, Param: out.Error.Param}
	}
	i := strings.Index(out.PayURL, CodePrefix)
	if i < 0 {
		return nil, qrpay.Errorf(qrpay.EPROVIDERUNAVAILABLE, "The sticker's cashier did not route to the mock provider.")
	}
	return s.PayCode(ctx, strings.Trim(out.PayURL[i+len(CodePrefix):], "/ "), req.Payer)
}

// PaymentCodeRequest is the body of POST /mockpay/wallet/payment-code.
type PaymentCodeRequest struct {
	Payer   string `json:"payer"`
	Channel string `json:"channel,omitempty"`
}

func (s *Server) handlePaymentCode(w http.ResponseWriter, r *http.Request) {
	var req PaymentCodeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("invalid", "The body must be JSON: {payer, channel?}.", ""))
		return
	}
	code, err := s.IssuePaymentCode(r.Context(), req.Payer, req.Channel)
	if err != nil {
		status := http.StatusBadRequest
		if qrpay.ErrorCode(err) == qrpay.EINTERNAL {
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, errorBody(qrpay.ErrorCode(err), qrpay.ErrorMessage(err), qrpay.ErrorParam(err)))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"auth_code": code, "channel": orAlipay(req.Channel), "payer": req.Payer})
}

func orAlipay(ch string) string {
	if ch == "" {
		return "alipay"
	}
	return ch
}

// IssuePaymentCode shows a payment code in the simulated wallet: digits shaped like the
// channel's real codes (WeChat 18 from 13, Alipay 18 from 28, UnionPay 19 from 62), good once.
func (s *Server) IssuePaymentCode(ctx context.Context, payer, channel string) (string, error) {
	s.init()
	if payer == "" {
		payer = "wallet-user"
	}
	if len(payer) > 64 {
		return "", qrpay.Invalid("payer", "The payer name is too long.")
	}
	var code string
	switch orAlipay(channel) {
	case gateway.ChannelWechat:
		code = "13" + digits(16)
	case gateway.ChannelAlipay:
		code = "28" + digits(16)
	case gateway.ChannelUnionpay:
		code = "62" + digits(17)
	default:
		return "", qrpay.Invalid("channel", "The wallet is alipay, wechat or unionpay.")
	}
	err := s.Store.InTx(ctx, func(tx Tx) error { return tx.InsertPaymentCode(ctx, code, payer, orAlipay(channel)) })
	return code, err
}

// --- callbacks -------------------------------------------------------------------------------

// notifySoon sends a trade's due callbacks now, in the background. The trade's NotifyAt lease
// hands them to the loop if this process dies first.
func (s *Server) notifySoon(t *Trade) {
	if t == nil || t.NotifiesDue == 0 || t.NotifyURL == "" {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// t was just committed with its callbacks leased to this goroutine: send it as it is.
		s.sendTrade(context.Background(), t)
	}()
}

// sendDue sends the callbacks a trade owes, as it stands in the ledger, and records them.
func (s *Server) sendDue(ctx context.Context, outTradeNo string) {
	t, err := s.Store.MockTrade(ctx, outTradeNo)
	if err != nil || t.NotifiesDue == 0 {
		return
	}
	s.sendTrade(ctx, t)
}

// sendTrade sends the callbacks t owes and records them; a failed send is retried by the loop
// with backoff.
func (s *Server) sendTrade(ctx context.Context, t *Trade) {
	outTradeNo := t.OutTradeNo
	sent, ok := 0, true
	for i := 0; i < t.NotifiesDue; i++ {
		if err := s.send(ctx, t); err != nil {
			s.Log.Info("mockpay callback failed; will retry", "trade", t.OutTradeNo, "err", err)
			ok = false
			break
		}
		sent++
	}
	if ok {
		if err := s.Store.RecordNotified(ctx, outTradeNo, sent); err != nil {
			s.Log.Warn("mockpay: record callback", "trade", outTradeNo, "err", err)
		}
		return
	}
	err := s.Store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.LockMockTrade(ctx, outTradeNo)
		if err != nil {
			return err
		}
		cur.NotifyCount += sent
		cur.NotifiesDue -= sent
		if cur.NotifiesDue < 0 {
			cur.NotifiesDue = 0
		}
		if cur.NotifiesDue == 0 {
			cur.NotifyAt = nil
		} else {
			// Back off like a real provider: 2 s, 4 s, ... at most a minute.
			d := time.Duration(1<<min(cur.NotifyCount+1, 5)) * time.Second
			at := tx.Now().Add(d)
			cur.NotifyAt = &at
			cur.NotifyCount++
		}
		return tx.UpdateMockTrade(ctx, cur)
	})
	if err != nil {
		s.Log.Warn("mockpay: record callback", "trade", outTradeNo, "err", err)
	}
}

// send posts one signed callback about a trade.
func (s *Server) send(ctx context.Context, t *Trade) error {
	body, _ := json.Marshal(notice{Kind: "trade", Trade: s.wire(t)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.NotifyURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	setSigned(req.Header, s.Secret, s.Clock.Now(), "notify", body)
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}

// Run processes the ledger's due work until ctx ends: customers who finish confirming
// (behaviours 02 and 05) and callbacks to send or retry. Every node may run it: each leases
// different trades.
func (s *Server) Run(ctx context.Context) {
	s.init()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.wg.Wait()
			return
		case <-tick.C:
		}
		if err := s.runDue(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("mockpay: due work", "err", err)
		}
	}
}

func (s *Server) runDue(ctx context.Context) error {
	var due []*Trade
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		due, err = tx.ClaimMockDue(ctx, tx.Now(), tx.Now().Add(30*time.Second), 100)
		return err
	})
	if err != nil {
		return err
	}
	for _, t := range due {
		now := s.Clock.Now()
		if t.PayAt != nil && !t.PayAt.After(now) {
			err := s.Store.InTx(ctx, func(tx Tx) error {
				cur, err := tx.LockMockTrade(ctx, t.OutTradeNo)
				if err != nil {
					return err
				}
				switch {
				case cur.Status == TradePaying, cur.Status == TradeClosed && Behaviour(cur.Amount) == BehaviourLate && cur.PaidAt == nil:
					// The customer's confirmation comes through (behaviour 05: even though
					// the trade was closed meanwhile).
					s.paid(cur, tx.Now())
					at := tx.Now().Add(30 * time.Second)
					cur.NotifyAt = &at
				default:
					cur.PayAt = nil
				}
				return tx.UpdateMockTrade(ctx, cur)
			})
			if err != nil {
				return err
			}
			s.sendDue(ctx, t.OutTradeNo)
			continue
		}
		if t.NotifyAt != nil && !t.NotifyAt.After(now) && t.NotifiesDue > 0 {
			s.sendDue(ctx, t.OutTradeNo)
		}
	}
	return nil
}

// --- helpers ---------------------------------------------------------------------------------

func (s *Server) wire(t *Trade) *wireTrade {
	w := &wireTrade{OutTradeNo: t.OutTradeNo, TradeNo: t.TradeNo, Status: t.Status, Amount: t.Amount,
		Currency: t.Currency, Payer: t.Payer, Refunded: t.Refunded}
	if t.PaidAt != nil {
		w.PaidAt = t.PaidAt.UTC().Format(timeFormat)
	}
	if t.Status == TradeFailed {
		w.Reason = "declined"
	}
	return w
}

func (s *Server) wireRefund(r *Refund) *wireRefund {
	w := &wireRefund{OutRefundNo: r.OutRefundNo, RefundNo: r.RefundNo, OutTradeNo: r.OutTradeNo, Amount: r.Amount,
		Currency: "CNY", Status: r.Status}
	if r.Status == RefundSuccess {
		w.RefundedAt = r.CreatedAt.UTC().Format(timeFormat)
	}
	if r.Status == RefundFailed {
		w.Reason = "the provider refused the refund"
	}
	return w
}

// tradeNo is the provider's trade number: MP, the business date, 14 random digits.
func tradeNo(now time.Time, zone *time.Location) string {
	return "MP" + now.In(zone).Format("20060102") + digits(14)
}

// digits returns n random decimal digits.
func digits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errorBody(code, message, param string) map[string]any {
	e := map[string]string{"code": code, "message": message}
	if param != "" {
		e["param"] = param
	}
	return map[string]any{"error": e}
}
