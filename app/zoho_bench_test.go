package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
)

// zohoRateReport is what one run at the configured rate achieved.
type zohoRateReport struct {
	calls      int     // Books calls Zoho answered
	perMinute  float64 // between the first and the last call
	limited    int     // 429 answers
	maxWindow  int     // most calls in any 60 s window
	ordersDone int
}

// runZohoAtRate syncs up to orders paid orders (ten companies, eight products) with three
// concurrent jobs against a fake enforcing rate calls per minute, the client configured with the
// same rate, until all are synced or d has passed.
func runZohoAtRate(t testing.TB, rate, orders int, d time.Duration) zohoRateReport {
	t.Helper()
	e := newZohoEnv(t, zohoEnvOptions{fake: zohofake.Options{RateLimit: rate, RateWindow: time.Minute},
		rate: rate, clientTimeout: 10 * time.Second})
	ids := make(chan string, orders)
	for i := range orders {
		id := fmt.Sprintf("ORD-%06d", i+1)
		e.seedPaidOrder(t, zohoOrderSeed{order: id, company: fmt.Sprintf("CO%d", i%10), contact: fmt.Sprintf("K%d", i%10),
			lines: []zohoLine{{code: fmt.Sprintf("C%d", i%8), qty: 2, unit: 1999}}})
		ids <- id
	}
	close(ids)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for id := range ids {
				if ctx.Err() != nil {
					return
				}
				if _, err := e.sync.SyncOrder(ctx, zohoOrderJob(id)); err == nil {
					done.Add(1)
				} else if ctx.Err() == nil {
					t.Errorf("sync %s: %v", id, err)
				}
			}
		})
	}
	wg.Wait()

	var times []time.Time
	for _, r := range e.fake.Requests() {
		if r.Status != 0 {
			times = append(times, r.Time)
		}
	}
	rep := zohoRateReport{calls: len(times), limited: e.fake.RateLimited(), ordersDone: int(done.Load())}
	if len(times) > 1 {
		rep.perMinute = float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Minutes()
	}
	for i, j := 0, 0; j < len(times); j++ {
		for times[j].Sub(times[i]) >= time.Minute {
			i++
		}
		rep.maxWindow = max(rep.maxWindow, j-i+1)
	}
	return rep
}

// TestZohoSyncSustainsConfiguredRate: syncing a backlog keeps Zoho busy at ≥ 90% of the
// configured rate with no 429. It runs 8 s, so the fake's 60 s window never fills; the full
// window is what BenchmarkZohoSyncRate with -benchtime=150x exercises.
func TestZohoSyncSustainsConfiguredRate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 8 s")
	}
	const rate = 600
	rep := runZohoAtRate(t, rate, 40, 8*time.Second)
	t.Logf("%d calls, %d orders in 8 s: %.0f calls/min against %d/min configured (%.1f%%), %d 429s",
		rep.calls, rep.ordersDone, rep.perMinute, rate, 100*rep.perMinute/rate, rep.limited)
	// Over 8 s the client's initial burst of 3 lifts the average a little above the rate; the
	// limit it must respect is per 60 s (see the benchmark).
	if rep.limited != 0 || rep.perMinute < 0.9*rate {
		t.Fatalf("%.0f calls/min with %d 429s; want at least %d with none", rep.perMinute, rep.limited, rate*9/10)
	}
}

// BenchmarkZohoSyncRate syncs b.N orders at 600 calls/min against a fake enforcing 600 per
// sliding minute. `go test -run='^$' -bench=ZohoSyncRate -benchtime=150x ./app/` runs about
// 75 s, filling the 60 s window.
func BenchmarkZohoSyncRate(b *testing.B) {
	const rate = 600
	rep := runZohoAtRate(b, rate, b.N, time.Hour)
	b.ReportMetric(rep.perMinute, "calls/min")
	b.ReportMetric(100*rep.perMinute/rate, "%_of_limit")
	b.ReportMetric(float64(rep.limited), "429s")
	b.ReportMetric(float64(rep.maxWindow), "max_calls/60s")
	if rep.limited != 0 || rep.maxWindow > rate {
		b.Fatalf("%d 429s, %d calls in one minute (limit %d)", rep.limited, rep.maxWindow, rate)
	}
}

// BenchmarkZohoWebhook measures webhook ingest: each delivery is one group-committed transaction.
func BenchmarkZohoWebhook(b *testing.B) {
	e := newZohoWebhookEnv(b, zohoTestSecret)
	h := e.srv.Handler()
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"event_type":"email_opened","event_id":"b-%d","email":"bea@acme.example"}`, seq.Add(1))
			r := httptest.NewRequest(http.MethodPost, "/api/zoho/webhook", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Zoho-Secret", zohoTestSecret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("HTTP %d %s", w.Code, w.Body)
			}
		}
	})
	b.StopTimer()
	// Every delivery was recorded and became K1's engagement event: a no-op cannot look fast.
	n := int(seq.Load())
	if got := e.count(b, `SELECT count(*) FROM engagement_events WHERE source = 'zoho' AND event_name = 'email_opened'
		AND source_event_id LIKE 'b-%' AND contact_id = 'K1' AND company_id = 'CO1'`); got != n {
		b.Fatalf("%d engagement events for %d deliveries", got, n)
	}
	if got := e.count(b, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'zoho' AND status = 'processed'`); got != n {
		b.Fatalf("%d processed deliveries for %d sent", got, n)
	}
}
