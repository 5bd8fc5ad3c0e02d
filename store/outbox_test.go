package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnqueueClaimComplete(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	created := clock.Now()
	id := mustEnqueue(t, db, NewJob{Type: JobZohoSyncOrder, Payload: ZohoSyncOrderArgs{OrderID: "ORD-000001"},
		CompanyID: "COMPANY1", OrderID: "ORD-000001"})

	select {
	case <-db.JobSignal():
	default:
		t.Fatal("enqueue did not signal the worker")
	}
	j := mustGetJob(t, db, id)
	if j.Status != JobPending || j.Attempts != 0 || j.MaxAttempts != DefaultMaxAttempts || !j.ScheduledFor.Equal(created) ||
		j.CompanyID != "COMPANY1" || j.OrderID != "ORD-000001" || string(j.Payload) != `{"order_id":"ORD-000001"}` {
		t.Fatalf("enqueued job: %+v", j)
	}

	claimAt := clock.Advance(time.Second)
	jobs := claimN(t, db, "w1", 10, 1)
	j = jobs[0]
	if j.ID != id || j.Status != JobProcessing || j.Attempts != 1 || j.LockedBy != "w1" ||
		!j.LockedUntil.Equal(claimAt.Add(2*time.Minute)) || !j.LastAttemptedAt.Equal(claimAt) {
		t.Fatalf("claimed job: %+v", j)
	}
	claimN(t, db, "w2", 10, 0) // held by w1

	doneAt := clock.Advance(time.Second)
	if err := db.CompleteJob(ctx, id, 1, "w1", map[string]string{"invoice": "INV-1"}); err != nil {
		t.Fatal(err)
	}
	j = mustGetJob(t, db, id)
	if j.Status != JobCompleted || string(j.Result) != `{"invoice":"INV-1"}` || !j.CompletedAt.Equal(doneAt) ||
		j.LockedBy != "" || !j.LockedUntil.IsZero() {
		t.Fatalf("completed job: %+v", j)
	}
	wantCode(t, db.CompleteJob(ctx, id, 1, "w1", nil), ECONFLICT) // only once
}

// TestFailRetrySchedule walks one job through every failed attempt: each retry becomes
// claimable exactly at now + 5 min × 2^(attempt−1), and the fifth failure is final.
func TestFailRetrySchedule(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	id := mustEnqueue(t, db, NewJob{Type: "send_email"})

	steps := []struct {
		attempt int
		status  JobStatus
		delay   time.Duration
	}{
		{1, JobFailed, 5 * time.Minute},
		{2, JobFailed, 10 * time.Minute},
		{3, JobFailed, 20 * time.Minute},
		{4, JobFailed, 40 * time.Minute},
		{5, JobDead, 0},
	}
	for _, s := range steps {
		t.Run(fmt.Sprintf("attempt %d", s.attempt), func(t *testing.T) {
			jobs := claimN(t, db, "w1", 1, 1)
			if jobs[0].Attempts != s.attempt {
				t.Fatalf("attempts = %d, want %d", jobs[0].Attempts, s.attempt)
			}
			failedAt := clock.Advance(3 * time.Second)
			status, err := db.FailJob(ctx, id, s.attempt, "w1", fmt.Sprintf("zoho said no (%d)", s.attempt))
			if err != nil {
				t.Fatal(err)
			}
			if status != s.status {
				t.Fatalf("status = %s, want %s", status, s.status)
			}
			j := mustGetJob(t, db, id)
			if j.Status != s.status || j.LastError != fmt.Sprintf("zoho said no (%d)", s.attempt) || len(j.Errors) != s.attempt {
				t.Fatalf("failed job: %+v", j)
			}
			if s.status == JobDead {
				clock.Advance(1000 * time.Hour)
				claimN(t, db, "w1", 1, 0)
				return
			}
			next := failedAt.Add(s.delay)
			if !j.ScheduledFor.Equal(next) {
				t.Fatalf("scheduled_for = %s, want %s", j.ScheduledFor, next)
			}
			if at, ok, _ := db.NextDueAt(ctx); !ok || !at.Equal(next) {
				t.Fatalf("NextDueAt = %s %v, want %s", at, ok, next)
			}
			clock.Set(next.Add(-time.Millisecond))
			claimN(t, db, "w1", 1, 0)
			clock.Set(next)
		})
	}
	j := mustGetJob(t, db, id)
	for i, e := range j.Errors {
		if e.Attempt != i+1 || e.Error != fmt.Sprintf("zoho said no (%d)", i+1) || e.At.IsZero() {
			t.Fatalf("errors[%d] = %+v", i, e)
		}
	}
}

