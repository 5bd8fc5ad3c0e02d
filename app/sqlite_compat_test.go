package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/technifold/technifold/migrations"
	"github.com/technifold/technifold/store"
)

// demoDB is a migrated database with the demo data set and the view edge cases loaded.
func demoDB(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "compat.db")
	db := openTestDBAt(t, path)
	if _, err := LoadDemo(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	addViewEdgeCases(t, db)
	return db, path
}

// addViewEdgeCases adds what the demo lacks for the payload view: rows inserted in the opposite
// of their output order, ties on the last purchase date broken by product code, a product
// without a price in the company's currency, inactive products, a tool without consumables, a
// tool only ever returned, consumables of one category, a company without sales, and text
// needing JSON escapes.
func addViewEdgeCases(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx *store.Tx) error {
		for _, c := range []store.Company{{ID: "EDGE1", Name: `Edge "Quotes" & Co`, Currency: "usd"}, {ID: "EDGE2", Name: "No Sales Ltd"}} {
			if _, err := tx.UpsertCompany(ctx, c); err != nil {
				return err
			}
		}
		products := []store.Product{
			{Code: "ZZ-TOOL", Description: "Z tool", Type: "tool", Category: "Zeta", Active: true},
			{Code: "AA-TOOL", Description: "A tool, no consumables", Type: "tool", Category: "Alpha", Active: true},
			{Code: "RET-TOOL", Description: "Returned tool", Type: "tool", Active: true},
			{Code: "ZZ-CONS", Description: "Z consumable\nwith a newline", Type: "consumable", Category: "Same", Active: true},
			{Code: "MM-CONS", Description: "M consumable", Type: "consumable", Category: "Same", Active: true},
			{Code: "AA-CONS", Description: "A consumable", Type: "consumable", Category: "Same", Active: true},
			{Code: "OFF-CONS", Description: "Inactive consumable", Type: "consumable", Category: "Same", Active: false},
			{Code: "NOPRICE", Description: "No usd price", Type: "part", Active: true},
		}
		for _, p := range products {
			if _, err := tx.UpsertProduct(ctx, p); err != nil {
				return err
			}
		}
		for _, code := range []string{"ZZ-CONS", "MM-CONS", "AA-CONS", "OFF-CONS"} {
			if _, err := tx.UpsertToolConsumable(ctx, "ZZ-TOOL", code); err != nil {
				return err
			}
			if _, err := tx.UpsertPrice(ctx, store.Price{ProductCode: code, Currency: "usd", UnitAmount: 1000}); err != nil {
				return err
			}
		}
		sales := []store.Sale{
			{ProductCode: "ZZ-CONS", Quantity: 1, TxnDate: "2026-01-05", InvoiceNumber: "E-1"},
			{ProductCode: "MM-CONS", Quantity: 2, TxnDate: "2026-01-05", InvoiceNumber: "E-1"},
			{ProductCode: "AA-CONS", Quantity: 3, TxnDate: "2026-01-05", InvoiceNumber: "E-2"},
			{ProductCode: "NOPRICE", Quantity: 1, TxnDate: "2026-02-01", InvoiceNumber: "E-3"},
			{ProductCode: "ZZ-TOOL", Quantity: 1, TxnDate: "2025-06-01", InvoiceNumber: "E-0"},
			{ProductCode: "AA-TOOL", Quantity: 1, TxnDate: "2025-06-01", InvoiceNumber: "E-0"},
			{ProductCode: "RET-TOOL", Quantity: -1, TxnDate: "2025-07-01", InvoiceNumber: "E-R"},
			{ProductCode: "OFF-CONS", Quantity: 1, TxnDate: "2026-03-01", InvoiceNumber: "E-4"},
		}
		for _, s := range sales {
			s.CompanyID, s.UnitAmount, s.Currency = "EDGE1", 1000, "usd"
			if _, err := tx.UpsertSale(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPayloadViewMatchesItsSQLite344Form compares vw_company_consumable_payload_v2 (written for
// SQLite 3.37) with the view as it was (json_group_array(… ORDER BY …), SQLite 3.44), created
// from migration 0002 under another name, on the demo data and the edge cases: every column of
// every company, byte for byte, ordering inside the JSON arrays included.
func TestPayloadViewMatchesItsSQLite344Form(t *testing.T) {
	_, path := demoDB(t)
	ctx := context.Background()
	old, err := fs.ReadFile(migrations.FS, "0002_views.sql")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(old), "CREATE VIEW vw_company_consumable_payload_v2")
	if i < 0 {
		t.Fatal("0002 no longer holds the original payload view")
	}
	oldView := strings.Replace(string(old[i:]), "vw_company_consumable_payload_v2", "temp.old_payload", 1)
	// A TEMP view lives in its connection only: the file's schema is untouched.
	other, err := sql.Open("sqlite", store.DSN(path, false))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, strings.Replace(oldView, "CREATE VIEW", "CREATE TEMP VIEW", 1)); err != nil {
		t.Fatalf("the original view: %v", err)
	}
	cols := "company_id, company_name, currency, reorder_items, by_tool_tabs"
	read := func(view string) [][5]string {
		rows, err := conn.QueryContext(ctx, "SELECT "+cols+" FROM "+view+" ORDER BY company_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out [][5]string
		for rows.Next() {
			var r [5]string
			if err := rows.Scan(&r[0], &r[1], &r[2], &r[3], &r[4]); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	before, after := read("temp.old_payload"), read("main.vw_company_consumable_payload_v2")
	if len(before) != len(after) || len(after) < 52 {
		t.Fatalf("%d rows before, %d after", len(before), len(after))
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("company %s differs:\nbefore %q\nafter  %q", before[i][0], before[i], after[i])
		}
	}
	// The edge company's arrays are in the documented order (not insertion order).
	for _, r := range after {
		if r[0] != "EDGE1" {
			continue
		}
		var items []struct {
			ProductCode string `json:"product_code"`
		}
		var tabs []struct {
			ToolCode    string `json:"tool_code"`
			Consumables []struct {
				ProductCode string `json:"product_code"`
			} `json:"consumables"`
		}
		if err := json.Unmarshal([]byte(r[3]), &items); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(r[4]), &tabs); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(items)
		if want := "[{NOPRICE} {AA-CONS} {MM-CONS} {ZZ-CONS}]"; got != want {
			t.Errorf("reorder_items order %s, want %s", got, want)
		}
		if len(tabs) != 2 || tabs[0].ToolCode != "AA-TOOL" || tabs[1].ToolCode != "ZZ-TOOL" ||
			len(tabs[0].Consumables) != 0 || fmt.Sprint(tabs[1].Consumables) != "[{AA-CONS} {MM-CONS} {ZZ-CONS}]" {
			t.Errorf("by_tool_tabs %s", r[4])
		}
	}
}

// sqlite3Binary is Debian's sqlite3 CLI, or a skip (a failure under CI=true).
func sqlite3Binary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sqlite3 is not installed (CI=true): .ci/run installs it with apt-get install sqlite3")
		}
		t.Skip("sqlite3 CLI not installed; skipping (apt-get install sqlite3)")
	}
	return bin
}

