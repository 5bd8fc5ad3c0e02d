package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestWriterOfAnotherHandleWaitsItsTurnAndSaysSo: while one handle (as one process) holds the
// write lock far longer than SQLite's own busy step, a second handle's write waits instead of
// failing "database is busy", announces itself on the waiters' file meanwhile, and commits
// once the lock is free.
func TestWriterOfAnotherHandleWaitsItsTurnAndSaysSo(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "two.db")
	a := openTestPath(t, path)
	b := openTestPath(t, path)
	if a.waiting.present() {
		t.Fatal("a waiting writer before anyone waits")
	}
	holding, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.Update(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO integration_state (name, value, updated_at) VALUES ('a', 'a', ?)`, tx.NowText())
			close(holding)
			<-release
			return err
		})
	}()
	<-holding
	bDone := make(chan error, 1)
	go func() {
		bDone <- b.Update(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO integration_state (name, value, updated_at) VALUES ('b', 'b', ?)`, tx.NowText())
			return err
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !a.waiting.present() {
		if time.Now().After(deadline) {
			t.Fatal("the waiting writer of the other handle never announced itself")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // far beyond SQLite's 5 ms step
	select {
	case err := <-bDone:
		t.Fatalf("the second writer finished while the lock was held: %v", err)
	default:
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("the second writer failed instead of waiting: %v", err)
	}
	if a.waiting.present() {
		t.Error("the waiter's announcement outlived its wait")
	}
	var n int
	if err := a.Read().QueryRow(`SELECT count(*) FROM integration_state WHERE name IN ('a', 'b')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows %d, %v", n, err)
	}
	start := time.Now()
	a.YieldToWaitingWriters(ctx, time.Second)
	if time.Since(start) > 100*time.Millisecond {
		t.Error("YieldToWaitingWriters waited with nobody waiting")
	}
}

// TestDataVersionSeesOnlyOtherWriters: the writer's data_version moves when another handle
// commits, not when this one does (an import pauses longer only while someone else writes).
func TestDataVersionSeesOnlyOtherWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dv.db")
	a, b := openTestPath(t, path), openTestPath(t, path)
	version := func(db *DB, write string) int64 {
		var v int64
		mustUpdate(t, db, func(tx *Tx) error {
			var err error
			if v, err = tx.DataVersion(ctx); err != nil || write == "" {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO integration_state (name, value, updated_at) VALUES (?1, 'x', 'now')
				ON CONFLICT (name) DO UPDATE SET value = value || 'x'`, write)
			return err
		})
		return v
	}
	v1 := version(a, "a1")
	v2 := version(a, "a2")
	if v2 != v1 {
		t.Fatalf("own commits moved data_version: %d → %d", v1, v2)
	}
	version(b, "b1")
	if v3 := version(a, ""); v3 == v2 {
		t.Fatal("another handle's commit did not move data_version")
	}
}
