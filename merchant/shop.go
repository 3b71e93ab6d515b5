package merchant

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/qr"
)

// CreateStore adds a store (a shop location) to a merchant.
func (s *Service) CreateStore(ctx context.Context, actor Actor, merchantID, name, city, address string) (*Store, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	name, city, address = CleanText(name), CleanText(city), CleanText(address)
	if n := len([]rune(name)); n < 1 || n > 40 {
		return nil, qrpay.Invalid("name", "The store name must be 1 to 40 characters long.")
	}
	if len([]rune(city)) > 50 || len([]rune(address)) > 200 {
		return nil, qrpay.Invalid("address", "The city or address is too long.")
	}
	var st *Store
	err := s.Store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.LockMerchant(ctx, merchantID); err != nil {
			return err
		}
		st = &Store{ID: qrpay.NewID("sto", tx.Now()), MerchantID: merchantID, Name: name, City: city,
			Address: address, Status: "active", CreatedAt: tx.Now()}
		if err := tx.InsertStore(ctx, st); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "store.create", "store", st.ID, nil, st)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// CreateTerminal adds a terminal (a counter) to a store. The counter logs in with the terminal's
// code and PIN (4 to 8 digits).
func (s *Service) CreateTerminal(ctx context.Context, actor Actor, merchantID, storeID, name, pin string) (*Terminal, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	name = CleanText(name)
	if n := len([]rune(name)); n < 1 || n > 40 {
		return nil, qrpay.Invalid("name", "The terminal name must be 1 to 40 characters long.")
	}
	if err := checkPIN(pin); err != nil {
		return nil, err
	}
	hash, err := HashPassword(pin)
	if err != nil {
		return nil, err
	}
	var t *Terminal
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if err := activeStore(ctx, s.Store, merchantID, storeID); err != nil {
			return err
		}
		code, err := terminalCode()
		if err != nil {
			return err
		}
		t = &Terminal{ID: qrpay.NewID("trm", tx.Now()), MerchantID: merchantID, StoreID: storeID, Name: name,
			Code: code, PINHash: hash, Status: "active", CreatedAt: tx.Now()}
		if err := tx.InsertTerminal(ctx, t); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "terminal.create", "terminal", t.ID, nil, map[string]string{"id": t.ID, "store_id": storeID, "name": name, "code": code})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// activeStore checks that a store is the merchant's and active: an unknown store is EINVALID
// with param store_id, a disabled one EINVALIDSTATE.
func activeStore(ctx context.Context, st Storage, merchantID, storeID string) error {
	shop, err := st.FindStore(ctx, merchantID, storeID)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return qrpay.Invalid("store_id", "No such store.")
	} else if err != nil {
		return err
	}
	if shop.Status != "active" {
		return qrpay.Errorf(qrpay.EINVALIDSTATE, "The store is disabled.")
	}
	return nil
}

// terminalCode is an 8-digit code staff type at the counter to log it in.
func terminalCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(90000000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08d", n.Int64()+10000000), nil
}

