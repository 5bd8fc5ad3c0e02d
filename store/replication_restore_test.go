package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
)

// Point-in-time restore, from a directory replica and from S3 (gofakes3).
func TestRestoreToTimestamp(t *testing.T) {
	for _, kind := range []struct {
		name    string
		replica func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return fileReplica(t) }},
		{"s3", func(t *testing.T) string { url, _ := fakeS3(t); return url }},
	} {
		t.Run(kind.name, func(t *testing.T) { testRestoreToTimestamp(t, kind.replica(t)) })
	}
}

func testRestoreToTimestamp(t *testing.T, replica string) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "technifold.db")
	db, r := startReplicated(t, path, replica)

	writeCompanies(t, db, "A", 0, 10)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	txA := r.Status(ctx).ReplicaTXID
	// LTX files carry millisecond wall-clock timestamps; make batch B's file strictly later.
	aAt := ltxCreatedAt(t, r, func(min, max uint64) bool { return max == txA })
	for time.Since(aAt) < 5*time.Millisecond {
		time.Sleep(time.Millisecond)
	}
	writeCompanies(t, db, "B", 0, 10)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	bAt := ltxCreatedAt(t, r, func(min, max uint64) bool { return min > txA })
	if !bAt.After(aAt) {
		t.Fatalf("batch B's LTX file (%s) is not later than batch A's (%s)", bAt, aAt)
	}
	between := aAt.Add(bAt.Sub(aAt) / 2)

	out := filepath.Join(dir, "pitr.db")
	var progress strings.Builder
	if err := r.Restore(ctx, RestoreOptions{OutputPath: out, Timestamp: between, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	ids := companyIDs(t, out)
	if len(ids) != 10 || !ids["A00009"] || ids["B00000"] {
		t.Fatalf("restore to %s: %d companies (A00009 %v, B00000 %v); want batch A only", between, len(ids), ids["A00009"], ids["B00000"])
	}
	if !strings.Contains(progress.String(), "restored "+out) {
		t.Errorf("progress output:\n%s", progress.String())
	}

	latest := filepath.Join(dir, "latest.db")
	if err := r.Restore(ctx, RestoreOptions{OutputPath: latest}); err != nil {
		t.Fatal(err)
	}
	if ids := companyIDs(t, latest); len(ids) != 20 {
		t.Fatalf("latest restore has %d companies; want 20", len(ids))
	}

	err := r.Restore(ctx, RestoreOptions{OutputPath: filepath.Join(dir, "old.db"), Timestamp: aAt.Add(-time.Hour)})
	if !errors.Is(err, ErrNoBackup) || ErrorCode(err) != ENOTFOUND {
		t.Fatalf("restore to before the first backup: %v; want ErrNoBackup", err)
	}
}

// ltxCreatedAt returns the newest timestamp of the replica's LTX files (any level) that match.
func ltxCreatedAt(t *testing.T, r *Replicator, match func(min, max uint64) bool) time.Time {
	t.Helper()
	var at time.Time
	for level := 0; level <= litestream.SnapshotLevel; level++ {
		if level == litestream.SnapshotLevel {
			continue
		}
		itr, err := r.client.LTXFiles(context.Background(), level, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		for itr.Next() {
			info := itr.Item()
			if match(uint64(info.MinTXID), uint64(info.MaxTXID)) && info.CreatedAt.After(at) {
				at = info.CreatedAt
			}
		}
		itr.Close()
	}
	if at.IsZero() {
		t.Fatal("no matching LTX file in the replica")
	}
	return at
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "technifold.db")
	replica := fileReplica(t)
	db, r := startReplicated(t, path, replica)
	writeCompanies(t, db, "V", 0, 25)

	counts, err := db.CountRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Verify(ctx, counts)
	if !rep.OK || rep.Integrity != "ok" || len(rep.Tables) != len(MainTables()) {
		t.Fatalf("healthy replica: %+v", rep)
	}

	// Replication stops; the database carries on: the replica is now missing rows.
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	writeCompanies(t, db, "V", 25, 5)
	if counts, err = db.CountRows(ctx); err != nil {
		t.Fatal(err)
	}
	rep = r.Verify(ctx, counts)
	if rep.OK || !strings.Contains(rep.Detail, "companies has 25 rows in the replica but 30 live") {
		t.Fatalf("replica missing data: %+v", rep)
	}

	// The replica's files are gone.
	if err := os.RemoveAll(strings.TrimPrefix(replica, "file://")); err != nil {
		t.Fatal(err)
	}
	rep = r.Verify(ctx, counts)
	if rep.OK || !strings.Contains(rep.Detail, "no backup") {
		t.Fatalf("empty replica: %+v", rep)
	}
}

func TestRestoreRefusesToOverwrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "technifold.db")
	db, r := startReplicated(t, path, fileReplica(t))
	writeCompanies(t, db, "O", 0, 3)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := r.Restore(ctx, RestoreOptions{OutputPath: out})
	if ErrorCode(err) != ECONFLICT {
		t.Fatalf("restore over an existing file: %v; want a conflict", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Fatal("the existing file was changed")
	}
	if err := r.Restore(ctx, RestoreOptions{OutputPath: out, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if ids := companyIDs(t, out); len(ids) != 3 {
		t.Fatalf("overwritten file has %d companies; want 3", len(ids))
	}
	if err := r.Restore(ctx, RestoreOptions{Overwrite: true}); ErrorCode(err) != ECONFLICT {
		t.Fatalf("restore over the live, replicated database: %v; want a conflict", err)
	}
}

func TestRestoreIfMissingWithEmptyReplica(t *testing.T) {
	path := filepath.Join(t.TempDir(), "technifold.db")
	r := newTestReplicator(t, path, fileReplica(t))
	restored, err := r.RestoreIfMissing(context.Background())
	if err != nil || restored {
		t.Fatalf("RestoreIfMissing on an empty replica = %v, %v; want false, nil", restored, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a database file appeared: %v", err)
	}
}
