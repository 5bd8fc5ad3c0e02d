package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/app/zohobooks/zohofake"
	"github.com/technifold/technifold/store"
)

// Tests of what holds the Zoho sync back: the daily cap, refused credentials, the shared
// client and its token cache. Helpers are in zoho_sync_test.go.

func TestZohoTokenCacheSurvivesRestart(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	for i := range 2 {
		id := fmt.Sprintf("ORD-%06d", 200+i)
		e.seedPaidOrder(t, zohoOrderSeed{order: id, company: "CO1", contact: "K1", lines: []zohoLine{{code: "C1", qty: 1, unit: 100}}})
		if i == 1 { // a restart: a new client on the same database
			e.sync.client = newZohoTestClient(t, e.cfg, e.db, 0, 0)
		}
		e.runToCompletion(t, zohoOrderJob(id))
	}
	if n := e.fake.TokensMinted(); n != 1 {
		t.Fatalf("minted %d tokens across a restart, want 1", n)
	}
	v, _, ok, err := e.db.GetState(context.Background(), zohoTokenState)
	var tok map[string]any
	if err != nil || !ok || json.Unmarshal([]byte(v), &tok) != nil {
		t.Fatalf("cached token: %q %v %v", v, ok, err)
	}
	if tok["token_type"] != "Zoho-oauthtoken" || tok["access_token"] == "" || tok["expiry"] == "" || len(tok) != 3 {
		t.Fatalf("cached token fields: %v", keysOf(tok))
	}
	if strings.Contains(e.logs.String(), tok["access_token"].(string)) {
		t.Fatal("the access token reached the log")
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestZohoDailyLimitPausesEveryJob: one 45 pauses every Zoho job until the window resets,
// without calling Zoho and without spending attempts.
func TestZohoDailyLimitPausesEveryJob(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{fake: zohofake.Options{AllowAppliedRefunds: true}})
	e.fake.InjectFault(zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: 45, RetryAfter: 3 * time.Hour,
		Method: http.MethodPost, Path: "/invoices"})
	reg := &Registry{}
	reg.Register(store.JobZohoSyncOrder, e.sync.SyncOrder)
	reg.Register(store.JobZohoSyncRefund, e.sync.SyncRefund)
	ctx := context.Background()
	for i := range 3 {
		id := fmt.Sprintf("ORD-%06d", 300+i)
		e.seedPaidOrder(t, zohoOrderSeed{order: id, company: fmt.Sprintf("CO%d", i), contact: fmt.Sprintf("K%d", i),
			lines: []zohoLine{{code: "C1", qty: 1, unit: 1000}}})
		enqueueZohoJob(t, e.db, store.NewJob{Type: store.JobZohoSyncOrder, Payload: store.ZohoSyncOrderArgs{OrderID: id}, OrderID: id})
	}
	enqueueZohoJob(t, e.db, store.NewJob{Type: store.JobZohoSyncRefund, Payload: store.ZohoSyncRefundArgs{OrderID: "ORD-000300",
		ChargeID: "ch_1", AmountRefundedTotal: 100, RefundAmount: 100, Currency: "gbp"}})
	w := NewWorker(e.db, reg, WorkerOptions{Concurrency: 1, Logger: quietLogger()})
	if _, _, err := w.RunDue(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	pausedAt := e.clock.Now()
	until, err := ZohoPausedUntil(ctx, e.db)
	if err != nil || !until.Equal(pausedAt.Add(3*time.Hour)) {
		t.Fatalf("paused until %v (%v), want now + Retry-After", until, err)
	}
	reqs := e.fake.Requests()
	if last := reqs[len(reqs)-1]; last.Status != http.StatusTooManyRequests {
		t.Fatalf("a call went to Zoho after the daily cap: %s %s", last.Method, last.Path)
	}
	jobs, _ := e.db.ListJobs(ctx, store.JobFilter{})
	for _, j := range jobs {
		if j.Status != store.JobPending || j.Attempts != 0 || !j.ScheduledFor.Equal(until) || !strings.Contains(j.LastError, "daily") {
			t.Fatalf("job %d %s while paused: %s, %d attempts, due %v, %q", j.ID, j.JobType, j.Status, j.Attempts, j.ScheduledFor, j.LastError)
		}
	}
	// Still paused a minute before the end; after it, everything completes.
	e.clock.AdvanceTo(until.Add(-time.Minute))
	if _, err := e.sync.SyncOrder(ctx, zohoOrderJob("ORD-000301")); err == nil || len(e.fake.Requests()) != len(reqs) {
		t.Fatalf("ran while paused: %v", err)
	}
	e.clock.AdvanceTo(until)
	if _, _, err := w.RunDue(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	jobs, _ = e.db.ListJobs(ctx, store.JobFilter{})
	for _, j := range jobs {
		if j.Status != store.JobCompleted || j.Attempts != 1 {
			t.Errorf("job %d %s after the pause: %s after %d attempts: %s", j.ID, j.JobType, j.Status, j.Attempts, j.LastError)
		}
	}
	e.checkBooks(t, 3, 1, []string{"ORD-000300", "ORD-000301", "ORD-000302"}, 1)
}

func enqueueZohoJob(t testing.TB, db *store.DB, j store.NewJob) int64 {
	t.Helper()
	var id int64
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		id, _, err = tx.Enqueue(context.Background(), j)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func zohoAuthFailureCount(t testing.TB, z *ZohoSync) float64 {
	t.Helper()
	var m dto.Metric
	if err := z.authFailures.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestZohoAuthFailureStopsTheSync: refused credentials raise the alert, count the metric and
// defer every Zoho job without calling Zoho, until an admin clears the alert.
func TestZohoAuthFailureStopsTheSync(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{fake: zohofake.Options{ClientSecret: "the-real-secret"},
		env: map[string]string{"ZOHO_CLIENT_SECRET": "a-revoked-secret"}})
	reg := &Registry{}
	reg.Register(store.JobZohoSyncOrder, e.sync.SyncOrder)
	ctx := context.Background()
	for i := range 2 {
		id := fmt.Sprintf("ORD-%06d", 400+i)
		e.seedPaidOrder(t, zohoOrderSeed{order: id, company: "CO1", contact: "K1", lines: []zohoLine{{code: "C1", qty: 1, unit: 100}}})
		enqueueZohoJob(t, e.db, store.NewJob{Type: store.JobZohoSyncOrder, Payload: store.ZohoSyncOrderArgs{OrderID: id}})
	}
	before := zohoAuthFailureCount(t, e.sync)
	w := NewWorker(e.db, reg, WorkerOptions{Concurrency: 1, Logger: quietLogger()})
	if _, _, err := w.RunDue(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	alert, err := GetZohoAuthAlert(ctx, e.db)
	if err != nil || alert == nil || !strings.Contains(alert.Message, "invalid_client") || !alert.At.Equal(e.clock.Now()) {
		t.Fatalf("alert: %+v, %v", alert, err)
	}
	if got := zohoAuthFailureCount(t, e.sync) - before; got != 1 {
		t.Errorf("technifold_zoho_auth_failures_total rose by %v, want 1 (the second job never called Zoho)", got)
	}
	jobs, _ := e.db.ListJobs(ctx, store.JobFilter{})
	for _, j := range jobs {
		if j.Status != store.JobPending || j.Attempts != 0 || !j.ScheduledFor.Equal(e.clock.Now().Add(zohoAuthRetry)) {
			t.Fatalf("job %d after the auth failure: %s, %d attempts, due %v", j.ID, j.Status, j.Attempts, j.ScheduledFor)
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "a-revoked-secret") || strings.Contains(logs, zohofake.DefaultRefreshToken) {
		t.Fatalf("log: %s", logs)
	}
	if len(e.fake.Requests()) != 0 {
		t.Fatalf("%d Books calls without a token", len(e.fake.Requests()))
	}

	// The admin fixes the credentials and clears the alert: the held jobs run at once.
	e.sync.client = newZohoTestClient(t, zohoTestConfig(t, e.fake, nil), e.db, 0, 0)
	resumed, err := ClearZohoAuthAlert(ctx, e.db)
	if err != nil || resumed != 2 {
		t.Fatalf("cleared: resumed %d, %v", resumed, err)
	}
	if _, _, err := w.RunDue(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	jobs, _ = e.db.ListJobs(ctx, store.JobFilter{})
	for _, j := range jobs {
		if j.Status != store.JobCompleted {
			t.Errorf("job %d after clearing the alert: %s %s", j.ID, j.Status, j.LastError)
		}
	}
	e.checkBooks(t, 1, 1, []string{"ORD-000400", "ORD-000401"}, 0)
}

// TestZohoAuthAlertOfOldCredentials: after a restart with new credentials the old alert no
// longer holds the sync back.
func TestZohoAuthAlertOfOldCredentials(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000500", company: "CO1", contact: "K1", lines: []zohoLine{{code: "C1", qty: 1, unit: 100}}})
	old := NewZohoSync(zohoTestConfig(t, e.fake, map[string]string{"ZOHO_REFRESH_TOKEN": "revoked"}), e.db, quietLogger())
	old.raiseAuthAlert(context.Background(), string(store.JobZohoSyncOrder), errors.New("zohobooks: authentication failed"))
	_, err := old.SyncOrder(context.Background(), zohoOrderJob("ORD-000500"))
	if _, ok := asDeferError(err); !ok {
		t.Fatalf("same credentials: %v, want a deferral", err)
	}
	e.runToCompletion(t, zohoOrderJob("ORD-000500"))
	if a, _ := GetZohoAuthAlert(context.Background(), e.db); a != nil {
		t.Fatalf("alert still there: %+v", a)
	}
}

func TestZohoSharedClientIsBuiltOncePerProcess(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	a, b := NewZohoSync(e.cfg, e.db, quietLogger()), NewZohoSync(e.cfg, e.db, quietLogger())
	ca, err := a.books()
	if err != nil {
		t.Fatal(err)
	}
	if cb, _ := b.books(); ca != cb {
		t.Fatal("two Books clients (two rate limiters) for one configuration")
	}
}

func TestZohoSettleClassifiesErrors(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	now := e.clock.Now()
	api := func(status, code int, retry time.Duration) error {
		return fmt.Errorf("zohobooks: create invoice: %w", &zohobooks.APIError{HTTPStatus: status, Code: code, Message: "m", RetryAfter: retry})
	}
	cases := []struct {
		name  string
		err   error
		until time.Duration // -1: not deferred
	}{
		{"per-minute limit with Retry-After", api(429, 44, 30*time.Second), 30 * time.Second},
		{"concurrency limit", api(429, 1070, 0), zohoRateRetry},
		{"429 of unknown code", api(429, 99, 0), zohoRateRetry},
		{"daily cap", api(429, 45, 0), zohoDailyProbe},
		{"token mints throttled", &zohobooks.TokenError{HTTPStatus: 400, ErrorCode: "Access Denied"}, zohoMintRetry},
		{"server error", api(500, 1, 0), -1},
		{"bad request", api(400, 4, 0), -1},
		{"token endpoint down", &zohobooks.TokenError{HTTPStatus: 502}, -1},
		{"refused credentials", &zohobooks.AuthError{Reason: "invalid_code"}, zohoAuthRetry},
	}
	for _, tc := range cases {
		err := e.sync.settle(context.Background(), string(store.JobZohoSyncOrder), tc.err)
		d, deferred := asDeferError(err)
		switch {
		case tc.until < 0 && (deferred || !errors.Is(err, tc.err)):
			t.Errorf("%s: %v, want the error itself", tc.name, err)
		case tc.until >= 0 && (!deferred || !d.Until.Equal(now.Add(tc.until))):
			t.Errorf("%s: %v, want a deferral until now+%v", tc.name, err, tc.until)
		}
	}
	if until, _ := ZohoPausedUntil(context.Background(), e.db); !until.Equal(now.Add(zohoDailyProbe)) {
		t.Errorf("paused until %v", until)
	}
	if a, _ := GetZohoAuthAlert(context.Background(), e.db); a == nil || a.JobType != string(store.JobZohoSyncOrder) {
		t.Errorf("alert %+v", a)
	}
}
