package store

import (
	"bufio"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const testBucket = "technifold"

// fakeS3 starts an in-process S3 server on a loopback port and returns a REPLICA_URL for it.
// The AWS environment is pinned so no real credentials, profile or metadata service is used.
func fakeS3(t testing.TB) (replicaURL string, backend *s3mem.Backend) {
	t.Helper()
	backend = s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": ""} {
		t.Setenv(k, v)
	}
	os.Unsetenv("AWS_CA_BUNDLE") // make every test independent of the build machine's setting
	return fmt.Sprintf("s3://%s/db?endpoint=%s&region=us-east-1&force-path-style=true", testBucket, srv.URL), backend
}

func fileReplica(t testing.TB) string {
	t.Helper()
	return "file://" + filepath.Join(t.TempDir(), "replica")
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newTestReplicator(t testing.TB, dbPath, replicaURL string) *Replicator {
	t.Helper()
	r, err := NewReplicator(dbPath, ReplicationConfig{ReplicaURL: replicaURL, SyncInterval: 100 * time.Millisecond,
		MonitorInterval: 100 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startReplicated opens a database and starts replicating it; both stop at cleanup.
func startReplicated(t testing.TB, dbPath, replicaURL string) (*DB, *Replicator) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dbPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestReplicator(t, dbPath, replicaURL)
	if err := r.Open(ctx); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return db, r
}

func writeCompanies(t testing.TB, db *DB, prefix string, from, n int) {
	t.Helper()
	err := db.Update(context.Background(), func(tx *Tx) error {
		for i := from; i < from+n; i++ {
			if _, err := tx.UpsertCompany(context.Background(), Company{ID: fmt.Sprintf("%s%05d", prefix, i), Name: "Company " + strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// companyIDs reads the company ids of the database file at path.
func companyIDs(t testing.TB, path string) map[string]bool {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Read().Query(`SELECT company_id FROM companies`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	return ids
}

func removeDatabase(t testing.TB, path string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}

// The crash child: TestReplicaSurvivesKill re-runs the test binary with these variables set.
const (
	crashChildEnv   = "TECHNIFOLD_REPLICATION_CRASH_CHILD"
	crashDBEnv      = "TECHNIFOLD_REPLICATION_CRASH_DB"
	crashReplicaEnv = "TECHNIFOLD_REPLICATION_CRASH_REPLICA"
	crashSynced     = 40
)

// TestReplicationCrashChild is not a test on its own: it is the writer process that
// TestReplicaSurvivesKill starts and kills with SIGKILL. It writes crashSynced companies,
// syncs them, says so on stdout and keeps writing until it is killed.
func TestReplicationCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		t.Skip("helper process for TestReplicaSurvivesKill")
	}
	ctx := context.Background()
	path := os.Getenv(crashDBEnv)
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReplicator(path, ReplicationConfig{ReplicaURL: os.Getenv(crashReplicaEnv)}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Open(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < crashSynced; i += 10 {
		writeCompanies(t, db, "K", i, 10)
	}
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SYNCED %d\n", crashSynced)
	for i := crashSynced; ; i++ { // keep the writer busy until the kill lands
		writeCompanies(t, db, "K", i, 1)
	}
}

// TestReplicaSurvivesKill kills a replicating writer process with SIGKILL (no Close, no final
// sync), deletes its database and checks that a restore from the replica has every row that
// was synced before the kill; then it replicates the restored database again and repeats.
func TestReplicaSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	for _, tc := range []struct {
		name    string
		replica func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return fileReplica(t) }},
		{"s3", func(t *testing.T) string { u, _ := fakeS3(t); return u }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replica := tc.replica(t)
			path := filepath.Join(t.TempDir(), "data", "technifold.db")
			runAndKillWriter(t, path, replica)
			removeDatabase(t, path) // the disk is lost; Litestream's local state stays behind

			ctx := context.Background()
			r := newTestReplicator(t, path, replica)
			restored, err := r.RestoreIfMissing(ctx)
			if err != nil || !restored {
				t.Fatalf("RestoreIfMissing = %v, %v; want a restore", restored, err)
			}
			ids := companyIDs(t, path)
			for i := 0; i < crashSynced; i++ {
				if id := fmt.Sprintf("K%05d", i); !ids[id] {
					t.Fatalf("company %s was synced before the kill but is not in the restored database (%d rows)", id, len(ids))
				}
			}
			t.Logf("restored %d companies (%d synced explicitly before the kill)", len(ids), crashSynced)

			// The restored database replicates on: new rows survive the next loss too.
			db, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Open(ctx); err != nil {
				t.Fatal(err)
			}
			writeCompanies(t, db, "N", 0, 5)
			if err := r.SyncNow(ctx); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if err := r.Close(ctx); err != nil {
				t.Fatal(err)
			}
			removeDatabase(t, path)
			if restored, err := newTestReplicator(t, path, replica).RestoreIfMissing(ctx); err != nil || !restored {
				t.Fatalf("second RestoreIfMissing = %v, %v", restored, err)
			}
			again := companyIDs(t, path)
			for id := range ids {
				if !again[id] {
					t.Fatalf("company %s lost by the second restore", id)
				}
			}
			if !again["N00004"] {
				t.Fatal("rows written after the first restore were not replicated")
			}
		})
	}
}

func runAndKillWriter(t *testing.T, path, replica string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplicationCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashDBEnv+"="+path, crashReplicaEnv+"="+replica)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	synced := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "SYNCED ") {
				synced <- true
				break
			}
		}
		io.Copy(io.Discard, stdout)
		close(synced)
	}()
	select {
	case ok := <-synced:
		if !ok {
			cmd.Wait()
			t.Fatalf("writer exited before syncing:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("writer did not sync in time:\n%s", stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no final sync
		t.Fatal(err)
	}
	cmd.Wait()
}

// Litestream's S3 client fails to initialise while AWS_CA_BUNDLE is set (a missing file, or a
// valid bundle it cannot add to its own HTTP client); the Replicator clears it, so replication
// and restore work on hosts that set it.
func TestS3ReplicaWithAWSCABundleSet(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(nil)
	tlsSrv.Close()
	validPEM := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(validPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, bundle string }{
		{"missing file", filepath.Join(t.TempDir(), "no-such-bundle.pem")},
		{"valid bundle", validPEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			replica, _ := fakeS3(t)

			t.Setenv("AWS_CA_BUNDLE", tc.bundle)
			plain, err := litestream.NewReplicaClientFromURL(replica)
			if err != nil {
				t.Fatal(err)
			}
			if err := plain.Init(ctx); err == nil {
				t.Log("note: Litestream's S3 client no longer fails with AWS_CA_BUNDLE set")
			} else {
				t.Logf("Litestream's S3 client alone, with AWS_CA_BUNDLE set: %v", err)
			}

			path := filepath.Join(t.TempDir(), "technifold.db")
			db, r := startReplicated(t, path, replica)
			if _, set := os.LookupEnv("AWS_CA_BUNDLE"); set {
				t.Fatal("AWS_CA_BUNDLE is still set")
			}
			writeCompanies(t, db, "S", 0, 7)
			if err := r.SyncNow(ctx); err != nil {
				t.Fatal(err)
			}
			st := r.Status(ctx)
			if !st.Running || !st.InSync || st.LocalTXID == 0 || st.LastSyncAt.IsZero() || st.Type != "s3" || st.LastError != "" {
				t.Fatalf("status after sync: %+v", st)
			}
			counts, err := db.CountRows(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep := r.Verify(ctx, counts); !rep.OK {
				t.Fatalf("verify over S3: %+v", rep)
			}
		})
	}
}

func TestReplicationStatusShowsLag(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "technifold.db")
	db, r := startReplicated(t, path, fileReplica(t))
	writeCompanies(t, db, "L", 0, 2)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(ctx); !st.InSync || st.LagTXIDs != 0 || st.LocalPosition != st.ReplicaPosition {
		t.Fatalf("in sync: %+v", st)
	}
	// Replicated position stays while the local one moves: the replica is behind.
	r.lsdb.Replica.Stop(false)
	writeCompanies(t, db, "L", 2, 2)
	if err := r.lsdb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.Status(ctx)
	if st.InSync || st.LagTXIDs == 0 || st.Lag < 0 {
		t.Fatalf("behind: %+v", st)
	}
}

func TestNewReplicatorRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ReplicationConfig
		want string
	}{
		{"none", ReplicationConfig{}, "set REPLICA_URL or LITESTREAM_CONFIG"},
		{"both", ReplicationConfig{ReplicaURL: "file:///tmp/x", ConfigPath: "litestream.yml"}, "not both"},
		{"scheme", ReplicationConfig{ReplicaURL: "gcs://bucket/x"}, "not supported"},
		{"no bucket", ReplicationConfig{ReplicaURL: "s3:///path"}, "bucket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReplicator(filepath.Join(t.TempDir(), "x.db"), tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

// After a point-in-time restore over the database (server stopped), replication carries on
// into the same replica: the latest restore is the rolled-back state plus the new writes.
func TestReplicationAfterPointInTimeRecovery(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "technifold.db")
	replica := fileReplica(t)
	db, r := startReplicated(t, path, replica)
	writeCompanies(t, db, "G", 0, 5)
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	good := r.Status(ctx).ReplicaTXID
	goodAt := ltxCreatedAt(t, r, func(min, max uint64) bool { return max == good })
	for time.Since(goodAt) < 5*time.Millisecond {
		time.Sleep(time.Millisecond)
	}
	writeCompanies(t, db, "X", 0, 5) // the mistake
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	badAt := ltxCreatedAt(t, r, func(min, max uint64) bool { return min > good })
	db.Close()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	r2 := newTestReplicator(t, path, replica)
	if err := r2.Restore(ctx, RestoreOptions{Timestamp: goodAt.Add(badAt.Sub(goodAt) / 2), Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := r2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer r2.Close(ctx)
	writeCompanies(t, db2, "Z", 0, 2)
	if err := r2.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "latest.db")
	if err := r2.Restore(ctx, RestoreOptions{OutputPath: out}); err != nil {
		t.Fatal(err)
	}
	ids := companyIDs(t, out)
	if len(ids) != 7 || !ids["G00004"] || ids["X00000"] || !ids["Z00001"] {
		t.Fatalf("latest after recovery has %d companies (G00004 %v, X00000 %v, Z00001 %v); want G* and Z* only",
			len(ids), ids["G00004"], ids["X00000"], ids["Z00001"])
	}
	counts, err := db2.CountRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep := r2.Verify(ctx, counts); !rep.OK {
		t.Fatalf("verify after recovery: %+v", rep)
	}
}

// Litestream skips the final sync of a database it has not initialised yet (its first sync
// comes a MonitorInterval after Open); Close right after Open must still upload.
func TestCloseRightAfterOpenUploads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "technifold.db")
	replica := fileReplica(t)
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReplicator(path, ReplicationConfig{ReplicaURL: replica}, testLogger(t)) // 1 s intervals
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Open(ctx); err != nil {
		t.Fatal(err)
	}
	writeCompanies(t, db, "Q", 0, 3)
	db.Close()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.db")
	if err := newTestReplicator(t, path, replica).Restore(ctx, RestoreOptions{OutputPath: out}); err != nil {
		t.Fatal(err)
	}
	if ids := companyIDs(t, out); len(ids) != 3 {
		t.Fatalf("replica has %d companies; want 3", len(ids))
	}
}
