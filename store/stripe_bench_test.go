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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
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
					_, err := tx.ApplyStripeEvent(ctx, ps, events[i])
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
