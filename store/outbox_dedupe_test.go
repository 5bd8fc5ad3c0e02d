package store

import (
	"context"
	"testing"
	"time"
)

func TestLatestJobCreatedWithKeyPrefix(t *testing.T) {
	ctx := context.Background()
	clock := newOutboxClock()
	db := openOutboxDB(t, clock)
	latest := func(prefix string) (time.Time, bool) {
		t.Helper()
		var at time.Time
		var ok bool
		err := db.Update(ctx, func(tx *Tx) error {
			var err error
			at, ok, err = tx.LatestJobCreatedWithKeyPrefix(ctx, prefix)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return at, ok
	}
	if _, ok := latest("fresh:K1:"); ok {
		t.Fatal("found a job in an empty outbox")
	}
	first := clock.Now()
	mustEnqueue(t, db, NewJob{Type: "send_email", DedupeKey: "fresh:K1:a"})
	second := clock.Advance(time.Minute)
	mustEnqueue(t, db, NewJob{Type: "send_email", DedupeKey: "fresh:K1:b"})
	clock.Advance(time.Minute)
	// Neighbours of the range: a longer id sharing the prefix's start, and the next byte.
	mustEnqueue(t, db, NewJob{Type: "send_email", DedupeKey: "fresh:K10:a"})
	mustEnqueue(t, db, NewJob{Type: "send_email", DedupeKey: "fresh:K1;"})
	if at, ok := latest("fresh:K1:"); !ok || !at.Equal(second) || at.Equal(first) {
		t.Fatalf("latest K1 job at %v (%v), want %v", at, ok, second)
	}
	if _, ok := latest("fresh:K2:"); ok {
		t.Fatal("found a K2 job")
	}
	err := db.Update(ctx, func(tx *Tx) error {
		_, _, err := tx.LatestJobCreatedWithKeyPrefix(ctx, "fresh:K1")
		return err
	})
	wantCode(t, err, EINVALID)
}