// operatorQueries are the statements of the README's "Operators' SQL" section.
func operatorQueries(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Operators' SQL.*?```sql\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no Operators' SQL block")
	}
	var out []string
	for _, q := range strings.Split(string(m[1]), ";") {
		if q = strings.TrimSpace(q); q != "" {
			out = append(out, q)
		}
	}
	if len(out) < 4 {
		t.Fatalf("operator queries %q", out)
	}
	return out
}

// TestSQLite3CLIReadsEveryViewAndOperatorQuery opens the migrated, demo-loaded database with
// the sqlite3 CLI of the machine (Debian 12: 3.40.1) and runs the schema check, every view and
// every query of the README's "Operators' SQL", comparing each result with the Go driver's.
func TestSQLite3CLIReadsEveryViewAndOperatorQuery(t *testing.T) {
	bin := sqlite3Binary(t)
	db, path := demoDB(t)
	ctx := context.Background()
	cli := func(query string, mode string) []byte {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "-bail", mode, "-readonly", path, query)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Fatalf("sqlite3 %q: %v\n%s", query, err, stderr.String())
		}
		return stdout.Bytes()
	}
	version := strings.TrimSpace(string(cli("SELECT sqlite_version()", "-list")))
	t.Logf("sqlite3 CLI %s", version)
	if got := strings.TrimSpace(string(cli("PRAGMA integrity_check", "-list"))); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
	if schema := cli(".schema", "-list"); !bytes.Contains(schema, []byte("CREATE VIEW vw_company_consumable_payload_v2")) {
		t.Fatalf("sqlite3 .schema lacks the payload view:\n%s", schema)
	}

	rows, err := db.Read().QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		queries = append(queries, "SELECT * FROM "+v)
	}
	rows.Close()
	if len(queries) < 3 {
		t.Fatalf("views: %v", queries)
	}
	queries = append(queries, operatorQueries(t)...)
	for _, q := range queries {
		res, err := store.QueryReadOnly(ctx, path, q)
		if err != nil {
			t.Fatalf("Go driver %q: %v", q, err)
		}
		want := canonicalRows(t, res.Columns, res.Rows)
		var got []map[string]any
		if out := bytes.TrimSpace(cli(q, "-json")); len(out) > 0 {
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("sqlite3 -json %q: %v\n%s", q, err, out)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%q: sqlite3 %d rows, Go %d", q, len(got), len(want))
		}
		if len(want) == 0 && strings.Contains(q, "FROM v") {
			t.Errorf("%q returned no rows on the demo data", q)
		}
		gotKeys, wantKeys := rowKeys(got), rowKeys(want)
		for i := range wantKeys {
			if !sameRow(got[gotKeys[i].i], want[wantKeys[i].i]) {
				t.Errorf("%q: row differs\nsqlite3 %v\nGo      %v", q, got[gotKeys[i].i], want[wantKeys[i].i])
				break
			}
		}
	}
}

// canonicalRows turns driver rows into what sqlite3 -json prints (decoded).
func canonicalRows(t *testing.T, cols []string, rows [][]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range rows {
		m := map[string]any{}
		for i, v := range r {
			switch x := v.(type) {
			case int64:
				m[cols[i]] = float64(x)
			case []byte:
				m[cols[i]] = string(x)
			default:
				m[cols[i]] = x
			}
		}
		out = append(out, m)
	}
	return out
}

type rowKey struct {
	key string
	i   int
}

// rowKeys sorts rows by their text, so results whose order SQL leaves open compare as sets.
func rowKeys(rows []map[string]any) []rowKey {
	keys := make([]rowKey, len(rows))
	for i, r := range rows {
		names := make([]string, 0, len(r))
		for k := range r {
			names = append(names, k)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, k := range names {
			v := r[k]
			if f, ok := v.(float64); ok {
				v = fmt.Sprintf("%.9g", f)
			}
			fmt.Fprintf(&b, "%s=%v\x00", k, v)
		}
		keys[i] = rowKey{b.String(), i}
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].key < keys[b].key })
	return keys
}

func sameRow(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		af, aok := av.(float64)
		bf, bok := bv.(float64)
		if aok && bok {
			if math.Abs(af-bf) > 1e-9*math.Max(1, math.Abs(af)) {
				return false
			}
			continue
		}
		if av != bv {
			return false
		}
	}
	return true
}
