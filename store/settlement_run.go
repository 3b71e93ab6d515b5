package store

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/settlement"
)

// The settlement run, set-based on both databases (settlement's package documentation has the
// rules). It reads the payments once: each kind of item (payments, refunds, adjustments) is one
// INSERT ... SELECT into settlement_items that computes, for every row, its fee and the id of
// the line it belongs to; then one INSERT ... SELECT ... GROUP BY over the day's items makes the
// lines, and another over the lines makes the batches.
//
// A line's id is a number computed from the day, the merchant's number in the run (a small
// temporary table of merchants with their fee rates), the currency, the channel and the mode:
//
//	id = dayNumber·10¹² + merchantNumber·10⁵ + currency·10² + channel·10 + mode
//
// so that an item knows its line before the line exists, and a day's items and lines are one
// range of ids. The run's transaction reads one snapshot (SQLite's write lock, PostgreSQL's
// REPEATABLE READ after the run lock); a check at the end compares the items written with the
// lines' counts. Nothing is loaded into Go but the day's batches.

const (
	dayFactor      = 1_000_000_000_000
	merchantFactor = 100_000
	maxMerchants   = dayFactor/merchantFactor - 1
	// epochDay is day number 0.
	epochDay = "2000-01-01"
)

// lineChannels numbers the channels in line ids (0 is any other).
var lineChannels = func() map[string]int {
	m := map[string]int{}
	for i, ch := range gateway.Channels {
		m[ch] = i + 1
	}
	return m
}()

// lineCurrencies are the currencies' ISO numeric codes in line ids.
var lineCurrencies = func() map[string]int {
	m := map[string]int{}
	for _, c := range []qrpay.Currency{"CNY", "HKD", "USD", "JPY"} {
		if n, err := strconv.Atoi(c.Numeric()); err == nil {
			m[string(c)] = n
		}
	}
	return m
}()

// sortedKeys returns a map's keys in order, for SQL text that does not change from run to run.
func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// caseOf writes CASE expr WHEN 'k' THEN v ... ELSE def END over a map of constants.
func caseOf(expr string, m map[string]int, def string) string {
	var b strings.Builder
	b.WriteString("CASE " + expr)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", k, m[k])
	}
	b.WriteString(" ELSE " + def + " END")
	return b.String()
}

// decodeOf writes the inverse of caseOf: CASE expr WHEN v THEN 'k' ... ELSE ” END.
func decodeOf(expr string, m map[string]int) string {
	var b strings.Builder
	b.WriteString("CASE " + expr)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, " WHEN %d THEN '%s'", m[k], k)
	}
	b.WriteString(" ELSE '' END")
	return b.String()
}

// rateColumn is the column of the run's merchants table with a channel's fee rate.
func rateColumn(channel string) string { return "bps_" + channel }

// runSQL carries a run's parameters into its statements.
type runSQL struct {
	db      *DB
	p       settlement.SettleParams
	dayBase int64
}

func newRunSQL(db *DB, p settlement.SettleParams) *runSQL {
	return &runSQL{db: db, p: p, dayBase: int64(settlement.MustDate(epochDay).DaysUntil(p.Day)) * dayFactor}
}

// lineID is the SQL expression of the line id of an item of merchant m with the currency,
// channel and mode expressions.
func (r *runSQL) lineID(currency, channel, mode string) string {
	return fmt.Sprintf("%d + m.n * %d + %s * 100 + %s * 10 + CASE WHEN %s = 'test' THEN 1 ELSE 0 END", r.dayBase,
		merchantFactor, caseOf(currency, lineCurrencies, "0"), caseOf(channel, lineChannels, "0"), mode)
}

// first reports whether this is the first run ever: stragglers are then everything before it.
func (r *runSQL) first() bool { return r.p.StragglersFrom.IsZero() }

