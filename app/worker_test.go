package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// outboxClock is a settable clock for the store.
type outboxClock struct {
	mu sync.Mutex
	t  time.Time
}

func newOutboxClock() *outboxClock {
	return &outboxClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *outboxClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *outboxClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openOutboxTestDB opens a fresh database file; clock may be nil for real time.
func openOutboxTestDB(t testing.TB, clock func() time.Time) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "outbox.db"), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func enqueueOutboxJob(t testing.TB, db *store.DB, j store.NewJob) int64 {
	t.Helper()
	var id int64
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		id, _, err = tx.Enqueue(context.Background(), j)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func getOutboxJob(t testing.TB, db *store.DB, id int64) store.Job {
	t.Helper()
	j, err := db.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// receive waits for a value from ch, failing the test after a generous bound.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestWorkerOutcomes runs one job per case through RunDue and checks what was recorded.
func TestWorkerOutcomes(t *testing.T) {
	clock := newOutboxClock()
	deferUntil := clock.Now().Add(6 * time.Hour)
	tests := []struct {
		name        string
		handler     Handler // nil: no handler registered
		maxAttempts int
		status      store.JobStatus
		attempts    int
		lastError   string
		failed      int
	}{
		{name: "success", handler: func(context.Context, store.Job) (any, error) { return map[string]int{"n": 1}, nil },
			status: store.JobCompleted, attempts: 1},
		{name: "error", handler: func(context.Context, store.Job) (any, error) { return nil, errors.New("zoho 500") },
			status: store.JobFailed, attempts: 1, lastError: "zoho 500", failed: 1},
		{name: "last attempt", maxAttempts: 1, handler: func(context.Context, store.Job) (any, error) { return nil, errors.New("no") },
			status: store.JobDead, attempts: 1, lastError: "no", failed: 1},
		{name: "panic", handler: func(context.Context, store.Job) (any, error) { panic("boom") },
			status: store.JobFailed, attempts: 1, lastError: "handler panicked: boom", failed: 1},
		{name: "timeout", handler: func(ctx context.Context, _ store.Job) (any, error) { <-ctx.Done(); return nil, ctx.Err() },
			status: store.JobFailed, attempts: 1, lastError: "timed out after 50ms: context deadline exceeded", failed: 1},
		{name: "no handler", status: store.JobFailed, attempts: 1,
			lastError: `no handler registered for job type "no handler"`, failed: 1},
		{name: "not configured", handler: func(context.Context, store.Job) (any, error) {
			return nil, fmt.Errorf("sync order: %w", ErrNotConfigured("zoho books", "ZOHO_REFRESH_TOKEN"))
		}, status: store.JobFailed, attempts: 1, lastError: "sync order: zoho books is not configured: set ZOHO_REFRESH_TOKEN", failed: 1},
		{name: "deferred", handler: func(context.Context, store.Job) (any, error) {
			return nil, fmt.Errorf("create invoice: %w", DeferError{Until: deferUntil, Reason: "zoho daily API limit reached"})
		}, status: store.JobPending, attempts: 0, lastError: "zoho daily API limit reached"},
		{name: "unencodable result", handler: func(context.Context, store.Job) (any, error) { return make(chan int), nil },
			status: store.JobFailed, attempts: 1, lastError: "result is not JSON-encodable", failed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openOutboxTestDB(t, clock.Now)
			reg := &Registry{}
			if tt.handler != nil {
				reg.Register(store.JobKind(tt.name), tt.handler)
			}
			id := enqueueOutboxJob(t, db, store.NewJob{Type: store.JobKind(tt.name), MaxAttempts: tt.maxAttempts})
			w := NewWorker(db, reg, WorkerOptions{JobTimeout: 50 * time.Millisecond, Logger: quietLogger()})
			processed, failed, err := w.RunDue(context.Background(), 10*time.Second)
			if err != nil || processed != 1 || failed != tt.failed {
				t.Fatalf("RunDue = %d, %d, %v; want 1, %d", processed, failed, err, tt.failed)
			}
			j := getOutboxJob(t, db, id)
			if j.Status != tt.status || j.Attempts != tt.attempts || !strings.HasPrefix(j.LastError, tt.lastError) {
				t.Fatalf("job: status %s attempts %d last_error %q; want %s %d %q", j.Status, j.Attempts, j.LastError,
					tt.status, tt.attempts, tt.lastError)
			}
			if tt.failed == 1 && (len(j.Errors) != 1 || j.Errors[0].Error != j.LastError) {
				t.Fatalf("errors history: %+v", j.Errors)
			}
			if tt.status == store.JobPending && (!j.ScheduledFor.Equal(deferUntil) || len(j.Errors) != 0) {
				t.Fatalf("deferred job: %+v", j)
			}
			if tt.status == store.JobCompleted && string(j.Result) != `{"n":1}` {
				t.Fatalf("result = %s", j.Result)
			}
		})
	}
}

// TestWorkerWakesOnEnqueue: with a one-hour poll, a job enqueued while the worker sleeps runs
// at once, because the commit signals the worker.
func TestWorkerWakesOnEnqueue(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	ran := make(chan int64, 2)
	reg := &Registry{}
	reg.Register("ping", func(_ context.Context, j store.Job) (any, error) { ran <- j.ID; return nil, nil })
	w := NewWorker(db, reg, WorkerOptions{PollInterval: time.Hour, Logger: quietLogger()})
	w.Start(context.Background())
	t.Cleanup(func() { w.Stop(context.Background()) })

	first := enqueueOutboxJob(t, db, store.NewJob{Type: "ping"})
	if got := receive(t, ran, "first job"); got != first {
		t.Fatalf("ran %d, want %d", got, first)
	}
	// The worker found nothing more and sleeps for up to an hour now.
	start := time.Now()
	second := enqueueOutboxJob(t, db, store.NewJob{Type: "ping"})
	if got := receive(t, ran, "second job"); got != second {
		t.Fatalf("ran %d, want %d", got, second)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("second job started after %s", took)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{first, second} {
		if j := getOutboxJob(t, db, id); j.Status != store.JobCompleted {
			t.Fatalf("job %d: %s", id, j.Status)
		}
	}
}

// blockingRegistry registers "block": each run reports its id on started and waits for release
// or for its context to end.
func blockingRegistry(started chan<- int64, release <-chan struct{}) *Registry {
	reg := &Registry{}
	reg.Register("block", func(ctx context.Context, j store.Job) (any, error) {
		started <- j.ID
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	return reg
}

func TestWorkerStopWaitsForRunningJob(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	started, release := make(chan int64, 3), make(chan struct{})
	w := NewWorker(db, blockingRegistry(started, release), WorkerOptions{Concurrency: 1, PollInterval: time.Hour, Logger: quietLogger()})
	var ids []int64
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		for range 3 {
			id, _, err := tx.Enqueue(context.Background(), store.NewJob{Type: "block"})
			ids = append(ids, id)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Start(context.Background())
	running := receive(t, started, "a job to start")
	s := w.bg.s

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- w.Stop(ctx)
	}()
	<-s.drain // Stop has begun: nothing new starts
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job was running", err)
	default:
	}
	close(release)
	if err := receive(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		j := getOutboxJob(t, db, id)
		switch {
		case id == running && (j.Status != store.JobCompleted || string(j.Result) != `"done"`):
			t.Fatalf("running job %d: %s %s", id, j.Status, j.Result)
		case id != running && (j.Status != store.JobPending || j.Attempts != 0 || j.LockedBy != ""):
			t.Fatalf("unstarted job %d was not given back: %+v", id, j)
		}
	}
}

// TestWorkerStopAbandonsAfterDeadline: a job still running at Stop's deadline is left
// processing, to be reclaimed after its lease.
func TestWorkerStopAbandonsAfterDeadline(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	started := make(chan int64, 1)
	w := NewWorker(db, blockingRegistry(started, nil), WorkerOptions{PollInterval: time.Hour, Logger: quietLogger()})
	id := enqueueOutboxJob(t, db, store.NewJob{Type: "block"})
	w.Start(context.Background())
	receive(t, started, "the job to start")
	s := w.bg.s

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has already passed
	if err := w.Stop(ctx); err == nil || !strings.Contains(err.Error(), "1 jobs left running") {
		t.Fatalf("Stop = %v, want an error saying a job was left running", err)
	}
	s.pool.Wait() // the handler saw its context cancelled and returned
	if j := getOutboxJob(t, db, id); j.Status != store.JobProcessing || j.Attempts != 1 || j.LockedBy != w.ID() {
		t.Fatalf("abandoned job: %+v", j)
	}
}

// TestWorkerRenewsAndLosesLeases drives the renewer by hand with a controlled clock.
func TestWorkerRenewsAndLosesLeases(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxTestDB(t, clock.Now)
	started := make(chan int64, 1)
	w := NewWorker(db, blockingRegistry(started, nil), WorkerOptions{Lease: time.Hour, PollInterval: time.Hour, Logger: quietLogger()})
	id := enqueueOutboxJob(t, db, store.NewJob{Type: "block"})
	// A session of its own, without Start's claim loop: that loop reads the fake clock when it
	// goes to sleep, and if it does so after the jumps below it wakes at once and reclaims its
	// own expired lease before "other" can (the flake this test had under load).
	s := w.newSession()
	jobs, err := db.ClaimJobs(ctx, w.opts.ID, w.opts.Lease, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim = %v, %v", jobs, err)
	}
	s.dispatch(nil, jobs)
	receive(t, started, "the job to start")

	now := clock.Advance(50 * time.Minute)
	s.renewOnce(ctx)
	if j := getOutboxJob(t, db, id); !j.LockedUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("locked_until = %s, want %s", j.LockedUntil, now.Add(time.Hour))
	}

	// The worker stalls past its lease; another worker reclaims the job.
	clock.Advance(61 * time.Minute)
	if jobs, err := db.ClaimJobs(ctx, "other", time.Hour, 1); err != nil || len(jobs) != 1 {
		t.Fatalf("reclaim = %v, %v", jobs, err)
	}
	s.renewOnce(ctx) // notices the loss and cancels the handler
	if err := s.finish(ctx); err != nil {
		t.Fatal(err)
	}
	if j := getOutboxJob(t, db, id); j.Status != store.JobProcessing || j.LockedBy != "other" || j.Attempts != 2 {
		t.Fatalf("the stale worker changed the reclaimed job: %+v", j)
	}
}

// invocationRegistry registers "record": each run writes (job, attempt, start, end, pid) to
// test_invocations and bumps count.
func invocationRegistry(db *store.DB, count *atomic.Int64, notify chan<- struct{}) *Registry {
	reg := &Registry{}
	reg.Register("record", func(ctx context.Context, j store.Job) (any, error) {
		start := time.Now().UnixNano()
		time.Sleep(time.Millisecond) // stands for the work of a real handler
		end := time.Now().UnixNano()
		err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO test_invocations (job_id, attempt, start_ns, end_ns, pid)
				VALUES (?, ?, ?, ?, ?)`, j.ID, j.Attempts, start, end, os.Getpid())
			return err
		})
		if err != nil {
			return nil, err
		}
		count.Add(1)
		if notify != nil {
			select {
			case notify <- struct{}{}:
			default:
			}
		}
		return nil, nil
	})
	return reg
}

const (
	helperDBEnv          = "TECHNIFOLD_OUTBOX_HELPER_DB"
	helperConcurrencyEnv = "TECHNIFOLD_OUTBOX_HELPER_CONCURRENCY"
)

// TestOutboxHelperProcess is the second process of TestOutboxTwoProcesses; it does nothing
// unless that test starts it.
func TestOutboxHelperProcess(t *testing.T) {
	path := os.Getenv(helperDBEnv)
	if path == "" {
		t.Skip("helper process of TestOutboxTwoProcesses")
	}
	conc, _ := strconv.Atoi(os.Getenv(helperConcurrencyEnv))
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var count atomic.Int64
	w := NewWorker(db, invocationRegistry(db, &count, nil), WorkerOptions{Concurrency: conc, Logger: quietLogger(),
		ID: fmt.Sprintf("helper-%d", os.Getpid())})
	fmt.Println("helper-ready")
	processed, failed, err := w.RunDue(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("helper-done %d %d %d\n", processed, failed, count.Load())
}

// TestOutboxTwoProcesses runs a worker in this process and one in a second process on the same
// database file: every job completes exactly once, and no job's runs ever overlap.
func TestOutboxTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process")
	}
	const n = 3000
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	db := openOutboxTestDBAt(t, path)
	err := db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS test_invocations (
			job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
			pid INTEGER NOT NULL)`); err != nil {
			return err
		}
		for i := range n {
			if _, _, err := tx.Enqueue(ctx, store.NewJob{Type: "record", DedupeKey: fmt.Sprint("job-", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDBEnv+"="+path, helperConcurrencyEnv+"=4")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	nextLine := func(prefix string) string {
		for line := range lines {
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
		t.Fatalf("helper process ended without %q; stderr:\n%s", prefix, stderr.String())
		return ""
	}
	nextLine("helper-ready")

	var count atomic.Int64
	notify := make(chan struct{}, 1)
	w := NewWorker(db, invocationRegistry(db, &count, notify), WorkerOptions{Concurrency: 4, PollInterval: time.Hour,
		Logger: quietLogger(), ID: "parent"})
	w.Start(ctx)
	t.Cleanup(func() { w.Stop(ctx) })

	var childProcessed, childFailed, childCount int64
	if _, err := fmt.Sscanf(nextLine("helper-done"), "helper-done %d %d %d", &childProcessed, &childFailed, &childCount); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper process: %v\n%s", err, stderr.String())
	}
	// Once the helper found nothing due, every job left is this process's to finish.
	for count.Load() < n-childCount {
		receive(t, notify, fmt.Sprintf("this process's jobs (%d of %d)", count.Load(), n-childCount))
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	t.Logf("helper ran %d jobs, this process %d", childCount, count.Load())
	if childCount == 0 || count.Load() == 0 || childFailed != 0 {
		t.Errorf("both processes should have worked without failures: helper %d (failed %d), parent %d",
			childCount, childFailed, count.Load())
	}

	counts, err := db.JobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[store.JobCompleted]["record"] != n || len(counts) != 1 {
		t.Fatalf("job counts = %v, want all %d completed", counts, n)
	}
	var runs, jobs, overlaps, retries int
	if err := db.Read().QueryRow(`SELECT count(*), count(DISTINCT job_id), sum(attempt > 1) FROM test_invocations`).
		Scan(&runs, &jobs, &retries); err != nil {
		t.Fatal(err)
	}
	if err := db.Read().QueryRow(`SELECT count(*) FROM test_invocations a JOIN test_invocations b
		ON a.job_id = b.job_id AND a.rowid < b.rowid AND a.start_ns < b.end_ns AND b.start_ns < a.end_ns`).
		Scan(&overlaps); err != nil {
		t.Fatal(err)
	}
	if runs != n || jobs != n || retries != 0 || overlaps != 0 {
		t.Fatalf("invocations: %d runs of %d jobs, %d retries, %d overlapping; want each of %d jobs run once",
			runs, jobs, retries, overlaps, n)
	}
}

func openOutboxTestDBAt(t testing.TB, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
