package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/qrpay/qrpay/merchant"
)

const userColumns = `id, merchant_id, login, display_name, password_hash, role, totp_secret_enc, totp_enabled,
	failed_logins, locked_until, status, must_change_password, created_at, last_login_at`

type userRow struct {
	ID                 string         `db:"id"`
	MerchantID         sql.NullString `db:"merchant_id"`
	Login              string         `db:"login"`
	DisplayName        string         `db:"display_name"`
	PasswordHash       string         `db:"password_hash"`
	Role               string         `db:"role"`
	TOTPSecretEnc      string         `db:"totp_secret_enc"`
	TOTPEnabled        bool           `db:"totp_enabled"`
	FailedLogins       int            `db:"failed_logins"`
	LockedUntil        sql.NullTime   `db:"locked_until"`
	Status             string         `db:"status"`
	MustChangePassword bool           `db:"must_change_password"`
	CreatedAt          time.Time      `db:"created_at"`
	LastLoginAt        sql.NullTime   `db:"last_login_at"`
}

func (r *userRow) user() *merchant.User {
	return &merchant.User{ID: r.ID, MerchantID: r.MerchantID.String, Login: r.Login, DisplayName: r.DisplayName,
		PasswordHash: r.PasswordHash, Role: r.Role, TOTPSecretSealed: r.TOTPSecretEnc, TOTPEnabled: r.TOTPEnabled,
		FailedLogins: r.FailedLogins, LockedUntil: timePtr(r.LockedUntil), Status: r.Status,
		MustChangePassword: r.MustChangePassword, CreatedAt: r.CreatedAt.UTC(), LastLoginAt: timePtr(r.LastLoginAt)}
}

// InsertUser implements merchant.Tx.
func (tx merchantTx) InsertUser(ctx context.Context, u *merchant.User) error {
	_, err := tx.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, nullString(u.MerchantID), u.Login, u.DisplayName, u.PasswordHash, u.Role, u.TOTPSecretSealed, u.TOTPEnabled,
		u.FailedLogins, utcPtr(u.LockedUntil), u.Status, u.MustChangePassword, utc(u.CreatedAt), utcPtr(u.LastLoginAt))
	return err
}

// UpdateUser implements merchant.Tx.
func (tx merchantTx) UpdateUser(ctx context.Context, u *merchant.User) error {
	_, err := tx.exec(ctx, `UPDATE users SET display_name = ?, password_hash = ?, role = ?, totp_secret_enc = ?,
		totp_enabled = ?, failed_logins = ?, locked_until = ?, status = ?, must_change_password = ?, last_login_at = ?
		WHERE id = ?`, u.DisplayName, u.PasswordHash, u.Role, u.TOTPSecretSealed, u.TOTPEnabled, u.FailedLogins,
		utcPtr(u.LockedUntil), u.Status, u.MustChangePassword, utcPtr(u.LastLoginAt), u.ID)
	return err
}

