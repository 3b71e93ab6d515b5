package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// merchantTx is a Tx seen through merchant.Tx.
type merchantTx struct{ *Tx }

var _ merchant.Tx = merchantTx{}
var _ merchant.Storage = (*MerchantStore)(nil)

// MerchantStore implements merchant.Storage.
type MerchantStore struct{ *DB }

// Merchants returns the database as a merchant.Storage.
func (db *DB) Merchants() *MerchantStore { return &MerchantStore{db} }

// InTx implements merchant.Storage.
func (s *MerchantStore) InTx(ctx context.Context, fn func(tx merchant.Tx) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(merchantTx{tx}) })
}

const merchantColumns = `id, status, legal_name, short_name, uscc, legal_person_name, legal_person_id_enc,
	legal_person_id_blind, legal_person_id_mask, phone_enc, phone_mask, city, address, mcc, bank_name,
	bank_account_enc, bank_account_mask, settlement_cycle, reject_reason, source, created_at, updated_at,
	submitted_at, decided_at, apply_token_hash, warnings`

type merchantRow struct {
	ID                 string       `db:"id"`
	Status             string       `db:"status"`
	LegalName          string       `db:"legal_name"`
	ShortName          string       `db:"short_name"`
	USCC               string       `db:"uscc"`
	LegalPersonName    string       `db:"legal_person_name"`
	LegalPersonIDEnc   string       `db:"legal_person_id_enc"`
	LegalPersonIDBlind string       `db:"legal_person_id_blind"`
	LegalPersonIDMask  string       `db:"legal_person_id_mask"`
	PhoneEnc           string       `db:"phone_enc"`
	PhoneMask          string       `db:"phone_mask"`
	City               string       `db:"city"`
	Address            string       `db:"address"`
	MCC                string       `db:"mcc"`
	BankName           string       `db:"bank_name"`
	BankAccountEnc     string       `db:"bank_account_enc"`
	BankAccountMask    string       `db:"bank_account_mask"`
	SettlementCycle    string       `db:"settlement_cycle"`
	RejectReason       string       `db:"reject_reason"`
	Source             string       `db:"source"`
	CreatedAt          time.Time    `db:"created_at"`
	UpdatedAt          time.Time    `db:"updated_at"`
	SubmittedAt        sql.NullTime `db:"submitted_at"`
	DecidedAt          sql.NullTime `db:"decided_at"`
	ApplyTokenHash     string       `db:"apply_token_hash"`
	Warnings           string       `db:"warnings"`
}

func (r *merchantRow) merchant() *merchant.Merchant {
	return &merchant.Merchant{ID: r.ID, Status: merchant.Status(r.Status), LegalName: r.LegalName, ShortName: r.ShortName,
		USCC: r.USCC, LegalPersonName: r.LegalPersonName, LegalPersonIDSealed: r.LegalPersonIDEnc,
		LegalPersonIDBlind: r.LegalPersonIDBlind, LegalPersonIDMask: r.LegalPersonIDMask, PhoneSealed: r.PhoneEnc,
		PhoneMask: r.PhoneMask, City: r.City, Address: r.Address, MCC: r.MCC, BankName: r.BankName,
		BankAccountSealed: r.BankAccountEnc, BankAccountMask: r.BankAccountMask, SettlementCycle: r.SettlementCycle,
		RejectReason: r.RejectReason, Source: r.Source, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		SubmittedAt: timePtr(r.SubmittedAt), DecidedAt: timePtr(r.DecidedAt), ApplyTokenHash: r.ApplyTokenHash,
		Warnings: decodeWarnings(r.Warnings)}
}

// encodeWarnings and decodeWarnings store the checks' warnings as a JSON object.
func encodeWarnings(w map[string]string) string {
	if len(w) == 0 {
		return ""
	}
	b, _ := json.Marshal(w)
	return string(b)
}

func decodeWarnings(s string) map[string]string {
	if s == "" {
		return nil
	}
	var w map[string]string
	if json.Unmarshal([]byte(s), &w) != nil {
		return nil
	}
	return w
}

// feeRates loads a merchant's fee rates.
func feeRates(ctx context.Context, q interface {
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}, db *DB, merchantID string) (map[string]int, error) {
	var rows []struct {
		Channel string `db:"channel"`
		BPS     int    `db:"bps"`
	}
	if err := q.SelectContext(ctx, &rows, db.q(`SELECT channel, bps FROM fee_rates WHERE merchant_id = ?`), merchantID); err != nil {
		return nil, translate(err)
	}
	m := make(map[string]int, len(rows))
	for _, r := range rows {
		m[r.Channel] = r.BPS
	}
	return m, nil
}

