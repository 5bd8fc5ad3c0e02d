package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
	"github.com/benbjohnson/litestream/s3"
	"github.com/superfly/ltx"
)

// ReplicationConfig says where the database is replicated. Exactly one of ReplicaURL and
// ConfigPath is set; the other fields tune timings and have working defaults.
type ReplicationConfig struct {
	// ReplicaURL is REPLICA_URL: s3://bucket/path?endpoint=…&region=…&force-path-style=true
	// (AWS, Tigris, R2, MinIO, B2…) or file:///path.
	ReplicaURL string
	// ConfigPath is LITESTREAM_CONFIG: a Litestream v0.5 litestream.yml with a dbs entry
	// whose path is the database's.
	ConfigPath string
	// Getenv expands $VAR and ${VAR} in the config file; os.Getenv when nil.
	Getenv func(string) string

	// SyncInterval is how often new transactions are uploaded; 1 s when zero (or the
	// config file's sync-interval).
	SyncInterval time.Duration
	// MonitorInterval is how often the WAL is read into LTX files; 1 s when zero.
	MonitorInterval time.Duration
	// SnapshotInterval and SnapshotRetention bound point-in-time restore: a full snapshot is
	// uploaded every interval and history older than the retention is deleted. Litestream's
	// defaults (24 h each) when zero.
	SnapshotInterval, SnapshotRetention time.Duration
	// ShutdownSyncTimeout caps the retries of Close's final upload; 15 s when zero.
	ShutdownSyncTimeout time.Duration
	// TempDir holds the copies Verify restores; os.TempDir() when empty.
	TempDir string
}

// Enabled reports whether any replica is configured.
func (c ReplicationConfig) Enabled() bool { return c.ReplicaURL != "" || c.ConfigPath != "" }

// Replicator runs Litestream (embedded) for one database: continuous replication while open,
// restore and verification on demand. Open it after the database is open (Litestream needs
// the WAL-mode file) and Close it after the app's pools are closed (DESIGN §7).
type Replicator struct {
	dbPath    string
	cfg       ReplicationConfig
	logger    *slog.Logger
	tap       *errorTap
	client    litestream.ReplicaClient
	location  string // where the replica is, safe to show (no credentials)
	syncEvery time.Duration
	monitor   time.Duration

	mu    sync.Mutex
	lsdb  *litestream.DB
	store *litestream.Store
	state replicatorState
}

type replicatorState int

const (
	stateNew replicatorState = iota
	stateOpen
	stateClosed
)

// NewReplicator builds the replica client described by cfg for the database at dbPath. It
// starts nothing. For an S3 replica it clears AWS_CA_BUNDLE from the environment, because
// Litestream's S3 client brings its own HTTP client and the AWS SDK then refuses to load any
// CA bundle ("unable to add custom RootCAs HTTPClient"); TLS uses the system roots (point
// SSL_CERT_FILE at a bundle to change them).
func NewReplicator(dbPath string, cfg ReplicationConfig, logger *slog.Logger) (*Replicator, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if dbPath == "" {
		return nil, Errorf(EINVALID, "database path is empty (set DATABASE_PATH)")
	}
	if cfg.ReplicaURL != "" && cfg.ConfigPath != "" {
		return nil, Errorf(EINVALID, "set REPLICA_URL or LITESTREAM_CONFIG, not both")
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return nil, fmt.Errorf("database path: %w", err)
	}
	r := &Replicator{dbPath: abs, cfg: cfg, tap: &errorTap{}, syncEvery: cfg.SyncInterval, monitor: cfg.MonitorInterval}
	r.logger = slog.New(r.tap.wrap(logger.Handler())).With("component", "litestream")
	switch {
	case cfg.ReplicaURL != "":
		if r.client, r.location, err = replicaClientFromURL(cfg.ReplicaURL); err != nil {
			return nil, Errorf(EINVALID, "REPLICA_URL: %v", err)
		}
	case cfg.ConfigPath != "":
		data, err := os.ReadFile(cfg.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("read LITESTREAM_CONFIG: %w", err)
		}
		lc, err := parseLitestreamConfig(data, cfg.Getenv)
		if err != nil {
			return nil, Errorf(EINVALID, "%s: %v", cfg.ConfigPath, err)
		}
		db, err := lc.findDB(abs)
		if err != nil {
			return nil, Errorf(EINVALID, "%s: %v", cfg.ConfigPath, err)
		}
		if r.client, r.location, err = db.Replica.replicaClient(); err != nil {
			return nil, Errorf(EINVALID, "%s: %v", cfg.ConfigPath, err)
		}
		if r.syncEvery == 0 {
			r.syncEvery = db.Replica.SyncInterval
		}
		if r.monitor == 0 {
			r.monitor = db.MonitorInterval
		}
		for _, s := range []snapshotSettings{lc.Snapshot, db.Snapshot} {
			if r.cfg.SnapshotInterval == 0 && s.Interval > 0 {
				r.cfg.SnapshotInterval = s.Interval
			}
			if r.cfg.SnapshotRetention == 0 && s.Retention > 0 {
				r.cfg.SnapshotRetention = s.Retention
			}
		}
	default:
		return nil, Errorf(EINVALID, "replication is off: set REPLICA_URL or LITESTREAM_CONFIG")
	}
	if r.syncEvery <= 0 {
		r.syncEvery = litestream.DefaultSyncInterval
	}
	if r.monitor <= 0 {
		r.monitor = litestream.DefaultMonitorInterval
	}
	if r.cfg.ShutdownSyncTimeout <= 0 {
		r.cfg.ShutdownSyncTimeout = 15 * time.Second
	}
	if _, ok := r.client.(*s3.ReplicaClient); ok {
		if v, set := os.LookupEnv("AWS_CA_BUNDLE"); set {
			os.Unsetenv("AWS_CA_BUNDLE")
			r.logger.Warn("AWS_CA_BUNDLE cleared for the S3 replica client: Litestream's S3 client cannot load it; "+
				"TLS uses the system roots (set SSL_CERT_FILE to change them)", "was", v)
		}
	}
	r.client.SetLogger(r.logger)
	return r, nil
}

