package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// The forward-only rules of ApplyStripeEvent, one case per (order state, Stripe event type):
// the state an order reaches, and what paying it adds (sales rows, one Zoho sync job). Every
// event carries its own Created time, later than the one that put the order in its state, so a
// second "payment" that rewrote paid_at would show.

var (
	transitionSetAt   = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) // the event that set the state
	transitionEventAt = time.Date(2026, 3, 2, 17, 30, 0, 0, time.UTC)
)

// transitionStates puts a fresh pending order into each state the way production does.
var transitionStates = []struct {
	state OrderStatus
	setUp func(t *testing.T, db *DB, o Order)
}{
	{OrderPending, func(*testing.T, *DB, Order) {}},
	{OrderPaid, func(t *testing.T, db *DB, o Order) {
		e := completed("evt_set_"+o.ID, o.ID, "pi_"+o.ID, 155100)
		e.Created = transitionSetAt
		applyStripe(t, db, e)
	}},
	{OrderFailed, func(t *testing.T, db *DB, o Order) {
		applyStripe(t, db, StripeEvent{ID: "evt_set_" + o.ID, Type: StripePaymentFailed, OrderID: o.ID,
			PaymentIntentID: "pi_" + o.ID, Currency: "gbp", FailureMessage: "Your card was declined.", Created: transitionSetAt})
	}},
	{OrderExpired, func(t *testing.T, db *DB, o Order) {
		applyStripe(t, db, StripeEvent{ID: "evt_set_" + o.ID, Type: StripeCheckoutExpired, OrderID: o.ID,
			SessionID: "cs_" + o.ID, Created: transitionSetAt})
	}},
	{OrderCancelled, func(t *testing.T, db *DB, o Order) {
		mustUpdate(t, db, func(tx *Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE orders SET status = 'cancelled' WHERE order_id = ?`, o.ID)
			return err
		})
	}},
}

// transitionEvent builds the later event of type typ for order o.
func transitionEvent(typ string, o Order) StripeEvent {
	e := StripeEvent{ID: "evt_" + typ + "_" + o.ID, Type: typ, OrderID: o.ID, SessionID: "cs_" + o.ID,
		PaymentIntentID: "pi_" + o.ID, Currency: "gbp", Created: transitionEventAt}
	switch typ {
	case StripeCheckoutCompleted, StripeAsyncPaymentSucceeded:
		e = completed(e.ID, o.ID, "pi_"+o.ID, 155100)
		e.Type, e.Created = typ, transitionEventAt
	case StripePaymentSucceeded:
		e.Amount = 155100
	case StripePaymentFailed:
		e.FailureCode, e.FailureMessage = "card_declined", "A later decline."
	case StripeInvoicePaid:
		e.InvoiceID, e.Amount = "in_"+o.ID, 155100
	case StripeChargeRefunded:
		e.ChargeID, e.Amount, e.AmountRefunded = "ch_"+o.ID, 155100, 5000
	}
	return e
}

// wantTransition is the state each (state, event type) pair ends in: payments pay any order
// not yet paid (Stripe took the money) but a cancelled one (recorded and flagged instead), failures and expiry touch only orders that have not
// moved on, and nothing ever leaves paid.
var wantTransition = map[OrderStatus]map[string]OrderStatus{
	OrderPending: {
		StripeCheckoutCompleted: OrderPaid, StripeAsyncPaymentSucceeded: OrderPaid, StripePaymentSucceeded: OrderPaid,
		StripeAsyncPaymentFailed: OrderFailed, StripePaymentFailed: OrderFailed, StripeCheckoutExpired: OrderExpired,
		StripeInvoicePaid: OrderPending, StripeChargeRefunded: OrderPending,
	},
	OrderPaid: {
		StripeCheckoutCompleted: OrderPaid, StripeAsyncPaymentSucceeded: OrderPaid, StripePaymentSucceeded: OrderPaid,
		StripeAsyncPaymentFailed: OrderPaid, StripePaymentFailed: OrderPaid, StripeCheckoutExpired: OrderPaid,
		StripeInvoicePaid: OrderPaid, StripeChargeRefunded: OrderPaid,
	},
	OrderFailed: {
		StripeCheckoutCompleted: OrderPaid, StripeAsyncPaymentSucceeded: OrderPaid, StripePaymentSucceeded: OrderPaid,
		StripeAsyncPaymentFailed: OrderFailed, StripePaymentFailed: OrderFailed, StripeCheckoutExpired: OrderFailed,
		StripeInvoicePaid: OrderFailed, StripeChargeRefunded: OrderFailed,
	},
	OrderExpired: {
		StripeCheckoutCompleted: OrderPaid, StripeAsyncPaymentSucceeded: OrderPaid, StripePaymentSucceeded: OrderPaid,
		StripeAsyncPaymentFailed: OrderFailed, StripePaymentFailed: OrderExpired, StripeCheckoutExpired: OrderExpired,
		StripeInvoicePaid: OrderExpired, StripeChargeRefunded: OrderExpired,
	},
	// A payment on a cancelled order is recorded and flagged, not turned into a paid order.
	OrderCancelled: {
		StripeCheckoutCompleted: OrderCancelled, StripeAsyncPaymentSucceeded: OrderCancelled, StripePaymentSucceeded: OrderCancelled,
		StripeAsyncPaymentFailed: OrderCancelled, StripePaymentFailed: OrderCancelled, StripeCheckoutExpired: OrderCancelled,
		StripeInvoicePaid: OrderCancelled, StripeChargeRefunded: OrderCancelled,
	},
}

func TestStripeTransitionsAreForwardOnly(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	types := StripeEventTypes()
	if len(types) != 8 {
		t.Fatalf("handled event types %v: add the new ones to wantTransition", types)
	}
	for _, st := range transitionStates {
		for _, typ := range types {
			want, ok := wantTransition[st.state][typ]
			if !ok {
				t.Fatalf("no expectation for %s + %s", st.state, typ)
			}
			t.Run(string(st.state)+"/"+typ, func(t *testing.T) {
				o := stripeTestOrder(t, db)
				st.setUp(t, db, o)
				before, err := db.GetOrder(ctx, o.ID)
				if err != nil {
					t.Fatal(err)
				}
				if before.Status != st.state {
					t.Fatalf("set-up left the order %s, want %s", before.Status, st.state)
				}
				salesBefore := countRows(t, db, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID)
				jobsBefore := countRows(t, db, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order' AND order_id = ?`, o.ID)

				out := applyStripe(t, db, transitionEvent(typ, o))
				if out.Status != DeliveryProcessed || out.OrderID != o.ID {
					t.Fatalf("outcome %+v", out)
				}
				got, err := db.GetOrder(ctx, o.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != want {
					t.Fatalf("%s + %s left the order %s, want %s", st.state, typ, got.Status, want)
				}
				sales := countRows(t, db, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID)
				jobs := countRows(t, db, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order' AND order_id = ?`, o.ID)
				switch {
				case st.state == OrderPaid:
					// Settled: every field stays as it was, but what a refund adds.
					wantOrder := before
					if typ == StripeChargeRefunded {
						wantOrder.AmountRefunded, wantOrder.PaymentStatus = 5000, PaymentPartiallyRefunded
					}
					assertSameOrder(t, wantOrder, got)
					if sales != salesBefore || jobs != jobsBefore || sales != 2 || jobs != 1 {
						t.Fatalf("settled order: %d sales rows (was %d), %d sync jobs (was %d)", sales, salesBefore, jobs, jobsBefore)
					}
				case want == OrderPaid:
					if got.PaidAt != FormatTime(transitionEventAt) || got.PaymentStatus != PaymentPaid || got.FailureReason != "" {
						t.Fatalf("paid by %s: %+v", typ, got)
					}
					if sales != 2 || jobs != 1 {
						t.Fatalf("paid by %s: %d sales rows, %d sync jobs", typ, sales, jobs)
					}
					if n := countRows(t, db, `SELECT count(*) FROM sales WHERE order_id = ? AND txn_date = '2026-03-02'`, o.ID); n != 2 {
						t.Fatalf("sales rows not dated by the paying event: %d", n)
					}
				case st.state == OrderCancelled && (typ == StripeCheckoutCompleted || typ == StripeAsyncPaymentSucceeded || typ == StripePaymentSucceeded):
					if got.PaidAt != FormatTime(transitionEventAt) || got.PaymentStatus != PaymentPaid || got.FailureReason != CancelledButPaid ||
						sales != 0 || jobs != 0 {
						t.Fatalf("cancelled order paid by %s: %+v, %d sales rows, %d sync jobs", typ, got, sales, jobs)
					}
				default:
					if got.PaidAt != "" || got.PaymentStatus != PaymentUnpaid || sales != 0 || jobs != 0 {
						t.Fatalf("unpaid order: paid_at %q, payment %s, %d sales rows, %d sync jobs", got.PaidAt, got.PaymentStatus, sales, jobs)
					}
					if want == OrderFailed && got.FailureReason == "" {
						t.Fatalf("failed order without a reason: %+v", got)
					}
					if want == st.state && st.state != OrderPending {
						// A late failure or expiry leaves a moved-on order as it was.
						wantOrder := before
						if typ == StripeChargeRefunded {
							wantOrder.AmountRefunded = 5000
						}
						// It still learns the Stripe ids it lacked (the columns link later events).
						wantOrder.StripeCheckoutSessionID, wantOrder.StripePaymentIntentID = got.StripeCheckoutSessionID, got.StripePaymentIntentID
						wantOrder.StripeInvoiceID, wantOrder.StripeCustomerID = got.StripeInvoiceID, got.StripeCustomerID
						assertSameOrder(t, wantOrder, got)
					}
				}
			})
		}
	}
}

// TestSettledOrderIsUnchangedByLaterEvents applies every event type, each later than the
// last, to a paid order; nothing about the order changes but what refunds add.
func TestSettledOrderIsUnchangedByLaterEvents(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o := stripeTestOrder(t, db)
	pay := completed("evt_pay", o.ID, "pi_"+o.ID, 155100)
	pay.Created = transitionSetAt
	applyStripe(t, db, pay)
	settled, err := db.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if settled.PaidAt != FormatTime(transitionSetAt) {
		t.Fatalf("paid_at %q", settled.PaidAt)
	}
	at := transitionSetAt
	for round := range 2 {
		for _, typ := range StripeEventTypes() {
			if typ == StripeChargeRefunded {
				continue
			}
			at = at.Add(time.Hour)
			e := transitionEvent(typ, o)
			e.ID += "_" + string(rune('a'+round))
			e.Created = at
			if e.Type == StripePaymentSucceeded {
				e.Amount = 999 // a different amount charged must not rewrite the total either
			}
			applyStripe(t, db, e)
			got, err := db.GetOrder(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			assertSameOrder(t, settled, got)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID); n != 2 {
		t.Fatalf("%d sales rows", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox WHERE order_id = ?`, o.ID); n != 1 {
		t.Fatalf("%d outbox jobs", n)
	}
}

// assertSameOrder compares every field but updated_at (each applied event stamps it).
func assertSameOrder(t *testing.T, want, got Order) {
	t.Helper()
	want.UpdatedAt, got.UpdatedAt = "", ""
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("order changed:\n got %+v\nwant %+v", got, want)
	}
}
