package merchant

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
)

// Service is the merchant domain's use cases: onboarding and review, stores, terminals,
// stickers, keys, endpoints, users, sessions and the audit log. Every change is one transaction
// with its audit entry.
type Service struct {
	Store  Storage
	Sealer *Sealer
	Clock  qrpay.Clock
	// Zone is where dates are civil dates (birth dates, settlement days).
	Zone *time.Location

	// Session timeouts; zero means the defaults (30 minutes idle, 12 hours absolute).
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	// Login throttling: after MaxFailedLogins failures in a row the account is locked for
	// LockoutFor (defaults 5 and 15 minutes).
	MaxFailedLogins int
	LockoutFor      time.Duration

	// DocumentsDir is where applications' documents are kept, sealed, one folder per merchant
	// (<data-dir>/documents). Without it the service refuses documents.
	DocumentsDir string
	// KeyOverlap is how long a rotated API key keeps working beside its successor (default 24
	// hours).
	KeyOverlap time.Duration

	signerCache
	secrets sync.Map // sealed API key secret -> its plaintext
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return qrpay.SystemClock{}.Now()
	}
	return s.Clock.Now()
}

// ad is the associated data that binds a sealed value to its row and field.
func ad(kind, id, field string) string { return kind + ":" + id + ":" + field }

// audit writes an audit entry for a change in the same transaction.
func audit(ctx context.Context, tx Tx, actor Actor, merchantID, action, objectType, objectID string, before, after any) error {
	e := &AuditEntry{
		ID: qrpay.NewID("aud", tx.Now()), ActorKind: actor.Kind, ActorID: actor.ID, ActorName: actor.Name,
		MerchantID: merchantID, Action: action, ObjectType: objectType, ObjectID: objectID,
		Before: auditJSON(before), After: auditJSON(after), RemoteAddr: actor.RemoteAddr, CreatedAt: tx.Now(),
	}
	if e.RemoteAddr == "" {
		e.RemoteAddr = qrpay.RemoteAddr(ctx)
	}
	return tx.InsertAudit(ctx, e)
}

// auditJSON renders an audited object. Merchants are rendered through their public view, so
// the audit log never holds personal data in the clear.
func auditJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case *Merchant:
		if x == nil {
			return ""
		}
		v = x.View()
	case *APIKey:
		if x == nil {
			return ""
		}
		v = map[string]any{"id": x.ID, "mode": x.Mode, "status": x.Status, "expires_at": x.ExpiresAt}
	case *WebhookEndpoint:
		if x == nil {
			return ""
		}
		v = map[string]any{"id": x.ID, "url": x.URL, "status": x.Status, "previous_secret_expires_at": x.PreviousExpiresAt}
	case *User:
		if x == nil {
			return ""
		}
		v = map[string]any{"id": x.ID, "login": x.Login, "role": x.Role, "status": x.Status, "totp_enabled": x.TOTPEnabled}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// MerchantView is a merchant as APIs and pages show it: personal fields masked.
