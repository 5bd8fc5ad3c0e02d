// Package store is the only package that speaks SQL. It owns the SQLite file: one writer
// connection whose work is group-committed, a read-only pool, migrations and typed queries.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/technifold/technifold/migrations"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// TimeFormat is the one timestamp format in the database: UTC with milliseconds, sorting lexically.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a TimeFormat timestamp (and the RFC 3339 forms SQLite or imports may hold).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{TimeFormat, time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q", s)
}

// Options configures Open.
type Options struct {
	// Now is the clock every transaction takes its fixed time from; time.Now when nil.
	Now func() time.Time
	// ReadConns caps the reader pool; 2×GOMAXPROCS (at least 4) when zero.
	ReadConns int
	// MaxBatch caps how many Update calls share one commit; 64 when zero, 1 disables grouping.
	MaxBatch int
}

// DB is the application's handle on its SQLite file.
type DB struct {
	path   string
	now    func() time.Time
	write  *sql.DB // exactly one connection; used only by the committer goroutine
	read   *sql.DB // query_only connections
	reqs   chan *writeReq
	closed chan struct{}
	done   chan struct{}
	once   sync.Once
	// closeMu orders Close after any Update that is mid-send, so no request is left unanswered.
	closeMu sync.RWMutex
	stats   commitStats
	// stmtCache shares prepared statements across write transactions.
	stmtCache stmtCache
	// jobSignal wakes this process's worker when a transaction that enqueued a job commits.
	jobSignal chan struct{}
	maxBat    int
	// waiting announces this handle's writer waiting for another process's write lock.
	waiting *waiters
}

// DSN builds the connection string with every pragma, so each pooled connection gets them.
// The writer adds synchronous(FULL) (an acknowledged webhook must survive a power cut) and
// IMMEDIATE transactions, and waits for another process's write lock in short steps (see
// beginWrite); readers are query_only.
func DSN(path string, writer bool) string {
	q := url.Values{}
	if writer {
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", writerBusyStep)) // beginWrite waits in these steps
	} else {
		q.Add("_pragma", "busy_timeout(10000)")
	}
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_pragma", "temp_store(MEMORY)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, Errorf(EINVALID, "database path is empty (set DATABASE_PATH)")
	}
	pinAllocatorPages()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	db := &DB{path: path, now: opts.Now, reqs: make(chan *writeReq, 256),
		closed: make(chan struct{}), done: make(chan struct{}), maxBat: opts.MaxBatch,
		jobSignal: make(chan struct{}, 1), waiting: newWaiters(path)}
	if db.now == nil {
		db.now = time.Now
	}
	if db.maxBat <= 0 {
		db.maxBat = 64
	}
	var err error
	if db.write, err = sql.Open("sqlite", DSN(path, true)); err != nil {
		return nil, fmt.Errorf("open writer: %w", err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)
	if err := db.write.PingContext(ctx); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := migrate(ctx, db.write, migrations.FS, db.now); err != nil {
		db.write.Close()
		return nil, err
	}
	if db.read, err = sql.Open("sqlite", DSN(path, false)); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open readers: %w", err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = max(4, 2*runtime.GOMAXPROCS(0))
	}
	db.read.SetMaxOpenConns(n)
	db.read.SetMaxIdleConns(n)
	go db.commitLoop()
	return db, nil
}

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

// Now is the store's clock.
func (db *DB) Now() time.Time { return db.now().UTC() }

// Read returns the read-only pool for queries.
func (db *DB) Read() *sql.DB { return db.read }

// Close stops accepting writes, finishes the queued ones and closes both pools.
func (db *DB) Close() error {
	db.once.Do(func() {
		db.closeMu.Lock()
		close(db.closed)
		db.closeMu.Unlock()
	})
	<-db.done
	db.closeStatements()
	db.waiting.close()
	return errors.Join(db.read.Close(), db.write.Close())
}

// Ping checks that the database answers and accepts a write (used by /readyz).
func (db *DB) Ping(ctx context.Context) error {
	return db.Update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO integration_state (name, value, updated_at)
			VALUES ('readyz', 'ok', ?1) ON CONFLICT (name) DO UPDATE SET updated_at = ?1`, tx.NowText())
		return err
	})
}

// Tx is one unit of work inside a write transaction. Every timestamp it writes is the same,
// taken once from the store's clock.
type Tx struct {
	*sql.Tx
	now time.Time
	db  *DB
	req *writeReq
	// stmts caches prepared statements for the life of the transaction (bulk imports).
	stmts map[string]*sql.Stmt
}

// exec runs query through a cached prepared statement (see stmt).
func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(context.WithoutCancel(ctx), args...)
	return res, translate(err)
}

// stmt returns query as a statement of this transaction. Statements are shared across
// transactions: the first use prepares one for this transaction and asks the committer to
// prepare it on the writer's connection between batches; later transactions bind that one,
// which costs nothing, instead of compiling the SQL again (a large part of a small write).
func (tx *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[query]; ok {
		return st, nil
	}
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	ctx = context.WithoutCancel(ctx)
	var st *sql.Stmt
	if shared := tx.db.stmtCache.get(query); shared != nil {
		st = tx.Tx.StmtContext(ctx, shared)
	} else {
		var err error
		if st, err = tx.Tx.PrepareContext(ctx, query); err != nil {
			return nil, translate(err)
		}
		tx.db.stmtCache.want(query)
	}
	tx.stmts[query] = st
	return st, nil
}

// maxSharedStatements bounds the shared statement cache; queries past it are prepared per
// transaction.
const maxSharedStatements = 512

// stmtCache holds statements prepared on the writer's single connection.
type stmtCache struct {
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
}

func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

func (c *stmtCache) want(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stmts)+len(c.wanted) >= maxSharedStatements {
		return
	}
	if c.wanted == nil {
		c.wanted = map[string]bool{}
	}
	c.wanted[query] = true
}

// prepareWanted prepares the statements transactions asked for. Only the committer calls it,
// between batches, when the writer's connection is free.
func (db *DB) prepareWanted() {
	c := &db.stmtCache
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	for q := range wanted {
		st, err := db.write.PrepareContext(context.Background(), q)
		if err != nil {
			continue // it keeps being prepared per transaction
		}
		c.mu.Lock()
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		c.stmts[q] = st
		c.mu.Unlock()
	}
}

// closeStatements releases the shared statements (Close).
func (db *DB) closeStatements() {
	c := &db.stmtCache
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
}

// singleStatement reports whether query is one SQL statement, which is all a prepared
// statement can hold.
func singleStatement(query string) bool {
	return !strings.Contains(strings.TrimRight(query, " \t\r\n;"), ";")
}

// Now is the transaction's fixed time.
func (tx *Tx) Now() time.Time { return tx.now }

// NowText is Now in TimeFormat.
func (tx *Tx) NowText() string { return FormatTime(tx.now) }

// JobSignal receives a value after a commit that enqueued at least one outbox job.
func (db *DB) JobSignal() <-chan struct{} { return db.jobSignal }

// signalJob wakes the worker without blocking; one pending signal is enough.
func (db *DB) signalJob() {
	select {
	case db.jobSignal <- struct{}{}:
	default:
	}
}
