package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/technifold/technifold/store"
)

func TestOutboxRunHandler(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	reg := &Registry{}
	reg.Register("ok", func(context.Context, store.Job) (any, error) { return nil, nil })
	reg.Register("bad", func(context.Context, store.Job) (any, error) { return nil, errors.New("nope") })
	w := NewWorker(db, reg, WorkerOptions{Logger: quietLogger()})
	on := OutboxRunHandler(w, "s3cret", quietLogger())
	off := OutboxRunHandler(w, "", quietLogger())

	tests := []struct {
		name    string
		h       http.Handler
		method  string
		headers map[string]string
		status  int
		body    string
	}{
		{"GET", on, http.MethodGet, map[string]string{"X-CRON-SECRET": "s3cret"}, 405, `{"error":"method not allowed"}`},
		{"no secret configured", off, http.MethodPost, map[string]string{"X-CRON-SECRET": ""}, 503,
			`{"error":"outbox run is disabled: CRON_SECRET is not set"}`},
		{"missing secret", on, http.MethodPost, nil, 401, `{"error":"unauthorized"}`},
		{"wrong header secret", on, http.MethodPost, map[string]string{"X-CRON-SECRET": "s3cre"}, 401, `{"error":"unauthorized"}`},
		{"wrong bearer", on, http.MethodPost, map[string]string{"Authorization": "Bearer s3cretX"}, 401, `{"error":"unauthorized"}`},
		{"basic auth", on, http.MethodPost, map[string]string{"Authorization": "Basic s3cret"}, 401, `{"error":"unauthorized"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, "/api/outbox/run", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			tt.h.ServeHTTP(rec, req)
			if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
				t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body.String(), tt.status, tt.body)
			}
		})
	}

	for i, header := range []map[string]string{{"X-CRON-SECRET": "s3cret"}, {"Authorization": "Bearer s3cret"}} {
		for _, typ := range []string{"ok", "ok", "bad"} {
			enqueueOutboxJob(t, db, store.NewJob{Type: store.JobKind(typ)})
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/outbox/run", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		on.ServeHTTP(rec, req)
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
			t.Fatalf("run %d: %d %s", i, rec.Code, rec.Body.String())
		}
		if got["success"] != true || got["processed"] != 3.0 || got["failed"] != 1.0 || got["duration_ms"] == nil || len(got) != 4 {
			t.Fatalf("run %d: %v", i, got)
		}
	}
}

func TestRunOutboxCommand(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxTestDB(t, clock.Now)
	reg := &Registry{}
	reg.Register("ok", func(context.Context, store.Job) (any, error) { return nil, nil })
	failing := enqueueOutboxJob(t, db, store.NewJob{Type: "missing"})
	pending := enqueueOutboxJob(t, db, store.NewJob{Type: "ok", RunAt: clock.Now().Add(time.Hour)})
	if _, err := db.ClaimJobs(ctx, "w", time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FailJob(ctx, failing, 1, "w", "zoho books is not configured: set ZOHO_REFRESH_TOKEN and also a very long tail of text"); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := RunOutboxCommand(ctx, db, reg, args, &out, &errOut)
		return out.String(), err
	}

	out, err := run("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST_ERROR") {
		t.Fatalf("list:\n%s", out)
	}
	if f := strings.Fields(lines[2]); f[0] != strconv.FormatInt(failing, 10) || f[1] != "missing" || f[2] != "failed" || f[3] != "1/5" ||
		!strings.Contains(lines[2], "zoho books is not configured") || !strings.HasSuffix(lines[2], "…") {
		t.Fatalf("failed job's row: %q", lines[2])
	}
	if out, _ := run("list", "--status", "pending", "--type", "ok"); !strings.Contains(out, " pending ") || strings.Contains(out, "failed") {
		t.Fatalf("filtered list:\n%s", out)
	}
	if out, _ := run("list", "--status", "cancelled"); strings.TrimSpace(out) != "no jobs" {
		t.Fatalf("empty list: %q", out)
	}

	if out, err := run("retry", strconv.FormatInt(failing, 10)); err != nil || out != fmt.Sprintf("job %d queued for retry\n", failing) {
		t.Fatalf("retry: %q %v", out, err)
	}
	if out, err := run("cancel", strconv.FormatInt(pending, 10)); err != nil || out != fmt.Sprintf("job %d cancelled\n", pending) {
		t.Fatalf("cancel: %q %v", out, err)
	}
	if out, err := run("run", "--max", "10s"); err != nil || !strings.HasPrefix(out, "processed 1 jobs, 1 failed") {
		t.Fatalf("run: %q %v", out, err)
	}

	for _, args := range [][]string{{"list", "-h"}, {"retry", "--help"}, {"cancel", "-h"}, {"run", "-h"}, {"--help"}} {
		if out, err := run(args...); err != nil || !strings.Contains(out, "usage: technifold outbox") {
			t.Errorf("%v: %q %v", args, out, err)
		}
	}
	errorCases := []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"list", "--limit", "x"}, "-limit"},
		{[]string{"list", "--limit", "0"}, "--limit 0"},
		{[]string{"list", "--status", "stuck"}, `unknown job status "stuck"`},
		{[]string{"list", "extra"}, `unexpected argument "extra"`},
		{[]string{"retry"}, "missing job ID"},
		{[]string{"retry", "abc"}, `invalid job ID "abc"`},
		{[]string{"retry", "1", "2"}, `unexpected argument "2"`},
		{[]string{"retry", "999"}, "job 999 not found"},
		{[]string{"retry", strconv.FormatInt(pending, 10)}, "is cancelled"},
		{[]string{"cancel", strconv.FormatInt(pending, 10)}, "already cancelled"},
		{[]string{"run", "--max", "soon"}, "-max"},
		{[]string{"run", "--bogus"}, "-bogus"},
	}
	for _, tt := range errorCases {
		if _, err := run(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %q", tt.args, err, tt.want)
		}
	}
}

func TestOutboxCollector(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	enqueueOutboxJob(t, db, store.NewJob{Type: "a"})
	enqueueOutboxJob(t, db, store.NewJob{Type: "b"})
	enqueueOutboxJob(t, db, store.NewJob{Type: "b"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewOutboxCollector(db))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"technifold_outbox_jobs status=pending type=a": 1,
		"technifold_outbox_jobs status=pending type=b": 2,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["technifold_outbox_due_lag_seconds"]; !ok {
		t.Errorf("no due lag gauge: %v", got)
	}
}