// merchants writes the run's table of merchants: a number each, and the fee rate of each
// channel (the merchant's, else the default).
func (r *runSQL) merchants(ctx context.Context, tx settlementTx) error {
	if _, err := tx.once(ctx, `DROP TABLE IF EXISTS settle_merchants`); err != nil {
		return err
	}
	// CREATE TABLE AS takes no parameters on PostgreSQL: the constants are written in (channel
	// names from gateway.Channels, rates as numbers).
	var cols []string
	for _, ch := range gateway.Channels {
		bps, ok := r.p.Rates[ch]
		if !ok {
			bps = r.p.DefaultRate
		}
		cols = append(cols, fmt.Sprintf(`COALESCE((SELECT fr.bps FROM fee_rates fr WHERE fr.merchant_id = m.id
			AND fr.channel = '%s'), %d) AS %s`, ch, bps, rateColumn(ch)))
	}
	if _, err := tx.once(ctx, `CREATE TEMP TABLE settle_merchants AS SELECT m.id, ROW_NUMBER() OVER (ORDER BY m.id) AS n,
		`+strings.Join(cols, ", ")+` FROM merchants m`); err != nil {
		return err
	}
	// Indexed both ways: payments find their merchant by id, lines theirs by number.
	for _, q := range []string{`CREATE UNIQUE INDEX settle_merchants_id ON settle_merchants (id)`,
		`CREATE UNIQUE INDEX settle_merchants_n ON settle_merchants (n)`} {
		if _, err := tx.once(ctx, q); err != nil {
			return err
		}
	}
	var n int64
	if err := tx.onceGet(ctx, &n, `SELECT COUNT(*) FROM settle_merchants`); err != nil {
		return translate(err)
	}
	if n > maxMerchants {
		return qrpay.Errorf(qrpay.EINTERNAL, "Settlement numbers at most %d merchants in a run.", maxMerchants)
	}
	if r.db.dialect == Postgres {
		_, err := tx.once(ctx, `ANALYZE settle_merchants`)
		return err
	}
	return nil
}

// rate is the fee rate expression of a payment p of merchant m.
func (r *runSQL) rate() string {
	var b strings.Builder
	b.WriteString("CASE p.channel")
	for _, ch := range gateway.Channels {
		fmt.Fprintf(&b, " WHEN '%s' THEN m.%s", ch, rateColumn(ch))
	}
	fmt.Fprintf(&b, " ELSE %d END", r.p.DefaultRate)
	return b.String()
}

// paymentItems is the statement that writes the items of the payments to settle: the day's (P1), the stragglers
// found by time (P2) and those released by a break (P3); the three sets are disjoint.
func (r *runSQL) paymentItems() (string, []any) {
	unheld := ` AND p.status = 'succeeded' AND p.id NOT IN (SELECT hb.payment_id FROM settlement_breaks hb
		WHERE hb.hold AND hb.refund_id = '')`
	unsettled := ` AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = p.id)`
	cols := `SELECT p.id, p.merchant_id, p.currency, p.mode, p.channel, p.amount FROM payments p`
	parts := []string{cols + ` WHERE p.paid_at >= ? AND p.paid_at < ?` + unheld}
	args := []any{utc(r.p.Start), utc(r.p.End)}
	if r.first() {
		parts = append(parts, cols+` WHERE p.paid_at < ?`+unheld+unsettled)
		args = append(args, utc(r.p.Start))
	} else {
		parts = append(parts, cols+` WHERE p.paid_at >= ? AND p.paid_at < ?`+unheld+unsettled,
			cols+` WHERE p.id IN (SELECT rb.payment_id FROM settlement_breaks rb WHERE NOT rb.hold AND rb.payment_id <> '')
			AND p.paid_at < ?`+unheld+unsettled)
		args = append(args, utc(r.p.StragglersFrom), utc(r.p.Start), utc(r.p.StragglersFrom))
	}
	return `INSERT INTO settlement_items (object_id, line_id, kind, amount, fee)
		SELECT p.id, ` + r.lineID("p.currency", "p.channel", "p.mode") + `, 'payment', p.amount,
		(p.amount * ` + r.rate() + ` + 5000) / 10000
		FROM (` + strings.Join(parts, " UNION ALL ") + `) p JOIN settle_merchants m ON m.id = p.merchant_id`, args
}

