package merchant

import "time"

// Roles. Operators work for the acquirer and belong to no merchant; the others belong to one.
const (
	RoleAdmin    = "admin"    // operator: everything
	RoleReviewer = "reviewer" // operator: reviews applications, reads the console
	RoleOwner    = "owner"    // merchant owner: everything of the merchant's
	RoleCounter  = "counter"  // merchant staff at the counter: takes payments, reads payments
	RoleReadOnly = "readonly" // merchant staff: reads only
)

// IsOperatorRole reports whether role belongs to the acquirer's staff.
func IsOperatorRole(role string) bool { return role == RoleAdmin || role == RoleReviewer }

// User is a person who logs in: an operator or a merchant user.
type User struct {
	ID                 string
	MerchantID         string // "" for operators
	Login              string
	DisplayName        string
	PasswordHash       string
	Role               string
	TOTPSecretSealed   string
	TOTPEnabled        bool
	FailedLogins       int
	LockedUntil        *time.Time
	Status             string // "active" or "disabled"
	MustChangePassword bool
	CreatedAt          time.Time
	LastLoginAt        *time.Time
}

// IsOperator reports whether the user works for the acquirer.
func (u *User) IsOperator() bool { return IsOperatorRole(u.Role) }

// Session is a logged-in browser: a user's, or a counter terminal's. Its id is the SHA-256 of
// the cookie's token, so a database leak does not leak live sessions.
type Session struct {
	ID         string
	UserID     string
	TerminalID string
	CSRFToken  string
	Stage      string // "full", or "totp" while the second factor is awaited
	CreatedAt  time.Time
	LastSeenAt time.Time
	RemoteAddr string
	UserAgent  string
	User       *User     // filled when the session is a user's
	Terminal   *Terminal // filled when the session is a terminal's
}

// OperatorToken authenticates an acquirer's scripts to the operator API (Authorization: Bearer).
// Only its SHA-256 is stored.
type OperatorToken struct {
	ID        string
	UserID    string
	TokenHash string
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AuditEntry records one change: who made it, when, from where, and the object before and
// after (JSON, personal fields masked).
type AuditEntry struct {
	ID         string
	ActorKind  string // "operator", "merchant_user", "api_key", "system"
	ActorID    string
	ActorName  string
	MerchantID string
	Action     string
	ObjectType string
	ObjectID   string
	Before     string
	After      string
	RemoteAddr string
	CreatedAt  time.Time
}

// Actor is who makes a change, for the audit log and for permission checks.
type Actor struct {
	Kind       string // "operator", "merchant_user", "api_key", "system"
	ID         string
	Name       string
	Role       string
	MerchantID string // the merchant a merchant user or API key belongs to
	RemoteAddr string
}

// System is the actor of changes qrpay makes by itself (the demo, migrations, sweeps).
var System = Actor{Kind: "system", ID: "system", Name: "qrpay", Role: RoleAdmin}
