package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/settlement"
)

// The settlement run, set-based on both databases (settlement's package documentation has the
// rules). Each kind of item goes through two statements that read the same source query: an
// INSERT ... SELECT ... GROUP BY that adds the source's sums to the day's lines (one per
// batch and channel), then an INSERT ... SELECT that links each source row to its line as an
// item. The run's transaction reads one snapshot (SQLite's write lock, PostgreSQL's REPEATABLE
// READ after the run lock), so both statements see the same rows; a check after each pass
// compares the items written with the lines' counts. Batches are then summed from their lines.
//
// Nothing is loaded into Go but the day's batches (one per merchant, currency and mode).

// randomID is a SQL expression for a new id with the prefix, for rows made set-based.
func (db *DB) randomID(prefix, salt string) string {
	if db.dialect == Postgres {
		return `'` + prefix + `_' || substr(md5(random()::text || clock_timestamp()::text || ` + salt + `), 1, 21)`
	}
	return `'` + prefix + `_' || lower(hex(randomblob(11)))`
}

// runSQL carries a run's parameters into its statements.
type runSQL struct {
	db   *DB
	p    settlement.SettleParams
	rate string // the fee rate expression of payment p joined with fee_rates fr
	args []any  // the rate expression's arguments
}

func newRunSQL(db *DB, p settlement.SettleParams) *runSQL {
	r := &runSQL{db: db, p: p}
	channels := make([]string, 0, len(p.Rates))
	for ch := range p.Rates {
		channels = append(channels, ch)
	}
	sort.Strings(channels)
	var b strings.Builder
	b.WriteString("COALESCE(fr.bps, CASE p.channel")
	for _, ch := range channels {
		b.WriteString(" WHEN ? THEN CAST(? AS INTEGER)")
		r.args = append(r.args, ch, p.Rates[ch])
	}
	b.WriteString(" ELSE CAST(? AS INTEGER) END)")
	r.args = append(r.args, p.DefaultRate)
	r.rate = b.String()
	return r
}

// batchID is the SQL form of settlement.BatchID over the given columns.
func (r *runSQL) batchID(merchant, currency, mode string) string {
	return `'stl_` + r.p.Day.Compact() + `_' || ` + merchant + ` || '_' || lower(` + currency + `) || CASE WHEN ` + mode +
		` = 'test' THEN '_test' ELSE '' END`
}

// first reports whether this is the first run ever: stragglers are then everything before it.
func (r *runSQL) first() bool { return r.p.StragglersFrom.IsZero() }

// paymentSource selects the payments to settle: the day's (P1), the stragglers found by time
// (P2) and those released by a break (P3); the three sets are disjoint. Columns: object_id,
// kind, batch_id, merchant_id, currency, mode, channel, amount, fee, bps.
func (r *runSQL) paymentSource() (string, []any) {
	unheld := ` AND p.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM settlement_breaks hb WHERE hb.hold AND hb.payment_id = p.id)`
	unsettled := ` AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = p.id)`
	parts := []string{`SELECT p.id, p.merchant_id, p.currency, p.mode, p.channel, p.amount FROM payments p
		WHERE p.paid_at >= ? AND p.paid_at < ?` + unheld}
	args := []any{utc(r.p.Start), utc(r.p.End)}
	if r.first() {
		parts = append(parts, `SELECT p.id, p.merchant_id, p.currency, p.mode, p.channel, p.amount FROM payments p
			WHERE p.paid_at < ?`+unheld+unsettled)
		args = append(args, utc(r.p.Start))
	} else {
		parts = append(parts, `SELECT p.id, p.merchant_id, p.currency, p.mode, p.channel, p.amount FROM payments p
			WHERE p.paid_at >= ? AND p.paid_at < ?`+unheld+unsettled,
			`SELECT p.id, p.merchant_id, p.currency, p.mode, p.channel, p.amount FROM payments p
			WHERE p.id IN (SELECT rb.payment_id FROM settlement_breaks rb WHERE NOT rb.hold AND rb.payment_id <> '')
			AND p.paid_at < ?`+unheld+unsettled)
		args = append(args, utc(r.p.StragglersFrom), utc(r.p.Start), utc(r.p.StragglersFrom))
	}
	q := `SELECT p.id AS object_id, 'payment' AS kind, ` + r.batchID("p.merchant_id", "p.currency", "p.mode") + ` AS batch_id,
		p.merchant_id, p.currency, p.mode, p.channel, p.amount, (p.amount * ` + r.rate + ` + 5000) / 10000 AS fee,
		` + r.rate + ` AS bps
		FROM (` + strings.Join(parts, " UNION ALL ") + `) p
		LEFT JOIN fee_rates fr ON fr.merchant_id = p.merchant_id AND fr.channel = p.channel`
	out := append([]any{}, r.args...)
	out = append(out, r.args...)
	// The batch id and rate expressions come before the parts' arguments in the text.
	return q, append(out, args...)
}

