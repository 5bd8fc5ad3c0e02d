package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// seedFeed writes n events a minute apart, newest at base, spread over two companies, three
// contacts and the sources in turn.
func seedFeed(t *testing.T, db *DB, base time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, c := range []string{"C1", "C2"} {
			if _, err := tx.UpsertCompany(ctx, Company{ID: c, Name: "Company " + c}); err != nil {
				return err
			}
		}
		for i, k := range []string{"K1", "K2", "K3"} {
			if _, err := tx.UpsertContact(ctx, Contact{ID: k, CompanyID: []string{"C1", "C1", "C2"}[i],
				Email: strings.ToLower(k) + "@example.com", FullName: "Person " + k, MarketingStatus: "subscribed"}); err != nil {
				return err
			}
		}
		names := []EventName{"email_opened", "offer_view", "checkout_completed", "email_clicked", "deal_created"}
		sources := []string{"zoho", "web", "stripe", "zoho", "zoho"}
		for i := range n {
			// Two events share each timestamp, so the key's event_id half is exercised.
			at := base.Add(-time.Duration(i/2) * time.Minute)
			if _, _, err := tx.InsertEvent(ctx, Event{Source: sources[i%5], SourceEventID: fmt.Sprintf("e%d", i),
				Name: names[i%5], CompanyID: []string{"C1", "C2"}[i%2], ContactID: []string{"K1", "K2", "K3"}[i%3],
				OccurredAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestEngagementFeedKeysetPagesVisitEveryEventOnce(t *testing.T) {
	db := openTest(t, Options{})
	base := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	seedFeed(t, db, base, 101)
	ctx := context.Background()
	for _, f := range []FeedFilter{
		{},
		{CompanyID: "C1"},
		{ContactID: "K2"},
		{Source: "zoho"},
		{EventName: "offer_view"},
		{CompanyID: "C2", Source: "zoho", From: base.Add(-30 * time.Minute)},
		{From: base.Add(-20 * time.Minute), To: base.Add(-5 * time.Minute)},
	} {
		seen := map[int64]bool{}
		var prev *FeedEvent
		f.Limit = 7
		for page := 0; ; page++ {
			events, err := db.EngagementFeed(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range events {
				e := events[i]
				if seen[e.EventID] {
					t.Fatalf("%+v: event %d on two pages", f, e.EventID)
				}
				seen[e.EventID] = true
				if prev != nil && (e.OccurredAt.After(prev.OccurredAt) ||
					(e.OccurredAt.Equal(prev.OccurredAt) && e.EventID > prev.EventID)) {
					t.Fatalf("%+v: not newest first at event %d", f, e.EventID)
				}
				if (f.CompanyID != "" && e.CompanyID != f.CompanyID) || (f.Source != "" && e.Source != f.Source) ||
					(f.ContactID != "" && e.ContactID != f.ContactID) || (f.EventName != "" && e.EventName != f.EventName) ||
					(!f.From.IsZero() && e.OccurredAt.Before(f.From)) || (!f.To.IsZero() && !e.OccurredAt.Before(f.To)) {
					t.Fatalf("%+v: event %+v does not match", f, e)
				}
				prev = &events[i]
			}
			if len(events) < f.Limit {
				break
			}
			c, err := ParseFeedCursor(events[len(events)-1].Cursor().String())
			if err != nil {
				t.Fatal(err)
			}
			f.After = c
		}
		var want int
		q, args := `SELECT count(*) FROM engagement_events WHERE 1=1`, []any{}
		for col, v := range map[string]string{"company_id": f.CompanyID, "contact_id": f.ContactID, "source": f.Source, "event_name": f.EventName} {
			if v != "" {
				q += " AND " + col + " = ?"
				args = append(args, v)
			}
		}
		if !f.From.IsZero() {
			q, args = q+" AND occurred_at >= ?", append(args, FormatTime(f.From))
		}
		if !f.To.IsZero() {
			q, args = q+" AND occurred_at < ?", append(args, FormatTime(f.To))
		}
		_ = db.Read().QueryRow(q, args...).Scan(&want)
		if len(seen) != want || want == 0 {
			t.Errorf("%+v: pages visited %d events, want %d", f, len(seen), want)
		}
	}
}

func TestEngagementFeedCarriesTheViewsColumns(t *testing.T) {
	db := openTest(t, Options{})
	seedFeed(t, db, time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC), 5)
	events, err := db.EngagementFeed(context.Background(), FeedFilter{EventName: "checkout_completed"})
	if err != nil || len(events) != 1 {
		t.Fatalf("%d events, %v", len(events), err)
	}
	e := events[0]
	if e.CompanyName != "Company C1" || e.ContactName != "Person K3" || e.Category != "purchase" ||
		e.Description != "Completed a checkout" || string(e.Meta) != "{}" {
		t.Fatalf("event = %+v", e)
	}
}

func TestFeedCursorRejectsGarbage(t *testing.T) {
	for _, s := range []string{"", "x", "_1", "2026-01-01T00:00:00.000Z_", "2026-01-01T00:00:00.000Z_-4", "nottime_5"} {
		if _, err := ParseFeedCursor(s); ErrorCode(err) != EINVALID {
			t.Errorf("ParseFeedCursor(%q) = %v", s, err)
		}
	}
	c := FeedCursor{OccurredAt: "2026-01-01T00:00:00.000Z", EventID: 42}
	if got, err := ParseFeedCursor(c.String()); err != nil || got != c {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	o := OrderCursor{CreatedAt: "2026-01-01T00:00:00.000Z", OrderID: "ORD_000_1"}
	if got, err := ParseOrderCursor(o.String()); err != nil || got != o {
		t.Fatalf("order cursor round trip: %+v %v", got, err)
	}
}

// TestAdminQueriesUseTheirIndexes guards the plans that keep the admin pages fast on a million
// events: no full scan of engagement_events and no sort of it.
func TestAdminQueriesUseTheirIndexes(t *testing.T) {
	db := openTest(t, Options{})
	for name, q := range map[string]string{
		"company timeline page": `SELECT event_id FROM engagement_events INDEXED BY idx_events_company WHERE company_id = 'C'
			AND (occurred_at, event_id) < ('2026', 5) ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		"event timeline page": `SELECT event_id FROM engagement_events INDEXED BY idx_events_name WHERE event_name = 'x'
			AND (occurred_at, event_id) < ('2026', 5) ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		"newest timeline page": `SELECT event_id FROM engagement_events INDEXED BY idx_events_occurred
			WHERE (occurred_at, event_id) < ('2026', 5) ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		"source timeline page": `SELECT event_id FROM engagement_events INDEXED BY idx_events_source_time WHERE source = 'web'
			ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		"revenue": `SELECT substr(paid_at, 1, 10) AS day, currency, sum(total_amount) FROM orders INDEXED BY idx_orders_paid_at
			WHERE paid_at >= '2026' AND status = 'paid' GROUP BY day, currency`,
		"suggestions": `SELECT count(*) FROM v_next_best_actions`,
	} {
		rows, err := db.Read().Query(`EXPLAIN QUERY PLAN ` + q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			_ = rows.Scan(&id, &parent, &unused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		switch name {
		case "revenue":
			if !strings.Contains(joined, "idx_orders_paid_at") {
				t.Errorf("%s does not use idx_orders_paid_at: %s", name, joined)
			}
		case "suggestions":
			if !strings.Contains(joined, "idx_sales_company_invoice") {
				t.Errorf("%s does not use idx_sales_company_invoice: %s", name, joined)
			}
		default:
			if strings.Contains(joined, "TEMP B-TREE") || strings.Contains(joined, "SCAN engagement_events") {
				t.Errorf("%s: %s", name, joined)
			}
		}
	}
}

func TestSuggestionsFiltersAndOrder(t *testing.T) {
	db := openTest(t, Options{})
	seedCompany(t, db, "A", saleSpec{400, 200000}, saleSpec{300, 200000}) // reorder + engagement (95) + portal
	seedCompany(t, db, "B", saleSpec{200, 60000}, saleSpec{100, 60000})   // reorder + portal
	ctx := context.Background()
	all, err := db.AllSuggestions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].PriorityScore < all[i].PriorityScore {
			t.Fatalf("not by priority: %+v", all)
		}
	}
	only, err := db.Suggestions(ctx, SuggestionFilter{CompanyID: "B"})
	if err != nil || len(only) == 0 {
		t.Fatalf("B: %v %v", only, err)
	}
	for _, s := range only {
		if s.CompanyID != "B" || len(s.ActionMeta) == 0 || s.ActionMeta[0] != '{' {
			t.Fatalf("suggestion %+v", s)
		}
	}
	reorder, _ := db.Suggestions(ctx, SuggestionFilter{ActionType: "reorder_reminder", Limit: 1})
	if len(reorder) != 1 || reorder[0].ActionType != "reorder_reminder" {
		t.Fatalf("reorder filter: %+v", reorder)
	}
}

func TestSearchCompaniesScoresAndSorts(t *testing.T) {
	now := time.Now().UTC()
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, c := range []Company{{ID: "ACME1", Name: "Acme Print"}, {ID: "BETA2", Name: "beta bindery"}, {ID: "GAMMA3", Name: "Gamma 100%"}} {
			if _, err := tx.UpsertCompany(ctx, c); err != nil {
				return err
			}
		}
		_, err := tx.UpsertContact(ctx, Contact{ID: "K1", CompanyID: "BETA2", Email: "k1@example.com", MarketingStatus: "pending"})
		return err
	})
	addEvent(t, db, "BETA2", "checkout_completed", now.Add(-time.Hour))     // purchase 5
	addEvent(t, db, "BETA2", "email_clicked", now.Add(-2*time.Hour))        // click 3
	addEvent(t, db, "BETA2", "offer_view", now.Add(-100*24*time.Hour))      // outside 90 days
	addEvent(t, db, "ACME1", "email_opened", now.Add(-10*24*time.Hour))     // email 1
	addEvent(t, db, "GAMMA3", "form_submitted", now.Add(-400*24*time.Hour)) // old

	byName, total, err := db.SearchCompanies(ctx, CompanyFilter{})
	if err != nil || total != 3 || byName[0].ID != "ACME1" || byName[1].ID != "BETA2" {
		t.Fatalf("by name: %+v %d %v", byName, total, err)
	}
	if b := byName[1]; b.Score != 8 || b.Events90 != 2 || b.Contacts != 1 || b.LastActivity.IsZero() {
		t.Fatalf("BETA2 summary %+v", b)
	}
	byActivity, _, _ := db.SearchCompanies(ctx, CompanyFilter{Sort: "activity"})
	if byActivity[0].ID != "BETA2" || byActivity[1].ID != "ACME1" || byActivity[2].ID != "GAMMA3" {
		t.Fatalf("by activity: %s %s %s", byActivity[0].ID, byActivity[1].ID, byActivity[2].ID)
	}
	for q, want := range map[string]int{"BIND": 1, "gam": 1, "100%": 1, "%": 1, "_": 0, "acme1": 1, "zzz": 0} {
		got, n, err := db.SearchCompanies(ctx, CompanyFilter{Query: q})
		if err != nil || n != want || len(got) != want {
			t.Errorf("search %q: %d (%d) %v, want %d", q, n, len(got), err, want)
		}
	}
	one, err := db.CompanySummaryByID(ctx, "BETA2")
	if err != nil || one.Score != 8 {
		t.Fatalf("CompanySummaryByID: %+v %v", one, err)
	}
	if _, err := db.CompanySummaryByID(ctx, "NOPE"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("unknown company: %v", err)
	}
}

func TestDashboardCounts(t *testing.T) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	seedFeed(t, db, now, 20)
	mustUpdate(t, db, func(tx *Tx) error {
		for i, o := range []struct {
			status, currency string
			total            int64
			paid             time.Time
		}{
			{"paid", "gbp", 1000, now.Add(-time.Hour)},
			{"paid", "gbp", 2500, now.Add(-time.Hour - time.Minute)},
			{"paid", "eur", 700, now.Add(-48 * time.Hour)},
			{"paid", "gbp", 9999, now.AddDate(0, 0, -40)},
			{"failed", "gbp", 5000, now.Add(-time.Hour)},
		} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (order_id, company_id, status, currency, total_amount,
				paid_at, created_at, updated_at) VALUES (?, 'C1', ?, ?, ?, ?, ?, ?)`, fmt.Sprintf("O%d", i), o.status,
				o.currency, o.total, FormatTime(o.paid), FormatTime(o.paid), FormatTime(o.paid)); err != nil {
				return err
			}
		}
		for i := range 3 {
			if err := tx.RecordRejectedDelivery(ctx, "stripe", fmt.Sprintf("bad signature %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	days, err := db.DailyRevenue(ctx, now.AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[1].Day != "2026-01-10" || days[1].Total != 3500 || days[1].Orders != 2 || days[0].Currency != "eur" {
		t.Fatalf("daily revenue %+v", days)
	}
	src, _ := db.EventsBySource(ctx, now.Add(-5*time.Minute))
	if src["zoho"]+src["web"]+src["stripe"] != 12 { // 6 minutes inclusive, two events a minute
		t.Fatalf("by source %v", src)
	}
	names, _ := db.EventNameCounts(ctx, now.AddDate(0, 0, -7), "checkout_completed", "offer_view", "never")
	if names["checkout_completed"] != 4 || names["offer_view"] != 4 || names["never"] != 0 {
		t.Fatalf("names %v", names)
	}
	if n, _ := db.DeliveryRequests(ctx, "rejected", now.Add(-24*time.Hour)); n != 3 {
		t.Fatalf("rejected requests %d", n)
	}
	totals, _ := db.AdminOrderTotals(ctx, AdminOrderFilter{})
	if len(totals) != 2 || totals[1].Currency != "gbp" || totals[1].Orders != 4 || totals[1].Paid != 3 || totals[1].Total != 13499 {
		t.Fatalf("totals %+v", totals)
	}
	list, _ := db.ListAdminOrders(ctx, AdminOrderFilter{Status: "paid", Limit: 2})
	if len(list) != 2 || list[0].CompanyName != "Company C1" {
		t.Fatalf("orders %+v", list)
	}
	rest, _ := db.ListAdminOrders(ctx, AdminOrderFilter{Status: "paid", After: list[1].Cursor()})
	if len(rest) != 2 || rest[0].OrderID == list[1].OrderID {
		t.Fatalf("second page %+v", rest)
	}
}