// refundItems is the statement that writes the items of the refunds to settle, whose payments are settled (earlier
// or by this run): the day's (R1), the stragglers by time (R2), and those released by a break
// on them or their payment (R3). Each refund returns its share of its payment's fee, taken in
// settlement order (settlement.ReturnedFee): what was refunded before it is the sum of its
// payment's refunds settled earlier, then this run's in order of success time and id. The
// payment's item (fee, amount, line) is read by scalar subqueries, index lookups per refund,
// so that no plan scans every payment to join a day's refunds. A refund lands in the line of
// its payment's currency, channel and mode.
func (r *runSQL) refundItems() (string, []any) {
	unheld := ` AND r.status = 'succeeded' AND r.payment_id NOT IN (SELECT hb.payment_id FROM settlement_breaks hb
		WHERE hb.hold AND hb.refund_id = '') AND r.id NOT IN (SELECT hb.refund_id FROM settlement_breaks hb
		WHERE hb.hold AND hb.refund_id <> '')`
	unsettled := ` AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = r.id)`
	cols := `SELECT r.id, r.payment_id, r.merchant_id, r.amount, r.succeeded_at FROM refunds r`
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
	// Sums are cast back to BIGINT: PostgreSQL's SUM of BIGINT is NUMERIC, whose division is
	// not the integer division the rounding needs.
	prev := `CAST((SELECT COALESCE(SUM(pr.amount), 0) FROM refunds pr JOIN settlement_items pri ON pri.object_id = pr.id
		WHERE pr.payment_id = r.payment_id) AS BIGINT)`
	// One lookup of the payment's item gives its fee and its line's last five digits (currency,
	// channel, mode) packed in one number; another its amount.
	item := func(expr string) string {
		return `(SELECT ` + expr + ` FROM settlement_items pi WHERE pi.object_id = r.payment_id AND pi.kind = 'payment')`
	}
	return `INSERT INTO settlement_items (object_id, line_id, kind, amount, fee)
		SELECT c.id, ` + fmt.Sprintf("%d + m.n * %d + c.pfl %% %d", r.dayBase, merchantFactor, merchantFactor) + `, 'refund',
		c.amount, (2 * (c.pfl / ` + fmt.Sprint(merchantFactor) + `) * (c.prev + c.cum) + c.pamount) / (2 * c.pamount)
		- (2 * (c.pfl / ` + fmt.Sprint(merchantFactor) + `) * (c.prev + c.cum - c.amount) + c.pamount) / (2 * c.pamount)
		FROM (SELECT r.id, r.merchant_id, r.amount,
			CAST(SUM(r.amount) OVER (PARTITION BY r.payment_id ORDER BY r.succeeded_at, r.id) AS BIGINT) AS cum,
			` + item(fmt.Sprintf("pi.fee * %d + pi.line_id %% %d", merchantFactor, merchantFactor)) + ` AS pfl,
			` + item("pi.amount") + ` AS pamount, ` + prev + ` AS prev
			FROM (` + strings.Join(parts, " UNION ALL ") + `) r) c
		JOIN settle_merchants m ON m.id = c.merchant_id
		WHERE c.pfl IS NOT NULL`, args
}

// adjustmentItems is the statement that writes the items of the adjustments of resolved breaks
// not settled yet.
func (r *runSQL) adjustmentItems() (string, []any) {
	return `INSERT INTO settlement_items (object_id, line_id, kind, amount, fee)
		SELECT b.id, ` + r.lineID("b.currency", "b.channel", "b.mode") + `, 'adjustment', b.adjustment, 0
		FROM settlement_breaks b JOIN settle_merchants m ON m.id = b.merchant_id
		WHERE b.adjustment <> 0 AND b.resolved_at < ? AND b.merchant_id <> '' AND b.currency <> ''
		AND NOT EXISTS (SELECT 1 FROM settlement_items si WHERE si.object_id = b.id)`, []any{utc(r.p.End)}
}

