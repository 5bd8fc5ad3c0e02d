package app

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/technifold/technifold/store"
)

// liveMetrics runs a real server (replicating to a file replica, Stripe and Zoho webhooks on,
// a verified backup, a refused webhook, a dead outbox job) and returns its /metrics text, so
// every series the deploy/ files use has a value.
func liveMetrics(t *testing.T) []byte {
	t.Helper()
	cfg := testConfig(t)
	cfg.ReplicaURL = "file://" + filepath.Join(t.TempDir(), "replica")
	cfg.StripeWebhookSecret = "whsec_live_metrics"
	cfg.ZohoWebhookSecret = "zoho-live-metrics"
	cfg.CronSecret = "cron-live-metrics-" + strings.Repeat("c", 32)
	base, logs, stop := startServe(t, cfg, false)
	defer stop()

	post := func(path, body string, header map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/api/stripe/webhook", `{"id":"evt_1","type":"checkout.session.completed"}`,
		map[string]string{"Stripe-Signature": "t=1,v1=00"}); code != http.StatusBadRequest {
		t.Fatalf("unsigned Stripe webhook: %d; want 400", code)
	}
	if code := post("/api/zoho/webhook", `{}`, map[string]string{"X-Zoho-Secret": "wrong"}); code != http.StatusUnauthorized {
		t.Fatalf("Zoho webhook with a wrong secret: %d; want 401", code)
	}

	// A job no handler knows, with one attempt: it goes dead.
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enqueueOutboxJob(t, db, store.NewJob{Type: "metrics_probe_unknown", MaxAttempts: 1})
	db.Close()
	if code := post("/api/outbox/run", ``, map[string]string{"X-CRON-SECRET": cfg.CronSecret}); code != http.StatusOK {
		t.Fatalf("outbox run: %d", code)
	}
	env := map[string]string{"DATABASE_PATH": cfg.DatabasePath, "REPLICA_URL": cfg.ReplicaURL, "LOG_FORMAT": "text"}
	if code, _, stderr := runCLI(t, env, "backup", "verify", "--grace", "10s"); code != 0 {
		t.Fatalf("backup verify: %s\n%s", stderr, logs.String())
	}
	time.Sleep(50 * time.Millisecond)

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	return body
}

// exportedNames lists every sample name in a Prometheus text exposition (histograms give
// their _bucket, _sum and _count names).
func exportedNames(exposition []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// /metrics passes Prometheus' own lint rules (promtool check metrics), Litestream's series
// included.
func TestMetricsPassPrometheusLint(t *testing.T) {
	body := liveMetrics(t)
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	names := exportedNames(body)
	var litestream []string
	for n := range names {
		if strings.HasPrefix(n, "litestream_") {
			litestream = append(litestream, n)
		}
	}
	sort.Strings(litestream)
	// The embedded Litestream's series are there, under compliant names.
	for _, want := range []string{"litestream_sync_total", "litestream_wal_bytes_total", "litestream_db_size"} {
		if !names[want] {
			t.Errorf("/metrics lacks %s; Litestream series: %v", want, litestream)
		}
	}
}

// Every Litestream name that fails the lint (the library's counters without _total, its gauge
// named _total) comes out compliant, including ones a live server has not created yet.
func TestLitestreamNamesRenamedForLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	for old := range litestreamRenames {
		if strings.HasSuffix(old, "_files_total") {
			g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: old, Help: "h"}, []string{"db"})
			g.WithLabelValues("x").Set(1)
			reg.MustRegister(g)
			continue
		}
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: old, Help: "h"}, []string{"db"})
		c.WithLabelValues("x").Inc()
		reg.MustRegister(c)
	}
	future := prometheus.NewCounter(prometheus.CounterOpts{Name: "litestream_future_error_count", Help: "h"})
	future.Inc()
	reg.MustRegister(future)
	lint := func(g prometheus.Gatherer) ([]promlint.Problem, error) {
		mfs, err := g.Gather()
		if err != nil {
			return nil, err
		}
		return promlint.NewWithMetricFamilies(mfs).Lint()
	}
	if problems, err := lint(reg); err != nil || len(problems) == 0 {
		t.Fatalf("the original names should fail the lint: %v %v", problems, err)
	}
	problems, err := lint(litestreamMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	mfs, _ := litestreamMetrics(reg).Gather()
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, want := range []string{"litestream_wal_bytes_total", "litestream_l0_retention_files", "litestream_future_error_total"} {
		if !got[want] {
			t.Errorf("no %s after renaming: %v", want, got)
		}
	}
}
