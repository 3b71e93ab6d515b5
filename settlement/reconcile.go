package settlement

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// Break kinds: what reconciliation found different between a statement and qrpay's records.
const (
	// BreakMissingOurs: the provider lists a successful payment or refund that qrpay has no
	// success for. When qrpay knows the payment, the success is applied at once (a late success,
	// with its event and webhook) and the break is recorded resolved; otherwise it stays open.
	BreakMissingOurs = "missing_ours"
	// BreakMissingTheirs: qrpay has a success the provider does not list.
	BreakMissingTheirs = "missing_theirs"
	// BreakAmountMismatch: both list it, with different amounts or currencies (also opened by
	// the settlement run for payments the gateway flagged amount_mismatch).
	BreakAmountMismatch = "amount_mismatch"
	// BreakStatusMismatch: both list it, one as succeeded and the other not.
	BreakStatusMismatch = "status_mismatch"
)

// BreakKinds lists the kinds of break.
var BreakKinds = []string{BreakMissingOurs, BreakMissingTheirs, BreakAmountMismatch, BreakStatusMismatch}

// Break statuses.
const (
	BreakOpen     = "open"
	BreakResolved = "resolved"
)

// Resolutions of a break.
const (
	// ResolveAccept takes the provider's record as the truth: its success is applied (missing
	// on our side), the item is excluded from settlement (missing at the provider, or the
	// provider says it did not succeed), or the difference is settled as an adjustment (amount
	// mismatch).
	ResolveAccept = "accept"
	// ResolveWriteOff keeps qrpay's record: the item settles as qrpay has it and the acquirer
	// absorbs the difference.
	ResolveWriteOff = "write_off"
	// ResolveAdjust settles the item with an adjustment of the operator's amount (signed, in
	// minor units, credited to the merchant when positive) and a note.
	ResolveAdjust = "adjust"
	// Resolutions made by qrpay itself.
	ResolveLateSuccess = "late_success" // the provider's success was applied to the payment
	ResolveMatched     = "matched"      // a later statement listed the missing item
)

// Break is a difference found by reconciliation, and what became of it.
type Break struct {
	ID              string
	Kind            string
	Ref             string // what it is about: a payment or refund id, or the provider's trade number
	Provider        string // the statement's channel
	Account         string
	StatementID     string
	Day             Date
	MerchantID      string
	PaymentID       string
	RefundID        string
	ProviderTradeNo string
	LineType        string // "payment" or "refund"
	Mode            string
	Currency        qrpay.Currency
	Channel         string // the payment's channel, where an adjustment is settled
	OurAmount       int64
	TheirAmount     int64
	OurStatus       string
	TheirStatus     string
	TheirAt         *time.Time // when the provider says it happened
	// Hold keeps the payment (or the refund, when RefundID is set) out of settlement: while the
	// break is open, and for good once it is resolved by excluding the item.
	Hold       bool
	Status     string
	Resolution string
	Adjustment int64
	Note       string
	ResolvedBy string
	ResolvedAt *time.Time
	CreatedAt  time.Time
}

// BreakFilter selects breaks.
type BreakFilter struct {
	Status        string
	Kind          string
	Day           Date
	MerchantID    string
	Limit         int
	StartingAfter string
}

// Statement is the record of an imported provider statement.
type Statement struct {
	ID           string
	Provider     string
	Account      string
	Day          Date
	Source       string // "api" or "file"
	SHA256       string
	Lines        int
	PaymentTotal int64
	RefundTotal  int64
	ImportedBy   string
	ImportedAt   time.Time
}

// MatchParams says which of qrpay's records a statement covers.
type MatchParams struct {
	StatementID string
	Provider    string
	Day         Date
	Start, End  time.Time // the statement day's instants (civil day in the settlement zone)
	// Accounts are the channel accounts whose payments the statement covers; when empty, the
	// live payments of channel Provider on any account but MockAccount.
	Accounts    []string
	MockAccount string
}

// MatchResult is what matching found.
type MatchResult struct {
	Lines     int
	Matched   int
	NewBreaks map[string]int
}

