package store

import (
	"context"
	"database/sql"
	"errors"
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
// another process's write transaction to end.
func beginWrite(ctx context.Context, w *sql.DB) (*sql.Tx, error) {
	deadline := time.Now().Add(writeLockWait)
	for {
		tx, err := w.BeginTx(ctx, nil)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return tx, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// execWrite runs one statement in its own write transaction (beginWrite's waiting included).
func execWrite(ctx context.Context, w *sql.DB, query string) error {
	tx, err := beginWrite(ctx, w)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, query); err != nil {
		return err
	}
	return tx.Commit()
}
