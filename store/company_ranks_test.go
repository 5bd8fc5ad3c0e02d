package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// The engagement score's SQL (sort key and per-page scores) categorises every event name as
// v_engagement_feed does, declared or not.
func TestEventCategorySQLMatchesTheView(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.UpsertCompany(ctx, Company{ID: "C1", Name: "C"})
		return err
	})
	names := []string{"email_weird", "something_else", "emailx", "link_clicked"}
	for _, n := range EventNames() {
		names = append(names, string(n.Name))
	}
	for i, n := range names {
		addEvent(t, db, "C1", n, time.Now().Add(-time.Duration(i)*time.Minute))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT e.event_name, f.event_category, `+eventCategorySQL+`, `+
		eventWeightSQL+`
		FROM engagement_events e JOIN v_engagement_feed f ON f.event_id = e.event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, view, ours string
		var weight int
		if err := rows.Scan(&name, &view, &ours, &weight); err != nil {
			t.Fatal(err)
		}
		n++
		if view != ours || weight != EventCategory(view).Weight() || eventCategoryOf(name) != EventCategory(view) {
			t.Errorf("%s: view says %s, the score's SQL %s (weight %d)", name, view, ours, weight)
		}
	}
	if n != len(names) {
		t.Fatalf("%d events compared, want %d", n, len(names))
	}
}

// Sorted by an aggregate without a search, the list pages through the cached ranking; its order
// is the one the live query gives (as with a search), and every company appears once.
func TestCompanyRankingMatchesTheLiveOrder(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	now := time.Now().UTC()
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range 30 {
			id := fmt.Sprintf("R%02d", i)
			if _, err := tx.UpsertCompany(ctx, Company{ID: id, Name: fmt.Sprintf("Name %02d", (i*7)%30)}); err != nil {
				return err
			}
			if i%4 == 0 {
				continue // no purchases, no events: sorts last both ways
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency,
				txn_date, invoice_number) VALUES (?, 'P', 1, ?, 'gbp', ?, ?)`, id, 100*(i%5), now.AddDate(0, 0, -i).Format(time.DateOnly), "I"+id); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range 30 {
		if i%4 != 0 {
			addEvent(t, db, fmt.Sprintf("R%02d", i), []string{"email_opened", "offer_view", "deal_won"}[i%3], now.Add(-time.Duration(i)*time.Hour))
		}
	}
	for key := range rankedKeys {
		for _, desc := range []bool{false, true} {
			var cached, live []string
			for off := 0; off < 30; off += 7 {
				page, total, err := db.SearchCompanies(ctx, CompanyFilter{Sort: key, Desc: desc, Offset: off, Limit: 7})
				if err != nil || total != 30 {
					t.Fatalf("%s: %v %d", key, err, total)
				}
				for _, c := range page {
					cached = append(cached, c.ID)
				}
				page, _, err = db.SearchCompanies(ctx, CompanyFilter{Query: "R", Sort: key, Desc: desc, Offset: off, Limit: 7})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range page {
					live = append(live, c.ID)
				}
			}
			if !slices.Equal(cached, live) || len(cached) != 30 {
				t.Errorf("%s desc=%v: cached %v, live %v", key, desc, cached, live)
			}
			if last := cached[len(cached)-1]; last != "R28" {
				t.Errorf("%s desc=%v: %s last, want a company without a value (R28)", key, desc, last)
			}
		}
	}
}
