package merchant

import (
	"context"
	"time"
)

// Storage is what the merchant service needs of the database; the store package implements it.
// (It is not called Store as in the other domain packages because a Store here is a shop.)
// Merchants come back with their personal fields sealed (the *Sealed fields); the service opens
// them when a purpose needs them.
type Storage interface {
	// InTx runs fn in one transaction and commits it when fn returns nil.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	FindMerchant(ctx context.Context, id string) (*Merchant, error)
	FindMerchants(ctx context.Context, f Filter) ([]*Merchant, bool, error)
	FindAPIKey(ctx context.Context, id string) (*APIKey, error)
	// FindRequestKey is FindAPIKey for authenticating a request, which also reports whether
	// the request's nonce was recorded for the key already: one read on every API request.
	FindRequestKey(ctx context.Context, id, nonce string) (*APIKey, bool, error)
	FindAPIKeys(ctx context.Context, merchantID string) ([]*APIKey, error)
	FindEndpoints(ctx context.Context, merchantID string) ([]*WebhookEndpoint, error)
	FindEndpoint(ctx context.Context, merchantID, id string) (*WebhookEndpoint, error)
	FindBindings(ctx context.Context, merchantID string) ([]Binding, error)
	FindStores(ctx context.Context, merchantID string) ([]*Store, error)
	FindStore(ctx context.Context, merchantID, id string) (*Store, error)
	FindTerminals(ctx context.Context, merchantID string) ([]*Terminal, error)
	FindTerminal(ctx context.Context, merchantID, id string) (*Terminal, error)
	FindTerminalByCode(ctx context.Context, code string) (*Terminal, error)
	FindStickers(ctx context.Context, merchantID string) ([]*Sticker, error)
	FindSticker(ctx context.Context, merchantID, id string) (*Sticker, error)
	FindUser(ctx context.Context, id string) (*User, error)
	FindUserByLogin(ctx context.Context, login string) (*User, error)
	FindUsers(ctx context.Context, merchantID string) ([]*User, error)
	FindSession(ctx context.Context, id string) (*Session, error)
	FindOperatorToken(ctx context.Context, tokenHash string) (*OperatorToken, error)
	FindSigningKeys(ctx context.Context, purpose string) ([]SigningKey, error)
	FindAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, bool, error)
	// FindStatusHistory returns a merchant's lifecycle steps, oldest first.
	FindStatusHistory(ctx context.Context, merchantID string) ([]*StatusChange, error)
	// FindFeeRateHistory returns a merchant's fee rate changes, newest first.
	FindFeeRateHistory(ctx context.Context, merchantID string) ([]*FeeRateChange, error)
	// FindDocuments returns an application's documents, oldest first.
	FindDocuments(ctx context.Context, merchantID string) ([]*Document, error)
	// FindDocument returns one document of a merchant; another merchant's is ENOTFOUND.
	FindDocument(ctx context.Context, merchantID, id string) (*Document, error)
	// FindSealed returns up to limit stored values of a sealed field, by row id after afterID,
	// in id order, for the rotation of the data key.
	FindSealed(ctx context.Context, f SealedField, afterID string, limit int) ([]SealedValue, error)
}

// Tx is one transaction of the merchant service's.
type Tx interface {
	Now() time.Time

	InsertMerchant(ctx context.Context, m *Merchant) error
	// LockMerchant reads a merchant and locks it until the transaction ends.
	LockMerchant(ctx context.Context, id string) (*Merchant, error)
	// UpdateMerchant writes m if its stored status is still from; otherwise ECONFLICT.
	UpdateMerchant(ctx context.Context, m *Merchant, from Status) error
	// SetFeeRate sets a merchant's rate on a channel.
	SetFeeRate(ctx context.Context, merchantID, channel string, bps int) error

	InsertStore(ctx context.Context, s *Store) error
	InsertTerminal(ctx context.Context, t *Terminal) error
	UpdateTerminal(ctx context.Context, t *Terminal) error
	InsertSticker(ctx context.Context, s *Sticker) error
	UpdateSticker(ctx context.Context, s *Sticker) error
	InsertBinding(ctx context.Context, b *Binding) error
	UpdateBinding(ctx context.Context, b *Binding) error

	InsertAPIKey(ctx context.Context, k *APIKey) error
	UpdateAPIKey(ctx context.Context, k *APIKey) error
	InsertEndpoint(ctx context.Context, e *WebhookEndpoint) error
	UpdateEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// UpdateEndpointSecret writes an endpoint's secrets alone (a rotation), so that it never
	// undoes a change of its status made meanwhile by the webhook job.
	UpdateEndpointSecret(ctx context.Context, e *WebhookEndpoint) error

	InsertUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User) error
	InsertSession(ctx context.Context, s *Session) error
	UpdateSession(ctx context.Context, s *Session) error
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	InsertOperatorToken(ctx context.Context, t *OperatorToken) error

	InsertSigningKey(ctx context.Context, k SigningKey) error
	InsertAudit(ctx context.Context, e *AuditEntry) error

	// UpdateStore writes a store's name, city, address and status.
	UpdateStore(ctx context.Context, s *Store) error
	// InsertStatusChange records a lifecycle step.
	InsertStatusChange(ctx context.Context, c *StatusChange) error
	// InsertFeeRateChange records a fee rate change.
	InsertFeeRateChange(ctx context.Context, c *FeeRateChange) error
	// InsertDocument records an application's document.
	InsertDocument(ctx context.Context, d *Document) error
	// UpdateSealed replaces a sealed value if it is still old; otherwise ECONFLICT (another
	// rotation or a change got there first).
	UpdateSealed(ctx context.Context, f SealedField, id, old, sealed string) error
}

// SealedField names one kind of sealed value: a row kind and its field, as in the associated
// data the value is sealed with ("merchant", "bank_account").
type SealedField struct {
	Kind  string
	Field string
}

// SealedFields lists every sealed value qrpay stores in the database: `qrpay keys rotate`
// re-seals each of them (documents, sealed in files, are rotated apart).
var SealedFields = []SealedField{
	{"merchant", "legal_person_id"}, {"merchant", "phone"}, {"merchant", "bank_account"},
	{"api_key", "secret"}, {"webhook_endpoint", "secret"}, {"webhook_endpoint", "previous_secret"}, {"user", "totp"},
	{"signing_key", "key"},
}

// SealedValue is one stored sealed value: the row's id and the value ("" when the row has
// none, a user without two-factor authentication, say).
type SealedValue struct {
	ID     string
	Sealed string
}

// Filter selects merchants.
type Filter struct {
	Status        Status
	USCC          string // exact unified social credit code
	Search        string // matches the id, USCC, legal or short name
	Limit         int
	StartingAfter string
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	MerchantID    string
	ObjectID      string
	ActorID       string
	Action        string
	ObjectType    string
	Limit         int
	StartingAfter string
}

// SigningKey is a long-lived key qrpay uses itself (to sign sticker URLs), sealed at rest under
// the data key.
type SigningKey struct {
	ID        string
	Purpose   string
	KeySealed string
	CreatedAt time.Time
	RetiredAt *time.Time
}
