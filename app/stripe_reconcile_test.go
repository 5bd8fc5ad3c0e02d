package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// fakeStripeEvents serves GET /v1/events from a fixed list (newest first), paged by
// starting_after two at a time, and remembers each request's query. Like stripe-mock, it
// refuses a request without the expected secret key (401) or with a parameter Stripe's
// List events does not take, or a malformed one (400), in Stripe's error shape.
type fakeStripeEvents struct {
	key     string // the API key expected as "Authorization: Bearer <key>"
	mu      sync.Mutex
	events  []json.RawMessage
	queries []url.Values
}

// stripeListEventsParams are the query parameters of Stripe's GET /v1/events.
var stripeListEventsParams = regexp.MustCompile(`^(created(\[(gt|gte|lt|lte)\])?|delivery_success|ending_before|expand\[\d*\]|limit|starting_after|type|types\[\d*\])$`)

var stripeEventTypePattern = regexp.MustCompile(`^[a-z_]+(\.[a-z_*]+)+$`)

func stripeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": "invalid_request_error", "message": msg}})
}

func (f *fakeStripeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/v1/events" {
		stripeError(w, http.StatusNotFound, "Unrecognized request URL ("+r.Method+": "+r.URL.Path+")")
		return
	}
	if want := "Bearer " + f.key; f.key == "" || r.Header.Get("Authorization") != want {
		stripeError(w, http.StatusUnauthorized, "Invalid API Key provided")
		return
	}
	if r.Header.Get("Stripe-Version") == "" {
		stripeError(w, http.StatusBadRequest, "missing Stripe-Version header")
		return
	}
	q := r.URL.Query()
	for k, vs := range q {
		if !stripeListEventsParams.MatchString(k) {
			stripeError(w, http.StatusBadRequest, "Received unknown parameter: "+k)
			return
		}
		for _, v := range vs {
			if strings.HasPrefix(k, "types") && !stripeEventTypePattern.MatchString(v) {
				stripeError(w, http.StatusBadRequest, "Invalid event type: "+v)
				return
			}
		}
	}
	if l := q.Get("limit"); l != "" {
		if n, err := strconv.Atoi(l); err != nil || n < 1 || n > 100 {
			stripeError(w, http.StatusBadRequest, "Invalid integer: limit must be between 1 and 100")
			return
		}
	}
	if c := q.Get("created[gte]"); c != "" {
		if _, err := strconv.ParseInt(c, 10, 64); err != nil {
			stripeError(w, http.StatusBadRequest, "Invalid integer: created[gte]")
			return
		}
	}
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	start := 0
	if after := q.Get("starting_after"); after != "" {
		for i, ev := range f.events {
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(ev, &head)
			if head.ID == after {
				start = i + 1
			}
		}
	}
	end := min(start+2, len(f.events))
	page := map[string]any{"object": "list", "url": "/v1/events", "data": f.events[start:end], "has_more": end < len(f.events)}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func TestStripeReconcileAppliesMissedEvents(t *testing.T) {
	fake := &fakeStripeEvents{key: "sk_test_technifold"}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = api.URL })
	o := placeStripeOrder(t, env.db)
	succeeded := stripeFixtureEvent(t, "payment_intent.succeeded", "evt_rec_2", map[string]any{"id": "pi_rec",
		"metadata.order_id": o.ID, "currency": "gbp", "amount": o.TotalAmount + 1000, "amount_received": o.TotalAmount + 1000})
	// The PaymentIntent's success reached us; the completion and a refund did not.
	env.postSigned(t, succeeded, http.StatusOK)
	fake.events = []json.RawMessage{
		refundEvent(t, "evt_rec_3", "pi_rec", "ch_rec", o.TotalAmount+1000, 5000),
		succeeded,
		completedEvent(t, o, "evt_rec_1", "pi_rec"),
	}
	since := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	res, err := env.srv.stripe.reconcile(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	if res != (reconcileResult{Fetched: 3, New: 2, Applied: 2}) {
		t.Fatalf("result %+v", res)
	}
	got, _ := env.db.GetOrder(context.Background(), o.ID)
	if got.Status != store.OrderPaid || got.PaymentStatus != store.PaymentPartiallyRefunded || got.AmountRefunded != 5000 || got.TaxAmount != 1000 {
		t.Fatalf("order %+v", got)
	}
	if n := env.count(t, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID); n != 2 {
		t.Fatalf("%d sales rows", n)
	}
	q := fake.queries[0]
	types := q["types[]"]
	if len(types) == 0 {
		for i := 0; ; i++ {
			v := q.Get(fmt.Sprintf("types[%d]", i))
			if v == "" {
				break
			}
			types = append(types, v)
		}
	}
	slices.Sort(types)
	if q.Get("created[gte]") != fmt.Sprint(since.Unix()) || !slices.Equal(types, store.StripeEventTypes()) || q.Get("limit") != "100" {
		t.Fatalf("query %v", q)
	}
	if len(fake.queries) != 2 || fake.queries[1].Get("starting_after") != "evt_rec_2" {
		t.Fatalf("paging: %v", fake.queries)
	}
	// A second run finds nothing new.
	res, err = env.srv.stripe.reconcile(context.Background(), since)
	if err != nil || res != (reconcileResult{Fetched: 3}) {
		t.Fatalf("second run %+v %v", res, err)
	}
	// The next window starts an hour before the newest event applied.
	from, err := env.srv.stripe.reconcileSince(context.Background())
	if err != nil || !from.Equal(time.Unix(1794311842, 0).Add(-time.Hour)) {
		t.Fatalf("since %v %v", from, err)
	}
}

