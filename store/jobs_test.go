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

// slowJob stands for a webhook delivery to an endpoint that does not answer: it runs in a queue
// of its own and holds its worker until released.
type slowJob struct {
	N int `json:"n"`
}

func (slowJob) Kind() string  { return "test.slow" }
func (slowJob) Queue() string { return "slow" }

// urgentJob stands for the sweep that reverses and expires payments: the default queue.
type urgentJob struct{}

func (urgentJob) Kind() string { return "test.urgent" }

// TestQueuesIsolated: jobs that name a queue are worked by that queue's own workers, so a
// backlog there (webhooks to an endpoint that hangs) does not hold up the default queue's
// jobs inserted after it. With one queue for all, the urgent job waits behind the slow ones.
func TestQueuesIsolated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		db := storetest.Open(t, dialect, nil)
		ctx := context.Background()
		release := make(chan struct{})
		started := make(chan int, 10)
		urgent := make(chan struct{}, 1)
		store.Handle(db, func(ctx context.Context, j slowJob) error {
			started <- j.N
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}, store.HandlerOptions{})
		store.Handle(db, func(ctx context.Context, _ urgentJob) error {
			urgent <- struct{}{}
			return nil
		}, store.HandlerOptions{})
		if err := db.StartJobs(ctx, store.JobsConfig{Workers: 1, QueueWorkers: map[string]int{"slow": 2},
			PollInterval: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			close(release)
			stop, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			db.StopJobs(stop)
		})
		enqueue := func(job qrpay.Job) {
			t.Helper()
			if err := db.Gateway().InTx(ctx, func(tx gateway.Tx) error { return tx.Enqueue(ctx, job, qrpay.JobOptions{}) }); err != nil {
				t.Fatal(err)
			}
		}
		for n := range 5 {
			enqueue(slowJob{N: n})
		}
		// The slow queue's two workers are busy and three of its jobs wait.
		for range 2 {
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the slow queue's jobs never started")
			}
		}
		enqueue(urgentJob{})
		select {
		case <-urgent:
		case <-time.After(10 * time.Second):
			t.Fatal("a default-queue job waited behind a backlog of another queue")
		}
		select {
		case n := <-started:
			t.Fatalf("slow job %d ran on more than its queue's two workers", n)
		default:
		}
		var queues []string
		if err := db.QuerySettlementFixture(ctx, &queues, `SELECT queue FROM river_job ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		want := []string{"slow", "slow", "slow", "slow", "slow", "default"}
		if len(queues) != len(want) {
			t.Fatalf("river_job queues = %v, want %v", queues, want)
		}
		for i := range want {
			if queues[i] != want[i] {
				t.Fatalf("river_job queues = %v, want %v", queues, want)
			}
		}
	})
}
