package merchant

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/qrpay/qrpay"
)

// Channels are the channels a merchant has fee rates and bindings on, in display order.
var Channels = []string{"alipay", "wechat", "unionpay", "mockpay"}

// Rules of the application's documents and uniqueness, for translated forms.
var (
	ErrDocumentRequired = newRule("document.required", "documents", "Attach the business licence and both sides of the legal representative's ID card.")
	ErrDocumentType     = newRule("document.type", "documents", "A document must be a JPEG or PNG photo, or a PDF.")
	ErrDocumentSize     = newRule("document.size", "documents", "A document must be at most 5 MB.")
	ErrDocumentEmpty    = newRule("document.empty", "documents", "A document is empty.")
	ErrUSCCOpen         = newRule("uscc.open_application", "uscc", "An application for this unified social credit code is already under review.")
	WarnUSCCExisting    = newRule("uscc.existing_merchant", "uscc", "Another merchant already has this unified social credit code: check that this is a new business line of the same company.")
)

// errOpenApplication is the answer to a second application of a business under review.
func errOpenApplication(cause error) error {
	return &qrpay.Error{Code: qrpay.ECONFLICT, Param: "uscc", Message: ErrUSCCOpen.Message, Err: errors.Join(ErrUSCCOpen, cause)}
}

// requireAdmin refuses anyone but an admin operator (or qrpay itself).
func requireAdmin(actor Actor) error {
	if actor.Kind == "system" || (actor.Kind == "operator" && actor.Role == RoleAdmin) {
		return nil
	}
	return qrpay.Errorf(qrpay.EFORBIDDEN, "This needs an admin operator.")
}

// requireOperator refuses anyone but an operator (admin or reviewer) or qrpay itself.
func requireOperator(actor Actor) error {
	if actor.Kind == "system" || (actor.Kind == "operator" && IsOperatorRole(actor.Role)) {
		return nil
	}
	return qrpay.Errorf(qrpay.EFORBIDDEN, "This needs an operator.")
}

// canDecide says who may take a lifecycle action: reviewers approve and reject applications
// (and submit drafts); freezing, unfreezing and closing a merchant are for admins.
func canDecide(actor Actor, action string) error {
	switch action {
	case "approve", "reject", "submit":
		return requireOperator(actor)
	}
	return requireAdmin(actor)
}

// requireMerchantAccess refuses a merchant user or API key acting on another merchant's objects
// with ENOTFOUND, as if they did not exist; operators and qrpay pass. Owners (and API keys,
// which act for the merchant) may change things; other staff only read.
func requireMerchantAccess(actor Actor, merchantID string, change bool) error {
	switch actor.Kind {
	case "system":
		return nil
	case "operator":
		if change && actor.Role != RoleAdmin {
			return qrpay.Errorf(qrpay.EFORBIDDEN, "This needs an admin operator.")
		}
		return nil
	case "merchant_user", "api_key":
		if actor.MerchantID != merchantID || merchantID == "" {
			return qrpay.NotFound("merchant")
		}
		if change && actor.Role != RoleOwner {
			return qrpay.Errorf(qrpay.EFORBIDDEN, "Only the merchant's owner may change this.")
		}
		return nil
	}
	return qrpay.Errorf(qrpay.EFORBIDDEN, "Forbidden.")
}

// history records a lifecycle step in the same transaction.
func history(ctx context.Context, tx Tx, actor Actor, merchantID, action string, from, to Status, reason string) error {
	return tx.InsertStatusChange(ctx, &StatusChange{ID: qrpay.NewID("msh", tx.Now()), MerchantID: merchantID, Action: action,
		From: from, To: to, Reason: reason, ActorKind: actor.Kind, ActorID: actor.ID, ActorName: actor.Name, CreatedAt: tx.Now()})
}

// setFeeRate sets one rate and records the change in the fee rate history.
func setFeeRate(ctx context.Context, tx Tx, actor Actor, merchantID, channel string, old *int, bps int) error {
	if err := tx.SetFeeRate(ctx, merchantID, channel, bps); err != nil {
		return err
	}
	return tx.InsertFeeRateChange(ctx, &FeeRateChange{ID: qrpay.NewID("frh", tx.Now()), MerchantID: merchantID, Channel: channel,
		Old: old, New: bps, ActorID: actor.ID, ActorName: actor.Name, CreatedAt: tx.Now()})
}

// ApplyOptions say where an application comes from and what comes with it.
type ApplyOptions struct {
	// Source is "form" (the public application form) or "operator".
	Source string
	// Draft keeps the application as a draft that Move(..., "submit") sends for review later.
	Draft bool
	// Documents are the application's files; RequireDocuments refuses an application without
	// each kind of DocumentKinds.
	Documents        []Upload
	RequireDocuments bool
}

// Applied is what Submit returns: the new merchant, the checks' result, and the token of the
// applicant's status link (give it to the applicant once: only its hash is stored).
type Applied struct {
	Merchant    *Merchant
	Check       *CheckResult
	StatusToken string
	Documents   []*Document
}

