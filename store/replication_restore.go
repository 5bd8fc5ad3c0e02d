package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// RestoreOptions configures Restore.
type RestoreOptions struct {
	// OutputPath is where the database is written; the replicated database's own path when
	// empty.
	OutputPath string
	// Timestamp restores the state as of that moment; the latest state when zero. Litestream
	// resolves it per LTX file: the result holds every transaction uploaded in a file written
	// before Timestamp (per sync within the last minutes, coarser — 30 s, 5 min, 1 h — for
	// older history once compacted).
	Timestamp time.Time
	// Progress receives human-readable progress lines; nothing is written when nil.
	Progress io.Writer
	// Overwrite replaces an existing file at OutputPath (with its -wal and -shm) once the
	// restore has succeeded; without it Restore refuses to touch an existing file.
	Overwrite bool
	// Check runs PRAGMA quick_check or integrity_check on the restored file before it is moved
	// into place. CheckNone (the default, as the litestream CLI) relies on LTX's checksums:
	// every page and the whole database are checked against what the server recorded.
	Check IntegrityCheck
	// Logger, when set, receives a progress record (bytes and files read) every
	// ProgressInterval, for restores that run inside serve.
	Logger           *slog.Logger
	ProgressInterval time.Duration
}

// IntegrityCheck is the SQLite check Restore runs on the restored file.
type IntegrityCheck int

const (
	CheckNone  IntegrityCheck = iota // LTX checksums only
	CheckQuick                       // PRAGMA quick_check: O(N), structure of every page
	CheckFull                        // PRAGMA integrity_check: also every index against its table
)

// ParseIntegrityCheck reads "none", "quick" or "full".
func ParseIntegrityCheck(s string) (IntegrityCheck, error) {
	switch s {
	case "none", "":
		return CheckNone, nil
	case "quick":
		return CheckQuick, nil
	case "full":
		return CheckFull, nil
	}
	return CheckNone, Errorf(EINVALID, "integrity check must be none, quick or full, got %q", s)
}

func (c IntegrityCheck) String() string {
	switch c {
	case CheckQuick:
		return "quick"
	case CheckFull:
		return "full"
	}
	return "none"
}

// ErrNoBackup is returned (wrapped) by Restore when the replica has nothing to restore, or
// nothing as old as the requested timestamp.
var ErrNoBackup = errors.New("no backup in the replica")

// Restore writes the replicated database (as of opts.Timestamp) to opts.OutputPath. The file
// appears atomically, after the LTX checksums (and opts.Check, if any) have passed; nothing is
// left behind on failure.
func (r *Replicator) Restore(ctx context.Context, opts RestoreOptions) error {
	_, err := r.restore(ctx, opts)
	return err
}

