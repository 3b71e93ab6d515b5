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
		case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
			// Text from outside (a filter, a path) with invalid UTF-8 or a NUL byte, which
			// PostgreSQL cannot store or compare: the caller's mistake, not ours.
			return &qrpay.Error{Code: qrpay.EINVALID, Message: "A value is not valid text (invalid UTF-8 or a NUL character).", Err: err}
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

// Statements are prepared once per pool (and, by database/sql, once per connection) and reused:
// SQLite and PostgreSQL then skip parsing and planning on every request, which the hot path
// feels. Dynamic queries (list filters) are cached too, up to maxStmts distinct texts.
const maxStmts = 512

// stmtKey identifies a prepared statement: the pool and the rebound text.
type stmtKey struct {
	pool  *sqlx.DB
	query string
}

// stmt returns the prepared statement of query on pool, or nil when the cache is full.
func (db *DB) stmt(ctx context.Context, pool *sqlx.DB, query string) (*sqlx.Stmt, error) {
	key := stmtKey{pool, query}
	if st, ok := db.stmts.Load(key); ok {
		return st.(*sqlx.Stmt), nil
	}
	if db.nstmts.Load() >= maxStmts {
		return nil, nil
	}
	// Prepared with a context of its own: the statement outlives the request that made it.
	st, err := pool.PreparexContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	db.nstmts.Add(1)
	return st, nil
}

// closeStmts closes the prepared statements.
func (db *DB) closeStmts() {
	db.stmts.Range(func(k, v any) bool {
		v.(*sqlx.Stmt).Close()
		db.stmts.Delete(k)
		return true
	})
}

// txStmt is the statement of query inside the transaction, or nil to run it unprepared. A
// transaction never prepares on the pool itself: on SQLite it holds the pool's only writer
// connection, and on PostgreSQL every connection may be in a transaction that waits the same
// way. So a statement first seen in a transaction runs unprepared while a goroutine prepares it
// for the next time, once a connection is free.
func (tx *Tx) txStmt(ctx context.Context, query string) *sqlx.Stmt {
	key := stmtKey{tx.db.w, query}
	if st, ok := tx.db.stmts.Load(key); ok {
		return tx.tx.StmtxContext(ctx, st.(*sqlx.Stmt))
	}
	if tx.db.nstmts.Load() < maxStmts {
		if _, busy := tx.db.preparing.LoadOrStore(key, true); !busy {
			go func() {
				defer tx.db.preparing.Delete(key)
				pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				tx.db.stmt(pctx, tx.db.w, query)
			}()
		}
	}
	return nil
}

// get, sel and exec run a query in the transaction, rebinding its placeholders.
func (tx *Tx) get(ctx context.Context, dest any, query string, args ...any) error {
	q := tx.db.q(query)
	if st := tx.txStmt(ctx, q); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return tx.tx.GetContext(ctx, dest, q, args...)
}

func (tx *Tx) sel(ctx context.Context, dest any, query string, args ...any) error {
	q := tx.db.q(query)
	if st := tx.txStmt(ctx, q); st != nil {
		return translate(st.SelectContext(ctx, dest, args...))
	}
	return translate(tx.tx.SelectContext(ctx, dest, q, args...))
}

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (int64, error) {
	q := tx.db.q(query)
	st := tx.txStmt(ctx, q)
	var res sql.Result
	var err error
	if st == nil {
		res, err = tx.tx.ExecContext(ctx, q, args...)
	} else {
		res, err = st.ExecContext(ctx, args...)
	}
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// execW runs one statement on the writer pool outside any transaction (it commits alone),
// prepared like the others.
func (db *DB) execW(ctx context.Context, query string, args ...any) (int64, error) {
	q := db.q(query)
	st, err := db.stmt(ctx, db.w, q)
	if err != nil {
		return 0, translate(err)
	}
	var res sql.Result
	if st == nil {
		res, err = db.w.ExecContext(ctx, q, args...)
	} else {
		res, err = st.ExecContext(ctx, args...)
	}
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// get and sel on the reader pool.
func (db *DB) get(ctx context.Context, dest any, query string, args ...any) error {
	q := db.q(query)
	st, err := db.stmt(ctx, db.r, q)
	if err != nil {
		return translate(err)
	}
	if st == nil {
		return db.r.GetContext(ctx, dest, q, args...)
	}
	return st.GetContext(ctx, dest, args...)
}

func (db *DB) sel(ctx context.Context, dest any, query string, args ...any) error {
	q := db.q(query)
	st, err := db.stmt(ctx, db.r, q)
	if err != nil {
		return translate(err)
	}
	if st == nil {
		return translate(db.r.SelectContext(ctx, dest, q, args...))
	}
	return translate(st.SelectContext(ctx, dest, args...))
}

// querier is what both a transaction and the reader pool can run queries on.
type querier interface {
	get(ctx context.Context, dest any, query string, args ...any) error
	sel(ctx context.Context, dest any, query string, args ...any) error
}

// selectOne runs a query for one row and converts it with conv; no row is the ENOTFOUND error of
// kind.
func selectOne[R, T any](ctx context.Context, q querier, conv func(*R) T, kind, query string, args ...any) (T, error) {
	var r R
	if err := q.get(ctx, &r, query, args...); err != nil {
		var zero T
		return zero, notFound(err, kind)
	}
	return conv(&r), nil
}

// selectAll runs a query and converts each row it returns with conv.
func selectAll[R, T any](ctx context.Context, q querier, conv func(*R) T, query string, args ...any) ([]T, error) {
	var rows []R
	if err := q.sel(ctx, &rows, query, args...); err != nil {
		return nil, err
	}
	return convert(rows, conv), nil
}

// selectPage runs a list query, which ends where its LIMIT goes, for a page of at most limit
// rows converted with conv. It asks for one row more to tell whether another page follows.
func selectPage[R, T any](ctx context.Context, q querier, conv func(*R) T, limit int, query string, args ...any) ([]T, bool, error) {
	var rows []R
	if err := q.sel(ctx, &rows, query+` LIMIT ?`, append(args, limit+1)...); err != nil {
		return nil, false, err
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return convert(rows, conv), more, nil
}

// convert converts scanned rows (none is an empty slice, not nil).
func convert[R, T any](rows []R, conv func(*R) T) []T {
	out := make([]T, len(rows))
	for i := range rows {
		out[i] = conv(&rows[i])
	}
	return out
}

// clampLimit bounds a page size to 1..100, defaulting to 20.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 20
	case n > 100:
		return 100
	}
	return n
}

// where is the WHERE clause of a list query, built a condition at a time.
type where struct {
	conds []string
	args  []any
}

// add adds a condition and the values of its placeholders.
func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// filter adds "col = ?" for v, unless v is empty (a filter field that was not set).
func (w *where) filter(col, v string) {
	if v != "" {
		w.add(col+" = ?", v)
	}
}

// sql returns " WHERE cond AND cond ...", or "" when there is no condition.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, " AND ")
}

// scoped adds "AND merchant_id = ?" to a lookup by id when merchantID is set.
func scoped(query, id, merchantID string) (string, []any) {
	if merchantID == "" {
		return query, []any{id}
	}
	return query + ` AND merchant_id = ?`, []any{id, merchantID}
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
