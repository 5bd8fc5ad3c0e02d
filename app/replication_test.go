package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/technifold/technifold/store"
)

// seedReplica creates a database at path with n companies, replicates it to a new file
// replica and stops replication; it returns the REPLICA_URL.
func seedReplica(t *testing.T, path string, n int) string {
	t.Helper()
	return seedReplicaAt(t, path, n, "file://"+filepath.Join(t.TempDir(), "replica"))
}

// seedReplicaAt is seedReplica onto the given replica.
func seedReplicaAt(t *testing.T, path string, n int, replica string) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	repl, err := store.NewReplicator(path, store.ReplicationConfig{ReplicaURL: replica}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := repl.Open(ctx); err != nil {
		t.Fatal(err)
	}
	addCompanies(t, db, 0, n)
	if err := repl.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if err := repl.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return replica
}

func addCompanies(t *testing.T, db *store.DB, from, n int) {
	t.Helper()
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		for i := from; i < from+n; i++ {
			if _, err := tx.UpsertCompany(context.Background(), store.Company{ID: fmt.Sprintf("R%04d", i), Name: "Restored"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func countCompanies(t *testing.T, path string) int64 {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	counts, err := db.CountRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return counts["companies"]
}

// runCLI runs the CLI with only the given environment and returns exit code, stdout, stderr.
// replicaKinds are the replicas the restore paths are tested against: a directory, and S3
// (gofakes3 on a loopback port), as production uses.
var replicaKinds = []struct {
	name string
	new  func(t *testing.T) string
}{
	{"file", func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "replica") }},
	{"s3", func(t *testing.T) string { return fakeS3Replica(t) }},
}

func forEachReplica(t *testing.T, test func(t *testing.T, newReplica func(*testing.T) string)) {
	for _, k := range replicaKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.new) })
	}
}

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }})
	return code, stdout.String(), stderr.String()
}

func TestRestoreCommand(t *testing.T) { forEachReplica(t, testRestoreCommand) }

func testRestoreCommand(t *testing.T, newReplica func(*testing.T) string) {
	dir := t.TempDir()
	live := filepath.Join(dir, "technifold.db")
	env := map[string]string{"DATABASE_PATH": live, "REPLICA_URL": seedReplicaAt(t, live, 12, newReplica(t)), "LOG_FORMAT": "text"}
	before, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}

	code, _, stderr := runCLI(t, env, "restore")
	if code != 1 || !strings.Contains(stderr, "refusing to overwrite") || !strings.Contains(stderr, "nothing was changed") {
		t.Fatalf("restore over the existing database: exit %d\n%s", code, stderr)
	}
	if after, _ := os.ReadFile(live); !bytes.Equal(before, after) {
		t.Fatal("the existing database changed")
	}

	out := filepath.Join(dir, "copy.db")
	code, stdout, stderr := runCLI(t, env, "restore", "--output", out)
	if code != 0 || !strings.Contains(stdout, "restored "+out) || !strings.Contains(stderr, "LTX files") {
		t.Fatalf("restore --output: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if n := countCompanies(t, out); n != 12 {
		t.Fatalf("restored copy has %d companies; want 12", n)
	}

	// Lose the database: restore puts it back; --force replaces an existing one.
	os.Remove(live)
	os.Remove(live + "-wal")
	os.Remove(live + "-shm")
	if code, _, stderr := runCLI(t, env, "restore"); code != 0 {
		t.Fatalf("restore of a missing database: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, env, "restore", "--force"); code != 0 || !strings.Contains(stderr, "no technifold server is running") {
		t.Fatalf("restore --force: exit %d\n%s", code, stderr)
	}
	if n := countCompanies(t, live); n != 12 {
		t.Fatalf("restored database has %d companies; want 12", n)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "--output", filepath.Join(dir, "x.db"), "--timestamp", "yesterday"}, "RFC 3339"},
		{[]string{"restore", "--output", filepath.Join(dir, "y.db"), "--timestamp", "2001-01-01T00:00:00Z"}, "no backup as old as 2001-01-01T00:00:00Z"},
	} {
		if code, _, stderr := runCLI(t, env, tc.args...); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want it to mention %q", tc.args, code, stderr, tc.want)
		}
	}
	delete(env, "REPLICA_URL")
	if code, _, stderr := runCLI(t, env, "restore", "--output", filepath.Join(dir, "z.db")); code != 1 || !strings.Contains(stderr, "REPLICA_URL") {
		t.Errorf("restore without a replica: exit %d, %s", code, stderr)
	}
}

func TestBackupVerifyCommand(t *testing.T) { forEachReplica(t, testBackupVerifyCommand) }

