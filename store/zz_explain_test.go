package store

import (
	"context"
	"os"
	"testing"
)

func TestZZExplain(t *testing.T) {
	path := os.Getenv("EXPLAIN_DB")
	if path == "" {
		t.Skip()
	}
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`SELECT event_id FROM engagement_events INDEXED BY idx_events_company WHERE company_id = 'COMPANY00077' AND source = 'zoho' AND occurred_at >= '2024-06-01' AND (occurred_at, event_id) < ('2025-02-05T02:24:35.137Z', 95794) ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		`SELECT event_id FROM engagement_events INDEXED BY idx_events_name WHERE event_name = 'deal_won' AND (occurred_at, event_id) < ('2025-02-05T02:24:35.137Z', 95794) ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		`SELECT event_id FROM engagement_events INDEXED BY idx_events_occurred WHERE (occurred_at, event_id) < ('2025-02-05T02:24:35.137Z', 95794) ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		`SELECT event_id FROM engagement_events INDEXED BY idx_events_name WHERE event_name = 'deal_won' AND occurred_at < '2025-02-05T02:24:35.137Z' ORDER BY occurred_at DESC, event_id DESC LIMIT 51`,
		`SELECT * FROM v_engagement_feed WHERE event_id IN (SELECT event_id FROM engagement_events INDEXED BY idx_events_name WHERE event_name = 'deal_won' ORDER BY occurred_at DESC, event_id DESC LIMIT 51) ORDER BY occurred_at DESC, event_id DESC`,
	} {
		rows, err := db.Read().Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(q[:80])
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			t.Log("   ", detail)
		}
		rows.Close()
	}
}