// Location describes where the replica is, without credentials (for logs and the dashboard).
func (r *Replicator) Location() string { return r.location }

// Open starts continuous replication: Litestream reads the WAL into LTX files every
// MonitorInterval, uploads them every SyncInterval and compacts and snapshots in the
// background. The database file must exist (open it with store.Open first).
func (r *Replicator) Open(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateNew {
		return Errorf(EINVALID, "replicator already opened")
	}
	if _, err := os.Stat(r.dbPath); err != nil {
		return fmt.Errorf("start replication: database %s: %w", r.dbPath, err)
	}
	db := litestream.NewDB(r.dbPath)
	db.MonitorInterval = r.monitor
	replica := litestream.NewReplicaWithClient(db, r.client)
	replica.SyncInterval = r.syncEvery
	if fc, ok := r.client.(*file.ReplicaClient); ok {
		fc.Replica = replica // lets the file client copy the database's permissions
	}
	db.Replica = replica
	st := litestream.NewStore([]*litestream.DB{db}, litestream.DefaultCompactionLevels)
	st.Logger = r.logger
	db.SetLogger(r.logger.With(litestream.LogKeyDB, filepath.Base(r.dbPath)))
	if r.cfg.SnapshotInterval > 0 {
		st.SnapshotInterval = r.cfg.SnapshotInterval
	}
	if r.cfg.SnapshotRetention > 0 {
		st.SnapshotRetention = r.cfg.SnapshotRetention
	}
	st.SetShutdownSyncTimeout(r.cfg.ShutdownSyncTimeout)
	if err := st.Open(ctx); err != nil {
		return fmt.Errorf("start replication to %s: %w", r.location, err)
	}
	r.lsdb, r.store, r.state = db, st, stateOpen
	// Litestream initialises a database on its first sync, a MonitorInterval after Open, and
	// Close skips the final sync of one never initialised: sync now, so a shutdown right
	// after start still uploads.
	if err := db.Sync(ctx); err != nil {
		r.logger.Warn("first replication sync failed; Litestream retries", "error", err)
	}
	r.logger.Info("replication started", "db", r.dbPath, "replica", r.location, "sync_interval", r.syncEvery)
	return nil
}

// Close stops replication after a final sync of everything committed so far. It returns when
// that sync is done or ctx ends, whichever comes first; a process about to exit should give
// it a deadline (the final sync retries until ShutdownSyncTimeout).
func (r *Replicator) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.state != stateOpen {
		r.state = stateClosed
		r.mu.Unlock()
		return nil
	}
	st := r.store
	r.state = stateClosed
	r.mu.Unlock()

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- st.Close(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			r.logger.Error("replication stopped; the final sync failed", "error", err)
			return fmt.Errorf("final replication sync: %w", err)
		}
		r.logger.Info("replication stopped after a final sync", "took", time.Since(start).Round(time.Millisecond))
		return nil
	case <-ctx.Done():
		r.logger.Error("replication stop timed out; transactions since the last sync may not be in the replica",
			"waited", time.Since(start).Round(time.Millisecond))
		return fmt.Errorf("final replication sync: %w", ctx.Err())
	}
}

// SyncNow writes every committed transaction to LTX files and uploads them, returning once
// the replica has them (the admin "sync now" action, and before Verify).
func (r *Replicator) SyncNow(ctx context.Context) error {
	st, err := r.openStore()
	if err != nil {
		return err
	}
	res, err := st.SyncDB(ctx, r.dbPath, true)
	if err != nil {
		r.tap.record(time.Now(), "sync now", err)
		return fmt.Errorf("sync to %s: %w", r.location, err)
	}
	r.logger.Debug("synced", "txid", ltx.TXID(res.TXID).String(), "replicated_txid", ltx.TXID(res.ReplicatedTXID).String())
	return nil
}

