package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// day returns the UTC date n days before today, as the views count days against date('now').
func day(n int) string { return time.Now().UTC().AddDate(0, 0, -n).Format("2006-01-02") }

type saleSpec struct {
	daysAgo int
	amount  int64 // minor units, quantity 1
}

// seedCompany creates a company with one order (invoice) per spec.
func seedCompany(t *testing.T, db *DB, id string, orders ...saleSpec) {
	t.Helper()
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := tx.UpsertCompany(ctx, Company{ID: id, Name: "Company " + id}); err != nil {
			return err
		}
		if _, err := tx.UpsertProduct(ctx, Product{Code: "P1", Description: "Rib", Type: "consumable", Active: true}); err != nil {
			return err
		}
		for i, o := range orders {
			if _, err := tx.UpsertSale(ctx, Sale{CompanyID: id, ProductCode: "P1", Quantity: 1, UnitAmount: o.amount,
				Currency: "gbp", TxnDate: day(o.daysAgo), InvoiceNumber: fmt.Sprintf("%s-%d", id, i)}); err != nil {
				return err
			}
		}
		return nil
	})
}

func addEvent(t *testing.T, db *DB, company, name string, at time.Time) {
	t.Helper()
	mustUpdate(t, db, func(tx *Tx) error {
		_, _, err := tx.InsertEvent(context.Background(), Event{Source: "web", SourceEventID: company + name + at.String(),
			Name: EventName(name), CompanyID: company, OccurredAt: at})
		return err
	})
}

type action struct {
	Company, Type string
	Score         int
}

