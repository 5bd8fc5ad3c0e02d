package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Another process may hold the write lock (a CLI verb such as import while serve runs, or an
// operator's sqlite3). SQLite's own busy handler waits in growing steps, up to 100 ms between
// tries once it has waited a third of a second, so a writer that keeps releasing the lock for
// a few milliseconds (a chunked import) could starve it for seconds. The writer connection
// therefore lets SQLite wait only writerBusyStep per try, and beginWrite tries again and
// again (each try polls at 1-2 ms intervals inside SQLite) until writeLockWait has passed: a
// waiting writer takes the lock within about 2 ms of its release. Readers never wait for
// writers (WAL) and keep busy_timeout(10000).
const (
	// writeLockWait is how long a write transaction waits for another process's to finish
	// before it fails with "database is busy" (the busy_timeout every connection had before).
	writeLockWait = 10 * time.Second
	// writerBusyStep is the writer's busy_timeout in milliseconds: one try of beginWrite.
	writerBusyStep = 5
)

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended form).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// beginWrite begins an IMMEDIATE transaction on the writer, waiting up to writeLockWait for
// another process's write transaction to end. While it waits it holds a shared lock on the
// waiters' file (w may be nil), which tells a bulk writer of another process to let it in
// (DB.YieldToWaitingWriters).
func beginWrite(ctx context.Context, w *sql.DB, waiting *waiters) (*sql.Tx, error) {
	deadline := time.Now().Add(writeLockWait)
	for tries := 0; ; tries++ {
		tx, err := w.BeginTx(ctx, nil)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return tx, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if tries == 0 {
			defer waiting.hold()()
		}
	}
}

// waiters is a small file next to the database (<database>-writers) on which a writer waiting
// for another process's write lock holds a shared flock. A bulk writer (an import) checks it
// between its transactions and lets waiting writers go first, so the server's writer waits
// at most one import transaction even when the machine is too busy to run it promptly.
// flock(2) locks belong to an open file, so two handles in one process see each other too.
type waiters struct {
	path string
	once sync.Once
	f    *os.File // nil when the file cannot be opened: then nobody yields, writers just wait
}

func newWaiters(dbPath string) *waiters { return &waiters{path: dbPath + "-writers"} }

func (w *waiters) file() *os.File {
	if w == nil {
		return nil
	}
	w.once.Do(func() {
		if f, err := os.OpenFile(w.path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			w.f = f
		}
	})
	return w.f
}

// hold announces a waiting writer until the returned func is called.
func (w *waiters) hold() func() {
	f := w.file()
	if f == nil || syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) != nil {
		return func() {}
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
}

// present reports whether a writer of another handle is waiting for the write lock.
func (w *waiters) present() bool {
	f := w.file()
	if f == nil {
		return false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

func (w *waiters) close() {
	if w == nil {
		return
	}
	w.once.Do(func() {}) // never opened: stays so
	if w.f != nil {
		_ = w.f.Close()
	}
}

// YieldToWaitingWriters returns once no writer of another handle (the server, when this is an
// import run as a CLI verb) is waiting for the write lock, or after limit. A bulk writer calls
// it between its transactions.
func (db *DB) YieldToWaitingWriters(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for db.waiting.present() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Microsecond)
	}
}

// execWrite runs one statement in its own write transaction (beginWrite's waiting included).
func execWrite(ctx context.Context, w *sql.DB, query string) error {
	tx, err := beginWrite(ctx, w, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, query); err != nil {
		return err
	}
	return tx.Commit()
}

// DataVersion is SQLite's data_version of the writer's connection: it changes when another
// connection (another process's writer) has committed since the last call. A bulk writer uses
// it to tell whether anyone else is writing.
func (tx *Tx) DataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
	return v, err
}