// LateSuccess is a successful payment line of a statement whose payment qrpay has not recorded
// as succeeded.
type LateSuccess struct {
	PaymentID       string
	ProviderTradeNo string
	Amount          qrpay.Money
	At              time.Time
	// Reversed reports that the statement also refunds the whole payment and qrpay closed the
	// payment by a reversal: the pair cancels out and nothing is missing.
	Reversed bool
}

// Reconciliation is the outcome of reconciling one statement.
type Reconciliation struct {
	StatementID  string         `json:"statement_id"`
	Provider     string         `json:"provider"`
	Account      string         `json:"account"`
	Date         Date           `json:"date"`
	Lines        int            `json:"lines"`
	Matched      int            `json:"matched"`
	NewBreaks    map[string]int `json:"new_breaks"`
	LateSuccess  []string       `json:"late_successes"`
	OpenBreaks   int            `json:"open_breaks"`
	AutoResolved int            `json:"auto_resolved"`
}

// ReconcileRequest asks to reconcile one provider's statement of one day.
type ReconcileRequest struct {
	Provider string // mockpay, alipay, wechat or unionpay
	// Account is the channel account the statement is of; empty means the provider's
	// account(s) as configured (the mock provider's for mockpay).
	Account string
	Date    Date
	// Statement is an imported file's content; nil fetches the statement through the
	// provider's API.
	Statement *gateway.Statement
	// File is the raw file, when imported, for its digest.
	File  []byte
	Actor merchant.Actor
}

// succeededStatus reports whether a statement line's status means the transaction succeeded,
// across the providers' vocabularies (SUCCESS, TRADE_SUCCESS, succeeded, 00, ...).
func succeededStatus(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "SUCCESS", "SUCCEEDED", "TRADE_SUCCESS", "TRADE_FINISHED", "FINISHED", "PAID", "00", "成功", "支付成功", "退款成功":
		return true
	}
	return false
}

// NormalizeStatus maps a statement line's status to "succeeded" or the provider's word in
// lower case.
func NormalizeStatus(s string) string {
	if succeededStatus(s) {
		return "succeeded"
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "unknown"
	}
	return s
}

