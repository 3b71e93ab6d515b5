package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/store/storetest"
)

func creation(merchantID, order, nonce string, now time.Time) *gateway.PaymentCreation {
	id := qrpay.NewID("pay", now)
	p := &gateway.Payment{ID: id, MerchantID: merchantID, MerchantOrderNo: order, Amount: 100, Currency: qrpay.CNY,
		Status: gateway.StatusCreated, Scene: gateway.SceneQR, Channel: "mockpay", ChannelAccount: "mockpay", Mode: "test",
		ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	return &gateway.PaymentCreation{KeyID: "key", Nonce: nonce, NonceExpires: now.Add(time.Hour), Payment: p,
		Calls: []*gateway.ProviderCall{{ID: qrpay.NewID("pc", now), PaymentID: id, Channel: "mockpay", Op: "create_code", Outcome: "ok", CreatedAt: now}},
		Event: &gateway.Event{ID: qrpay.NewID("evt", now), MerchantID: merchantID, Type: gateway.EventPaymentCreated,
			ObjectType: "payment", ObjectID: id, Data: []byte(`{}`), CreatedAt: now},
		Idempotency: &gateway.IdempotencyRecord{KeyID: "key", Key: "idem-" + order + "-" + nonce, RequestHash: "h", Status: "done",
			ResponseStatus: 201, ResponseBody: []byte(`{}`), ExpiresAt: now.Add(time.Hour)}}
}

// TestCreatePaymentAtomic: creations that arrive together (batched on SQLite, one statement each
// on PostgreSQL) commit or fail one by one: a reused order number or nonce fails alone and
// writes nothing; an inactive merchant writes nothing.
func TestCreatePaymentAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect, nil)
		seedMerchants(t, db, []fxMerchant{{ID: "mch_a"}, {ID: "mch_b"}})
		ctx := context.Background()
		st := db.Gateway()
		now := time.Now().UTC().Truncate(time.Microsecond)
		var wg sync.WaitGroup
		errs := make([]error, 60)
		for i := 0; i < 60; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				// Requests 50-58 reuse the orders of 0-8 (one of each pair fails); request 59
				// replays request 49's nonce with an order of its own (one of the two fails).
				order := fmt.Sprintf("o-%d", i%50)
				nonce := fmt.Sprintf("nonce-%d", i)
				if i == 59 {
					nonce, order = "nonce-49", "o-replay"
				}
				status, err := st.CreatePayment(ctx, creation("mch_a", order, nonce, now))
				if err == nil && status != merchant.StatusActive {
					err = fmt.Errorf("status %s", status)
				}
				errs[i] = err
			}(i)
		}
		wg.Wait()
		ok, dupOrder, replay := 0, 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case qrpay.IsCode(err, qrpay.ECONFLICT) && qrpay.ErrorParam(err) == "merchant_order_no":
				dupOrder++
			case qrpay.IsCode(err, qrpay.ECONFLICT) && qrpay.ErrorParam(err) == "nonce":
				replay++
			default:
				t.Fatalf("creation %d: %v", i, err)
			}
		}
		if ok != 50 || dupOrder != 9 || replay != 1 {
			t.Fatalf("ok %d, duplicate orders %d, replays %d; want 50, 9 and 1", ok, dupOrder, replay)
		}
		// Nothing of the refused creations was written.
		ps, _, err := db.FindPayments(ctx, gateway.PaymentFilter{MerchantID: "mch_a", Limit: 100})
		if err != nil || len(ps) != 50 {
			t.Fatalf("%d payments, %v; want 50", len(ps), err)
		}
		evs, _, err := db.FindEvents(ctx, gateway.EventFilter{MerchantID: "mch_a", Limit: 100})
		if err != nil || len(evs) != 50 {
			t.Fatalf("%d events, %v; want 50", len(evs), err)
		}
		for _, p := range ps {
			if calls, _ := db.FindProviderCalls(ctx, p.ID); len(calls) != 1 {
				t.Fatalf("payment %s has %d provider calls", p.ID, len(calls))
			}
		}
		// A merchant that is not active writes nothing.
		if _, err := db.ExecSettlementFixture(ctx, `UPDATE merchants SET status = 'frozen' WHERE id = 'mch_b'`); err != nil {
			t.Fatal(err)
		}
		status, err := st.CreatePayment(ctx, creation("mch_b", "frozen-1", "nonce-frozen", now))
		if err != nil || status != merchant.StatusFrozen {
			t.Fatalf("frozen merchant: %s %v", status, err)
		}
		var spent []string
		if err := db.QuerySettlementFixture(ctx, &spent, `SELECT nonce FROM api_nonces WHERE nonce = 'nonce-frozen'`); err != nil || len(spent) != 0 {
			t.Fatal("a refused creation spent its nonce")
		}
		if ps, _, _ := db.FindPayments(ctx, gateway.PaymentFilter{MerchantID: "mch_b"}); len(ps) != 0 {
			t.Fatal("a frozen merchant's payment was written")
		}
	})
}

// TestFindRequestKey: a request's key and whether its nonce was used with that key, in one
// read; a nonce used with another key does not count, and an unknown key is ENOTFOUND.
func TestFindRequestKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect, nil)
		ctx := context.Background()
		seedMerchants(t, db, []fxMerchant{{ID: "mch_a"}})
		now := time.Now().UTC().Truncate(time.Microsecond)
		for _, q := range []string{
			`INSERT INTO api_keys (id, merchant_id, mode, secret_enc, status, created_at) VALUES ('key_1', 'mch_a', 'test', 'sealed-1', 'active', ?)`,
			`INSERT INTO api_keys (id, merchant_id, mode, secret_enc, status, created_at) VALUES ('key_2', 'mch_a', 'test', 'sealed-2', 'active', ?)`,
			`INSERT INTO api_nonces (key_id, nonce, expires_at) VALUES ('key_1', 'nonce-used-0000001', ?)`,
		} {
			if _, err := db.ExecSettlementFixture(ctx, q, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			key, nonce string
			seen       bool
		}{{"key_1", "nonce-used-0000001", true}, {"key_1", "nonce-fresh-000001", false}, {"key_2", "nonce-used-0000001", false}} {
			k, seen, err := db.FindRequestKey(ctx, c.key, c.nonce)
			if err != nil || k.ID != c.key || k.MerchantID != "mch_a" || k.SecretSealed == "" || seen != c.seen {
				t.Errorf("%s %s: %+v seen=%v %v; want seen=%v", c.key, c.nonce, k, seen, err, c.seen)
			}
		}
		if _, _, err := db.FindRequestKey(ctx, "key_none", "nonce-used-0000001"); !qrpay.IsCode(err, qrpay.ENOTFOUND) {
			t.Errorf("unknown key: %v", err)
		}
	})
}
