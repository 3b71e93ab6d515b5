package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/settlement"
)

// Reconciliation: statements are saved line by line, then compared with payments and refunds
// set-based (UPDATE ... SET match = (SELECT ...), INSERT INTO settlement_breaks SELECT ...).

// SaveStatement implements settlement.Tx.
func (tx settlementTx) SaveStatement(ctx context.Context, st *settlement.Statement, lines []gateway.StatementLine) error {
	st.ImportedAt = tx.now
	if _, err := tx.exec(ctx, `INSERT INTO settlement_statements (id, provider, account, day, source, sha256, line_count,
		payment_total, refund_total, imported_by, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, account, day) DO UPDATE SET source = excluded.source, sha256 = excluded.sha256,
		line_count = excluded.line_count, payment_total = excluded.payment_total, refund_total = excluded.refund_total,
		imported_by = excluded.imported_by, imported_at = excluded.imported_at`,
		st.ID, st.Provider, st.Account, st.Day.String(), st.Source, st.SHA256, st.Lines, st.PaymentTotal, st.RefundTotal,
		st.ImportedBy, tx.now); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `DELETE FROM settlement_statement_lines WHERE statement_id = ?`, st.ID); err != nil {
		return err
	}
	const chunk = 400
	for start := 0; start < len(lines); start += chunk {
		end := min(start+chunk, len(lines))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO settlement_statement_lines (statement_id, seq, type, provider_trade_no, payment_id,
			refund_id, amount, currency, fee, status, at) VALUES `)
		args := make([]any, 0, (end-start)*11)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			l := lines[i]
			var at any
			if !l.At.IsZero() {
				at = utc(l.At)
			}
			args = append(args, st.ID, i+1, l.Type, l.ProviderTradeNo, l.PaymentID, l.RefundID, l.Amount.Amount,
				string(l.Amount.Currency), l.Fee, l.Status, at)
		}
		if _, err := tx.exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("save statement lines: %w", err)
		}
	}
	return nil
}

// scopeOf is the condition that a payment (aliased a) is one the statement covers.
func scopeOf(alias string, p settlement.MatchParams) (string, []any) {
	if len(p.Accounts) > 0 {
		args := make([]any, len(p.Accounts))
		for i, a := range p.Accounts {
			args[i] = a
		}
		return alias + `.channel_account IN (` + placeholders(len(args)) + `)`, args
	}
	return `(` + alias + `.channel = ? AND ` + alias + `.channel_account <> ? AND ` + alias + `.mode = 'live')`,
		[]any{p.Provider, p.MockAccount}
}

const breakColumns = `id, kind, ref, provider, account, statement_id, day, merchant_id, payment_id, refund_id, provider_trade_no,
	line_type, mode, currency, channel, our_amount, their_amount, our_status, their_status, their_at, hold, status, note, created_at`

// Match implements settlement.Tx.
func (tx settlementTx) Match(ctx context.Context, p settlement.MatchParams) (*settlement.MatchResult, error) {
	res := &settlement.MatchResult{NewBreaks: map[string]int{}}
	sid := p.StatementID
	scope, scopeArgs := scopeOf("p", p)

	// Find our payment of each line: by our id, else by the provider's trade number.
	steps := []struct {
		q    string
		args []any
	}{
		{`UPDATE settlement_statement_lines SET match_payment = (SELECT p.id FROM payments p
			WHERE p.id = settlement_statement_lines.payment_id AND ` + scope + `)
			WHERE statement_id = ? AND payment_id <> ''`, append(append([]any{}, scopeArgs...), sid)},
		{`UPDATE settlement_statement_lines SET match_payment = (SELECT MIN(p.id) FROM payments p
			WHERE p.provider_trade_no = settlement_statement_lines.provider_trade_no AND ` + scope + `)
			WHERE statement_id = ? AND match_payment IS NULL AND provider_trade_no <> ''`, append(append([]any{}, scopeArgs...), sid)},
		{`UPDATE settlement_statement_lines SET match_refund = (SELECT r.id FROM refunds r
			WHERE r.id = settlement_statement_lines.refund_id AND r.payment_id = settlement_statement_lines.match_payment)
			WHERE statement_id = ? AND type = 'refund' AND refund_id <> '' AND match_payment IS NOT NULL`, []any{sid}},
		// A refund qrpay recorded under the provider's own number (the return of a reversal,
		// which the provider lists as "reversal").
		{`UPDATE settlement_statement_lines SET match_refund = (SELECT MIN(r.id) FROM refunds r
			WHERE r.payment_id = settlement_statement_lines.match_payment AND r.provider_refund_no <> ''
			AND r.provider_refund_no = settlement_statement_lines.refund_id)
			WHERE statement_id = ? AND type = 'refund' AND refund_id <> '' AND match_payment IS NOT NULL
			AND match_refund IS NULL`, []any{sid}},
	}
	for _, s := range steps {
		if _, err := tx.exec(ctx, s.q, s.args...); err != nil {
			return nil, fmt.Errorf("match statement: %w", err)
		}
	}

	common := func() []any {
		return []any{p.Provider, strings.Join(p.Accounts, ","), sid, p.Day.String(), tx.now}
	}
	head := `INSERT INTO settlement_breaks (` + breakColumns + `) SELECT ` + tx.db.randomID("brk", "CAST(l.seq AS TEXT)")
	headP := `INSERT INTO settlement_breaks (` + breakColumns + `) SELECT ` + tx.db.randomID("brk", "p.id")
	headR := `INSERT INTO settlement_breaks (` + breakColumns + `) SELECT ` + tx.db.randomID("brk", "r.id")
	ctxCols := `CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT)`
	tail := `, TRUE, 'open', '', ` + tx.db.timeParam()
	lines := `settlement_statement_lines l`
	kinds := []struct {
		kind string
		q    string
		args []any
	}{
		// A success the provider lists for a payment qrpay does not know.
		{settlement.BreakMissingOurs, head + `, 'missing_ours',
			'unknown:' || CAST(? AS TEXT) || ':' || CASE WHEN l.provider_trade_no <> '' THEN l.provider_trade_no ELSE l.payment_id END,
			` + ctxCols + `, '', '', '', l.provider_trade_no, 'payment', '', l.currency, '', 0, l.amount, '', l.status, l.at` + tail + `
			FROM ` + lines + ` WHERE l.statement_id = ? AND l.type = 'payment' AND l.status = 'succeeded'
			AND l.match_payment IS NULL ON CONFLICT (kind, ref) DO NOTHING`,
			append(append([]any{p.Provider}, common()...), sid)},
		// Both list the payment as succeeded, with different amounts or currencies.
		{settlement.BreakAmountMismatch, headP + `, 'amount_mismatch', p.id, ` + ctxCols + `, p.merchant_id, p.id, '',
			l.provider_trade_no, 'payment', p.mode, p.currency, p.channel, p.amount, l.amount, p.status, l.status, l.at` + tail + `
			FROM ` + lines + ` JOIN payments p ON p.id = l.match_payment
			WHERE l.statement_id = ? AND l.type = 'payment' AND l.status = 'succeeded' AND p.status = 'succeeded'
			AND (l.amount <> p.amount OR l.currency <> p.currency) ON CONFLICT (kind, ref) DO NOTHING`,
			append(common(), sid)},
		// qrpay's payment succeeded; the provider lists it as something else only.
		{settlement.BreakStatusMismatch, headP + `, 'status_mismatch', p.id, ` + ctxCols + `, p.merchant_id, p.id, '',
			l.provider_trade_no, 'payment', p.mode, p.currency, p.channel, p.amount, l.amount, p.status, l.status, l.at` + tail + `
			FROM ` + lines + ` JOIN payments p ON p.id = l.match_payment
			WHERE l.statement_id = ? AND l.type = 'payment' AND l.status <> 'succeeded' AND p.status = 'succeeded'
			AND NOT EXISTS (SELECT 1 FROM settlement_statement_lines l2 WHERE l2.statement_id = l.statement_id
				AND l2.type = 'payment' AND l2.status = 'succeeded' AND l2.match_payment = p.id)
			ON CONFLICT (kind, ref) DO NOTHING`,
			append(common(), sid)},
		// qrpay's successes of the day the provider does not list.
		{settlement.BreakMissingTheirs, headP + `, 'missing_theirs', p.id, ` + ctxCols + `, p.merchant_id, p.id, '',
			p.provider_trade_no, 'payment', p.mode, p.currency, p.channel, p.amount, 0, p.status, '', NULL` + tail + `
			FROM payments p WHERE p.paid_at >= ? AND p.paid_at < ? AND p.status = 'succeeded' AND ` + scope + `
			AND NOT EXISTS (SELECT 1 FROM settlement_statement_lines l WHERE l.match_payment = p.id
				AND l.statement_id = ? AND l.type = 'payment')
			ON CONFLICT (kind, ref) DO NOTHING`,
			append(append(append(common(), utc(p.Start), utc(p.End)), scopeArgs...), sid)},
		// A refund the provider lists that qrpay does not have (a reversal's refund of a
		// payment qrpay closed by reversing it is not one).
		{settlement.BreakMissingOurs, head + `, 'missing_ours',
			'refund:' || CAST(? AS TEXT) || ':' || COALESCE(l.match_payment, l.provider_trade_no) || ':' ||
			CASE WHEN l.refund_id <> '' THEN l.refund_id ELSE CAST(l.seq AS TEXT) END,
			` + ctxCols + `, COALESCE(p.merchant_id, ''), COALESCE(p.id, ''),
			CASE WHEN l.refund_id <> '' THEN l.refund_id ELSE '#' || CAST(l.seq AS TEXT) END, l.provider_trade_no, 'refund',
			COALESCE(p.mode, ''), l.currency, COALESCE(p.channel, ''), 0, l.amount, '', l.status, l.at` + tail + `
			FROM ` + lines + ` LEFT JOIN payments p ON p.id = l.match_payment
			WHERE l.statement_id = ? AND l.type = 'refund' AND l.status = 'succeeded' AND l.match_refund IS NULL
			AND NOT (l.refund_id = 'reversal' AND p.id IS NOT NULL AND (',' || p.flags || ',') LIKE '%,reversed,%')
			ON CONFLICT (kind, ref) DO NOTHING`,
			append(append([]any{p.Provider}, common()...), sid)},
		// Both list the refund as succeeded, with different amounts.
		{settlement.BreakAmountMismatch, headR + `, 'amount_mismatch', r.id, ` + ctxCols + `, r.merchant_id, r.payment_id,
			r.id, l.provider_trade_no, 'refund', p.mode, r.currency, p.channel, r.amount, l.amount, r.status, l.status, l.at` + tail + `
			FROM ` + lines + ` JOIN refunds r ON r.id = l.match_refund JOIN payments p ON p.id = r.payment_id
			WHERE l.statement_id = ? AND l.type = 'refund' AND l.status = 'succeeded' AND r.status = 'succeeded'
			AND l.amount <> r.amount ON CONFLICT (kind, ref) DO NOTHING`,
			append(common(), sid)},
		// One side's refund succeeded and the other's did not.
		{settlement.BreakStatusMismatch, headR + `, 'status_mismatch', r.id, ` + ctxCols + `, r.merchant_id, r.payment_id,
			r.id, l.provider_trade_no, 'refund', p.mode, r.currency, p.channel, r.amount, l.amount, r.status, l.status, l.at` + tail + `
			FROM ` + lines + ` JOIN refunds r ON r.id = l.match_refund JOIN payments p ON p.id = r.payment_id
			WHERE l.statement_id = ? AND l.type = 'refund'
			AND ((l.status = 'succeeded' AND r.status <> 'succeeded') OR (l.status <> 'succeeded' AND r.status = 'succeeded'
				AND NOT EXISTS (SELECT 1 FROM settlement_statement_lines l2 WHERE l2.statement_id = l.statement_id
					AND l2.match_refund = r.id AND l2.status = 'succeeded')))
			ON CONFLICT (kind, ref) DO NOTHING`,
			append(common(), sid)},
		// qrpay's refunds of the day the provider does not list.
		{settlement.BreakMissingTheirs, headR + `, 'missing_theirs', r.id, ` + ctxCols + `, r.merchant_id, r.payment_id, r.id,
			p.provider_trade_no, 'refund', p.mode, r.currency, p.channel, r.amount, 0, r.status, '', NULL` + tail + `
			FROM refunds r JOIN payments p ON p.id = r.payment_id
			WHERE r.succeeded_at >= ? AND r.succeeded_at < ? AND r.status = 'succeeded' AND ` + scope + `
			AND NOT EXISTS (SELECT 1 FROM settlement_statement_lines l WHERE l.match_refund = r.id AND l.statement_id = ?)
			ON CONFLICT (kind, ref) DO NOTHING`,
			append(append(append(common(), utc(p.Start), utc(p.End)), scopeArgs...), sid)},
	}
	for _, k := range kinds {
		n, err := tx.exec(ctx, k.q, k.args...)
		if err != nil {
			return nil, fmt.Errorf("record %s breaks: %w", k.kind, err)
		}
		if n > 0 {
			res.NewBreaks[k.kind] += int(n)
		}
	}

	// A break of an earlier day that this statement clears: what was missing at the provider
	// is listed now.
	if _, err := tx.exec(ctx, `UPDATE settlement_breaks SET status = 'resolved', resolution = 'matched', hold = FALSE,
		resolved_by = 'system', resolved_at = ?, note = 'A later statement lists it.'
		WHERE kind = 'missing_theirs' AND status = 'open' AND ref IN (
			SELECT match_payment FROM settlement_statement_lines WHERE statement_id = ? AND type = 'payment'
				AND status = 'succeeded' AND match_payment IS NOT NULL
			UNION SELECT match_refund FROM settlement_statement_lines WHERE statement_id = ? AND type = 'refund'
				AND status = 'succeeded' AND match_refund IS NOT NULL)`, tx.now, sid, sid); err != nil {
		return nil, fmt.Errorf("resolve cleared breaks: %w", err)
	}

	var counts struct {
		Lines   int `db:"lines"`
		Matched int `db:"matched"`
	}
	if err := tx.get(ctx, &counts, `SELECT COUNT(*) AS lines, COALESCE(SUM(CASE
			WHEN l.type = 'payment' AND p.status = 'succeeded' AND l.status = 'succeeded' AND l.amount = p.amount THEN 1
			WHEN l.type = 'refund' AND r.status = 'succeeded' AND l.status = 'succeeded' AND l.amount = r.amount THEN 1
			ELSE 0 END), 0) AS matched
		FROM settlement_statement_lines l LEFT JOIN payments p ON p.id = l.match_payment
		LEFT JOIN refunds r ON r.id = l.match_refund WHERE l.statement_id = ?`, sid); err != nil {
		return nil, translate(err)
	}
	res.Lines, res.Matched = counts.Lines, counts.Matched
	return res, nil
}

// LateSuccesses implements settlement.Tx.
func (tx settlementTx) LateSuccesses(ctx context.Context, statementID string) ([]settlement.LateSuccess, error) {
	var rows []struct {
		PaymentID       string       `db:"match_payment"`
		ProviderTradeNo string       `db:"provider_trade_no"`
		Amount          int64        `db:"amount"`
		Currency        string       `db:"currency"`
		At              sql.NullTime `db:"at"`
		Reversed        bool         `db:"reversed"`
	}
	err := tx.sel(ctx, &rows, `SELECT l.match_payment, l.provider_trade_no, l.amount, l.currency, l.at,
		CASE WHEN (',' || p.flags || ',') LIKE '%,reversed,%' AND (SELECT COALESCE(SUM(l2.amount), 0)
			FROM settlement_statement_lines l2 WHERE l2.statement_id = l.statement_id AND l2.type = 'refund'
			AND l2.status = 'succeeded' AND l2.match_payment = l.match_payment) >= p.amount THEN 1 ELSE 0 END AS reversed
		FROM settlement_statement_lines l JOIN payments p ON p.id = l.match_payment
		WHERE l.statement_id = ? AND l.type = 'payment' AND l.status = 'succeeded' AND p.status <> 'succeeded'
		ORDER BY l.seq`, statementID)
	if err != nil {
		return nil, err
	}
	out := make([]settlement.LateSuccess, 0, len(rows))
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.PaymentID] {
			continue
		}
		seen[r.PaymentID] = true
		ls := settlement.LateSuccess{PaymentID: r.PaymentID, ProviderTradeNo: r.ProviderTradeNo,
			Amount: qrpay.Money{Amount: r.Amount, Currency: qrpay.Currency(r.Currency)}, Reversed: r.Reversed}
		if r.At.Valid {
			ls.At = r.At.Time.UTC()
		}
		out = append(out, ls)
	}
	return out, nil
}

// --- breaks ---------------------------------------------------------------------------------

const breakSelect = `SELECT id, kind, ref, provider, account, statement_id, day, merchant_id, payment_id, refund_id,
	provider_trade_no, line_type, mode, currency, channel, our_amount, their_amount, our_status, their_status, their_at, hold,
	status, resolution, adjustment, note, resolved_by, resolved_at, created_at FROM settlement_breaks`

type breakRow struct {
	ID              string       `db:"id"`
	Kind            string       `db:"kind"`
	Ref             string       `db:"ref"`
	Provider        string       `db:"provider"`
	Account         string       `db:"account"`
	StatementID     string       `db:"statement_id"`
	Day             string       `db:"day"`
	MerchantID      string       `db:"merchant_id"`
	PaymentID       string       `db:"payment_id"`
	RefundID        string       `db:"refund_id"`
	ProviderTradeNo string       `db:"provider_trade_no"`
	LineType        string       `db:"line_type"`
	Mode            string       `db:"mode"`
	Currency        string       `db:"currency"`
	Channel         string       `db:"channel"`
	OurAmount       int64        `db:"our_amount"`
	TheirAmount     int64        `db:"their_amount"`
	OurStatus       string       `db:"our_status"`
	TheirStatus     string       `db:"their_status"`
	TheirAt         sql.NullTime `db:"their_at"`
	Hold            bool         `db:"hold"`
	Status          string       `db:"status"`
	Resolution      string       `db:"resolution"`
	Adjustment      int64        `db:"adjustment"`
	Note            string       `db:"note"`
	ResolvedBy      string       `db:"resolved_by"`
	ResolvedAt      sql.NullTime `db:"resolved_at"`
	CreatedAt       time.Time    `db:"created_at"`
}

func (r *breakRow) brk() *settlement.Break {
	d, _ := settlement.ParseDate("day", r.Day)
	return &settlement.Break{ID: r.ID, Kind: r.Kind, Ref: r.Ref, Provider: r.Provider, Account: r.Account,
		StatementID: r.StatementID, Day: d, MerchantID: r.MerchantID, PaymentID: r.PaymentID, RefundID: r.RefundID,
		ProviderTradeNo: r.ProviderTradeNo, LineType: r.LineType, Mode: r.Mode, Currency: qrpay.Currency(r.Currency),
		Channel: r.Channel, OurAmount: r.OurAmount, TheirAmount: r.TheirAmount, OurStatus: r.OurStatus,
		TheirStatus: r.TheirStatus, TheirAt: timePtr(r.TheirAt), Hold: r.Hold, Status: r.Status, Resolution: r.Resolution, Adjustment: r.Adjustment,
		Note: r.Note, ResolvedBy: r.ResolvedBy, ResolvedAt: timePtr(r.ResolvedAt), CreatedAt: r.CreatedAt.UTC()}
}

// InsertBreak implements settlement.Tx.
func (tx settlementTx) InsertBreak(ctx context.Context, b *settlement.Break) (bool, error) {
	n, err := tx.exec(ctx, `INSERT INTO settlement_breaks (`+breakColumns+`, resolution, adjustment, resolved_by, resolved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, ref) DO NOTHING`,
		b.ID, b.Kind, b.Ref, b.Provider, b.Account, b.StatementID, b.Day.String(), b.MerchantID, b.PaymentID, b.RefundID,
		b.ProviderTradeNo, b.LineType, b.Mode, string(b.Currency), b.Channel, b.OurAmount, b.TheirAmount, b.OurStatus,
		b.TheirStatus, utcPtr(b.TheirAt), b.Hold, b.Status, b.Note, utc(b.CreatedAt), b.Resolution, b.Adjustment, b.ResolvedBy, utcPtr(b.ResolvedAt))
	return n > 0, err
}

// LockBreak implements settlement.Tx.
func (tx settlementTx) LockBreak(ctx context.Context, id string) (*settlement.Break, error) {
	return selectOne(ctx, tx, (*breakRow).brk, "break", breakSelect+` WHERE id = ?`+tx.db.forUpdate(), id)
}

// UpdateBreak implements settlement.Tx.
func (tx settlementTx) UpdateBreak(ctx context.Context, b *settlement.Break, from string) error {
	n, err := tx.exec(ctx, `UPDATE settlement_breaks SET status = ?, resolution = ?, hold = ?, adjustment = ?, note = ?,
		resolved_by = ?, resolved_at = ? WHERE id = ? AND status = ?`,
		b.Status, b.Resolution, b.Hold, b.Adjustment, b.Note, b.ResolvedBy, utcPtr(b.ResolvedAt), b.ID, from)
	if err != nil {
		return err
	}
	if n == 0 {
		return qrpay.Errorf(qrpay.ECONFLICT, "The break changed meanwhile.")
	}
	return nil
}

// FindBreak implements settlement.Store.
func (db *DB) FindBreak(ctx context.Context, id string) (*settlement.Break, error) {
	return selectOne(ctx, db, (*breakRow).brk, "break", breakSelect+` WHERE id = ?`, id)
}

// FindBreaks implements settlement.Store.
func (db *DB) FindBreaks(ctx context.Context, f settlement.BreakFilter) ([]*settlement.Break, bool, error) {
	var w where
	w.filter("status", f.Status)
	w.filter("kind", f.Kind)
	if !f.Day.IsZero() {
		w.add("day = ?", f.Day.String())
	}
	w.filter("merchant_id", f.MerchantID)
	if f.StartingAfter != "" {
		w.add("id < ?", f.StartingAfter)
	}
	return selectPage(ctx, db, (*breakRow).brk, clampLimit(f.Limit), breakSelect+w.sql()+` ORDER BY id DESC`, w.args...)
}

// OpenBreakCounts implements settlement.Store.
func (db *DB) OpenBreakCounts(ctx context.Context, day settlement.Date) (map[string]int, error) {
	query := `SELECT kind, COUNT(*) AS n FROM settlement_breaks WHERE status = 'open'`
	var args []any
	if !day.IsZero() {
		query += ` AND day = ?`
		args = append(args, day.String())
	}
	var rows []struct {
		Kind string `db:"kind"`
		N    int    `db:"n"`
	}
	if err := db.sel(ctx, &rows, query+` GROUP BY kind`, args...); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out, nil
}

// FindStatement implements settlement.Store.
func (db *DB) FindStatement(ctx context.Context, id string) (*settlement.Statement, error) {
	var r struct {
		ID           string    `db:"id"`
		Provider     string    `db:"provider"`
		Account      string    `db:"account"`
		Day          string    `db:"day"`
		Source       string    `db:"source"`
		SHA256       string    `db:"sha256"`
		Lines        int       `db:"line_count"`
		PaymentTotal int64     `db:"payment_total"`
		RefundTotal  int64     `db:"refund_total"`
		ImportedBy   string    `db:"imported_by"`
		ImportedAt   time.Time `db:"imported_at"`
	}
	if err := db.get(ctx, &r, `SELECT id, provider, account, day, source, sha256, line_count, payment_total, refund_total,
		imported_by, imported_at FROM settlement_statements WHERE id = ?`, id); err != nil {
		return nil, notFound(err, "statement")
	}
	d, _ := settlement.ParseDate("day", r.Day)
	return &settlement.Statement{ID: r.ID, Provider: r.Provider, Account: r.Account, Day: d, Source: r.Source,
		SHA256: r.SHA256, Lines: r.Lines, PaymentTotal: r.PaymentTotal, RefundTotal: r.RefundTotal,
		ImportedBy: r.ImportedBy, ImportedAt: r.ImportedAt.UTC()}, nil
}
