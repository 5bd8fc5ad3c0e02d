package app

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// BenchmarkOutboxThroughput runs no-op jobs end to end — claim, handler, completion — on a real
// file at production pragmas (synchronous FULL), and reports jobs per second.
func BenchmarkOutboxThroughput(b *testing.B) {
	for _, opts := range []WorkerOptions{{}, {Batch: 64}, {Batch: 64, Concurrency: 4}} {
		name := fmt.Sprintf("batch=%d/concurrency=%d", max(opts.Batch, 16), max(opts.Concurrency, 2))
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db := openOutboxTestDB(b, nil)
			n := int64(b.N)
			var ran atomic.Int64
			all := make(chan struct{})
			reg := &Registry{}
			reg.Register("noop", func(context.Context, store.Job) (any, error) {
				if ran.Add(1) == n {
					close(all)
				}
				return nil, nil
			})
			for i := 0; i < b.N; i += 1000 {
				err := db.Update(ctx, func(tx *store.Tx) error {
					for j := i; j < min(i+1000, b.N); j++ {
						if _, _, err := tx.Enqueue(ctx, store.NewJob{Type: "noop"}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			opts.Logger, opts.PollInterval = quietLogger(), time.Hour
			w := NewWorker(db, reg, opts)
			b.ResetTimer()
			w.Start(ctx)
			<-all
			if err := w.Stop(ctx); err != nil { // flushes the last completions
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
			counts, err := db.JobCounts(ctx)
			if err != nil || counts[store.JobCompleted]["noop"] != b.N {
				b.Fatalf("counts = %v, %v; want %d completed", counts, err, b.N)
			}
		})
	}
}

// BenchmarkEnqueueToStart enqueues one job at a time with the worker running and measures from
// the enqueue's commit to its handler starting.
func BenchmarkEnqueueToStart(b *testing.B) {
	ctx := context.Background()
	db := openOutboxTestDB(b, nil)
	starts := make(chan time.Time, 1)
	reg := &Registry{}
	reg.Register("ping", func(context.Context, store.Job) (any, error) { starts <- time.Now(); return nil, nil })
	w := NewWorker(db, reg, WorkerOptions{Logger: quietLogger(), PollInterval: time.Hour})
	w.Start(ctx)
	b.Cleanup(func() { w.Stop(ctx) })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		var committed time.Time
		err := db.Update(ctx, func(tx *store.Tx) error {
			tx.AfterCommit(func() { committed = time.Now() }) // runs before the enqueue's signal
			_, _, err := tx.Enqueue(ctx, store.NewJob{Type: "ping"})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-starts).Sub(committed))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
}

// BenchmarkRawInsert is the floor to compare with: one single-row INSERT per transaction at
// synchronous FULL, sequential, through db.Update.
func BenchmarkRawInsert(b *testing.B) {
	ctx := context.Background()
	db := openOutboxTestDB(b, nil)
	if err := db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO bench_raw (v) VALUES (?)`, "x")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}
