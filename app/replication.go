package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/store"
)

// BackupVerifyInterval is how often the scheduler restores the replica and checks it.
const BackupVerifyInterval = 24 * time.Hour

// replicationCloseTimeout bounds Litestream's final sync at shutdown, after the HTTP server,
// worker and pools have stopped (fly.toml's kill_timeout leaves room for it).
const replicationCloseTimeout = 15 * time.Second

// BucketReplicaPath is the path inside BUCKET_NAME that the replica built from the bucket
// secrets uses (s3://$BUCKET_NAME/technifold).
const BucketReplicaPath = "technifold"

// bucketReplicaURL builds a REPLICA_URL from the secrets `fly storage create` sets on a Fly.io
// app: BUCKET_NAME, AWS_ENDPOINT_URL_S3 and AWS_REGION (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY are read by the S3 client itself). "" when BUCKET_NAME is unset.
func bucketReplicaURL(getenv func(string) string) string {
	bucket := strings.TrimSpace(getenv("BUCKET_NAME"))
	if bucket == "" {
		return ""
	}
	q := url.Values{}
	if ep := strings.TrimSpace(getenv("AWS_ENDPOINT_URL_S3")); ep != "" {
		q.Set("endpoint", ep)
	}
	if region := strings.TrimSpace(getenv("AWS_REGION")); region != "" {
		q.Set("region", region)
	}
	u := url.URL{Scheme: "s3", Host: bucket, Path: "/" + BucketReplicaPath, RawQuery: q.Encode()}
	return u.String()
}

// replicaURL is the replica to use, in this order: REPLICA_URL; nothing when LITESTREAM_CONFIG
// is set (the file says where); else the one built from BUCKET_NAME and the AWS_* secrets.
func (c *Config) replicaURL() string {
	switch {
	case c.ReplicaURL != "":
		return c.ReplicaURL
	case c.LitestreamConfig != "":
		return ""
	}
	return c.bucketReplicaURL
}

// newReplicator builds the replicator the configuration asks for, or returns nil when
// replication is off. getenv expands ${VAR} in LITESTREAM_CONFIG.
func newReplicator(cfg *Config, getenv func(string) string, logger *slog.Logger) (*store.Replicator, error) {
	rc := store.ReplicationConfig{ReplicaURL: cfg.replicaURL(), ConfigPath: cfg.LitestreamConfig, Getenv: getenv}
	if !rc.Enabled() {
		return nil, nil
	}
	return store.NewReplicator(cfg.DatabasePath, rc, logger)
}

// prepareReplication runs before the database is opened: when replication is on and the
// database file is missing, it restores it from the replica (DESIGN §7). It returns nil when
// replication is off.
func prepareReplication(ctx context.Context, cfg *Config, logger *slog.Logger) (*store.Replicator, error) {
	repl, err := newReplicator(cfg, os.Getenv, logger)
	if err != nil || repl == nil {
		return nil, err
	}
	restored, err := repl.RestoreIfMissing(ctx)
	if err != nil {
		// Starting empty would replicate a new database over the replica's history.
		return nil, fmt.Errorf("database %s is missing and could not be restored from %s: %w",
			cfg.DatabasePath, repl.Location(), err)
	}
	if restored {
		logger.Info("database restored from the replica before start", "path", cfg.DatabasePath, "replica", repl.Location())
	}
	return repl, nil
}

// openReplication starts replicating the (open, WAL-mode) database; nil repl does nothing.
func openReplication(ctx context.Context, repl *store.Replicator) error {
	if repl == nil {
		return nil
	}
	if err := repl.Open(ctx); err != nil {
		return fmt.Errorf("start replication: %w", err)
	}
	return nil
}

// closeReplication stops Litestream with a final sync bounded by replicationCloseTimeout. It
// runs last in the shutdown, after the app's pools are closed.
func closeReplication(ctx context.Context, repl *store.Replicator, logger *slog.Logger) {
	if repl == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replicationCloseTimeout)
	defer cancel()
	if err := repl.Close(cctx); err != nil {
		logger.Error("replication did not stop cleanly", "error", err)
	}
}

