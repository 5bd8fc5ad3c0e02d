package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/migrations"
)

func TestCheckListAsOr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`status TEXT NOT NULL CHECK (status IN ('a', 'b', 'c'))`, `status TEXT NOT NULL CHECK (status = 'a' OR status = 'b' OR status = 'c')`},
		{`role TEXT CHECK (role IN ('admin', 'staff'))`, `role TEXT CHECK (role IN ('admin', 'staff'))`}, // two: already comparisons
		{`x INTEGER CHECK (x IN (0, 1, -2)), y CHECK (y IN ('it''s'))`, `x INTEGER CHECK (x = 0 OR x = 1 OR x = -2), y CHECK (y IN ('it''s'))`},
		{`CHECK (status IN ('pending','paid','failed')) , CHECK (p IN ('u', 'v', 'w'))`,
			`CHECK (status = 'pending' OR status = 'paid' OR status = 'failed') , CHECK (p = 'u' OR p = 'v' OR p = 'w')`},
		{`CHECK (length(currency) = 3)`, `CHECK (length(currency) = 3)`},
	} {
		if got := checkListAsOr(tt.in); got != tt.want {
			t.Errorf("checkListAsOr(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if again := checkListAsOr(checkListAsOr(tt.in)); again != tt.want {
			t.Errorf("not idempotent on %q: %q", tt.in, again)
		}
	}
}

// TestNoTemporaryBtreePerWrite checks the hot writes compile without OpenEphemeral: no CHECK
// with an IN list is left to build a temporary b-tree on every row.
func TestNoTemporaryBtreePerWrite(t *testing.T) {
	db := openTest(t, Options{})
	if left := tablesWithCheckLists(t, db.Read()); len(left) > 0 {
		t.Fatalf("tables still check against an IN list of three or more: %v", left)
	}
	for _, q := range []string{qDeliveryInsert, qAppendSales,
		`UPDATE orders SET status = ?2, payment_status = ?3, stripe_invoice_id = ?4, updated_at = ?5 WHERE order_id = ?1`,
		`INSERT INTO engagement_events (source, source_event_id, event_name, meta, occurred_at) VALUES (?, ?, ?, ?, ?)`,
		`INSERT INTO outbox (job_type, payload, scheduled_for, created_at, updated_at) VALUES (?, '{}', ?, ?, ?)`,
		`UPDATE outbox SET status = ? WHERE id = ?`,
		`INSERT INTO contacts (contact_id, company_id, email, marketing_status) VALUES (?, ?, ?, ?)`,
	} {
		args := make([]any, strings.Count(q, "?"))
		if strings.Contains(q, "?14") {
			args = make([]any, 14)
		} else if strings.Contains(q, "?5") {
			args = make([]any, 5)
		} else if strings.Contains(q, "?4") && !strings.Contains(q, "?5") && strings.Contains(q, "?1") {
			args = make([]any, 4)
		}
		rows, err := db.write.Query("EXPLAIN "+q, args...)
		if err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		for rows.Next() {
			var addr, p1, p2, p3 int
			var op string
			var p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			if op == "OpenEphemeral" {
				t.Errorf("%s opens a temporary b-tree at %d", q, addr)
			}
		}
		rows.Close()
	}
}

