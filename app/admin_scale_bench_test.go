package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkAdminAtScale requests every admin page and the admin JSON API against the production-
// scale data set of benchDB (1,000,000 events, a third of them on five busy companies, 50,000
// contacts, 10,000 companies, about 300,000 sales lines) and fails when a page's p95 exceeds
// 100 ms or the API's 50 ms. Run by hand, not in CI (the data set takes minutes to build the
// first time; it is cached in os.TempDir()):
//
//	go test ./app -run '^$' -bench BenchmarkAdminAtScale -benchtime=1x
func BenchmarkAdminAtScale(b *testing.B) {
	h, cookie := benchServer(b)
	busy := fmt.Sprintf("COMPANY%05d", benchBusy[0])
	const page, api = 100 * time.Millisecond, 50 * time.Millisecond
	targets := []struct {
		path  string
		limit time.Duration
	}{
		{"/admin", page},
		{"/admin/timeline", page},
		{"/admin/timeline?company=" + busy, page},
		{"/admin/timeline?event=deal_won", page},
		{"/admin/timeline?source=stripe&from=2025-01-01&to=2025-03-31", page},
		{"/admin/suggestions", page},
		{"/admin/suggestions?company=" + busy, page},
		{"/admin/companies", page},
		{"/admin/companies?page=100", page},
		{"/admin/companies?q=falcon", page},
		{"/admin/companies?sort=last_activity", page},
		{"/admin/companies?sort=last_purchase", page},
		{"/admin/companies?sort=revenue_12m", page},
		{"/admin/companies?sort=score", page},
		{"/admin/companies?sort=score&dir=asc&page=3", page},
		{"/admin/companies/" + busy, page},
		{"/admin/companies/" + busy + "?page=2", page},
		{"/admin/companies/COMPANY00123", page},
		{"/admin/orders", page},
		{"/admin/orders?sort=total", page},
		{"/admin/outbox", page},
		{"/admin/outbox?sort=attempts", page},
		{"/admin/webhooks", page},
		{"/admin/audit", page},
		{"/admin/audit?sort=actor", page},
		{"/admin/users", page},
		{"/api/admin/engagement-feed", api},
		{"/api/admin/engagement-feed?company_id=" + busy, api},
		{"/api/admin/suggestions", api},
		{"/api/admin/suggestions?company_id=" + busy + "&limit=10", api},
	}
	get := func(path string) (int, string, time.Duration) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), time.Since(start)
	}
	for _, t := range targets { // warm-up: first computations and cold caches are not the steady state
		if code, body, _ := get(t.path); code != http.StatusOK {
			b.Fatalf("GET %s: %d %.200s", t.path, code, body)
		}
	}
	const reps = 20
	took := make([][]time.Duration, len(targets))
	b.ResetTimer()
	for range b.N {
		for range reps {
			for i, t := range targets { // interleaved, so a slow moment of the machine hits every page alike
				code, _, d := get(t.path)
				if code != http.StatusOK {
					b.Fatalf("GET %s: %d", t.path, code)
				}
				took[i] = append(took[i], d)
			}
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) string { return fmt.Sprintf("%7.1f", float64(d.Microseconds())/1000) }
	var missed []string
	fmt.Fprintf(os.Stdout, "%-62s %7s %7s %7s\n", "page", "p50 ms", "p95 ms", "target")
	for i, t := range targets {
		d := slices.Clone(took[i])
		slices.Sort(d)
		p50, p95 := d[len(d)/2], d[min(len(d)-1, len(d)*95/100)]
		fmt.Fprintf(os.Stdout, "%-62s %s %s %s\n", t.path, ms(p50), ms(p95), ms(t.limit))
		if p95 > t.limit {
			missed = append(missed, fmt.Sprintf("%s p95 %s ms > %s ms", t.path, strings.TrimSpace(ms(p95)), strings.TrimSpace(ms(t.limit))))
		}
	}
	if len(missed) > 0 {
		b.Fatalf("targets missed:\n%s", strings.Join(missed, "\n"))
	}
}
