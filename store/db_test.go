package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openTest opens a fresh database file in a temporary directory.
func openTest(t testing.TB, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenAppliesMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	for range 3 {
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		applied, err := db.AppliedMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := db.PendingMigrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 || len(applied) < 2 {
			t.Fatalf("applied %v pending %v", applied, pending)
		}
		db.Close()
	}
	db := openTestPath(t, path)
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	applied, _ := db.AppliedMigrations(ctx)
	if n != len(applied) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(applied))
	}
}

func openTestPath(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestFailedMigrationLeavesNothing(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	body := `CREATE TABLE half_applied (x INTEGER); INSERT INTO half_applied VALUES (1); THIS IS NOT SQL;`
	if err := applyMigration(ctx, db.write, "9999_broken.sql", sqlStep(body), time.Now()); err == nil {
		t.Fatal("broken migration applied without error")
	}
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'half_applied'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a failed migration left its table behind")
	}
	if err := db.Read().QueryRow(`SELECT count(*) FROM schema_migrations WHERE name = '9999_broken.sql'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a failed migration was recorded as applied")
	}
}

func TestDSNHasEveryPragma(t *testing.T) {
	w := DSN("/tmp/x.db", true)
	for _, want := range []string{"journal_mode%28WAL%29", "busy_timeout%285%29", "foreign_keys%28ON%29",
		"synchronous%28FULL%29", "temp_store%28MEMORY%29", "_txlock=immediate"} {
		if !strings.Contains(w, want) {
			t.Errorf("writer DSN %s lacks %s", w, want)
		}
	}
	if r := DSN("/tmp/x.db", false); !strings.Contains(r, "query_only%281%29") || strings.Contains(r, "_txlock") ||
		!strings.Contains(r, "busy_timeout%2810000%29") {
		t.Errorf("reader DSN %s", r)
	}
	db := openTest(t, Options{})
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "5"} {
		var got string
		conn, err := db.write.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// The writer connection is owned by the committer; borrow it only between batches.
		err = conn.QueryRowContext(context.Background(), "PRAGMA "+pragma).Scan(&got)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("writer PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	if _, err := db.Read().Exec(`INSERT INTO sequences (name, value) VALUES ('x', 1)`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

func TestTxCarriesFixedNow(t *testing.T) {
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return fixed }})
	err := db.Update(context.Background(), func(tx *Tx) error {
		if !tx.Now().Equal(fixed) {
			t.Errorf("tx.Now() = %v", tx.Now())
		}
		_, err := tx.UpsertCompany(context.Background(), Company{ID: "C1", Name: "One"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.GetCompany(context.Background(), "C1")
	if err != nil {
		t.Fatal(err)
	}
	if c.CreatedAt != "2026-03-04T05:06:07.891Z" || c.UpdatedAt != c.CreatedAt {
		t.Fatalf("timestamps %q %q", c.CreatedAt, c.UpdatedAt)
	}
}

func TestErrorsAreTranslated(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := tx.UpsertCompany(ctx, Company{ID: "C1", Name: "One"}); err != nil {
			return err
		}
		_, err := tx.UpsertContact(ctx, Contact{ID: "K1", CompanyID: "C1", Email: "a@example.com"})
		return err
	})
	tests := []struct {
		name string
		fn   func(tx *Tx) error
		code string
	}{
		{"duplicate email, other case", func(tx *Tx) error {
			_, err := tx.UpsertContact(ctx, Contact{ID: "K2", Email: "A@EXAMPLE.COM"})
			return err
		}, ECONFLICT},
		{"unknown company", func(tx *Tx) error {
			_, err := tx.UpsertContact(ctx, Contact{ID: "K3", CompanyID: "NOPE", Email: "b@example.com"})
			return err
		}, EINVALID},
		{"bad marketing status", func(tx *Tx) error {
			_, err := tx.UpsertContact(ctx, Contact{ID: "K4", Email: "c@example.com", MarketingStatus: "maybe"})
			return err
		}, EINVALID},
		{"missing row", func(tx *Tx) error {
			_, err := db.GetCompany(ctx, "NOPE")
			return err
		}, ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(ctx, tt.fn)
			if got := ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

func mustUpdate(t testing.TB, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentWritersAndReaders: 8 goroutines write through the writer while 8 read, for a
// few seconds; no SQLITE_BUSY, no lost write.
func TestConcurrentWritersAndReaders(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.UpsertCompany(ctx, Company{ID: "C1", Name: "One"})
		return err
	})
	duration := 3 * time.Second
	if testing.Short() {
		duration = 500 * time.Millisecond
	}
	deadline := time.Now().Add(duration)
	var written, reads atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				err := db.Update(ctx, func(tx *Tx) error {
					_, _, err := tx.InsertEvent(ctx, Event{Source: "system", SourceEventID: fmt.Sprintf("w%d-%d", w, i),
						Name: "test", CompanyID: "C1"})
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				written.Add(1)
			}
		}()
	}
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(-1)
			for time.Now().Before(deadline) {
				var n int64
				if err := db.Read().QueryRowContext(ctx, `SELECT count(*) FROM engagement_events`).Scan(&n); err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				if n < last {
					errs <- fmt.Errorf("reader %d saw the count go back from %d to %d", r, last, n)
					return
				}
				last = n
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int64
	if err := db.Read().QueryRow(`SELECT count(*) FROM engagement_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != written.Load() {
		t.Fatalf("%d writes acknowledged, %d rows in the table", written.Load(), n)
	}
	batches, requests, _ := db.CommitStats()
	t.Logf("%d writes in %d commits, %d reads", written.Load(), batches, reads.Load())
	if requests < written.Load() {
		t.Fatalf("committer counted %d requests for %d writes", requests, written.Load())
	}
}

// TestGroupCommitIsolatesFailures: when several requests share a commit, one request's error
// rolls back only its own work.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	results := make([]error, 200)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Update(ctx, func(tx *Tx) error {
				if _, _, err := tx.InsertEvent(ctx, Event{Source: "system", SourceEventID: fmt.Sprint(i), Name: "x"}); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return boom
				case 7:
					panic("handler bug")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		var n int
		if qerr := db.Read().QueryRow(`SELECT count(*) FROM engagement_events WHERE source_event_id = ?`, fmt.Sprint(i)).Scan(&n); qerr != nil {
			t.Fatal(qerr)
		}
		switch i % 10 {
		case 3:
			if !errors.Is(err, boom) || n != 0 {
				t.Fatalf("request %d: err %v, rows %d", i, err, n)
			}
		case 7:
			if err == nil || !strings.Contains(err.Error(), "panic") || n != 0 {
				t.Fatalf("request %d: err %v, rows %d", i, err, n)
			}
		default:
			if err != nil || n != 1 {
				t.Fatalf("request %d: err %v, rows %d", i, err, n)
			}
		}
	}
	batches, requests, _ := db.CommitStats()
	t.Logf("%d requests in %d commits", requests, batches)
}

func TestAfterCommitRunsOnlyOnCommit(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	var ran atomic.Int32
	mustUpdate(t, db, func(tx *Tx) error { tx.AfterCommit(func() { ran.Add(1) }); return nil })
	_ = db.Update(ctx, func(tx *Tx) error { tx.AfterCommit(func() { ran.Add(10) }); return errors.New("no") })
	if ran.Load() != 1 {
		t.Fatalf("after-commit hooks ran %d", ran.Load())
	}
}

func TestUpdateAfterClose(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
}
