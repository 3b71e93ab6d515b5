package merchant

import (
	"context"

	"github.com/qrpay/qrpay"
)

// Stickers returns a merchant's stickers; a non-empty batchID keeps one batch's.
func (s *Service) Stickers(ctx context.Context, merchantID, batchID string) ([]*Sticker, error) {
	all, err := s.Store.FindStickers(ctx, merchantID)
	if err != nil || batchID == "" {
		return all, err
	}
	var out []*Sticker
	for _, st := range all {
		if st.BatchID == batchID {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		return nil, qrpay.NotFound("sticker batch")
	}
	return out, nil
}

// Sticker returns one of a merchant's stickers; another merchant's is ENOTFOUND.
func (s *Service) Sticker(ctx context.Context, merchantID, id string) (*Sticker, error) {
	return s.Store.FindSticker(ctx, merchantID, id)
}

// StickerURL returns the signed URL a sticker's code holds: <publicURL>/p/<token>.
func (s *Service) StickerURL(ctx context.Context, publicURL, stickerID string) (string, error) {
	signer, err := s.StickerSigner(ctx)
	if err != nil {
		return "", err
	}
	return publicURL + "/p/" + signer.Token(stickerID), nil
}

// BindSticker moves a sticker to one of the merchant's stores and, optionally, a terminal of
// that store; an empty storeID unbinds it (an unbound sticker takes no payment until bound).
func (s *Service) BindSticker(ctx context.Context, actor Actor, merchantID, stickerID, storeID, terminalID string) (*Sticker, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	st, err := s.Store.FindSticker(ctx, merchantID, stickerID)
	if err != nil {
		return nil, err
	}
	if st.Status != "active" {
		return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "A revoked sticker cannot be bound.")
	}
	if storeID == "" && terminalID != "" {
		return nil, qrpay.Invalid("store_id", "Bind a sticker to a terminal through its store.")
	}
	if storeID != "" {
		if _, err := s.Store.FindStore(ctx, merchantID, storeID); qrpay.IsCode(err, qrpay.ENOTFOUND) {
			return nil, qrpay.Invalid("store_id", "No such store.")
		} else if err != nil {
			return nil, err
		}
	}
	if terminalID != "" {
		t, err := s.Store.FindTerminal(ctx, merchantID, terminalID)
		if qrpay.IsCode(err, qrpay.ENOTFOUND) || (err == nil && t.StoreID != storeID) {
			return nil, qrpay.Invalid("terminal_id", "No such terminal in this store.")
		} else if err != nil {
			return nil, err
		}
	}
	before := *st
	st.StoreID, st.TerminalID = storeID, terminalID
	action := "sticker.bind"
	if storeID == "" {
		action = "sticker.unbind"
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if err := tx.UpdateSticker(ctx, st); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, action, "sticker", st.ID, &before, st)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// RevokeSticker retires a sticker for good: its page says so and takes no payment.
func (s *Service) RevokeSticker(ctx context.Context, actor Actor, merchantID, stickerID string) (*Sticker, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	st, err := s.Store.FindSticker(ctx, merchantID, stickerID)
	if err != nil {
		return nil, err
	}
	if st.Status == "revoked" {
		return st, nil
	}
	before := *st
	err = s.Store.InTx(ctx, func(tx Tx) error {
		now := tx.Now()
		st.Status, st.RevokedAt = "revoked", &now
		if err := tx.UpdateSticker(ctx, st); err != nil {
			return err
		}
		return audit(ctx, tx, actor, merchantID, "sticker.revoke", "sticker", st.ID, &before, st)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// StickerByToken returns the sticker a /p/{token} URL names, with its merchant and store (nil
// when unbound). A token that is not a sticker token is EINVALID; a forged one, or one whose
// sticker does not exist, is EUNAUTHORIZED. A revoked sticker is returned with its status:
// the page says so and takes no payment; so does one whose merchant cannot take payments
// (Merchant.CanTakePayments) or whose store is disabled.
func (s *Service) StickerByToken(ctx context.Context, token string) (*Sticker, *Merchant, *Store, error) {
	signer, err := s.StickerSigner(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	id, _, err := signer.Verify(token)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := s.Store.FindSticker(ctx, "", id)
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return nil, nil, nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Unknown sticker.")
	} else if err != nil {
		return nil, nil, nil, err
	}
	m, err := s.Store.FindMerchant(ctx, st.MerchantID)
	if err != nil {
		return nil, nil, nil, err
	}
	var shop *Store
	if st.StoreID != "" {
		if shop, err = s.Store.FindStore(ctx, st.MerchantID, st.StoreID); err != nil {
			return nil, nil, nil, err
		}
	}
	return st, m, shop, nil
}

// StickerUsable reports whether a sticker found by StickerByToken may take a payment now: it
// is active and bound to an active store of a merchant that takes payments.
func StickerUsable(st *Sticker, m *Merchant, shop *Store) bool {
	return st != nil && m != nil && shop != nil && st.Status == "active" && shop.Status == "active" && m.CanTakePayments()
}
