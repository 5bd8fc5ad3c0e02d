package store

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZIdx(t *testing.T) {
	path := os.Getenv("IDX_DB")
	if path == "" {
		t.Skip()
	}
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, ddl := range []string{
		`CREATE INDEX IF NOT EXISTS idx_sales_company_invoice ON sales (company_id, invoice_number, txn_date, quantity, unit_amount, currency)`,
		`CREATE INDEX IF NOT EXISTS idx_events_company_name ON engagement_events (company_id, event_name, occurred_at)`,
	} {
		start := time.Now()
		if err := db.Update(context.Background(), func(tx *Tx) error { _, err := tx.ExecContext(context.Background(), ddl); return err }); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", ddl[:60], time.Since(start))
	}
}