// refundSource selects the refunds to settle, whose payments are settled (earlier or by this
// run): the day's (R1), the stragglers by time (R2), and those released by a break on them or
// their payment (R3). Each refund returns its share of its payment's fee, taken in settlement
// order (settlement.ReturnedFee): what was settled before it comes from the items of its
// payment's earlier refunds, and the refunds of this run are ordered by success time and id.
func (r *runSQL) refundSource() (string, []any) {
	unheld := ` AND r.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM settlement_breaks hb WHERE hb.hold
		AND hb.payment_id = r.payment_id AND (hb.refund_id = '' OR hb.refund_id = r.id))`
	unsettled := ` AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = r.id)`
	cols := `SELECT r.id, r.payment_id, r.merchant_id, r.currency, r.amount, r.succeeded_at FROM refunds r`
	parts := []string{cols + ` WHERE r.succeeded_at >= ? AND r.succeeded_at < ?` + unheld}
	args := []any{utc(r.p.Start), utc(r.p.End)}
	if r.first() {
		parts = append(parts, cols+` WHERE r.succeeded_at < ?`+unheld+unsettled)
		args = append(args, utc(r.p.Start))
	} else {
		parts = append(parts, cols+` WHERE r.succeeded_at >= ? AND r.succeeded_at < ?`+unheld+unsettled,
			cols+` WHERE r.succeeded_at < ? AND (r.payment_id IN (SELECT rb.payment_id FROM settlement_breaks rb
				WHERE NOT rb.hold AND rb.payment_id <> '') OR r.id IN (SELECT rb.refund_id FROM settlement_breaks rb
				WHERE NOT rb.hold AND rb.refund_id <> ''))`+unheld+unsettled)
		args = append(args, utc(r.p.StragglersFrom), utc(r.p.Start), utc(r.p.StragglersFrom))
	}
	// prev: what of the payment was refunded in earlier batches.
	// Sums are cast back to BIGINT: PostgreSQL's SUM of BIGINT is NUMERIC, whose division is
	// not the integer division the rounding needs.
	prev := `CAST((SELECT COALESCE(SUM(pr.amount), 0) FROM refunds pr JOIN settlement_items pri ON pri.object_id = pr.id
		WHERE pr.payment_id = c.payment_id) AS BIGINT)`
	q := `SELECT c.id AS object_id, 'refund' AS kind, ` + r.batchID("c.merchant_id", "c.currency", "pay.mode") + ` AS batch_id,
		c.merchant_id, c.currency, pay.mode, pay.channel, c.amount,
		(2 * pi.fee * (` + prev + ` + c.cum) + pi.amount) / (2 * pi.amount)
		- (2 * pi.fee * (` + prev + ` + c.cum - c.amount) + pi.amount) / (2 * pi.amount) AS fee,
		0 AS bps
		FROM (SELECT r.id, r.payment_id, r.merchant_id, r.currency, r.amount,
			CAST(SUM(r.amount) OVER (PARTITION BY r.payment_id ORDER BY r.succeeded_at, r.id) AS BIGINT) AS cum
			FROM (` + strings.Join(parts, " UNION ALL ") + `) r) c
		JOIN settlement_items pi ON pi.object_id = c.payment_id AND pi.kind = 'payment'
		JOIN payments pay ON pay.id = c.payment_id`
	return q, args
}

// adjustmentSource selects the adjustments of resolved breaks not settled yet.
func (r *runSQL) adjustmentSource() (string, []any) {
	q := `SELECT b.id AS object_id, 'adjustment' AS kind, ` + r.batchID("b.merchant_id", "b.currency", "b.mode") + ` AS batch_id,
		b.merchant_id, b.currency, b.mode, b.channel, b.adjustment AS amount, 0 AS fee, 0 AS bps
		FROM settlement_breaks b WHERE b.adjustment <> 0 AND b.resolved_at < ? AND b.merchant_id <> '' AND b.currency <> ''
		AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = b.id)`
	return q, []any{utc(r.p.End)}
}

