package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/alipay"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/gateway/unionpay"
	"github.com/qrpay/qrpay/gateway/wechat"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
)

// settlementFlags are the settlement settings that serve, settle and reconcile share.
type settlementFlags struct {
	cutoff   string
	lookback time.Duration
	grace    time.Duration
}

func (f *settlementFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cutoff, "cutoff", "00:00", "settlement cutoff HH:MM in the settlement zone: a payment at or after it belongs to the next day")
	fs.DurationVar(&f.lookback, "settle-lookback", 48*time.Hour, "how far before a day the settlement run looks for items that became settleable late")
	fs.DurationVar(&f.grace, "settle-grace", 30*time.Minute, "how long after the cutoff the daily job waits before settling the day")
}

// calendar returns the settlement calendar of the flags in the zone.
func (f *settlementFlags) calendar(zone *time.Location) (settlement.Calendar, error) {
	cutoff, err := settlement.ParseCutoff(f.cutoff)
	if err != nil {
		return settlement.Calendar{}, usagef("--cutoff %q: write it HH:MM, such as 00:00 or 23:00", f.cutoff)
	}
	cal := settlement.Calendar{Zone: zone, Cutoff: cutoff}
	return cal, cal.Validate()
}

// statementParsers are the providers' statement file readers, for imports.
func statementParsers() map[string]func(io.Reader) (*gateway.Statement, error) {
	return map[string]func(io.Reader) (*gateway.Statement, error){
		gateway.ChannelMockpay:  (&mockpay.Provider{}).ParseStatement,
		gateway.ChannelAlipay:   (&alipay.Provider{}).ParseStatement,
		gateway.ChannelWechat:   wechat.ParseStatement,
		gateway.ChannelUnionpay: (&unionpay.Provider{}).ParseStatement,
	}
}

// newSettlementService builds the settlement service over the database and the other services.
// serve's wire calls it (with settlementJobs before the job queue starts); so do settle and
// reconcile.
func newSettlementService(db *store.DB, gw *gateway.Service, merchants *merchant.Service, cal settlement.Calendar,
	f settlementFlags, log *slog.Logger) *settlement.Service {
	return &settlement.Service{Store: db.Settlement(), Gateway: gw, Merchants: merchants, Clock: db.Clock(), Log: log,
		Calendar: cal, Lookback: f.lookback, Grace: f.grace, MockAccount: "mockpay", Parsers: statementParsers()}
}

// settlementJobs registers the daily settlement job, inserted every ten minutes (by one node
// at a time) and idle once the last finished day is settled. Call it before StartJobs.
func settlementJobs(db *store.DB, svc *settlement.Service) {
	store.Handle(db, svc.DailyJob, store.HandlerOptions{Timeout: 30 * time.Minute})
	db.Every(10*time.Minute, func() qrpay.Job { return settlement.Daily{} })
}