// InsertMerchant implements merchant.Tx.
func (tx merchantTx) InsertMerchant(ctx context.Context, m *merchant.Merchant) error {
	_, err := tx.exec(ctx, `INSERT INTO merchants (`+merchantColumns+`) VALUES
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, string(m.Status), m.LegalName, m.ShortName, m.USCC, m.LegalPersonName, m.LegalPersonIDSealed,
		m.LegalPersonIDBlind, m.LegalPersonIDMask, m.PhoneSealed, m.PhoneMask, m.City, m.Address, m.MCC, m.BankName,
		m.BankAccountSealed, m.BankAccountMask, m.SettlementCycle, m.RejectReason, m.Source, utc(m.CreatedAt),
		utc(m.UpdatedAt), utcPtr(m.SubmittedAt), utcPtr(m.DecidedAt), m.ApplyTokenHash, encodeWarnings(m.Warnings))
	return err
}

// LockMerchant implements merchant.Tx.
func (tx merchantTx) LockMerchant(ctx context.Context, id string) (*merchant.Merchant, error) {
	var r merchantRow
	if err := tx.get(ctx, &r, `SELECT `+merchantColumns+` FROM merchants WHERE id = ?`+tx.db.forUpdate(), id); err != nil {
		return nil, notFound(err, "merchant")
	}
	m := r.merchant()
	var err error
	m.FeeRates, err = feeRates(ctx, tx.tx, tx.db, id)
	return m, err
}

// UpdateMerchant implements merchant.Tx.
func (tx merchantTx) UpdateMerchant(ctx context.Context, m *merchant.Merchant, from merchant.Status) error {
	n, err := tx.exec(ctx, `UPDATE merchants SET status = ?, legal_name = ?, short_name = ?, uscc = ?,
		legal_person_name = ?, legal_person_id_enc = ?, legal_person_id_blind = ?, legal_person_id_mask = ?,
		phone_enc = ?, phone_mask = ?, city = ?, address = ?, mcc = ?, bank_name = ?, bank_account_enc = ?,
		bank_account_mask = ?, settlement_cycle = ?, reject_reason = ?, updated_at = ?, submitted_at = ?,
		decided_at = ? WHERE id = ? AND status = ?`,
		string(m.Status), m.LegalName, m.ShortName, m.USCC, m.LegalPersonName, m.LegalPersonIDSealed,
		m.LegalPersonIDBlind, m.LegalPersonIDMask, m.PhoneSealed, m.PhoneMask, m.City, m.Address, m.MCC, m.BankName,
		m.BankAccountSealed, m.BankAccountMask, m.SettlementCycle, m.RejectReason, tx.now, utcPtr(m.SubmittedAt),
		utcPtr(m.DecidedAt), m.ID, string(from))
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.ECONFLICT, "The merchant changed meanwhile.")
	}
	return nil
}

// SetFeeRate implements merchant.Tx.
func (tx merchantTx) SetFeeRate(ctx context.Context, merchantID, channel string, bps int) error {
	_, err := tx.exec(ctx, `INSERT INTO fee_rates (merchant_id, channel, bps, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (merchant_id, channel) DO UPDATE SET bps = excluded.bps, updated_at = excluded.updated_at`,
		merchantID, channel, bps, tx.now)
	return err
}

// FindMerchant implements merchant.Storage and gateway.Store.
func (db *DB) FindMerchant(ctx context.Context, id string) (*merchant.Merchant, error) {
	var r merchantRow
	if err := db.get(ctx, &r, `SELECT `+merchantColumns+` FROM merchants WHERE id = ?`, id); err != nil {
		return nil, notFound(err, "merchant")
	}
	m := r.merchant()
	var err error
	m.FeeRates, err = feeRates(ctx, db.r, db, id)
	return m, err
}

// FindMerchants implements merchant.Storage.
func (db *DB) FindMerchants(ctx context.Context, f merchant.Filter) ([]*merchant.Merchant, bool, error) {
	var w where
	w.filter("status", string(f.Status))
	w.filter("uscc", f.USCC)
	if f.Search != "" {
		like := "%" + strings.NewReplacer("%", "", "_", "").Replace(f.Search) + "%"
		w.add("(id = ? OR uscc = ? OR legal_name LIKE ? OR short_name LIKE ?)", f.Search, strings.ToUpper(f.Search), like, like)
	}
	if f.StartingAfter != "" {
		w.add("id < ?", f.StartingAfter)
	}
	out, more, err := selectPage(ctx, db, (*merchantRow).merchant, clampLimit(f.Limit),
		`SELECT `+merchantColumns+` FROM merchants`+w.sql()+` ORDER BY id DESC`, w.args...)
	if err != nil {
		return nil, false, err
	}
	for _, m := range out {
		if m.FeeRates, err = feeRates(ctx, db.r, db, m.ID); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}

const apiKeyColumns = `id, merchant_id, mode, secret_enc, status, expires_at, created_at, revoked_at`

type apiKeyRow struct {
	ID         string       `db:"id"`
	MerchantID string       `db:"merchant_id"`
	Mode       string       `db:"mode"`
	SecretEnc  string       `db:"secret_enc"`
	Status     string       `db:"status"`
	ExpiresAt  sql.NullTime `db:"expires_at"`
	CreatedAt  time.Time    `db:"created_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
}

func (r *apiKeyRow) key() *merchant.APIKey {
	return &merchant.APIKey{ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, SecretSealed: r.SecretEnc, Status: r.Status,
		ExpiresAt: timePtr(r.ExpiresAt), CreatedAt: r.CreatedAt.UTC(), RevokedAt: timePtr(r.RevokedAt)}
}

// InsertAPIKey implements merchant.Tx.
func (tx merchantTx) InsertAPIKey(ctx context.Context, k *merchant.APIKey) error {
	_, err := tx.exec(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.MerchantID, k.Mode, k.SecretSealed, k.Status, utcPtr(k.ExpiresAt), utc(k.CreatedAt), utcPtr(k.RevokedAt))
	return err
}

// UpdateAPIKey implements merchant.Tx.
func (tx merchantTx) UpdateAPIKey(ctx context.Context, k *merchant.APIKey) error {
	_, err := tx.exec(ctx, `UPDATE api_keys SET status = ?, expires_at = ?, revoked_at = ? WHERE id = ?`,
		k.Status, utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), k.ID)
	return err
}

// FindAPIKey implements merchant.Storage.
func (db *DB) FindAPIKey(ctx context.Context, id string) (*merchant.APIKey, error) {
	return selectOne(ctx, db, (*apiKeyRow).key, "API key", `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id)
}

// FindRequestKey implements merchant.Storage.
func (db *DB) FindRequestKey(ctx context.Context, id, nonce string) (*merchant.APIKey, bool, error) {
	var r struct {
		apiKeyRow
		Seen bool `db:"nonce_seen"`
	}
	err := db.get(ctx, &r, `SELECT `+apiKeyColumns+`, EXISTS (SELECT 1 FROM api_nonces WHERE key_id = api_keys.id AND nonce = ?)
		AS nonce_seen FROM api_keys WHERE id = ?`, nonce, id)
	if err != nil {
		return nil, false, notFound(err, "API key")
	}
	return r.key(), r.Seen, nil
}

// FindAPIKeys implements merchant.Storage.
func (db *DB) FindAPIKeys(ctx context.Context, merchantID string) ([]*merchant.APIKey, error) {
	return selectAll(ctx, db, (*apiKeyRow).key,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE merchant_id = ? ORDER BY id DESC`, merchantID)
}

const endpointColumns = `id, merchant_id, url, secret_enc, status, disabled_reason, failing_since, created_at,
	previous_secret_enc, previous_expires_at`

type endpointRow struct {
	ID             string       `db:"id"`
	MerchantID     string       `db:"merchant_id"`
	URL            string       `db:"url"`
	SecretEnc      string       `db:"secret_enc"`
	Status         string       `db:"status"`
	DisabledReason string       `db:"disabled_reason"`
	FailingSince   sql.NullTime `db:"failing_since"`
	CreatedAt      time.Time    `db:"created_at"`
	PreviousEnc    string       `db:"previous_secret_enc"`
	PreviousUntil  sql.NullTime `db:"previous_expires_at"`
}

func (r *endpointRow) endpoint() *merchant.WebhookEndpoint {
	return &merchant.WebhookEndpoint{ID: r.ID, MerchantID: r.MerchantID, URL: r.URL, SecretSealed: r.SecretEnc,
		Status: r.Status, DisabledReason: r.DisabledReason, FailingSince: timePtr(r.FailingSince), CreatedAt: r.CreatedAt.UTC(),
		PreviousSecretSealed: r.PreviousEnc, PreviousExpiresAt: timePtr(r.PreviousUntil)}
}

// InsertEndpoint implements merchant.Tx.
func (tx merchantTx) InsertEndpoint(ctx context.Context, e *merchant.WebhookEndpoint) error {
	_, err := tx.exec(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.URL, e.SecretSealed, e.Status, e.DisabledReason, utcPtr(e.FailingSince), utc(e.CreatedAt),
		e.PreviousSecretSealed, utcPtr(e.PreviousExpiresAt))
	return err
}

// UpdateEndpointSecret implements merchant.Tx.
func (tx merchantTx) UpdateEndpointSecret(ctx context.Context, e *merchant.WebhookEndpoint) error {
	n, err := tx.exec(ctx, `UPDATE webhook_endpoints SET secret_enc = ?, previous_secret_enc = ?, previous_expires_at = ?
		WHERE id = ? AND deleted_at IS NULL`, e.SecretSealed, e.PreviousSecretSealed, utcPtr(e.PreviousExpiresAt), e.ID)
	if err == nil && n == 0 {
		return qrpay.NotFound("webhook endpoint")
	}
	return err
}

// UpdateEndpoint implements merchant.Tx. An endpoint whose status is "deleted" is kept for the
// delivery history but no longer listed.
func (tx merchantTx) UpdateEndpoint(ctx context.Context, e *merchant.WebhookEndpoint) error {
	var deleted *time.Time
	if e.Status == "deleted" {
		now := tx.now
		deleted = &now
	}
	_, err := tx.exec(ctx, `UPDATE webhook_endpoints SET url = ?, secret_enc = ?, status = ?, disabled_reason = ?,
		failing_since = ?, deleted_at = ? WHERE id = ?`,
		e.URL, e.SecretSealed, e.Status, e.DisabledReason, utcPtr(e.FailingSince), utcPtr(deleted), e.ID)
	return err
}

// FindEndpoints implements merchant.Storage.
func (db *DB) FindEndpoints(ctx context.Context, merchantID string) ([]*merchant.WebhookEndpoint, error) {
	return selectAll(ctx, db, (*endpointRow).endpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE merchant_id = ?
		AND deleted_at IS NULL ORDER BY id`, merchantID)
}

// FindEndpoint implements merchant.Storage and gateway.Store.
func (db *DB) FindEndpoint(ctx context.Context, merchantID, id string) (*merchant.WebhookEndpoint, error) {
	var r endpointRow
	query := `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL`
	args := []any{id}
	if merchantID != "" {
		query += ` AND merchant_id = ?`
		args = append(args, merchantID)
	}
	if err := db.get(ctx, &r, query, args...); err != nil {
		return nil, notFound(err, "webhook endpoint")
	}
	return r.endpoint(), nil
}

type bindingRow struct {
	ID            string    `db:"id"`
	MerchantID    string    `db:"merchant_id"`
	Channel       string    `db:"channel"`
	AccountID     string    `db:"account_id"`
	SubMerchantID string    `db:"sub_merchant_id"`
	Weight        int       `db:"weight"`
	Status        string    `db:"status"`
	CreatedAt     time.Time `db:"created_at"`
}

func (r *bindingRow) binding() merchant.Binding {
	return merchant.Binding{ID: r.ID, MerchantID: r.MerchantID, Channel: r.Channel, AccountID: r.AccountID,
		SubMerchantID: r.SubMerchantID, Weight: r.Weight, Status: r.Status, CreatedAt: r.CreatedAt.UTC()}
}

// FindBindings implements merchant.Storage and gateway.Store.
func (db *DB) FindBindings(ctx context.Context, merchantID string) ([]merchant.Binding, error) {
	return selectAll(ctx, db, (*bindingRow).binding, `SELECT id, merchant_id, channel, account_id, sub_merchant_id, weight,
		status, created_at FROM channel_bindings WHERE merchant_id = ? ORDER BY id`, merchantID)
}

// InsertBinding implements merchant.Tx.
func (tx merchantTx) InsertBinding(ctx context.Context, b *merchant.Binding) error {
	_, err := tx.exec(ctx, `INSERT INTO channel_bindings (id, merchant_id, channel, account_id, sub_merchant_id, weight,
		status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.MerchantID, b.Channel, b.AccountID, b.SubMerchantID, b.Weight, b.Status, utc(b.CreatedAt))
	return err
}

// UpdateBinding implements merchant.Tx.
func (tx merchantTx) UpdateBinding(ctx context.Context, b *merchant.Binding) error {
	_, err := tx.exec(ctx, `UPDATE channel_bindings SET sub_merchant_id = ?, weight = ?, status = ? WHERE id = ?`,
		b.SubMerchantID, b.Weight, b.Status, b.ID)
	return err
}