// restore is Restore, also returning the TXID restored.
func (r *Replicator) restore(ctx context.Context, opts RestoreOptions) (ltx.TXID, error) {
	out := opts.OutputPath
	if out == "" {
		out = r.dbPath
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return 0, fmt.Errorf("restore output path: %w", err)
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if _, err := os.Stat(out); err == nil && !opts.Overwrite {
		return 0, &Error{Code: ECONFLICT, Message: fmt.Sprintf("%s already exists; refusing to overwrite it (use --force, with the server stopped)", out)}
	} else if err != nil && !os.IsNotExist(err) {
		return 0, fmt.Errorf("restore output path: %w", err)
	}
	r.mu.Lock()
	running := r.state == stateOpen
	r.mu.Unlock()
	if running && out == r.dbPath {
		return 0, &Error{Code: ECONFLICT, Message: "cannot restore over the database while it is being replicated; stop the server first"}
	}

	client := &countingClient{ReplicaClient: r.client}
	stopRecording := client.record()
	plan, err := litestream.CalcRestorePlan(ctx, client, 0, opts.Timestamp, r.logger)
	stopRecording()
	if errors.Is(err, litestream.ErrTxNotAvailable) {
		if opts.Timestamp.IsZero() {
			return 0, &Error{Code: ENOTFOUND, Message: fmt.Sprintf("the replica %s has no backup", r.location), Err: ErrNoBackup}
		}
		return 0, &Error{Code: ENOTFOUND, Message: fmt.Sprintf("the replica %s has no backup as old as %s", r.location,
			opts.Timestamp.UTC().Format(time.RFC3339)), Err: ErrNoBackup}
	} else if err != nil {
		return 0, fmt.Errorf("plan restore from %s: %w", r.location, err)
	}
	var total int64
	asOf := plan[len(plan)-1].CreatedAt
	for _, info := range plan {
		total += info.Size
		if info.CreatedAt.After(asOf) {
			asOf = info.CreatedAt
		}
	}
	target := plan[len(plan)-1].MaxTXID
	fmt.Fprintf(progress, "restoring %s from %s: %d LTX files, %s, up to TXID %s (uploaded %s)\n",
		out, r.location, len(plan), formatBytes(total), target, asOf.UTC().Format(time.RFC3339))

	// Restore beside the output, then rename: a failed restore never leaves a partial file.
	// Litestream itself writes OUT.tmp and renames it, so a new file with no check to run is
	// restored straight to its path (one rename and one directory sync, as the CLI does); a
	// replacement, or a file still to be checked, goes to a side name first.
	tmp := filepath.Join(filepath.Dir(out), fmt.Sprintf(".%s.restore-%d", filepath.Base(out), os.Getpid()))
	direct := !opts.Overwrite && opts.Check == CheckNone
	if direct {
		tmp = out
	} else {
		removeSQLiteFiles(tmp)
		defer removeSQLiteFiles(tmp)
	}
	start := time.Now()
	client.files = len(plan)
	stop := reportProgress(progress, opts.Logger, opts.ProgressInterval, client, total, start)
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = tmp
	opt.TXID = target // the plan just shown, whatever Timestamp matched
	// Litestream's own check would open the file without mmap, after its rename; ours runs
	// below, before the file is moved into place.
	opt.IntegrityCheck = litestream.IntegrityCheckNone
	// A stand-in DB gives the restore our logger; it is never opened.
	lsdb := litestream.NewDB(tmp)
	lsdb.Logger = r.logger
	lsdb.Replica = litestream.NewReplicaWithClient(lsdb, client)
	err = lsdb.Replica.Restore(ctx, opt)
	_ = lsdb.Close(context.WithoutCancel(ctx)) // drops the metric series NewDB registered
	stop()
	if err != nil {
		return 0, fmt.Errorf("restore from %s: %w", r.location, err)
	}
	if opts.Check != CheckNone {
		fmt.Fprintf(progress, "running the %s integrity check…\n", opts.Check)
		res, err := checkFile(ctx, tmp, opts.Check)
		if err != nil {
			return 0, fmt.Errorf("%s integrity check of the restored database: %w", opts.Check, err)
		}
		if res != "ok" {
			return 0, fmt.Errorf("the restored database fails the %s integrity check (nothing was changed): %s", opts.Check, res)
		}
	}
	if opts.Overwrite {
		for _, suffix := range []string{"-wal", "-shm", "-journal"} {
			if err := os.Remove(out + suffix); err != nil && !os.IsNotExist(err) {
				return 0, fmt.Errorf("remove old %s: %w", out+suffix, err)
			}
		}
	}
	if !direct {
		if err := os.Rename(tmp, out); err != nil {
			return 0, fmt.Errorf("move restored database into place: %w", err)
		}
		if d, err := os.Open(filepath.Dir(out)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	if out == r.dbPath {
		// Litestream's local LTX files describe the database that was replaced.
		if err := os.RemoveAll(r.metaPath()); err != nil {
			return 0, fmt.Errorf("remove stale litestream state %s: %w", r.metaPath(), err)
		}
	}
	took := time.Since(start).Round(time.Millisecond)
	fmt.Fprintf(progress, "restored %s at TXID %s in %s (%s, %.0f MiB/s)\n", out, target, took, formatBytes(total),
		float64(total)/(1<<20)/max(took.Seconds(), 0.001))
	r.logger.Info("database restored", "path", out, "replica", r.location, "txid", target.String(),
		"bytes", total, "files", len(plan), "took", took)
	return target, nil
}

// RestoreIfMissing restores the database from the replica when its file does not exist, as
// serve does before opening it. It reports false (and no error) when the file exists or the
// replica is empty, so a first start creates a new database.
func (r *Replicator) RestoreIfMissing(ctx context.Context) (bool, error) {
	if _, err := os.Stat(r.dbPath); err == nil {
		return false, nil
	} else if !os.IsNotExist(err) {
		return false, fmt.Errorf("check database %s: %w", r.dbPath, err)
	}
	// A -wal left by a lost database would be replayed into the restored one.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(r.dbPath + suffix); err == nil {
			r.logger.Warn("removing a leftover file of the missing database before restoring", "path", r.dbPath+suffix)
			if err := os.Remove(r.dbPath + suffix); err != nil {
				return false, fmt.Errorf("remove leftover %s: %w", r.dbPath+suffix, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(r.dbPath), 0o750); err != nil {
		return false, fmt.Errorf("create database directory: %w", err)
	}
	r.logger.Info("database file missing; restoring from the replica", "path", r.dbPath, "replica", r.location)
	err := r.Restore(ctx, RestoreOptions{OutputPath: r.dbPath, Logger: r.logger, ProgressInterval: startupProgressInterval})
	if errors.Is(err, ErrNoBackup) {
		r.logger.Info("the replica is empty; starting with a new database", "replica", r.location)
		_ = os.RemoveAll(r.metaPath())
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// startupProgressInterval is how often serve logs the progress of its start-up restore.
var startupProgressInterval = 2 * time.Second

// metaPath is Litestream's local state directory beside the database (.NAME-litestream).
func (r *Replicator) metaPath() string {
	dir, base := filepath.Split(r.dbPath)
	return filepath.Join(dir, "."+base+litestream.MetaDirSuffix)
}

// TableCount compares one table's row count in the live database and in the replica.
type TableCount struct {
	Table   string `json:"table"`
	Live    int64  `json:"live"`
	Replica int64  `json:"replica"`
}

// VerifyReport is the outcome of Verify, stored as JSON for the dashboard and /metrics.
type VerifyReport struct {
	At        time.Time    `json:"at"`
	OK        bool         `json:"ok"`
	Detail    string       `json:"detail"`
	TXID      string       `json:"txid,omitempty"`
	Integrity string       `json:"integrity,omitempty"`
	Tables    []TableCount `json:"tables,omitempty"`
	TookMS    int64        `json:"took_ms"`
}

// Verify restores the latest replica to a temporary file, runs PRAGMA integrity_check on it
// and compares the row count of every table in MainTables with liveCounts (take them with
// db.CountRows just before). The report is not OK when the check fails or any table has
// fewer rows in the replica than live. When replication is running, Verify syncs first, so
// every row counted before the call must be in the replica.
func (r *Replicator) Verify(ctx context.Context, liveCounts map[string]int64) VerifyReport {
	start := time.Now()
	rep := VerifyReport{At: start.UTC()}
	finish := func(ok bool, format string, args ...any) VerifyReport {
		rep.OK, rep.Detail = ok, fmt.Sprintf(format, args...)
		rep.TookMS = time.Since(start).Milliseconds()
		return rep
	}
	if _, err := r.openStore(); err == nil {
		if err := r.SyncNow(ctx); err != nil {
			return finish(false, "could not sync before verifying: %v", err)
		}
	}
	dir, err := os.MkdirTemp(r.cfg.TempDir, "technifold-verify-*")
	if err != nil {
		return finish(false, "create a temporary directory: %v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "replica.db")
	txid, err := r.restore(ctx, RestoreOptions{OutputPath: path})
	if err != nil {
		return finish(false, "restore of the latest replica failed: %v", err)
	}
	rep.TXID = txid.String()
	restored, err := openChecked(path)
	if err != nil {
		return finish(false, "open the restored copy: %v", err)
	}
	defer restored.Close()
	if rep.Integrity, err = integrityCheck(ctx, restored, CheckFull); err != nil {
		return finish(false, "integrity check of the restored copy failed to run: %v", err)
	}
	var short []string
	for _, t := range MainTables() {
		var n int64
		if err := restored.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return finish(false, "count %s in the restored copy: %v", t, err)
		}
		tc := TableCount{Table: t, Live: liveCounts[t], Replica: n}
		rep.Tables = append(rep.Tables, tc)
		if tc.Replica < tc.Live {
			short = append(short, fmt.Sprintf("%s has %d rows in the replica but %d live", t, tc.Replica, tc.Live))
		}
	}
	switch {
	case rep.Integrity != "ok":
		return finish(false, "the restored replica (TXID %s) is corrupt: %s", rep.TXID, rep.Integrity)
	case len(short) > 0:
		return finish(false, "the replica (TXID %s) is missing data: %s", rep.TXID, strings.Join(short, "; "))
	}
	return finish(true, "the replica (TXID %s) restores, passes integrity_check and has every row of the %d main tables",
		rep.TXID, len(MainTables()))
}

// openChecked opens a restored file read-only for checking, memory-mapped: SQLite then reads
// pages in place instead of copying each through the VFS, which makes integrity_check about
// a third faster in the pure-Go SQLite.
func openChecked(path string) (*sql.DB, error) {
	size := int64(1 << 30)
	if fi, err := os.Stat(path); err == nil {
		size = max(fi.Size()+1<<20, 1<<20)
	}
	db, err := sql.Open("sqlite", DSN(path, false)+"&"+url.Values{"_pragma": {fmt.Sprintf("mmap_size(%d)", size)}}.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// checkFile runs the check on the file at path and returns "ok" or its first problems.
func checkFile(ctx context.Context, path string, check IntegrityCheck) (string, error) {
	db, err := openChecked(path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return integrityCheck(ctx, db, check)
}

// integrityCheck runs PRAGMA integrity_check (or quick_check) and returns "ok" or its first
// problems.
func integrityCheck(ctx context.Context, db *sql.DB, check IntegrityCheck) (string, error) {
	pragma := "integrity_check"
	if check == CheckQuick {
		pragma = "quick_check"
	}
	rows, err := db.QueryContext(ctx, `PRAGMA `+pragma+`(20)`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return "", err
		}
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; "), rows.Err()
}

// countingClient counts the bytes and files read from the replica, for restore progress. It
// also replays the listings the plan shown to the user was made from, once, to the restore
// itself, which plans again: on S3 that saves one LIST request per compaction level.
type countingClient struct {
	litestream.ReplicaClient
	read      atomic.Int64
	filesRead atomic.Int64
	files     int // in the plan

	mu        sync.Mutex
	recording bool
	listings  map[listingKey][]*ltx.FileInfo
}

type listingKey struct {
	level       int
	seek        ltx.TXID
	useMetadata bool
}

// record makes LTXFiles keep what it lists until stop is called; each kept listing is then
// served once, and later calls list the replica again (a retried restore sees new files).
func (c *countingClient) record() (stop func()) {
	c.mu.Lock()
	c.recording, c.listings = true, map[listingKey][]*ltx.FileInfo{}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.recording = false
		c.mu.Unlock()
	}
}

func (c *countingClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	key := listingKey{level, seek, useMetadata}
	c.mu.Lock()
	recording := c.recording
	kept, ok := c.listings[key]
	if !ok && !recording && !useMetadata {
		// A listing with exact timestamps (a point-in-time plan) serves one without.
		key.useMetadata = true
		kept, ok = c.listings[key]
	}
	if ok && !recording {
		delete(c.listings, key)
	}
	c.mu.Unlock()
	if ok && !recording {
		return ltx.NewFileInfoSliceIterator(kept), nil
	}
	itr, err := c.ReplicaClient.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil || !recording {
		return itr, err
	}
	defer itr.Close()
	var infos []*ltx.FileInfo
	for itr.Next() {
		info := *itr.Item()
		infos = append(infos, &info)
	}
	if err := itr.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.listings[key] = infos
	c.mu.Unlock()
	replay := make([]*ltx.FileInfo, len(infos))
	copy(replay, infos)
	return ltx.NewFileInfoSliceIterator(replay), nil
}

func (c *countingClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, c: c}, nil
}

type countingReader struct {
	io.ReadCloser
	c   *countingClient
	eof bool
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.c.read.Add(int64(n))
	if err == io.EOF && !r.eof {
		r.eof = true
		r.c.filesRead.Add(1)
	}
	return n, err
}

// reportProgress reports the bytes and files read so far until the returned stop is called:
// a line to w every second, and a log record to logger every logEvery.
func reportProgress(w io.Writer, logger *slog.Logger, logEvery time.Duration, c *countingClient, total int64, start time.Time) (stop func()) {
	if w == io.Discard && logger == nil {
		return func() {}
	}
	if logEvery <= 0 {
		logEvery = startupProgressInterval
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(min(time.Second, logEvery))
		defer t.Stop()
		lastLog, lastLine := start, start
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				n := min(c.read.Load(), total)
				pct := 100.0
				if total > 0 {
					pct = float64(n) * 100 / float64(total)
				}
				elapsed := now.Sub(start).Round(time.Second)
				if w != io.Discard && now.Sub(lastLine) >= time.Second-time.Second/10 {
					lastLine = now
					fmt.Fprintf(w, "  %s of %s (%.0f%%), %d of %d files, %s\n", formatBytes(n), formatBytes(total), pct,
						c.filesRead.Load(), c.files, elapsed)
				}
				if logger != nil && now.Sub(lastLog) >= logEvery-logEvery/10 {
					lastLog = now
					logger.Info("restoring from the replica", "read_bytes", n, "total_bytes", total,
						"percent", int(pct), "files_read", c.filesRead.Load(), "files", c.files, "elapsed", elapsed.String())
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// removeSQLiteFiles deletes a database file and its sidecars, ignoring missing ones.
func removeSQLiteFiles(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".tmp"} {
		_ = os.Remove(path + suffix)
	}
}
