package store

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/technifold/technifold/migrations"
)

// overlayFS is the embedded migrations with some files replaced or added.
func overlayFS(t *testing.T, changes map[string]string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, body := range changes {
		out[p] = &fstest.MapFile{Data: []byte(body)}
	}
	return out
}

func readView(t *testing.T, path string) string {
	t.Helper()
	b, err := fs.ReadFile(migrations.FS, path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawWriter opens the file as a second process's writer would, for running migrate directly.
func rawWriter(t *testing.T, path string) *sql.DB {
	t.Helper()
	w, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	t.Cleanup(func() { w.Close() })
	return w
}

type repeatableRow struct{ checksum, appliedAt string }

func repeatableRows(t *testing.T, q queryer) map[string]repeatableRow {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), `SELECT name, checksum, applied_at FROM schema_repeatable`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]repeatableRow{}
	for rows.Next() {
		var n string
		var r repeatableRow
		if err := rows.Scan(&n, &r.checksum, &r.appliedAt); err != nil {
			t.Fatal(err)
		}
		out[n] = r
	}
	return out
}

func viewSQL(t *testing.T, q queryer, name string) string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), `SELECT sql FROM sqlite_schema WHERE type = 'view' AND name = ?`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("view %s is missing", name)
	}
	var s string
	if err := rows.Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func schemaVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow(`PRAGMA schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

const nbaFile = "views/R__v_next_best_actions.sql"

func TestViewFilesApplyOnceAndAgainWhenChanged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "views.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := repeatableRows(t, db.Read())
	files, _ := fs.Glob(migrations.FS, "views/R__*.sql")
	if len(first) != len(files) || len(files) < 3 {
		t.Fatalf("schema_repeatable %v, files %v", first, files)
	}
	version := schemaVersion(t, db.Read())
	db.Close()

	// An unchanged file does nothing: no view is re-created, nothing is recorded again.
	db, err = Open(ctx, path, Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := repeatableRows(t, db.Read()); len(got) != len(first) || got[nbaFile] != first[nbaFile] {
		t.Fatalf("an unchanged open rewrote schema_repeatable: %v → %v", first, got)
	}
	if v := schemaVersion(t, db.Read()); v != version {
		t.Fatalf("an unchanged open changed the schema: version %d → %d", version, v)
	}
	db.Close()

	// A rule change is an edit of the view's file: the next migration re-creates that view only.
	body := readView(t, nbaFile)
	changed := strings.Replace(body, "90 AS priority_score", "91 AS priority_score", 1)
	if changed == body {
		t.Fatal("the test's edit did not apply")
	}
	w := rawWriter(t, path)
	later := time.Now().Add(2 * time.Hour)
	if err := migrate(ctx, w, overlayFS(t, map[string]string{nbaFile: changed}), func() time.Time { return later }); err != nil {
		t.Fatal(err)
	}
	if s := viewSQL(t, w, "v_next_best_actions"); !strings.Contains(s, "91 AS priority_score") {
		t.Fatalf("view not re-created from the edited file: %s", s)
	}
	got := repeatableRows(t, w)
	if got[nbaFile].checksum == first[nbaFile].checksum || got[nbaFile].appliedAt != FormatTime(later) {
		t.Fatalf("the edited file's checksum was not recorded: %v", got[nbaFile])
	}
	for name, r := range first {
		if name != nbaFile && got[name] != r {
			t.Errorf("unchanged %s was applied again: %v → %v", name, r, got[name])
		}
	}
	w.Close()

	// The binary's own files differ from what the database now holds: pending, then re-applied.
	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if s := viewSQL(t, db.Read(), "v_next_best_actions"); !strings.Contains(s, "90 AS priority_score") {
		t.Fatalf("Open did not restore the embedded view: %s", s)
	}
	if pending, err := db.PendingMigrations(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("pending %v, %v", pending, err)
	}
	if got := repeatableRows(t, db.Read()); got[nbaFile].checksum != first[nbaFile].checksum {
		t.Fatalf("checksum after re-applying the embedded file: %v", got[nbaFile])
	}
}

func TestPendingMigrationsListsChangedViewFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pending.db")
	db := openTestPath(t, path)
	if _, err := db.Read().Exec(`SELECT 1`); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE schema_repeatable SET checksum = 'stale' WHERE name = ?`, nbaFile)
		return err
	})
	pending, err := db.PendingMigrations(ctx)
	if err != nil || len(pending) != 1 || pending[0] != nbaFile {
		t.Fatalf("pending %v, %v; want [%s]", pending, err, nbaFile)
	}
}

