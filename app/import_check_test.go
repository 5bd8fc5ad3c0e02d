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

func TestMinorUnitsHint(t *testing.T) {
	for _, tt := range []struct{ value, currency, want string }{
		{"39.00", "gbp", "write 3900 for 39.00"},
		{"39,00", "eur", "write 3900 for 39,00"},
		{"39.5", "usd", "write 3950 for 39.5"},
		{"£39.00", "gbp", "write 3900 for 39.00"},
		{"0.99", "", "write 99 for 0.99"},
		{"4500.00", "jpy", "write 4500 for 4500.00"},
		{"39.5", "jpy", "a whole number like 3900 for 39.00"},
		{"1.234", "kwd", "write 1234 for 1.234"},
		{"39.005", "gbp", "a whole number like 3900 for 39.00"},
		{"39,000", "gbp", ""}, // a thousands separator, not decimals
		{"abc", "gbp", ""},
		{"-39.00", "gbp", ""},
		{"3900", "gbp", ""},
	} {
		got := minorUnitsHint(tt.value, tt.currency)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("minorUnitsHint(%q, %q) = %q, want %q", tt.value, tt.currency, got, tt.want)
		}
	}
}

// ValidateCSV finds every invalid row of a file — syntax, columns, references, addresses —
// in line order, and writes nothing.
func TestValidateCSVFindsEveryInvalidRow(t *testing.T) {
	db := openTestDB(t)
	importExamples(t, db)
	before := map[string]int{}
	for _, table := range store.MainTables() {
		before[table] = countRows(t, db, table)
	}
	file := "product_code,currency,unit_amount\n" +
		"CR-RIB-RED,gbp,3900\n" + // 2 valid
		"CR-RIB-RED,gbp,39.00\n" + // 3 decimal
		"NOPE,gbp,100\n" + // 4 unknown product (found after the parse problems)
		"CR-RIB-RED,gbp\n" + // 5 ragged
		"CR-RIB-RED,eur,\"12\"x\n" + // 6 bare quote
		"\n" + // blank: skipped
		"CR-RIB-RED,gbp,\"Caf\xe9\"\n" + // 8 not UTF-8
		"CR-RIB-RED,usd,12,50\n" // 9 ragged (a decimal comma unquoted)
	check, err := ValidateCSV(context.Background(), db, "prices", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if check.Rows != 7 || check.Valid != 1 || check.Invalid != 6 || len(check.Problems) != 6 {
		t.Fatalf("rows %d, valid %d, invalid %d, problems %v", check.Rows, check.Valid, check.Invalid, check.Problems)
	}
	want := []string{
		`line 3, column unit_amount, value "39.00": must be a whole number; amounts are in minor units: write 3900 for 39.00`,
		`line 4, column product_code, value "NOPE": no such product (import products first)`,
		`line 5, column 1: wrong number of fields`,
		`line 6, column 19: extraneous or missing " in quoted-field`,
		`line 8, column 16 ("unit_amount"): the value is not valid UTF-8 (byte 4 of the field); save the file as UTF-8`,
		`line 9, column 1: wrong number of fields`,
	}
	for i, p := range check.Problems {
		if p.String() != want[i] {
			t.Errorf("problem %d: %q, want %q", i, p, want[i])
		}
	}
	if len(check.Sample) != 1 || check.Sample[0].Line != 2 || strings.Join(check.Sample[0].Values, ",") != "CR-RIB-RED,gbp,3900" {
		t.Errorf("sample %+v", check.Sample)
	}
	// The error the CLI prints lists them all.
	msg := check.Err().Error()
	if !strings.HasPrefix(msg, "6 of 7 rows are invalid:\n  line 3,") || strings.Count(msg, "\n  line ") != 6 {
		t.Errorf("error %q", msg)
	}
	for _, table := range store.MainTables() {
		if n := countRows(t, db, table); n != before[table] {
			t.Errorf("%s: %d rows → %d: validating wrote something", table, before[table], n)
		}
	}
}

// The CLI reports every invalid row (the first 100, and how many more) and imports nothing.
func TestImportCommandReportsEveryInvalidRow(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "t.db")
	getenv := func(k string) string {
		if k == "DATABASE_PATH" {
			return dbPath
		}
		return ""
	}
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Getenv: getenv})
		return code, out.String(), errOut.String()
	}
	for _, kind := range []string{"companies", "products"} {
		if code, _, stderr := run("import", kind, filepath.Join("..", "examples", kind+".csv")); code != 0 {
			t.Fatalf("import %s: %s", kind, stderr)
		}
	}
	file := filepath.Join(dir, "prices.csv")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("product_code,currency,unit_amount\nCR-RIB-RED,gbp,39.00\nCR-RIB-RED,eur,4200\nNOPE,gbp,100\nCR-RIB-RED,usd,dollars\n")
	code, stdout, stderr := run("import", "prices", file)
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{
		file + ": nothing imported: 3 of 4 rows are invalid:\n",
		"\n  line 2, column unit_amount, value \"39.00\": must be a whole number; amounts are in minor units: write 3900 for 39.00\n",
		"\n  line 4, column product_code, value \"NOPE\": no such product (import products first)\n",
		"\n  line 5, column unit_amount, value \"dollars\": must be a whole number\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	var many strings.Builder
	many.WriteString("product_code,currency,unit_amount\n")
	for i := range 130 {
		fmt.Fprintf(&many, "CR-RIB-RED,gbp,%d.99\n", i)
	}
	write(many.String())
	code, _, stderr = run("import", "prices", file)
	if code != 1 || strings.Count(stderr, "\n  line ") != 100 || !strings.Contains(stderr, "130 of 130 rows are invalid") ||
		!strings.HasSuffix(stderr, "\n  … and 30 more invalid rows (only the first 100 are listed)\n") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	db, err := store.Open(context.Background(), dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := countRows(t, db, "product_prices"); n != 0 {
		t.Fatalf("refused files wrote %d prices", n)
	}
}

// FuzzValidateCSV: whatever the bytes, a check answers without error, lists at most 100
// problems in line order, each with a reason, counts rows consistently, and writes nothing.
func FuzzValidateCSV(f *testing.F) {
	for _, kind := range ImportKinds() {
		b, err := os.ReadFile(filepath.Join("..", "examples", kind+".csv"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(kind, string(b))
	}
	f.Add("prices", "product_code,currency,unit_amount\nA,gbp,39.00\n\"x\ny,eur,1\n")
	db := openTestDB(f)
	importExamples(f, db)
	before := countRows(f, db, "sales") + countRows(f, db, "contacts")
	f.Fuzz(func(t *testing.T, kind, body string) {
		if _, ok := importSpecs[kind]; !ok {
			return
		}
		check, err := ValidateCSV(context.Background(), db, kind, strings.NewReader(body))
		if err != nil {
			t.Fatalf("validate: %v", err)
		}
		if len(check.Problems) > MaxListedProblems || len(check.Problems) > check.Invalid || check.Valid > check.Rows ||
			(check.Invalid == 0) != (check.Err() == nil) || (check.Invalid > 0 && len(check.Problems) == 0) {
			t.Fatalf("inconsistent check: rows %d valid %d invalid %d listed %d", check.Rows, check.Valid, check.Invalid, len(check.Problems))
		}
		for i, p := range check.Problems {
			if p.Reason == "" || (i > 0 && p.Line < check.Problems[i-1].Line) {
				t.Fatalf("problem %d: %+v", i, p)
			}
		}
		if countRows(t, db, "sales")+countRows(t, db, "contacts") != before {
			t.Fatal("a check wrote rows")
		}
	})
}