// lineSums sums items (rows of line_id, kind, amount, fee from src) per line: the
// aggregation a line is made of.
const lineSums = `SELECT s.line_id, COUNT(*) AS item_count,
	SUM(CASE WHEN s.kind = 'payment' THEN 1 ELSE 0 END) AS payment_count,
	SUM(CASE WHEN s.kind = 'refund' THEN 1 ELSE 0 END) AS refund_count,
	SUM(CASE WHEN s.kind = 'adjustment' THEN 1 ELSE 0 END) AS adjustment_count,
	SUM(CASE WHEN s.kind = 'payment' THEN s.amount WHEN s.kind = 'adjustment' AND s.amount > 0 THEN s.amount
		ELSE 0 END) AS gross,
	SUM(CASE WHEN s.kind = 'refund' THEN s.amount WHEN s.kind = 'adjustment' AND s.amount < 0 THEN -s.amount
		ELSE 0 END) AS refunds,
	SUM(CASE WHEN s.kind = 'payment' THEN s.fee ELSE 0 END) AS fees,
	SUM(CASE WHEN s.kind = 'refund' THEN s.fee ELSE 0 END) AS returned_fees,
	SUM(CASE WHEN s.kind = 'adjustment' THEN s.amount ELSE 0 END) AS adjustments,
	SUM(CASE WHEN s.kind = 'payment' THEN s.amount - s.fee WHEN s.kind = 'refund' THEN s.fee - s.amount
		ELSE s.amount END) AS net,
	MAX(CASE WHEN s.kind = 'payment' THEN s.amount ELSE 0 END) AS max_amount`

// upsertLines is the statement that adds sums (rows of lineSums, aliased x) to the day's lines,
// making the lines it does not find: their batch, merchant, currency, channel and mode are
// read back from the line id.
func (r *runSQL) upsertLines(sums string) (string, []any) {
	batch := `'stl_` + r.p.Day.Compact() + `_' || m.id || '_' || lower(y.currency) ||
		CASE WHEN y.mode = 'test' THEN '_test' ELSE '' END`
	var lineRate strings.Builder
	lineRate.WriteString("CASE y.channel")
	for _, ch := range gateway.Channels {
		fmt.Fprintf(&lineRate, " WHEN '%s' THEN m.%s", ch, rateColumn(ch))
	}
	fmt.Fprintf(&lineRate, " ELSE %d END", r.p.DefaultRate)
	add := func(col string) string { return col + ` = settlement_lines.` + col + ` + excluded.` + col }
	return `INSERT INTO settlement_lines (id, batch_id, day, merchant_id, currency, mode, channel, item_count,
		payment_count, refund_count, adjustment_count, gross, refunds, fees, returned_fees, adjustments, net, bps, max_amount)
		SELECT y.line_id, ` + batch + `, CAST(? AS TEXT), m.id, y.currency, y.mode, y.channel, y.item_count, y.payment_count,
		y.refund_count, y.adjustment_count, y.gross, y.refunds, y.fees, y.returned_fees, y.adjustments, y.net, ` + lineRate.String() + `,
		y.max_amount
		FROM (SELECT x.*, (x.line_id - ?) / ? AS n,
			` + decodeOf("(x.line_id % 100000) / 100", lineCurrencies) + ` AS currency,
			` + decodeOf("(x.line_id % 100) / 10", lineChannels) + ` AS channel,
			CASE WHEN x.line_id % 10 = 1 THEN 'test' ELSE 'live' END AS mode
			FROM (` + sums + `) x) y
		JOIN settle_merchants m ON m.n = y.n WHERE TRUE
		ON CONFLICT (id) DO UPDATE SET ` + strings.Join([]string{add("item_count"), add("payment_count"), add("refund_count"),
		add("adjustment_count"), add("gross"), add("refunds"), add("fees"), add("returned_fees"), add("adjustments"), add("net")}, ", ") + `,
			max_amount = CASE WHEN excluded.max_amount > settlement_lines.max_amount THEN excluded.max_amount
				ELSE settlement_lines.max_amount END`, []any{r.p.Day.String(), r.dayBase, merchantFactor}
}

