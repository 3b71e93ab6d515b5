package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
)

// settlementTx is a Tx seen through settlement.Tx.
type settlementTx struct{ *Tx }

var _ settlement.Tx = settlementTx{}
var _ settlement.Store = (*SettlementStore)(nil)

// SettlementStore implements settlement.Store.
type SettlementStore struct{ *DB }

// Settlement returns the database as a settlement.Store.
func (db *DB) Settlement() *SettlementStore { return &SettlementStore{db} }

// InTx implements settlement.Store.
func (s *SettlementStore) InTx(ctx context.Context, fn func(tx settlement.Tx) error) error {
	return s.inTx(ctx, func(tx *Tx) error { return fn(settlementTx{tx}) })
}

// settlementLock is the PostgreSQL advisory lock key that serializes settlement runs.
const settlementLock = 7253120

// RunTx implements settlement.Store. On SQLite the transaction holds the database's one write
// lock from BEGIN, which both serializes runs and freezes what they read. On PostgreSQL a
// session advisory lock, taken on the transaction's connection before BEGIN, lets one run at a
// time across every node, and REPEATABLE READ gives the run one snapshot, taken after the lock,
// so that its two passes over the payments see the same rows.
func (s *SettlementStore) RunTx(ctx context.Context, fn func(tx settlement.Tx) error) error {
	if s.dialect != Postgres {
		return s.inTx(ctx, func(tx *Tx) error { return fn(settlementTx{tx}) })
	}
	conn, err := s.w.Connx(ctx)
	if err != nil {
		return translate(fmt.Errorf("settlement run: %w", err))
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, settlementLock); err != nil {
		conn.Close()
		return fmt.Errorf("settlement run: take the lock: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, settlementLock); err != nil {
			// A connection that may still hold the lock must not go back to the pool.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	for attempt := 0; ; attempt++ {
		err := s.runTxOnce(ctx, conn.BeginTxx, fn)
		if err != nil && attempt < 3 && retryable(err) {
			continue
		}
		return err
	}
}

func (s *SettlementStore) runTxOnce(ctx context.Context, begin func(context.Context, *sql.TxOptions) (*sqlx.Tx, error),
	fn func(tx settlement.Tx) error) (err error) {
	stx, err := begin(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	tx := &Tx{tx: stx, db: s.DB, now: s.clock.Now().UTC().Truncate(time.Microsecond)}
	defer func() {
		if p := recover(); p != nil {
			stx.Rollback()
			panic(p)
		}
		if err != nil {
			stx.Rollback()
		}
	}()
	// The run's aggregates and joins hash a day of payments: give them room (one run at a time).
	// Just-in-time compilation costs more than it saves on statements that run once.
	if _, err = stx.ExecContext(ctx, `SET LOCAL work_mem = '64MB'; SET LOCAL jit = off`); err != nil {
		return translate(err)
	}
	if err = fn(settlementTx{tx}); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// once runs a statement in the transaction without the statement cache: for the run's
// statements, whose text changes from day to day, and those that read the run's temporary
// table, which exists only on the transaction's connection.
func (tx settlementTx) once(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, tx.db.q(query), args...)
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// onceGet is once for a query that reads one row.
func (tx settlementTx) onceGet(ctx context.Context, dest any, query string, args ...any) error {
	return translate(tx.tx.GetContext(ctx, dest, tx.db.q(query), args...))
}

// Gateway implements settlement.Tx: the same transaction, seen by the gateway.
func (tx settlementTx) Gateway() gateway.Tx { return gatewayTx(tx) }

// InsertAudit implements settlement.Tx.
func (tx settlementTx) InsertAudit(ctx context.Context, e *merchant.AuditEntry) error {
	_, err := tx.exec(ctx, `INSERT INTO audit_log (id, actor_kind, actor_id, actor_name, merchant_id, action, object_type,
		object_id, before_json, after_json, remote_addr, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.ActorKind, e.ActorID, e.ActorName, e.MerchantID, e.Action, e.ObjectType, e.ObjectID, e.Before, e.After,
		e.RemoteAddr, utc(e.CreatedAt))
	return err
}

// --- days -----------------------------------------------------------------------------------

type dayRow struct {
	Day       string    `db:"day"`
	StartsAt  time.Time `db:"starts_at"`
	EndsAt    time.Time `db:"ends_at"`
	AsOf      time.Time `db:"as_of"`
	Batches   int       `db:"batches"`
	Items     int64     `db:"items"`
	CreatedAt time.Time `db:"created_at"`
}

func (r *dayRow) run() *settlement.DayRun {
	d, _ := settlement.ParseDate("day", r.Day)
	return &settlement.DayRun{Day: d, Start: r.StartsAt.UTC(), End: r.EndsAt.UTC(), AsOf: r.AsOf.UTC(), Batches: r.Batches,
		Items: r.Items, CreatedAt: r.CreatedAt.UTC()}
}

const dayColumns = `day, starts_at, ends_at, as_of, batches, items, created_at`

// DayRun implements settlement.Tx.
func (tx settlementTx) DayRun(ctx context.Context, d settlement.Date) (*settlement.DayRun, error) {
	return selectOne(ctx, tx, (*dayRow).run, "settlement day",
		`SELECT `+dayColumns+` FROM settlement_days WHERE day = ?`, d.String())
}

// LastDayRun implements settlement.Tx.
func (tx settlementTx) LastDayRun(ctx context.Context) (*settlement.DayRun, error) {
	return selectOne(ctx, tx, (*dayRow).run, "settlement day",
		`SELECT `+dayColumns+` FROM settlement_days ORDER BY day DESC LIMIT 1`)
}

// StartDay implements settlement.Tx.
func (tx settlementTx) StartDay(ctx context.Context, r *settlement.DayRun) error {
	_, err := tx.exec(ctx, `INSERT INTO settlement_days (day, starts_at, ends_at, as_of, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.Day.String(), utc(r.Start), utc(r.End), utc(r.AsOf), tx.now)
	return err
}

// FinishDay implements settlement.Tx.
func (tx settlementTx) FinishDay(ctx context.Context, d settlement.Date, s settlement.Stats) error {
	_, err := tx.exec(ctx, `UPDATE settlement_days SET batches = ?, items = ? WHERE day = ?`, s.Batches, s.Items, d.String())
	return err
}

// LastSettledDay implements settlement.Store.
func (db *DB) LastSettledDay(ctx context.Context) (settlement.Date, error) {
	var day string
	if err := db.get(ctx, &day, `SELECT day FROM settlement_days ORDER BY day DESC LIMIT 1`); err != nil {
		return settlement.Date{}, notFound(err, "settlement day")
	}
	return settlement.ParseDate("day", day)
}

// --- batches --------------------------------------------------------------------------------

const batchColumns = `b.id, b.merchant_id, b.day, b.currency, b.mode, b.cycle, b.payout_date, b.item_count, b.payment_count,
	b.refund_count, b.adjustment_count, b.gross, b.refunds, b.fees, b.returned_fees, b.adjustments, b.net, b.carried_in,
	b.carried_out, b.payable, b.status, b.reference, b.paid_at, b.created_at, m.short_name`

type batchRow struct {
	ID              string       `db:"id"`
	MerchantID      string       `db:"merchant_id"`
	Day             string       `db:"day"`
	Currency        string       `db:"currency"`
	Mode            string       `db:"mode"`
	Cycle           string       `db:"cycle"`
	PayoutDate      string       `db:"payout_date"`
	ItemCount       int64        `db:"item_count"`
	PaymentCount    int64        `db:"payment_count"`
	RefundCount     int64        `db:"refund_count"`
	AdjustmentCount int64        `db:"adjustment_count"`
	Gross           int64        `db:"gross"`
	Refunds         int64        `db:"refunds"`
	Fees            int64        `db:"fees"`
	ReturnedFees    int64        `db:"returned_fees"`
	Adjustments     int64        `db:"adjustments"`
	Net             int64        `db:"net"`
	CarriedIn       int64        `db:"carried_in"`
	CarriedOut      int64        `db:"carried_out"`
	Payable         int64        `db:"payable"`
	Status          string       `db:"status"`
	Reference       string       `db:"reference"`
	PaidAt          sql.NullTime `db:"paid_at"`
	CreatedAt       time.Time    `db:"created_at"`
	ShortName       string       `db:"short_name"`
}

func (r *batchRow) batch() *settlement.Batch {
	day, _ := settlement.ParseDate("day", r.Day)
	payout, _ := settlement.ParseDate("payout_date", r.PayoutDate)
	return &settlement.Batch{ID: r.ID, MerchantID: r.MerchantID, Day: day, Currency: qrpay.Currency(r.Currency), Mode: r.Mode,
		Cycle: settlement.Cycle(r.Cycle), PayoutDate: payout, Count: r.ItemCount, PaymentCount: r.PaymentCount,
		RefundCount: r.RefundCount, AdjustmentCount: r.AdjustmentCount, Gross: r.Gross, Refunds: r.Refunds, Fees: r.Fees,
		ReturnedFees: r.ReturnedFees, Adjustments: r.Adjustments, Net: r.Net, CarriedIn: r.CarriedIn, CarriedOut: r.CarriedOut,
		Payable: r.Payable, Status: r.Status, Reference: r.Reference, PaidAt: timePtr(r.PaidAt), CreatedAt: r.CreatedAt.UTC(),
		MerchantName: r.ShortName, Lines: []settlement.Line{}}
}

const lineColumns = `id, batch_id, channel, item_count, payment_count, refund_count, adjustment_count, gross, refunds, fees,
	returned_fees, adjustments, net, bps`

type lineRow struct {
	ID              int64  `db:"id"`
	BatchID         string `db:"batch_id"`
	Channel         string `db:"channel"`
	ItemCount       int64  `db:"item_count"`
	PaymentCount    int64  `db:"payment_count"`
	RefundCount     int64  `db:"refund_count"`
	AdjustmentCount int64  `db:"adjustment_count"`
	Gross           int64  `db:"gross"`
	Refunds         int64  `db:"refunds"`
	Fees            int64  `db:"fees"`
	ReturnedFees    int64  `db:"returned_fees"`
	Adjustments     int64  `db:"adjustments"`
	Net             int64  `db:"net"`
	BPS             int    `db:"bps"`
}

func (r *lineRow) line() settlement.Line {
	return settlement.Line{ID: r.ID, BatchID: r.BatchID, Channel: r.Channel, Count: r.ItemCount, PaymentCount: r.PaymentCount,
		RefundCount: r.RefundCount, AdjustmentCount: r.AdjustmentCount, Gross: r.Gross, Refunds: r.Refunds, Fees: r.Fees,
		ReturnedFees: r.ReturnedFees, Adjustments: r.Adjustments, Net: r.Net, BPS: r.BPS}
}

// withLines loads the lines of batches, ordered by channel.
func withLines(ctx context.Context, q querier, rows []batchRow) ([]*settlement.Batch, error) {
	out := make([]*settlement.Batch, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	index := make(map[string]*settlement.Batch, len(rows))
	ids := make([]any, len(rows))
	for i := range rows {
		out[i] = rows[i].batch()
		index[out[i].ID] = out[i]
		ids[i] = out[i].ID
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		var lines []lineRow
		if err := q.sel(ctx, &lines, `SELECT `+lineColumns+` FROM settlement_lines WHERE batch_id IN (`+placeholders(len(chunk))+`)
			ORDER BY batch_id, channel`, chunk...); err != nil {
			return nil, err
		}
		for i := range lines {
			if b := index[lines[i].BatchID]; b != nil {
				b.Lines = append(b.Lines, lines[i].line())
			}
		}
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// DayBatches implements settlement.Tx.
func (tx settlementTx) DayBatches(ctx context.Context, d settlement.Date) ([]*settlement.Batch, error) {
	var rows []batchRow
	if err := tx.sel(ctx, &rows, `SELECT `+batchColumns+` FROM settlement_batches b JOIN merchants m ON m.id = b.merchant_id
		WHERE b.day = ? ORDER BY b.id`, d.String()); err != nil {
		return nil, err
	}
	return withLines(ctx, tx, rows)
}

// LockBatch implements settlement.Tx.
func (tx settlementTx) LockBatch(ctx context.Context, id string) (*settlement.Batch, error) {
	var r batchRow
	if err := tx.get(ctx, &r, `SELECT `+batchColumns+` FROM settlement_batches b JOIN merchants m ON m.id = b.merchant_id
		WHERE b.id = ?`+forUpdateOf(tx.db, "b"), id); err != nil {
		return nil, notFound(err, "settlement")
	}
	out, err := withLines(ctx, tx, []batchRow{r})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// forUpdateOf locks only the named table's rows of a join on PostgreSQL.
func forUpdateOf(db *DB, alias string) string {
	if db.dialect == Postgres {
		return " FOR UPDATE OF " + alias
	}
	return ""
}

// MarkPaid implements settlement.Tx.
func (tx settlementTx) MarkPaid(ctx context.Context, b *settlement.Batch, reference, paidBy string) error {
	n, err := tx.exec(ctx, `UPDATE settlement_batches SET status = 'paid', reference = ?, paid_at = ?, paid_by = ?
		WHERE id = ? AND status = 'pending'`, reference, tx.now, paidBy, b.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.ECONFLICT, "The settlement changed meanwhile.")
	}
	_, err = tx.exec(ctx, `INSERT INTO settlement_payouts (id, batch_id, amount, currency, reference, paid_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, qrpay.NewID("po", tx.now), b.ID, b.Payable, string(b.Currency), reference, paidBy, tx.now)
	return err
}

// FindBatch implements settlement.Store.
func (db *DB) FindBatch(ctx context.Context, merchantID, id string) (*settlement.Batch, error) {
	var r batchRow
	query := `SELECT ` + batchColumns + ` FROM settlement_batches b JOIN merchants m ON m.id = b.merchant_id WHERE b.id = ?`
	args := []any{id}
	if merchantID != "" {
		query += ` AND b.merchant_id = ?`
		args = append(args, merchantID)
	}
	if err := db.get(ctx, &r, query, args...); err != nil {
		return nil, notFound(err, "settlement")
	}
	out, err := withLines(ctx, db, []batchRow{r})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// FindBatches implements settlement.Store. A negative limit returns every batch that matches.
func (db *DB) FindBatches(ctx context.Context, f settlement.BatchFilter) ([]*settlement.Batch, bool, error) {
	var w where
	w.filter("b.merchant_id", f.MerchantID)
	if !f.Day.IsZero() {
		w.add("b.day = ?", f.Day.String())
	}
	if !f.From.IsZero() {
		w.add("b.day >= ?", f.From.String())
	}
	if !f.To.IsZero() {
		w.add("b.day <= ?", f.To.String())
	}
	w.filter("b.status", f.Status)
	w.filter("b.mode", f.Mode)
	if f.StartingAfter != "" {
		w.add("b.id < ?", f.StartingAfter)
	}
	query := `SELECT ` + batchColumns + ` FROM settlement_batches b JOIN merchants m ON m.id = b.merchant_id` + w.sql() +
		` ORDER BY b.id DESC`
	args := w.args
	limit := -1
	if f.Limit >= 0 {
		limit = clampLimit(f.Limit)
		query += ` LIMIT ?`
		args = append(args, limit+1)
	}
	var rows []batchRow
	if err := db.sel(ctx, &rows, query, args...); err != nil {
		return nil, false, err
	}
	more := limit >= 0 && len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	out, err := withLines(ctx, db, rows)
	return out, more, err
}

// --- items ----------------------------------------------------------------------------------

type itemRow struct {
	ObjectID        string       `db:"object_id"`
	Kind            string       `db:"kind"`
	Amount          int64        `db:"amount"`
	Fee             int64        `db:"fee"`
	BatchID         string       `db:"batch_id"`
	Channel         string       `db:"channel"`
	PaidAt          sql.NullTime `db:"paid_at"`
	SucceededAt     sql.NullTime `db:"succeeded_at"`
	ResolvedAt      sql.NullTime `db:"resolved_at"`
	PaymentID       string       `db:"payment_id"`
	MerchantOrderNo string       `db:"merchant_order_no"`
	ProviderTradeNo string       `db:"provider_trade_no"`
}

func (r *itemRow) item() settlement.Item {
	it := settlement.Item{ObjectID: r.ObjectID, Kind: r.Kind, BatchID: r.BatchID, Channel: r.Channel, Amount: r.Amount,
		Fee: r.Fee, PaymentID: r.PaymentID, MerchantOrderNo: r.MerchantOrderNo, ProviderTradeNo: r.ProviderTradeNo}
	// Read one by one: SQLite gives a COALESCE of times back as text.
	for _, t := range []sql.NullTime{r.PaidAt, r.SucceededAt, r.ResolvedAt} {
		if t.Valid {
			it.At = t.Time.UTC()
			break
		}
	}
	return it
}

// itemSelect reads items with what reports show of their payment, refund or break (times are
// read as columns of their own: SQLite gives a COALESCE of times back as text).
const itemSelect = `SELECT i.object_id, i.kind, i.amount, i.fee, l.batch_id, l.channel,
	p.paid_at, r.succeeded_at, b.resolved_at,
	COALESCE(p.id, r.payment_id, b.payment_id, '') AS payment_id,
	COALESCE(p.merchant_order_no, rp.merchant_order_no, bp.merchant_order_no, '') AS merchant_order_no,
	COALESCE(p.provider_trade_no, rp.provider_trade_no, bp.provider_trade_no, '') AS provider_trade_no
	FROM settlement_items i JOIN settlement_lines l ON l.id = i.line_id
	LEFT JOIN payments p ON i.kind = 'payment' AND p.id = i.object_id
	LEFT JOIN refunds r ON i.kind = 'refund' AND r.id = i.object_id
	LEFT JOIN payments rp ON rp.id = r.payment_id
	LEFT JOIN settlement_breaks b ON i.kind = 'adjustment' AND b.id = i.object_id
	LEFT JOIN payments bp ON bp.id = b.payment_id`

// lineRange returns the ids of a batch's lines, and a condition and arguments selecting their
// items: a range first (which PostgreSQL's block-range index serves), then the exact ids.
func (db *DB) lineRange(ctx context.Context, batchID string) (string, []any, error) {
	var ids []int64
	if err := db.sel(ctx, &ids, `SELECT id FROM settlement_lines WHERE batch_id = ? ORDER BY id`, batchID); err != nil {
		return "", nil, err
	}
	if len(ids) == 0 {
		return "1 = 0", nil, nil
	}
	args := []any{ids[0], ids[len(ids)-1]}
	for _, id := range ids {
		args = append(args, id)
	}
	return `i.line_id >= ? AND i.line_id <= ? AND i.line_id IN (` + placeholders(len(ids)) + `)`, args, nil
}

// FindItems implements settlement.Store.
func (db *DB) FindItems(ctx context.Context, batchID string, f settlement.ItemFilter) ([]settlement.Item, bool, error) {
	cond, args, err := db.lineRange(ctx, batchID)
	if err != nil {
		return nil, false, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	query := itemSelect + ` WHERE ` + cond
	if f.StartingAfter != "" {
		query += ` AND i.object_id > ?`
		args = append(args, f.StartingAfter)
	}
	return selectPage(ctx, db, (*itemRow).item, limit, query+` ORDER BY i.object_id`, args...)
}

// EachItem implements settlement.Store: the items stream from the database, one row at a time.
func (db *DB) EachItem(ctx context.Context, batchID string, fn func(*settlement.Item) error) error {
	cond, args, err := db.lineRange(ctx, batchID)
	if err != nil {
		return err
	}
	rows, err := db.r.QueryxContext(ctx, db.q(itemSelect+` WHERE `+cond+` ORDER BY i.kind, i.object_id`), args...)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	var r itemRow
	for rows.Next() {
		r = itemRow{}
		if err := rows.StructScan(&r); err != nil {
			return translate(err)
		}
		it := r.item()
		if err := fn(&it); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// SettledItem implements settlement.Tx.
func (tx settlementTx) SettledItem(ctx context.Context, objectID string) (*settlement.Item, error) {
	var r struct {
		ObjectID string `db:"object_id"`
		Kind     string `db:"kind"`
		Amount   int64  `db:"amount"`
		Fee      int64  `db:"fee"`
		BatchID  string `db:"batch_id"`
		Channel  string `db:"channel"`
	}
	if err := tx.get(ctx, &r, `SELECT i.object_id, i.kind, i.amount, i.fee, l.batch_id, l.channel FROM settlement_items i
		JOIN settlement_lines l ON l.id = i.line_id WHERE i.object_id = ?`, objectID); err != nil {
		return nil, notFound(err, "settlement item")
	}
	return &settlement.Item{ObjectID: r.ObjectID, Kind: r.Kind, Amount: r.Amount, Fee: r.Fee, BatchID: r.BatchID, Channel: r.Channel}, nil
}

// DayTotals implements settlement.Store.
func (db *DB) DayTotals(ctx context.Context, merchantID, mode string, from, to settlement.Date) ([]settlement.DayTotal, error) {
	var rows []struct {
		Day     string `db:"day"`
		Channel string `db:"channel"`
		Count   int64  `db:"n"`
		Gross   int64  `db:"gross"`
		Net     int64  `db:"net"`
	}
	if err := db.sel(ctx, &rows, `SELECT day, channel, SUM(item_count) AS n, SUM(gross) AS gross, SUM(net) AS net
		FROM settlement_lines WHERE merchant_id = ? AND mode = ? AND day >= ? AND day <= ? GROUP BY day, channel
		ORDER BY day, channel`, merchantID, mode, from.String(), to.String()); err != nil {
		return nil, err
	}
	out := make([]settlement.DayTotal, len(rows))
	for i, r := range rows {
		d, _ := settlement.ParseDate("day", r.Day)
		out[i] = settlement.DayTotal{Day: d, Channel: r.Channel, Count: r.Count, Gross: r.Gross, Net: r.Net}
	}
	return out, nil
}

// EachPayout implements settlement.Store.
func (db *DB) EachPayout(ctx context.Context, upTo settlement.Date, fn func(*settlement.Payout) error) error {
	rows, err := db.r.QueryxContext(ctx, db.q(`SELECT b.id, b.merchant_id, m.legal_name, m.bank_name, m.bank_account_enc,
		m.legal_person_id_enc, m.phone_enc, b.payable, b.currency, b.payout_date
		FROM settlement_batches b JOIN merchants m ON m.id = b.merchant_id
		WHERE b.status = 'pending' AND b.payout_date <= ? ORDER BY b.payout_date, b.id`), upTo.String())
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r struct {
			ID         string `db:"id"`
			MerchantID string `db:"merchant_id"`
			LegalName  string `db:"legal_name"`
			BankName   string `db:"bank_name"`
			Account    string `db:"bank_account_enc"`
			PersonID   string `db:"legal_person_id_enc"`
			Phone      string `db:"phone_enc"`
			Payable    int64  `db:"payable"`
			Currency   string `db:"currency"`
			PayoutDate string `db:"payout_date"`
		}
		if err := rows.StructScan(&r); err != nil {
			return translate(err)
		}
		d, _ := settlement.ParseDate("payout_date", r.PayoutDate)
		if err := fn(&settlement.Payout{BatchID: r.ID, MerchantID: r.MerchantID, LegalName: r.LegalName, BankName: r.BankName,
			BankAccountSealed: r.Account, LegalPersonIDSealed: r.PersonID, PhoneSealed: r.Phone, Amount: r.Payable,
			Currency: qrpay.Currency(r.Currency), PayoutDate: d}); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// --- calendar -------------------------------------------------------------------------------

type holidayRow struct {
	Day  string `db:"day"`
	Kind string `db:"kind"`
	Name string `db:"name"`
}

func holidays(rows []holidayRow) []settlement.Holiday {
	out := make([]settlement.Holiday, len(rows))
	for i, r := range rows {
		d, _ := settlement.ParseDate("day", r.Day)
		out[i] = settlement.Holiday{Date: d, Kind: r.Kind, Name: r.Name}
	}
	return out
}

// Holidays implements settlement.Tx.
func (tx settlementTx) Holidays(ctx context.Context, from, to settlement.Date) ([]settlement.Holiday, error) {
	var rows []holidayRow
	if err := tx.sel(ctx, &rows, `SELECT day, kind, name FROM settlement_calendar WHERE day >= ? AND day <= ? ORDER BY day`,
		from.String(), to.String()); err != nil {
		return nil, err
	}
	return holidays(rows), nil
}

// FindHolidays implements settlement.Store.
func (db *DB) FindHolidays(ctx context.Context, from, to settlement.Date) ([]settlement.Holiday, error) {
	var rows []holidayRow
	if err := db.sel(ctx, &rows, `SELECT day, kind, name FROM settlement_calendar WHERE day >= ? AND day <= ? ORDER BY day`,
		from.String(), to.String()); err != nil {
		return nil, err
	}
	return holidays(rows), nil
}

// PutHoliday implements settlement.Tx.
func (tx settlementTx) PutHoliday(ctx context.Context, h settlement.Holiday) error {
	_, err := tx.exec(ctx, `INSERT INTO settlement_calendar (day, kind, name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, name = excluded.name`, h.Date.String(), h.Kind, h.Name, tx.now)
	return err
}

// DeleteHoliday implements settlement.Tx.
func (tx settlementTx) DeleteHoliday(ctx context.Context, d settlement.Date) error {
	n, err := tx.exec(ctx, `DELETE FROM settlement_calendar WHERE day = ?`, d.String())
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.NotFound("calendar entry")
	}
	return nil
}