// Reconcile matches a provider's statement of one day with qrpay's records, line by line by
// our payment or refund id (out_trade_no, out_refund_no) and else by the provider's trade
// number, and records the breaks. It is idempotent: the same statement again opens no new
// break. Successes the provider lists for payments qrpay has not recorded as succeeded become
// late successes now (payment event and webhook), in the same transaction. Everything commits
// together or not at all.
func (s *Service) Reconcile(ctx context.Context, req ReconcileRequest) (*Reconciliation, error) {
	s.init()
	if s.initErr != nil {
		return nil, s.initErr
	}
	if req.Date.IsZero() {
		return nil, qrpay.Invalid("date", "Say which day to reconcile.")
	}
	if !knownProvider(req.Provider) {
		return nil, qrpay.Invalid("provider", "The provider must be mockpay, alipay, wechat or unionpay.")
	}
	accounts, fetcher, err := s.accountsFor(req.Provider, req.Account)
	if err != nil {
		return nil, err
	}
	st := req.Statement
	source := "file"
	if st == nil {
		if fetcher == nil {
			return nil, qrpay.Invalid("file", "The %s statement cannot be fetched here: import its file.", req.Provider)
		}
		source = "api"
		st, err = fetcher.Statement(ctx, req.Date.String())
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EPROVIDERUNAVAILABLE, err, "The %s statement of %s could not be fetched.", req.Provider, req.Date)
		}
	}
	if st.Channel != "" && st.Channel != req.Provider {
		return nil, qrpay.Invalid("provider", "The statement is %s's, not %s's.", st.Channel, req.Provider)
	}
	if st.Date != "" && st.Date != req.Date.String() {
		return nil, qrpay.Invalid("date", "The statement is of %s, not %s.", st.Date, req.Date)
	}
	lines := make([]gateway.StatementLine, len(st.Lines))
	for i, l := range st.Lines {
		if l.Type != "payment" && l.Type != "refund" {
			return nil, qrpay.Invalid("file", "Line %d is neither a payment nor a refund.", i+1)
		}
		if l.Amount.Amount <= 0 || l.Amount.Amount > MaxAmount*10 {
			return nil, qrpay.Invalid("file", "Line %d has an amount out of range.", i+1)
		}
		l.Status = NormalizeStatus(l.Status)
		lines[i] = l
	}
	digest := sha256.New()
	if req.File != nil {
		digest.Write(req.File)
	} else {
		b, _ := json.Marshal(lines)
		digest.Write(b)
	}
	account := strings.Join(accounts, ",")
	rec := &Statement{ID: statementID(req.Provider, account, req.Date), Provider: req.Provider, Account: account,
		Day: req.Date, Source: source, SHA256: hex.EncodeToString(digest.Sum(nil)), Lines: len(lines),
		ImportedBy: req.Actor.ID}
	for _, l := range lines {
		if l.Type == "payment" {
			rec.PaymentTotal += l.Amount.Amount
		} else {
			rec.RefundTotal += l.Amount.Amount
		}
	}
	start, end := s.civilWindow(req.Date)
	out := &Reconciliation{StatementID: rec.ID, Provider: req.Provider, Account: account, Date: req.Date, LateSuccess: []string{}}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		out.LateSuccess = out.LateSuccess[:0]
		if err := tx.SaveStatement(ctx, rec, lines); err != nil {
			return err
		}
		res, err := tx.Match(ctx, MatchParams{StatementID: rec.ID, Provider: req.Provider, Day: req.Date, Start: start,
			End: end, Accounts: accounts, MockAccount: s.MockAccount})
		if err != nil {
			return err
		}
		out.Lines, out.Matched, out.NewBreaks = res.Lines, res.Matched, res.NewBreaks
		late, err := tx.LateSuccesses(ctx, rec.ID)
		if err != nil {
			return err
		}
		for _, ls := range late {
			if ls.Reversed {
				out.Matched++
				continue
			}
			applied, kind, err := s.applyLateSuccess(ctx, tx, rec, ls, false)
			if err != nil {
				return err
			}
			if applied {
				out.LateSuccess = append(out.LateSuccess, ls.PaymentID)
			}
			if kind != "" {
				out.NewBreaks[kind]++
			}
		}
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, req.Actor, "", "settlement.reconcile", "statement", rec.ID, nil,
			map[string]any{"provider": req.Provider, "date": req.Date, "source": source, "lines": len(lines),
				"sha256": rec.SHA256, "new_breaks": out.NewBreaks, "late_successes": out.LateSuccess}))
	})
	if err != nil {
		return nil, err
	}
	counts, err := s.Store.OpenBreakCounts(ctx, req.Date)
	if err == nil {
		for _, n := range counts {
			out.OpenBreaks += n
		}
	}
	return out, nil
}

// maxStatementFile bounds an imported statement file.
const maxStatementFile = 256 << 20

// Import reads a provider's statement file with the provider's parser and reconciles it. A file
// that does not parse is an EINVALID error and nothing is recorded.
func (s *Service) Import(ctx context.Context, req ReconcileRequest, r io.Reader) (*Reconciliation, error) {
	s.init()
	parse := s.Parsers[req.Provider]
	if parse == nil {
		return nil, qrpay.Invalid("provider", "No statement file format is known for provider %q.", req.Provider)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxStatementFile+1))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The statement file could not be read.")
	}
	if len(data) > maxStatementFile {
		return nil, qrpay.Invalid("file", "The statement file is larger than %d bytes.", maxStatementFile)
	}
	st, err := parse(bytes.NewReader(data))
	if err != nil {
		if qrpay.ErrorCode(err) == qrpay.EINVALID {
			return nil, err
		}
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The %s statement file is malformed: %v", req.Provider, err)
	}
	req.Statement, req.File = st, data
	return s.Reconcile(ctx, req)
}