// items runs the statements that write the day's items, sums the day's items into lines, and
// returns how many items were written. Summing by reading the day's items back (one range of
// line ids) is cheaper on PostgreSQL too than summing each statement's rows as it writes them
// (INSERT ... RETURNING in a WITH): 3.9 s against 5.0 s for a million payments.
func (r *runSQL) items(ctx context.Context, tx settlementTx) (int64, error) {
	passes := []struct {
		name string
		sql  func() (string, []any)
	}{{"payments", r.paymentItems}, {"refunds", r.refundItems}, {"adjustments", r.adjustmentItems}}
	var total int64
	for _, pass := range passes {
		t0 := time.Now()
		q, args := pass.sql()
		n, err := tx.once(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("settle %s: %w", pass.name, err)
		}
		total += n
		r.trace(pass.name, t0)
	}
	t0 := time.Now()
	up, upArgs := r.upsertLines(lineSums + ` FROM settlement_items s WHERE s.line_id >= ? AND s.line_id < ? GROUP BY s.line_id`)
	if _, err := tx.once(ctx, up, append(upArgs, r.dayBase, r.dayBase+dayFactor)...); err != nil {
		return 0, fmt.Errorf("settlement lines: %w", err)
	}
	r.trace("lines", t0)
	return total, nil
}

// trace logs how long a step of the run took, at debug level.
func (r *runSQL) trace(what string, t0 time.Time) {
	r.db.log.Debug("settlement step", "day", r.p.Day.String(), "step", what, "took", time.Since(t0))
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
	return tx.once(ctx, `INSERT INTO settlement_breaks (id, kind, ref, provider, account, day, merchant_id, payment_id,
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
	if err := r.merchants(ctx, tx); err != nil {
		return st, fmt.Errorf("settlement merchants: %w", err)
	}
	if st.Items, err = r.items(ctx, tx); err != nil {
		return st, err
	}
	var sums struct {
		Items int64 `db:"items"`
		Max   int64 `db:"max_amount"`
	}
	if err := tx.onceGet(ctx, &sums, `SELECT COALESCE(SUM(item_count), 0) AS items, COALESCE(MAX(max_amount), 0) AS max_amount
		FROM settlement_lines WHERE day = ?`, p.Day.String()); err != nil {
		return st, translate(err)
	}
	if sums.Items != st.Items {
		return st, qrpay.Errorf(qrpay.EINTERNAL, "Settlement of %s: the lines count %d items but %d were written.", p.Day, sums.Items, st.Items)
	}
	st.MaxAmount = sums.Max
	if err := r.batches(ctx, tx); err != nil {
		return st, err
	}
	_, err = tx.once(ctx, `DROP TABLE settle_merchants`)
	return st, err
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
	_, err := tx.once(ctx, q, day, r.p.PayoutDates[settlement.CycleT0].String(), r.p.PayoutDates[settlement.CycleD1].String(),
		r.p.PayoutDates[settlement.CycleT1].String(), tx.now, day, day)
	if err != nil {
		return fmt.Errorf("settlement batches: %w", err)
	}
	return nil
}

// randomID is a SQL expression for a new id with the prefix, for rows made set-based.
func (db *DB) randomID(prefix, salt string) string {
	if db.dialect == Postgres {
		return `'` + prefix + `_' || substr(md5(random()::text || clock_timestamp()::text || ` + salt + `), 1, 21)`
	}
	return `'` + prefix + `_' || lower(hex(randomblob(11)))`
}

// timeParam is a placeholder for a time in a SELECT list, where PostgreSQL cannot infer the
// parameter's type from a column.
func (db *DB) timeParam() string {
	if db.dialect == Postgres {
		return "CAST(? AS TIMESTAMPTZ)"
	}
	return "?"
}
