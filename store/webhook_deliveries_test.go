package store

import (
	"context"
	"testing"
	"time"
)

// Refused requests add up per provider, minute and code: two codes in one minute keep two
// rows (each with its own last reason), the same code adds to its row, the next minute starts
// a new one; the list filter takes the label "refused"; RefusalCode reads the code back.
func TestRejectedDeliveriesPerReason(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 5, 0, time.UTC)
	mustUpdate(t, db, func(tx *Tx) error {
		for _, r := range []struct {
			code, reason string
			at           time.Time
			n            int
		}{
			{"bad_signature", "signature does not match STRIPE_WEBHOOK_SECRET", at, 3},
			{"malformed", "body is not valid JSON", at.Add(10 * time.Second), 1},
			{"bad_signature", "signature does not match STRIPE_WEBHOOK_SECRET", at.Add(40 * time.Second), 2},
			{"bad_signature", "signature does not match STRIPE_WEBHOOK_SECRET", at.Add(time.Minute), 1},
		} {
			if err := tx.AddRejectedDeliveries(ctx, "stripe", r.code, r.at, r.n, r.reason); err != nil {
				return err
			}
		}
		return nil
	})
	list, err := db.ListAdminDeliveries(ctx, AdminDeliveryFilter{Status: DeliveryRefusedLabel, Sort: ListSort{Key: "id"}})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		code, reason string
		n            int
		first, last  time.Time
	}
	want := []row{
		{"bad_signature", "signature does not match STRIPE_WEBHOOK_SECRET", 5, at, at.Add(40 * time.Second)},
		{"malformed", "body is not valid JSON", 1, at.Add(10 * time.Second), at.Add(10 * time.Second)},
		{"bad_signature", "signature does not match STRIPE_WEBHOOK_SECRET", 1, at.Add(time.Minute), at.Add(time.Minute)},
	}
	if len(list) != len(want) {
		t.Fatalf("%d refused rows, want %d: %+v", len(list), len(want), list)
	}
	for i, d := range list {
		got := row{d.RefusalCode(), d.Error, d.Attempts, d.ReceivedAt, d.LastReceivedAt}
		if got != want[i] || !d.Refused() || d.StatusLabel() != "refused" || d.HasBody {
			t.Errorf("row %d: %+v (%s), want %+v", i, got, d.StatusLabel(), want[i])
		}
	}
	if other, _ := db.ListAdminDeliveries(ctx, AdminDeliveryFilter{Status: DeliveryProcessed}); len(other) != 0 {
		t.Fatalf("refused rows listed as processed: %+v", other)
	}
}

// A failed Zoho delivery keeps its body and counts attempts; applying it settles the same row
// (processed, error cleared); a failure recorded after that leaves the applied row alone.
func TestZohoFailureSettlesOnApply(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO companies (company_id, company_name) VALUES ('CO1', 'Acme');
			INSERT INTO contacts (contact_id, company_id, email) VALUES ('K1', 'CO1', 'bea@acme.example')`)
		return err
	})
	f := ZohoFailure{Key: "email_opened:bea@acme.example:2026-03-02T09:00:00.000Z", EventType: "email_opened",
		ContentType: "application/x-www-form-urlencoded", Body: "event_type=email_opened&email=bea%40acme.example",
		Reason: "no contact with that e-mail"}
	for range 2 {
		mustUpdate(t, db, func(tx *Tx) error { return tx.RecordZohoFailure(ctx, f) })
	}
	read := func() (status, errText string, attempts int) {
		t.Helper()
		var e *string
		if err := db.Read().QueryRow(`SELECT status, error, attempts FROM webhook_deliveries WHERE event_id = ?`, f.Key).
			Scan(&status, &e, &attempts); err != nil {
			t.Fatal(err)
		}
		if e != nil {
			errText = *e
		}
		return
	}
	if s, e, n := read(); s != DeliveryFailed || e != f.Reason || n != 2 {
		t.Fatalf("after two failures: %s %q %d", s, e, n)
	}
	var stored AdminDelivery
	if err := db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE event_id = ?`, f.Key).Scan(&stored.ID); err != nil {
		t.Fatal(err)
	}
	stored, err := db.GetAdminDelivery(ctx, stored.ID)
	if err != nil || stored.Body != f.Body || stored.ContentType != f.ContentType {
		t.Fatalf("stored %+v %v", stored, err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	apply := func() bool {
		var dup bool
		mustUpdate(t, db, func(tx *Tx) error {
			var err error
			_, dup, err = tx.ApplyZohoEngagement(ctx, ZohoEngagement{Event: Event{SourceEventID: "email_opened:K1:" + FormatTime(at),
				Name: "email_opened", CompanyID: "CO1", ContactID: "K1", OccurredAt: at}, Body: f.Body, ContentType: f.ContentType,
				DeliveryKey: f.Key})
			return err
		})
		return dup
	}
	if apply() {
		t.Fatal("the first apply is a duplicate")
	}
	if s, e, n := read(); s != DeliveryProcessed || e != "" || n != 3 {
		t.Fatalf("after applying: %s %q %d", s, e, n)
	}
	if !apply() {
		t.Fatal("the second apply is not a duplicate")
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.RecordZohoFailure(ctx, f) })
	if s, _, n := read(); s != DeliveryProcessed || n != 4 {
		t.Fatalf("after a repeat and a late failure: %s %d", s, n)
	}
	var events, rows int
	if err := db.Read().QueryRow(`SELECT (SELECT count(*) FROM engagement_events), (SELECT count(*) FROM webhook_deliveries)`).
		Scan(&events, &rows); err != nil || events != 1 || rows != 1 {
		t.Fatalf("%d events, %d delivery rows (%v)", events, rows, err)
	}
}
