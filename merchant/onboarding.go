package merchant

import (
	"context"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
)

// Application is what a shop submits to become a merchant (the public form, or an operator on
// its behalf). CONTRACT.md lists the fields.
type Application struct {
	LegalName       string `json:"legal_name"`
	ShortName       string `json:"short_name"`
	USCC            string `json:"uscc"`
	LegalPersonName string `json:"legal_person_name"`
	LegalPersonID   string `json:"legal_person_id"`
	Phone           string `json:"phone"`
	City            string `json:"city"`
	Address         string `json:"address"`
	MCC             string `json:"mcc"`
	BankName        string `json:"bank_name"`
	BankAccount     string `json:"bank_account"`
	SettlementCycle string `json:"settlement_cycle,omitempty"`
}

// CheckResult is the outcome of the KYC checks of an application: the normalised values and
// any warnings (problems an operator should look at that do not block the application).
type CheckResult struct {
	Application Application
	Warnings    map[string]string
}

// Check runs every KYC check on an application and returns one problem per invalid field
// (*Problems, EINVALID with the first field's param), or the normalised application.
func (s *Service) Check(a Application) (*CheckResult, error) {
	var p Problems
	var err error
	res := &CheckResult{Warnings: map[string]string{}}
	n := Application{
		LegalName: CleanText(a.LegalName), ShortName: CleanText(a.ShortName), LegalPersonName: CleanText(a.LegalPersonName),
		City: CleanText(a.City), Address: CleanText(a.Address), BankName: CleanText(a.BankName),
		MCC: strings.TrimSpace(a.MCC), SettlementCycle: strings.TrimSpace(a.SettlementCycle),
	}
	p.Add(CheckLegalName(n.LegalName))
	p.Add(CheckShortName(n.ShortName))
	if n.USCC, err = NormalizeUSCC(a.USCC); err != nil {
		p.Add(err)
	}
	p.Add(CheckPersonName(n.LegalPersonName))
	if n.LegalPersonID, err = NormalizeResidentID(a.LegalPersonID); err != nil {
		p.Add(err)
	} else {
		p.Add(CheckResidentID(n.LegalPersonID, s.now().In(s.zone())))
	}
	if n.Phone, err = NormalizePhone(a.Phone); err != nil {
		p.Add(err)
	}
	p.Add(CheckCity(n.City))
	p.Add(CheckAddress(n.Address))
	p.Add(CheckMCC(n.MCC))
	p.Add(CheckBankName(n.BankName))
	if n.BankAccount, err = NormalizeBankAccount(a.BankAccount); err != nil {
		p.Add(err)
	} else if warn, err := CheckBankAccount(n.BankAccount); err != nil {
		p.Add(err)
	} else if warn != "" {
		res.Warnings["bank_account"] = warn
	}
	switch n.SettlementCycle {
	case "":
		n.SettlementCycle = "T1"
	case "T1", "T0", "D1":
	default:
		p.Add(qrpay.Invalid("settlement_cycle", "The settlement cycle must be T1, T0 or D1."))
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	res.Application = n
	return res, nil
}

func (s *Service) zone() *time.Location {
	if s.Zone == nil {
		return time.UTC
	}
	return s.Zone
}

// Apply records an application as submitted for review, after every KYC check passed. Personal
// fields are sealed before they reach the database. It is Submit without documents or a status
// link.
func (s *Service) Apply(ctx context.Context, actor Actor, a Application, source string) (*Merchant, *CheckResult, error) {
	res, err := s.Submit(ctx, actor, a, ApplyOptions{Source: source})
	if err != nil {
		return nil, nil, err
	}
	return res.Merchant, res.Check, nil
}

// seal fills the sealed forms and the blind index of a merchant's personal fields.
func (s *Service) seal(m *Merchant) error {
	var err error
	if m.LegalPersonIDSealed, err = s.Sealer.Seal(m.LegalPersonID, ad("merchant", m.ID, "legal_person_id")); err != nil {
		return err
	}
	if m.PhoneSealed, err = s.Sealer.Seal(m.Phone, ad("merchant", m.ID, "phone")); err != nil {
		return err
	}
	if m.BankAccountSealed, err = s.Sealer.Seal(m.BankAccount, ad("merchant", m.ID, "bank_account")); err != nil {
		return err
	}
	m.LegalPersonIDBlind = s.Sealer.Blind(m.LegalPersonID, "legal_person_id")
	return nil
}

// Open fills a merchant's personal fields in the clear, for the few purposes that need them
// (the payout file, an operator's review).
func (s *Service) Open(m *Merchant) error {
	var err error
	if m.LegalPersonID, err = s.Sealer.Open(m.LegalPersonIDSealed, ad("merchant", m.ID, "legal_person_id")); err != nil {
		return err
	}
	if m.Phone, err = s.Sealer.Open(m.PhoneSealed, ad("merchant", m.ID, "phone")); err != nil {
		return err
	}
	m.BankAccount, err = s.Sealer.Open(m.BankAccountSealed, ad("merchant", m.ID, "bank_account"))
	return err
}

// lifecycle lists, for each action, the statuses it may start from and where it leads.
var lifecycle = map[string]struct {
	from []Status
	to   Status
}{
	"approve":  {[]Status{StatusSubmitted}, StatusActive},
	"reject":   {[]Status{StatusSubmitted}, StatusRejected},
	"freeze":   {[]Status{StatusActive}, StatusFrozen},
	"unfreeze": {[]Status{StatusFrozen}, StatusActive},
	"close":    {[]Status{StatusActive, StatusFrozen}, StatusClosed},
	"submit":   {[]Status{StatusDraft, StatusRejected}, StatusSubmitted},
}

// CanMove reports whether a lifecycle action ("approve", "freeze", ...) may start from status.
func CanMove(action string, from Status) bool {
	l, ok := lifecycle[action]
	if !ok {
		return false
	}
	for _, f := range l.from {
		if f == from {
			return true
		}
	}
	return false
}

// Move applies a lifecycle action to a merchant: approve (which makes it active, with the
// default fee rates), reject (reason required), freeze, unfreeze, close. An action the
// merchant's status does not allow is EINVALIDSTATE. Freezing takes effect at once on every
// node: payments read the status in their own transaction.
func (s *Service) Move(ctx context.Context, actor Actor, id, action, reason string) (*Merchant, error) {
	l, ok := lifecycle[action]
	if !ok {
		return nil, qrpay.Invalid("action", "Unknown action %q.", action)
	}
	reason = CleanText(reason)
	if action == "reject" && reason == "" {
		return nil, qrpay.Invalid("reason", "Say why the application is rejected: the applicant sees it.")
	}
	if len([]rune(reason)) > 500 {
		return nil, qrpay.Invalid("reason", "The reason must be at most 500 characters.")
	}
	if err := canDecide(actor, action); err != nil {
		return nil, err
	}
	var m *Merchant
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		m, err = tx.LockMerchant(ctx, id)
		if err != nil {
			return err
		}
		before := *m
		if !CanMove(action, m.Status) {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "A %s merchant cannot be %s.", m.Status, pastTense(action))
		}
		from := m.Status
		m.Status, m.UpdatedAt = l.to, tx.Now()
		switch action {
		case "approve", "reject":
			now := tx.Now()
			m.DecidedAt = &now
			m.RejectReason = reason
		case "submit":
			now := tx.Now()
			m.SubmittedAt = &now
			m.RejectReason = ""
		}
		if err := tx.UpdateMerchant(ctx, m, from); err != nil {
			if action == "submit" && qrpay.IsCode(err, qrpay.ECONFLICT) {
				return errOpenApplication(err)
			}
			return err
		}
		// Approved is a moment, not a place: an approved merchant is active at once, and its
		// history shows one step, approve, from submitted to active.
		if err := history(ctx, tx, actor, m.ID, action, from, m.Status, reason); err != nil {
			return err
		}
		if action == "approve" {
			m.FeeRates = map[string]int{}
			for _, ch := range Channels {
				bps := DefaultFeeRates[ch]
				if old, ok := before.FeeRates[ch]; ok {
					// Rates an operator set before the approval stand.
					m.FeeRates[ch] = old
					continue
				}
				if err := setFeeRate(ctx, tx, actor, m.ID, ch, nil, bps); err != nil {
					return err
				}
				m.FeeRates[ch] = bps
			}
		}
		detail := map[string]any{"status": m.Status}
		if reason != "" {
			detail["reason"] = reason
		}
		return audit(ctx, tx, actor, m.ID, "merchant."+action, "merchant", m.ID, map[string]any{"status": before.Status}, detail)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func pastTense(action string) string {
	switch action {
	case "approve":
		return "approved"
	case "reject":
		return "rejected"
	case "freeze":
		return "frozen"
	case "unfreeze":
		return "unfrozen"
	case "close":
		return "closed"
	case "submit":
		return "submitted"
	}
	return action
}

// SetFeeRates sets a merchant's fee rates per channel, in basis points (0–10000), with the
// change in the audit log.
func (s *Service) SetFeeRates(ctx context.Context, actor Actor, id string, rates map[string]int) (*Merchant, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	if len(rates) == 0 {
		return nil, qrpay.Invalid("fee_rates", "Give at least one channel's rate.")
	}
	for ch, bps := range rates {
		if _, ok := DefaultFeeRates[ch]; !ok {
			return nil, qrpay.Invalid("fee_rates", "Unknown channel %q.", ch)
		}
		if bps < 0 || bps > 10000 {
			return nil, qrpay.Invalid("fee_rates", "A fee rate is 0 to 10000 basis points.")
		}
	}
	var m *Merchant
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		if m, err = tx.LockMerchant(ctx, id); err != nil {
			return err
		}
		before := map[string]int{}
		for ch, bps := range m.FeeRates {
			before[ch] = bps
		}
		if m.FeeRates == nil {
			m.FeeRates = map[string]int{}
		}
		if m.Status == StatusClosed || m.Status == StatusRejected {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "A %s merchant's fee rates cannot change.", m.Status)
		}
		for _, ch := range Channels {
			bps, ok := rates[ch]
			if !ok {
				continue
			}
			var old *int
			if v, had := m.FeeRates[ch]; had {
				if v == bps {
					continue
				}
				old = &v
			}
			if err := setFeeRate(ctx, tx, actor, id, ch, old, bps); err != nil {
				return err
			}
			m.FeeRates[ch] = bps
		}
		return audit(ctx, tx, actor, id, "merchant.fee_rates", "merchant", id, before, m.FeeRates)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
