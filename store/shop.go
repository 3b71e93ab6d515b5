package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/qrpay/qrpay/merchant"
)

type storeRow struct {
	ID         string    `db:"id"`
	MerchantID string    `db:"merchant_id"`
	Name       string    `db:"name"`
	City       string    `db:"city"`
	Address    string    `db:"address"`
	Status     string    `db:"status"`
	CreatedAt  time.Time `db:"created_at"`
}

func (r *storeRow) store() *merchant.Store {
	return &merchant.Store{ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, City: r.City, Address: r.Address,
		Status: r.Status, CreatedAt: r.CreatedAt.UTC()}
}

const storeColumns = `id, merchant_id, name, city, address, status, created_at`

// InsertStore implements merchant.Tx.
func (tx merchantTx) InsertStore(ctx context.Context, s *merchant.Store) error {
	_, err := tx.exec(ctx, `INSERT INTO stores (`+storeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.MerchantID, s.Name, s.City, s.Address, s.Status, utc(s.CreatedAt))
	return err
}

// FindStores implements merchant.Storage.
func (db *DB) FindStores(ctx context.Context, merchantID string) ([]*merchant.Store, error) {
	return selectAll(ctx, db, (*storeRow).store,
		`SELECT `+storeColumns+` FROM stores WHERE merchant_id = ? ORDER BY id`, merchantID)
}

// FindStore implements merchant.Storage.
func (db *DB) FindStore(ctx context.Context, merchantID, id string) (*merchant.Store, error) {
	query, args := scoped(`SELECT `+storeColumns+` FROM stores WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*storeRow).store, "store", query, args...)
}

const terminalColumns = `id, merchant_id, store_id, name, code, pin_hash, status, created_at`

type terminalRow struct {
	ID         string    `db:"id"`
	MerchantID string    `db:"merchant_id"`
	StoreID    string    `db:"store_id"`
	Name       string    `db:"name"`
	Code       string    `db:"code"`
	PINHash    string    `db:"pin_hash"`
	Status     string    `db:"status"`
	CreatedAt  time.Time `db:"created_at"`
}

func (r *terminalRow) terminal() *merchant.Terminal {
	return &merchant.Terminal{ID: r.ID, MerchantID: r.MerchantID, StoreID: r.StoreID, Name: r.Name, Code: r.Code,
		PINHash: r.PINHash, Status: r.Status, CreatedAt: r.CreatedAt.UTC()}
}

// InsertTerminal implements merchant.Tx.
func (tx merchantTx) InsertTerminal(ctx context.Context, t *merchant.Terminal) error {
	_, err := tx.exec(ctx, `INSERT INTO terminals (`+terminalColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.MerchantID, t.StoreID, t.Name, t.Code, t.PINHash, t.Status, utc(t.CreatedAt))
	return err
}

// UpdateTerminal implements merchant.Tx.
func (tx merchantTx) UpdateTerminal(ctx context.Context, t *merchant.Terminal) error {
	_, err := tx.exec(ctx, `UPDATE terminals SET name = ?, pin_hash = ?, status = ? WHERE id = ?`, t.Name, t.PINHash, t.Status, t.ID)
	return err
}

// FindTerminals implements merchant.Storage.
func (db *DB) FindTerminals(ctx context.Context, merchantID string) ([]*merchant.Terminal, error) {
	return selectAll(ctx, db, (*terminalRow).terminal,
		`SELECT `+terminalColumns+` FROM terminals WHERE merchant_id = ? ORDER BY id`, merchantID)
}

// FindTerminal implements merchant.Storage.
func (db *DB) FindTerminal(ctx context.Context, merchantID, id string) (*merchant.Terminal, error) {
	query, args := scoped(`SELECT `+terminalColumns+` FROM terminals WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*terminalRow).terminal, "terminal", query, args...)
}

// FindTerminalByCode implements merchant.Storage.
func (db *DB) FindTerminalByCode(ctx context.Context, code string) (*merchant.Terminal, error) {
	return selectOne(ctx, db, (*terminalRow).terminal, "terminal",
		`SELECT `+terminalColumns+` FROM terminals WHERE code = ?`, code)
}

const stickerColumns = `id, merchant_id, store_id, terminal_id, batch_id, label, status, created_at, revoked_at`

type stickerRow struct {
	ID         string         `db:"id"`
	MerchantID string         `db:"merchant_id"`
	StoreID    sql.NullString `db:"store_id"`
	TerminalID sql.NullString `db:"terminal_id"`
	BatchID    string         `db:"batch_id"`
	Label      string         `db:"label"`
	Status     string         `db:"status"`
	CreatedAt  time.Time      `db:"created_at"`
	RevokedAt  sql.NullTime   `db:"revoked_at"`
}

func (r *stickerRow) sticker() *merchant.Sticker {
	return &merchant.Sticker{ID: r.ID, MerchantID: r.MerchantID, StoreID: r.StoreID.String, TerminalID: r.TerminalID.String,
		BatchID: r.BatchID, Label: r.Label, Status: r.Status, CreatedAt: r.CreatedAt.UTC(), RevokedAt: timePtr(r.RevokedAt)}
}

// nullString stores "" as NULL, for optional references.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// InsertSticker implements merchant.Tx.
func (tx merchantTx) InsertSticker(ctx context.Context, s *merchant.Sticker) error {
	_, err := tx.exec(ctx, `INSERT INTO stickers (`+stickerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.MerchantID, nullString(s.StoreID), nullString(s.TerminalID), s.BatchID, s.Label, s.Status,
		utc(s.CreatedAt), utcPtr(s.RevokedAt))
	return err
}

// UpdateSticker implements merchant.Tx.
func (tx merchantTx) UpdateSticker(ctx context.Context, s *merchant.Sticker) error {
	_, err := tx.exec(ctx, `UPDATE stickers SET store_id = ?, terminal_id = ?, label = ?, status = ?, revoked_at = ? WHERE id = ?`,
		nullString(s.StoreID), nullString(s.TerminalID), s.Label, s.Status, utcPtr(s.RevokedAt), s.ID)
	return err
}

// FindStickers implements merchant.Storage.
func (db *DB) FindStickers(ctx context.Context, merchantID string) ([]*merchant.Sticker, error) {
	return selectAll(ctx, db, (*stickerRow).sticker,
		`SELECT `+stickerColumns+` FROM stickers WHERE merchant_id = ? ORDER BY id`, merchantID)
}

// FindSticker implements merchant.Storage.
func (db *DB) FindSticker(ctx context.Context, merchantID, id string) (*merchant.Sticker, error) {
	query, args := scoped(`SELECT `+stickerColumns+` FROM stickers WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*stickerRow).sticker, "sticker", query, args...)
}
