package merchant

import (
	"context"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
)

// Store, terminal, binding, sticker, key and user management. Every method takes the actor,
// checks that it may act on the merchant (another merchant's objects are ENOTFOUND), changes one
// thing in one transaction and writes its audit entry there.

// Stores returns a merchant's stores.
func (s *Service) Stores(ctx context.Context, merchantID string) ([]*Store, error) {
	return s.Store.FindStores(ctx, merchantID)
}

// SetStoreStatus enables ("active") or disables ("disabled") a store. A disabled store keeps
// its history; its terminals cannot log in and its stickers take no payment.
func (s *Service) SetStoreStatus(ctx context.Context, actor Actor, merchantID, storeID, status string) (*Store, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	if status != "active" && status != "disabled" {
		return nil, qrpay.Invalid("status", "A store is active or disabled.")
	}
	st, err := s.Store.FindStore(ctx, merchantID, storeID)
	if err != nil {
		return nil, err
	}
	before := *st
	st.Status = status
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.UpdateStore(ctx, st); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "store."+verb(status), "store", st.ID, &before, st)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func verb(status string) string {
	if status == "active" || status == "enabled" {
		return "enable"
	}
	return "disable"
}

// Terminals returns a merchant's terminals.
func (s *Service) Terminals(ctx context.Context, merchantID string) ([]*Terminal, error) {
	return s.Store.FindTerminals(ctx, merchantID)
}

// SetTerminalStatus enables or disables a terminal; a disabled terminal's counter sessions end
// at their next request.
func (s *Service) SetTerminalStatus(ctx context.Context, actor Actor, merchantID, terminalID, status string) (*Terminal, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	if status != "active" && status != "disabled" {
		return nil, qrpay.Invalid("status", "A terminal is active or disabled.")
	}
	t, err := s.Store.FindTerminal(ctx, merchantID, terminalID)
	if err != nil {
		return nil, err
	}
	from := t.Status
	t.Status = status
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.UpdateTerminal(ctx, t); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "terminal."+verb(status), "terminal", t.ID,
			map[string]string{"status": from}, map[string]string{"status": status})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ResetTerminalPIN sets a terminal's PIN: pin, or a new random 6-digit one when pin is empty.
// It returns the PIN to hand to the counter (once: only its hash is stored).
func (s *Service) ResetTerminalPIN(ctx context.Context, actor Actor, merchantID, terminalID, pin string) (string, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return "", err
	}
	if pin == "" {
		var err error
		if pin, err = RandomPIN(); err != nil {
			return "", err
		}
	}
	if err := checkPIN(pin); err != nil {
		return "", err
	}
	t, err := s.Store.FindTerminal(ctx, merchantID, terminalID)
	if err != nil {
		return "", err
	}
	hash, err := HashPassword(pin)
	if err != nil {
		return "", err
	}
	t.PINHash = hash
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.UpdateTerminal(ctx, t); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "terminal.pin_reset", "terminal", t.ID, nil, nil)
	})
	if err != nil {
		return "", err
	}
	return pin, nil
}

func checkPIN(pin string) error {
	if len(pin) < 4 || len(pin) > 8 || strings.Trim(pin, "0123456789") != "" {
		return qrpay.Invalid("pin", "The PIN must be 4 to 8 digits.")
	}
	return nil
}

// RandomPIN returns a random 6-digit PIN.
func RandomPIN() (string, error) {
	code, err := terminalCode() // 8 random digits, the first not 0
	if err != nil {
		return "", err
	}
	return code[2:], nil
}

// --- channel bindings ---------------------------------------------------------------------------

// BindingInput sets a merchant's binding on one channel account (created when there is none).
type BindingInput struct {
	Channel       string `json:"channel"`
	AccountID     string `json:"account_id"`
	SubMerchantID string `json:"sub_merchant_id"`
	Weight        *int   `json:"weight"`
	Status        string `json:"status"`
}

// Bindings returns a merchant's channel bindings.
func (s *Service) Bindings(ctx context.Context, merchantID string) ([]Binding, error) {
	return s.Store.FindBindings(ctx, merchantID)
}

