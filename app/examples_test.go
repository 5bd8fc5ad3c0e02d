package app

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// tableRows returns every row of table as text, so two snapshots can be compared.
func snapshotRows(t *testing.T, db *sql.DB, table string) map[string]bool {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]bool{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%#v", vals)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The example CSVs have ids of their own: importing them into a demo database adds their rows
// and changes no demo row (they once renamed a demo company).
func TestExamplesImportOverDemoChangesNoDemoRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "technifold.db")
	env := map[string]string{"DATABASE_PATH": path, "LOG_FORMAT": "text"}
	if code, _, stderr := runCLI(t, env, "demo"); code != 0 {
		t.Fatalf("demo: %s", stderr)
	}
	tables := []string{"companies", "contacts", "products", "product_prices", "tool_consumable_map", "sales"}
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", store.DSN(path, false))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	before := map[string]map[string]bool{}
	for _, table := range tables {
		before[table] = snapshotRows(t, db, table)
	}
	db.Close()

	added := 0
	for _, kind := range ImportKinds() {
		file := filepath.Join("..", "examples", kind+".csv")
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		added += len(strings.Split(strings.TrimSpace(string(raw)), "\n")) - 1
		if code, _, stderr := runCLI(t, env, "import", kind, file); code != 0 {
			t.Fatalf("import %s over the demo: %s", kind, stderr)
		}
	}

	db = open()
	defer db.Close()
	grew := 0
	for _, table := range tables {
		after := snapshotRows(t, db, table)
		for row := range before[table] {
			if !after[row] {
				t.Errorf("%s: demo row %s changed or vanished", table, row)
			}
		}
		grew += len(after) - len(before[table])
	}
	// Products, prices and tool pairs the demo already has are the same rows; the rest is new.
	if grew == 0 || grew > added {
		t.Errorf("the examples added %d rows (the files have %d)", grew, added)
	}
	for _, id := range []string{"EXCO123", "EXCO124", "EXCO125"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM companies WHERE company_id = ?`, id).Scan(&n); err != nil || n != 1 {
			t.Errorf("example company %s: %d %v", id, n, err)
		}
	}
}
