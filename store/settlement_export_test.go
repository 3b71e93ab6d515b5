package store

import "context"

// ExecSettlementFixture runs a statement on the writer pool, for tests that seed payments,
// refunds and merchants in bulk (placeholders are "?" on both databases).
func (db *DB) ExecSettlementFixture(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// QuerySettlementFixture reads rows for tests that check the database directly.
func (db *DB) QuerySettlementFixture(ctx context.Context, dest any, query string, args ...any) error {
	return db.sel(ctx, dest, query, args...)
}