func runRestore(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "restore", "restore [--timestamp T] [--output PATH] [--force] [--integrity-check none|quick|full] [flags]\n\n"+
		"Restores the database from the replica (REPLICA_URL, LITESTREAM_CONFIG or BUCKET_NAME): the latest state, or the\n"+
		"state as of T (RFC 3339, e.g. 2026-05-01T09:30:00Z). Writes DATABASE_PATH unless --output is given and\n"+
		"refuses to replace an existing file without --force. Stop the server before restoring over its database.\n"+
		"Every page is checked against the checksums the server recorded in the replica; --integrity-check adds\n"+
		"SQLite's own check before the file is moved into place (quick: seconds per GB; full: also every index).",
		cfg, "DATABASE_PATH", "REPLICA_URL", "LITESTREAM_CONFIG", "LOG_LEVEL", "LOG_FORMAT")
	timestamp := fs.String("timestamp", "", "restore the state as of this time (RFC 3339)")
	output := fs.String("output", "", "write the restored database here (default: DATABASE_PATH)")
	force := fs.Bool("force", false, "replace an existing file at the output path")
	checkFlag := fs.String("integrity-check", "none", "SQLite check of the restored file: none, quick or full")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	check, err := store.ParseIntegrityCheck(*checkFlag)
	if err != nil {
		return fmt.Errorf("--integrity-check: %s", store.ErrorMessage(err))
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	var at time.Time
	if *timestamp != "" {
		if at, err = time.Parse(time.RFC3339Nano, *timestamp); err != nil {
			return fmt.Errorf("--timestamp must be RFC 3339, like 2026-05-01T09:30:00Z: %q", *timestamp)
		}
	}
	logger := newLogger(cfg, env.Stderr)
	repl, err := newReplicator(cfg, env.Getenv, logger)
	if err != nil {
		return err
	}
	if repl == nil {
		return errors.New(cfg.Feature(FeatureReplication).Why())
	}
	out := *output
	if out == "" {
		out = cfg.DatabasePath
	}
	if *force && out == cfg.DatabasePath {
		fmt.Fprintf(env.Stderr, "replacing %s: make sure no technifold server is running on it\n", out)
	}
	err = repl.Restore(ctx, store.RestoreOptions{OutputPath: out, Timestamp: at, Progress: env.Stderr, Overwrite: *force, Check: check})
	if store.ErrorCode(err) == store.ECONFLICT {
		return fmt.Errorf("%s (nothing was changed)", store.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "restored %s from %s\n", out, repl.Location())
	return nil
}

func runBackup(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "backup", "backup verify [--grace 15s] [flags]\n\n"+
		"Restores the latest replica to a temporary file, runs PRAGMA integrity_check on it and compares the\n"+
		"row counts of the main tables with the live database. Exits 1 when the replica is missing data.\n"+
		"A running server uploads new transactions within seconds; --grace is how long to wait for them.", cfg, "DATABASE_PATH", "REPLICA_URL", "LITESTREAM_CONFIG", "LOG_LEVEL", "LOG_FORMAT")
	grace := fs.Duration("grace", 15*time.Second, "keep re-checking this long while the replica lacks recent rows")
	verb := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:] // flags may follow the verb
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if verb == "" && fs.NArg() > 0 {
		verb = fs.Arg(0)
	} else if fs.NArg() > 0 {
		verb = "" // stray arguments
	}
	if verb != "verify" {
		fs.Usage()
		return errUsage
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, env.Stderr)
	repl, err := newReplicator(cfg, env.Getenv, logger)
	if err != nil {
		return err
	}
	if repl == nil {
		return errors.New(cfg.Feature(FeatureReplication).Why())
	}
	if _, err := os.Stat(cfg.DatabasePath); err != nil {
		return fmt.Errorf("no live database to compare with at %s: %w", cfg.DatabasePath, err)
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(env.Stderr, "restoring the latest replica from %s and comparing it with %s…\n", repl.Location(), cfg.DatabasePath)
	rep, err := RunBackupVerify(ctx, db, repl)
	for deadline := time.Now().Add(*grace); err == nil && !rep.OK && lacksRows(rep) && time.Now().Before(deadline); {
		fmt.Fprintf(env.Stderr, "the replica lacks recent rows; checking again in 3s (grace until %s)\n", deadline.Format(time.TimeOnly))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
		rep, err = RunBackupVerify(ctx, db, repl)
	}
	printVerifyReport(env, rep)
	if err != nil {
		return fmt.Errorf("record the result: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("backup verification failed: %s", rep.Detail)
	}
	return nil
}

// lacksRows reports whether a failed verification failed only on row counts (the replica may
// still be catching up), not on a missing or corrupt replica.
func lacksRows(rep store.VerifyReport) bool {
	if rep.Integrity != "ok" {
		return false
	}
	for _, t := range rep.Tables {
		if t.Replica < t.Live {
			return true
		}
	}
	return false
}

func printVerifyReport(env Env, rep store.VerifyReport) {
	if len(rep.Tables) > 0 {
		w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TABLE\tLIVE\tREPLICA\t")
		for _, t := range rep.Tables {
			mark := ""
			if t.Replica < t.Live {
				mark = "MISSING ROWS"
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", t.Table, t.Live, t.Replica, mark)
		}
		w.Flush()
	}
	if rep.Integrity != "" {
		fmt.Fprintf(env.Stdout, "integrity_check: %s\n", rep.Integrity)
	}
	verdict := "OK"
	if !rep.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(env.Stdout, "backup verify %s in %dms: %s\n", verdict, rep.TookMS, rep.Detail)
}

// RunBackupVerify counts the live tables, verifies the replica against them (syncing first
// when replication runs in this process) and stores the report in integration_state
// ('backup_verify': JSON with at, ok, detail, txid, integrity, tables) for the dashboard and
// /metrics. The error is about storing the report; a failed check is rep.OK == false.
func RunBackupVerify(ctx context.Context, db *store.DB, repl *store.Replicator) (store.VerifyReport, error) {
	counts, err := db.CountRows(ctx)
	if err != nil {
		return store.VerifyReport{}, fmt.Errorf("count live rows: %w", err)
	}
	rep := repl.Verify(ctx, counts)
	raw, err := json.Marshal(rep)
	if err != nil {
		return rep, err
	}
	return rep, db.Update(ctx, func(tx *store.Tx) error { return tx.SetState(ctx, backupVerifyState, string(raw)) })
}

// BackupVerifyJob is the scheduled form of RunBackupVerify: it fails (and is logged as failed)
// when the replica does not verify.
func BackupVerifyJob(db *store.DB, repl *store.Replicator, logger *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		rep, err := RunBackupVerify(ctx, db, repl)
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("backup verification failed: %s", rep.Detail)
		}
		logger.Info("backup verified", "txid", rep.TXID, "took_ms", rep.TookMS)
		return nil
	}
}

