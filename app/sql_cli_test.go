package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func runSQLCLI(t *testing.T, dbPath string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""),
		Getenv: func(k string) string {
			if k == "DATABASE_PATH" {
				return dbPath
			}
			return ""
		}})
	return code, stdout.String(), stderr.String()
}

// TestSQLVerbReadsTheLiveDatabaseAndRefusesWrites runs `technifold sql` against the database a
// running server holds open (and writes while the verb reads).
func TestSQLVerbReadsTheLiveDatabaseAndRefusesWrites(t *testing.T) {
	cfg := testConfig(t)
	base, _, stop := startServe(t, cfg, true)
	defer stop()
	path := cfg.DatabasePath

	// The server writes (each /readyz is a write transaction) while the verb reads.
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			resp, err := http.Get(base + "/readyz")
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("readyz while sql runs: %v %v", err, resp)
				return
			}
			resp.Body.Close()
		}
	}()
	defer func() { close(done); wg.Wait() }()

	code, out, errOut := runSQLCLI(t, path, "sql", `SELECT product_code, type, active, category, NULL AS no_value
		FROM products WHERE product_code IN ('SV-SETUP', 'TF-FOLD-PLATE') ORDER BY product_code`)
	want := "product_code   type     active  category  no_value\n" +
		"-------------  -------  ------  --------  --------\n" +
		"SV-SETUP       service       1  Services  NULL\n" +
		"TF-FOLD-PLATE  tool          1  Folding   NULL\n" +
		"(2 rows)\n"
	if code != 0 || out != want {
		t.Fatalf("table: exit %d stderr %q\n%s\nwant\n%s", code, errOut, out, want)
	}

	// It sees what the running server has just committed.
	code, out, _ = runSQLCLI(t, path, "sql", "--json", `SELECT name, value FROM integration_state WHERE name = 'readyz'`)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 1 || rows[0]["value"] != "ok" {
		t.Fatalf("--json: exit %d %v %q", code, err, out)
	}
	code, out, _ = runSQLCLI(t, path, "sql", `SELECT company_id, priority_score, action_meta FROM v_next_best_actions`, "--json")
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) == 0 {
		t.Fatalf("--json on a view: exit %d %v %q", code, err, out)
	}
	if _, ok := rows[0]["priority_score"].(float64); !ok {
		t.Errorf("numbers must stay JSON numbers: %v", rows[0])
	}

	code, out, _ = runSQLCLI(t, path, "sql", "--csv", `SELECT company_id, company_name FROM companies ORDER BY company_id LIMIT 3`)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "company_id,company_name" || recs[1][0] != "COMPANY101" {
		t.Fatalf("--csv: exit %d %v %q", code, err, out)
	}

	var before string
	_, before, _ = runSQLCLI(t, path, "sql", "--csv", `SELECT count(*) FROM companies`)
	for _, q := range []string{
		`DELETE FROM companies`,
		`PRAGMA query_only = 0; DELETE FROM companies`,
		`CREATE TABLE intruder (x)`,
		`UPDATE companies SET company_name = 'x'`,
	} {
		code, out, errOut = runSQLCLI(t, path, "sql", q)
		if code != 1 || !strings.Contains(errOut, "read-only") || out != "" {
			t.Errorf("%q: exit %d stdout %q stderr %q; want a read-only refusal", q, code, out, errOut)
		}
	}
	if _, after, _ := runSQLCLI(t, path, "sql", "--csv", `SELECT count(*) FROM companies`); after != before || !strings.Contains(before, "50") {
		t.Fatalf("companies before %q after %q", before, after)
	}

	if code, _, errOut = runSQLCLI(t, path, "sql", "SELEC 1"); code != 1 || !strings.Contains(errOut, "syntax error") {
		t.Errorf("bad SQL: exit %d %q", code, errOut)
	}
	if code, _, _ = runSQLCLI(t, path, "sql"); code != 2 {
		t.Errorf("no query: exit %d, want 2 (usage)", code)
	}
	if code, _, _ = runSQLCLI(t, path, "sql", "--json", "--csv", "SELECT 1"); code != 2 {
		t.Errorf("--json with --csv: exit %d, want 2", code)
	}
	if code, _, errOut = runSQLCLI(t, path+".missing", "sql", "SELECT 1"); code != 1 || !strings.Contains(errOut, "no database") {
		t.Errorf("missing file: exit %d %q", code, errOut)
	}
}
