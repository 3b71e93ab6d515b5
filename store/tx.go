package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"modernc.org/sqlite"

	"github.com/qrpay/qrpay"
)

// Tx is one database transaction with one timestamp for everything it writes. On SQLite it
// holds the database's write lock from BEGIN (BEGIN IMMEDIATE), so a read followed by a write
// never fails to upgrade; on PostgreSQL rows are locked with FOR UPDATE where a decision depends
// on them.
type Tx struct {
	tx  *sqlx.Tx
	db  *DB
	now time.Time
}

// Now returns the transaction's time.
func (tx *Tx) Now() time.Time { return tx.now }

// inTx runs fn in a transaction on the writer pool and commits it if fn returns nil. A
// PostgreSQL serialization failure or deadlock is retried a few times.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err != nil && attempt < 3 && retryable(err) {
			continue
		}
		return err
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := db.w.BeginTxx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	tx := &Tx{tx: stx, db: db, now: db.clock.Now().UTC().Truncate(time.Microsecond)}
	defer func() {
		if p := recover(); p != nil {
			stx.Rollback()
			panic(p)
		}
		if err != nil {
			stx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// retryable reports PostgreSQL's serialization failures and deadlocks.
func retryable(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// translate turns driver errors into qrpay errors: a unique violation is ECONFLICT, a check
// violation EINVALID, no rows ENOTFOUND; anything else stays as it is (EINTERNAL to callers).
func translate(err error) error {
	if err == nil {
		return nil
	}
	var qe *qrpay.Error
	if errors.As(err, &qe) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &qrpay.Error{Code: qrpay.ENOTFOUND, Message: "Not found.", Err: err}
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &qrpay.Error{Code: qrpay.ECONFLICT, Message: "Already exists.", Param: constraintParam(pe.Constraint), Err: err}
		case "23514":
			return &qrpay.Error{Code: qrpay.EINVALID, Message: "A value is out of range.", Err: err}
		case "23503":
			return &qrpay.Error{Code: qrpay.ENOTFOUND, Message: "A referenced object does not exist.", Err: err}
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
			return &qrpay.Error{Code: qrpay.ECONFLICT, Message: "Already exists.", Param: sqliteUniqueParam(se.Error()), Err: err}
		case 275: // SQLITE_CONSTRAINT_CHECK
			return &qrpay.Error{Code: qrpay.EINVALID, Message: "A value is out of range.", Err: err}
		case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
			return &qrpay.Error{Code: qrpay.ENOTFOUND, Message: "A referenced object does not exist.", Err: err}
		}
	}
	return err
}

// constraintParam names the API field behind a PostgreSQL unique constraint.
func constraintParam(constraint string) string {
	switch {
	case strings.Contains(constraint, "merchant_order_no"):
		return "merchant_order_no"
	case strings.Contains(constraint, "merchant_refund_no"):
		return "merchant_refund_no"
	}
	return ""
}

// sqliteUniqueParam names the API field behind a SQLite unique violation, whose message lists
// the columns ("UNIQUE constraint failed: payments.merchant_id, payments.merchant_order_no").
func sqliteUniqueParam(msg string) string {
	switch {
	case strings.Contains(msg, "merchant_order_no"):
		return "merchant_order_no"
	case strings.Contains(msg, "merchant_refund_no"):
		return "merchant_refund_no"
	}
	return ""
}

// notFound turns sql.ErrNoRows into the ENOTFOUND error of a kind of object.
func notFound(err error, kind string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return qrpay.NotFound(kind)
	}
	return translate(err)
}

// q rebinds "?" placeholders for the dialect.
func (db *DB) q(query string) string {
	if db.dialect == Postgres {
		return sqlx.Rebind(sqlx.DOLLAR, query)
	}
	return query
}

// forUpdate is appended to a SELECT that locks its rows: PostgreSQL locks them; on SQLite the
// transaction already holds the database's write lock.
func (db *DB) forUpdate() string {
	if db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// get, sel and exec run a query in the transaction, rebinding its placeholders.
func (tx *Tx) get(ctx context.Context, dest any, query string, args ...any) error {
	return tx.tx.GetContext(ctx, dest, tx.db.q(query), args...)
}

func (tx *Tx) sel(ctx context.Context, dest any, query string, args ...any) error {
	return translate(tx.tx.SelectContext(ctx, dest, tx.db.q(query), args...))
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, tx.db.q(query), args...)
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// get and sel on the reader pool.
func (db *DB) get(ctx context.Context, dest any, query string, args ...any) error {
	return db.r.GetContext(ctx, dest, db.q(query), args...)
}

func (db *DB) sel(ctx context.Context, dest any, query string, args ...any) error {
	return translate(db.r.SelectContext(ctx, dest, db.q(query), args...))
}

// utc normalises a time for storage: UTC, microseconds (what PostgreSQL keeps), so values
// compare the same on both databases.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// utcPtr is utc for optional times.
func utcPtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := utc(*t)
	return &u
}

// timePtr returns a scanned optional time in UTC.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
