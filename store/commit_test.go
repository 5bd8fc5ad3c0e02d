package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// queueBehind holds the writer busy with one request until n more Update calls are queued
// behind it, so the committer takes those n as one batch; it returns each one's error.
func queueBehind(t *testing.T, db *DB, fns []func(*Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	holding := make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- db.Update(ctx, func(*Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(ctx, fn)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(db.reqs) < len(fns) { // the writer is busy: every request waits in the queue
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests queued", len(db.reqs), len(fns))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	return errs
}

// Concurrent requests share one commit: the committer's counters say so.
func TestConcurrentUpdatesAreGroupCommitted(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	const n = 20
	fns := make([]func(*Tx) error, n)
	var after atomic.Int32
	for i := range fns {
		fns[i] = func(tx *Tx) error {
			tx.AfterCommit(func() { after.Add(1) })
			_, _, err := tx.InsertEvent(ctx, Event{Source: "system", SourceEventID: fmt.Sprint("g", i), Name: "x"})
			return err
		}
	}
	b0, r0, f0 := db.CommitStats()
	for i, err := range queueBehind(t, db, fns) {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	b1, r1, f1 := db.CommitStats()
	if r1-r0 != n+1 || b1-b0 != 2 || f1 != f0 {
		t.Fatalf("%d requests in %d commits (%d failures); want %d in 2 (the holder, then one group)", r1-r0, b1-b0, f1-f0, n+1)
	}
	if after.Load() != n {
		t.Fatalf("after-commit hooks ran %d times, want %d", after.Load(), n)
	}
	if c := countRows(t, db, `SELECT count(*) FROM engagement_events WHERE source_event_id LIKE 'g%'`); c != n {
		t.Fatalf("%d rows, want %d", c, n)
	}
}

// When the shared commit itself fails (here a deferred foreign key that only COMMIT checks),
// the batch is rerun one request at a time: the good requests commit, the bad one alone fails,
// and only the committed requests' after-commit hooks run.
func TestGroupCommitFallsBackWhenTheSharedCommitFails(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE test_parent (id TEXT PRIMARY KEY);
			CREATE TABLE test_child (id TEXT PRIMARY KEY,
				parent_id TEXT REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED)`)
		return err
	})
	const n, bad = 9, 4
	var after [n]atomic.Int32
	fns := make([]func(*Tx) error, n)
	for i := range fns {
		fns[i] = func(tx *Tx) error {
			tx.AfterCommit(func() { after[i].Add(1) })
			parent := "p"
			if i == bad {
				parent = "missing" // each statement succeeds; the commit refuses
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO test_child (id, parent_id) VALUES (?, ?)`, fmt.Sprint(i), parent)
			return err
		}
	}
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO test_parent (id) VALUES ('p')`)
		return err
	})
	b0, r0, f0 := db.CommitStats()
	errs := queueBehind(t, db, fns)
	b1, r1, f1 := db.CommitStats()
	for i, err := range errs {
		rows := countRows(t, db, `SELECT count(*) FROM test_child WHERE id = ?`, fmt.Sprint(i))
		if i == bad {
			if ErrorCode(err) != EINVALID || rows != 0 || after[i].Load() != 0 {
				t.Fatalf("the bad request: err %v (code %q), %d rows, hooks %d", err, ErrorCode(err), rows, after[i].Load())
			}
			continue
		}
		if err != nil || rows != 1 || after[i].Load() != 1 {
			t.Fatalf("request %d: err %v, %d rows, hooks ran %d times", i, err, rows, after[i].Load())
		}
	}
	// One grouped batch (which failed at COMMIT and was rerun alone), after the holder's.
	if b1-b0 != 2 || r1-r0 != n+1 || f1-f0 != 1 {
		t.Fatalf("stats: %d batches, %d requests, %d failures", b1-b0, r1-r0, f1-f0)
	}
}
