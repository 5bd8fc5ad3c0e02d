package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// BenchmarkStripeWebhook drives POST /api/stripe/webhook over loopback, on a database file at
// production pragmas, with 32 concurrent clients each sending signed checkout.session.completed
// events (unique ids, one per order created up front as checkout leaves it: pending, with its
// Checkout Session stored). It reports events/s and p99 latency,
// then the raw rate of sequential single-row INSERT transactions on the same file (timed just
// before and after the events), and the ratio of the two: what the whole webhook costs
// relative to the cheapest durable write.
func BenchmarkStripeWebhook(b *testing.B) {
	const clients = 32
	ctx := context.Background()
	env := newStripeTestEnv(b, nil)
	orders := make([]string, b.N)
	err := env.db.Update(ctx, func(tx *store.Tx) error {
		for i := range orders {
			o, err := tx.CreateOrder(ctx, store.NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []store.OrderLine{
				{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 2}}})
			if err != nil {
				return err
			}
			// As POST /api/checkout leaves it: the session stored, waiting for its payment.
			if err := tx.SetCheckoutSession(ctx, o.ID, "cs_bench_"+o.ID, "https://checkout.stripe.com/c/pay/cs_bench_"+o.ID); err != nil {
				return err
			}
			orders[i] = o.ID
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	template := string(stripeFixtureEvent(b, "checkout.session.completed", "evt_bench_ORDERID", map[string]any{
		"id": "cs_bench_ORDERID", "metadata.order_id": "ORDERID", "client_reference_id": "ORDERID",
		"payment_intent": "pi_bench_ORDERID", "invoice": "in_bench_ORDERID", "currency": "gbp",
		"amount_subtotal": 129998, "amount_total": 130998, "total_details.amount_tax": 1000}))
	bodies := make([][]byte, b.N)
	for i, id := range orders {
		bodies[i] = []byte(strings.ReplaceAll(template, "ORDERID", id))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var failures atomic.Int64
	var wg sync.WaitGroup
	// Durable single-row inserts are timed just before and just after the events: the host's
	// speed drifts, and the mean of the two brackets the events' run.
	rawN := max(200, min(b.N, 2000))
	insertsBefore := rawInsertRate(b, env.db, rawN)
	batches0, requests0, _ := env.db.CommitStats()
	busy0 := env.db.WriterBusy()
	cpu0 := processCPU()
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, env.http.URL+"/api/stripe/webhook", bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Stripe-Signature", signStripe(stripeTestSecrets[0], t0, bodies[i]))
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				latencies[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	batches, requests, _ := env.db.CommitStats()
	busy := env.db.WriterBusy() - busy0
	cores := (processCPU() - cpu0).Seconds() / elapsed.Seconds()
	perCommit := float64(requests-requests0) / float64(max(batches-batches0, 1))
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d deliveries failed", n, b.N)
	}
	if n := env.count(b, `SELECT count(*) FROM orders WHERE status = 'paid'`); n != b.N {
		b.Fatalf("%d of %d orders paid", n, b.N)
	}
	if n := env.count(b, `SELECT count(*) FROM sales WHERE source = 'stripe'`); n != 2*b.N {
		b.Fatalf("%d sales rows for %d paid orders of two lines", n, b.N)
	}
	if n := env.count(b, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order'`); n != b.N {
		b.Fatalf("%d sync jobs for %d paid orders", n, b.N)
	}
	slices.Sort(latencies)
	eventsPerSec := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(eventsPerSec, "events/s")
	b.ReportMetric(float64(latencies[(len(latencies)*99)/100].Microseconds())/1000, "p99_ms")

	insertsAfter := rawInsertRate(b, env.db, rawN)
	inserts := (insertsBefore + insertsAfter) / 2
	b.ReportMetric(inserts, "raw_inserts/s")
	b.ReportMetric(eventsPerSec/inserts, "events/raw_insert")
	b.ReportMetric(busy.Seconds()/elapsed.Seconds(), "writer_busy")
	b.ReportMetric(cores, "cpu_cores")
	b.Logf("N=%d: %.0f events/s, p99 %v, %.1f events per commit, writer busy %.0f%% (%v per event), %.2f cores busy; "+
		"raw %.0f inserts/s (%.0f before, %.0f after); ratio %.2f",
		b.N, eventsPerSec, latencies[(len(latencies)*99)/100], perCommit, 100*busy.Seconds()/elapsed.Seconds(),
		busy/time.Duration(b.N), cores, inserts, insertsBefore, insertsAfter, eventsPerSec/inserts)
}

// rawInsertRate times n sequential transactions of one single-row INSERT each through
// db.Update (synchronous FULL, so one fsync each): the floor of a durable write.
func rawInsertRate(b *testing.B, db *store.DB, n int) float64 {
	b.Helper()
	ctx := context.Background()
	if err := db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_stripe_raw (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		if err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO bench_stripe_raw (v) VALUES (?)`, fmt.Sprint(i))
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