// Submit records an application after every check passed: the KYC checks, one problem per
// field (EINVALID, *Problems in the chain, with the documents' problems under their kind), and
// the uniqueness rule: while an application of a business (its unified social credit code) is
// under review, another is ECONFLICT with param uscc. A business that already has a merchant
// may apply again (a new line of business); the reviewer sees a warning. Personal fields are
// sealed before they reach the database, documents before they reach the disk.
func (s *Service) Submit(ctx context.Context, actor Actor, a Application, o ApplyOptions) (*Applied, error) {
	var p Problems
	res, err := s.Check(a)
	if err != nil {
		var prob *Problems
		if !errors.As(err, &prob) {
			return nil, err
		}
		for _, f := range prob.fields {
			p.Add(f)
		}
	}
	docs := s.checkUploads(&p, o.Documents, o.RequireDocuments)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if len(docs) > 0 && s.DocumentsDir == "" {
		return nil, qrpay.Errorf(qrpay.EINTERNAL, "Documents cannot be stored: no documents directory is configured.")
	}
	n := res.Application
	status := StatusSubmitted
	if o.Draft {
		status = StatusDraft
	}
	if o.Source == "" {
		o.Source = "operator"
	}
	others, _, err := s.Store.FindMerchants(ctx, Filter{USCC: n.USCC, Limit: 100})
	if err != nil {
		return nil, err
	}
	for _, other := range others {
		switch other.Status {
		case StatusDraft, StatusSubmitted:
			return nil, errOpenApplication(nil)
		case StatusActive, StatusFrozen:
			res.Warnings["uscc"] = WarnUSCCExisting.Key
		}
	}
	if msg, ok := res.Warnings["bank_account"]; ok && msg == WarnBankAccountLuhn.Message {
		res.Warnings["bank_account"] = WarnBankAccountLuhn.Key
	}
	token := qrpay.RandomToken(24)
	out := &Applied{Check: res}
	var written []string
	err = s.Store.InTx(ctx, func(tx Tx) error {
		now := tx.Now()
		m := &Merchant{
			ID: qrpay.NewID("mch", now), Status: status, LegalName: n.LegalName, ShortName: n.ShortName,
			USCC: n.USCC, LegalPersonName: n.LegalPersonName, LegalPersonID: n.LegalPersonID,
			LegalPersonIDMask: MaskResidentID(n.LegalPersonID), Phone: n.Phone, PhoneMask: MaskPhone(n.Phone),
			City: n.City, Address: n.Address, MCC: n.MCC, BankName: n.BankName, BankAccount: n.BankAccount,
			BankAccountMask: MaskBankAccount(n.BankAccount), SettlementCycle: n.SettlementCycle, Source: o.Source,
			CreatedAt: now, UpdatedAt: now, Warnings: res.Warnings, FeeRates: map[string]int{},
		}
		if status == StatusSubmitted {
			m.SubmittedAt = &now
		}
		m.ApplyTokenHash = HashToken(token)
		if err := s.seal(m); err != nil {
			return err
		}
		if err := tx.InsertMerchant(ctx, m); err != nil {
			if qrpay.IsCode(err, qrpay.ECONFLICT) {
				return errOpenApplication(err)
			}
			return err
		}
		action := "submit"
		if o.Draft {
			action = "draft"
		}
		if err := history(ctx, tx, actor, m.ID, action, "", status, ""); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, m.ID, "merchant.apply", "merchant", m.ID, nil, m); err != nil {
			return err
		}
		out.Documents = out.Documents[:0]
		for _, u := range docs {
			d, path, err := s.storeDocument(ctx, tx, actor, m.ID, u)
			if path != "" {
				written = append(written, path)
			}
			if err != nil {
				return err
			}
			out.Documents = append(out.Documents, d)
		}
		out.Merchant = m
		return nil
	})
	if err != nil {
		removeFiles(written)
		return nil, err
	}
	out.StatusToken = out.Merchant.ID + "." + token
	return out, nil
}

// ApplicationStatus returns the application a status link's token belongs to; anything else is
// ENOTFOUND, so that a link cannot be guessed from an id.
func (s *Service) ApplicationStatus(ctx context.Context, token string) (*Merchant, error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || id == "" || secret == "" || len(token) > 200 {
		return nil, qrpay.NotFound("application")
	}
	m, err := s.Store.FindMerchant(ctx, id)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return nil, qrpay.NotFound("application")
	} else if err != nil {
		return nil, err
	}
	if m.ApplyTokenHash == "" || subtle.ConstantTimeCompare([]byte(m.ApplyTokenHash), []byte(HashToken(secret))) != 1 {
		return nil, qrpay.NotFound("application")
	}
	return m, nil
}

// StatusHistory returns a merchant's lifecycle steps, oldest first.
func (s *Service) StatusHistory(ctx context.Context, merchantID string) ([]*StatusChange, error) {
	return s.Store.FindStatusHistory(ctx, merchantID)
}

// FeeRateHistory returns a merchant's fee rate changes, newest first.
func (s *Service) FeeRateHistory(ctx context.Context, merchantID string) ([]*FeeRateChange, error) {
	return s.Store.FindFeeRateHistory(ctx, merchantID)
}

// Merchants returns a page of merchants, newest first, and whether more follow.
func (s *Service) Merchants(ctx context.Context, f Filter) ([]*Merchant, bool, error) {
	return s.Store.FindMerchants(ctx, f)
}

// Audit returns a page of the audit log, newest first, and whether more follow.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]*AuditEntry, bool, error) {
	return s.Store.FindAudit(ctx, f)
}