// lineSums are the line columns a pass adds, computed over a source aliased s.
const lineSums = `COUNT(*),
	SUM(CASE WHEN s.kind = 'payment' THEN 1 ELSE 0 END),
	SUM(CASE WHEN s.kind = 'refund' THEN 1 ELSE 0 END),
	SUM(CASE WHEN s.kind = 'adjustment' THEN 1 ELSE 0 END),
	SUM(CASE WHEN s.kind = 'payment' THEN s.amount WHEN s.kind = 'adjustment' AND s.amount > 0 THEN s.amount ELSE 0 END),
	SUM(CASE WHEN s.kind = 'refund' THEN s.amount WHEN s.kind = 'adjustment' AND s.amount < 0 THEN -s.amount ELSE 0 END),
	SUM(CASE WHEN s.kind = 'payment' THEN s.fee ELSE 0 END),
	SUM(CASE WHEN s.kind = 'refund' THEN s.fee ELSE 0 END),
	SUM(CASE WHEN s.kind = 'adjustment' THEN s.amount ELSE 0 END),
	SUM(CASE WHEN s.kind = 'payment' THEN s.amount - s.fee WHEN s.kind = 'refund' THEN s.fee - s.amount ELSE s.amount END),
	MAX(s.bps), MAX(s.amount)`

// pass settles one source: it adds the source's sums to the lines, then links its rows to the
// lines as items, and returns how many items it wrote.
func (r *runSQL) pass(ctx context.Context, tx settlementTx, source string, args []any) (int64, error) {
	day := r.p.Day.String()
	lines := `INSERT INTO settlement_lines (batch_id, day, merchant_id, currency, mode, channel, item_count, payment_count,
		refund_count, adjustment_count, gross, refunds, fees, returned_fees, adjustments, net, bps, max_amount)
		SELECT s.batch_id, CAST(? AS TEXT), s.merchant_id, s.currency, s.mode, s.channel, ` + lineSums + `
		FROM (` + source + `) s WHERE TRUE
		GROUP BY s.batch_id, s.merchant_id, s.currency, s.mode, s.channel
		ON CONFLICT (batch_id, channel) DO UPDATE SET
			item_count = settlement_lines.item_count + excluded.item_count,
			payment_count = settlement_lines.payment_count + excluded.payment_count,
			refund_count = settlement_lines.refund_count + excluded.refund_count,
			adjustment_count = settlement_lines.adjustment_count + excluded.adjustment_count,
			gross = settlement_lines.gross + excluded.gross,
			refunds = settlement_lines.refunds + excluded.refunds,
			fees = settlement_lines.fees + excluded.fees,
			returned_fees = settlement_lines.returned_fees + excluded.returned_fees,
			adjustments = settlement_lines.adjustments + excluded.adjustments,
			net = settlement_lines.net + excluded.net,
			bps = CASE WHEN excluded.bps > settlement_lines.bps THEN excluded.bps ELSE settlement_lines.bps END,
			max_amount = CASE WHEN excluded.max_amount > settlement_lines.max_amount THEN excluded.max_amount
				ELSE settlement_lines.max_amount END`
	if _, err := tx.exec(ctx, lines, append([]any{day}, args...)...); err != nil {
		return 0, fmt.Errorf("settlement lines: %w", err)
	}
	items := `INSERT INTO settlement_items (object_id, line_id, kind, amount, fee)
		SELECT s.object_id, l.id, s.kind, s.amount, s.fee FROM (` + source + `) s
		JOIN settlement_lines l ON l.batch_id = s.batch_id AND l.channel = s.channel`
	n, err := tx.exec(ctx, items, args...)
	if err != nil {
		return 0, fmt.Errorf("settlement items: %w", err)
	}
	return n, nil
}

// holdFlagged opens an amount_mismatch break for each unsettled payment the gateway flagged
// amount_mismatch within the run's reach, so that it is held until an operator resolves it.
func (r *runSQL) holdFlagged(ctx context.Context, tx settlementTx) (int64, error) {
	cond := `p.paid_at < ?`
	args := []any{r.p.Day.String(), tx.now, utc(r.p.End)}
	if !r.first() {
		cond = `p.paid_at >= ? AND p.paid_at < ?`
		args = []any{r.p.Day.String(), tx.now, utc(r.p.StragglersFrom), utc(r.p.End)}
	}
	return tx.exec(ctx, `INSERT INTO settlement_breaks (id, kind, ref, provider, account, day, merchant_id, payment_id,
		provider_trade_no, line_type, mode, currency, channel, our_amount, their_amount, our_status, their_status, hold, status,
		note, created_at)
		SELECT `+r.db.randomID("brk", "p.id")+`, 'amount_mismatch', p.id, p.channel, p.channel_account, CAST(? AS TEXT),
		p.merchant_id, p.id, p.provider_trade_no, 'payment', p.mode, p.currency, p.channel, p.amount, 0, p.status, '', TRUE,
		'open', 'The gateway flagged this payment: ' || p.failure_reason, `+r.db.timeParam()+`
		FROM payments p WHERE p.flags <> '' AND `+cond+` AND p.status = 'succeeded'
		AND (',' || p.flags || ',') LIKE '%,amount_mismatch,%'
		AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = p.id)
		ON CONFLICT (kind, ref) DO NOTHING`, args...)
}

