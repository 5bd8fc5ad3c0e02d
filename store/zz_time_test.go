package store

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZTime(t *testing.T) {
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
		`SELECT count(*) FROM sales`,
		`SELECT count(*) FROM (SELECT company_id, invoice_number, MIN(date(txn_date)), SUM(quantity*unit_amount/100.0) FROM sales GROUP BY company_id, invoice_number)`,
		`SELECT count(*) FROM v_next_best_actions`,
		`SELECT company_id FROM v_next_best_actions ORDER BY priority_score DESC, company_id, action_type LIMIT 51`,
		`SELECT company_id FROM v_next_best_actions WHERE company_id = 'COMPANY04242'`,
		`SELECT count(*) FROM v_next_best_actions WHERE action_type = 'reorder_reminder'`,
	} {
		for i := 0; i < 2; i++ {
			start := time.Now()
			rows, err := db.Read().Query(q)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			t.Logf("%6.1fms %d rows  %s", float64(time.Since(start).Microseconds())/1000, n, q[:min(len(q), 90)])
		}
	}
	rows, _ := db.Read().Query("EXPLAIN QUERY PLAN SELECT company_id FROM v_next_best_actions ORDER BY priority_score DESC, company_id, action_type LIMIT 51")
	for rows.Next() {
		var id, parent, notused int
		var detail string
		rows.Scan(&id, &parent, &notused, &detail)
		t.Log("   ", id, parent, detail)
	}
	rows.Close()
}
