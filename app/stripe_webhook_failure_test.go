package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// failWrites makes every insert into table fail inside SQLite, as a full or failing disk would,
// until the returned function lifts it. A trigger is deterministic where a read-only file is
// not (the tests may run as root, who ignores file modes).
func failWrites(t testing.TB, db *store.DB, table string) (lift func()) {
	t.Helper()
	ctx := context.Background()
	name := "test_fail_" + table
	exec := func(q string) {
		t.Helper()
		if err := db.Update(ctx, func(tx *store.Tx) error { _, err := tx.ExecContext(ctx, q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TRIGGER ` + name + `_i BEFORE INSERT ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`)
	exec(`CREATE TRIGGER ` + name + `_u BEFORE UPDATE ON ` + table + ` BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`)
	return func() {
		exec(`DROP TRIGGER ` + name + `_i`)
		exec(`DROP TRIGGER ` + name + `_u`)
	}
}

// A payment whose database write fails half-way (the sales rows, after the delivery, the
// engagement event and the order were written in the same transaction) answers 5xx, so Stripe
// retries, and leaves nothing of its work; the retry then applies it in full.
func TestStripeWebhookWriteFailureAnswers5xxAndLeavesNothing(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	o := placeStripeOrder(t, env.db)
	body := completedEvent(t, o, "evt_fail_1", "pi_fail_1")
	before := env.businessSnapshot(t)

	lift := failWrites(t, env.db, "sales")
	status, answer := env.postWebhook(t, body, signStripe(stripeTestSecrets[0], time.Now(), body))
	if status < 500 || status > 599 {
		t.Fatalf("failed write answered %d %s, want a 5xx so Stripe retries", status, answer)
	}
	if strings.Contains(answer, "simulated write failure") || strings.Contains(answer, "sales") {
		t.Fatalf("the answer leaks the internal error: %s", answer)
	}
	got, err := env.db.GetOrder(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.OrderPending || got.PaidAt != "" || got.StripePaymentIntentID != "" || got.TotalAmount != o.TotalAmount {
		t.Fatalf("half-written order %+v", got)
	}
	for _, q := range []string{
		`SELECT count(*) FROM sales`, `SELECT count(*) FROM outbox`,
		`SELECT count(*) FROM engagement_events WHERE source = 'stripe'`, `SELECT count(*) FROM order_refunds`,
	} {
		if n := env.count(t, q); n != 0 {
			t.Fatalf("%s = %d after a failed write", q, n)
		}
	}
	// Only the failure is recorded, with the body, so the dashboard shows it and replay works.
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries WHERE event_id = 'evt_fail_1' AND status = 'failed'
		AND body IS NOT NULL AND error IS NOT NULL`); n != 1 {
		t.Fatalf("%d failed delivery rows", n)
	}

	// Stripe retries once the disk is back: the event applies in full, exactly once.
	lift()
	env.postSigned(t, body, http.StatusOK)
	got, _ = env.db.GetOrder(context.Background(), o.ID)
	if got.Status != store.OrderPaid || got.StripePaymentIntentID != "pi_fail_1" {
		t.Fatalf("retry did not pay: %+v", got)
	}
	if n := env.count(t, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID); n != 2 {
		t.Fatalf("%d sales rows after the retry", n)
	}
	if n := env.count(t, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order'`); n != 1 {
		t.Fatalf("%d sync jobs after the retry", n)
	}
	if n := env.count(t, `SELECT attempts FROM webhook_deliveries WHERE event_id = 'evt_fail_1' AND status = 'processed'`); n != 2 {
		t.Fatalf("attempts %d, want 2 (the failure and the retry)", n)
	}
	if env.businessSnapshot(t) == before {
		t.Fatal("the retry changed nothing")
	}
}

// When even the delivery row cannot be written (the first write of the transaction, and the
// failure record's table), the answer is still 5xx and nothing at all is left.
func TestStripeWebhookFailingDeliveryTableAnswers5xx(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	o := placeStripeOrder(t, env.db)
	body := completedEvent(t, o, "evt_fail_2", "pi_fail_2")
	before := env.businessSnapshot(t)
	lift := failWrites(t, env.db, "webhook_deliveries")
	status, answer := env.postWebhook(t, body, signStripe(stripeTestSecrets[0], time.Now(), body))
	if status < 500 || status > 599 {
		t.Fatalf("failed write answered %d %s, want a 5xx", status, answer)
	}
	if after := env.businessSnapshot(t); after != before {
		t.Fatalf("a failed delivery wrote: %s → %s", before, after)
	}
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries`); n != 0 {
		t.Fatalf("%d delivery rows", n)
	}
	lift()
	env.postSigned(t, body, http.StatusOK)
	if got, _ := env.db.GetOrder(context.Background(), o.ID); got.Status != store.OrderPaid {
		t.Fatalf("retry did not pay: %+v", got)
	}
}

// /readyz answers 503 while the database refuses writes, and 200 again once it takes them.
func TestReadyzIs503WhenTheDatabaseCannotWrite(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	if status, body := env.do(t, http.MethodGet, "/readyz", nil, nil); status != http.StatusOK {
		t.Fatalf("readyz %d %s", status, body)
	}
	lift := failWrites(t, env.db, "integration_state")
	status, body := env.do(t, http.MethodGet, "/readyz", nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "not writable") {
		t.Fatalf("readyz with a failing write: %d %s", status, body)
	}
	lift()
	if status, body := env.do(t, http.MethodGet, "/readyz", nil, nil); status != http.StatusOK {
		t.Fatalf("readyz after recovery: %d %s", status, body)
	}
	// A closed database (shutting down) is not ready either.
	env.db.Close()
	if status, body := env.do(t, http.MethodGet, "/readyz", nil, nil); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz on a closed database: %d %s", status, body)
	}
}
