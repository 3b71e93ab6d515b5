// Package store is the only package that speaks SQL. It keeps qrpay's data in the embedded
// SQLite database of a data directory (the default: nothing to install) or in PostgreSQL
// (a postgres:// URL, for production and several nodes), runs the migrations of both dialects,
// and runs background jobs on River in the same database.
//
// It implements the stores the domain packages define (gateway.Store, merchant.Store,
// settlement.Store, mockpay.Store) with one SQL text per query: placeholders are written as "?"
// and rebound for PostgreSQL; the few dialect differences are spelled out where they occur.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // embedded SQLite driver, pure Go

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/migrations"
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// sqlitePragmas are the settings STACK.md measured to hold 32 concurrent writers: WAL, a busy
// timeout, synchronous NORMAL (safe in WAL), foreign keys, and times stored in SQLite's format so
// its date functions can read them.
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_time_format=sqlite"

// Config says which database to open.
type Config struct {
	// DatabaseURL, when it starts with postgres:// or postgresql://, selects PostgreSQL.
	DatabaseURL string
	// DataDir holds the embedded SQLite database (qrpay.db) when DatabaseURL is empty.
	DataDir string
	// MaxConns bounds the PostgreSQL pool (default 16) and, for SQLite, the read-only pool
	// (default 4); SQLite always has exactly one writer connection.
	MaxConns int
	Clock    qrpay.Clock
	Logger   *slog.Logger
}

// DB is an open database: a writer pool, a reader pool (the same pool on PostgreSQL) and, once
// StartJobs or Jobs has run, a River client.
type DB struct {
	dialect string
	w       *sqlx.DB
	r       *sqlx.DB
	clock   qrpay.Clock
	log     *slog.Logger
	dsn     string

	stopCheckpoint func()

	gatewayOnce sync.Once
	gateway     *GatewayStore
	closers     []func()

	stmts     sync.Map // stmtKey -> *sqlx.Stmt
	nstmts    atomic.Int64
	preparing sync.Map // stmtKey being prepared in the background

	river    *river.Client[*sql.Tx]
	workers  *river.Workers
	queues   map[string]bool // the queues of the registered handlers
	periodic []periodic
}

