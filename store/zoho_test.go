package store

import (
	"context"
	"testing"
	"time"
)

// seedZohoOrder writes a company, a contact, two products and a paid order with two lines.
func seedZohoOrder(t *testing.T, db *DB, orderID string) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx *Tx) error {
		for _, q := range []string{
			`INSERT INTO companies (company_id, company_name) VALUES ('CO1', 'Acme Print') ON CONFLICT DO NOTHING`,
			`INSERT INTO contacts (contact_id, company_id, email, full_name, marketing_status)
				VALUES ('K1', 'CO1', 'Buyer@Acme.example', 'Bea Buyer', 'subscribed') ON CONFLICT DO NOTHING`,
			`INSERT INTO products (product_code, description, type) VALUES ('T1', 'Folder', 'tool'), ('C1', 'Blades', 'consumable')
				ON CONFLICT DO NOTHING`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (order_id, company_id, contact_id, status, payment_status,
				currency, subtotal, total_amount, stripe_payment_intent_id, paid_at)
			VALUES (?, 'CO1', 'K1', 'paid', 'paid', 'gbp', 12500, 12500, ?, '2026-03-02T09:30:00.000Z')`,
			orderID, "pi_"+orderID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO order_items (order_id, product_code, description, quantity, unit_amount, line_total)
			VALUES (?1, 'T1', 'Folder', 1, 10000, 10000), (?1, 'C1', 'Blades', 5, 500, 2500)`, orderID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func zohoUpdate(t *testing.T, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestZohoOrderIDsAreStoredStepByStep(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	seedZohoOrder(t, db, "ORD-000001")
	seedZohoOrder(t, db, "ORD-000002")

	o, err := db.GetZohoOrder(ctx, "ORD-000001")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != "paid" || o.TotalAmount != 12500 || o.StripePaymentIntentID != "pi_ORD-000001" ||
		!o.PaidAt.Equal(time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)) || len(o.Items) != 2 ||
		o.Items[0].ProductCode != "T1" || o.Items[1].Quantity != 5 || o.Company.Name != "Acme Print" ||
		o.Contact == nil || o.Contact.Email != "Buyer@Acme.example" {
		t.Fatalf("order read back wrong: %+v", o)
	}
	if _, err := db.GetZohoOrder(ctx, "ORD-404"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("missing order: %v, want not found", err)
	}

	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoCustomer(ctx, "ORD-000001", "CO1", "cust-1", "K1", "person-1") })
	// A second customer id never replaces the company's first one.
	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoCustomer(ctx, "ORD-000002", "CO1", "cust-2", "", "") })
	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoItem(ctx, "T1", "item-1") })
	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoInvoice(ctx, "ORD-000001", "inv-1") })
	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoPayment(ctx, "ORD-000001", "pay-1") })

	o, _ = db.GetZohoOrder(ctx, "ORD-000001")
	if o.ZohoCustomerID != "cust-1" || o.Company.ZohoCustomerID != "cust-1" || o.Contact.ZohoContactID != "person-1" ||
		o.Items[0].ZohoItemID != "item-1" || o.Items[1].ZohoItemID != "" || o.ZohoInvoiceID != "inv-1" || o.ZohoPaymentID != "pay-1" {
		t.Fatalf("ids after saves: %+v", o)
	}
	o2, _ := db.GetZohoOrder(ctx, "ORD-000002")
	if o2.ZohoCustomerID != "cust-2" || o2.Company.ZohoCustomerID != "cust-1" {
		t.Fatalf("second order: customer %q, company's %q", o2.ZohoCustomerID, o2.Company.ZohoCustomerID)
	}
	for name, fn := range map[string]func(tx *Tx) error{
		"unknown order":   func(tx *Tx) error { return tx.SaveZohoInvoice(ctx, "ORD-404", "x") },
		"unknown product": func(tx *Tx) error { return tx.SaveZohoItem(ctx, "NOPE", "x") },
		"empty id":        func(tx *Tx) error { return tx.SaveZohoPayment(ctx, "ORD-000001", "") },
	} {
		if err := db.Update(ctx, fn); err == nil {
			t.Errorf("%s: saved without error", name)
		}
	}
}