// registerBackupVerify adds the daily replica check to sched when replication runs. Serve
// calls it once the scheduler exists.
func registerBackupVerify(sched *Scheduler, db *store.DB, repl *store.Replicator, logger *slog.Logger) error {
	if repl == nil {
		return nil
	}
	return sched.Register("backup-verify", BackupVerifyInterval, BackupVerifyJob(db, repl, logger))
}

// replicationCollector exports replication status and the last backup verification.
type replicationCollector struct {
	repl *store.Replicator
	db   *store.DB

	enabled, running, inSync, localTXID, replicaTXID, lagTXIDs, lagSeconds, lastSync, lastError *prometheus.Desc
	verifyOK, verifyAt                                                                          *prometheus.Desc
}

// NewReplicationCollector exposes replication position, lag and health, and the outcome of
// the last backup verification, as technifold_replication_* and technifold_backup_verify_*.
// repl may be nil (replication off); db may be nil (no verification metrics).
func NewReplicationCollector(repl *store.Replicator, db *store.DB) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &replicationCollector{repl: repl, db: db,
		enabled:     d("technifold_replication_enabled", "1 when a replica is configured (REPLICA_URL, LITESTREAM_CONFIG or BUCKET_NAME)."),
		running:     d("technifold_replication_running", "1 while Litestream replicates the database."),
		inSync:      d("technifold_replication_in_sync", "1 when the replica has every transaction written locally."),
		localTXID:   d("technifold_replication_local_txid", "Litestream TXID of the last transaction written to a local LTX file."),
		replicaTXID: d("technifold_replication_replica_txid", "Litestream TXID of the last transaction uploaded to the replica."),
		lagTXIDs:    d("technifold_replication_lag_txids", "Transactions (Litestream TXIDs) written locally but not uploaded yet."),
		lagSeconds:  d("technifold_replication_lag_seconds", "Age of the oldest transaction not uploaded yet; 0 when in sync."),
		lastSync:    d("technifold_replication_last_sync_timestamp_seconds", "Unix time of the last successful upload to the replica."),
		lastError:   d("technifold_replication_last_error_timestamp_seconds", "Unix time of the last replication error; 0 when none."),
		verifyOK:    d("technifold_backup_verify_ok", "1 when the last backup verification passed, 0 when it failed."),
		verifyAt:    d("technifold_backup_verify_timestamp_seconds", "Unix time of the last backup verification."),
	}
}