// openForCommand opens and, on the embedded database, migrates the database for a command
// that changes it; a PostgreSQL database must be migrated already (qrpay migrate).
func openForCommand(ctx context.Context, d *dbFlags, log *slog.Logger) (*store.DB, error) {
	db, err := d.open(ctx, log)
	if err != nil {
		return nil, err
	}
	if db.Dialect() == store.SQLite {
		err = db.Migrate(ctx)
	} else if n, perr := db.Pending(ctx); perr != nil || n > 0 {
		err = qrpay.Errorf(qrpay.EINVALIDSTATE, "The database needs migrating: run qrpay migrate. %v", perr)
	}
	if err == nil {
		// An insert-only job queue: events' webhooks are delivered by the serving nodes.
		err = db.StartJobs(ctx, store.JobsConfig{})
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// runSettle is `qrpay settle --date YYYY-MM-DD [--as-of RFC3339]`: settle a day (and the
// unsettled days before it, in order) as serve's daily job would.
func runSettle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("settle", stderr)
	var d dbFlags
	var sf settlementFlags
	d.register(fs)
	sf.register(fs)
	date := fs.String("date", "", "the settlement day, YYYY-MM-DD (required)")
	asOf := fs.String("as-of", "", "run as if at this time (RFC 3339); the day must be over by then (default now)")
	publicURL := fs.String("public-url", "", "the server's public URL, for links in the events written")
	asJSON := fs.Bool("json", false, "print the run as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("settle takes no arguments (got %q)", fs.Arg(0))
	}
	if *date == "" {
		return usagef("settle needs --date YYYY-MM-DD")
	}
	day, err := settlement.ParseDate("date", *date)
	if err != nil {
		return usagef("--date %q: write it YYYY-MM-DD", *date)
	}
	var at time.Time
	if *asOf != "" {
		if at, err = time.Parse(time.RFC3339Nano, *asOf); err != nil {
			return usagef("--as-of %q: write it RFC 3339, such as 2026-03-04T06:00:00+08:00", *asOf)
		}
	}
	zone, err := d.location()
	if err != nil {
		return err
	}
	cal, err := sf.calendar(zone)
	if err != nil {
		return err
	}
	log := d.logger(stderr)
	db, err := openForCommand(ctx, &d, log)
	if err != nil {
		return err
	}
	defer db.Close()
	gw := &gateway.Service{Store: db.Gateway(), Log: log, Config: gateway.Config{PublicURL: *publicURL, Zone: zone}}
	svc := newSettlementService(db, gw, nil, cal, sf, log)
	run, err := svc.RunBy(ctx, merchant.Actor{Kind: "system", ID: "cli", Name: "qrpay settle"}, day, at)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(run.Object())
	}
	printRun(stdout, run)
	return nil
}