// SetBinding creates or changes a merchant's binding on a channel account: its sub-merchant id
// (1 to 64 characters), weight (0 to 1000, default 1) and status (active or disabled). Whether
// the account exists and is of the channel is the caller's check (the router knows).
func (s *Service) SetBinding(ctx context.Context, actor Actor, merchantID string, in BindingInput) (*Binding, error) {
	if err := requireAdmin(actor); err != nil {
		return nil, err
	}
	var p Problems
	if !validChannel(in.Channel) {
		p.Add(qrpay.Invalid("channel", "The channel must be alipay, wechat, unionpay or mockpay."))
	}
	in.AccountID, in.SubMerchantID = strings.TrimSpace(in.AccountID), strings.TrimSpace(in.SubMerchantID)
	if in.AccountID == "" || len(in.AccountID) > 64 {
		p.Add(qrpay.Invalid("account_id", "Name the channel account (1 to 64 characters)."))
	}
	if in.SubMerchantID == "" || len(in.SubMerchantID) > 64 || !printable(in.SubMerchantID) {
		p.Add(qrpay.Invalid("sub_merchant_id", "The sub-merchant id must be 1 to 64 characters."))
	}
	if in.Weight != nil && (*in.Weight < 0 || *in.Weight > 1000) {
		p.Add(qrpay.Invalid("weight", "The weight must be 0 to 1000."))
	}
	if in.Status == "" {
		in.Status = "active"
	}
	if in.Status != "active" && in.Status != "disabled" {
		p.Add(qrpay.Invalid("status", "A binding is active or disabled."))
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	var b *Binding
	err := s.Store.InTx(ctx, func(tx Tx) error {
		m, err := tx.LockMerchant(ctx, merchantID)
		if err != nil {
			return err
		}
		if m.Status == StatusClosed || m.Status == StatusRejected {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "A %s merchant cannot be bound to channels.", m.Status)
		}
		existing, err := s.Store.FindBindings(ctx, merchantID)
		if err != nil {
			return err
		}
		for i := range existing {
			if existing[i].Channel == in.Channel && existing[i].AccountID == in.AccountID {
				before := existing[i]
				b = &existing[i]
				b.SubMerchantID, b.Status = in.SubMerchantID, in.Status
				if in.Weight != nil {
					b.Weight = *in.Weight
				}
				if err := tx.UpdateBinding(ctx, b); err != nil {
					return err
				}
				return audit(ctx, tx, actor, merchantID, "binding.update", "binding", b.ID, before, b)
			}
		}
		b = &Binding{ID: qrpay.NewID("bnd", tx.Now()), MerchantID: merchantID, Channel: in.Channel, AccountID: in.AccountID,
			SubMerchantID: in.SubMerchantID, Weight: 1, Status: in.Status, CreatedAt: tx.Now()}
		if in.Weight != nil {
			b.Weight = *in.Weight
		}
		if err := tx.InsertBinding(ctx, b); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "binding.create", "binding", b.ID, nil, b)
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func validChannel(ch string) bool {
	for _, c := range Channels {
		if c == ch {
			return true
		}
	}
	return false
}

// --- API keys -----------------------------------------------------------------------------------

// APIKeys returns a merchant's API keys, newest first, secrets sealed.
func (s *Service) APIKeys(ctx context.Context, merchantID string) ([]*APIKey, error) {
	return s.Store.FindAPIKeys(ctx, merchantID)
}

// merchantKey returns one of a merchant's API keys; another merchant's is ENOTFOUND.
func (s *Service) merchantKey(ctx context.Context, merchantID, id string) (*APIKey, error) {
	k, err := s.Store.FindAPIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.MerchantID != merchantID {
		return nil, qrpay.NotFound("API key")
	}
	return k, nil
}

// rotationOverlap is how long a rotated secret keeps working beside its successor: overlap, or
// KeyOverlap (default 24 hours) when it is 0; at most 30 days.
func (s *Service) rotationOverlap(overlap time.Duration) (time.Duration, error) {
	if overlap == 0 {
		overlap = s.KeyOverlap
	}
	if overlap <= 0 {
		overlap = 24 * time.Hour
	}
	if overlap > 30*24*time.Hour {
		return 0, qrpay.Invalid("overlap", "The overlap is at most 30 days.")
	}
	return overlap, nil
}

// RotateAPIKey replaces a key by a new one of the same mode. The old key keeps working for the
// overlap (KeyOverlap, default 24 hours, when overlap is 0; at most 30 days), so that tills can
// move to the new secret without a gap; then it expires. It returns the new key with its secret
// in the clear, and the old key.
func (s *Service) RotateAPIKey(ctx context.Context, actor Actor, merchantID, id string, overlap time.Duration) (*APIKey, *APIKey, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, nil, err
	}
	overlap, err := s.rotationOverlap(overlap)
	if err != nil {
		return nil, nil, err
	}
	old, err := s.merchantKey(ctx, merchantID, id)
	if err != nil {
		return nil, nil, err
	}
	if !old.Usable(s.now()) {
		return nil, nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "This key is revoked or expired; create a new one instead.")
	}
	var key *APIKey
	err = s.Store.InTx(ctx, func(tx Tx) error {
		before := *old
		until := tx.Now().Add(overlap)
		if old.ExpiresAt == nil || old.ExpiresAt.After(until) {
			old.ExpiresAt = &until
		}
		if err := tx.UpdateAPIKey(ctx, old); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, merchantID, "api_key.rotate", "api_key", old.ID, &before, old); err != nil {
			return err
		}
		key, err = s.newAPIKey(ctx, tx, actor, merchantID, old.Mode)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return key, old, nil
}

// RevokeAPIKey stops a key at once.
func (s *Service) RevokeAPIKey(ctx context.Context, actor Actor, merchantID, id string) (*APIKey, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	k, err := s.merchantKey(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	if k.Status == "revoked" {
		return k, nil
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		before := *k
		now := tx.Now()
		k.Status, k.RevokedAt = "revoked", &now
		if err := tx.UpdateAPIKey(ctx, k); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "api_key.revoke", "api_key", k.ID, &before, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Endpoints returns a merchant's webhook endpoints.
func (s *Service) Endpoints(ctx context.Context, merchantID string) ([]*WebhookEndpoint, error) {
	return s.Store.FindEndpoints(ctx, merchantID)
}

// --- users --------------------------------------------------------------------------------------

// Users returns a merchant's users ("" for the operators).
func (s *Service) Users(ctx context.Context, merchantID string) ([]*User, error) {
	return s.Store.FindUsers(ctx, merchantID)
}

// User returns one of a merchant's users ("" for an operator); another merchant's is ENOTFOUND.
func (s *Service) User(ctx context.Context, merchantID, id string) (*User, error) {
	u, err := s.Store.FindUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.MerchantID != merchantID {
		return nil, qrpay.NotFound("user")
	}
	return u, nil
}

// SetUserStatus enables ("active") or disables ("disabled") a user; a disabled user's sessions
// end at once. Admins manage anyone; an owner manages the merchant's other users.
func (s *Service) SetUserStatus(ctx context.Context, actor Actor, merchantID, userID, status string) (*User, error) {
	if status != "active" && status != "disabled" {
		return nil, qrpay.Invalid("status", "A user is active or disabled.")
	}
	if err := s.canManageUser(actor, merchantID); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, merchantID, userID)
	if err != nil {
		return nil, err
	}
	if u.ID == actor.ID {
		return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "You cannot disable yourself.")
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		before := *u
		u.Status = status
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if status != "active" {
			if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, actor, merchantID, "user."+verb(status), "user", u.ID, &before, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// canManageUser lets admins manage every user and owners their merchant's.
func (s *Service) canManageUser(actor Actor, merchantID string) error {
	if actor.Kind == "merchant_user" {
		return requireMerchantAccess(actor, merchantID, true)
	}
	return requireAdmin(actor)
}

// RandomPassword returns a temporary password that passes CheckPasswordStrength, for an
// operator to hand over (the user must change it at the first login).
func RandomPassword() string {
	return "Tmp-" + qrpay.RandomToken(12)
}
