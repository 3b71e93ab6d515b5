package merchant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/qrpay/qrpay"
)

// MaxDocumentSize is the largest document an application may carry: 5 MB.
const MaxDocumentSize = 5 << 20

// Upload is one file of an application as received: its kind (DocumentKinds) and content.
type Upload struct {
	Kind string
	Data []byte
}

// documentTypes are the content types a document may have, as http.DetectContentType sniffs
// them from the content (never from the name or the declared type).
var documentTypes = map[string]bool{"image/jpeg": true, "image/png": true, "application/pdf": true}

// sniffedUpload is an upload that passed the checks.
type sniffedUpload struct {
	Upload
	contentType string
}

// checkUploads checks uploads' kinds, sizes and sniffed types, recording one problem per kind
// (the kind is the field).
func (s *Service) checkUploads(p *Problems, uploads []Upload, required bool) []sniffedUpload {
	var out []sniffedUpload
	seen := map[string]bool{}
	for _, u := range uploads {
		if !validDocumentKind(u.Kind) {
			p.Add(qrpay.Invalid("kind", "Unknown document kind %q.", u.Kind))
			continue
		}
		switch {
		case len(u.Data) == 0:
			p.AddAs(u.Kind, ErrDocumentEmpty.invalid())
			continue
		case len(u.Data) > MaxDocumentSize:
			p.AddAs(u.Kind, ErrDocumentSize.invalid())
			continue
		}
		ct := sniff(u.Data)
		if !documentTypes[ct] {
			p.AddAs(u.Kind, ErrDocumentType.invalid())
			continue
		}
		seen[u.Kind] = true
		out = append(out, sniffedUpload{u, ct})
	}
	if required {
		for _, k := range DocumentKinds {
			if !seen[k] {
				p.AddAs(k, ErrDocumentRequired.invalid())
			}
		}
	}
	return out
}

// sniff returns the content type http.DetectContentType sees, without parameters.
func sniff(b []byte) string {
	ct, _, _ := strings.Cut(http.DetectContentType(b), ";")
	return strings.TrimSpace(ct)
}

func validDocumentKind(k string) bool {
	for _, d := range DocumentKinds {
		if d == k {
			return true
		}
	}
	return false
}

// documentPath is where a document's sealed content lives.
func (s *Service) documentPath(merchantID, id string) (string, error) {
	if s.DocumentsDir == "" {
		return "", qrpay.Errorf(qrpay.EINTERNAL, "No documents directory is configured.")
	}
	if !safeName(merchantID) || !safeName(id) {
		return "", qrpay.NotFound("document")
	}
	return filepath.Join(s.DocumentsDir, merchantID, id+".sealed"), nil
}

// safeName reports whether an id is safe as a file name: letters, digits, '_' and '-'.
func safeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// storeDocument seals a checked upload into its file and records it in the transaction. It
// returns the file's path once written, so that the caller can remove it if the transaction
// fails.
func (s *Service) storeDocument(ctx context.Context, tx Tx, actor Actor, merchantID string, u sniffedUpload) (*Document, string, error) {
	sum := sha256.Sum256(u.Data)
	d := &Document{ID: qrpay.NewID("doc", tx.Now()), MerchantID: merchantID, Kind: u.Kind, ContentType: u.contentType,
		Size: int64(len(u.Data)), SHA256: hex.EncodeToString(sum[:]), CreatedAt: tx.Now()}
	path, err := s.documentPath(merchantID, d.ID)
	if err != nil {
		return nil, "", err
	}
	sealed, err := s.Sealer.Seal(string(u.Data), ad("merchant_document", d.ID, "content"))
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("documents directory: %w", err)
	}
	if err := writeFileAtomic(path, []byte(sealed)); err != nil {
		return nil, "", err
	}
	if err := tx.InsertDocument(ctx, d); err != nil {
		return nil, path, err
	}
	return d, path, audit(ctx, tx, actor, merchantID, "document.add", "document", d.ID, nil,
		map[string]any{"kind": d.Kind, "content_type": d.ContentType, "size": d.Size, "sha256": d.SHA256})
}

// writeFileAtomic writes a file through a temporary one and a rename, so that a reader never
// sees half of it.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

func removeFiles(paths []string) {
	for _, p := range paths {
		os.Remove(p)
	}
}

// AddDocument attaches a document to an application (an operator's upload, or a merchant's
// own). Its problems are EINVALID with the kind as param.
func (s *Service) AddDocument(ctx context.Context, actor Actor, merchantID string, u Upload) (*Document, error) {
	if err := requireMerchantAccess(actor, merchantID, true); err != nil {
		return nil, err
	}
	var p Problems
	docs := s.checkUploads(&p, []Upload{u}, false)
	if err := p.Err(); err != nil {
		return nil, err
	}
	var d *Document
	var path string
	err := s.Store.InTx(ctx, func(tx Tx) error {
		m, err := tx.LockMerchant(ctx, merchantID)
		if err != nil {
			return err
		}
		if m.Status == StatusClosed {
			return qrpay.Errorf(qrpay.EINVALIDSTATE, "A closed merchant takes no documents.")
		}
		d, path, err = s.storeDocument(ctx, tx, actor, merchantID, docs[0])
		return err
	})
	if err != nil {
		removeFiles([]string{path})
		return nil, err
	}
	return d, nil
}

// Documents returns a merchant's documents.
func (s *Service) Documents(ctx context.Context, merchantID string) ([]*Document, error) {
	return s.Store.FindDocuments(ctx, merchantID)
}

// OpenDocument returns a document and its content, opened; the content is checked against the
// hash recorded when it was uploaded.
func (s *Service) OpenDocument(ctx context.Context, merchantID, id string) (*Document, []byte, error) {
	d, err := s.Store.FindDocument(ctx, merchantID, id)
	if err != nil {
		return nil, nil, err
	}
	path, err := s.documentPath(d.MerchantID, d.ID)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil, qrpay.Errorf(qrpay.ENOTFOUND, "The document's file is missing from the documents directory.")
	} else if err != nil {
		return nil, nil, err
	}
	plain, err := s.Sealer.Open(string(sealed), ad("merchant_document", d.ID, "content"))
	if err != nil {
		return nil, nil, fmt.Errorf("open document %s: %w", d.ID, err)
	}
	sum := sha256.Sum256([]byte(plain))
	if hex.EncodeToString(sum[:]) != d.SHA256 {
		return nil, nil, qrpay.Errorf(qrpay.EINTERNAL, "The document's content does not match its hash.")
	}
	return d, []byte(plain), nil
}