// Settle implements settlement.Tx.
func (tx settlementTx) Settle(ctx context.Context, p settlement.SettleParams) (settlement.Stats, error) {
	var st settlement.Stats
	r := newRunSQL(tx.db, p)
	held, err := r.holdFlagged(ctx, tx)
	if err != nil {
		return st, fmt.Errorf("hold flagged payments: %w", err)
	}
	st.Held = held
	sources := []func() (string, []any){r.paymentSource, r.refundSource, r.adjustmentSource}
	for _, src := range sources {
		q, args := src()
		n, err := r.pass(ctx, tx, q, args)
		if err != nil {
			return st, err
		}
		st.Items += n
		var counted int64
		if err := tx.get(ctx, &counted, `SELECT COALESCE(SUM(item_count), 0) FROM settlement_lines WHERE day = ?`, p.Day.String()); err != nil {
			return st, translate(err)
		}
		if counted != st.Items {
			return st, qrpay.Errorf(qrpay.EINTERNAL, "Settlement of %s: the lines count %d items but %d were linked.", p.Day, counted, st.Items)
		}
	}
	if err := tx.get(ctx, &st.MaxAmount, `SELECT COALESCE(MAX(max_amount), 0) FROM settlement_lines WHERE day = ?`, p.Day.String()); err != nil {
		return st, translate(err)
	}
	if err := r.batches(ctx, tx); err != nil {
		return st, err
	}
	return st, nil
}

// batches sums the day's lines into batches, carrying in the previous batch's debt, and sets
// each batch's payable amount, status and payout date.
func (r *runSQL) batches(ctx context.Context, tx settlementTx) error {
	day := r.p.Day.String()
	total := `(x.net + x.carried_in)`
	q := `INSERT INTO settlement_batches (id, merchant_id, day, currency, mode, cycle, payout_date, item_count, payment_count,
		refund_count, adjustment_count, gross, refunds, fees, returned_fees, adjustments, net, carried_in, carried_out, payable,
		status, created_at)
		SELECT x.batch_id, x.merchant_id, CAST(? AS TEXT), x.currency, x.mode, x.cycle,
		CASE x.cycle WHEN 'T0' THEN CAST(? AS TEXT) WHEN 'D1' THEN CAST(? AS TEXT) ELSE CAST(? AS TEXT) END,
		x.item_count, x.payment_count, x.refund_count, x.adjustment_count, x.gross, x.refunds, x.fees, x.returned_fees,
		x.adjustments, x.net, x.carried_in,
		CASE WHEN ` + total + ` < 0 THEN ` + total + ` ELSE 0 END,
		CASE WHEN ` + total + ` > 0 THEN ` + total + ` ELSE 0 END,
		CASE WHEN x.mode = 'test' THEN 'test' WHEN ` + total + ` < 0 THEN 'carried' WHEN ` + total + ` = 0 THEN 'zero'
			ELSE 'pending' END,
		` + r.db.timeParam() + `
		FROM (SELECT l.batch_id, l.merchant_id, l.currency, l.mode,
			CASE m.settlement_cycle WHEN 'T0' THEN 'T0' WHEN 'D1' THEN 'D1' ELSE 'T1' END AS cycle,
			SUM(l.item_count) AS item_count, SUM(l.payment_count) AS payment_count, SUM(l.refund_count) AS refund_count,
			SUM(l.adjustment_count) AS adjustment_count, SUM(l.gross) AS gross, SUM(l.refunds) AS refunds,
			SUM(l.fees) AS fees, SUM(l.returned_fees) AS returned_fees, SUM(l.adjustments) AS adjustments,
			SUM(l.net) AS net,
			COALESCE((SELECT pb.carried_out FROM settlement_batches pb WHERE pb.merchant_id = l.merchant_id
				AND pb.currency = l.currency AND pb.mode = l.mode AND pb.day < ? ORDER BY pb.day DESC LIMIT 1), 0) AS carried_in
			FROM settlement_lines l JOIN merchants m ON m.id = l.merchant_id
			WHERE l.day = ? GROUP BY l.batch_id, l.merchant_id, l.currency, l.mode, m.settlement_cycle) x`
	_, err := tx.exec(ctx, q, day, r.p.PayoutDates[settlement.CycleT0].String(), r.p.PayoutDates[settlement.CycleD1].String(),
		r.p.PayoutDates[settlement.CycleT1].String(), tx.now, day, day)
	if err != nil {
		return fmt.Errorf("settlement batches: %w", err)
	}
	return nil
}

// timeParam is a placeholder for a time in a SELECT list, where PostgreSQL cannot infer the
// parameter's type from a column.
func (db *DB) timeParam() string {
	if db.dialect == Postgres {
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}
