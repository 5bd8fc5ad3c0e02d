package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/technifold/technifold/store"
)

// WorkerOptions configures NewWorker; zero fields take the defaults shown.
type WorkerOptions struct {
	Concurrency  int           // handlers running at once; 2
	Lease        time.Duration // how long a claim holds a job before another worker may take it; 2m
	JobTimeout   time.Duration // per-attempt deadline; 60s
	Batch        int           // jobs claimed per transaction; 16
	PollInterval time.Duration // longest sleep between claims when nothing signals; 5s
	Logger       *slog.Logger
	ID           string // lease owner name; hostname-pid-random
}

// maxErrorLen bounds an attempt's error message in the database.
const maxErrorLen = 2000

// Worker runs outbox jobs in this process: a background loop between Start and Stop, and
// RunDue for operators and external cron.
type Worker struct {
	db    *store.DB
	reg   *Registry
	opts  WorkerOptions
	log   *slog.Logger
	nudge chan struct{}
	// metrics are this worker's counters; the server registers them on its registry.
	metrics *outboxMetrics

	mu sync.Mutex
	bg *background
}

// NewWorker builds a worker; it starts nothing.
func NewWorker(db *store.DB, reg *Registry, opts WorkerOptions) *Worker {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 60 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 16
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ID == "" {
		opts.ID = defaultWorkerID()
	}
	if reg == nil {
		reg = &Registry{}
	}
	return &Worker{db: db, reg: reg, opts: opts, log: opts.Logger.With("worker", opts.ID), nudge: make(chan struct{}, 1),
		metrics: newOutboxMetrics()}
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// ID is the name this worker's leases carry.
func (w *Worker) ID() string { return w.opts.ID }

// Nudge makes the background loop look for due jobs now (the scheduler's sweep calls it).
func (w *Worker) Nudge() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// background is the loop between Start and Stop.
type background struct {
	s      *session
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs the background loop: it claims due jobs as soon as a commit enqueues one
// (db.JobSignal), when nudged, and otherwise when the next job falls due or every
// PollInterval. Cancelling ctx stops claiming, like Stop; running handlers are not cancelled
// by it — only by Stop's deadline. Start on a started worker does nothing.
func (w *Worker) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bg != nil {
		return
	}
	loopCtx, cancel := context.WithCancel(ctx)
	bg := &background{s: w.newSession(), cancel: cancel, done: make(chan struct{})}
	w.bg = bg
	go func() {
		defer close(bg.done)
		w.loop(loopCtx, bg.s)
	}()
}

// Stop stops claiming and waits for running jobs until ctx ends. Jobs claimed but not yet
// started are given back (pending, attempt returned). A job still running when ctx ends is
// abandoned: its handler's context is cancelled and nothing is written, so it stays
// processing until its lease expires and a worker reclaims it (the abandoned attempt counts).
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	bg := w.bg
	w.bg = nil
	w.mu.Unlock()
	if bg == nil {
		return nil
	}
	bg.s.startDraining()
	bg.cancel()
	<-bg.done
	err := bg.s.finish(ctx)
	w.log.Info("outbox worker stopped")
	return err
}

func (w *Worker) loop(ctx context.Context, s *session) {
	w.log.Info("outbox worker started", "concurrency", w.opts.Concurrency, "batch", w.opts.Batch, "lease", w.opts.Lease)
	for {
		jobs, err := w.db.ClaimJobs(ctx, w.opts.ID, w.opts.Lease, w.opts.Batch)
		if err != nil && ctx.Err() == nil {
			w.log.Error("claim outbox jobs", "error", err)
		}
		if !s.dispatch(ctx.Done(), jobs) {
			return
		}
		if len(jobs) == w.opts.Batch {
			continue // probably more due: claim again while the pool works
		}
		if err != nil {
			if !w.wait(ctx, min(w.opts.PollInterval, 2*time.Second)) {
				return
			}
			continue
		}
		if !w.wait(ctx, w.untilNextDue(ctx)) {
			return
		}
	}
}

