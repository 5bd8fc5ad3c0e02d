package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// liveImportRun is an import by a second store handle on the server's database file (as the
// `technifold import` process does while `serve` runs) with signed Stripe webhooks streaming
// into the server meanwhile.
type liveImportRun struct {
	rows       int           // sales rows to import
	orders     int           // paid-order events available to send
	clients    int           // concurrent webhook senders
	rate       float64       // offered events/s over all clients; 0 = as fast as they go
	importOpts ImportOptions // chunking
	timeout    time.Duration // bound on the whole run
	after      time.Duration // how long the stream goes on after the import (the baseline)
}

type liveImportResult struct {
	importRows      int
	importTime      time.Duration
	chunks          int
	events, failed  int
	eventsTime      time.Duration
	slowest, p99    time.Duration
	failureExamples []string
	// The same stream on the same machine once the import has finished.
	baseEvents           int
	baseSlowest, baseP99 time.Duration
}

func runLiveImport(t testing.TB, run liveImportRun) liveImportResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), run.timeout)
	defer cancel()
	env := newStripeTestEnv(t, nil)
	orders := make([]string, 0, run.orders)
	for len(orders) < run.orders {
		err := env.db.Update(ctx, func(tx *store.Tx) error {
			for range min(5000, run.orders-len(orders)) {
				o, err := tx.CreateOrder(ctx, store.NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []store.OrderLine{
					{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 2}}})
				if err != nil {
					return err
				}
				if err := tx.SetCheckoutSession(ctx, o.ID, "cs_live_"+o.ID, "https://checkout.stripe.com/c/pay/cs_live_"+o.ID); err != nil {
					return err
				}
				orders = append(orders, o.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	template := string(stripeFixtureEvent(t, "checkout.session.completed", "evt_live_EVENTNO", map[string]any{
		"id": "cs_live_ORDERID", "metadata.order_id": "ORDERID", "client_reference_id": "ORDERID",
		"payment_intent": "pi_live_ORDERID", "invoice": "in_live_ORDERID", "currency": "gbp",
		"amount_subtotal": 129998, "amount_total": 130998, "total_details.amount_tax": 1000}))

	var csvData bytes.Buffer
	csvData.WriteString("company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\n")
	for i := range run.rows {
		fmt.Fprintf(&csvData, "%s,BLADE-1,%d,2499,gbp,2025-%02d-%02d,LIVE-%07d\n", []string{"ACME", "BETA"}[i%2], 1+i%7, 1+i%12, 1+i%28, i)
	}

	// The importing "process": its own handle, its own writer connection.
	importer, err := store.Open(ctx, env.cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer importer.Close()

	var res liveImportResult
	importDone := make(chan error, 1)
	go func() {
		t0 := time.Now()
		r, err := ImportCSVWith(ctx, importer, "sales", bytes.NewReader(csvData.Bytes()), run.importOpts)
		res.importTime, res.importRows, res.chunks = time.Since(t0), r.Committed, r.Chunks
		importDone <- err
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: run.clients, MaxIdleConnsPerHost: run.clients}}
	defer client.CloseIdleConnections()
	var latencies, baseline []time.Duration
	var importing atomic.Bool
	importing.Store(true)
	var next, failed atomic.Int64
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range run.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				// Past the last order, events repeat a completion under a new event id (as a
				// retried or duplicated delivery would): still one write transaction each.
				i := int(next.Add(1) - 1)
				if run.rate == 0 && i >= len(orders) {
					return
				}
				if run.rate > 0 { // open loop: event i is due at i/rate
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / run.rate * float64(time.Second)))))
				}
				select {
				case <-stop:
					next.Add(-1)
					return
				default:
				}
				body := []byte(strings.ReplaceAll(strings.ReplaceAll(template, "ORDERID", orders[i%len(orders)]), "EVENTNO", strconv.Itoa(i)))
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.http.URL+"/api/stripe/webhook", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Stripe-Signature", signStripe(stripeTestSecrets[0], t0, body))
				resp, err := client.Do(req)
				status := 0
				var text []byte
				if err == nil {
					status = resp.StatusCode
					text, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				took := time.Since(t0)
				mu.Lock()
				if importing.Load() {
					latencies = append(latencies, took)
				} else {
					baseline = append(baseline, took)
				}
				mu.Unlock()
				if status != http.StatusOK {
					failed.Add(1)
					mu.Lock()
					if len(res.failureExamples) < 5 {
						res.failureExamples = append(res.failureExamples, fmt.Sprintf("%d %v %s after %v", status, err, text, took))
					}
					mu.Unlock()
				}
			}
		}()
	}
	if err := <-importDone; err != nil {
		t.Fatalf("import: %v", err)
	}
	mu.Lock()
	importing.Store(false)
	res.eventsTime = time.Since(start)
	res.events = len(latencies)
	mu.Unlock()
	time.Sleep(run.after)
	close(stop)
	wg.Wait()
	if len(baseline) > 0 {
		slices.Sort(baseline)
		res.baseEvents, res.baseSlowest, res.baseP99 = len(baseline), baseline[len(baseline)-1], baseline[len(baseline)*99/100]
	}
	total := res.events + res.baseEvents
	res.failed = int(failed.Load())
	sent := slices.Clone(latencies)
	slices.Sort(sent)
	if len(sent) > 0 {
		res.slowest, res.p99 = sent[len(sent)-1], sent[len(sent)*99/100]
	}
	if res.importRows != run.rows {
		t.Fatalf("imported %d of %d rows", res.importRows, run.rows)
	}
	if n := env.count(t, `SELECT count(*) FROM sales WHERE invoice_number LIKE 'LIVE-%'`); n != run.rows {
		t.Fatalf("%d imported sales rows in the database, want %d", n, run.rows)
	}
	if n := env.count(t, `SELECT count(*) FROM orders WHERE status = 'paid'`); res.failed == 0 && n != min(total, len(orders)) {
		t.Fatalf("%d orders paid, %d events delivered", n, total)
	}
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries`); res.failed == 0 && n != total {
		t.Fatalf("%d deliveries recorded, %d events answered 200", n, total)
	}
	return res
}

// TestImportFromAnotherHandleNeverFailsWebhooks: a few thousand sales rows imported in small
// chunks by a second handle on the file while signed webhooks stream into the server: every
// delivery is answered 200.
func TestImportFromAnotherHandleNeverFailsWebhooks(t *testing.T) {
	res := runLiveImport(t, liveImportRun{rows: 4000, orders: 300, clients: 4,
		importOpts: ImportOptions{MaxChunkRows: 50}, timeout: 2 * time.Minute})
	if res.failed != 0 || res.events == 0 || res.chunks < 40 {
		t.Fatalf("%d of %d deliveries failed (%v); %d chunks", res.failed, res.events, res.failureExamples, res.chunks)
	}
}

// BenchmarkImportWhileWebhooks imports 1,000,000 sales rows (BENCH_IMPORT_ROWS) through a
// second store handle, as `technifold import` does while `serve` runs, while signed Stripe
// checkout.session.completed events stream into the server at BENCH_EVENTS_PER_SEC (default
// 250) from 16 clients. It reports both sides: import rows/s, webhook events/s, failed
// deliveries (must be 0) and the slowest webhook (must be under 1 s), then the same stream's
// latencies for 15 s after the import, as this machine's baseline. Bounded to 10 minutes.
// Run by hand:
//
//	go test ./app -run '^$' -bench BenchmarkImportWhileWebhooks -benchtime=1x
func BenchmarkImportWhileWebhooks(b *testing.B) {
	rows, rate := 1_000_000, 250.0
	if v, err := strconv.Atoi(os.Getenv("BENCH_IMPORT_ROWS")); err == nil && v > 0 {
		rows = v
	}
	if v, err := strconv.ParseFloat(os.Getenv("BENCH_EVENTS_PER_SEC"), 64); err == nil && v > 0 {
		rate = v
	}
	for b.Loop() {
		res := runLiveImport(b, liveImportRun{rows: rows, orders: 20000, clients: 16, rate: rate, timeout: 10 * time.Minute,
			after: 15 * time.Second})
		b.ReportMetric(float64(res.importRows)/res.importTime.Seconds(), "import_rows/s")
		b.ReportMetric(float64(res.events)/res.eventsTime.Seconds(), "events/s")
		b.ReportMetric(float64(res.failed), "failed")
		b.ReportMetric(float64(res.slowest.Microseconds())/1000, "slowest_ms")
		b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99_ms")
		b.Logf("import: %d rows in %v (%.0f rows/s, %d chunks, %.0f rows/chunk); webhooks: %d events in %v (%.0f/s), "+
			"%d failed, p99 %v, slowest %v; the same stream for 15 s after the import (this machine's baseline): %d events, p99 %v, slowest %v",
			res.importRows, res.importTime.Round(time.Millisecond), float64(res.importRows)/res.importTime.Seconds(), res.chunks,
			float64(res.importRows)/float64(max(res.chunks, 1)), res.events, res.eventsTime.Round(time.Millisecond),
			float64(res.events)/res.eventsTime.Seconds(), res.failed, res.p99, res.slowest, res.baseEvents, res.baseP99, res.baseSlowest)
		if res.failed != 0 {
			b.Errorf("%d deliveries failed: %v", res.failed, res.failureExamples)
		}
		if res.slowest >= time.Second {
			b.Errorf("slowest webhook %v, want < 1 s", res.slowest)
		}
	}
}
