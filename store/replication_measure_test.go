package store

import (
	"context"
	"database/sql"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/s3"
	"github.com/superfly/ltx"
)

// TestMeasureRestore (TECHNIFOLD_MEASURE_RESTORE=1) replicates a database of at least 200 MB
// to the in-process S3 server and compares the time Restore takes with the time to simply
// download the replica's objects over HTTP. TECHNIFOLD_MEASURE_MB changes the size.
func TestMeasureRestore(t *testing.T) {
	if os.Getenv("TECHNIFOLD_MEASURE_RESTORE") != "1" {
		t.Skip("set TECHNIFOLD_MEASURE_RESTORE=1 to measure restore time")
	}
	sizeMB := 208
	if v := os.Getenv("TECHNIFOLD_MEASURE_MB"); v != "" {
		fmt.Sscan(v, &sizeMB)
	}
	ctx := context.Background()
	replica, _ := fakeS3(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "technifold.db")
	db, r := startReplicated(t, path, replica)

	// Incompressible 8 KiB blobs: the worst case for LTX's LZ4 compression.
	const rowSize, perTx = 8 << 10, 500
	rows := sizeMB << 20 / rowSize
	start := time.Now()
	if err := db.Update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE measure_blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rows; i += perTx {
		if err := db.Update(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
				INSERT INTO measure_blobs (data) SELECT randomblob(?) FROM n`, min(perTx, rows-i), rowSize)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	dbSize := fileSize(t, path) + fileSize(t, path+"-wal")
	t.Logf("wrote %d rows (%.0f MB database + WAL) and synced in %s", rows, float64(dbSize)/1e6, time.Since(start).Round(time.Millisecond))

	measure := func(label string) {
		plan, err := litestream.CalcRestorePlan(ctx, r.client, 0, time.Time{}, r.logger)
		if err != nil {
			t.Fatal(err)
		}
		var planBytes int64
		for _, info := range plan {
			planBytes += info.Size
		}
		out := filepath.Join(dir, label+".db")
		start := time.Now()
		if err := r.Restore(ctx, RestoreOptions{OutputPath: out}); err != nil {
			t.Fatal(err)
		}
		restoreTook := time.Since(start)
		checkTook := timeQuickCheck(t, out)
		writeTook := timeWriteFsync(t, filepath.Join(dir, label+".raw"), fileSize(t, out))
		allN, allBytes, allTook := rawDownload(t, r.client.(*s3.ReplicaClient), nil)
		planN, _, planTook := rawDownload(t, r.client.(*s3.ReplicaClient), plan)
		report := fmt.Sprintf("%s: Restore of %.0f MB (%d LTX files, %.0f MB) from S3 took %s (%.0f MB/s); raw GET of the same %d files took %s; list+GET of all %d objects (%.0f MB) took %s",
			label, float64(fileSize(t, out))/1e6, len(plan), float64(planBytes)/1e6, restoreTook.Round(time.Millisecond),
			float64(planBytes)/1e6/restoreTook.Seconds(), planN, planTook.Round(time.Millisecond), allN, float64(allBytes)/1e6, allTook.Round(time.Millisecond))
		report += fmt.Sprintf(" [within the restore: PRAGMA quick_check alone takes %s; writing+fsyncing a file that size takes %s]",
			checkTook.Round(time.Millisecond), writeTook.Round(time.Millisecond))
		t.Log(report)
		fmt.Println("MEASURE", report)
	}
	measure("incremental")
	// A snapshot turns the history into one file, as the daily snapshot does in production.
	if _, err := r.lsdb.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	measure("snapshot")
}

func fileSize(t testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// rawDownload GETs the given LTX files (every object under the replica path when nil) over
// plain HTTP from the path-style endpoint and reports how many, how many bytes and how long.
func rawDownload(t *testing.T, c *s3.ReplicaClient, files []*ltx.FileInfo) (n int, bytes int64, took time.Duration) {
	t.Helper()
	start := time.Now()
	base := c.Endpoint + "/" + c.Bucket + "/"
	var keys []string
	if files == nil {
		token := ""
		for {
			q := url.Values{"list-type": {"2"}, "prefix": {c.Path + "/"}}
			if token != "" {
				q.Set("continuation-token", token)
			}
			resp, err := http.Get(base + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			var list struct {
				Contents []struct {
					Key string
				}
				IsTruncated           bool
				NextContinuationToken string
			}
			err = xml.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range list.Contents {
				keys = append(keys, o.Key)
			}
			if !list.IsTruncated {
				break
			}
			token = list.NextContinuationToken
		}
	}
	for _, f := range files {
		keys = append(keys, fmt.Sprintf("%s/%04x/%s", c.Path, f.Level, ltx.FormatFilename(f.MinTXID, f.MaxTXID)))
	}
	for _, k := range keys {
		resp, err := http.Get(base + k)
		if err != nil {
			t.Fatal(err)
		}
		m, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", k, resp.StatusCode, err)
		}
		bytes += m
	}
	return len(keys), bytes, time.Since(start)
}

func timeQuickCheck(t *testing.T, path string) time.Duration {
	t.Helper()
	db, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	var res string
	if err := db.QueryRow(`PRAGMA quick_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("quick_check: %q %v", res, err)
	}
	return time.Since(start)
}

func timeWriteFsync(t *testing.T, path string, size int64) time.Duration {
	t.Helper()
	buf := make([]byte, 1<<20)
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	took := time.Since(start)
	os.Remove(path)
	return took
}
