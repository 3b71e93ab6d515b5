package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/qrpay/qrpay"
)

// JobsConfig tunes the job queue.
type JobsConfig struct {
	// Workers is how many jobs of the default queue this process runs at once (default 10).
	Workers int
	// QueueWorkers is how many jobs of a named queue (a qrpay.QueuedJob's Queue) this process
	// runs at once; a queue not listed gets Workers.
	QueueWorkers map[string]int
	// PollInterval is how often idle workers look for jobs inserted by other processes
	// (default 200 ms; both drivers poll).
	PollInterval time.Duration
	// Logger receives River's own logs.
	Logger interface {
		Enabled(context.Context, int) bool
	}
}

// HandlerOptions tune one kind of job.
type HandlerOptions struct {
	// Backoff returns the delay before the next attempt after attempt failures; nil uses
	// River's default (attempt⁴ seconds).
	Backoff func(attempt int) time.Duration
	// Timeout bounds one attempt (default one minute).
	Timeout time.Duration
}

// worker adapts a handler function to River's Worker interface.
type worker[T qrpay.Job] struct {
	river.WorkerDefaults[T]
	fn   func(ctx context.Context, job T) error
	opts HandlerOptions
}

func (w *worker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	err := w.fn(ctx, job.Args)
	var ra qrpay.RetryAfter
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ra):
		return river.JobSnooze(ra.After)
	case qrpay.IsPermanent(err):
		return river.JobCancel(err)
	}
	return err
}

func (w *worker[T]) NextRetry(job *river.Job[T]) time.Time {
	if w.opts.Backoff == nil {
		return time.Time{}
	}
	return time.Now().Add(w.opts.Backoff(job.Attempt))
}

func (w *worker[T]) Timeout(*river.Job[T]) time.Duration {
	if w.opts.Timeout > 0 {
		return w.opts.Timeout
	}
	return time.Minute
}

// Handle registers fn as the handler of jobs of type T. Register every kind before StartJobs.
func Handle[T qrpay.Job](db *DB, fn func(ctx context.Context, job T) error, opts HandlerOptions) {
	river.AddWorker(db.workers, &worker[T]{fn: fn, opts: opts})
	var zero T
	if db.queues == nil {
		db.queues = map[string]bool{}
	}
	db.queues[queueOf(zero)] = true
}

// queueOf is the River queue a job is inserted in and worked from: its own if it names one.
func queueOf(job qrpay.Job) string {
	if q, ok := job.(qrpay.QueuedJob); ok && q.Queue() != "" {
		return q.Queue()
	}
	return river.QueueDefault
}

// periodic is a job inserted on a schedule.
type periodic struct {
	every time.Duration
	make  func() qrpay.Job
}

// Every asks for job to be inserted every interval (by one node at a time, River's leader) and
// at start. Periodic work such as expiry is a sweep over due rows, not a job per row.
func (db *DB) Every(interval time.Duration, job func() qrpay.Job) {
	db.periodic = append(db.periodic, periodic{interval, job})
}

// StartJobs creates the job queue client with every registered handler and starts working.
// Without handlers (a command-line run) the client only inserts.
func (db *DB) StartJobs(ctx context.Context, c JobsConfig) error {
	if db.river != nil {
		return errors.New("jobs already started")
	}
	cfg := &river.Config{
		PollOnly:          true,
		FetchPollInterval: c.PollInterval,
		// STACK.md: with the default 100 ms cooldown delivery stalls near 100 jobs/s.
		FetchCooldown: 10 * time.Millisecond,
		JobTimeout:    time.Minute,
		// A process that dies (SIGKILL, a lost machine) leaves its jobs running in the table
		// until River rescues them: by default after an hour, during which a webhook being
		// delivered waits and a periodic sweep left running blocks the next ones. Rescue them
		// once their own timeout has passed (River still waits for a kind's longer Timeout);
		// every job here is safe to run again.
		RescueStuckJobsAfter: time.Minute,
		Logger:               db.log,
	}
	if cfg.FetchPollInterval <= 0 {
		cfg.FetchPollInterval = 200 * time.Millisecond
	}
	if cfg.FetchCooldown > cfg.FetchPollInterval {
		cfg.FetchCooldown = cfg.FetchPollInterval
	}
	n := c.Workers
	if n <= 0 {
		n = 10
	}
	working := len(db.queues) > 0
	if working {
		cfg.Workers = db.workers
		// Every queue this process has a handler for is worked here. Each kind's handler is
		// registered with the whole client, so a job inserted in the default queue by an older
		// version is still worked after its kind moved to a queue of its own.
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}}
		for q := range db.queues {
			if w := c.QueueWorkers[q]; w > 0 {
				cfg.Queues[q] = river.QueueConfig{MaxWorkers: w}
			} else {
				cfg.Queues[q] = river.QueueConfig{MaxWorkers: n}
			}
		}
		for _, p := range db.periodic {
			mk := p.make
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(p.every),
				func() (river.JobArgs, *river.InsertOpts) {
					job := mk()
					return job, &river.InsertOpts{Queue: queueOf(job), UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates}}
				}, &river.PeriodicJobOpts{RunOnStart: true}))
		}
	}
	client, err := river.NewClient(db.riverDriver(), cfg)
	if err != nil {
		return fmt.Errorf("job queue: %w", err)
	}
	db.river = client
	if working {
		if err := client.Start(ctx); err != nil {
			return fmt.Errorf("start job queue: %w", err)
		}
	}
	return nil
}

// uniqueStates are the states in which a unique job blocks another insert of itself: waiting or
// running, but not finished (River requires pending, scheduled, available and running).
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// StopJobs stops fetching new jobs and waits for running ones to finish, up to ctx's deadline,
// after which running jobs are cancelled.
func (db *DB) StopJobs(ctx context.Context) error {
	if db.river == nil || len(db.queues) == 0 {
		return nil
	}
	err := db.river.Stop(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return db.river.StopAndCancel(context.Background())
	}
	return err
}

// enqueue inserts a job in the transaction.
func (tx *Tx) Enqueue(ctx context.Context, job qrpay.Job, o qrpay.JobOptions) error {
	if tx.db.river == nil {
		return errors.New("job queue not started")
	}
	opts := &river.InsertOpts{MaxAttempts: o.MaxAttempts, Queue: queueOf(job)}
	if !o.RunAt.IsZero() {
		opts.ScheduledAt = o.RunAt
	}
	if o.Unique {
		opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: uniqueStates}
	}
	if _, err := tx.db.river.InsertTx(ctx, tx.tx.Tx, job, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", job.Kind(), err)
	}
	return nil
}