// untilNextDue is how long the loop may sleep: until the next job falls due, at most PollInterval.
func (w *Worker) untilNextDue(ctx context.Context) time.Duration {
	d := w.opts.PollInterval
	next, ok, err := w.db.NextDueAt(ctx)
	if err != nil || !ok {
		return d
	}
	// The store's clock decides due-ness; a floor keeps a job due "now" but not yet claimable
	// (lease ending this millisecond) from spinning the loop.
	return max(min(d, next.Sub(w.db.Now())), 10*time.Millisecond)
}

// wait sleeps for d or until a commit enqueues a job, the worker is nudged or ctx ends.
func (w *Worker) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.db.JobSignal():
	case <-w.nudge:
	case <-t.C:
	}
	return true
}

// RunDue works through due jobs now, with the worker's concurrency, until none is due or
// maxDuration has passed; jobs claimed but not started by then are given back. It reports the
// attempts it finished and how many of them failed. It runs beside the background loop when
// both are active.
func (w *Worker) RunDue(ctx context.Context, maxDuration time.Duration) (processed, failed int, err error) {
	s := w.newSession()
	deadline := time.NewTimer(maxDuration)
	defer deadline.Stop()
	stop := make(chan struct{})
	go func() {
		select {
		case <-deadline.C:
			s.startDraining()
		case <-ctx.Done():
			s.startDraining()
		case <-s.finished:
		}
		close(stop)
	}()
	for {
		select {
		case <-stop:
		default:
			var jobs []store.Job
			jobs, err = w.db.ClaimJobs(ctx, w.opts.ID, w.opts.Lease, w.opts.Batch)
			if err == nil && s.dispatch(stop, jobs) && len(jobs) > 0 {
				continue
			}
		}
		break
	}
	// Wait for the started jobs; their own timeouts bound this.
	ferr := s.finish(context.WithoutCancel(ctx))
	return int(s.processed.Load()), int(s.failed.Load()), errors.Join(err, ferr)
}

// session is one stretch of work — the background loop or one RunDue call — with its own pool,
// completion batcher and lease renewer over the jobs it holds.
type session struct {
	w           *Worker
	queue       chan store.Job
	completions chan completion
	pool        sync.WaitGroup
	completed   chan struct{} // closed when the completion batcher has flushed
	finished    chan struct{} // closed by finish
	// drain, once closed, makes the pool give back unstarted jobs instead of running them.
	drain     chan struct{}
	drainOnce sync.Once
	// abandoned: Stop's deadline passed; nothing more is written.
	abandoned atomic.Bool
	jobCtx    context.Context
	abandon   context.CancelFunc
	stopRenew chan struct{}
	renewDone chan struct{}

	mu   sync.Mutex
	held map[int64]*heldJob

	processed, failed atomic.Int64
}

// heldJob is a job this session has claimed and not yet finished.
type heldJob struct {
	attempt int
	cancel  context.CancelFunc // set while its handler runs
	lost    bool               // the lease was lost: another worker may have it now
}

type completion struct {
	job    store.Job
	result json.RawMessage
	took   time.Duration
}

func (w *Worker) newSession() *session {
	jobCtx, abandon := context.WithCancel(context.Background())
	s := &session{w: w, queue: make(chan store.Job, w.opts.Batch), completions: make(chan completion, 4*w.opts.Batch),
		completed: make(chan struct{}), finished: make(chan struct{}), drain: make(chan struct{}), jobCtx: jobCtx, abandon: abandon,
		stopRenew: make(chan struct{}), renewDone: make(chan struct{}), held: map[int64]*heldJob{}}
	for range w.opts.Concurrency {
		s.pool.Add(1)
		go s.work()
	}
	go s.completeLoop()
	go s.renewLoop()
	return s
}

// dispatch hands claimed jobs to the pool, blocking while it is busy. When stop closes first it
// gives the rest back and returns false.
func (s *session) dispatch(stop <-chan struct{}, jobs []store.Job) bool {
	s.mu.Lock()
	for _, j := range jobs {
		s.held[j.ID] = &heldJob{attempt: j.Attempts}
	}
	s.mu.Unlock()
	for i, j := range jobs {
		select {
		case s.queue <- j:
		case <-stop:
			for _, rest := range jobs[i:] {
				s.giveBack(rest)
			}
			return false
		}
	}
	select {
	case <-stop:
		return false
	default:
		return true
	}
}