// TestChecksStillRefuseBadValues: the rewritten constraints accept and refuse what the IN
// lists did.
func TestChecksStillRefuseBadValues(t *testing.T) {
	db := openTest(t, Options{})
	seedOrderCatalog(t, db)
	o, err := createTestOrder(t, db, NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []OrderLine{{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		sql  string
		args []any
		ok   bool
	}{
		{`UPDATE orders SET status = ? WHERE order_id = ?`, []any{"expired", o.ID}, true},
		{`UPDATE orders SET status = ? WHERE order_id = ?`, []any{"shipped", o.ID}, false},
		{`UPDATE orders SET payment_status = ? WHERE order_id = ?`, []any{"partially_refunded", o.ID}, true},
		{`UPDATE orders SET payment_status = ? WHERE order_id = ?`, []any{"PAID", o.ID}, false},
		{`INSERT INTO webhook_deliveries (provider, event_id, received_at, status) VALUES ('stripe', ?, 'x', ?)`, []any{"e1", "ignored"}, true},
		{`INSERT INTO webhook_deliveries (provider, event_id, received_at, status) VALUES ('stripe', ?, 'x', ?)`, []any{"e2", "lost"}, false},
		{`INSERT INTO engagement_events (source, source_event_id, event_name, occurred_at) VALUES (?, ?, 'x', 'x')`, []any{"admin", "s1"}, true},
		{`INSERT INTO engagement_events (source, source_event_id, event_name, occurred_at) VALUES (?, ?, 'x', 'x')`, []any{"email", "s2"}, false},
		{`INSERT INTO outbox (job_type, status, scheduled_for, created_at, updated_at) VALUES ('t', ?, 'x', 'x', 'x')`, []any{"dead"}, true},
		{`INSERT INTO outbox (job_type, status, scheduled_for, created_at, updated_at) VALUES ('t', ?, 'x', 'x', 'x')`, []any{"done"}, false},
		{`UPDATE contacts SET marketing_status = ? WHERE contact_id = 'K1'`, []any{"bounced"}, true},
		{`UPDATE contacts SET marketing_status = ? WHERE contact_id = 'K1'`, []any{"opted_in"}, false},
		{`UPDATE products SET type = ? WHERE product_code = 'TOOL-1'`, []any{"service"}, true},
		{`UPDATE products SET type = ? WHERE product_code = 'TOOL-1'`, []any{"gadget"}, false},
		{`UPDATE users SET role = ? WHERE id = 0`, []any{"admin"}, true},
	} {
		err := db.Update(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, tt.sql, tt.args...)
			return err
		})
		if (err == nil) != tt.ok {
			t.Errorf("%s %v: err %v, want ok=%v", tt.sql, tt.args, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("%s %v: %v is not a CHECK failure", tt.sql, tt.args, err)
		}
	}
}

// TestCheckListMigrationKeepsData builds a database as the migrations before 0008 left it,
// with rows in every rewritten table, and opens it: the rewrite keeps every row, and the
// database passes integrity_check (which also checks each row against the CHECK constraints).
func TestCheckListMigrationKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations.FS, "*.sql")
	for _, name := range names {
		if name >= "0008" {
			continue
		}
		body, _ := fs.ReadFile(migrations.FS, name)
		if err := applyMigration(ctx, raw, name, sqlStep(string(body)), time.Now()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var before int
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE sql GLOB '*CHECK (status IN (*'`).Scan(&before); err != nil || before < 3 {
		t.Fatalf("the old schema has %d IN-list checks (%v)", before, err)
	}
	for _, q := range []string{
		`INSERT INTO companies (company_id, company_name, currency) VALUES ('C1', 'One', 'gbp')`,
		`INSERT INTO contacts (contact_id, company_id, email, marketing_status) VALUES ('K1', 'C1', 'a@b.example', 'bounced')`,
		`INSERT INTO products (product_code, description, type) VALUES ('P1', 'Thing', 'part')`,
		`INSERT INTO orders (order_id, company_id, contact_id, status, payment_status, currency) VALUES ('O1', 'C1', 'K1', 'paid', 'refunded', 'gbp')`,
		`INSERT INTO order_items (order_id, product_code, description, quantity, unit_amount, line_total) VALUES ('O1', 'P1', 'Thing', 1, 5, 5)`,
		`INSERT INTO engagement_events (source, source_event_id, event_name, occurred_at) VALUES ('system', 'x1', 'n', 't')`,
		`INSERT INTO webhook_deliveries (provider, event_id, received_at, status) VALUES ('zoho', 'z1', 't', 'duplicate')`,
		`INSERT INTO outbox (job_type, status, scheduled_for, created_at, updated_at) VALUES ('j', 'cancelled', 't', 't', 't')`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A table of the operator's own is not ours to rewrite.
	if _, err := raw.Exec(`CREATE TABLE ops_notes (kind TEXT CHECK (kind IN ('a', 'b', 'c')))`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db := openTestPath(t, path)
	var opsSQL string
	if err := db.Read().QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'ops_notes'`).Scan(&opsSQL); err != nil ||
		!strings.Contains(opsSQL, "kind IN ('a', 'b', 'c')") {
		t.Fatalf("the operator's table was changed: %q %v", opsSQL, err)
	}
	for table, want := range map[string]int{"orders": 1, "order_items": 1, "contacts": 1, "products": 1,
		"engagement_events": 1, "webhook_deliveries": 1, "outbox": 1} {
		var n int
		if err := db.Read().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil || n != want {
			t.Errorf("%s has %d rows after the migration (%v), want %d", table, n, err, want)
		}
	}
	var check string
	if err := db.Read().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %s %v", check, err)
	}
	if left := tablesWithCheckLists(t, db.Read()); len(left) != 1 || left[0] != "ops_notes" {
		t.Fatalf("IN-list checks left in %v, want only the operator's ops_notes", left)
	}
	err = db.Update(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'shipped' WHERE order_id = 'O1'`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Fatalf("a bad status after the migration: %v", err)
	}
}

// tablesWithCheckLists names the tables whose CREATE statement checkListAsOr would change.
func tablesWithCheckLists(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name, sql FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var create sql.NullString
		if err := rows.Scan(&name, &create); err != nil {
			t.Fatal(err)
		}
		if checkListAsOr(create.String) != create.String {
			out = append(out, name)
		}
	}
	return out
}
