package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/jonboulle/clockwork"

	"github.com/technifold/technifold/store"
)

// fakeS3Replica starts an in-process S3 server (gofakes3) on a loopback port and returns a
// REPLICA_URL for a fresh bucket on it. The AWS environment is pinned so no real credentials,
// profile or metadata service is used.
func fakeS3Replica(t testing.TB) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("technifold"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": ""} {
		t.Setenv(k, v)
	}
	os.Unsetenv("AWS_CA_BUNDLE")
	return fmt.Sprintf("s3://technifold/db?endpoint=%s&region=us-east-1&force-path-style=true", srv.URL)
}

type scheduledRun struct {
	name string
	err  error
}

// awaitRun waits for the named job's next finished run, skipping others.
func awaitRun(t *testing.T, runs <-chan scheduledRun, name string) error {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case r := <-runs:
			if r.name == name {
				return r.err
			}
		case <-deadline:
			t.Fatalf("scheduled job %s did not run", name)
		}
	}
}

// The 15-minute Stripe reconciliation (against stripe-mock) and the daily backup verification
// (against an S3 replica) run from the schedule serve registers, driven by a fake clock: nothing
// before their interval, their real bodies at it.
func TestScheduledReconcileAndBackupVerifyRunOnTheClock(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.StripeSecretKey = "sk_test_scheduled"
	cfg.StripeAPIBase = startStripeMock(t)
	replica := fakeS3Replica(t)
	db := openTestDBAt(t, cfg.DatabasePath)
	repl, err := store.NewReplicator(cfg.DatabasePath, store.ReplicationConfig{ReplicaURL: replica}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := repl.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repl.Close(context.Background()) })
	addCompanies(t, db, 0, 7)

	clock := clockwork.NewFakeClockAt(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	runs := make(chan scheduledRun, 64)
	sched, err := NewScheduler(db, nil, SchedulerOptions{Logger: quietLogger(), Clock: clock,
		SweepInterval: 1000 * time.Hour, HousekeepingInterval: 1000 * time.Hour,
		afterRun: func(name string, err error) { runs <- scheduledRun{name, err} }})
	if err != nil {
		t.Fatal(err)
	}
	if err := registerStripeReconcile(sched, cfg, db, quietLogger()); err != nil {
		t.Fatal(err)
	}
	if err := registerBackupVerify(sched, db, repl, quietLogger()); err != nil {
		t.Fatal(err)
	}
	sched.Start()
	t.Cleanup(func() { _ = sched.Shutdown() })
	waitTimers := func() {
		t.Helper()
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := clock.BlockUntilContext(bctx, 4); err != nil { // sweep, housekeeping, reconcile, verify
			t.Fatalf("the scheduler did not arm its four jobs: %v", err)
		}
	}
	delivered := func() int {
		return countWhere(t, db, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'stripe'`)
	}

	waitTimers()
	clock.Advance(stripeReconcileInterval - time.Second)
	select {
	case r := <-runs:
		t.Fatalf("%s ran before its interval", r.name)
	default:
	}
	if delivered() != 0 {
		t.Fatal("reconciliation ran early")
	}
	clock.Advance(time.Second)
	if err := awaitRun(t, runs, "stripe-reconcile"); err != nil {
		t.Fatalf("reconciliation run: %v", err)
	}
	// stripe-mock lists one canned event (plan.created): recorded once, with its body, as
	// ignored; no order, sale or job came of it.
	if n := countWhere(t, db, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'stripe' AND status = 'ignored'
		AND event_type = 'plan.created' AND body IS NOT NULL AND error = 'event type not handled'`); n != 1 || delivered() != 1 {
		t.Fatalf("after the first reconciliation: %d deliveries, %d ignored plan.created", delivered(), n)
	}
	if n := countWhere(t, db, `SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM sales) + (SELECT count(*) FROM outbox)`); n != 0 {
		t.Fatalf("an ignored event wrote %d business rows", n)
	}
	if _, _, ok, _ := db.GetState(ctx, backupVerifyState); ok {
		t.Fatal("backup verification ran with the reconciliation")
	}

	// The next run, 15 minutes on, finds the same event and does not apply it again.
	waitTimers()
	clock.Advance(stripeReconcileInterval)
	if err := awaitRun(t, runs, "stripe-reconcile"); err != nil {
		t.Fatalf("second reconciliation: %v", err)
	}
	if n := countWhere(t, db, `SELECT attempts FROM webhook_deliveries WHERE event_type = 'plan.created'`); n != 1 || delivered() != 1 {
		t.Fatalf("the second run re-delivered: attempts %d, %d deliveries", n, delivered())
	}

	// A day after start the backup verification restores the S3 replica and records the result.
	addCompanies(t, db, 7, 3)
	waitTimers()
	clock.Advance(BackupVerifyInterval - 2*stripeReconcileInterval)
	if err := awaitRun(t, runs, "backup-verify"); err != nil {
		t.Fatalf("backup verification run: %v", err)
	}
	raw, _, ok, err := db.GetState(ctx, backupVerifyState)
	if err != nil || !ok {
		t.Fatalf("no backup_verify state: %v", err)
	}
	var rep store.VerifyReport
	if err := json.Unmarshal([]byte(raw), &rep); err != nil {
		t.Fatal(err)
	}
	companies := int64(-1)
	for _, tc := range rep.Tables {
		if tc.Table == "companies" {
			companies = tc.Replica
		}
	}
	if !rep.OK || rep.Integrity != "ok" || companies != 10 {
		t.Fatalf("verification report %+v (replica companies %d, want 10)", rep, companies)
	}
}

func countWhere(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
