package store

import (
	"context"
	"testing"
)

// TestPaymentOnCancelledOrderIsRecordedAndFlagged: Stripe reporting a payment for an order
// staff had cancelled records the payment (paid_at, payment status), flags the order with a
// note staff see in the orders list, and notes it on the delivery, but does not make it a paid
// order: no sales rows, no Zoho Books sync. A later full refund settles the flag.
func TestPaymentOnCancelledOrderIsRecordedAndFlagged(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o := stripeTestOrder(t, db)
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled' WHERE order_id = ?`, o.ID)
		return err
	})
	pay := completed("evt_paid_cancelled", o.ID, "pi_"+o.ID, 155100)
	pay.Created = transitionEventAt
	out := applyStripe(t, db, pay)
	if out.Status != DeliveryProcessed || out.Note == "" {
		t.Fatalf("outcome %+v: the delivery should say the order was flagged", out)
	}
	got, err := db.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != OrderCancelled || got.PaymentStatus != PaymentPaid || got.PaidAt != FormatTime(transitionEventAt) ||
		got.FailureReason != CancelledButPaid || got.TotalAmount != 155100 {
		t.Fatalf("cancelled order after a payment: %+v", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID); n != 0 {
		t.Errorf("%d sales rows for a cancelled order", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox WHERE order_id = ?`, o.ID); n != 0 {
		t.Errorf("%d outbox jobs for a cancelled order", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM webhook_deliveries WHERE event_id = ? AND error LIKE '%flagged%'`, pay.ID); n != 1 {
		t.Errorf("the delivery does not carry the note (%d)", n)
	}
	// The same payment's other events change nothing more.
	again := StripeEvent{ID: "evt_pi_cancelled", Type: StripePaymentSucceeded, OrderID: o.ID, PaymentIntentID: "pi_" + o.ID,
		Currency: "gbp", Amount: 155100, Created: transitionEventAt.Add(3600e9)}
	applyStripe(t, db, again)
	if g, _ := db.GetOrder(ctx, o.ID); g.PaidAt != got.PaidAt || g.Status != OrderCancelled {
		t.Fatalf("a second payment event moved the order: %+v", g)
	}

	// Staff refund it in Stripe: refunded, the note says so, and nothing goes to Books.
	applyStripe(t, db, StripeEvent{ID: "evt_refund_cancelled", Type: StripeChargeRefunded, OrderID: o.ID, PaymentIntentID: "pi_" + o.ID,
		ChargeID: "ch_" + o.ID, Currency: "gbp", Amount: 155100, AmountRefunded: 155100, Refunded: true, Created: transitionEventAt.Add(7200e9)})
	got, _ = db.GetOrder(ctx, o.ID)
	if got.Status != OrderCancelled || got.PaymentStatus != PaymentRefunded || got.FailureReason != CancelledPaidRefunded {
		t.Fatalf("after the refund: %+v", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox WHERE order_id = ?`, o.ID); n != 0 {
		t.Errorf("%d outbox jobs after refunding a cancelled order", n)
	}
}