func (s *session) startDraining() { s.drainOnce.Do(func() { close(s.drain) }) }

func (s *session) draining() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

// finish ends the session: queued jobs run (or are given back once draining), running ones
// finish and completions are flushed — or, when ctx ends first, running jobs are abandoned.
func (s *session) finish(ctx context.Context) error {
	close(s.finished)
	close(s.queue)
	done := make(chan struct{})
	go func() {
		s.pool.Wait()
		close(s.completions)
		<-s.completed
		close(done)
	}()
	defer func() {
		close(s.stopRenew)
		<-s.renewDone
	}()
	select {
	case <-done:
		s.abandon()
		return nil
	case <-ctx.Done():
		s.abandoned.Store(true)
		s.abandon()
		s.mu.Lock()
		n := len(s.held)
		s.mu.Unlock()
		s.w.log.Warn("outbox worker stopped with jobs still running; they are reclaimed after their lease", "jobs", n)
		return fmt.Errorf("stop outbox worker: %d jobs left running until their lease expires: %w", n, ctx.Err())
	}
}

// work is one pool goroutine.
func (s *session) work() {
	defer s.pool.Done()
	for j := range s.queue {
		if s.draining() {
			s.giveBack(j)
			continue
		}
		s.run(j)
	}
}

// giveBack returns an unstarted job to pending with its attempt refunded.
func (s *session) giveBack(j store.Job) {
	defer s.release(j.ID)
	if s.abandoned.Load() {
		return
	}
	err := s.w.db.DeferJob(context.Background(), j.ID, j.Attempts, s.w.opts.ID, time.Time{}, "")
	if err != nil {
		s.w.log.Warn("give back unstarted outbox job", "job_id", j.ID, "job_type", j.JobType, "error", err)
	}
}

func (s *session) release(id int64) {
	s.mu.Lock()
	delete(s.held, id)
	s.mu.Unlock()
}

// run executes one attempt and records its outcome.
func (s *session) run(j store.Job) {
	w := s.w
	ctx, cancel := context.WithTimeout(s.jobCtx, w.opts.JobTimeout)
	defer cancel()
	s.mu.Lock()
	h := s.held[j.ID]
	lost := h == nil || h.lost
	if h != nil {
		h.cancel = cancel
	}
	s.mu.Unlock()
	if lost {
		s.release(j.ID)
		w.log.Warn("outbox job lease lost before it started", "job_id", j.ID, "job_type", j.JobType, "attempt", j.Attempts)
		return
	}
	w.metrics.observeStart(j)
	start := time.Now()
	result, err := w.execute(ctx, j)
	took := time.Since(start)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", w.opts.JobTimeout, err)
	}
	w.metrics.handlerSeconds.WithLabelValues(j.JobType).Observe(took.Seconds())
	if s.abandoned.Load() {
		return // Stop gave up on this job: it stays processing until its lease expires
	}
	if err == nil {
		raw, merr := json.Marshal(result)
		if merr == nil {
			if result == nil {
				raw = nil
			}
			s.completions <- completion{job: j, result: raw, took: took}
			return
		}
		err = fmt.Errorf("result is not JSON-encodable: %w", merr)
	}
	s.recordFailure(j, err, took)
}

// execute runs the job's handler, turning a missing handler and a panic into failures.
func (w *Worker) execute(ctx context.Context, j store.Job) (result any, err error) {
	h, ok := w.reg.Lookup(j.JobType)
	if !ok {
		return nil, fmt.Errorf("no handler registered for job type %q", j.JobType)
	}
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("outbox handler panicked", "job_id", j.ID, "job_type", j.JobType, "attempt", j.Attempts,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			result, err = nil, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, j)
}

