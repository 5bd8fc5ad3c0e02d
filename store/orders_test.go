package store

import (
	"context"
	"strings"
	"testing"
)

// seedOrderCatalog adds a company (gbp), its contact, another company's contact, three
// products (one inactive) and their prices.
func seedOrderCatalog(t testing.TB, db *DB) {
	t.Helper()
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, c := range []Company{{ID: "ACME", Name: "Acme Ltd", Currency: "gbp"}, {ID: "OTHER", Name: "Other plc", Currency: "eur"}} {
			if _, err := tx.UpsertCompany(ctx, c); err != nil {
				return err
			}
		}
		for _, k := range []Contact{{ID: "K1", CompanyID: "ACME", Email: "buyer@acme.example"},
			{ID: "K2", CompanyID: "OTHER", Email: "someone@other.example"}} {
			if _, err := tx.UpsertContact(ctx, k); err != nil {
				return err
			}
		}
		for _, p := range []Product{{Code: "TOOL-1", Description: "Creaser", Type: "tool", Active: true},
			{Code: "BLADE-1", Description: "Blade pack", Type: "consumable", Active: true},
			{Code: "OLD-1", Description: "Retired", Type: "part", Active: false}} {
			if _, err := tx.UpsertProduct(ctx, p); err != nil {
				return err
			}
		}
		for _, p := range []Price{{ProductCode: "TOOL-1", Currency: "gbp", UnitAmount: 150000},
			{ProductCode: "BLADE-1", Currency: "gbp", UnitAmount: 2500, StripePriceID: "price_blade_gbp"},
			{ProductCode: "BLADE-1", Currency: "eur", UnitAmount: 2900},
			{ProductCode: "OLD-1", Currency: "gbp", UnitAmount: 100}} {
			if _, err := tx.UpsertPrice(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func createTestOrder(t testing.TB, db *DB, n NewOrder) (Order, error) {
	t.Helper()
	var o Order
	err := db.Update(context.Background(), func(tx *Tx) error {
		var err error
		o, err = tx.CreateOrder(context.Background(), n)
		return err
	})
	return o, err
}

func TestCreateOrderPricesFromCatalogue(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	ctx := context.Background()
	o, err := createTestOrder(t, db, NewOrder{CompanyID: "ACME", ContactID: "K1", OfferKey: "spring", CampaignKey: "c1",
		Lines: []OrderLine{{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "ORD-000001" || o.Currency != "gbp" || o.Subtotal != 160000 || o.TotalAmount != 160000 || o.ContactEmail != "buyer@acme.example" {
		t.Fatalf("order %+v", o)
	}
	if o.Items[1].StripePriceID != "price_blade_gbp" || o.Items[0].StripePriceID != "" {
		t.Fatalf("stripe price ids %+v", o.Items)
	}
	o2, err := createTestOrder(t, db, NewOrder{CompanyID: "ACME", Currency: "eur", Lines: []OrderLine{{Ref: "items[0]", ProductCode: "BLADE-1", Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if o2.ID != "ORD-000002" || o2.Currency != "eur" || o2.TotalAmount != 5800 {
		t.Fatalf("second order %+v", o2)
	}
	got, err := db.GetOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != OrderPending || got.PaymentStatus != PaymentUnpaid || len(got.Items) != 2 || got.Items[0].LineTotal != 150000 ||
		got.OfferKey != "spring" || got.CampaignKey != "c1" {
		t.Fatalf("stored order %+v", got)
	}
	var name string
	var value int64
	if err := db.Read().QueryRow(`SELECT event_name, value FROM engagement_events WHERE source = 'web'
		AND source_event_id = 'checkout_started:ORD-000001'`).Scan(&name, &value); err != nil || name != "checkout_started" || value != 160000 {
		t.Fatalf("checkout_started event: %q %d %v", name, value, err)
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.SetCheckoutSession(ctx, o.ID, "cs_1", "https://checkout.example/cs_1") })
	got, err = db.GetOrderByCheckoutSession(ctx, "cs_1")
	if err != nil || got.ID != o.ID || got.CheckoutURL != "https://checkout.example/cs_1" {
		t.Fatalf("by session: %+v %v", got, err)
	}
	if _, err := db.GetOrderByCheckoutSession(ctx, "cs_nope"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("unknown session: %v", err)
	}
	err = db.Update(ctx, func(tx *Tx) error { return tx.SetCheckoutSession(ctx, o.ID, "cs_2", "") })
	if ErrorCode(err) != ECONFLICT {
		t.Fatalf("second session: %v", err)
	}
	mustUpdate(t, db, func(tx *Tx) error { return tx.FailCheckout(ctx, o2.ID, "stripe down") })
	if got, _ := db.GetOrder(ctx, o2.ID); got.Status != OrderFailed || got.FailureReason != "stripe down" {
		t.Fatalf("failed checkout %+v", got)
	}
}

func TestCreateOrderRejects(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	line := func(code string, q int64) OrderLine {
		return OrderLine{Ref: "items[0]", ProductCode: code, Quantity: q}
	}
	tests := []struct {
		name string
		n    NewOrder
		want string
	}{
		{"unknown company", NewOrder{CompanyID: "NOPE", Lines: []OrderLine{line("TOOL-1", 1)}}, ErrUnknownParty},
		{"unknown contact", NewOrder{CompanyID: "ACME", ContactID: "K9", Lines: []OrderLine{line("TOOL-1", 1)}}, ErrUnknownParty},
		{"foreign contact", NewOrder{CompanyID: "ACME", ContactID: "K2", Lines: []OrderLine{line("TOOL-1", 1)}}, ErrUnknownParty},
		{"unknown product", NewOrder{CompanyID: "ACME", Lines: []OrderLine{line("XX", 1)}}, `items[0]: unknown product code "XX"`},
		{"inactive product", NewOrder{CompanyID: "ACME", Lines: []OrderLine{line("OLD-1", 1)}}, `items[0]: product "OLD-1" is not available`},
		{"no price", NewOrder{CompanyID: "ACME", Currency: "usd", Lines: []OrderLine{line("TOOL-1", 1)}}, `items[0]: product "TOOL-1" has no price in USD`},
		{"company currency", NewOrder{CompanyID: "OTHER", Lines: []OrderLine{line("TOOL-1", 1)}}, `has no price in EUR`},
		{"quantity", NewOrder{CompanyID: "ACME", Lines: []OrderLine{line("TOOL-1", 1000)}}, `items[0]: quantity must be between 1 and 999`},
		{"empty", NewOrder{CompanyID: "ACME"}, `items: at least one item`},
		{"twice", NewOrder{CompanyID: "ACME", Lines: []OrderLine{line("TOOL-1", 1), {Ref: "items[1]", ProductCode: "TOOL-1", Quantity: 1}}}, `items[1]: product code "TOOL-1" appears twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := createTestOrder(t, db, tt.n)
			if ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), tt.want) {
				t.Fatalf("got %v (%s), want EINVALID containing %q", err, ErrorCode(err), tt.want)
			}
		})
	}
	counts, err := db.CountRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts["orders"] != 0 || counts["order_items"] != 0 || counts["engagement_events"] != 0 {
		t.Fatalf("rejected orders left rows: %v", counts)
	}
}

func TestNextSequence(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	next := func(name string) int64 {
		t.Helper()
		var v int64
		mustUpdate(t, db, func(tx *Tx) error {
			var err error
			v, err = tx.NextSequence(ctx, name)
			return err
		})
		return v
	}
	if a, b, c := next("test_a"), next("test_a"), next("test_b"); a != 1 || b != 2 || c != 1 {
		t.Fatalf("test_a 1, 2 and test_b 1: got %d, %d, %d", a, b, c)
	}
	// A rolled-back transaction does not use up a number.
	err := db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.NextSequence(ctx, "test_a"); err != nil {
			return err
		}
		return Errorf(EINVALID, "roll back")
	})
	if err == nil {
		t.Fatal("the failing transaction committed")
	}
	if v := next("test_a"); v != 3 {
		t.Fatalf("after a rollback test_a gave %d, want 3", v)
	}
}