// applyLateSuccess applies a statement's success to a payment qrpay knows but has not recorded
// as succeeded, the way a provider callback would (gateway.CanTransition, a late_success flag
// when the payment was closed, expired or failed, and its event), and records the break as
// resolved. A different amount or currency is not applied (unless anyAmount, an operator's
// acceptance of the provider's record, whose difference is then settled as an adjustment): it
// opens an amount mismatch break. It reports whether the success was applied and the kind of
// any break it opened.
func (s *Service) applyLateSuccess(ctx context.Context, tx Tx, st *Statement, ls LateSuccess, anyAmount bool) (bool, string, error) {
	gtx := tx.Gateway()
	p, err := gtx.LockPayment(ctx, ls.PaymentID)
	if err != nil {
		return false, "", err
	}
	if p.Status == gateway.StatusSucceeded {
		return false, "", nil
	}
	brk := &Break{Kind: BreakMissingOurs, Ref: p.ID, Provider: st.Provider, Account: st.Account, StatementID: st.ID,
		Day: st.Day, MerchantID: p.MerchantID, PaymentID: p.ID, ProviderTradeNo: ls.ProviderTradeNo, LineType: "payment",
		Mode: p.Mode, Currency: p.Currency, Channel: p.Channel, OurAmount: p.Amount, TheirAmount: ls.Amount.Amount,
		OurStatus: string(p.Status), TheirStatus: "succeeded"}
	if !ls.At.IsZero() {
		at := ls.At.UTC()
		brk.TheirAt = &at
	}
	if !anyAmount && (ls.Amount.Amount != p.Amount || (ls.Amount.Currency != "" && ls.Amount.Currency != p.Currency)) {
		brk.Kind, brk.Hold, brk.Status = BreakAmountMismatch, true, BreakOpen
		inserted, err := s.insertBreak(ctx, tx, brk)
		if err != nil || !inserted {
			return false, "", err
		}
		return false, brk.Kind, nil
	}
	from := p.Status
	if !gateway.CanTransition(from, gateway.StatusSucceeded) {
		return false, "", nil
	}
	p.Status = gateway.StatusSucceeded
	if p.PaidAt == nil && !ls.At.IsZero() {
		at := ls.At.UTC()
		p.PaidAt = &at
	}
	if p.PaidAt == nil {
		now := tx.Now()
		p.PaidAt = &now
	}
	if p.ProviderTradeNo == "" {
		p.ProviderTradeNo = ls.ProviderTradeNo
	}
	p.NextCheckAt = nil
	p.FailureReason = ""
	event := gateway.EventPaymentSucceeded
	if gateway.IsLateSuccess(from, gateway.StatusSucceeded) {
		p.AddFlag(gateway.FlagLateSuccess)
		event = gateway.EventPaymentLateSucceeded
	}
	if err := gtx.UpdatePayment(ctx, p, from); err != nil {
		return false, "", err
	}
	if err := s.Gateway.EmitEvent(ctx, gtx, p.MerchantID, event, "payment", p.ID, p.Object(s.Gateway.Settings().PublicURL)); err != nil {
		return false, "", err
	}
	now := tx.Now()
	brk.Status, brk.Resolution, brk.ResolvedBy, brk.ResolvedAt = BreakResolved, ResolveLateSuccess, "system", &now
	brk.Note = "The provider's statement lists the payment as paid; qrpay applied the success."
	if _, err := s.insertBreak(ctx, tx, brk); err != nil {
		return false, "", err
	}
	return true, "", nil
}

// insertBreak records a break unless one of its kind about the same object exists, and
// reports whether it did.
func (s *Service) insertBreak(ctx context.Context, tx Tx, b *Break) (bool, error) {
	b.ID = qrpay.NewID("brk", tx.Now())
	b.CreatedAt = tx.Now()
	return tx.InsertBreak(ctx, b)
}

func statementID(provider, account string, d Date) string {
	sum := sha256.Sum256([]byte(provider + "\x00" + account + "\x00" + d.String()))
	return "stm_" + d.Compact() + "_" + provider + "_" + hex.EncodeToString(sum[:5])
}

func knownProvider(p string) bool {
	for _, c := range gateway.Channels {
		if c == p {
			return true
		}
	}
	return false
}

// civilWindow is a statement day's instants: the civil day in the settlement zone (providers
// cut their statements at midnight, whatever the settlement cutoff).
func (s *Service) civilWindow(d Date) (time.Time, time.Time) {
	return d.At(s.Calendar.Zone, 0).UTC(), d.AddDays(1).At(s.Calendar.Zone, 0).UTC()
}

