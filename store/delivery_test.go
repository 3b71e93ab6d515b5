package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// TestLockDeliveryLocksOnlyTheDelivery: on PostgreSQL, the webhook job's lock of a delivery (read
// joined with its endpoint) must not lock the endpoint's row too. When it did, every delivery
// and every new payment event of a merchant (whose delivery row's foreign key takes a share lock
// on the endpoint) waited for each other: 10-14 ms a statement under load. SQLite has one
// writer, so this concerns PostgreSQL only.
func TestLockDeliveryLocksOnlyTheDelivery(t *testing.T) {
	db := storetest.Open(t, store.Postgres, nil)
	ctx := context.Background()
	seedMerchants(t, db, []fxMerchant{{ID: "mch_a"}})
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := db.ExecSettlementFixture(ctx, `INSERT INTO webhook_endpoints (id, merchant_id, url, secret_enc, created_at)
		VALUES ('we_1', 'mch_a', 'https://example.com/hook', 'x', ?)`, now); err != nil {
		t.Fatal(err)
	}
	deliver := func(ctx context.Context, n string) error {
		return db.Gateway().InTx(ctx, func(tx gateway.Tx) error {
			if err := tx.InsertEvent(ctx, &gateway.Event{ID: "evt_" + n, MerchantID: "mch_a", Type: gateway.EventPaymentSucceeded,
				ObjectType: "payment", ObjectID: "pay_" + n, Data: []byte(`{}`), CreatedAt: now}); err != nil {
				return err
			}
			return tx.InsertDelivery(ctx, &gateway.Delivery{ID: "whd_" + n, EventID: "evt_" + n, EndpointID: "we_1",
				MerchantID: "mch_a", Status: "pending"})
		})
	}
	if err := deliver(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Gateway().InTx(ctx, func(tx gateway.Tx) error {
			d, err := tx.LockDelivery(ctx, "whd_1")
			if err != nil {
				close(locked)
				return err
			}
			if d.EndpointURL != "https://example.com/hook" {
				t.Errorf("locked delivery %+v", d)
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	// While the first delivery is locked, another event's delivery to the same endpoint is
	// written at once.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := deliver(wctx, "2")
	cancel()
	close(release)
	if err != nil {
		t.Fatalf("a new delivery waited for another's lock: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindDelivery(ctx, "mch_a", "whd_2"); qrpay.ErrorCode(err) != "" {
		t.Fatal(err)
	}
}
