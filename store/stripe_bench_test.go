package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkApplyStripeEvent measures the writer's own cost of a Stripe payment: batches of 16
// checkout.session.completed events (each paying its own order) applied in one Update, as
// group commit runs them, on a database file at production pragmas. It isolates the store
// from HTTP, signatures and JSON; BenchmarkStripeWebhook in app measures the whole path.
func BenchmarkApplyStripeEvent(b *testing.B) {
	const batch = 16
	ctx := context.Background()
	db := openTest(b, Options{})
	seedOrderCatalog(b, db)
	ps, err := db.PrepareStripeStatements(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Close()
	events := make([]StripeEvent, b.N)
	mustUpdate(b, db, func(tx *Tx) error {
		for i := range events {
			o, err := tx.CreateOrder(ctx, NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []OrderLine{
				{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 2}}})
			if err != nil {
				return err
			}
			if err := tx.SetCheckoutSession(ctx, o.ID, "cs_"+o.ID, ""); err != nil { // as checkout leaves it
				return err
			}
			total, sub, tax := int64(156000), int64(155000), int64(1000)
			events[i] = StripeEvent{ID: "evt_" + o.ID, Type: StripeCheckoutCompleted, Created: time.Now(),
				Body:    fmt.Sprintf(`{"id":"evt_%s","type":"checkout.session.completed","padding":"%0900d"}`, o.ID, 0),
				OrderID: o.ID, SessionID: "cs_" + o.ID, PaymentIntentID: "pi_" + o.ID, InvoiceID: "in_" + o.ID,
				Currency: "gbp", PaymentStatus: "paid", Amount: total, AmountTotal: &total, AmountSubtotal: &sub, AmountTax: &tax}
		}
		return nil
	})
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += batch {
		mustUpdate(b, db, func(tx *Tx) error {
			for _, e := range events[i:min(i+batch, b.N)] {
				if out, err := tx.ApplyStripeEvent(ctx, ps, e); err != nil {
					return err
				} else if out.Status != DeliveryProcessed {
					return fmt.Errorf("event %s: %s (%s)", e.ID, out.Status, out.Note)
				}
			}
			return nil
		})
	}
	elapsed := time.Since(start)
	b.StopTimer()
	checkStripeBenchWork(b, db, b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkApplyStripeEventConcurrent applies the same events from 32 goroutines, one Update
// each, as webhook requests do: group commit batches them. Against BenchmarkApplyStripeEvent it
// shows the cost of the per-request transaction plumbing.
func BenchmarkApplyStripeEventConcurrent(b *testing.B) {
	const workers = 32
	ctx := context.Background()
	db := openTest(b, Options{})
	seedOrderCatalog(b, db)
	ps, err := db.PrepareStripeStatements(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Close()
	events := make([]StripeEvent, b.N)
	mustUpdate(b, db, func(tx *Tx) error {
		for i := range events {
			o, err := tx.CreateOrder(ctx, NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []OrderLine{
				{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 2}}})
			if err != nil {
				return err
			}
			if err := tx.SetCheckoutSession(ctx, o.ID, "cs_"+o.ID, ""); err != nil { // as checkout leaves it
				return err
			}
			total, sub, tax := int64(156000), int64(155000), int64(1000)
			events[i] = StripeEvent{ID: "evt_" + o.ID, Type: StripeCheckoutCompleted, Created: time.Now(),
				Body:    fmt.Sprintf(`{"id":"evt_%s","type":"checkout.session.completed","padding":"%0900d"}`, o.ID, 0),
				OrderID: o.ID, SessionID: "cs_" + o.ID, PaymentIntentID: "pi_" + o.ID, InvoiceID: "in_" + o.ID,
				Currency: "gbp", PaymentStatus: "paid", Amount: total, AmountTotal: &total, AmountSubtotal: &sub, AmountTax: &tax}
		}
		return nil
	})
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if err := db.Update(ctx, func(tx *Tx) error {
					out, err := tx.ApplyStripeEvent(ctx, ps, events[i])
					if err == nil && (out.Status != DeliveryProcessed || out.Repeat || out.OrderID != events[i].OrderID) {
						err = fmt.Errorf("event %s: %+v", events[i].ID, out)
					}
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	checkStripeBenchWork(b, db, b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// checkStripeBenchWork asserts that n events paid n orders in full, so a no-op cannot look fast.
func checkStripeBenchWork(b *testing.B, db *DB, n int) {
	b.Helper()
	for _, c := range []struct {
		query string
		want  int
	}{
		{`SELECT count(*) FROM orders WHERE status = 'paid' AND payment_status = 'paid' AND paid_at IS NOT NULL`, n},
		{`SELECT count(*) FROM sales WHERE source = 'stripe'`, 2 * n},
		{`SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order'`, n},
		{`SELECT count(*) FROM engagement_events WHERE source = 'stripe' AND event_name = 'checkout_completed'`, n},
		{`SELECT count(*) FROM webhook_deliveries WHERE provider = 'stripe' AND status = 'processed'`, n},
	} {
		if got := countRows(b, db, c.query); got != c.want {
			b.Fatalf("%s = %d, want %d", c.query, got, c.want)
		}
	}
}