// accountsFor returns the channel accounts a provider's statement covers and, when the
// statement can be fetched by API, the provider to fetch it from.
func (s *Service) accountsFor(provider, account string) ([]string, gateway.Provider, error) {
	var router *gateway.Router
	if s.Gateway != nil {
		router = s.Gateway.Router
	}
	if account != "" {
		if router == nil {
			return []string{account}, nil, nil
		}
		a, ok := router.Account(account)
		if !ok {
			return nil, nil, qrpay.Invalid("account", "No channel account %q.", account)
		}
		if a.Channel != provider {
			return nil, nil, qrpay.Invalid("account", "Channel account %q is %s's, not %s's.", account, a.Channel, provider)
		}
		return []string{a.ID}, a.Provider, nil
	}
	if provider == gateway.ChannelMockpay {
		var p gateway.Provider
		if router != nil {
			if a, ok := router.Account(s.MockAccount); ok {
				p = a.Provider
			}
		}
		return []string{s.MockAccount}, p, nil
	}
	if router != nil {
		var ids []string
		var p gateway.Provider
		for _, a := range router.Accounts() {
			if a.Channel == provider && a.ID != s.MockAccount {
				ids = append(ids, a.ID)
				if p == nil {
					p = a.Provider
				}
			}
		}
		if len(ids) == 1 {
			return ids, p, nil
		}
		if len(ids) > 1 {
			// A statement is one account's: name it to fetch, or import a file for all.
			return nil, nil, qrpay.Invalid("account", "There are %d %s channel accounts; say which one (%s).", len(ids), provider, strings.Join(ids, ", "))
		}
	}
	return nil, nil, nil
}

// ResolveRequest is an operator's resolution of a break.
type ResolveRequest struct {
	Resolution string // accept, write_off or adjust
	Adjustment int64  // for adjust: signed minor units credited to the merchant
	Note       string
}

// Resolve closes an open break with an operator's resolution, in one transaction with its audit
// log entry. What each resolution does is documented on ResolveAccept, ResolveWriteOff and
// ResolveAdjust; when the item was settled already, excluding it settles its reversal as an
// adjustment in the merchant's next batch instead.
//
// Errors: ENOTFOUND; EINVALIDSTATE for a break that is not open; EINVALID for an unknown
// resolution, an adjustment without amount or note, or one for a break of no known merchant.
func (s *Service) Resolve(ctx context.Context, actor merchant.Actor, id string, r ResolveRequest) (*Break, error) {
	s.init()
	r.Note = strings.TrimSpace(r.Note)
	if len([]rune(r.Note)) > 500 {
		return nil, qrpay.Invalid("note", "The note is at most 500 characters.")
	}
	switch r.Resolution {
	case ResolveAccept, ResolveWriteOff:
		if r.Adjustment != 0 {
			return nil, qrpay.Invalid("adjustment", "Only an adjust resolution takes an adjustment.")
		}
	case ResolveAdjust:
		if r.Adjustment == 0 || r.Adjustment > MaxAmount || r.Adjustment < -MaxAmount {
			return nil, qrpay.Invalid("adjustment", "An adjustment is a non-zero amount in minor units, at most %d either way.", MaxAmount)
		}
		if r.Note == "" {
			return nil, qrpay.Invalid("note", "Say why the adjustment is made.")
		}
	default:
		return nil, qrpay.Invalid("resolution", "The resolution must be accept, write_off or adjust.")
	}
	var out *Break
	err := s.Store.InTx(ctx, func(tx Tx) error {
		b, err := tx.LockBreak(ctx, id)
		if err != nil {
			return err
		}
		if b.Status != BreakOpen {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "This break is already %s.", b.Status)
		}
		before := *b
		if err := s.resolve(ctx, tx, b, r); err != nil {
			return err
		}
		now := tx.Now()
		b.Status, b.Resolution, b.Note, b.ResolvedBy, b.ResolvedAt = BreakResolved, r.Resolution, r.Note, actor.ID, &now
		if err := tx.UpdateBreak(ctx, b, BreakOpen); err != nil {
			return err
		}
		out = b
		return tx.InsertAudit(ctx, s.auditEntry(ctx, tx, actor, b.MerchantID, "settlement.break."+r.Resolution, "settlement_break", b.ID,
			breakAudit(&before), breakAudit(b)))
	})
	return out, err
}