// FindUser implements merchant.Storage.
func (db *DB) FindUser(ctx context.Context, id string) (*merchant.User, error) {
	return selectOne(ctx, db, (*userRow).user, "user", `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
}

// FindUserByLogin implements merchant.Storage.
func (db *DB) FindUserByLogin(ctx context.Context, login string) (*merchant.User, error) {
	return selectOne(ctx, db, (*userRow).user, "user", `SELECT `+userColumns+` FROM users WHERE login = ?`, login)
}

// FindUsers implements merchant.Storage; an empty merchantID lists the operators.
func (db *DB) FindUsers(ctx context.Context, merchantID string) ([]*merchant.User, error) {
	if merchantID == "" {
		return selectAll(ctx, db, (*userRow).user, `SELECT `+userColumns+` FROM users WHERE merchant_id IS NULL ORDER BY id`)
	}
	return selectAll(ctx, db, (*userRow).user, `SELECT `+userColumns+` FROM users WHERE merchant_id = ? ORDER BY id`, merchantID)
}

// InsertSession implements merchant.Tx.
func (tx merchantTx) InsertSession(ctx context.Context, s *merchant.Session) error {
	_, err := tx.exec(ctx, `INSERT INTO sessions (id, user_id, terminal_id, csrf_token, stage, created_at, last_seen_at,
		remote_addr, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, nullString(s.UserID), nullString(s.TerminalID), s.CSRFToken, s.Stage, utc(s.CreatedAt), utc(s.LastSeenAt),
		s.RemoteAddr, s.UserAgent)
	return err
}

// UpdateSession implements merchant.Tx.
func (tx merchantTx) UpdateSession(ctx context.Context, s *merchant.Session) error {
	_, err := tx.exec(ctx, `UPDATE sessions SET stage = ?, last_seen_at = ? WHERE id = ?`, s.Stage, utc(s.LastSeenAt), s.ID)
	return err
}

// DeleteSession implements merchant.Tx.
func (tx merchantTx) DeleteSession(ctx context.Context, id string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteUserSessions implements merchant.Tx.
func (tx merchantTx) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := tx.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

// FindSession implements merchant.Storage: the session with its user or terminal.
func (db *DB) FindSession(ctx context.Context, id string) (*merchant.Session, error) {
	var r struct {
		ID         string         `db:"id"`
		UserID     sql.NullString `db:"user_id"`
		TerminalID sql.NullString `db:"terminal_id"`
		CSRFToken  string         `db:"csrf_token"`
		Stage      string         `db:"stage"`
		CreatedAt  time.Time      `db:"created_at"`
		LastSeenAt time.Time      `db:"last_seen_at"`
		RemoteAddr string         `db:"remote_addr"`
		UserAgent  string         `db:"user_agent"`
	}
	if err := db.get(ctx, &r, `SELECT id, user_id, terminal_id, csrf_token, stage, created_at, last_seen_at, remote_addr,
		user_agent FROM sessions WHERE id = ?`, id); err != nil {
		return nil, notFound(err, "session")
	}
	s := &merchant.Session{ID: r.ID, UserID: r.UserID.String, TerminalID: r.TerminalID.String, CSRFToken: r.CSRFToken,
		Stage: r.Stage, CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent}
	var err error
	if s.UserID != "" {
		s.User, err = db.FindUser(ctx, s.UserID)
	} else if s.TerminalID != "" {
		s.Terminal, err = db.FindTerminal(ctx, "", s.TerminalID)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// InsertOperatorToken implements merchant.Tx.
func (tx merchantTx) InsertOperatorToken(ctx context.Context, t *merchant.OperatorToken) error {
	_, err := tx.exec(ctx, `INSERT INTO operator_tokens (id, user_id, token_hash, name, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.TokenHash, t.Name, utc(t.CreatedAt))
	return err
}

// FindOperatorToken implements merchant.Storage.
func (db *DB) FindOperatorToken(ctx context.Context, tokenHash string) (*merchant.OperatorToken, error) {
	var r struct {
		ID        string       `db:"id"`
		UserID    string       `db:"user_id"`
		TokenHash string       `db:"token_hash"`
		Name      string       `db:"name"`
		CreatedAt time.Time    `db:"created_at"`
		RevokedAt sql.NullTime `db:"revoked_at"`
	}
	if err := db.get(ctx, &r, `SELECT id, user_id, token_hash, name, created_at, revoked_at FROM operator_tokens
		WHERE token_hash = ?`, tokenHash); err != nil {
		return nil, notFound(err, "operator token")
	}
	return &merchant.OperatorToken{ID: r.ID, UserID: r.UserID, TokenHash: r.TokenHash, Name: r.Name,
		CreatedAt: r.CreatedAt.UTC(), RevokedAt: timePtr(r.RevokedAt)}, nil
}

// InsertSigningKey implements merchant.Tx.
func (tx merchantTx) InsertSigningKey(ctx context.Context, k merchant.SigningKey) error {
	_, err := tx.exec(ctx, `INSERT INTO signing_keys (id, purpose, key_enc, created_at) VALUES (?, ?, ?, ?)`,
		k.ID, k.Purpose, k.KeySealed, utc(k.CreatedAt))
	return err
}

// FindSigningKeys implements merchant.Storage: a purpose's keys, oldest first.
func (db *DB) FindSigningKeys(ctx context.Context, purpose string) ([]merchant.SigningKey, error) {
	var rows []struct {
		ID        string       `db:"id"`
		Purpose   string       `db:"purpose"`
		KeyEnc    string       `db:"key_enc"`
		CreatedAt time.Time    `db:"created_at"`
		RetiredAt sql.NullTime `db:"retired_at"`
	}
	if err := db.sel(ctx, &rows, `SELECT id, purpose, key_enc, created_at, retired_at FROM signing_keys
		WHERE purpose = ? ORDER BY created_at, id`, purpose); err != nil {
		return nil, err
	}
	out := make([]merchant.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = merchant.SigningKey{ID: r.ID, Purpose: r.Purpose, KeySealed: r.KeyEnc, CreatedAt: r.CreatedAt.UTC(), RetiredAt: timePtr(r.RetiredAt)}
	}
	return out, nil
}

const auditColumns = `id, actor_kind, actor_id, actor_name, merchant_id, action, object_type, object_id, before_json,
	after_json, remote_addr, created_at`

type auditRow struct {
	ID         string    `db:"id"`
	ActorKind  string    `db:"actor_kind"`
	ActorID    string    `db:"actor_id"`
	ActorName  string    `db:"actor_name"`
	MerchantID string    `db:"merchant_id"`
	Action     string    `db:"action"`
	ObjectType string    `db:"object_type"`
	ObjectID   string    `db:"object_id"`
	Before     string    `db:"before_json"`
	After      string    `db:"after_json"`
	RemoteAddr string    `db:"remote_addr"`
	CreatedAt  time.Time `db:"created_at"`
}

func (r *auditRow) entry() *merchant.AuditEntry {
	return &merchant.AuditEntry{ID: r.ID, ActorKind: r.ActorKind, ActorID: r.ActorID, ActorName: r.ActorName,
		MerchantID: r.MerchantID, Action: r.Action, ObjectType: r.ObjectType, ObjectID: r.ObjectID, Before: r.Before,
		After: r.After, RemoteAddr: r.RemoteAddr, CreatedAt: r.CreatedAt.UTC()}
}

// InsertAudit implements merchant.Tx.
func (tx merchantTx) InsertAudit(ctx context.Context, e *merchant.AuditEntry) error {
	_, err := tx.exec(ctx, `INSERT INTO audit_log (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.ActorKind, e.ActorID, e.ActorName, e.MerchantID, e.Action, e.ObjectType, e.ObjectID, e.Before, e.After,
		e.RemoteAddr, utc(e.CreatedAt))
	return err
}

// FindAudit implements merchant.Storage.
func (db *DB) FindAudit(ctx context.Context, f merchant.AuditFilter) ([]*merchant.AuditEntry, bool, error) {
	var w where
	w.filter("merchant_id", f.MerchantID)
	w.filter("object_id", f.ObjectID)
	w.filter("actor_id", f.ActorID)
	w.filter("action", f.Action)
	w.filter("object_type", f.ObjectType)
	if f.StartingAfter != "" {
		w.add("id < ?", f.StartingAfter)
	}
	return selectPage(ctx, db, (*auditRow).entry, clampLimit(f.Limit),
		`SELECT `+auditColumns+` FROM audit_log`+w.sql()+` ORDER BY id DESC`, w.args...)
}
