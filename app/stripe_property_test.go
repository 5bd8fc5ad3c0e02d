package app

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// orderLife is the Stripe events of one order's life and the one state they must leave it in,
// whatever order they arrive in and however often.
type orderLife struct {
	order  store.Order
	events []lifeEvent
	// expected end state
	status   store.OrderStatus
	payment  store.PaymentStatus
	refunded int64
	paid     bool
	// refund jobs: 2 when the partial refund is first seen before the full one, else 1
	partialID, fullID string
}

type lifeEvent struct {
	id   string
	body []byte
}

// buildOrderLife draws a life for o: paid at once or asynchronously (with invoice, some
// refunds, a late failure and sometimes an expiry seen first), or never paid.
func buildOrderLife(t testing.TB, rng *rand.Rand, o store.Order) orderLife {
	t.Helper()
	id, pi, charge := o.ID, "pi_"+o.ID, "ch_"+o.ID
	total := o.TotalAmount + 1000
	life := orderLife{order: o}
	add := func(eid string, body []byte) { life.events = append(life.events, lifeEvent{eid, body}) }
	session := func(eid, typ, payment string) []byte {
		return stripeFixtureEvent(t, "checkout.session.completed", eid, map[string]any{"@type": typ, "id": "cs_" + id,
			"metadata.order_id": id, "client_reference_id": id, "payment_intent": pi, "invoice": "in_" + id, "currency": "gbp",
			"payment_status": payment, "amount_subtotal": o.TotalAmount, "amount_total": total, "total_details.amount_tax": 1000})
	}
	failed := func(eid string) []byte {
		return stripeFixtureEvent(t, "payment_intent.payment_failed", eid, map[string]any{"id": pi, "metadata.order_id": id, "currency": "gbp"})
	}
	if rng.Intn(6) == 0 { // never paid
		add("evt_pf_"+id, failed("evt_pf_"+id))
		add("evt_af_"+id, session("evt_af_"+id, store.StripeAsyncPaymentFailed, "unpaid"))
		add("evt_ex_"+id, session("evt_ex_"+id, store.StripeCheckoutExpired, "unpaid"))
		life.status, life.payment = store.OrderFailed, store.PaymentUnpaid
		return life
	}
	life.paid, life.status, life.payment = true, store.OrderPaid, store.PaymentPaid
	if rng.Intn(2) == 0 {
		add("evt_cs_"+id, session("evt_cs_"+id, store.StripeCheckoutCompleted, "paid"))
	} else {
		add("evt_cs_"+id, session("evt_cs_"+id, store.StripeCheckoutCompleted, "unpaid"))
		add("evt_as_"+id, session("evt_as_"+id, store.StripeAsyncPaymentSucceeded, "paid"))
	}
	add("evt_pi_"+id, stripeFixtureEvent(t, "payment_intent.succeeded", "evt_pi_"+id, map[string]any{"id": pi,
		"metadata.order_id": id, "currency": "gbp", "amount": total, "amount_received": total}))
	add("evt_in_"+id, stripeFixtureEvent(t, "invoice.paid", "evt_in_"+id, map[string]any{"id": "in_" + id,
		"metadata.order_id": id, "currency": "gbp", "amount_paid": total}))
	switch rng.Intn(4) {
	case 1:
		life.partialID = "evt_r1_" + id
		add(life.partialID, refundEvent(t, life.partialID, pi, charge, total, 2499))
		life.payment, life.refunded = store.PaymentPartiallyRefunded, 2499
	case 2, 3:
		life.partialID, life.fullID = "evt_r1_"+id, "evt_r2_"+id
		add(life.partialID, refundEvent(t, life.partialID, pi, charge, total, 2499))
		add(life.fullID, refundEvent(t, life.fullID, pi, charge, total, total))
		life.payment, life.refunded = store.PaymentRefunded, total
	}
	add("evt_pf_"+id, failed("evt_pf_"+id))
	if rng.Intn(2) == 0 {
		add("evt_ex_"+id, session("evt_ex_"+id, store.StripeCheckoutExpired, "unpaid"))
	}
	return life
}

// delivery is one step of a schedule: copies of one event sent at the same time.
type delivery struct {
	event    lifeEvent
	parallel int
}

