package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Update after Close.
var ErrClosed = &Error{Code: EUNAVAILABLE, Message: "database is closed"}

// writeReq is one Update call waiting for the committer.
type writeReq struct {
	ctx   context.Context
	fn    func(*Tx) error
	done  chan error
	after []func()
}

// commitStats counts the committer's work, for /metrics.
type commitStats struct {
	batches  atomic.Int64
	requests atomic.Int64
	failures atomic.Int64
	busy     atomic.Int64 // nanoseconds the committer spent running batches
}

// CommitStats reports how many commits the writer made and how many Update calls they carried.
func (db *DB) CommitStats() (batches, requests, failures int64) {
	return db.stats.batches.Load(), db.stats.requests.Load(), db.stats.failures.Load()
}

// WriterBusy is how long the committer has spent running transactions: its rate is how much
// of the single writer's capacity is in use.
func (db *DB) WriterBusy() time.Duration { return time.Duration(db.stats.busy.Load()) }

// Update runs fn in a write transaction and returns once that transaction has committed
// (nil) or fn's work was rolled back (its error). Calls from concurrent goroutines are
// group-committed: one writer goroutine runs several fns in one transaction, each inside its
// own savepoint, so one fn's failure never touches another's work, and nobody is answered
// before the commit that holds their work. fn must not call Update, and must not do slow I/O.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.closeMu.RLock()
	select {
	case <-db.closed:
		db.closeMu.RUnlock()
		return ErrClosed
	default:
	}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the caller must know whether it committed.
	return <-req.done
}

// AfterCommit registers f to run once the transaction holding this Tx's work has committed.
func (tx *Tx) AfterCommit(f func()) { tx.req.after = append(tx.req.after, f) }

func (db *DB) commitLoop() {
	defer close(db.done)
	for {
		select {
		case req := <-db.reqs:
			db.runBatch(db.collect(req))
			db.prepareWanted()
		case <-db.closed:
			for {
				select {
				case req := <-db.reqs:
					db.runBatch(db.collect(req))
				default:
					return
				}
			}
		}
	}
}

// collect takes first and whatever else is already queued, up to MaxBatch.
func (db *DB) collect(first *writeReq) []*writeReq {
	batch := []*writeReq{first}
	for len(batch) < db.maxBat {
		select {
		case r := <-db.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

func (db *DB) runBatch(batch []*writeReq) {
	start := time.Now()
	defer func() { db.stats.busy.Add(int64(time.Since(start))) }()
	db.stats.batches.Add(1)
	db.stats.requests.Add(int64(len(batch)))
	if len(batch) == 1 {
		db.finish(batch, []error{db.runAlone(batch[0])})
		return
	}
	results, err := db.runGroupedOptimistic(batch)
	if errors.Is(err, errFallback) {
		results, err = db.runGrouped(batch)
	}
	if err != nil {
		// The shared transaction itself failed (not one fn): run each request alone so one
		// bad request cannot fail the others.
		for _, r := range batch {
			db.finish([]*writeReq{r}, []error{db.runAlone(r)})
		}
		return
	}
	db.finish(batch, results)
}

func (db *DB) finish(batch []*writeReq, errs []error) {
	for i, r := range batch {
		err := errs[i]
		if err != nil {
			db.stats.failures.Add(1)
		} else {
			for _, f := range r.after {
				f()
			}
		}
		r.done <- err
	}
}

func (db *DB) runAlone(r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	ctx := context.Background()
	sqlTx, err := beginWrite(ctx, db.write, db.waiting)
	if err != nil {
		return translate(fmt.Errorf("begin write transaction: %w", err))
	}
	r.after = nil
	if err := call(r, &Tx{Tx: sqlTx, now: db.Now(), db: db, req: r}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// errFallback says a batch run without savepoints hit a request error and was rolled back whole.
var errFallback = errors.New("a request failed: rerun the batch with savepoints")

// runGroupedOptimistic runs the batch in one transaction without savepoints. Savepoints cost
// every request a copy of each page it touches (SQLite's sub-journal), a large part of a small
// write; requests almost never fail, so the batch first runs without them and, when one does
// fail, rolls back whole and runs again with a savepoint each. Every request's work is
// therefore only ever answered from a commit that holds it and nothing else's failure.
func (db *DB) runGroupedOptimistic(batch []*writeReq) ([]error, error) {
	return db.runShared(batch, false)
}

// runGrouped runs the batch in one transaction, a savepoint per request. It returns each
// request's own error, or a non-nil error when the shared transaction could not commit.
func (db *DB) runGrouped(batch []*writeReq) ([]error, error) {
	return db.runShared(batch, true)
}

// runShared runs every request of the batch in one transaction. With savepoints, a failing
// request's work is rolled back alone; without, the first failure rolls back the whole
// transaction and returns errFallback.
func (db *DB) runShared(batch []*writeReq, savepoints bool) ([]error, error) {
	ctx := context.Background()
	sqlTx, err := beginWrite(ctx, db.write, db.waiting)
	if err != nil {
		return nil, err
	}
	abort := func(err error) ([]error, error) {
		_ = sqlTx.Rollback()
		for _, r := range batch {
			r.after = nil
		}
		return nil, err
	}
	exec := func(stmt string) error {
		if !savepoints {
			return nil
		}
		_, err := sqlTx.ExecContext(ctx, stmt)
		return err
	}
	results := make([]error, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := exec("SAVEPOINT req"); err != nil {
			return abort(err)
		}
		r.after = nil
		if ferr := call(r, &Tx{Tx: sqlTx, now: db.Now(), db: db, req: r}); ferr != nil {
			if !savepoints {
				return abort(errFallback)
			}
			results[i] = ferr
			r.after = nil
			if err := exec("ROLLBACK TO req"); err != nil {
				return abort(err)
			}
		}
		if err := exec("RELEASE req"); err != nil {
			return abort(err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return abort(err)
	}
	return results, nil
}

// call runs the request's fn, turning a panic into an error so the writer survives it.
func call(r *writeReq, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in write transaction: %v", p)
		}
	}()
	return translate(r.fn(tx))
}

// The statement methods ignore the caller's cancellation once the work has started: an
// interrupted statement can roll back the whole shared transaction, so a write, once begun,
// runs to its end (each is short by rule).

// ExecContext executes a statement in the transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !singleStatement(query) {
		res, err := tx.Tx.ExecContext(context.WithoutCancel(ctx), query, args...)
		return res, translate(err)
	}
	return tx.exec(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(context.WithoutCancel(ctx), args...)
	return rows, translate(err)
}

// QueryRowContext runs a query expected to return at most one row.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		// A *sql.Row cannot carry our error; database/sql reports the same failure on Scan.
		return tx.Tx.QueryRowContext(context.WithoutCancel(ctx), query, args...)
	}
	return st.QueryRowContext(context.WithoutCancel(ctx), args...)
}

// IsNoRows reports whether err is sql.ErrNoRows.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
