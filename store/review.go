package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// InsertStatusChange implements merchant.Tx.
func (tx merchantTx) InsertStatusChange(ctx context.Context, c *merchant.StatusChange) error {
	_, err := tx.exec(ctx, `INSERT INTO merchant_status_history (id, merchant_id, action, from_status, to_status, reason,
		actor_kind, actor_id, actor_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.MerchantID, c.Action, string(c.From), string(c.To), c.Reason, c.ActorKind, c.ActorID, c.ActorName, utc(c.CreatedAt))
	return err
}

// FindStatusHistory implements merchant.Storage.
func (db *DB) FindStatusHistory(ctx context.Context, merchantID string) ([]*merchant.StatusChange, error) {
	var rows []struct {
		ID         string    `db:"id"`
		MerchantID string    `db:"merchant_id"`
		Action     string    `db:"action"`
		From       string    `db:"from_status"`
		To         string    `db:"to_status"`
		Reason     string    `db:"reason"`
		ActorKind  string    `db:"actor_kind"`
		ActorID    string    `db:"actor_id"`
		ActorName  string    `db:"actor_name"`
		CreatedAt  time.Time `db:"created_at"`
	}
	if err := db.sel(ctx, &rows, `SELECT id, merchant_id, action, from_status, to_status, reason, actor_kind, actor_id,
		actor_name, created_at FROM merchant_status_history WHERE merchant_id = ? ORDER BY created_at, id`, merchantID); err != nil {
		return nil, err
	}
	out := make([]*merchant.StatusChange, len(rows))
	for i, r := range rows {
		out[i] = &merchant.StatusChange{ID: r.ID, MerchantID: r.MerchantID, Action: r.Action, From: merchant.Status(r.From),
			To: merchant.Status(r.To), Reason: r.Reason, ActorKind: r.ActorKind, ActorID: r.ActorID, ActorName: r.ActorName,
			CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// InsertFeeRateChange implements merchant.Tx.
func (tx merchantTx) InsertFeeRateChange(ctx context.Context, c *merchant.FeeRateChange) error {
	var old sql.NullInt64
	if c.Old != nil {
		old = sql.NullInt64{Int64: int64(*c.Old), Valid: true}
	}
	_, err := tx.exec(ctx, `INSERT INTO fee_rate_history (id, merchant_id, channel, old_bps, new_bps, actor_id, actor_name,
		created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.MerchantID, c.Channel, old, c.New, c.ActorID, c.ActorName, utc(c.CreatedAt))
	return err
}

// FindFeeRateHistory implements merchant.Storage.
func (db *DB) FindFeeRateHistory(ctx context.Context, merchantID string) ([]*merchant.FeeRateChange, error) {
	var rows []struct {
		ID         string        `db:"id"`
		MerchantID string        `db:"merchant_id"`
		Channel    string        `db:"channel"`
		Old        sql.NullInt64 `db:"old_bps"`
		New        int           `db:"new_bps"`
		ActorID    string        `db:"actor_id"`
		ActorName  string        `db:"actor_name"`
		CreatedAt  time.Time     `db:"created_at"`
	}
	if err := db.sel(ctx, &rows, `SELECT id, merchant_id, channel, old_bps, new_bps, actor_id, actor_name, created_at
		FROM fee_rate_history WHERE merchant_id = ? ORDER BY created_at DESC, id DESC`, merchantID); err != nil {
		return nil, err
	}
	out := make([]*merchant.FeeRateChange, len(rows))
	for i, r := range rows {
		c := &merchant.FeeRateChange{ID: r.ID, MerchantID: r.MerchantID, Channel: r.Channel, New: r.New, ActorID: r.ActorID,
			ActorName: r.ActorName, CreatedAt: r.CreatedAt.UTC()}
		if r.Old.Valid {
			v := int(r.Old.Int64)
			c.Old = &v
		}
		out[i] = c
	}
	return out, nil
}

const documentColumns = `id, merchant_id, kind, content_type, size, sha256, created_at`

type documentRow struct {
	ID          string    `db:"id"`
	MerchantID  string    `db:"merchant_id"`
	Kind        string    `db:"kind"`
	ContentType string    `db:"content_type"`
	Size        int64     `db:"size"`
	SHA256      string    `db:"sha256"`
	CreatedAt   time.Time `db:"created_at"`
}

func (r *documentRow) document() *merchant.Document {
	return &merchant.Document{ID: r.ID, MerchantID: r.MerchantID, Kind: r.Kind, ContentType: r.ContentType, Size: r.Size,
		SHA256: r.SHA256, CreatedAt: r.CreatedAt.UTC()}
}

// InsertDocument implements merchant.Tx.
func (tx merchantTx) InsertDocument(ctx context.Context, d *merchant.Document) error {
	_, err := tx.exec(ctx, `INSERT INTO merchant_documents (`+documentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.MerchantID, d.Kind, d.ContentType, d.Size, d.SHA256, utc(d.CreatedAt))
	return err
}

// FindDocuments implements merchant.Storage.
func (db *DB) FindDocuments(ctx context.Context, merchantID string) ([]*merchant.Document, error) {
	return selectAll(ctx, db, (*documentRow).document,
		`SELECT `+documentColumns+` FROM merchant_documents WHERE merchant_id = ? ORDER BY id`, merchantID)
}

// FindDocument implements merchant.Storage.
func (db *DB) FindDocument(ctx context.Context, merchantID, id string) (*merchant.Document, error) {
	query, args := scoped(`SELECT `+documentColumns+` FROM merchant_documents WHERE id = ?`, id, merchantID)
	return selectOne(ctx, db, (*documentRow).document, "document", query, args...)
}

// UpdateStore implements merchant.Tx.
func (tx merchantTx) UpdateStore(ctx context.Context, s *merchant.Store) error {
	_, err := tx.exec(ctx, `UPDATE stores SET name = ?, city = ?, address = ?, status = ? WHERE id = ?`,
		s.Name, s.City, s.Address, s.Status, s.ID)
	return err
}

// sealedColumns maps each sealed field to its table and column.
var sealedColumns = map[merchant.SealedField]struct{ table, column string }{
	{Kind: "merchant", Field: "legal_person_id"}:         {"merchants", "legal_person_id_enc"},
	{Kind: "merchant", Field: "phone"}:                   {"merchants", "phone_enc"},
	{Kind: "merchant", Field: "bank_account"}:            {"merchants", "bank_account_enc"},
	{Kind: "api_key", Field: "secret"}:                   {"api_keys", "secret_enc"},
	{Kind: "webhook_endpoint", Field: "secret"}:          {"webhook_endpoints", "secret_enc"},
	{Kind: "webhook_endpoint", Field: "previous_secret"}: {"webhook_endpoints", "previous_secret_enc"},
	{Kind: "user", Field: "totp"}:                        {"users", "totp_secret_enc"},
	{Kind: "signing_key", Field: "key"}:                  {"signing_keys", "key_enc"},
}

func sealedColumn(f merchant.SealedField) (table, column string, err error) {
	c, ok := sealedColumns[f]
	if !ok {
		return "", "", qrpay.Errorf(qrpay.EINTERNAL, "No sealed field %s.%s.", f.Kind, f.Field)
	}
	return c.table, c.column, nil
}

// FindSealed implements merchant.Storage.
func (db *DB) FindSealed(ctx context.Context, f merchant.SealedField, afterID string, limit int) ([]merchant.SealedValue, error) {
	table, column, err := sealedColumn(f)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID     string `db:"id"`
		Sealed string `db:"sealed"`
	}
	if err := db.sel(ctx, &rows, `SELECT id, `+column+` AS sealed FROM `+table+` WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit); err != nil {
		return nil, err
	}
	out := make([]merchant.SealedValue, len(rows))
	for i, r := range rows {
		out[i] = merchant.SealedValue{ID: r.ID, Sealed: r.Sealed}
	}
	return out, nil
}

// UpdateSealed implements merchant.Tx.
func (tx merchantTx) UpdateSealed(ctx context.Context, f merchant.SealedField, id, old, sealed string) error {
	table, column, err := sealedColumn(f)
	if err != nil {
		return err
	}
	n, err := tx.exec(ctx, `UPDATE `+table+` SET `+column+` = ? WHERE id = ? AND `+column+` = ?`, sealed, id, old)
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.ECONFLICT, "The value changed meanwhile.")
	}
	return nil
}