// TestStripeWebhookProperty replays randomised schedules of whole order lives through the
// HTTP handler — shuffled, duplicated, and the same event sent concurrently — and checks each
// order ends in its one right state with its side effects exactly once.
// STRIPE_PROPERTY_SEED replays a logged schedule.
func TestStripeWebhookProperty(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("STRIPE_PROPERTY_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (STRIPE_PROPERTY_SEED=%d go test -run TestStripeWebhookProperty replays it)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	env := newStripeTestEnv(t, nil)
	schedules := 30
	if testing.Short() {
		schedules = 5
	}
	for n := range schedules {
		var lives []orderLife
		for range 3 {
			lives = append(lives, buildOrderLife(t, rng, placeStripeOrder(t, env.db)))
		}
		var plan []delivery
		for _, l := range lives {
			for _, ev := range l.events {
				for range 1 + rng.Intn(3) {
					p := 1
					if rng.Intn(3) == 0 {
						p = 2 + rng.Intn(3)
					}
					plan = append(plan, delivery{ev, p})
				}
			}
		}
		rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
		firstSeen := map[string]int{}
		for i, d := range plan {
			if _, ok := firstSeen[d.event.id]; !ok {
				firstSeen[d.event.id] = i
			}
			env.deliverConcurrently(t, d)
		}
		for _, l := range lives {
			wantRefundJobs := 0
			switch {
			case l.fullID != "" && firstSeen[l.partialID] < firstSeen[l.fullID]:
				wantRefundJobs = 2
			case l.partialID != "":
				wantRefundJobs = 1
			}
			env.checkOrderLife(t, fmt.Sprintf("schedule %d (seed %d)", n, seed), l, wantRefundJobs)
		}
	}
}

func (e *stripeTestEnv) deliverConcurrently(t *testing.T, d delivery) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, d.parallel)
	for range d.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/api/stripe/webhook", bytes.NewReader(d.event.body))
			req.Header.Set("Stripe-Signature", signStripe(stripeTestSecrets[0], time.Now(), d.event.body))
			resp, err := e.http.Client().Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Sprintf("%s answered %d", d.event.id, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
}

func (e *stripeTestEnv) checkOrderLife(t *testing.T, where string, l orderLife, wantRefundJobs int) {
	t.Helper()
	o, err := e.db.GetOrder(context.Background(), l.order.ID)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != l.status || o.PaymentStatus != l.payment || o.AmountRefunded != l.refunded {
		t.Fatalf("%s: order %s is %s/%s refunded %d, want %s/%s refunded %d", where, o.ID, o.Status, o.PaymentStatus,
			o.AmountRefunded, l.status, l.payment, l.refunded)
	}
	wantSync, wantSales := 0, 0
	if l.paid {
		wantSync, wantSales = 1, len(l.order.Items)
		if o.TotalAmount != l.order.TotalAmount+1000 || o.TaxAmount != 1000 || o.PaidAt == "" {
			t.Fatalf("%s: order %s totals %d tax %d paid_at %q", where, o.ID, o.TotalAmount, o.TaxAmount, o.PaidAt)
		}
	} else {
		wantRefundJobs = 0
	}
	got := map[string]int{
		"sync jobs":   e.count(t, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order' AND order_id = ?`, o.ID),
		"refund jobs": e.count(t, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_refund' AND order_id = ?`, o.ID),
		"refunded by jobs": e.count(t, `SELECT COALESCE(sum(json_extract(payload, '$.refund_amount')), 0) FROM outbox
			WHERE job_type = 'zoho_sync_refund' AND order_id = ?`, o.ID),
		"sales rows":     e.count(t, `SELECT count(*) FROM sales WHERE invoice_number = ?`, o.ID),
		"sales quantity": e.count(t, `SELECT COALESCE(sum(quantity), 0) FROM sales WHERE invoice_number = ?`, o.ID),
		"events":         e.count(t, `SELECT count(*) FROM engagement_events WHERE source = 'stripe' AND json_extract(meta, '$.order_id') = ?`, o.ID),
	}
	wantQty := 0
	for _, it := range l.order.Items {
		wantQty += int(it.Quantity)
	}
	want := map[string]int{"sync jobs": wantSync, "refund jobs": wantRefundJobs, "sales rows": wantSales,
		"events": len(l.events), "refunded by jobs": int(l.refunded), "sales quantity": 0}
	if l.paid {
		want["sales quantity"] = wantQty
	} else {
		want["refunded by jobs"] = 0
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("%s: order %s has %d %s, want %d (all: %v)", where, o.ID, got[k], k, w, got)
		}
	}
}