func (r *Replicator) openStore() (*litestream.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateOpen {
		return nil, Errorf(EUNAVAILABLE, "replication is not running")
	}
	return r.store, nil
}

// ReplicationStatus is what the dashboard and /metrics show about replication. Positions are
// Litestream TXIDs: the local one is the last transaction written to an LTX file, the
// replicated one the last uploaded.
type ReplicationStatus struct {
	Enabled  bool   `json:"enabled"`
	Running  bool   `json:"running"`
	Replica  string `json:"replica"` // location, no credentials
	Type     string `json:"type"`    // s3 or file
	Interval string `json:"sync_interval"`

	LocalTXID       uint64 `json:"local_txid"`
	ReplicaTXID     uint64 `json:"replica_txid"`
	LocalPosition   string `json:"local_position"`   // TXID as Litestream prints it (16 hex digits)
	ReplicaPosition string `json:"replica_position"` //
	LagTXIDs        uint64 `json:"lag_txids"`
	// Lag is the age of the oldest local transaction not yet uploaded; zero when in sync.
	Lag         time.Duration `json:"lag_ns"`
	InSync      bool          `json:"in_sync"`
	LastSyncAt  time.Time     `json:"last_sync_at"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at"`
}

// Status reports the replication position and health. It reads local state only, except
// when the replicated position is unknown (just started, or after an error), when it lists
// the replica's newest LTX file, bounded by ctx.
func (r *Replicator) Status(ctx context.Context) ReplicationStatus {
	s := ReplicationStatus{Enabled: true, Replica: r.location, Type: r.client.Type(), Interval: r.syncEvery.String()}
	s.LastErrorAt, s.LastError = r.tap.last()
	r.mu.Lock()
	db, running := r.lsdb, r.state == stateOpen
	r.mu.Unlock()
	s.Running = running
	if db == nil {
		return s
	}
	s.LastSyncAt = db.LastSuccessfulSyncAt()
	local, err := db.Pos()
	if err != nil {
		r.tap.record(time.Now(), "local position", err)
	}
	remote := db.Replica.Pos().TXID
	if remote == 0 && local.TXID > 0 && running {
		info, err := db.Replica.MaxLTXFileInfo(ctx, 0)
		if err != nil {
			r.tap.record(time.Now(), "replica position", err)
		} else {
			remote = info.MaxTXID
		}
	}
	s.LastErrorAt, s.LastError = r.tap.last()
	s.LocalTXID, s.ReplicaTXID = uint64(local.TXID), uint64(remote)
	s.LocalPosition, s.ReplicaPosition = local.TXID.String(), remote.String()
	s.InSync = local.TXID == remote
	if local.TXID > remote {
		s.LagTXIDs = uint64(local.TXID - remote)
		s.Lag = r.unreplicatedAge(db, remote+1)
	}
	return s
}

// unreplicatedAge is how long ago the LTX file of txid (the first not uploaded) was written.
func (r *Replicator) unreplicatedAge(db *litestream.DB, txid ltx.TXID) time.Duration {
	f, err := os.Open(db.LTXPath(0, txid, txid))
	if err != nil {
		return time.Since(db.LastSuccessfulSyncAt()) // compacted or not yet written: best guess
	}
	defer f.Close()
	dec := ltx.NewDecoder(f)
	if err := dec.DecodeHeader(); err != nil {
		return 0
	}
	return max(0, time.Since(time.UnixMilli(dec.Header().Timestamp)))
}

// errorTap forwards log records and remembers the last error-level one, so the dashboard
// and /metrics can show replication failures that Litestream only logs.
type errorTap struct {
	mu  sync.Mutex
	at  time.Time
	msg string
}

func (t *errorTap) record(at time.Time, what string, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	t.mu.Lock()
	t.at, t.msg = at, what+": "+err.Error()
	t.mu.Unlock()
}

func (t *errorTap) last() (time.Time, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.at, t.msg
}

func (t *errorTap) wrap(h slog.Handler) slog.Handler { return &tapHandler{Handler: h, tap: t} }

type tapHandler struct {
	slog.Handler
	tap *errorTap
}

func (h *tapHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError {
		msg := rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				msg += ": " + a.Value.String()
				return false
			}
			return true
		})
		h.tap.mu.Lock()
		h.tap.at, h.tap.msg = rec.Time, msg
		h.tap.mu.Unlock()
	}
	return h.Handler.Handle(ctx, rec)
}

func (h *tapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &tapHandler{Handler: h.Handler.WithAttrs(attrs), tap: h.tap}
}

func (h *tapHandler) WithGroup(name string) slog.Handler {
	return &tapHandler{Handler: h.Handler.WithGroup(name), tap: h.tap}
}