func (c *replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.enabled, c.running, c.inSync, c.localTXID, c.replicaTXID, c.lagTXIDs,
		c.lagSeconds, c.lastSync, c.lastError, c.verifyOK, c.verifyAt} {
		ch <- d
	}
}

func (c *replicationCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixMilli()) / 1000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c.repl == nil {
		gauge(c.enabled, 0)
	} else {
		st := c.repl.Status(ctx)
		gauge(c.enabled, 1)
		gauge(c.running, boolFloat(st.Running))
		gauge(c.inSync, boolFloat(st.InSync))
		gauge(c.localTXID, float64(st.LocalTXID))
		gauge(c.replicaTXID, float64(st.ReplicaTXID))
		gauge(c.lagTXIDs, float64(st.LagTXIDs))
		gauge(c.lagSeconds, st.Lag.Seconds())
		gauge(c.lastSync, unix(st.LastSyncAt))
		gauge(c.lastError, unix(st.LastErrorAt))
	}
	if c.db == nil {
		return
	}
	raw, at, ok, err := c.db.GetState(ctx, backupVerifyState)
	if err != nil || !ok {
		return
	}
	var rep store.VerifyReport
	if json.Unmarshal([]byte(raw), &rep) != nil {
		return
	}
	if rep.At.IsZero() {
		rep.At = at
	}
	gauge(c.verifyOK, boolFloat(rep.OK))
	gauge(c.verifyAt, unix(rep.At))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// runHealthcheck asks the local server's /healthz, for the container HEALTHCHECK (the runtime
// image has no curl): exit 0 when it answers 200.
func runHealthcheck(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "healthcheck", "healthcheck [--url URL] [flags]\n\n"+
		"GETs http://127.0.0.1:<port of ADDR>/healthz and exits 0 when it answers 200.", cfg, "ADDR")
	target := fs.String("url", "", "URL to check (default: /healthz on ADDR's port on 127.0.0.1)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u := *target
	if u == "" {
		port := cfg.Addr[strings.LastIndex(cfg.Addr, ":")+1:]
		if port == "" {
			port = "8080"
		}
		u = "http://127.0.0.1:" + port + "/healthz"
	}
	return checkHealth(ctx, u, *timeout, env)
}

func checkHealth(ctx context.Context, url string, timeout time.Duration, env Env) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(env.Stdout, "ok")
	return nil
}
