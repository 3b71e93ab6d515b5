// Package storetest opens real databases for tests: a SQLite file in a temporary directory, and,
// when QRPAY_TEST_DATABASE_URL names a PostgreSQL server, a fresh database of its own on that
// server, created from a migrated template and dropped when the test ends. Under CI=true a test
// that asks for PostgreSQL fails instead of skipping when the URL is missing.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/migrations"
	"github.com/qrpay/qrpay/store"
)

// EnvURL names the PostgreSQL server tests may create databases on.
const EnvURL = "QRPAY_TEST_DATABASE_URL"

// Dialects returns the dialects to run a test on: SQLite always, PostgreSQL when configured.
func Dialects(t testing.TB) []string {
	if os.Getenv(EnvURL) != "" {
		return []string{store.SQLite, store.Postgres}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not set: PostgreSQL tests must run in CI", EnvURL)
	}
	return []string{store.SQLite}
}

// Each runs fn as a subtest once per dialect.
func Each(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range Dialects(t) {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Open opens a migrated database of the dialect for the test, closed at its end.
func Open(t testing.TB, dialect string, clock qrpay.Clock) *store.DB {
	t.Helper()
	ctx := context.Background()
	cfg := Config(t, dialect)
	cfg.Clock = clock
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Config returns the configuration of a new, empty database of the dialect for the test: a
// temporary data directory, or a fresh PostgreSQL database (migrated from the template, so
// Migrate is quick), dropped at the end of the test.
func Config(t testing.TB, dialect string) store.Config {
	t.Helper()
	if dialect == store.SQLite {
		return store.Config{DataDir: t.TempDir()}
	}
	return store.Config{DatabaseURL: NewPostgres(t)}
}

// PostgresURL returns the server URL, failing under CI and skipping otherwise when unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set", EnvURL)
		}
		t.Skipf("%s is not set", EnvURL)
	}
	return u
}

var templateOnce sync.Map // template name -> *sync.Once

// NewPostgres creates a migrated database for the test on the configured server and returns
// its URL; the database is dropped when the test ends.
func NewPostgres(t testing.TB) string {
	t.Helper()
	return newPostgres(t, true)
}

// NewEmptyPostgres is NewPostgres without the schema: a database no migration has touched.
func NewEmptyPostgres(t testing.TB) string {
	t.Helper()
	return newPostgres(t, false)
}

func newPostgres(t testing.TB, migrated bool) string {
	t.Helper()
	base := PostgresURL(t)
	admin, err := sql.Open("postgres", withParam(base, "sslmode", "disable"))
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	create := `CREATE DATABASE %s`
	if migrated {
		tpl := templateName()
		if err := ensureTemplate(admin, base, tpl); err != nil {
			t.Fatalf("postgres template: %v", err)
		}
		create += ` TEMPLATE ` + tpl
	}
	name := "qrpay_t_" + strings.ToLower(qrpay.RandomToken(8))
	var createErr error
	for i := 0; i < 20; i++ {
		// CREATE DATABASE ... TEMPLATE fails while another session copies the same template.
		if _, createErr = admin.Exec(fmt.Sprintf(create, name)); createErr == nil {
			break
		}
		time.Sleep(time.Duration(50*(i+1)) * time.Millisecond)
	}
	if createErr != nil {
		t.Fatalf("create database: %v", createErr)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", withParam(base, "sslmode", "disable"))
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return withDatabase(base, name)
}

// templateName depends on the migrations, so that a changed schema gets a new template.
func templateName() string {
	h := sha256.New()
	for _, d := range []string{store.Postgres} {
		fsys, _ := migrations.FS(d)
		fs.WalkDir(fsys, ".", func(path string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				b, _ := fs.ReadFile(fsys, path)
				h.Write([]byte(path))
				h.Write(b)
			}
			return nil
		})
	}
	return "qrpay_tpl_" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ensureTemplate creates and migrates the template database once per server, guarded by an
// advisory lock so that test binaries running in parallel do not race.
func ensureTemplate(admin *sql.DB, base, tpl string) error {
	once, _ := templateOnce.LoadOrStore(tpl, &sync.Once{})
	var err error
	once.(*sync.Once).Do(func() {
		ctx := context.Background()
		conn, e := admin.Conn(ctx)
		if e != nil {
			err = e
			return
		}
		defer conn.Close()
		if _, e := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7253111)`); e != nil {
			err = e
			return
		}
		defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7253111)`)
		var exists bool
		if e := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl).Scan(&exists); e != nil {
			err = e
			return
		}
		if exists {
			return
		}
		building := tpl + "_build"
		conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`)
		if _, e := conn.ExecContext(ctx, `CREATE DATABASE `+building); e != nil {
			err = e
			return
		}
		db, e := store.Open(ctx, store.Config{DatabaseURL: withDatabase(base, building), MaxConns: 2})
		if e != nil {
			err = e
			return
		}
		e = db.Migrate(ctx)
		db.Close()
		if e != nil {
			err = fmt.Errorf("migrate template: %w", e)
			return
		}
		_, err = conn.ExecContext(ctx, `ALTER DATABASE `+building+` RENAME TO `+tpl)
	})
	return err
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func withParam(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Get(k) == "" {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
