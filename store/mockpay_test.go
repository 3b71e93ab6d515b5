package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/store/storetest"
)

// TestMockRecordNotified: recording delivered callbacks counts them, leaves the next one due at
// once while more are owed and none after, never goes below zero owed, and finds no unknown
// trade.
func TestMockRecordNotified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		now := time.Now().UTC().Truncate(time.Second)
		db := storetest.Open(t, dialect, qrpay.NewFakeClock(now))
		ctx := context.Background()
		st := db.Mock()
		later := now.Add(30 * time.Second)
		tr := &mockpay.Trade{OutTradeNo: "pay_1", TradeNo: "T1", Kind: "qr", Amount: 100, Currency: "CNY",
			Status: mockpay.TradeSuccess, ExpiresAt: now.Add(time.Hour), CreatedAt: now, PaidAt: &now,
			NotifyAt: &later, NotifiesDue: 2}
		record := func(sent int) error {
			return st.RecordNotified(ctx, "pay_1", sent)
		}
		check := func(count, due int, at *time.Time) {
			t.Helper()
			got, err := st.MockTrade(ctx, "pay_1")
			if err != nil {
				t.Fatal(err)
			}
			if got.NotifyCount != count || got.NotifiesDue != due || (got.NotifyAt == nil) != (at == nil) ||
				(at != nil && !got.NotifyAt.Equal(*at)) {
				t.Errorf("count %d due %d at %v, want %d %d %v", got.NotifyCount, got.NotifiesDue, got.NotifyAt, count, due, at)
			}
		}
		if err := st.InTx(ctx, func(tx mockpay.Tx) error { return tx.InsertMockTrade(ctx, tr) }); err != nil {
			t.Fatal(err)
		}
		if err := record(1); err != nil {
			t.Fatal(err)
		}
		check(1, 1, &now)
		if err := record(3); err != nil {
			t.Fatal(err)
		}
		check(4, 0, nil)
		if err := st.RecordNotified(ctx, "pay_2", 1); !qrpay.IsCode(err, qrpay.ENOTFOUND) {
			t.Errorf("unknown trade: %v", err)
		}
	})
}

// TestMockInsertTradeIfNew: the first scan's insert writes a trade once; a second one with the
// same out_trade_no writes nothing and says so.
func TestMockInsertTradeIfNew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect, nil)
		ctx := context.Background()
		st := db.Mock()
		now := time.Now().UTC().Truncate(time.Second)
		tr := &mockpay.Trade{OutTradeNo: "pay_1", TradeNo: "T1", Kind: "qr", Amount: 100, Currency: "CNY",
			Status: mockpay.TradeSuccess, Payer: "first", ExpiresAt: now.Add(time.Hour), CreatedAt: now, PaidAt: &now}
		if fresh, err := st.InsertMockTradeIfNew(ctx, tr); err != nil || !fresh {
			t.Fatalf("first insert: %v, %v", fresh, err)
		}
		again := *tr
		again.Payer, again.Status = "second", mockpay.TradeFailed
		if fresh, err := st.InsertMockTradeIfNew(ctx, &again); err != nil || fresh {
			t.Fatalf("second insert: %v, %v; want nothing written", fresh, err)
		}
		got, err := st.MockTrade(ctx, "pay_1")
		if err != nil || got.Payer != "first" || got.Status != mockpay.TradeSuccess {
			t.Fatalf("trade %+v, %v", got, err)
		}
	})
}