// TerminalLogin checks a terminal's code and PIN and starts a counter session. Wrong answers get
// the same error whatever was wrong.
func (s *Service) TerminalLogin(ctx context.Context, code, pin, remoteAddr, userAgent string) (*Session, string, error) {
	t, err := s.Store.FindTerminalByCode(ctx, strings.TrimSpace(code))
	if err != nil {
		_, _, _ = CheckPassword(dummyHash, pin)
		return nil, "", qrpay.Errorf(qrpay.EUNAUTHORIZED, "Wrong terminal code or PIN.")
	}
	if ok, _, _ := CheckPassword(t.PINHash, pin); !ok || t.Status != "active" {
		return nil, "", qrpay.Errorf(qrpay.EUNAUTHORIZED, "Wrong terminal code or PIN.")
	}
	if shop, err := s.Store.FindStore(ctx, t.MerchantID, t.StoreID); err != nil || shop.Status != "active" {
		return nil, "", qrpay.Errorf(qrpay.EFORBIDDEN, "This terminal's store is disabled.")
	}
	m, err := s.Store.FindMerchant(ctx, t.MerchantID)
	if err != nil {
		return nil, "", err
	}
	if m.Status != StatusActive && m.Status != StatusFrozen {
		return nil, "", qrpay.Errorf(qrpay.EFORBIDDEN, "This merchant cannot use the counter.")
	}
	token := qrpay.RandomToken(32)
	var sess *Session
	err = s.Store.InTx(ctx, func(tx Tx) error {
		sess = &Session{ID: HashToken(token), TerminalID: t.ID, CSRFToken: qrpay.RandomToken(20), Stage: "full",
			CreatedAt: tx.Now(), LastSeenAt: tx.Now(), RemoteAddr: remoteAddr, UserAgent: truncate(userAgent, 200), Terminal: t}
		return tx.InsertSession(ctx, sess)
	})
	if err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// CreateStickers makes n stickers (1 to 200) for a store in one batch.
func (s *Service) CreateStickers(ctx context.Context, actor Actor, merchantID, storeID string, n int, label string) ([]*Sticker, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	if n < 1 || n > 200 {
		return nil, qrpay.Invalid("count", "Make 1 to 200 stickers at a time.")
	}
	label = CleanText(label)
	if len([]rune(label)) > 40 {
		return nil, qrpay.Invalid("label", "The label must be at most 40 characters long.")
	}
	var out []*Sticker
	err := s.Store.InTx(ctx, func(tx Tx) error {
		if err := activeStore(ctx, s.Store, merchantID, storeID); err != nil {
			return err
		}
		batch := qrpay.NewID("stb", tx.Now())
		for i := 0; i < n; i++ {
			st := &Sticker{ID: qrpay.NewID("stk", tx.Now()), MerchantID: merchantID, StoreID: storeID, BatchID: batch,
				Label: label, Status: "active", CreatedAt: tx.Now()}
			if err := tx.InsertSticker(ctx, st); err != nil {
				return err
			}
			out = append(out, st)
		}
		return audit(ctx, tx, actor, merchantID, "sticker.create", "sticker_batch", batch, nil, map[string]any{"count": n, "store_id": storeID})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// signerPurpose is the purpose of the sticker-signing keys in signing_keys.
const signerPurpose = "sticker"

// StickerSigner returns the signer of sticker URLs. Its keys live in the database sealed under
// the data key, so that every node signs and verifies alike and printed stickers outlive a
// data-key rotation.
func (s *Service) StickerSigner(ctx context.Context) (*qr.StickerSigner, error) {
	s.signerMu.Lock()
	defer s.signerMu.Unlock()
	if s.signer != nil {
		return s.signer, nil
	}
	keys, current, err := s.signingKeys(ctx, signerPurpose)
	if err != nil {
		return nil, err
	}
	signer, err := qr.NewStickerSigner(keys, current)
	if err != nil {
		return nil, err
	}
	s.signer = signer
	return signer, nil
}

// SigningKey returns the current key of a purpose ("mockpay", say), creating it on first use.
func (s *Service) SigningKey(ctx context.Context, purpose string) ([]byte, error) {
	keys, current, err := s.signingKeys(ctx, purpose)
	if err != nil {
		return nil, err
	}
	return keys[current], nil
}

// signingKeys loads a purpose's keys, opened, and the id of the current one (the newest not
// retired), creating a first key if there is none. Two nodes creating it at once both end up
// with the oldest.
func (s *Service) signingKeys(ctx context.Context, purpose string) (map[string][]byte, string, error) {
	keys, err := s.Store.FindSigningKeys(ctx, purpose)
	if err != nil {
		return nil, "", err
	}
	if len(keys) == 0 {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, "", err
		}
		k := SigningKey{ID: purpose[:1] + qrpay.RandomToken(4), Purpose: purpose}
		if k.KeySealed, err = s.Sealer.Seal(string(raw), ad("signing_key", k.ID, "key")); err != nil {
			return nil, "", err
		}
		err := s.Store.InTx(ctx, func(tx Tx) error {
			k.CreatedAt = tx.Now()
			return tx.InsertSigningKey(ctx, k)
		})
		if err != nil && !qrpay.IsCode(err, qrpay.ECONFLICT) {
			return nil, "", err
		}
		if keys, err = s.Store.FindSigningKeys(ctx, purpose); err != nil {
			return nil, "", err
		}
	}
	m := map[string][]byte{}
	current := ""
	for _, k := range keys {
		raw, err := s.Sealer.Open(k.KeySealed, ad("signing_key", k.ID, "key"))
		if err != nil {
			return nil, "", fmt.Errorf("open signing key %s: %w", k.ID, err)
		}
		m[k.ID] = []byte(raw)
		if k.RetiredAt == nil && current == "" {
			current = k.ID
		}
	}
	return m, current, nil
}

// signerCache holds the sticker signer once loaded.
type signerCache struct {
	signerMu sync.Mutex
	signer   *qr.StickerSigner
}
