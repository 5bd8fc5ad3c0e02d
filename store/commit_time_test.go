package store

import (
	"context"
	"testing"
	"time"
)

// TestWithTimeDatesTheTransaction: a write made under WithTime carries that time, in a batch
// with writes that do not; without it the clock's time is used.
func TestWithTimeDatesTheTransaction(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return now }})
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ctx := context.Background()
	var got, plain time.Time
	errs := make(chan error, 2)
	go func() {
		errs <- db.Update(WithTime(ctx, at), func(tx *Tx) error {
			got = tx.Now()
			return tx.SetState(ctx, "then", "x")
		})
	}()
	go func() {
		errs <- db.Update(ctx, func(tx *Tx) error {
			plain = tx.Now()
			return tx.SetState(ctx, "now", "x")
		})
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !got.Equal(at) || !plain.Equal(now) {
		t.Fatalf("transaction times %s and %s, want %s and %s", got, plain, at, now)
	}
	for name, want := range map[string]time.Time{"then": at, "now": now} {
		var updated string
		if err := db.Read().QueryRow(`SELECT updated_at FROM integration_state WHERE name = ?`, name).Scan(&updated); err != nil {
			t.Fatal(err)
		}
		if updated != FormatTime(want) {
			t.Errorf("%s written at %s, want %s", name, updated, FormatTime(want))
		}
	}
}
