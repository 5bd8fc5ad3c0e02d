package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/store"
)

// Every metric lives on the server's own registry, under the names it always had, and nothing
// is registered on the global one.
func TestMetricsLiveOnTheServersRegistry(t *testing.T) {
	cfg := testConfig(t)
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := NewServer(cfg, db, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	srv.Jobs().Register("metrics_probe", func(context.Context, store.Job) (any, error) { return nil, nil })
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		_, _, err := tx.Enqueue(context.Background(), store.NewJob{Type: "metrics_probe"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.Worker().RunDue(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total",
		`technifold_outbox_jobs_processed_total{outcome="completed",type="metrics_probe"} 1`,
		`technifold_outbox_job_attempts_total{type="metrics_probe"} 1`,
		"technifold_outbox_handler_duration_seconds_bucket", "technifold_outbox_enqueue_to_start_seconds_bucket",
		"technifold_zoho_auth_failures_total 0", "technifold_db_write_commits_total", "technifold_outbox_jobs{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "technifold_") {
			t.Errorf("%s is on the global registry", f.GetName())
		}
	}
}
