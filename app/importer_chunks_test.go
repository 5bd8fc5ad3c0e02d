package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// chunkTestFiles is one file of each kind, 200-400 rows, loaded in ImportKinds order. The
// sales file names one line twice (the later wins, whichever chunk each lands in).
func chunkTestFiles() map[string]string {
	var b [6]strings.Builder
	b[0].WriteString("company_id,company_name,currency\n")
	b[1].WriteString("contact_id,company_id,email,full_name,marketing_status\n")
	b[2].WriteString("product_code,description,type,category\n")
	b[3].WriteString("product_code,currency,unit_amount\n")
	b[4].WriteString("company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\n")
	b[5].WriteString("tool_code,consumable_code\n")
	for i := range 200 {
		fmt.Fprintf(&b[0], "CK%03d,Chunk Company %d,gbp\n", i, i)
		fmt.Fprintf(&b[1], "CKC%03d,CK%03d,buyer%d@chunk.example,Buyer %d,subscribed\n", i, i, i, i)
		typ := "consumable"
		if i%10 == 0 {
			typ = "tool"
		}
		fmt.Fprintf(&b[2], "CKP%03d,Product %d,%s,Cat %d\n", i, i, typ, i%7)
		fmt.Fprintf(&b[3], "CKP%03d,gbp,%d\n", i, 100+i)
		fmt.Fprintf(&b[5], "CKP%03d,CKP%03d\n", (i%20)*10, i)
	}
	for i := range 400 {
		fmt.Fprintf(&b[4], "CK%03d,CKP%03d,%d,%d,gbp,2026-%02d-%02d,CK-INV-%04d\n", i%200, i%200, 1+i%5, 100+i, 1+i%12, 1+i%28, i/2)
	}
	b[4].WriteString("CK001,CKP001,9,999,gbp,2026-06-30,CK-INV-0000\n") // the file's first invoice line again, changed
	files := map[string]string{}
	for i, kind := range ImportKinds() {
		files[kind] = b[i].String()
	}
	return files
}

// tableDump is a table's business content, without the timestamps an import sets.
func tableDump(t *testing.T, db *store.DB, query string) string {
	t.Helper()
	res, err := store.QueryReadOnly(context.Background(), db.Path(), query)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(res.Rows)
}

var chunkDumps = map[string]string{
	"companies":        `SELECT company_id, company_name, currency FROM companies ORDER BY 1`,
	"contacts":         `SELECT contact_id, company_id, email, full_name, marketing_status FROM contacts ORDER BY 1`,
	"products":         `SELECT product_code, description, type, category, active FROM products ORDER BY 1`,
	"prices":           `SELECT product_code, currency, unit_amount FROM product_prices ORDER BY 1, 2`,
	"sales":            `SELECT invoice_number, product_code, company_id, quantity, unit_amount, currency, txn_date, count(*) OVER (PARTITION BY invoice_number, product_code) FROM sales ORDER BY 1, 2`,
	"tool-consumables": `SELECT tool_code, consumable_code FROM tool_consumable_map ORDER BY 1, 2`,
}

