package merchant

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qrpay/qrpay"
)

// RotationReport counts what a rotation of the data key did, per sealed field
// ("merchant.phone", "document.content", ...): values re-sealed under the current key, and
// values that already were.
type RotationReport struct {
	KeyID     string
	Resealed  map[string]int
	Unchanged map[string]int
}

// Total returns how many values were re-sealed.
func (r *RotationReport) Total() int {
	n := 0
	for _, v := range r.Resealed {
		n += v
	}
	return n
}

// RotateKeys re-seals every sealed value under the Sealer's current key: merchants' personal
// fields, API key and webhook endpoint secrets, TOTP secrets, signing keys, and the documents'
// files. It is idempotent (a value already under the current key is left alone) and safe to
// run while qrpay serves: each value is replaced only if it has not changed meanwhile. Blind
// indexes do not change (see Sealer).
func (s *Service) RotateKeys(ctx context.Context) (*RotationReport, error) {
	r := &RotationReport{KeyID: s.Sealer.CurrentKeyID(), Resealed: map[string]int{}, Unchanged: map[string]int{}}
	for _, f := range SealedFields {
		name := f.Kind + "." + f.Field
		after := ""
		for {
			vals, err := s.Store.FindSealed(ctx, f, after, 200)
			if err != nil {
				return r, err
			}
			if len(vals) == 0 {
				break
			}
			for _, v := range vals {
				after = v.ID
				if v.Sealed == "" {
					continue
				}
				out, changed, err := s.Sealer.Reseal(v.Sealed, ad(f.Kind, v.ID, f.Field))
				if err != nil {
					return r, fmt.Errorf("reseal %s of %s: %w", name, v.ID, err)
				}
				if !changed {
					r.Unchanged[name]++
					continue
				}
				err = s.Store.InTx(ctx, func(tx Tx) error { return tx.UpdateSealed(ctx, f, v.ID, v.Sealed, out) })
				if qrpay.IsCode(err, qrpay.ECONFLICT) {
					// Changed meanwhile, and so sealed under the current key by that change.
					r.Unchanged[name]++
					continue
				} else if err != nil {
					return r, fmt.Errorf("update %s of %s: %w", name, v.ID, err)
				}
				r.Resealed[name]++
			}
		}
	}
	if err := s.rotateDocuments(ctx, r); err != nil {
		return r, err
	}
	// Cached signers hold opened keys, which do not change; nothing else is cached.
	return r, nil
}

// rotateDocuments re-seals the documents' files under the current key.
func (s *Service) rotateDocuments(ctx context.Context, r *RotationReport) error {
	if s.DocumentsDir == "" {
		return nil
	}
	dirs, err := os.ReadDir(s.DocumentsDir)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.DocumentsDir, d.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			id, ok := strings.CutSuffix(f.Name(), ".sealed")
			if !ok || f.IsDir() {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(s.DocumentsDir, d.Name(), f.Name())
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out, changed, err := s.Sealer.Reseal(string(b), ad("merchant_document", id, "content"))
			if err != nil {
				return fmt.Errorf("reseal document %s: %w", id, err)
			}
			if !changed {
				r.Unchanged["document.content"]++
				continue
			}
			if err := writeFileAtomic(path, []byte(out)); err != nil {
				return err
			}
			r.Resealed["document.content"]++
		}
	}
	return nil
}