func testBackupVerifyCommand(t *testing.T, newReplica func(*testing.T) string) {
	ctx := context.Background()
	live := filepath.Join(t.TempDir(), "technifold.db")
	env := map[string]string{"DATABASE_PATH": live, "REPLICA_URL": seedReplicaAt(t, live, 8, newReplica(t)), "LOG_FORMAT": "text"}

	code, stdout, stderr := runCLI(t, env, "backup", "verify")
	if code != 0 || !strings.Contains(stdout, "backup verify OK") || !strings.Contains(stdout, "integrity_check: ok") {
		t.Fatalf("healthy replica: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// Rows written while nothing replicates are missing from the replica.
	db, err := store.Open(ctx, live, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addCompanies(t, db, 8, 3)
	db.Close()
	code, stdout, stderr = runCLI(t, env, "backup", "verify", "--grace", "0")
	if code != 1 || !strings.Contains(stdout, "MISSING ROWS") ||
		!strings.Contains(stderr, "companies has 8 rows in the replica but 11 live") {
		t.Fatalf("replica missing data: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// The result is kept for the dashboard and /metrics.
	db, err = store.Open(ctx, live, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, _, ok, err := db.GetState(ctx, backupVerifyState)
	if err != nil || !ok {
		t.Fatalf("no stored result: %v", err)
	}
	var rep struct {
		At     time.Time `json:"at"`
		OK     bool      `json:"ok"`
		Detail string    `json:"detail"`
	}
	if err := json.Unmarshal([]byte(raw), &rep); err != nil || rep.OK || rep.At.IsZero() || !strings.Contains(rep.Detail, "missing data") {
		t.Fatalf("stored result %s (%v)", raw, err)
	}
	m := NewReplicationCollector(nil, db)
	if v := metricValue(t, m, "technifold_backup_verify_ok"); v != 0 {
		t.Fatalf("technifold_backup_verify_ok = %v; want 0", v)
	}

	if code, _, stderr := runCLI(t, env, "backup"); code != 2 || !strings.Contains(stderr, "backup verify") {
		t.Errorf("backup without verify: exit %d, %s", code, stderr)
	}
}

// metricValue returns the value of the one gauge named name that c collects.
func metricValue(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 32)
	c.Collect(ch)
	close(ch)
	for m := range ch {
		if strings.Contains(m.Desc().String(), `"`+name+`"`) {
			var out dto.Metric
			if err := m.Write(&out); err != nil {
				t.Fatal(err)
			}
			return out.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not collected", name)
	return 0
}

// Serve restores a missing database before opening it, replicates while it runs and syncs
// the last writes when it stops.
func TestServeRestoresAndReplicates(t *testing.T) { forEachReplica(t, testServeRestoresAndReplicates) }

func testServeRestoresAndReplicates(t *testing.T, newReplica func(*testing.T) string) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.ReplicaURL = seedReplicaAt(t, cfg.DatabasePath, 5, newReplica(t))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(cfg.DatabasePath + suffix)
	}

	base, logs, stop := startServe(t, cfg, false)
	if !strings.Contains(logs.String(), "database restored from the replica before start") {
		t.Fatalf("no restore logged:\n%s", logs.String())
	}
	if code := getJSON(t, base+"/healthz", nil); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	db, err := store.Open(ctx, cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addCompanies(t, db, 5, 4) // written by "another connection"; the server's Litestream sees the WAL
	db.Close()
	stop()
	if !strings.Contains(logs.String(), "replication stopped after a final sync") {
		t.Fatalf("no final sync logged:\n%s", logs.String())
	}

	out := filepath.Join(t.TempDir(), "after.db")
	env := map[string]string{"DATABASE_PATH": cfg.DatabasePath, "REPLICA_URL": cfg.ReplicaURL}
	if code, _, stderr := runCLI(t, env, "restore", "--output", out); code != 0 {
		t.Fatalf("restore: %s", stderr)
	}
	if n := countCompanies(t, out); n != 9 {
		t.Log(logs.String())
		t.Fatalf("replica after shutdown has %d companies; want 9 (5 restored + 4 written while serving)", n)
	}
}

func TestReplicationCollector(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "technifold.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	repl, err := store.NewReplicator(path, store.ReplicationConfig{ReplicaURL: "file://" + filepath.Join(t.TempDir(), "r")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := repl.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer repl.Close(ctx)
	addCompanies(t, db, 0, 2)
	if err := repl.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := RunBackupVerify(ctx, db, repl); err != nil {
		t.Fatal(err)
	}

	c := NewReplicationCollector(repl, db)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"technifold_replication_enabled": 1, "technifold_replication_running": 1,
		"technifold_replication_in_sync": 1, "technifold_replication_lag_txids": 0, "technifold_backup_verify_ok": 1} {
		if v := metricValue(t, c, name); v != want {
			t.Errorf("%s = %v; want %v", name, v, want)
		}
	}
	if v := metricValue(t, c, "technifold_replication_local_txid"); v < 1 {
		t.Errorf("local txid = %v", v)
	}
	if v := metricValue(t, c, "technifold_replication_last_sync_timestamp_seconds"); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("last sync = %v", v)
	}
	if v := metricValue(t, NewReplicationCollector(nil, nil), "technifold_replication_enabled"); v != 0 {
		t.Errorf("enabled without replica = %v", v)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	if code, stdout, _ := runCLI(t, nil, "healthcheck", "--url", srv.URL+"/healthz"); code != 0 || !strings.Contains(stdout, "ok") {
		t.Fatalf("healthy: exit %d", code)
	}
	if code, _, stderr := runCLI(t, nil, "healthcheck", "--url", srv.URL+"/nope"); code != 1 || !strings.Contains(stderr, "404") {
		t.Fatalf("unhealthy: exit %d %s", code, stderr)
	}
	addr := strings.TrimPrefix(srv.URL, "http://127.0.0.1")
	if code, _, stderr := runCLI(t, map[string]string{"ADDR": addr}, "healthcheck"); code != 0 {
		t.Fatalf("healthcheck on ADDR %s: exit %d %s", addr, code, stderr)
	}
}