func TestStripeReconcileAgainstStripeMock(t *testing.T) {
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = startStripeMock(t) })
	ctx := context.Background()
	since, err := env.srv.stripe.reconcileSince(ctx)
	if err != nil || time.Since(since) < 23*time.Hour {
		t.Fatalf("first window %v %v", since, err)
	}
	o := placeStripeOrder(t, env.db)
	before := env.businessSnapshot(t)
	// stripe-mock validates the request against Stripe's spec and answers one canned event, a
	// plan.created: it is recorded (with its body, for replay) as ignored and changes nothing.
	res, err := env.srv.stripe.reconcile(ctx, since)
	if err != nil || res != (reconcileResult{Fetched: 1, New: 1}) {
		t.Fatalf("%+v %v", res, err)
	}
	var id, status, note string
	if err := env.db.Read().QueryRow(`SELECT event_id, status, error FROM webhook_deliveries
		WHERE provider = 'stripe' AND event_type = 'plan.created' AND json_extract(body, '$.id') = event_id`).Scan(&id, &status, &note); err != nil {
		t.Fatalf("the listed event was not recorded with its body: %v", err)
	}
	if !strings.HasPrefix(id, "evt_") || status != store.DeliveryIgnored || note != "event type not handled" {
		t.Fatalf("delivery %s %s %q", id, status, note)
	}
	if got, _ := env.db.GetOrder(ctx, o.ID); got.Status != store.OrderPending {
		t.Fatalf("order %+v", got)
	}
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries`); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
	after := env.businessSnapshot(t)
	if strings.Split(after, "|")[0] != strings.Split(before, "|")[0] {
		t.Fatalf("orders changed: %s → %s", before, after)
	}
	// Listed again: seen, not applied twice.
	if res, err := env.srv.stripe.reconcile(ctx, since); err != nil || res != (reconcileResult{Fetched: 1}) {
		t.Fatalf("second run %+v %v", res, err)
	}
	// stripe-mock refuses a key that is not a test-mode secret key, as Stripe does.
	bad := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = env.cfg.StripeAPIBase; c.StripeSecretKey = "pk_test_publishable" })
	if res, err := bad.srv.stripe.reconcile(ctx, since); err == nil || res.Fetched != 0 {
		t.Fatalf("publishable key: %+v %v", res, err)
	}
}

// A key the API refuses stops the reconciliation before anything is recorded.
func TestStripeReconcileWithARefusedKeyRecordsNothing(t *testing.T) {
	fake := &fakeStripeEvents{key: "sk_test_the_right_one"}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = api.URL })
	o := placeStripeOrder(t, env.db)
	fake.events = []json.RawMessage{completedEvent(t, o, "evt_key_1", "pi_key")}
	res, err := env.srv.stripe.reconcile(context.Background(), time.Now().Add(-time.Hour))
	if err == nil || !strings.Contains(err.Error(), "Invalid API Key") || res.Fetched != 0 {
		t.Fatalf("refused key: %+v %v", res, err)
	}
	if strings.Contains(err.Error(), "sk_test_technifold") {
		t.Fatalf("the error carries the key: %v", err)
	}
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries`); n != 0 {
		t.Fatalf("%d deliveries recorded", n)
	}
	if len(fake.queries) != 0 {
		t.Fatal("the fake served a request with the wrong key")
	}
}

func TestStripeReconcileCommand(t *testing.T) {
	fake := &fakeStripeEvents{key: "sk_test_cli"}
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = api.URL })
	o := placeStripeOrder(t, env.db)
	fake.events = []json.RawMessage{completedEvent(t, o, "evt_cli_1", "pi_cli")}
	vars := map[string]string{"DATABASE_PATH": env.cfg.DatabasePath, "STRIPE_SECRET_KEY": "sk_test_cli", "STRIPE_API_BASE": api.URL}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"stripe", "reconcile", "--since", "2026-01-02T15:04:05Z"},
		Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }})
	if code != 0 || !strings.Contains(stdout.String(), "1 fetched, 1 new, 1 applied, 0 failed") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if got, _ := env.db.GetOrder(context.Background(), o.ID); got.Status != store.OrderPaid {
		t.Fatalf("order %+v", got)
	}
	if q := fake.queries[0].Get("created[gte]"); q != "1767366245" {
		t.Fatalf("created[gte]=%s", q)
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"stripe", "reconcile", "--since", "yesterday"},
		Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}); code != 1 {
		t.Fatalf("bad --since: exit %d", code)
	}
	if code := Main(context.Background(), []string{"stripe"}, Env{Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] }}); code != 2 {
		t.Fatalf("no sub-command: exit %d", code)
	}
}

func TestStripeReconcileIsScheduledOnlyWhenConfigured(t *testing.T) {
	for _, key := range []string{"", "sk_test_sched"} {
		cfg := testConfig(t)
		cfg.StripeSecretKey = key
		db := openTestDB(t)
		sched, err := NewScheduler(db, nil, SchedulerOptions{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := registerStripeReconcile(sched, cfg, db, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, j := range sched.cron.Jobs() {
			names = append(names, j.Name())
		}
		if slices.Contains(names, "stripe-reconcile") != (key != "") {
			t.Fatalf("key %q: jobs %v", key, names)
		}
		_ = sched.Shutdown()
	}
}
