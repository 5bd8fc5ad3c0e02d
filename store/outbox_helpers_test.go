package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// outboxClock is a settable clock for the store's transactions.
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

func (c *outboxClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *outboxClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openOutboxDB opens a fresh database file whose clock is c.
func openOutboxDB(t *testing.T, c *outboxClock) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "outbox.db"), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustEnqueue enqueues j in its own transaction and returns the job's id.
func mustEnqueue(t *testing.T, db *DB, j NewJob) int64 {
	t.Helper()
	var id int64
	err := db.Update(context.Background(), func(tx *Tx) error {
		var err error
		id, _, err = tx.Enqueue(context.Background(), j)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// mustGetJob reads a job or fails the test.
func mustGetJob(t *testing.T, db *DB, id int64) Job {
	t.Helper()
	j, err := db.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// claimN claims with a 2-minute lease and expects exactly want jobs.
func claimN(t *testing.T, db *DB, worker string, limit, want int) []Job {
	t.Helper()
	jobs, err := db.ClaimJobs(context.Background(), worker, 2*time.Minute, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != want {
		t.Fatalf("claim by %s: got %d jobs, want %d", worker, len(jobs), want)
	}
	return jobs
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if ErrorCode(err) != code {
		t.Fatalf("error %v: code %q, want %q", err, ErrorCode(err), code)
	}
}