func nextBestActions(t *testing.T, db *DB) map[string][]action {
	t.Helper()
	rows, err := db.Read().Query(`SELECT company_id, action_type, priority_score, action_meta FROM v_next_best_actions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]action{}
	for rows.Next() {
		var a action
		var meta string
		if err := rows.Scan(&a.Company, &a.Type, &a.Score, &meta); err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(meta)) {
			t.Fatalf("action_meta is not JSON: %s", meta)
		}
		out[a.Company] = append(out[a.Company], a)
	}
	return out
}

func hasAction(actions []action, typ string) (action, bool) {
	for _, a := range actions {
		if a.Type == typ {
			return a, true
		}
	}
	return action{}, false
}

func TestNextBestActionsThresholds(t *testing.T) {
	db := openTest(t, Options{})
	now := time.Now().UTC()
	// reorder_reminder: > 60 days since the last order and more than 1.5× the average gap.
	seedCompany(t, db, "R60", saleSpec{100, 100}, saleSpec{60, 100})                       // gap 40, 60 days: no (not > 60)
	seedCompany(t, db, "R61", saleSpec{101, 100}, saleSpec{61, 100})                       // gap 40, 61 days, 61 > 60: yes
	seedCompany(t, db, "R15X", saleSpec{140, 100}, saleSpec{90, 100})                      // gap 50, 90 days > 75: yes
	seedCompany(t, db, "R15EQ", saleSpec{125, 100}, saleSpec{75, 100})                     // gap 50, 75 days = 1.5×: no
	seedCompany(t, db, "R15UP", saleSpec{126, 100}, saleSpec{76, 100})                     // gap 50, 76 days > 75: yes
	seedCompany(t, db, "RONE", saleSpec{200, 100})                                         // one order: no reorder, no invite
	seedCompany(t, db, "RFRAC", saleSpec{162, 100}, saleSpec{121, 100}, saleSpec{81, 100}) // gaps 41,40 avg 40.5; 81 < 60.75? no: 81 > 60.75 yes
	// engagement_needed: lifetime value > 500 (major units), no engagement and no order in 180 days.
	seedCompany(t, db, "E500", saleSpec{200, 50000})   // exactly 500: no
	seedCompany(t, db, "E501", saleSpec{200, 50100})   // 501: score 65
	seedCompany(t, db, "E1000", saleSpec{200, 100000}) // exactly 1,000: 65
	seedCompany(t, db, "E1001", saleSpec{200, 100100}) // 80
	seedCompany(t, db, "E5000", saleSpec{200, 500000}) // exactly 5,000: 80
	seedCompany(t, db, "E5001", saleSpec{200, 500100}) // 95
	seedCompany(t, db, "E180", saleSpec{180, 900000})  // last order 180 days ago: still "in 180 days": no
	seedCompany(t, db, "EVENT", saleSpec{200, 900000}) // engaged recently: no
	addEvent(t, db, "EVENT", "email_opened", now.AddDate(0, 0, -10))
	seedCompany(t, db, "EOLDEV", saleSpec{200, 900000}) // engaged 200 days ago: yes, 95
	addEvent(t, db, "EOLDEV", "email_opened", now.AddDate(0, 0, -200))
	// portal_invite: ≥ 2 orders and no offer_view in 30 days.
	seedCompany(t, db, "PVIEW", saleSpec{20, 100}, saleSpec{10, 100})
	addEvent(t, db, "PVIEW", "offer_view", now.AddDate(0, 0, -5))
	seedCompany(t, db, "POLDVIEW", saleSpec{20, 100}, saleSpec{10, 100})
	addEvent(t, db, "POLDVIEW", "offer_view", now.AddDate(0, 0, -31))
	// Companies with no orders and no events get nothing.
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.UpsertCompany(context.Background(), Company{ID: "EMPTY", Name: "Empty"})
		return err
	})

	got := nextBestActions(t, db)
	reorder := map[string]bool{"R60": false, "R61": true, "R15X": true, "R15EQ": false, "R15UP": true, "RONE": false, "RFRAC": true}
	for c, want := range reorder {
		a, ok := hasAction(got[c], "reorder_reminder")
		if ok != want {
			t.Errorf("%s: reorder_reminder %v, want %v (actions %v)", c, ok, want, got[c])
		}
		if ok && a.Score != 90 {
			t.Errorf("%s: reorder score %d", c, a.Score)
		}
	}
	engagement := map[string]int{"E500": 0, "E501": 65, "E1000": 65, "E1001": 80, "E5000": 80, "E5001": 95, "E180": 0, "EVENT": 0, "EOLDEV": 95}
	for c, want := range engagement {
		a, ok := hasAction(got[c], "engagement_needed")
		if (want != 0) != ok || (ok && a.Score != want) {
			t.Errorf("%s: engagement_needed %v score %d, want score %d", c, ok, a.Score, want)
		}
	}
	invite := map[string]bool{"PVIEW": false, "POLDVIEW": true, "R61": true, "RONE": false, "E501": false}
	for c, want := range invite {
		a, ok := hasAction(got[c], "portal_invite")
		if ok != want || (ok && a.Score != 70) {
			t.Errorf("%s: portal_invite %v (score %d), want %v", c, ok, a.Score, want)
		}
	}
	if len(got["EMPTY"]) != 0 {
		t.Errorf("a company with no orders got %v", got["EMPTY"])
	}
	// Ordered by priority_score desc, then company_id.
	rows, err := db.Read().Query(`SELECT company_id, priority_score FROM v_next_best_actions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	prevScore, prevCompany := 1000, ""
	for rows.Next() {
		var c string
		var s int
		if err := rows.Scan(&c, &s); err != nil {
			t.Fatal(err)
		}
		if s > prevScore || (s == prevScore && c < prevCompany) {
			t.Fatalf("out of order: %s %d after %s %d", c, s, prevCompany, prevScore)
		}
		prevScore, prevCompany = s, c
	}
}

func TestConsumablePayloadShape(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, p := range []Product{
			{Code: "TOOL-A", Description: "Creaser", Type: "tool", Category: "Creasing", Active: true},
			{Code: "TOOL-B", Description: "Perforator", Type: "tool", Category: "Perforating", Active: true},
			{Code: "RIB-1", Description: "Rib 1", Type: "consumable", Category: "Ribs", Active: true},
			{Code: "RIB-2", Description: "Rib 2", Type: "consumable", Category: "Ribs", Active: true},
			{Code: "BLADE", Description: "Blade", Type: "consumable", Category: "Blades", Active: true},
			{Code: "OLD", Description: "Retired", Type: "consumable", Category: "Ribs", Active: false},
		} {
			if _, err := tx.UpsertProduct(ctx, p); err != nil {
				return err
			}
		}
		for _, p := range []Price{{"RIB-1", "eur", 4500, ""}, {"RIB-2", "eur", 4900, ""}, {"RIB-1", "gbp", 3900, ""}, {"BLADE", "gbp", 100, ""}} {
			if _, err := tx.UpsertPrice(ctx, p); err != nil {
				return err
			}
		}
		for _, m := range [][2]string{{"TOOL-A", "RIB-1"}, {"TOOL-A", "RIB-2"}, {"TOOL-A", "OLD"}, {"TOOL-B", "BLADE"}} {
			if _, err := tx.UpsertToolConsumable(ctx, m[0], m[1]); err != nil {
				return err
			}
		}
		if _, err := tx.UpsertCompany(ctx, Company{ID: "C1", Name: "Euro Print", Currency: "eur"}); err != nil {
			return err
		}
		for _, s := range []Sale{
			{CompanyID: "C1", ProductCode: "TOOL-A", Quantity: 1, UnitAmount: 100000, Currency: "eur", TxnDate: "2025-01-01", InvoiceNumber: "I1"},
			{CompanyID: "C1", ProductCode: "RIB-1", Quantity: 2, UnitAmount: 4500, Currency: "eur", TxnDate: "2025-02-01", InvoiceNumber: "I2"},
			{CompanyID: "C1", ProductCode: "RIB-2", Quantity: 5, UnitAmount: 4900, Currency: "eur", TxnDate: "2025-03-01", InvoiceNumber: "I3"},
			{CompanyID: "C1", ProductCode: "RIB-1", Quantity: 3, UnitAmount: 4500, Currency: "eur", TxnDate: "2025-01-15", InvoiceNumber: "I4"},
		} {
			if _, err := tx.UpsertSale(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	var reorder, tabs, currency string
	if err := db.Read().QueryRow(`SELECT currency, reorder_items, by_tool_tabs FROM vw_company_consumable_payload_v2
		WHERE company_id = 'C1'`).Scan(&currency, &reorder, &tabs); err != nil {
		t.Fatal(err)
	}
	type item struct {
		ProductCode    string  `json:"product_code"`
		Category       string  `json:"category"`
		Currency       string  `json:"currency"`
		Price          *int64  `json:"price"`
		LastPurchase   *string `json:"last_purchase"`
		LastQuantity   int     `json:"last_quantity"`
		TimesPurchased int     `json:"times_purchased"`
	}
	var items []item
	if err := json.Unmarshal([]byte(reorder), &items); err != nil {
		t.Fatalf("reorder_items %s: %v", reorder, err)
	}
	if len(items) != 2 || items[0].ProductCode != "RIB-2" || items[1].ProductCode != "RIB-1" {
		t.Fatalf("reorder_items not latest first without tools: %s", reorder)
	}
	if *items[1].LastPurchase != "2025-02-01" || items[1].TimesPurchased != 2 || items[1].LastQuantity != 2 ||
		*items[1].Price != 4500 || items[1].Currency != "eur" || items[1].Category != "Ribs" {
		t.Fatalf("RIB-1 item: %+v", items[1])
	}
	var tools []struct {
		ToolCode    string `json:"tool_code"`
		Consumables []item `json:"consumables"`
	}
	if err := json.Unmarshal([]byte(tabs), &tools); err != nil {
		t.Fatalf("by_tool_tabs %s: %v", tabs, err)
	}
	if len(tools) != 1 || tools[0].ToolCode != "TOOL-A" {
		t.Fatalf("by_tool_tabs should hold only the owned tool: %s", tabs)
	}
	cons := tools[0].Consumables
	if len(cons) != 2 || cons[0].ProductCode != "RIB-1" || cons[1].ProductCode != "RIB-2" {
		t.Fatalf("compatible active consumables: %s", tabs)
	}
	if *cons[1].Price != 4900 || *cons[1].LastPurchase != "2025-03-01" || cons[0].Category != "Ribs" {
		t.Fatalf("consumable entry: %+v", cons[1])
	}
	// A company that bought nothing has empty arrays, not NULL or invalid JSON.
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.UpsertCompany(ctx, Company{ID: "C2", Name: "New"})
		return err
	})
	if err := db.Read().QueryRow(`SELECT reorder_items, by_tool_tabs FROM vw_company_consumable_payload_v2
		WHERE company_id = 'C2'`).Scan(&reorder, &tabs); err != nil {
		t.Fatal(err)
	}
	if reorder != "[]" || tabs != "[]" {
		t.Fatalf("empty company payload %s %s", reorder, tabs)
	}
}

func TestEngagementFeedCategories(t *testing.T) {
	db := openTest(t, Options{})
	now := time.Now().UTC()
	seedCompany(t, db, "C1")
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.UpsertContact(context.Background(), Contact{ID: "K1", CompanyID: "C1", Email: "k@example.com", FirstName: "Kim", LastName: "Lee"})
		return err
	})
	want := map[string]string{"checkout_completed": "purchase", "email_opened": "email", "email_clicked": "click",
		"offer_view": "view", "webinar_registered": "event", "campaign_sent": "email"}
	for name := range want {
		mustUpdate(t, db, func(tx *Tx) error {
			_, _, err := tx.InsertEvent(context.Background(), Event{Source: "zoho", SourceEventID: name, Name: EventName(name),
				CompanyID: "C1", ContactID: "K1", OccurredAt: now})
			return err
		})
	}
	rows, err := db.Read().Query(`SELECT event_name, event_category, event_description, company_name, contact_name FROM v_engagement_feed`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, cat, desc, company, contact string
		if err := rows.Scan(&name, &cat, &desc, &company, &contact); err != nil {
			t.Fatal(err)
		}
		n++
		if cat != want[name] || desc == "" || company != "Company C1" || contact != "Kim Lee" {
			t.Errorf("%s: category %s desc %q company %q contact %q", name, cat, desc, company, contact)
		}
	}
	if n != len(want) {
		t.Fatalf("%d rows", n)
	}
}
