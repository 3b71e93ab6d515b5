package store_test

import (
	"context"
	"testing"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

func TestMigrateTwiceIsANoOp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cfg := storetest.Config(t, dialect)
		for i := 0; i < 2; i++ {
			db, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrate #%d: %v", i+1, err)
			}
			if err := db.Ready(ctx); err != nil {
				t.Fatalf("ready after migrate #%d: %v", i+1, err)
			}
			if n, err := db.Pending(ctx); err != nil || n != 0 {
				t.Fatalf("pending = %d, %v", n, err)
			}
			db.Close()
		}
	})
}

func TestReadyFailsBeforeMigrate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cfg := storetest.Config(t, dialect)
		if dialect == store.Postgres {
			// The test database comes from a migrated template; make an empty one instead.
			cfg.DatabaseURL = storetest.NewEmptyPostgres(t)
		}
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ready(ctx); err == nil {
			t.Fatal("Ready on an unmigrated database = nil, want an error")
		}
	})
}

func TestOpenRejectsOtherURLs(t *testing.T) {
	_, err := store.Open(context.Background(), store.Config{DatabaseURL: "mysql://localhost/x"})
	if qrpay.ErrorCode(err) != qrpay.EINVALID || qrpay.ErrorParam(err) != "database-url" {
		t.Fatalf("err = %v, want invalid database-url", err)
	}
}