// printRun prints a run for a person.
func printRun(w io.Writer, run *settlement.Run) {
	if len(run.Settled) == 0 {
		fmt.Fprintf(w, "%s was settled before; its batches:\n", run.Day)
	} else {
		days := make([]string, len(run.Settled))
		for i, d := range run.Settled {
			days[i] = d.String()
		}
		fmt.Fprintf(w, "settled %s as of %s: %s made\n", strings.Join(days, ", "), run.AsOf.Format(time.RFC3339), plural(run.Created, "batch", "batches"))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\tcount\tgross\trefunds\tfees\treturned\tnet\tpayable\tstatus\tpayout\t")
	var net, payable int64
	for _, b := range run.Batches {
		m := func(v int64) string { return qrpay.FormatMinor(v, b.Currency.Exponent()) }
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", b.ID, b.Count, m(b.Gross), m(b.Refunds), m(b.Fees),
			m(b.ReturnedFees), m(b.Net), m(b.Payable), b.Status, b.PayoutDate)
		if b.Mode == merchant.ModeLive {
			net += b.Net
			payable += b.Payable
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "%s; live net %s, payable %s (minor units: %d, %d)\n", plural(len(run.Batches), "batch", "batches"),
		qrpay.FormatMinor(net, 2), qrpay.FormatMinor(payable, 2), net, payable)
}

// plural writes a count with its noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// runReconcile is `qrpay reconcile --date YYYY-MM-DD [--provider NAME] [--file STATEMENT]`:
// reconcile a provider's statement of a day with qrpay's records. Without --file the mock
// provider's statement is fetched through its API, from the serving node at --target (the
// statement is the provider's own account of the day: reading its ledger tables directly would
// bypass the very boundary reconciliation checks); other providers' statements are fetched
// through their live channel accounts (--channels), or imported from a bill file.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reconcile", stderr)
	var d dbFlags
	var sf settlementFlags
	d.register(fs)
	sf.register(fs)
	date := fs.String("date", "", "the statement's day, YYYY-MM-DD (required)")
	provider := fs.String("provider", "mockpay", "mockpay, alipay, wechat or unionpay")
	file := fs.String("file", "", "a statement or bill file downloaded from the provider; without it the statement is fetched by API")
	account := fs.String("account", "", "the channel account the statement is of (default: the provider's)")
	target := fs.String("target", "http://127.0.0.1:8080/mockpay", "the mock provider's base URL on a serving node")
	channels := fs.String("channels", "", "JSON file of live channel accounts, to fetch their statements by API")
	publicURL := fs.String("public-url", "", "the server's public URL, for links in the events written")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("reconcile takes no arguments (got %q)", fs.Arg(0))
	}
	if *date == "" {
		return usagef("reconcile needs --date YYYY-MM-DD")
	}
	day, err := settlement.ParseDate("date", *date)
	if err != nil {
		return usagef("--date %q: write it YYYY-MM-DD", *date)
	}
	if _, ok := statementParsers()[*provider]; !ok {
		return usagef("--provider %q: use mockpay, alipay, wechat or unionpay", *provider)
	}
	zone, err := d.location()
	if err != nil {
		return err
	}
	cal, err := sf.calendar(zone)
	if err != nil {
		return err
	}
	log := d.logger(stderr)
	var in io.ReadCloser
	if *file != "" {
		if in, err = os.Open(*file); err != nil {
			return qrpay.Invalid("file", "The statement file cannot be opened: %v", err)
		}
		defer in.Close()
	}
	db, err := openForCommand(ctx, &d, log)
	if err != nil {
		return err
	}
	defer db.Close()
	sealer, err := d.sealer(log)
	if err != nil {
		return err
	}
	merchants := &merchant.Service{Store: db.Merchants(), Sealer: sealer, Zone: zone}
	accounts := []*gateway.Account{}
	if *file == "" && *provider == gateway.ChannelMockpay {
		secret, err := merchants.SigningKey(ctx, "mockpay")
		if err != nil {
			return err
		}
		accounts = append(accounts, &gateway.Account{ID: "mockpay", Channel: gateway.ChannelMockpay, Weight: 1,
			Provider: mockpay.NewProvider(*target, secret, 30*time.Second, nil)})
	} else {
		// The router wants the mock account; this one is never called.
		accounts = append(accounts, &gateway.Account{ID: "mockpay", Channel: gateway.ChannelMockpay, Weight: 1,
			Provider: mockpay.NewProvider(*target, nil, time.Second, nil)})
	}
	if *channels != "" {
		live, err := loadChannels(*channels, zone)
		if err != nil {
			return err
		}
		accounts = append(accounts, live...)
	}
	router, err := gateway.NewRouter(accounts, nil, "mockpay", nil)
	if err != nil {
		return err
	}
	gw := &gateway.Service{Store: db.Gateway(), Router: router, Log: log, Secrets: merchants,
		Config: gateway.Config{PublicURL: *publicURL, Zone: zone}}
	svc := newSettlementService(db, gw, merchants, cal, sf, log)
	req := settlement.ReconcileRequest{Provider: *provider, Account: *account, Date: day,
		Actor: merchant.Actor{Kind: "system", ID: "cli", Name: "qrpay reconcile"}}
	var rec *settlement.Reconciliation
	if in != nil {
		rec, err = svc.Import(ctx, req, in)
	} else {
		rec, err = svc.Reconcile(ctx, req)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	}
	fmt.Fprintf(stdout, "reconciled %s's statement of %s (%s): %d lines, %d matched\n", rec.Provider, rec.Date, rec.StatementID,
		rec.Lines, rec.Matched)
	kinds := make([]string, 0, len(rec.NewBreaks))
	for k := range rec.NewBreaks {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if rec.NewBreaks[k] > 0 {
			fmt.Fprintf(stdout, "  new %s breaks: %d\n", k, rec.NewBreaks[k])
		}
	}
	if len(rec.LateSuccess) > 0 {
		fmt.Fprintf(stdout, "  late successes applied: %s\n", strings.Join(rec.LateSuccess, ", "))
	}
	fmt.Fprintf(stdout, "open breaks of the day: %d\n", rec.OpenBreaks)
	return nil
}