// resolve applies a resolution's effect on settlement to b (Hold, Adjustment).
func (s *Service) resolve(ctx context.Context, tx Tx, b *Break, r ResolveRequest) error {
	object := b.PaymentID
	if b.RefundID != "" {
		object = b.RefundID
	}
	settled, err := tx.SettledItem(ctx, object)
	if err != nil && !qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return err
	}
	if object == "" {
		settled = nil
	}
	b.Hold, b.Adjustment = false, 0
	switch r.Resolution {
	case ResolveWriteOff:
		return nil
	case ResolveAdjust:
		if b.MerchantID == "" || b.Currency == "" {
			return qrpay.Invalid("resolution", "This break is about no known merchant: nothing can be settled for it.")
		}
		b.Adjustment = r.Adjustment
		return nil
	}
	// Accept the provider's record.
	theirsSucceeded := b.TheirStatus == "succeeded"
	switch {
	case b.Kind == BreakMissingOurs && b.PaymentID != "" && b.RefundID == "" && b.LineType == "payment":
		if err := s.acceptSuccess(ctx, tx, b); err != nil {
			return err
		}
	case b.Kind == BreakMissingOurs:
		// Unknown to qrpay, or a refund qrpay does not have: nothing of ours to settle.
	case b.Kind == BreakAmountMismatch:
		if b.MerchantID == "" || b.Currency == "" {
			return nil
		}
		if b.LineType == "payment" && b.OurStatus != string(gateway.StatusSucceeded) && b.TheirStatus == "succeeded" {
			// A late success at another amount: the payment succeeds, and the difference is
			// settled as an adjustment.
			if err := s.acceptSuccess(ctx, tx, b); err != nil {
				return err
			}
		}
		if b.LineType == "refund" {
			b.Adjustment = b.OurAmount - b.TheirAmount
		} else {
			b.Adjustment = b.TheirAmount - b.OurAmount
		}
	case b.Kind == BreakMissingTheirs || (b.Kind == BreakStatusMismatch && !theirsSucceeded):
		// The provider says it did not happen: exclude it, or reverse it if it was settled.
		if settled == nil {
			b.Hold = true
			return nil
		}
		if b.MerchantID == "" || b.Currency == "" {
			return nil
		}
		if settled.Kind == ItemRefund {
			b.Adjustment = settled.Amount - settled.Fee
		} else {
			b.Adjustment = -(settled.Amount - settled.Fee)
		}
	}
	return nil
}

// acceptSuccess applies the provider's success of a break's payment.
func (s *Service) acceptSuccess(ctx context.Context, tx Tx, b *Break) error {
	applied, _, err := s.applyLateSuccess(ctx, tx, &Statement{ID: b.StatementID, Provider: b.Provider, Account: b.Account, Day: b.Day},
		LateSuccess{PaymentID: b.PaymentID, ProviderTradeNo: b.ProviderTradeNo,
			Amount: qrpay.Money{Amount: b.TheirAmount, Currency: b.Currency}, At: theirAt(b)}, true)
	if err != nil {
		return err
	}
	if !applied {
		p, err := tx.Gateway().LockPayment(ctx, b.PaymentID)
		if err != nil {
			return err
		}
		if p.Status != gateway.StatusSucceeded {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "The provider's success could not be applied to payment %s; resolve with write_off or adjust.", b.PaymentID)
		}
	}
	return nil
}

func theirAt(b *Break) time.Time {
	if b.TheirAt == nil {
		return time.Time{}
	}
	return *b.TheirAt
}

// breakAudit is what the audit log keeps of a break.
func breakAudit(b *Break) map[string]any {
	return map[string]any{"id": b.ID, "kind": b.Kind, "status": b.Status, "resolution": b.Resolution,
		"hold": b.Hold, "adjustment": b.Adjustment, "note": b.Note, "payment_id": b.PaymentID, "refund_id": b.RefundID}
}

// auditEntry builds an audit entry of a settlement change.
func (s *Service) auditEntry(ctx context.Context, tx Tx, actor merchant.Actor, merchantID, action, objectType, objectID string, before, after any) *merchant.AuditEntry {
	if actor.ID == "" {
		actor = merchant.System
	}
	e := &merchant.AuditEntry{ID: qrpay.NewID("aud", tx.Now()), ActorKind: actor.Kind, ActorID: actor.ID, ActorName: actor.Name,
		MerchantID: merchantID, Action: action, ObjectType: objectType, ObjectID: objectID, Before: auditJSON(before),
		After: auditJSON(after), RemoteAddr: actor.RemoteAddr, CreatedAt: tx.Now()}
	if e.RemoteAddr == "" {
		e.RemoteAddr = qrpay.RemoteAddr(ctx)
	}
	return e
}

func auditJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// BreakObject is a break as the operator API shows it.
type BreakObject struct {
	ID              string         `json:"id"`
	Object          string         `json:"object"`
	Kind            string         `json:"kind"`
	Provider        string         `json:"provider"`
	Account         string         `json:"account"`
	StatementID     string         `json:"statement_id"`
	Date            string         `json:"date"`
	MerchantID      string         `json:"merchant_id"`
	PaymentID       string         `json:"payment_id"`
	RefundID        string         `json:"refund_id"`
	ProviderTradeNo string         `json:"provider_trade_no"`
	LineType        string         `json:"line_type"`
	Currency        qrpay.Currency `json:"currency"`
	OurAmount       int64          `json:"our_amount"`
	TheirAmount     int64          `json:"their_amount"`
	OurStatus       string         `json:"our_status"`
	TheirStatus     string         `json:"their_status"`
	TheirAt         *time.Time     `json:"their_at"`
	Hold            bool           `json:"hold"`
	Status          string         `json:"status"`
	Resolution      string         `json:"resolution"`
	Adjustment      int64          `json:"adjustment"`
	Note            string         `json:"note"`
	ResolvedBy      string         `json:"resolved_by"`
	ResolvedAt      *time.Time     `json:"resolved_at"`
	CreatedAt       time.Time      `json:"created_at"`
}

// Object returns the break as the API shows it.
func (b *Break) Object() BreakObject {
	return BreakObject{ID: b.ID, Object: "settlement_break", Kind: b.Kind, Provider: b.Provider, Account: b.Account,
		StatementID: b.StatementID, Date: b.Day.String(), MerchantID: b.MerchantID, PaymentID: b.PaymentID,
		RefundID: b.RefundID, ProviderTradeNo: b.ProviderTradeNo, LineType: b.LineType, Currency: b.Currency,
		OurAmount: b.OurAmount, TheirAmount: b.TheirAmount, OurStatus: b.OurStatus, TheirStatus: b.TheirStatus,
		TheirAt: b.TheirAt, Hold: b.Hold, Status: b.Status, Resolution: b.Resolution, Adjustment: b.Adjustment, Note: b.Note,
		ResolvedBy: b.ResolvedBy, ResolvedAt: b.ResolvedAt, CreatedAt: b.CreatedAt}
}

// Breaks lists breaks.
func (s *Service) Breaks(ctx context.Context, f BreakFilter) ([]*Break, bool, error) {
	s.init()
	if f.Status != "" && f.Status != BreakOpen && f.Status != BreakResolved {
		return nil, false, qrpay.Invalid("status", "status must be open or resolved.")
	}
	if f.Kind != "" && !contains(BreakKinds, f.Kind) {
		return nil, false, qrpay.Invalid("kind", "Unknown kind of break %q.", f.Kind)
	}
	if f.Limit < 0 || f.Limit > 100 {
		return nil, false, qrpay.Invalid("limit", "limit must be 1 to 100.")
	}
	return s.Store.FindBreaks(ctx, f)
}

// Break returns a break.
func (s *Service) Break(ctx context.Context, id string) (*Break, error) {
	s.init()
	return s.Store.FindBreak(ctx, id)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseAmountParam reads a signed amount in minor units from a form or query value.
func ParseAmountParam(param, s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, qrpay.Invalid(param, "%s must be a whole number of minor units (fen).", param)
	}
	return v, nil
}

// String describes a break for logs and the CLI.
func (b *Break) String() string {
	ref := b.PaymentID
	if b.RefundID != "" {
		ref = b.RefundID
	}
	if ref == "" {
		ref = b.ProviderTradeNo
	}
	return fmt.Sprintf("%s %s %s (ours %d, theirs %d)", b.ID, b.Kind, ref, b.OurAmount, b.TheirAmount)
}
