package store

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// stripeTestOrder places a pending order of TOOL-1 ×1 and BLADE-1 ×2 (155000 gbp).
func stripeTestOrder(t *testing.T, db *DB) Order {
	t.Helper()
	o, err := createTestOrder(t, db, NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []OrderLine{
		{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// preparedStripe holds each test database's prepared statements; applyStripeWith(nil) runs
// the same code preparing per transaction.
var preparedStripe sync.Map

func applyStripe(t *testing.T, db *DB, e StripeEvent) StripeOutcome {
	t.Helper()
	ps, ok := preparedStripe.Load(db)
	if !ok {
		p, err := db.PrepareStripeStatements(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ps, _ = preparedStripe.LoadOrStore(db, p)
		t.Cleanup(func() { preparedStripe.Delete(db) })
	}
	return applyStripeWith(t, db, ps.(*StripeStatements), e)
}

func applyStripeWith(t *testing.T, db *DB, ps *StripeStatements, e StripeEvent) StripeOutcome {
	t.Helper()
	var out StripeOutcome
	if e.Created.IsZero() {
		e.Created = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	}
	if e.Body == "" {
		e.Body = `{"id":"` + e.ID + `"}`
	}
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		out, err = tx.ApplyStripeEvent(context.Background(), ps, e)
		return err
	})
	return out
}

func countRows(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr(v int64) *int64 { return &v }

func completed(id, orderID, pi string, total int64) StripeEvent {
	return StripeEvent{ID: id, Type: StripeCheckoutCompleted, OrderID: orderID, SessionID: "cs_" + orderID,
		PaymentIntentID: pi, CustomerID: "cus_1", InvoiceID: "in_" + orderID, Currency: "gbp", PaymentStatus: "paid",
		Amount: total, AmountTotal: ptr(total), AmountSubtotal: ptr(total - 100), AmountTax: ptr(100)}
}

func TestStripeCompletionPaysOnce(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o := stripeTestOrder(t, db)
	out := applyStripe(t, db, completed("evt_1", o.ID, "pi_1", 155100))
	if out.Status != DeliveryProcessed || out.OrderID != o.ID {
		t.Fatalf("outcome %+v", out)
	}
	got, _ := db.GetOrder(ctx, o.ID)
	if got.Status != OrderPaid || got.PaymentStatus != PaymentPaid || got.TotalAmount != 155100 || got.TaxAmount != 100 ||
		got.Subtotal != 155000 || got.StripePaymentIntentID != "pi_1" || got.StripeCustomerID != "cus_1" ||
		got.StripeInvoiceID != "in_"+o.ID || got.PaidAt != "2026-03-01T12:00:00.000Z" {
		t.Fatalf("paid order %+v", got)
	}
	// The same event again, and the PaymentIntent's success after it: no second effect.
	if out := applyStripe(t, db, completed("evt_1", o.ID, "pi_1", 155100)); !out.Repeat || out.Status != DeliveryProcessed {
		t.Fatalf("repeat outcome %+v", out)
	}
	applyStripe(t, db, StripeEvent{ID: "evt_2", Type: StripePaymentSucceeded, OrderID: o.ID, PaymentIntentID: "pi_1", Currency: "gbp", Amount: 155100})
	if n := countRows(t, db, `SELECT count(*) FROM sales WHERE invoice_number = ? AND source = 'stripe' AND order_id = ? AND txn_date = '2026-03-01'`, o.ID, o.ID); n != 2 {
		t.Fatalf("%d sales rows, want 2", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order' AND order_id = ? AND dedupe_key = ?`, o.ID, "zoho_sync_order:"+o.ID); n != 1 {
		t.Fatalf("%d sync jobs, want 1", n)
	}
	if n := countRows(t, db, `SELECT attempts FROM webhook_deliveries WHERE provider = 'stripe' AND event_id = 'evt_1'`); n != 2 {
		t.Fatalf("attempts %d, want 2", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM engagement_events WHERE source = 'stripe'`); n != 2 {
		t.Fatalf("%d stripe events, want 2", n)
	}
}

func TestStripeEventsOutOfOrder(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o := stripeTestOrder(t, db)
	// A full refund arrives before anything links its PaymentIntent to the order: it waits.
	out := applyStripe(t, db, StripeEvent{ID: "evt_r2", Type: StripeChargeRefunded, ChargeID: "ch_1", PaymentIntentID: "pi_1",
		Currency: "gbp", Amount: 155100, AmountRefunded: 155100, Refunded: true})
	if out.Status != DeliveryIgnored || countRows(t, db, `SELECT count(*) FROM stripe_parked_events`) != 1 {
		t.Fatalf("parked outcome %+v", out)
	}
	// A late failure and the expiry before the completion: the order fails, then is paid.
	applyStripe(t, db, StripeEvent{ID: "evt_f", Type: StripePaymentFailed, OrderID: o.ID, PaymentIntentID: "pi_1",
		Currency: "gbp", FailureCode: "card_declined", DeclineCode: "insufficient_funds", FailureMessage: "Your card has insufficient funds."})
	got, _ := db.GetOrder(ctx, o.ID)
	if got.Status != OrderFailed || got.FailureReason != "Your card has insufficient funds." || got.StripePaymentIntentID != "pi_1" {
		t.Fatalf("after failure %+v", got)
	}
	// Linking pi_1 applied the parked refund; the order is not paid, so no refund job yet.
	if got.AmountRefunded != 155100 || got.PaymentStatus != PaymentUnpaid || countRows(t, db, `SELECT count(*) FROM stripe_parked_events`) != 0 {
		t.Fatalf("parked refund not applied: %+v", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_refund'`); n != 0 {
		t.Fatalf("%d refund jobs before payment", n)
	}
	if st := countRows(t, db, `SELECT count(*) FROM webhook_deliveries WHERE event_id = 'evt_r2' AND status = 'processed'`); st != 1 {
		t.Fatal("parked delivery not marked processed")
	}
	applyStripe(t, db, StripeEvent{ID: "evt_x", Type: StripeCheckoutExpired, OrderID: o.ID, SessionID: "cs_" + o.ID})
	applyStripe(t, db, completed("evt_c", o.ID, "pi_1", 155100))
	// A partial refund state arriving after the full one changes nothing.
	applyStripe(t, db, StripeEvent{ID: "evt_r1", Type: StripeChargeRefunded, ChargeID: "ch_1", PaymentIntentID: "pi_1",
		Currency: "gbp", Amount: 155100, AmountRefunded: 5000})
	applyStripe(t, db, StripeEvent{ID: "evt_f2", Type: StripePaymentFailed, OrderID: o.ID, PaymentIntentID: "pi_1", Currency: "gbp"})
	got, _ = db.GetOrder(ctx, o.ID)
	if got.Status != OrderPaid || got.PaymentStatus != PaymentRefunded || got.AmountRefunded != 155100 || got.FailureReason != "" {
		t.Fatalf("final %+v", got)
	}
	var payload string
	if err := db.Read().QueryRow(`SELECT payload FROM outbox WHERE job_type = 'zoho_sync_refund' AND dedupe_key = 'zoho_sync_refund:ch_1:155100'`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	_ = json.Unmarshal([]byte(payload), &p)
	if p["order_id"] != o.ID || p["refund_amount"] != float64(155100) || p["amount_refunded_total"] != float64(155100) || p["currency"] != "gbp" || p["charge_id"] != "ch_1" {
		t.Fatalf("refund payload %v", p)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_refund'`); n != 1 {
		t.Fatalf("%d refund jobs, want 1", n)
	}
}

func TestStripeRefundsGrow(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o := stripeTestOrder(t, db)
	applyStripe(t, db, StripeEvent{ID: "evt_p", Type: StripePaymentSucceeded, OrderID: o.ID, PaymentIntentID: "pi_9", Currency: "gbp", Amount: 155000})
	refund := func(id string, amount int64, full bool) {
		applyStripe(t, db, StripeEvent{ID: id, Type: StripeChargeRefunded, ChargeID: "ch_9", PaymentIntentID: "pi_9",
			Currency: "gbp", Amount: 155000, AmountRefunded: amount, Refunded: full})
	}
	refund("evt_r1", 1000, false)
	got, _ := db.GetOrder(ctx, o.ID)
	if got.PaymentStatus != PaymentPartiallyRefunded || got.AmountRefunded != 1000 {
		t.Fatalf("partial %+v", got)
	}
	refund("evt_r2", 155000, true)
	got, _ = db.GetOrder(ctx, o.ID)
	if got.PaymentStatus != PaymentRefunded || got.AmountRefunded != 155000 {
		t.Fatalf("full %+v", got)
	}
	rows, err := db.Read().Query(`SELECT json_extract(payload, '$.refund_amount') FROM outbox WHERE job_type = 'zoho_sync_refund' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var deltas []int64
	for rows.Next() {
		var d int64
		_ = rows.Scan(&d)
		deltas = append(deltas, d)
	}
	if len(deltas) != 2 || deltas[0] != 1000 || deltas[1] != 154000 {
		t.Fatalf("refund deltas %v", deltas)
	}
	// The completion arriving afterwards keeps the refunds.
	applyStripe(t, db, completed("evt_c", o.ID, "pi_9", 155000))
	got, _ = db.GetOrder(ctx, o.ID)
	if got.PaymentStatus != PaymentRefunded || got.AmountRefunded != 155000 || got.Status != OrderPaid {
		t.Fatalf("after completion %+v", got)
	}
}

func TestStripeStateRules(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	status := func(id string) (OrderStatus, PaymentStatus) {
		o, err := db.GetOrder(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return o.Status, o.PaymentStatus
	}

	// Async: completion unpaid records ids only; the async success pays.
	a := stripeTestOrder(t, db)
	ev := completed("evt_a1", a.ID, "pi_a", 155000)
	ev.PaymentStatus = "unpaid"
	applyStripe(t, db, ev)
	if s, _ := status(a.ID); s != OrderPending {
		t.Fatalf("async completion: %s", s)
	}
	ok := completed("evt_a2", a.ID, "pi_a", 155000)
	ok.Type = StripeAsyncPaymentSucceeded
	applyStripe(t, db, ok)
	if s, p := status(a.ID); s != OrderPaid || p != PaymentPaid {
		t.Fatalf("async success: %s %s", s, p)
	}

	// Async failure fails a pending or expired order, never a paid one.
	b := stripeTestOrder(t, db)
	applyStripe(t, db, StripeEvent{ID: "evt_b1", Type: StripeCheckoutExpired, OrderID: b.ID, SessionID: "cs_b"})
	if s, _ := status(b.ID); s != OrderExpired {
		t.Fatalf("expired: %s", s)
	}
	applyStripe(t, db, StripeEvent{ID: "evt_b2", Type: StripeAsyncPaymentFailed, SessionID: "cs_b"})
	if s, _ := status(b.ID); s != OrderFailed {
		t.Fatalf("async failed after expiry: %s", s)
	}
	applyStripe(t, db, StripeEvent{ID: "evt_b3", Type: StripeCheckoutExpired, OrderID: b.ID})
	if s, _ := status(b.ID); s != OrderFailed {
		t.Fatalf("expiry after failure: %s", s)
	}
	fail := StripeEvent{ID: "evt_a3", Type: StripeAsyncPaymentFailed, OrderID: a.ID}
	applyStripe(t, db, fail)
	if s, _ := status(a.ID); s != OrderPaid {
		t.Fatalf("async failure unpaid an order: %s", s)
	}

	// invoice.paid links by metadata and stores the invoice id.
	c := stripeTestOrder(t, db)
	applyStripe(t, db, StripeEvent{ID: "evt_c1", Type: StripeInvoicePaid, OrderID: c.ID, InvoiceID: "in_c", CustomerID: "cus_c", Currency: "gbp", Amount: 155000})
	if o, _ := db.GetOrder(ctx, c.ID); o.StripeInvoiceID != "in_c" || o.Status != OrderPending {
		t.Fatalf("invoice: %+v", o)
	}

	// Unknown types and unknown orders are recorded and do nothing.
	if out := applyStripe(t, db, StripeEvent{ID: "evt_u1", Type: "customer.created"}); out.Status != DeliveryIgnored {
		t.Fatalf("unknown type: %+v", out)
	}
	if out := applyStripe(t, db, StripeEvent{ID: "evt_u2", Type: StripeCheckoutCompleted, OrderID: "ord_elsewhere", SessionID: "cs_zz", PaymentStatus: "paid"}); out.Status != DeliveryIgnored || out.Note == "" {
		t.Fatalf("unknown order: %+v", out)
	}
	if n := countRows(t, db, `SELECT count(*) FROM webhook_deliveries WHERE status = 'ignored' AND body IS NOT NULL`); n != 2 {
		t.Fatalf("%d ignored deliveries, want 2", n)
	}

	// An engagement event already present (delivery rows pruned, say) makes the delivery a duplicate.
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE event_id = 'evt_c1'`)
		return err
	})
	if out := applyStripe(t, db, StripeEvent{ID: "evt_c1", Type: StripeInvoicePaid, OrderID: c.ID, InvoiceID: "in_c"}); out.Status != DeliveryDuplicate || out.Repeat {
		t.Fatalf("duplicate: %+v", out)
	}
}

func TestStripeFailedDeliveryIsRetried(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o := stripeTestOrder(t, db)
	e := completed("evt_1", o.ID, "pi_1", 155000)
	mustUpdate(t, db, func(tx *Tx) error { return tx.RecordStripeFailure(ctx, e, "boom") })
	seen, err := db.StripeEventsSeen(ctx, []string{"evt_1", "evt_2"})
	if err != nil || len(seen) != 0 {
		t.Fatalf("seen %v %v", seen, err)
	}
	if out := applyStripe(t, db, e); out.Repeat || out.Status != DeliveryProcessed {
		t.Fatalf("retry outcome %+v", out)
	}
	if n := countRows(t, db, `SELECT attempts FROM webhook_deliveries WHERE event_id = 'evt_1' AND status = 'processed' AND error IS NULL`); n != 2 {
		t.Fatalf("attempts %d", n)
	}
	seen, _ = db.StripeEventsSeen(ctx, []string{"evt_1", "evt_2"})
	if !seen["evt_1"] || seen["evt_2"] {
		t.Fatalf("seen %v", seen)
	}
	at, ok, err := db.LatestStripeEventTime(ctx)
	if err != nil || !ok || !at.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("latest %v %v %v", at, ok, err)
	}
	for range 3 {
		mustUpdate(t, db, func(tx *Tx) error { return tx.RecordRejectedDelivery(ctx, "stripe", "bad signature") })
	}
	if n := countRows(t, db, `SELECT sum(attempts) FROM webhook_deliveries WHERE status = 'rejected' AND body IS NULL`); n != 3 {
		t.Fatalf("rejected attempts %d", n)
	}
}

func TestStripeWithoutPreparedStatements(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	o := stripeTestOrder(t, db)
	refund := StripeEvent{ID: "evt_r", Type: StripeChargeRefunded, ChargeID: "ch_n", PaymentIntentID: "pi_n", Currency: "gbp", AmountRefunded: 700}
	applyStripeWith(t, db, nil, refund)
	applyStripeWith(t, db, nil, completed("evt_c", o.ID, "pi_n", 155000))
	if out := applyStripeWith(t, db, nil, completed("evt_c", o.ID, "pi_n", 155000)); !out.Repeat {
		t.Fatalf("repeat %+v", out)
	}
	got, _ := db.GetOrder(context.Background(), o.ID)
	if got.Status != OrderPaid || got.PaymentStatus != PaymentPartiallyRefunded || got.AmountRefunded != 700 {
		t.Fatalf("order %+v", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM outbox`); n != 2 {
		t.Fatalf("%d jobs, want sync + refund", n)
	}
}
