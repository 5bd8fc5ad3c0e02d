package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

func openTestDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "technifold.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func importFile(t testing.TB, db *store.DB, kind, path string) ImportResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ImportCSV(context.Background(), db, kind, f, nil)
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return res
}

func importExamples(t testing.TB, db *store.DB) map[string]ImportResult {
	t.Helper()
	out := map[string]ImportResult{}
	for _, kind := range ImportKinds() {
		out[kind] = importFile(t, db, kind, filepath.Join("..", "examples", kind+".csv"))
	}
	return out
}

func countRows(t testing.TB, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportExamplesTwiceChangesNothing(t *testing.T) {
	db := openTestDB(t)
	first := importExamples(t, db)
	for kind, res := range first {
		if res.Rows == 0 || res.Changed != res.Rows {
			t.Errorf("%s: first import %+v", kind, res)
		}
	}
	var before string
	if err := db.Read().QueryRow(`SELECT group_concat(company_id || updated_at) FROM companies`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	second := importExamples(t, db)
	for kind, res := range second {
		if res.Changed != 0 {
			t.Errorf("%s: re-import changed %d rows", kind, res.Changed)
		}
	}
	var after string
	if err := db.Read().QueryRow(`SELECT group_concat(company_id || updated_at) FROM companies`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Fatal("re-import touched updated_at")
	}
	if n := countRows(t, db, "sales"); n != first["sales"].Rows {
		t.Fatalf("sales rows %d", n)
	}
	// Legacy consent values are mapped.
	for id, want := range map[string]string{"EXCT1001": "subscribed", "EXCT1002": "unsubscribed", "EXCT1004": "pending"} {
		k, err := db.GetContact(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if k.MarketingStatus != want {
			t.Errorf("%s: marketing_status %s, want %s", id, k.MarketingStatus, want)
		}
	}
	k, _ := db.GetContact(context.Background(), "EXCT1003")
	if k.GDPRConsentAt != "2024-11-12T00:00:00.000Z" {
		t.Errorf("gdpr_consent_at normalised to %q", k.GDPRConsentAt)
	}
}

// An error quotes at most 80 characters of a bad value, however long it is.
func TestImportErrorQuotesAtMost80Characters(t *testing.T) {
	db := openTestDB(t)
	importExamples(t, db)
	huge := strings.Repeat("x", 1<<20)
	for _, tt := range []struct{ kind, csv string }{
		{"companies", "company_id,company_name,currency\nX1,One," + huge + "\n"},
		{"companies", "company_id,company_name\n" + huge + ",One\n"},
		{"contacts", "contact_id,email\nK9," + huge + "@example.com\n"},
		{"prices", "product_code,currency,unit_amount\nCR-RIB-RED,gbp," + huge + "\n"},
		{"companies", "company_id,company_name," + huge + "\nX1,One,x\n"},
		{"companies", "company_id,company_name,currency\nX1,One,\"" + strings.Repeat("é", 500) + "\"\n"},
	} {
		_, err := ImportCSV(context.Background(), db, tt.kind, strings.NewReader(tt.csv), nil)
		if err == nil {
			t.Fatalf("%s: %.60s… imported", tt.kind, tt.csv)
		}
		msg := err.Error()
		if len(msg) > 600 || !strings.Contains(msg, "…") || !strings.Contains(msg, "bytes)") {
			t.Fatalf("error of %d bytes: %.300s", len(msg), msg)
		}
	}
	if got := quoteValue(strings.Repeat("é", 81)); got != `"`+strings.Repeat("é", 80)+`"… (162 bytes)` {
		t.Fatalf("quoteValue cut %q", got)
	}
	if got := quoteValue(strings.Repeat("a", 80)); got != `"`+strings.Repeat("a", 80)+`"` {
		t.Fatalf("80 characters are quoted whole: %q", got)
	}
}

func TestImportRejectsBadFilesWholly(t *testing.T) {
	db := openTestDB(t)
	importExamples(t, db)
	tests := []struct {
		name, kind, csv string
		want            []string // fragments the error must contain
	}{
		{"unknown kind", "widgets", "a\n1\n", []string{"unknown import kind"}},
		{"empty file", "companies", "", []string{"empty"}},
		{"missing column", "companies", "company_id\nX1\n", []string{"missing required column", "company_name"}},
		{"unknown column", "companies", "company_id,company_name,colour\nX1,X,red\n", []string{"line 1", "unknown column", "colour"}},
		{"duplicate column", "companies", "company_id,company_name,company_name\nX1,X,Y\n", []string{"appears twice"}},
		{"bad currency on line 3", "companies", "company_id,company_name,currency\nX1,One,gbp\nX2,Two,pounds\n",
			[]string{"line 3", "column currency", `"pounds"`}},
		{"bad email", "contacts", "contact_id,email\nK9,not-an-email\n", []string{"line 2", "column email", "not-an-email"}},
		{"unknown consent", "contacts", "contact_id,email,marketing_status\nK9,a@b.example,maybe\n", []string{"line 2", "marketing_status", "maybe"}},
		{"contact of unknown company", "contacts", "contact_id,company_id,email\nK9,NOPE,a@b.example\n", []string{"line 2", "company_id", "NOPE"}},
		{"bad product type", "products", "product_code,description,type\nP9,Thing,gadget\n", []string{"line 2", "column type", "gadget"}},
		{"negative price", "prices", "product_code,currency,unit_amount\nCR-RIB-RED,gbp,-5\n", []string{"line 2", "unit_amount", "-5"}},
		{"decimal price", "prices", "product_code,currency,unit_amount\nCR-RIB-RED,gbp,39.00\n", []string{"line 2", "unit_amount", "whole number"}},
		{"price of unknown product", "prices", "product_code,currency,unit_amount\nNOPE,gbp,100\n", []string{"line 2", "product_code", "NOPE"}},
		{"sale of unknown product code", "sales",
			"company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\n" +
				"EXCO123,CR-RIB-RED,1,3900,gbp,2025-06-01,INV-NEW-1\nEXCO123,XX-UNKNOWN,1,3900,gbp,2025-06-01,INV-NEW-1\n",
			[]string{"line 3", "product_code", "XX-UNKNOWN"}},
		{"bad date", "sales",
			"company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\nEXCO123,CR-RIB-RED,1,3900,gbp,01/06/2025,INV-NEW-2\n",
			[]string{"line 2", "txn_date", "01/06/2025"}},
		{"zero quantity", "sales",
			"company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\nEXCO123,CR-RIB-RED,0,3900,gbp,2025-06-01,INV-NEW-3\n",
			[]string{"line 2", "quantity"}},
		{"ragged row", "tool-consumables", "tool_code,consumable_code\nTF-TRI-CREASER\n", []string{"line 2"}},
		{"unknown tool", "tool-consumables", "tool_code,consumable_code\nTF-TRI-CREASER,CR-RIB-RED\nNOPE,CR-RIB-RED\n", []string{"line 3", "NOPE"}},
		// Invalid UTF-8 (Latin-1 "é", a stray continuation byte): refused with line and column.
		{"latin-1 name", "companies", "company_id,company_name\nX1,Caf\xe9 Print\n", []string{"line 2, column 4", `"company_name"`, "not valid UTF-8", "byte 4"}},
		{"bad byte on line 3", "contacts", "contact_id,email,first_name\nK8,a@b.example,Ann\nK9,c@d.example,\"Bo\x80b\"\n", []string{"line 3, column 16", `"first_name"`, "not valid UTF-8"}},
		{"bad header", "companies", "company_id,company_\xffname\nX1,One\n", []string{"line 1, column 12", "not valid UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]int{}
			for _, table := range store.MainTables() {
				before[table] = countRows(t, db, table)
			}
			_, err := ImportCSV(context.Background(), db, tt.kind, strings.NewReader(tt.csv), nil)
			if err == nil {
				t.Fatal("bad file imported without error")
			}
			if store.ErrorCode(err) != store.EINVALID {
				t.Errorf("error code %s (%v)", store.ErrorCode(err), err)
			}
			for _, frag := range tt.want {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q lacks %q", err, frag)
				}
			}
			for _, table := range store.MainTables() {
				if n := countRows(t, db, table); n != before[table] {
					t.Errorf("%s changed from %d to %d rows: a failed import wrote something", table, before[table], n)
				}
			}
		})
	}
}

func TestImportCommandReportsProgressAndErrors(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db", "t.db")
	getenv := func(k string) string {
		if k == "DATABASE_PATH" {
			return dbPath
		}
		return ""
	}
	var big strings.Builder
	big.WriteString("company_id,company_name\n")
	for i := range 25000 {
		fmt.Fprintf(&big, "C%05d,Company %d\n", i, i)
	}
	file := filepath.Join(dir, "companies.csv")
	if err := os.WriteFile(file, []byte(big.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"import", "companies", file}, Env{Stdout: &out, Stderr: &errOut, Getenv: getenv})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "25000 rows read, 25000 inserted") {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(errOut.String(), "import companies: 20000/25000 rows") {
		t.Errorf("no progress line on stderr: %q", errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code = Main(context.Background(), []string{"import", "sales", filepath.Join("..", "examples", "sales.csv")},
		Env{Stdout: &out, Stderr: &errOut, Getenv: getenv})
	if code != 1 || !strings.Contains(errOut.String(), "nothing imported") || !strings.Contains(errOut.String(), "line 2") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if code := Main(context.Background(), []string{"import", "companies"}, Env{Stdout: &out, Stderr: &errOut, Getenv: getenv}); code != 2 {
		t.Fatalf("missing file argument: exit %d", code)
	}
}

func FuzzImportCSV(f *testing.F) {
	for _, kind := range ImportKinds() {
		b, err := os.ReadFile(filepath.Join("..", "examples", kind+".csv"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kind, string(b))
	}
	f.Add("sales", "company_id,product_code\n\"unterminated")
	db := openTestDB(f)
	f.Fuzz(func(t *testing.T, kind, body string) {
		if _, ok := importSpecs[kind]; !ok {
			return
		}
		before := countRows(t, db, "sales") + countRows(t, db, "companies")
		_, err := ImportCSV(context.Background(), db, kind, strings.NewReader(body), nil)
		if err != nil {
			if c := store.ErrorCode(err); c != store.EINVALID {
				t.Fatalf("import error with code %s: %v", c, err)
			}
			if after := countRows(t, db, "sales") + countRows(t, db, "companies"); after != before {
				t.Fatal("a failed import wrote rows")
			}
		}
	})
}

// BenchmarkImportSales imports 100,000 sales rows in one transaction per iteration.
func BenchmarkImportSales(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("company_id,product_code,quantity,unit_amount,currency,txn_date,invoice_number\n")
	const rows = 100_000
	for i := range rows {
		fmt.Fprintf(&buf, "COMPANY%03d,CR-RIB-BLACK,%d,3900,gbp,2025-%02d-%02d,INV-%07d\n", i%100, 1+i%7, 1+i%12, 1+i%28, i)
	}
	data := buf.Bytes()
	for b.Loop() {
		b.StopTimer()
		db := openTestDB(b)
		ctx := context.Background()
		err := db.Update(ctx, func(tx *store.Tx) error {
			for c := range 100 {
				if _, err := tx.UpsertCompany(ctx, store.Company{ID: fmt.Sprintf("COMPANY%03d", c), Name: "C"}); err != nil {
					return err
				}
			}
			_, err := tx.UpsertProduct(ctx, store.Product{Code: "CR-RIB-BLACK", Description: "Rib", Type: "consumable", Active: true})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := ImportCSV(ctx, db, "sales", bytes.NewReader(data), nil)
		if err != nil || res.Changed != rows {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