func TestBrokenViewFileRollsBackEveryView(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "broken.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := repeatableRows(t, db.Read())
	payloadBefore := viewSQL(t, db.Read(), "vw_company_consumable_payload_v2")
	db.Close()
	good := strings.Replace(readView(t, nbaFile), "90 AS priority_score", "91 AS priority_score", 1)
	for name, broken := range map[string]string{
		"syntax error":   "CREATE VIEW vw_company_consumable_payload_v2 AS SELECT FROM WHERE;",
		"missing column": "CREATE VIEW vw_company_consumable_payload_v2 AS SELECT company_id, no_such_column FROM companies;",
		"missing table":  "CREATE VIEW vw_company_consumable_payload_v2 AS SELECT * FROM no_such_table;",
	} {
		t.Run(name, func(t *testing.T) {
			w := rawWriter(t, path)
			err := migrate(ctx, w, overlayFS(t, map[string]string{
				nbaFile: good,
				"views/R__vw_company_consumable_payload_v2.sql": broken,
			}), time.Now)
			if err == nil || !strings.Contains(err.Error(), "R__vw_company_consumable_payload_v2.sql") {
				t.Fatalf("broken view file: err %v, want one naming the file", err)
			}
			if s := viewSQL(t, w, "v_next_best_actions"); !strings.Contains(s, "90 AS priority_score") {
				t.Error("the good view file of the same migration was applied")
			}
			if s := viewSQL(t, w, "vw_company_consumable_payload_v2"); s != payloadBefore {
				t.Errorf("the broken view replaced the old one: %s", s)
			}
			if got := repeatableRows(t, w); len(got) != len(before) || got[nbaFile] != before[nbaFile] {
				t.Errorf("checksums recorded for a failed migration: %v", got)
			}
		})
	}
}

func TestViewFilesOrderedByDependency(t *testing.T) {
	fsys := fstest.MapFS{
		"views/R__a_top.sql":    {Data: []byte("-- reads b_mid\nCREATE VIEW a_top AS SELECT * FROM b_mid;")},
		"views/R__b_mid.sql":    {Data: []byte("CREATE VIEW b_mid AS SELECT * FROM c_base WHERE x > 1;")},
		"views/R__c_base.sql":   {Data: []byte("CREATE VIEW c_base AS SELECT 2 AS x;")},
		"views/R__d_single.sql": {Data: []byte("CREATE VIEW d_single AS SELECT 1 AS y;")},
	}
	files, err := loadRepeatables(fsys)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, f := range files {
		pos[f.view] = i
	}
	if !(pos["c_base"] < pos["b_mid"] && pos["b_mid"] < pos["a_top"]) || len(files) != 4 {
		t.Fatalf("order %v: a view must come after the views it reads", pos)
	}
	// Applied for real: a view reading another, both changed in one migration.
	path := filepath.Join(t.TempDir(), "deps.db")
	w := rawWriter(t, path)
	if err := applyRepeatables(context.Background(), w, fsys, time.Now()); err != nil {
		t.Fatal(err)
	}
	fsys["views/R__c_base.sql"] = &fstest.MapFile{Data: []byte("CREATE VIEW c_base AS SELECT 3 AS x;")}
	fsys["views/R__b_mid.sql"] = &fstest.MapFile{Data: []byte("CREATE VIEW b_mid AS SELECT x * 10 AS x FROM c_base;")}
	if err := applyRepeatables(context.Background(), w, fsys, time.Now()); err != nil {
		t.Fatal(err)
	}
	var x int
	if err := w.QueryRow(`SELECT x FROM a_top`).Scan(&x); err != nil || x != 30 {
		t.Fatalf("a_top over the re-created views = %d, %v; want 30", x, err)
	}

	fsys["views/R__c_base.sql"] = &fstest.MapFile{Data: []byte("CREATE VIEW c_base AS SELECT * FROM a_top;")}
	if _, err := loadRepeatables(fsys); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("a cycle of views: %v", err)
	}
	fsys["views/R__c_base.sql"] = &fstest.MapFile{Data: []byte("CREATE VIEW other_name AS SELECT 1;")}
	if _, err := loadRepeatables(fsys); err == nil {
		t.Fatal("a file creating a view not named after it was accepted")
	}
}

// TestViewsLiveOnlyInViewFiles: every view of a migrated database has its R__ file, and no
// numbered migration after 0002 (kept as history) creates or drops a view.
func TestViewsLiveOnlyInViewFiles(t *testing.T) {
	db := openTest(t, Options{})
	rows, err := db.Read().Query(`SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var views []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		views = append(views, n)
	}
	rows.Close()
	files, err := loadRepeatables(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	var fromFiles []string
	for _, f := range files {
		fromFiles = append(fromFiles, f.view)
	}
	sort.Strings(fromFiles)
	if strings.Join(views, ",") != strings.Join(fromFiles, ",") {
		t.Fatalf("views in the database %v, view files %v", views, fromFiles)
	}
	for _, want := range []string{"v_engagement_feed", "v_next_best_actions", "vw_company_consumable_payload_v2"} {
		if !strings.Contains(","+strings.Join(views, ",")+",", ","+want+",") {
			t.Errorf("contract view %s missing", want)
		}
	}
	names, _ := fs.Glob(migrations.FS, "*.sql")
	viewDDL := regexp.MustCompile(`(?i)\b(CREATE|DROP)\s+VIEW\b`)
	for _, n := range names {
		if n <= "0002_views.sql" {
			continue
		}
		if viewDDL.MatchString(sqlComment.ReplaceAllString(readView(t, n), "")) {
			t.Errorf("%s creates or drops a view: views live in views/R__<name>.sql", n)
		}
	}
}