type MerchantView struct {
	ID              string         `json:"id"`
	Object          string         `json:"object"`
	Status          Status         `json:"status"`
	LegalName       string         `json:"legal_name"`
	ShortName       string         `json:"short_name"`
	USCC            string         `json:"uscc"`
	LegalPersonName string         `json:"legal_person_name"`
	LegalPersonID   string         `json:"legal_person_id"`
	Phone           string         `json:"phone"`
	City            string         `json:"city"`
	Address         string         `json:"address"`
	MCC             string         `json:"mcc"`
	BankName        string         `json:"bank_name"`
	BankAccount     string         `json:"bank_account"`
	SettlementCycle string         `json:"settlement_cycle"`
	RejectReason    string         `json:"reject_reason,omitempty"`
	FeeRates        map[string]int `json:"fee_rates"`
	Source          string         `json:"source"`
	// Warnings are the checks' warnings for the reviewer, by field (message keys).
	Warnings    map[string]string `json:"warnings,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	SubmittedAt *time.Time        `json:"submitted_at"`
	DecidedAt   *time.Time        `json:"decided_at"`
}

// View returns the merchant as APIs show it, personal fields masked.
func (m *Merchant) View() MerchantView {
	rates := m.FeeRates
	if rates == nil {
		rates = map[string]int{}
	}
	return MerchantView{ID: m.ID, Object: "merchant", Status: m.Status, LegalName: m.LegalName, ShortName: m.ShortName,
		USCC: m.USCC, LegalPersonName: MaskName(m.LegalPersonName), LegalPersonID: m.LegalPersonIDMask,
		Phone: m.PhoneMask, City: m.City, Address: m.Address, MCC: m.MCC, BankName: m.BankName,
		BankAccount: m.BankAccountMask, SettlementCycle: m.SettlementCycle, RejectReason: m.RejectReason,
		FeeRates: rates, Source: m.Source, Warnings: m.Warnings, CreatedAt: m.CreatedAt, SubmittedAt: m.SubmittedAt,
		DecidedAt: m.DecidedAt}
}

// Merchant returns a merchant, personal fields sealed.
func (s *Service) Merchant(ctx context.Context, id string) (*Merchant, error) {
	return s.Store.FindMerchant(ctx, id)
}

// --- API keys ---------------------------------------------------------------------------------

// CreateAPIKey makes a new API key for a merchant. The returned key carries its secret in the
// clear: show it once; only its sealed form is stored.
func (s *Service) CreateAPIKey(ctx context.Context, actor Actor, merchantID, mode string) (*APIKey, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	if mode != ModeTest && mode != ModeLive {
		return nil, qrpay.Invalid("mode", "The key mode must be test or live.")
	}
	var key *APIKey
	err := s.Store.InTx(ctx, func(tx Tx) error {
		var err error
		key, err = s.newAPIKey(ctx, tx, actor, merchantID, mode)
		return err
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// newAPIKey makes a key in a transaction, if the merchant's status allows it.
func (s *Service) newAPIKey(ctx context.Context, tx Tx, actor Actor, merchantID, mode string) (*APIKey, error) {
	m, err := tx.LockMerchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if m.Status == StatusClosed || m.Status == StatusRejected || m.Status == StatusDraft {
		return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "A %s merchant cannot have API keys.", m.Status)
	}
	if mode == ModeLive && m.Status != StatusActive && m.Status != StatusFrozen {
		return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "Live keys are for approved merchants.")
	}
	key := &APIKey{ID: qrpay.NewID("key_"+mode, tx.Now()), MerchantID: merchantID, Mode: mode,
		Secret: "sk_" + mode + "_" + qrpay.RandomToken(24), Status: "active", CreatedAt: tx.Now()}
	key.SecretSealed, err = s.Sealer.Seal(key.Secret, ad("api_key", key.ID, "secret"))
	if err != nil {
		return nil, err
	}
	if err := tx.InsertAPIKey(ctx, key); err != nil {
		return nil, err
	}
	return key, audit(ctx, tx, actor, merchantID, "api_key.create", "api_key", key.ID, nil, key)
}

// APIKey returns an API key with its secret opened. A revoked or expired key, or one of a
// merchant that no longer exists, is EUNAUTHORIZED.
func (s *Service) APIKey(ctx context.Context, id string) (*APIKey, error) {
	k, err := s.Store.FindAPIKey(ctx, id)
	return s.usableKey(k, err)
}

// RequestKey is APIKey for authenticating a request, in the same read reporting whether the
// request's nonce was used with the key already (a replay).
func (s *Service) RequestKey(ctx context.Context, id, nonce string) (*APIKey, bool, error) {
	k, seen, err := s.Store.FindRequestKey(ctx, id, nonce)
	k, err = s.usableKey(k, err)
	return k, seen, err
}

// usableKey opens a key just read, refusing one that is missing, revoked or expired.
func (s *Service) usableKey(k *APIKey, err error) (*APIKey, error) {
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Unknown API key.")
	} else if err != nil {
		return nil, err
	}
	if !k.Usable(s.now()) {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "This API key is revoked or expired.")
	}
	// The row is read every time, so that a revocation stops the key at once on every node;
	// only the decryption of an unchanged sealed secret is remembered.
	if v, ok := s.secrets.Load(k.SecretSealed); ok {
		k.Secret = v.(string)
		return k, nil
	}
	k.Secret, err = s.Sealer.Open(k.SecretSealed, ad("api_key", k.ID, "secret"))
	if err != nil {
		return nil, fmt.Errorf("open api key %s: %w", k.ID, err)
	}
	s.secrets.Store(k.SecretSealed, k.Secret)
	return k, nil
}

// --- webhook endpoints ------------------------------------------------------------------------

// ValidateWebhookURL checks a webhook URL: absolute http or https, with a host.
func ValidateWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(raw) > 2048 {
		return qrpay.Invalid("url", "The webhook URL must be an absolute http or https URL.")
	}
	return nil
}

// CreateEndpoint adds a webhook endpoint with a new secret, returned in the clear once.
func (s *Service) CreateEndpoint(ctx context.Context, actor Actor, merchantID, rawURL string) (*WebhookEndpoint, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	if err := ValidateWebhookURL(rawURL); err != nil {
		return nil, err
	}
	var e *WebhookEndpoint
	err := s.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.LockMerchant(ctx, merchantID); err != nil {
			return err
		}
		e = &WebhookEndpoint{ID: qrpay.NewID("we", tx.Now()), MerchantID: merchantID, URL: rawURL,
			Secret: "whsec_" + qrpay.RandomToken(24), Status: "enabled", CreatedAt: tx.Now()}
		var err error
		e.SecretSealed, err = s.Sealer.Seal(e.Secret, ad("webhook_endpoint", e.ID, "secret"))
		if err != nil {
			return err
		}
		if err := tx.InsertEndpoint(ctx, e); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "webhook_endpoint.create", "webhook_endpoint", e.ID, nil, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// EndpointSecret opens the secret of a webhook endpoint.
func (s *Service) EndpointSecret(e *WebhookEndpoint) (string, error) {
	return s.Sealer.Open(e.SecretSealed, ad("webhook_endpoint", e.ID, "secret"))
}

// EndpointSecrets opens the secrets a webhook to the endpoint is signed with: its secret, and
// during a rotation's overlap the secret it replaced.
func (s *Service) EndpointSecrets(e *WebhookEndpoint) ([]string, error) {
	cur, err := s.EndpointSecret(e)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if e.PreviousSecretSealed != "" && e.PreviousExpiresAt != nil && s.now().Before(*e.PreviousExpiresAt) {
		prev, err := s.Sealer.Open(e.PreviousSecretSealed, ad("webhook_endpoint", e.ID, "previous_secret"))
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// RotateEndpointSecret gives a webhook endpoint a new secret, returned in the clear once. Until
// the overlap ends (KeyOverlap, default 24 hours, when overlap is 0; at most 30 days) webhooks
// carry a signature with each secret, so a receiver can switch to the new one without refusing
// an event. A second rotation during an overlap ends the first: only the secret just replaced
// keeps signing.
func (s *Service) RotateEndpointSecret(ctx context.Context, actor Actor, merchantID, id string, overlap time.Duration) (*WebhookEndpoint, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	overlap, err := s.rotationOverlap(overlap)
	if err != nil {
		return nil, err
	}
	var e *WebhookEndpoint
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.LockMerchant(ctx, merchantID); err != nil {
			return err
		}
		var err error
		if e, err = s.Store.FindEndpoint(ctx, merchantID, id); err != nil {
			return err
		}
		before := *e
		cur, err := s.EndpointSecret(e)
		if err != nil {
			return err
		}
		if e.PreviousSecretSealed, err = s.Sealer.Seal(cur, ad("webhook_endpoint", e.ID, "previous_secret")); err != nil {
			return err
		}
		until := tx.Now().Add(overlap)
		e.PreviousExpiresAt = &until
		e.Secret = "whsec_" + qrpay.RandomToken(24)
		if e.SecretSealed, err = s.Sealer.Seal(e.Secret, ad("webhook_endpoint", e.ID, "secret")); err != nil {
			return err
		}
		if err := tx.UpdateEndpointSecret(ctx, e); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "webhook_endpoint.rotate", "webhook_endpoint", e.ID, &before, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// --- operators' tokens -------------------------------------------------------------------------

// HashToken returns the stored form of a bearer or session token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateOperatorToken makes a bearer token for the operator API for an operator user, returned
// in the clear once.
func (s *Service) CreateOperatorToken(ctx context.Context, actor Actor, userID, name string) (string, error) {
	if err := requireAdmin(actor); err != nil {
		return "", err
	}
	name = CleanText(name)
	if len([]rune(name)) > 60 {
		return "", qrpay.Invalid("name", "The token's name must be at most 60 characters.")
	}
	u, err := s.Store.FindUser(ctx, userID)
	if err != nil {
		return "", err
	}
	if !u.IsOperator() {
		return "", qrpay.NotFound("operator")
	}
	token := "op_" + qrpay.RandomToken(32)
	err = s.Store.InTx(ctx, func(tx Tx) error {
		t := &OperatorToken{ID: qrpay.NewID("opt", tx.Now()), UserID: userID, TokenHash: HashToken(token),
			Name: name, CreatedAt: tx.Now()}
		if err := tx.InsertOperatorToken(ctx, t); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "", "operator_token.create", "operator_token", t.ID, nil, map[string]string{"name": name, "user_id": userID})
	})
	return token, err
}

// OperatorByToken returns the operator a bearer token belongs to; anything else is
// EUNAUTHORIZED.
func (s *Service) OperatorByToken(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, "op_") {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Invalid operator token.")
	}
	t, err := s.Store.FindOperatorToken(ctx, HashToken(token))
	if err != nil || t.RevokedAt != nil || subtle.ConstantTimeCompare([]byte(t.TokenHash), []byte(HashToken(token))) != 1 {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Invalid operator token.")
	}
	u, err := s.Store.FindUser(ctx, t.UserID)
	if err != nil || !u.IsOperator() || u.Status != "active" {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Invalid operator token.")
	}
	return u, nil
}

// DeleteEndpoint removes a webhook endpoint; its delivery history stays.
func (s *Service) DeleteEndpoint(ctx context.Context, actor Actor, merchantID, id string) (*WebhookEndpoint, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	e, err := s.Store.FindEndpoint(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		before := *e
		e.Status = "deleted"
		if err := tx.UpdateEndpoint(ctx, e); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "webhook_endpoint.delete", "webhook_endpoint", e.ID, &before, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// SetEndpointURL points a webhook endpoint at another URL.
func (s *Service) SetEndpointURL(ctx context.Context, actor Actor, merchantID, id, rawURL string) (*WebhookEndpoint, error) {
	if err := ValidateWebhookURL(rawURL); err != nil {
		return nil, err
	}
	e, err := s.Store.FindEndpoint(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		before := *e
		e.URL = rawURL
		if err := tx.UpdateEndpoint(ctx, e); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "webhook_endpoint.update", "webhook_endpoint", e.ID, &before, e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}
