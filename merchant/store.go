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

	InsertUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User) error
	InsertSession(ctx context.Context, s *Session) error
	UpdateSession(ctx context.Context, s *Session) error
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	InsertOperatorToken(ctx context.Context, t *OperatorToken) error

	InsertSigningKey(ctx context.Context, k SigningKey) error
	InsertAudit(ctx context.Context, e *AuditEntry) error
}

// Filter selects merchants.
type Filter struct {
	Status        Status
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
