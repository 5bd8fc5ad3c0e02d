package store

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// slowClient stands for a slow object store: it counts listings and delays every read.
type slowClient struct {
	litestream.ReplicaClient
	lists atomic.Int64
	delay time.Duration
}

func (c *slowClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	c.lists.Add(1)
	return c.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
}

func (c *slowClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	if err != nil {
		return nil, err
	}
	return &slowReader{ReadCloser: rc, delay: c.delay}, nil
}

type slowReader struct {
	io.ReadCloser
	delay time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	time.Sleep(r.delay)
	return r.ReadCloser.Read(p[:min(len(p), 4096)])
}

type logSink struct {
	mu      sync.Mutex
	records []map[string]any
}

func (s *logSink) Write(p []byte) (int, error) {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err == nil {
		s.mu.Lock()
		s.records = append(s.records, m)
		s.mu.Unlock()
	}
	return len(p), nil
}

func (s *logSink) with(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, r := range s.records {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// The restore serve runs at start (database missing) logs its progress (bytes and files) while it runs; the restore lists
// the replica once per level, not twice (the plan shown is the plan restored).
func TestRestoreLogsProgressAndListsOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "technifold.db")
	replica := fileReplica(t)
	db, r := startReplicated(t, path, replica)
	writeCompanies(t, db, "P", 0, 400)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}

	sink := &logSink{}
	r2, err := NewReplicator(filepath.Join(dir, "restored.db"), ReplicationConfig{ReplicaURL: replica}, slog.New(slog.NewJSONHandler(sink, nil)))
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowClient{ReplicaClient: r2.client, delay: 5 * time.Millisecond}
	r2.client = slow
	defer func(d time.Duration) { startupProgressInterval = d }(startupProgressInterval)
	startupProgressInterval = 100 * time.Millisecond
	start := time.Now()
	// The start-up restore of serve: the database file is missing.
	if restored, err := r2.RestoreIfMissing(ctx); err != nil || !restored {
		t.Fatalf("restore if missing: %v %v", restored, err)
	}
	took := time.Since(start)
	if ids := companyIDs(t, filepath.Join(dir, "restored.db")); len(ids) != 400 {
		t.Fatalf("restored %d companies; want 400", len(ids))
	}
	progress := sink.with("restoring from the replica")
	if took > 300*time.Millisecond && len(progress) == 0 {
		t.Fatalf("a %s restore logged no progress", took)
	}
	if len(progress) == 0 {
		t.Skipf("the restore took only %s", took)
	}
	last := progress[len(progress)-1]
	for _, k := range []string{"read_bytes", "total_bytes", "files_read", "files", "percent", "elapsed"} {
		if _, ok := last[k]; !ok {
			t.Errorf("progress record lacks %s: %v", k, last)
		}
	}
	if last["read_bytes"].(float64) <= 0 || last["files"].(float64) < 1 {
		t.Errorf("progress record %v", last)
	}
	done := sink.with("database restored")
	if len(done) != 1 || done[0]["bytes"] == nil || done[0]["files"] == nil {
		t.Errorf("final record %v", done)
	}
	// Levels 0-8 and the snapshot level: listed once each, shared by the shown and the used plan.
	if n := slow.lists.Load(); n != litestream.SnapshotLevel+1 {
		t.Errorf("the restore listed the replica %d times; want %d (once per level)", n, litestream.SnapshotLevel+1)
	}
}

// --integrity-check quick|full runs SQLite's check on the restored file before it is moved in.
func TestRestoreIntegrityCheckOption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, r := startReplicated(t, filepath.Join(dir, "technifold.db"), fileReplica(t))
	writeCompanies(t, db, "Q", 0, 20)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"none", "quick", "full"} {
		check, err := ParseIntegrityCheck(name)
		if err != nil || check.String() != name {
			t.Fatalf("ParseIntegrityCheck(%q) = %v, %v", name, check, err)
		}
		var out strings.Builder
		path := filepath.Join(dir, name+".db")
		if err := r.Restore(ctx, RestoreOptions{OutputPath: path, Check: check, Progress: &out}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ran := strings.Contains(out.String(), "running the "+name+" integrity check"); ran != (check != CheckNone) {
			t.Errorf("%s: check ran = %v:\n%s", name, ran, out.String())
		}
		if ids := companyIDs(t, path); len(ids) != 20 {
			t.Errorf("%s: %d companies", name, len(ids))
		}
	}
	if _, err := ParseIntegrityCheck("thorough"); ErrorCode(err) != EINVALID {
		t.Errorf("bad check name: %v", err)
	}
}
