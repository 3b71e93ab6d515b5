// Package merchant is who takes payments and who may do what: merchants and their onboarding
// (KYC checks, review, lifecycle), stores, terminals, stickers, channel bindings, fee rates, API
// keys, webhook endpoints, users and roles, and the audit log. Personal data is sealed at rest
// (Sealer) and masked wherever it is shown.
package merchant

import (
	"time"
)

// Status is where a merchant is in its lifecycle:
// draft → submitted → approved or rejected; approved → active ⇄ frozen → closed.
type Status string

// Merchant statuses.
const (
	StatusDraft     Status = "draft"
	StatusSubmitted Status = "submitted"
	StatusApproved  Status = "approved"
	StatusRejected  Status = "rejected"
	StatusActive    Status = "active"
	StatusFrozen    Status = "frozen"
	StatusClosed    Status = "closed"
)

// Merchant is a business that takes payments. Personal fields (LegalPersonID, Phone,
// BankAccount) are plaintext only in memory and only when loaded for a purpose that needs them;
// the *Mask fields are what pages and APIs show.
type Merchant struct {
	ID                string
	Status            Status
	LegalName         string
	ShortName         string // shown to customers
	USCC              string
	LegalPersonName   string
	LegalPersonID     string
	LegalPersonIDMask string
	Phone             string
	PhoneMask         string
	City              string
	Address           string
	MCC               string
	BankName          string
	BankAccount       string
	BankAccountMask   string
	SettlementCycle   string // "T1" (default), "T0" or "D1"

	// Sealed forms of the personal fields, as stored, and the blind index of the ID number.
	LegalPersonIDSealed string
	LegalPersonIDBlind  string
	PhoneSealed         string
	BankAccountSealed   string

	RejectReason string
	Source       string // "form" or "operator"
	// ApplyTokenHash is the SHA-256 of the token in the applicant's status link.
	ApplyTokenHash string
	// Warnings are the KYC checks' warnings for the reviewer: field -> message key.
	Warnings    map[string]string
	FeeRates    map[string]int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SubmittedAt *time.Time
	DecidedAt   *time.Time
}

// CanTakePayments reports whether the merchant may take new payments: only active merchants do.
func (m *Merchant) CanTakePayments() bool { return m.Status == StatusActive }

// DefaultFeeRates are the fee rates in basis points an approved merchant starts with.
var DefaultFeeRates = map[string]int{"alipay": 38, "wechat": 38, "unionpay": 30, "mockpay": 38}

// Key modes.
const (
	ModeTest = "test" // every payment routes to the mock provider
	ModeLive = "live"
)

// APIKey authenticates a merchant's server or till to the merchant API. Secret is the HMAC key,
// plaintext only in memory; it is sealed at rest.
type APIKey struct {
	ID         string
	MerchantID string
	Mode       string
	Secret     string
	// SecretSealed is the secret as stored.
	SecretSealed string
	Status       string // "active" or "revoked"
	ExpiresAt    *time.Time
	CreatedAt    time.Time
	RevokedAt    *time.Time
}

// Usable reports whether the key authenticates requests at now: active and not past an
// expiry set by a rotation.
func (k *APIKey) Usable(now time.Time) bool {
	return k.Status == "active" && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// WebhookEndpoint is a merchant URL that receives signed events.
type WebhookEndpoint struct {
	ID             string
	MerchantID     string
	URL            string
	Secret         string
	SecretSealed   string // the secret as stored
	Status         string // "enabled" or "disabled"
	DisabledReason string
	FailingSince   *time.Time
	CreatedAt      time.Time
	// After a rotation the secret it replaced signs too, beside the new one, until
	// PreviousExpiresAt.
	PreviousSecretSealed string
	PreviousExpiresAt    *time.Time
}

// Binding is a merchant's sub-merchant id on one channel account, with its routing weight.
type Binding struct {
	ID            string
	MerchantID    string
	Channel       string
	AccountID     string
	SubMerchantID string
	Weight        int
	Status        string // "active" or "disabled"
	CreatedAt     time.Time
}

// Store is a shop location of a merchant.
type Store struct {
	ID         string
	MerchantID string
	Name       string
	City       string
	Address    string
	Status     string
	CreatedAt  time.Time
}

// Terminal is one checkout counter or device of a store.
type Terminal struct {
	ID         string
	MerchantID string
	StoreID    string
	Name       string
	Code       string // what staff type to log the counter in
	PINHash    string
	Status     string
	CreatedAt  time.Time
}

// Sticker is a printed static code (码牌) behind a signed URL, bound to a store.
type Sticker struct {
	ID         string
	MerchantID string
	StoreID    string
	TerminalID string
	BatchID    string
	Label      string
	Status     string // "active" or "revoked"
	CreatedAt  time.Time
	RevokedAt  *time.Time
}

// StatusChange is one step of a merchant's lifecycle, for its history.
type StatusChange struct {
	ID         string
	MerchantID string
	Action     string // "draft", "submit", "approve", "reject", "freeze", "unfreeze", "close"
	From       Status // "" for the application's creation
	To         Status
	Reason     string
	ActorKind  string
	ActorID    string
	ActorName  string
	CreatedAt  time.Time
}

// FeeRateChange is one change of a merchant's fee rate on a channel. Old is nil when the rate
// was not set before.
type FeeRateChange struct {
	ID         string
	MerchantID string
	Channel    string
	Old        *int
	New        int
	ActorID    string
	ActorName  string
	CreatedAt  time.Time
}

// Document kinds of an application.
const (
	DocBusinessLicence = "business_licence"
	DocIDFront         = "id_front"
	DocIDBack          = "id_back"
)

// DocumentKinds are the kinds of document an application carries, in form order.
var DocumentKinds = []string{DocBusinessLicence, DocIDFront, DocIDBack}

// Document is a file of an application (business licence, ID photo). Its content lives sealed
// in a file under the service's DocumentsDir, never in the database.
type Document struct {
	ID          string
	MerchantID  string
	Kind        string
	ContentType string // image/jpeg, image/png or application/pdf
	Size        int64
	SHA256      string
	CreatedAt   time.Time
}