// TestImportInterruptedHalfWayThenRerunCompletes: for every kind, an import stopped after some
// of its chunks has committed exactly those rows and nothing else; importing the same file
// again completes it, and the database then holds what a single uninterrupted import gives,
// with no duplicate row.
func TestImportInterruptedHalfWayThenRerunCompletes(t *testing.T) {
	files := chunkTestFiles()
	whole := openTestDB(t)
	stopped := openTestDB(t)
	for _, kind := range ImportKinds() {
		res, err := ImportCSVWith(context.Background(), whole, kind, strings.NewReader(files[kind]), ImportOptions{})
		if err != nil || res.Committed != res.Rows {
			t.Fatalf("%s: %+v %v", kind, res, err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		opts := ImportOptions{MaxChunkRows: 16, OnChunk: func(committed int) {
			if committed >= res.Rows/2 {
				cancel()
			}
		}}
		part, err := ImportCSVWith(ctx, stopped, kind, strings.NewReader(files[kind]), opts)
		cancel()
		var interrupted *ImportInterrupted
		if !errors.As(err, &interrupted) || interrupted.Committed != part.Committed ||
			part.Committed < res.Rows/2 || part.Committed >= res.Rows || part.Chunks < 2 {
			t.Fatalf("%s: interrupted import %+v, err %v", kind, part, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("rows 1-%d of %d are imported", part.Committed, res.Rows)) {
			t.Errorf("%s: the error does not say what was imported: %v", kind, err)
		}
		// Exactly the committed prefix is in: a fresh import of those lines alone changes nothing.
		lines := strings.SplitAfter(files[kind], "\n")
		prefix := strings.Join(lines[:1+part.Committed], "")
		if again, err := ImportCSV(context.Background(), stopped, kind, strings.NewReader(prefix), nil); err != nil || again.Changed != 0 {
			t.Errorf("%s: the committed prefix re-imported changes %d rows (%v)", kind, again.Changed, err)
		}

		done, err := ImportCSVWith(context.Background(), stopped, kind, strings.NewReader(files[kind]), ImportOptions{MaxChunkRows: 16})
		if err != nil || done.Committed != res.Rows {
			t.Fatalf("%s: re-run %+v %v", kind, done, err)
		}
		if got, want := tableDump(t, stopped, chunkDumps[kind]), tableDump(t, whole, chunkDumps[kind]); got != want {
			t.Errorf("%s: interrupted + re-run differs from one import:\n%.400s\nwant\n%.400s", kind, got, want)
		}
		// Only the sales file's repeated key changes again (its two lines set it in turn).
		flips := map[string]int{"sales": 2}[kind]
		if again, err := ImportCSV(context.Background(), stopped, kind, strings.NewReader(files[kind]), nil); err != nil || again.Changed != flips {
			t.Errorf("%s: a third run changed %d rows, want %d (%v)", kind, again.Changed, flips, err)
		}
	}
	if n := countRows(t, stopped, "sales"); n != 400 {
		t.Errorf("sales rows %d, want 400 (401 lines, one key twice)", n)
	}
	var q int
	if err := stopped.Read().QueryRow(`SELECT quantity FROM sales WHERE invoice_number = 'CK-INV-0000' AND product_code = 'CKP001'`).Scan(&q); err != nil || q != 9 {
		t.Errorf("the file's later line for a key must win: quantity %d (%v)", q, err)
	}
}

// TestImportValidatesWholeFileBeforeWriting: a bad reference or e-mail far into a file written
// in small chunks is found before the first chunk, and nothing is written.
func TestImportValidatesWholeFileBeforeWriting(t *testing.T) {
	db := openTestDB(t)
	files := chunkTestFiles()
	for _, kind := range []string{"companies", "products"} {
		if _, err := ImportCSV(context.Background(), db, kind, strings.NewReader(files[kind]), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ImportCSV(context.Background(), db, "contacts", strings.NewReader(
		"contact_id,email\nOLD1,taken@chunk.example\nOLD2,moving@chunk.example\n"), nil); err != nil {
		t.Fatal(err)
	}
	salesWithBadLine := func(bad string) string {
		lines := strings.SplitAfter(files["sales"], "\n")
		return strings.Join(lines[:390], "") + bad + strings.Join(lines[390:], "")
	}
	tests := []struct {
		name, kind, csv string
		want            []string
	}{
		{"unknown company on line 391", "sales", salesWithBadLine("NOPE,CKP001,1,100,gbp,2026-01-01,X-1\n"), []string{"line 391", "company_id", `"NOPE"`}},
		{"unknown product on line 391", "sales", salesWithBadLine("CK001,NOPE,1,100,gbp,2026-01-01,X-1\n"), []string{"line 391", "product_code", `"NOPE"`}},
		{"unknown consumable", "tool-consumables", files["tool-consumables"] + "CKP000,NOPE\n", []string{"line 202", "consumable_code", "NOPE"}},
		{"address of another contact", "contacts", files["contacts"] + "NEW9,,TAKEN@chunk.example,X,pending\n", []string{"line 202", "email", "OLD1"}},
		{"one address twice in the file", "contacts", files["contacts"] + "NEW9,CK001,buyer7@chunk.example,X,pending\n", []string{"line 202", "CKC007", "line 9"}},
		{"address freed only later in the file", "contacts", "contact_id,email\nNEW1,moving@chunk.example\nOLD2,moved@chunk.example\n",
			[]string{"line 2", "OLD2", "line 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]int{}
			for _, table := range store.MainTables() {
				before[table] = countRows(t, db, table)
			}
			res, err := ImportCSVWith(context.Background(), db, tt.kind, strings.NewReader(tt.csv), ImportOptions{MaxChunkRows: 10})
			if err == nil || store.ErrorCode(err) != store.EINVALID || res.Committed != 0 {
				t.Fatalf("%+v %v", res, err)
			}
			for _, frag := range tt.want {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q lacks %q", err, frag)
				}
			}
			for _, table := range store.MainTables() {
				if n := countRows(t, db, table); n != before[table] {
					t.Errorf("%s: %d rows → %d: a refused file wrote something", table, before[table], n)
				}
			}
		})
	}
	// Freed earlier in the same file: accepted.
	if _, err := ImportCSV(context.Background(), db, "contacts", strings.NewReader(
		"contact_id,email\nOLD2,moved@chunk.example\nNEW1,moving@chunk.example\n"), nil); err != nil {
		t.Fatalf("an address freed on an earlier line: %v", err)
	}
}

// TestImportCommandSaysWhatAnInterruptedImportLeft: the CLI's words for a stopped import.
func TestImportCommandSaysWhatAnInterruptedImportLeft(t *testing.T) {
	err := importError("sales.csv", &ImportInterrupted{Committed: 5000, Rows: 9000, Err: context.Canceled})
	if !strings.Contains(err.Error(), "import stopped") || !strings.Contains(err.Error(), "rows 1-5000 of 9000 are imported") ||
		!strings.Contains(err.Error(), "import the same file again") {
		t.Fatalf("%v", err)
	}
	if err := importError("sales.csv", invalidf("line 3: bad")); !strings.Contains(err.Error(), "nothing imported") {
		t.Fatalf("%v", err)
	}
	// Stopped before its first chunk committed: nothing imported, and said so.
	db := openTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := ImportCSV(ctx, db, "companies", strings.NewReader(chunkTestFiles()["companies"]), nil)
	var part *ImportInterrupted
	if !errors.Is(err, context.Canceled) || errors.As(err, &part) || res.Committed != 0 || countRows(t, db, "companies") != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if err := importError("companies.csv", err); !strings.Contains(err.Error(), "nothing imported") {
		t.Fatalf("%v", err)
	}
}