// Open opens the database the config names. It does not migrate: call Migrate.
func Open(ctx context.Context, c Config) (*DB, error) {
	if c.Clock == nil {
		c.Clock = qrpay.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	db := &DB{clock: c.Clock, log: c.Logger, workers: river.NewWorkers()}
	switch {
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		dsn, err := postgresDSN(c.DatabaseURL)
		if err != nil {
			return nil, err
		}
		w, err := sqlx.Open("postgres", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		n := c.MaxConns
		if n <= 0 {
			n = 16
		}
		w.SetMaxOpenConns(n)
		w.SetMaxIdleConns(n)
		w.SetConnMaxIdleTime(5 * time.Minute)
		db.dialect, db.w, db.r, db.dsn = Postgres, w, w, dsn
	case c.DatabaseURL == "":
		if c.DataDir == "" {
			return nil, qrpay.Invalid("data-dir", "Give a data directory or a postgres:// database URL.")
		}
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		path := filepath.Join(c.DataDir, "qrpay.db")
		// The writer never checkpoints: a checkpoint inside a commit copies the log into the
		// database and syncs it, the slowest thing a request could wait for. A connection of its
		// own does it in the background instead (see checkpoint).
		w, err := sqlx.Open("sqlite", "file:"+path+"?"+sqlitePragmas+"&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		// Create the file and switch it to WAL before read-only connections open it.
		if err := w.PingContext(ctx); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		r, err := sqlx.Open("sqlite", "file:"+path+"?"+sqlitePragmas+"&mode=ro")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite reader: %w", err)
		}
		n := c.MaxConns
		if n <= 0 {
			n = 4
		}
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		db.dialect, db.w, db.r, db.dsn = SQLite, w, r, path
		if err := db.startCheckpointer(path); err != nil {
			db.Close()
			return nil, err
		}
	default:
		return nil, qrpay.Invalid("database-url", "The database URL must start with postgres://; leave it empty for the embedded database.")
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to the %s database: %w", db.dialect, err)
	}
	return db, nil
}

// checkpointEvery is how often the background connection folds the write-ahead log into the
// database file.
const checkpointEvery = 500 * time.Millisecond

// startCheckpointer opens a connection of its own that checkpoints the write-ahead log in the
// background (PASSIVE: it never blocks the writer or the readers), and a TRUNCATE one when the
// log has grown past 64 MiB, so it cannot grow without bound while readers pin old frames.
func (db *DB) startCheckpointer(path string) error {
	cp, err := sqlx.Open("sqlite", "file:"+path+"?"+sqlitePragmas)
	if err != nil {
		return fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	cp.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cp.Close()
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				cp.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
				return
			case <-t.C:
			}
			mode := "PASSIVE"
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 64<<20 {
				mode = "TRUNCATE"
			}
			if _, err := cp.ExecContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`); err != nil && ctx.Err() == nil {
				db.log.Warn("sqlite checkpoint", "err", err)
			}
		}
	}()
	db.stopCheckpoint = func() { cancel(); <-done }
	return nil
}

// postgresDSN makes every session UTC (lib/pq returns timestamps in the session zone) and
// defaults sslmode to disable for loopback URLs that do not say.
func postgresDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", qrpay.Invalid("database-url", "The database URL does not parse: %v", err)
	}
	q := u.Query()
	q.Set("timezone", "UTC")
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// onClose runs f when the database is closed.
func (db *DB) onClose(f func()) { db.closers = append(db.closers, f) }

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Clock returns the clock transactions take their time from.
func (db *DB) Clock() qrpay.Clock { return db.clock }

// Close stops nothing that is running (call StopJobs first) and closes the pools.
func (db *DB) Close() error {
	for _, f := range db.closers {
		f()
	}
	db.closers = nil
	if db.stopCheckpoint != nil {
		db.stopCheckpoint()
	}
	db.closeStmts()
	var err error
	if db.r != nil && db.r != db.w {
		err = db.r.Close()
	}
	if db.w != nil {
		err = errors.Join(err, db.w.Close())
	}
	return err
}

// riverDriver returns River's driver for the dialect, on the writer pool.
func (db *DB) riverDriver() riverdriver.Driver[*sql.Tx] {
	if db.dialect == Postgres {
		return riverdatabasesql.New(db.w.DB)
	}
	return riversqlite.New(db.w.DB)
}

// Migrate applies qrpay's migrations and River's, both idempotent. On PostgreSQL an advisory lock
// keeps several nodes starting at once from racing.
func (db *DB) Migrate(ctx context.Context) error {
	if db.dialect == Postgres {
		conn, err := db.w.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7253110)`); err != nil {
			return fmt.Errorf("migrate: take the lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7253110)`)
	}
	fsys, err := migrations.FS(db.dialect)
	if err != nil {
		return err
	}
	dialect := goose.DialectPostgres
	if db.dialect == SQLite {
		dialect = goose.DialectSQLite3
	}
	p, err := goose.NewProvider(dialect, db.w.DB, fsys)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate qrpay schema: %w", err)
	}
	for _, r := range results {
		db.log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	m, err := rivermigrate.New(db.riverDriver(), nil)
	if err != nil {
		return fmt.Errorf("migrate jobs: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate job queue schema: %w", err)
	}
	for _, v := range res.Versions {
		db.log.Info("job queue migration applied", "version", v.Version)
	}
	return nil
}

// Pending returns how many of qrpay's migrations are not applied yet; /readyz needs zero. It
// only reads goose's version table, so it is cheap enough for every readiness probe.
func (db *DB) Pending(ctx context.Context) (int, error) {
	fsys, err := migrations.FS(db.dialect)
	if err != nil {
		return 0, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, err
	}
	var applied []int64
	err = db.r.SelectContext(ctx, &applied, `SELECT version_id FROM goose_db_version WHERE is_applied`)
	if err != nil {
		return 0, fmt.Errorf("read migration versions: %w", err)
	}
	have := make(map[int64]bool, len(applied))
	for _, v := range applied {
		have[v] = true
	}
	n := 0
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return 0, err
		}
		if !have[v] {
			n++
		}
	}
	return n, nil
}

// Ready reports whether the database answers and every migration is applied.
func (db *DB) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	var one int
	if err := db.r.GetContext(ctx, &one, `SELECT 1`); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	n, err := db.Pending(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%d migrations not applied", n)
	}
	return nil
}
