package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/technifold/technifold/store"
)

// SchedulerOptions configures NewScheduler; zero fields take the defaults shown.
type SchedulerOptions struct {
	SweepInterval        time.Duration // how often the worker is nudged for due retries and expired leases; 30s
	HousekeepingInterval time.Duration // how often old jobs and webhook bodies are pruned; 1h
	JobRetention         time.Duration // completed and cancelled jobs kept this long; 30 days
	WebhookBodyRetention time.Duration // raw webhook bodies kept this long; 30 days
	Logger               *slog.Logger
	// Clock drives the schedule; the real clock when nil. Tests pass a fake one and advance it.
	Clock clockwork.Clock
	// afterRun, when set, is told of every finished run (tests wait on it instead of sleeping).
	afterRun func(name string, err error)
}

// Scheduler runs the periodic work of the process on gocron: the outbox sweep, housekeeping, and
// whatever else is registered (Stripe reconciliation, backup checks). Each job runs in
// singleton mode: a run still going when the next is due makes that one wait.
type Scheduler struct {
	db     *store.DB
	worker *Worker
	opts   SchedulerOptions
	log    *slog.Logger
	cron   gocron.Scheduler
}

// NewScheduler builds the scheduler with the sweep and housekeeping jobs; Start runs it.
// worker may be nil (no in-process worker to nudge).
func NewScheduler(db *store.DB, worker *Worker, opts SchedulerOptions) (*Scheduler, error) {
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 30 * time.Second
	}
	if opts.HousekeepingInterval <= 0 {
		opts.HousekeepingInterval = time.Hour
	}
	if opts.JobRetention <= 0 {
		opts.JobRetention = 30 * 24 * time.Hour
	}
	if opts.WebhookBodyRetention <= 0 {
		opts.WebhookBodyRetention = 30 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cronOpts := []gocron.SchedulerOption{gocron.WithLogger(opts.Logger.With("component", "gocron"))}
	if opts.Clock != nil {
		cronOpts = append(cronOpts, gocron.WithClock(opts.Clock))
	}
	cron, err := gocron.NewScheduler(cronOpts...)
	if err != nil {
		return nil, fmt.Errorf("create scheduler: %w", err)
	}
	s := &Scheduler{db: db, worker: worker, opts: opts, log: opts.Logger, cron: cron}
	err = errors.Join(
		s.Register("outbox-sweep", opts.SweepInterval, s.sweep),
		s.Register("housekeeping", opts.HousekeepingInterval, s.housekeep),
	)
	if err != nil {
		_ = cron.Shutdown()
		return nil, err
	}
	return s, nil
}

// Register adds a periodic job running fn every interval (first run one interval after Start).
// Errors and panics of fn are logged; the job keeps its schedule.
func (s *Scheduler) Register(name string, interval time.Duration, fn func(ctx context.Context) error) error {
	if name == "" || interval <= 0 || fn == nil {
		return fmt.Errorf("register scheduled job %q: needs a name, a positive interval and a function", name)
	}
	_, err := s.cron.NewJob(gocron.DurationJob(interval), gocron.NewTask(func(ctx context.Context) {
		s.runJob(ctx, name, fn)
	}), gocron.WithName(name), gocron.WithSingletonMode(gocron.LimitModeReschedule))
	if err != nil {
		return fmt.Errorf("register scheduled job %q: %w", name, err)
	}
	return nil
}

func (s *Scheduler) runJob(ctx context.Context, name string, fn func(context.Context) error) {
	start := time.Now()
	var err error
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			s.log.Error("scheduled job panicked", "job", name, "panic", fmt.Sprint(p))
		}
		if s.opts.afterRun != nil {
			s.opts.afterRun(name, err)
		}
	}()
	if err = fn(ctx); err != nil {
		s.log.Error("scheduled job failed", "job", name, "error", err, "duration_ms", time.Since(start).Milliseconds())
		return
	}
	s.log.Debug("scheduled job done", "job", name, "duration_ms", time.Since(start).Milliseconds())
}

// Start runs the scheduled jobs in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Shutdown stops scheduling and waits for running jobs (their context is cancelled).
func (s *Scheduler) Shutdown() error { return s.cron.Shutdown() }

// sweep nudges the worker, so due retries and expired leases are picked up even when its own
// poll is long.
func (s *Scheduler) sweep(context.Context) error {
	if s.worker != nil {
		s.worker.Nudge()
	}
	return nil
}

// housekeep prunes completed and cancelled jobs past JobRetention, and webhook bodies and the
// Stripe charge events still waiting for an order past WebhookBodyRetention.
func (s *Scheduler) housekeep(ctx context.Context) error {
	now := s.db.Now()
	jobs, jerr := s.db.PruneJobs(ctx, now.Add(-s.opts.JobRetention))
	if jerr != nil {
		jerr = fmt.Errorf("prune outbox jobs: %w", jerr)
	}
	bodies, berr := s.db.PruneWebhookBodies(ctx, now.Add(-s.opts.WebhookBodyRetention))
	if berr != nil {
		berr = fmt.Errorf("prune webhook bodies: %w", berr)
	}
	parked, perr := s.db.PruneParkedStripeEvents(ctx, now.Add(-s.opts.WebhookBodyRetention))
	if perr != nil {
		perr = fmt.Errorf("prune parked stripe events: %w", perr)
	}
	if parked > 0 {
		s.log.Warn("stripe charge events dropped: no order ever had their payment intent", "events", parked)
	}
	if jobs > 0 || bodies > 0 {
		s.log.Info("housekeeping pruned old data", "jobs_deleted", jobs, "webhook_bodies_cleared", bodies)
	}
	return errors.Join(jerr, berr, perr)
}
