package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

func TestSchedulerRunsRegisteredJobs(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	s, err := NewScheduler(db, nil, SchedulerOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{}, 10)
	if err := s.Register("tick", 10*time.Millisecond, func(ctx context.Context) error {
		ran <- struct{}{}
		return errors.New("logged, not fatal")
	}); err != nil {
		t.Fatal(err)
	}
	panicked := make(chan struct{}, 10)
	if err := s.Register("panics", 10*time.Millisecond, func(context.Context) error {
		panicked <- struct{}{}
		panic("boom")
	}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	for range 2 { // a failing or panicking run keeps its schedule
		receive(t, ran, "the registered job")
		receive(t, panicked, "the panicking job")
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []struct {
		name     string
		interval time.Duration
		fn       func(context.Context) error
	}{{"", time.Second, func(context.Context) error { return nil }}, {"x", 0, func(context.Context) error { return nil }}, {"x", time.Second, nil}} {
		if err := s.Register(bad.name, bad.interval, bad.fn); err == nil {
			t.Errorf("Register(%q, %s, fn=%v) accepted", bad.name, bad.interval, bad.fn != nil)
		}
	}
}

func TestSchedulerSweepNudgesWorker(t *testing.T) {
	db := openOutboxTestDB(t, nil)
	w := NewWorker(db, nil, WorkerOptions{Logger: quietLogger()})
	s, err := NewScheduler(db, w, SchedulerOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.nudge:
	default:
		t.Fatal("the sweep did not nudge the worker")
	}
}

func TestSchedulerHousekeeping(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxTestDB(t, clock.Now)
	oldDone := enqueueOutboxJob(t, db, store.NewJob{Type: "t"})
	if _, err := db.ClaimJobs(ctx, "w", time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteJob(ctx, oldDone, 1, "w", nil); err != nil {
		t.Fatal(err)
	}
	oldFailed := enqueueOutboxJob(t, db, store.NewJob{Type: "t", RunAt: clock.Now().Add(24 * time.Hour)})
	if err := db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (provider, event_id, received_at, status, body)
			VALUES ('stripe', 'evt_1', ?, 'processed', '{"id":"evt_1"}')`, tx.NowText())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A refund of a charge no order of ours will ever claim waits for its PaymentIntent.
	parkRefund := func(id string) {
		t.Helper()
		err := db.Update(ctx, func(tx *store.Tx) error {
			out, err := tx.ApplyStripeEvent(ctx, nil, store.StripeEvent{ID: id, Type: store.StripeChargeRefunded,
				ChargeID: "ch_" + id, PaymentIntentID: "pi_nobody_" + id, Amount: 500, AmountRefunded: 500, Currency: "gbp"})
			if err == nil && out.Status != store.DeliveryIgnored {
				err = fmt.Errorf("refund of an unknown payment: %+v", out)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	parkRefund("evt_old_refund")
	s, err := NewScheduler(db, nil, SchedulerOptions{JobRetention: 7 * 24 * time.Hour, WebhookBodyRetention: 14 * 24 * time.Hour,
		Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(8 * 24 * time.Hour) // past job retention, within body retention
	if err := s.housekeep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetJob(ctx, oldDone); store.ErrorCode(err) != store.ENOTFOUND {
		t.Fatalf("old completed job kept: %v", err)
	}
	getOutboxJob(t, db, oldFailed) // unfinished jobs are never pruned
	var body *string
	if err := db.Read().QueryRow(`SELECT body FROM webhook_deliveries`).Scan(&body); err != nil || body == nil {
		t.Fatalf("body cleared too early: %v %v", body, err)
	}

	if n := countParked(t, db); n != 1 {
		t.Fatalf("%d parked events within retention, want 1", n)
	}

	clock.Advance(7 * 24 * time.Hour)
	parkRefund("evt_new_refund")
	if err := s.housekeep(ctx); err != nil {
		t.Fatal(err)
	}
	var parked string
	if err := db.Read().QueryRow(`SELECT group_concat(event_id) FROM stripe_parked_events`).Scan(&parked); err != nil || parked != "evt_new_refund" {
		t.Fatalf("parked events after retention: %q %v, want only the new one", parked, err)
	}
	var note string
	if err := db.Read().QueryRow(`SELECT error FROM webhook_deliveries WHERE event_id = 'evt_old_refund'`).Scan(&note); err != nil ||
		!strings.Contains(note, "pi_nobody_evt_old_refund") || !strings.Contains(note, "dropped") {
		t.Fatalf("the dropped event's delivery says %q (%v)", note, err)
	}
	if err := db.Read().QueryRow(`SELECT body FROM webhook_deliveries`).Scan(&body); err != nil || body != nil {
		t.Fatalf("body kept past retention: %v %v", body, err)
	}
}

func countParked(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM stripe_parked_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