func TestCancelJob(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	setStatus := func(id int64, status string) {
		t.Helper()
		if err := db.Update(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ? WHERE id = ?`, status, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		status  JobStatus
		code    string
		message string
	}{
		{JobPending, "", ""},
		{JobFailed, "", ""},
		{JobDead, "", ""},
		{JobProcessing, ECONFLICT, "is running"},
		{JobCompleted, ECONFLICT, "already completed"},
		{JobCancelled, ECONFLICT, "already cancelled"},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			id := mustEnqueue(t, db, NewJob{Type: "t"})
			setStatus(id, string(tt.status))
			err := db.CancelJob(ctx, id)
			wantCode(t, err, tt.code)
			if err != nil && !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q does not say %q", err, tt.message)
			}
			want := JobCancelled
			if tt.code != "" {
				want = tt.status
			}
			if j := mustGetJob(t, db, id); j.Status != want {
				t.Fatalf("status = %s, want %s", j.Status, want)
			}
		})
	}
	wantCode(t, db.CancelJob(ctx, 999), ENOTFOUND)
	claimN(t, db, "w1", 10, 0) // cancelled jobs are never claimed
}

func TestRetryJob(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)

	failed := mustEnqueue(t, db, NewJob{Type: "t", MaxAttempts: 3})
	claimN(t, db, "w1", 1, 1)
	if _, err := db.FailJob(ctx, failed, 1, "w1", "boom"); err != nil {
		t.Fatal(err)
	}
	dead := mustEnqueue(t, db, NewJob{Type: "t", MaxAttempts: 1})
	claimN(t, db, "w1", 1, 1)
	if status, err := db.FailJob(ctx, dead, 1, "w1", "bang"); err != nil || status != JobDead {
		t.Fatalf("FailJob = %s, %v", status, err)
	}

	retryAt := clock.Advance(time.Minute) // before the failed job's own retry time
	for _, id := range []int64{failed, dead} {
		if err := db.RetryJob(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	f, d := mustGetJob(t, db, failed), mustGetJob(t, db, dead)
	if f.Status != JobPending || f.Attempts != 1 || !f.ScheduledFor.Equal(retryAt) || len(f.Errors) != 1 {
		t.Fatalf("retried failed job: %+v", f)
	}
	if d.Status != JobPending || d.Attempts != 0 || !d.ScheduledFor.Equal(retryAt) || len(d.Errors) != 1 || d.Errors[0].Error != "bang" {
		t.Fatalf("retried dead job: %+v", d)
	}
	jobs := claimN(t, db, "w1", 10, 2)
	got := map[int64]int{jobs[0].ID: jobs[0].Attempts, jobs[1].ID: jobs[1].Attempts}
	if want := map[int64]int{failed: 2, dead: 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("attempts after retry = %v, want %v", got, want)
	}

	err := db.RetryJob(ctx, failed)
	wantCode(t, err, ECONFLICT)
	if !strings.Contains(err.Error(), "processing") {
		t.Fatalf("error %q does not name the status", err)
	}
	wantCode(t, db.RetryJob(ctx, 12345), ENOTFOUND)
}

func TestEnqueueDedupe(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	var ids []int64
	var createds []bool
	for range 2 {
		err := db.Update(ctx, func(tx *Tx) error {
			id, created, err := tx.Enqueue(ctx, NewJob{Type: "sync_test", DedupeKey: "sync_test:ORD-1"})
			ids, createds = append(ids, id), append(createds, created)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] != ids[1] || !createds[0] || createds[1] {
		t.Fatalf("ids %v created %v: the second enqueue must be a no-op returning the first id", ids, createds)
	}
	if counts, _ := db.JobCounts(ctx); counts[JobPending]["sync_test"] != 1 {
		t.Fatalf("counts = %v", counts)
	}
}

func TestEnqueueRollsBackWithItsTransaction(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	business := errors.New("order rejected")
	err := db.Update(ctx, func(tx *Tx) error {
		if _, _, err := tx.Enqueue(ctx, NewJob{Type: "sync_test", DedupeKey: "k"}); err != nil {
			return err
		}
		return business
	})
	if !errors.Is(err, business) {
		t.Fatalf("Update = %v", err)
	}
	if jobs, _ := db.ListJobs(ctx, JobFilter{}); len(jobs) != 0 {
		t.Fatalf("rolled-back enqueue left %d jobs", len(jobs))
	}
	select {
	case <-db.JobSignal():
		t.Fatal("a rolled-back enqueue signalled the worker")
	default:
	}
	// The dedupe key is free again.
	if id := mustEnqueue(t, db, NewJob{Type: "sync_test", DedupeKey: "k"}); id == 0 {
		t.Fatal("no id")
	}
}

func TestEnqueueRejectsBadJobs(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	for name, j := range map[string]NewJob{
		"no type":          {},
		"bad raw payload":  {Type: "t", Payload: json.RawMessage(`{`)},
		"unencodable":      {Type: "t", Payload: make(chan int)},
		"negative retries": {Type: "t", MaxAttempts: -1},
	} {
		err := db.Update(ctx, func(tx *Tx) error { _, _, err := tx.Enqueue(ctx, j); return err })
		if ErrorCode(err) != EINVALID {
			t.Errorf("%s: error %v, want EINVALID", name, err)
		}
	}
}

func TestDeferJobGivesTheAttemptBack(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	id := mustEnqueue(t, db, NewJob{Type: "sync_test"})
	claimN(t, db, "w1", 1, 1)
	until := clock.Now().Add(6 * time.Hour)
	wantCode(t, db.DeferJob(ctx, id, 1, "other", until, "x"), ECONFLICT)
	if err := db.DeferJob(ctx, id, 1, "w1", until, "zoho daily API limit reached"); err != nil {
		t.Fatal(err)
	}
	j := mustGetJob(t, db, id)
	if j.Status != JobPending || j.Attempts != 0 || !j.ScheduledFor.Equal(until) ||
		j.LastError != "zoho daily API limit reached" || len(j.Errors) != 0 || j.LockedBy != "" {
		t.Fatalf("deferred job: %+v", j)
	}
	clock.Set(until.Add(-time.Millisecond))
	claimN(t, db, "w1", 1, 0)
	clock.Set(until)
	if jobs := claimN(t, db, "w1", 1, 1); jobs[0].Attempts != 1 {
		t.Fatalf("attempts after defer = %d, want 1", jobs[0].Attempts)
	}
}

// TestLeaseLostAfterCrash: worker A claims and dies; once the lease has passed worker B
// reclaims the job, and A's late answer can no longer change it.
func TestLeaseLostAfterCrash(t *testing.T) {
	for _, second := range []string{"worker-b", "worker-a"} { // a restarted A may reuse its id
		t.Run(second, func(t *testing.T) {
			ctx := context.Background()
			clock := newOutboxClock()
			db := openOutboxDB(t, clock)
			id := mustEnqueue(t, db, NewJob{Type: "sync_test"})
			claimN(t, db, "worker-a", 1, 1)

			clock.Advance(2 * time.Minute)
			claimN(t, db, second, 1, 0) // the lease has not passed yet (locked_until == now)
			clock.Advance(time.Millisecond)
			jobs := claimN(t, db, second, 1, 1)
			if jobs[0].Attempts != 2 || jobs[0].LockedBy != second {
				t.Fatalf("reclaimed job: %+v", jobs[0])
			}
			if len(jobs[0].Errors) != 1 || jobs[0].Errors[0].Error != "lease expired" || jobs[0].Errors[0].Attempt != 1 {
				t.Fatalf("the dead worker's attempt is not in the history: %+v", jobs[0].Errors)
			}
			before := mustGetJob(t, db, id)

			wantCode(t, db.CompleteJob(ctx, id, 1, "worker-a", "late"), ECONFLICT)
			_, err := db.FailJob(ctx, id, 1, "worker-a", "late failure")
			wantCode(t, err, ECONFLICT)
			wantCode(t, db.DeferJob(ctx, id, 1, "worker-a", time.Time{}, ""), ECONFLICT)
			wantCode(t, db.RenewLease(ctx, id, 1, "worker-a", time.Hour), ECONFLICT)
			if after := mustGetJob(t, db, id); !reflect.DeepEqual(before, after) {
				t.Fatalf("a stale worker changed the job:\nbefore %+v\nafter  %+v", before, after)
			}

			if err := db.CompleteJob(ctx, id, 2, second, nil); err != nil {
				t.Fatal(err)
			}
			if j := mustGetJob(t, db, id); j.Status != JobCompleted || j.Attempts != 2 {
				t.Fatalf("job: %+v", j)
			}
		})
	}
}

func TestExpiredLeaseOnLastAttemptIsDead(t *testing.T) {
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	id := mustEnqueue(t, db, NewJob{Type: "t", MaxAttempts: 1})
	claimN(t, db, "w1", 1, 1)
	clock.Advance(time.Hour)
	claimN(t, db, "w2", 1, 0)
	j := mustGetJob(t, db, id)
	if j.Status != JobDead || j.Attempts != 1 || j.LastError != "lease expired" || len(j.Errors) != 1 || j.LockedBy != "" {
		t.Fatalf("job: %+v", j)
	}
}

func TestRenewLease(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	id := mustEnqueue(t, db, NewJob{Type: "t"})
	claimN(t, db, "w1", 1, 1)
	clock.Advance(90 * time.Second)
	if err := db.RenewLease(ctx, id, 1, "w1", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(90 * time.Second) // past the first lease, within the renewed one
	claimN(t, db, "w2", 1, 0)
	lost, err := db.RenewLeases(ctx, "w1", time.Minute, []JobLease{{ID: id, Attempt: 1}, {ID: id, Attempt: 7}})
	if err != nil || !reflect.DeepEqual(lost, []int64{id}) {
		t.Fatalf("RenewLeases = %v, %v; want the wrong attempt lost", lost, err)
	}
}

func TestClaimOrderAndLimit(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	start := clock.Now()
	failedID := mustEnqueue(t, db, NewJob{Type: "t", RunAt: start.Add(-time.Hour)})
	claimN(t, db, "w", 1, 1)
	if _, err := db.FailJob(ctx, failedID, 1, "w", "x"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute) // the failed job is due again
	late := mustEnqueue(t, db, NewJob{Type: "t", RunAt: start.Add(time.Minute)})
	early := mustEnqueue(t, db, NewJob{Type: "t", RunAt: start.Add(-time.Minute)})
	future := mustEnqueue(t, db, NewJob{Type: "t", RunAt: start.Add(time.Hour)})

	jobs := claimN(t, db, "w", 2, 2)
	if jobs[0].ID != early || jobs[1].ID != late {
		t.Fatalf("claimed %d, %d; want pending jobs oldest first (%d, %d)", jobs[0].ID, jobs[1].ID, early, late)
	}
	jobs = claimN(t, db, "w", 10, 1)
	if jobs[0].ID != failedID || jobs[0].Attempts != 2 {
		t.Fatalf("claimed %+v, want the due failed job", jobs[0])
	}
	if at, ok, err := db.NextDueAt(ctx); err != nil || !ok || !at.Equal(clock.Now().Add(2*time.Minute)) {
		t.Fatalf("NextDueAt = %s %v %v, want the running jobs' lease expiry", at, ok, err)
	}
	for _, id := range []int64{early, late, failedID} {
		attempt := 1
		if id == failedID {
			attempt = 2
		}
		if err := db.CompleteJob(ctx, id, attempt, "w", nil); err != nil {
			t.Fatal(err)
		}
	}
	if at, ok, err := db.NextDueAt(ctx); err != nil || !ok || !at.Equal(start.Add(time.Hour)) {
		t.Fatalf("NextDueAt = %s %v %v, want job %d's time", at, ok, err, future)
	}
	if err := db.CancelJob(ctx, future); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.NextDueAt(ctx); err != nil || ok {
		t.Fatalf("NextDueAt with nothing waiting = %v, %v", ok, err)
	}
}

func TestClaimQueryPlanUsesIndexes(t *testing.T) {
	db := openOutboxDB(t, newOutboxClock())
	rows, err := db.Read().Query("EXPLAIN QUERY PLAN "+claimCandidates, FormatTime(time.Now()), 16)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	text := strings.Join(plan, "\n")
	for _, want := range []string{"idx_outbox_worker_query (status=? AND scheduled_for<?)", "idx_outbox_lease (locked_until<?)"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan does not use %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "SCAN outbox") {
		t.Errorf("plan scans the outbox table:\n%s", text)
	}
}

// TestClaimThousands claims 3,000 jobs in batches, each claim walking only its batch.
func TestClaimThousands(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	const n = 3000
	err := db.Update(ctx, func(tx *Tx) error {
		for i := range n {
			if _, _, err := tx.Enqueue(ctx, NewJob{Type: "t", DedupeKey: fmt.Sprint("k", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for len(seen) < n {
		jobs, err := db.ClaimJobs(ctx, "w", time.Minute, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			t.Fatalf("claimed only %d of %d", len(seen), n)
		}
		cs := make([]Completion, len(jobs))
		for i, j := range jobs {
			if seen[j.ID] {
				t.Fatalf("job %d claimed twice", j.ID)
			}
			seen[j.ID] = true
			cs[i] = Completion{ID: j.ID, Attempt: j.Attempts, WorkerID: "w"}
		}
		errs, err := db.CompleteJobs(ctx, cs)
		if err != nil || errors.Join(errs...) != nil {
			t.Fatal(err, errs)
		}
	}
	if counts, _ := db.JobCounts(ctx); counts[JobCompleted]["t"] != n || len(counts) != 1 {
		t.Fatalf("counts = %v", counts)
	}
}

func TestListJobs(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	var ids []int64
	for i := range 5 {
		ids = append(ids, mustEnqueue(t, db, NewJob{Type: JobKind([]string{"a", "b"}[i%2])}))
	}
	if err := db.CancelJob(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    JobFilter
		want []int64
	}{
		{"all newest first", JobFilter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"page", JobFilter{Limit: 2, BeforeID: ids[3]}, []int64{ids[2], ids[1]}},
		{"by type", JobFilter{Type: "b"}, []int64{ids[3], ids[1]}},
		{"by status", JobFilter{Status: JobCancelled}, []int64{ids[4]}},
		{"type and status", JobFilter{Type: "a", Status: JobPending}, []int64{ids[2], ids[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs, err := db.ListJobs(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, j := range jobs {
				got = append(got, j.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	_, err := db.ListJobs(ctx, JobFilter{Status: "stuck"})
	wantCode(t, err, EINVALID)
	counts, err := db.JobCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[JobStatus]map[string]int{JobPending: {"a": 2, "b": 2}, JobCancelled: {"a": 1}}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("counts = %v, want %v", counts, want)
	}
}

func TestPruneJobsAndWebhookBodies(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	old := mustEnqueue(t, db, NewJob{Type: "t"})
	claimN(t, db, "w", 1, 1)
	if err := db.CompleteJob(ctx, old, 1, "w", nil); err != nil {
		t.Fatal(err)
	}
	oldCancelled := mustEnqueue(t, db, NewJob{Type: "t"})
	if err := db.CancelJob(ctx, oldCancelled); err != nil {
		t.Fatal(err)
	}
	oldPending := mustEnqueue(t, db, NewJob{Type: "t", RunAt: clock.Now().Add(1000 * time.Hour)})
	if err := db.Update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (provider, event_id, received_at, status, body)
			VALUES ('stripe', 'evt_old', ?1, 'processed', '{}'), ('stripe', 'evt_new', ?2, 'processed', '{}')`,
			tx.NowText(), FormatTime(clock.Now().Add(40*24*time.Hour)))
		return err
	}); err != nil {
		t.Fatal(err)
	}

	cutoff := clock.Advance(31 * 24 * time.Hour).Add(-30 * 24 * time.Hour)
	recent := mustEnqueue(t, db, NewJob{Type: "t"})
	if err := db.CancelJob(ctx, recent); err != nil {
		t.Fatal(err)
	}
	n, err := db.PruneJobs(ctx, cutoff)
	if err != nil || n != 2 {
		t.Fatalf("PruneJobs = %d, %v; want 2", n, err)
	}
	for id, want := range map[int64]bool{old: false, oldCancelled: false, oldPending: true, recent: true} {
		_, err := db.GetJob(ctx, id)
		if (err == nil) != want {
			t.Errorf("job %d kept = %v, want %v", id, err == nil, want)
		}
	}
	n, err = db.PruneWebhookBodies(ctx, cutoff)
	if err != nil || n != 1 {
		t.Fatalf("PruneWebhookBodies = %d, %v; want 1", n, err)
	}
	var bodies int
	if err := db.Read().QueryRow(`SELECT count(body) FROM webhook_deliveries`).Scan(&bodies); err != nil || bodies != 1 {
		t.Fatalf("bodies left = %d, %v; want 1", bodies, err)
	}
}

func TestRetryDelay(t *testing.T) {
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute}
	for i, w := range want {
		if got := RetryDelay(i + 1); got != w {
			t.Errorf("RetryDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := RetryDelay(40); got != 24*time.Hour {
		t.Errorf("RetryDelay(40) = %s, want the 24h cap", got)
	}
}