func TestZohoRefundLedgerBooksOnce(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	seedZohoOrder(t, db, "ORD-000001")
	ref := "refund:ch_1:2500"
	if _, ok, err := db.GetZohoRefund(ctx, ref); err != nil || ok {
		t.Fatalf("before booking: ok %v err %v", ok, err)
	}
	r := ZohoRefund{Reference: ref, OrderID: "ORD-000001", ChargeID: "ch_1", AmountRefundedTotal: 2500,
		RefundAmount: 2500, Currency: "gbp", ZohoPaymentID: "pay-1", ZohoRefundID: "rf-1"}
	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoRefund(ctx, r) })
	r.ZohoRefundID = "rf-2"
	zohoUpdate(t, db, func(tx *Tx) error { return tx.SaveZohoRefund(ctx, r) })
	got, ok, err := db.GetZohoRefund(ctx, ref)
	if err != nil || !ok || got.ZohoRefundID != "rf-1" || got.RefundAmount != 2500 || got.CreatedAt.IsZero() {
		t.Fatalf("booked refund: %+v ok %v err %v", got, ok, err)
	}
}

func TestApplyZohoEngagement(t *testing.T) {
	ctx := context.Background()
	db := openOutboxDB(t, newOutboxClock())
	seedZohoOrder(t, db, "ORD-000001")
	apply := func(e ZohoEngagement) (int64, bool) {
		t.Helper()
		var id int64
		var dup bool
		zohoUpdate(t, db, func(tx *Tx) error {
			var err error
			id, dup, err = tx.ApplyZohoEngagement(ctx, e)
			return err
		})
		return id, dup
	}
	status := func() string {
		k, err := db.GetContact(ctx, "K1")
		if err != nil {
			t.Fatal(err)
		}
		return k.MarketingStatus
	}
	unsub := ZohoEngagement{Event: Event{SourceEventID: "z-1", Name: "email_unsubscribed", ContactID: "K1", CompanyID: "CO1"},
		MarketingStatus: MarketingUnsubscribed, Body: `{"event_type":"email_unsubscribed"}`}
	id, dup := apply(unsub)
	if id == 0 || dup || status() != MarketingUnsubscribed {
		t.Fatalf("first delivery: id %d dup %v status %s", id, dup, status())
	}
	// The contact resubscribes elsewhere; a repeat of the old delivery must not unsubscribe again.
	zohoUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE contacts SET marketing_status = 'subscribed' WHERE contact_id = 'K1'`)
		return err
	})
	if id, dup = apply(unsub); id != 0 || !dup || status() != MarketingSubscribed {
		t.Fatalf("repeat: id %d dup %v status %s", id, dup, status())
	}
	var events, attempts int
	var meta, deliveryStatus string
	db.Read().QueryRow(`SELECT count(*), max(meta) FROM engagement_events WHERE source = 'zoho'`).Scan(&events, &meta)
	db.Read().QueryRow(`SELECT attempts, status FROM webhook_deliveries WHERE provider = 'zoho' AND event_id = 'z-1'`).
		Scan(&attempts, &deliveryStatus)
	if events != 1 || attempts != 2 || deliveryStatus != "processed" || meta != `{"marketing_status":{"from":"subscribed","to":"unsubscribed"}}` {
		t.Fatalf("events %d, delivery attempts %d status %s, meta %s", events, attempts, deliveryStatus, meta)
	}

	// A failing part rolls the whole delivery back: no event, no status change.
	err := db.Update(ctx, func(tx *Tx) error {
		_, _, err := tx.ApplyZohoEngagement(ctx, ZohoEngagement{Event: Event{SourceEventID: "z-2", Name: "email_bounced",
			ContactID: "NOPE"}, MarketingStatus: MarketingBounced})
		return err
	})
	if ErrorCode(err) != ENOTFOUND {
		t.Fatalf("unknown contact: %v", err)
	}
	db.Read().QueryRow(`SELECT count(*) FROM engagement_events`).Scan(&events)
	if events != 1 {
		t.Fatalf("events after a failed delivery: %d", events)
	}
}

func TestResumeDeferredJobs(t *testing.T) {
	ctx := context.Background()
	clk := newOutboxClock()
	db := openOutboxDB(t, clk)
	later := clk.Now().Add(time.Hour)
	a := mustEnqueue(t, db, NewJob{Type: JobZohoSyncOrder, Payload: ZohoSyncOrderArgs{OrderID: "ORD-1"}, RunAt: later})
	b := mustEnqueue(t, db, NewJob{Type: "send_email", RunAt: later})
	var n int64
	zohoUpdate(t, db, func(tx *Tx) error {
		var err error
		n, err = tx.ResumeDeferredJobs(ctx, "zoho_sync_order", "zoho_sync_refund")
		return err
	})
	if n != 1 || !mustGetJob(t, db, a).ScheduledFor.Equal(clk.Now()) || !mustGetJob(t, db, b).ScheduledFor.Equal(later) {
		t.Fatalf("resumed %d; zoho job at %v, other at %v", n, mustGetJob(t, db, a).ScheduledFor, mustGetJob(t, db, b).ScheduledFor)
	}
}
