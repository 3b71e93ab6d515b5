package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // the settlement zone must load on machines without a zone database

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/store"
)

// newFlags returns a flag set whose flags default to QRPAY_<FLAG> from the environment.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("qrpay "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envName is the environment variable of a flag: QRPAY_ and the flag in capitals, dashes as
// underscores.
func envName(flagName string) string {
	return "QRPAY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args after applying the environment's values to flags not given.
func parse(fs *flag.FlagSet, args []string) error {
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			f.Value.Set(v)
			f.DefValue = v
		}
	})
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitError{0}
		}
		return usageError{err.Error()}
	}
	return nil
}

// dbFlags are the flags that choose the database.
type dbFlags struct {
	dataDir     string
	databaseURL string
	zone        string
	logLevel    string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dataDir, "data-dir", "./qrpay-data", "directory of the embedded database, keys and uploads")
	fs.StringVar(&d.databaseURL, "database-url", "", "postgres:// URL; empty uses the embedded SQLite database in --data-dir")
	fs.StringVar(&d.zone, "zone", "Asia/Shanghai", "settlement zone: the zone business days are counted in")
	fs.StringVar(&d.logLevel, "log-level", "info", "debug, info, warn or error")
}

func (d *dbFlags) location() (*time.Location, error) {
	loc, err := time.LoadLocation(d.zone)
	if err != nil {
		return nil, usagef("--zone %q is not a time zone", d.zone)
	}
	return loc, nil
}

func (d *dbFlags) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(d.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// open opens the database the flags name.
func (d *dbFlags) open(ctx context.Context, log *slog.Logger) (*store.DB, error) {
	if d.databaseURL == "" && d.dataDir == "" {
		return nil, usagef("give --data-dir or --database-url")
	}
	return store.Open(ctx, store.Config{DatabaseURL: d.databaseURL, DataDir: d.dataDir, Logger: log})
}

// sealer loads the data key: QRPAY_DATA_KEY, or on the embedded default a key generated once in
// the data directory (with a warning: that key must be backed up with the data). PostgreSQL
// deployments must set QRPAY_DATA_KEY, the same on every node.
func (d *dbFlags) sealer(log *slog.Logger) (*merchant.Sealer, error) {
	if v := os.Getenv("QRPAY_DATA_KEY"); v != "" {
		s, err := merchant.ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("QRPAY_DATA_KEY: %w", err)
		}
		return s, nil
	}
	if d.databaseURL != "" {
		return nil, qrpay.Invalid("QRPAY_DATA_KEY", "Set QRPAY_DATA_KEY (the same on every node) to use PostgreSQL; generate one with: qrpay keys generate")
	}
	path := filepath.Join(d.dataDir, "data.key")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		id, key := merchant.GenerateKey()
		if err := os.MkdirAll(d.dataDir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(merchant.FormatKey(id, key)+"\n"), 0o600); err != nil {
			return nil, err
		}
		log.Warn("generated a data key in the data directory; back it up with the data, or set QRPAY_DATA_KEY", "path", path)
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	return merchant.ParseKeys(strings.TrimSpace(string(b)))
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	var d dbFlags
	d.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	log := d.logger(stderr)
	db, err := d.open(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()
	before, _ := db.Pending(ctx)
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated the %s database: %d migrations applied, schema up to date\n", db.Dialect(), before)
	return nil
}