// recordFailure defers or fails the attempt.
func (s *session) recordFailure(j store.Job, herr error, took time.Duration) {
	w := s.w
	defer s.release(j.ID)
	ctx := context.Background()
	attrs := []any{"job_id", j.ID, "job_type", j.JobType, "attempt", j.Attempts, "duration_ms", took.Milliseconds()}
	if d, ok := asDeferError(herr); ok {
		if err := w.db.DeferJob(ctx, j.ID, j.Attempts, w.opts.ID, d.Until, d.Reason); err != nil {
			w.log.Warn("defer outbox job", append(attrs, "error", err)...)
			return
		}
		s.processed.Add(1)
		w.metrics.processed.WithLabelValues(j.JobType, "deferred").Inc()
		w.log.Info("outbox job deferred", append(attrs, "until", d.Until, "reason", d.Reason)...)
		return
	}
	msg := herr.Error()
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen] + "…"
	}
	status, err := w.db.FailJob(ctx, j.ID, j.Attempts, w.opts.ID, msg)
	if err != nil {
		w.log.Warn("record outbox job failure", append(attrs, "job_error", msg, "error", err)...)
		return
	}
	s.processed.Add(1)
	s.failed.Add(1)
	w.metrics.processed.WithLabelValues(j.JobType, string(status)).Inc()
	if status == store.JobDead {
		w.log.Error("outbox job is dead: no attempts left", append(attrs, "error", msg)...)
		return
	}
	w.log.Warn("outbox job failed; will retry", append(attrs, "error", msg)...)
}

// completeLoop writes completions in batches: whatever finished while the previous batch was
// committing goes into the next transaction.
func (s *session) completeLoop() {
	defer close(s.completed)
	const maxBatch = 256
	batch := make([]completion, 0, maxBatch)
	for c := range s.completions {
		batch = append(batch[:0], c)
	fill:
		for len(batch) < maxBatch {
			select {
			case c, ok := <-s.completions:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			default:
				break fill
			}
		}
		s.writeCompletions(batch)
	}
}

func (s *session) writeCompletions(batch []completion) {
	w := s.w
	defer func() {
		for _, c := range batch {
			s.release(c.job.ID)
		}
	}()
	if s.abandoned.Load() {
		return
	}
	cs := make([]store.Completion, len(batch))
	for i, c := range batch {
		var result any
		if c.result != nil {
			result = c.result
		}
		cs[i] = store.Completion{ID: c.job.ID, Attempt: c.job.Attempts, WorkerID: w.opts.ID, Result: result}
	}
	errs, err := w.db.CompleteJobs(context.Background(), cs)
	if err != nil {
		w.log.Error("record outbox job completions", "jobs", len(batch), "error", err)
		return
	}
	for i, c := range batch {
		j := c.job
		if errs[i] != nil {
			w.log.Warn("outbox job finished after its lease was lost; result discarded", "job_id", j.ID,
				"job_type", j.JobType, "attempt", j.Attempts, "error", errs[i])
			continue
		}
		s.processed.Add(1)
		w.metrics.processed.WithLabelValues(j.JobType, string(store.JobCompleted)).Inc()
		w.log.Info("outbox job completed", "job_id", j.ID, "job_type", j.JobType, "attempt", j.Attempts,
			"duration_ms", c.took.Milliseconds())
	}
}

// renewLoop extends the leases of every job the session holds, queued or running, every
// lease/3, so a long job or a long queue never loses its claim.
func (s *session) renewLoop() {
	defer close(s.renewDone)
	t := time.NewTicker(s.w.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stopRenew:
			return
		case <-t.C:
			s.renewOnce(context.Background())
		}
	}
}

func (s *session) renewOnce(ctx context.Context) {
	w := s.w
	s.mu.Lock()
	leases := make([]store.JobLease, 0, len(s.held))
	for id, h := range s.held {
		if !h.lost {
			leases = append(leases, store.JobLease{ID: id, Attempt: h.attempt})
		}
	}
	s.mu.Unlock()
	if len(leases) == 0 || s.abandoned.Load() {
		return
	}
	lost, err := w.db.RenewLeases(ctx, w.opts.ID, w.opts.Lease, leases)
	if err != nil {
		w.log.Warn("renew outbox leases", "jobs", len(leases), "error", err)
		return
	}
	for _, id := range lost {
		s.mu.Lock()
		h := s.held[id]
		if h != nil {
			h.lost = true
			if h.cancel != nil {
				h.cancel() // someone else may be running it now: stop ours
			}
		}
		s.mu.Unlock()
		w.log.Warn("outbox job lease lost", "job_id", id)
	}
}
