package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// Environment of a settling child process.
const (
	envChildURL = "QRPAY_SETTLE_CHILD_DATABASE_URL"
	envChildDir = "QRPAY_SETTLE_CHILD_DATA_DIR"
	envChildDay = "QRPAY_SETTLE_CHILD_DAY"
)

// childResult is what a child process reports.
type childResult struct {
	Created int      `json:"created"`
	Settled []string `json:"settled"`
	Batches []string `json:"batches"`
	Error   string   `json:"error"`
}

// TestSettleConcurrentProcesses settles the same day from three processes at once: this test
// binary run three times as children on the same database, released together once all three
// are ready. Real processes (not goroutines) have their own pools, clocks and, on PostgreSQL,
// sessions, which is what several qrpay nodes are. One of them settles the day; all three
// answer the same batches; the database holds one batch per merchant, currency and mode and one
// line per channel, and every payment once.
func TestSettleConcurrentProcesses(t *testing.T) {
	if os.Getenv(envChildDay) != "" {
		t.Skip("a child process")
	}
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cfg := storetest.Config(t, dialect)
		cal := settlement.Calendar{Zone: shanghai(t)}
		day := settlement.MustDate("2026-03-02")
		_, end := cal.Window(day)
		clock := qrpay.NewFakeClock(end.Add(time.Hour))
		cfg.Clock = clock
		db, err := store.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		rd := makeRandomDays(rand.New(rand.NewPCG(3, 4)), cal, day, 1, 2000)
		seedMerchants(t, db, rd.merchants)
		seedPayments(t, db, rd.payments)
		seedRefunds(t, db, rd.refunds)

		children := make([]*exec.Cmd, 3)
		outs := make([]io.ReadCloser, 3)
		gates := make([]io.WriteCloser, 3)
		for i := range children {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSettleChildProcess$", "-test.v")
			cmd.Env = append(os.Environ(), envChildDay+"="+day.String(), envChildURL+"="+cfg.DatabaseURL, envChildDir+"="+cfg.DataDir)
			cmd.Stderr = os.Stderr
			if gates[i], err = cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if outs[i], err = cmd.StdoutPipe(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			children[i] = cmd
		}
		// Each child says READY once its database is open; then all are released at once.
		readers := make([]*bufio.Reader, 3)
		for i := range children {
			readers[i] = bufio.NewReader(outs[i])
			line, err := readers[i].ReadString('\n')
			for err == nil && !strings.HasPrefix(line, "READY") {
				line, err = readers[i].ReadString('\n')
			}
			if err != nil {
				t.Fatalf("child %d: %v", i, err)
			}
		}
		for _, g := range gates {
			g.Close()
		}
		results := make([]childResult, 3)
		var wg sync.WaitGroup
		for i := range children {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for {
					line, err := readers[i].ReadString('\n')
					if strings.HasPrefix(line, "RESULT ") {
						json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &results[i])
					}
					if err != nil {
						break
					}
				}
				if err := children[i].Wait(); err != nil {
					results[i].Error += " exit: " + err.Error()
				}
			}(i)
		}
		wg.Wait()
		created := 0
		for i, r := range results {
			if r.Error != "" {
				t.Fatalf("child %d: %s", i, r.Error)
			}
			created += r.Created
			if fmt.Sprint(r.Batches) != fmt.Sprint(results[0].Batches) || len(r.Batches) == 0 {
				t.Fatalf("child %d answered %v, child 0 %v", i, r.Batches, results[0].Batches)
			}
		}
		if created != len(results[0].Batches) {
			t.Fatalf("the children created %d batches in all, want %d (once)", created, len(results[0].Batches))
		}
		var dup []struct {
			N int `db:"n"`
		}
		if err := db.QuerySettlementFixture(ctx, &dup, `SELECT COUNT(*) AS n FROM settlement_lines GROUP BY batch_id, channel
			HAVING COUNT(*) > 1 UNION ALL SELECT COUNT(*) AS n FROM settlement_batches GROUP BY merchant_id, day, currency, mode
			HAVING COUNT(*) > 1`); err != nil || len(dup) != 0 {
			t.Fatalf("duplicates %v, %v", dup, err)
		}
		var counts []int
		if err := db.QuerySettlementFixture(ctx, &counts, `SELECT COUNT(*) FROM settlement_items`); err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, p := range rd.payments {
			if p.Status == "succeeded" {
				want++
			}
		}
		for _, r := range rd.refunds {
			if r.Status == "succeeded" && !cal.DayOf(*r.SucceededAt).After(day) {
				want++
			}
		}
		if counts[0] != want {
			t.Fatalf("%d items, want %d", counts[0], want)
		}
	})
}

// TestSettleChildProcess is the child of TestSettleConcurrentProcesses.
func TestSettleChildProcess(t *testing.T) {
	dayText := os.Getenv(envChildDay)
	if dayText == "" {
		t.Skip("run by TestSettleConcurrentProcesses")
	}
	res := childResult{}
	defer func() {
		b, _ := json.Marshal(res)
		fmt.Printf("\nRESULT %s\n", b)
	}()
	ctx := context.Background()
	day := settlement.MustDate(dayText)
	cal := settlement.Calendar{Zone: shanghai(t)}
	_, end := cal.Window(day)
	clock := qrpay.NewFakeClock(end.Add(time.Hour))
	db, err := store.Open(ctx, store.Config{DatabaseURL: os.Getenv(envChildURL), DataDir: os.Getenv(envChildDir), Clock: clock})
	if err != nil {
		res.Error = err.Error()
		return
	}
	defer db.Close()
	svc := newSettlement(t, db, clock, cal)
	fmt.Println("\nREADY")
	io.ReadAll(os.Stdin) // released when the parent closes our stdin
	run, err := svc.Run(ctx, day, time.Time{})
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Created = run.Created
	for _, d := range run.Settled {
		res.Settled = append(res.Settled, d.String())
	}
	for _, b := range run.Batches {
		res.Batches = append(res.Batches, fmt.Sprintf("%s:%d:%d", b.ID, b.Count, b.Net))
	}
	sort.Strings(res.Batches)
}
