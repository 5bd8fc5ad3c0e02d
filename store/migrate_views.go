package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Views are repeatable migrations (Flyway's R__ convention): each view is defined in one file,
// migrations/views/R__<view>.sql, holding its CREATE VIEW. After the numbered migrations, every
// file whose checksum differs from the one recorded in schema_repeatable (or whose view is
// missing) has its view dropped and created again, all in one transaction that also records the
// new checksums; an unchanged file does nothing. A rule change is therefore an edit of that
// file. Numbered migrations keep table changes only (0002 created the first views and stays as
// history: a fresh database runs it, then the repeatables replace its views).

// repeatableDir is where the view files live inside the migrations file system.
const repeatableDir = "views"

// repeatable is one views/R__<view>.sql file.
type repeatable struct {
	file     string // views/R__v_next_best_actions.sql
	view     string // v_next_best_actions
	body     string
	checksum string   // SHA-256 of the file, hex
	deps     []string // other repeatable views its SQL reads
}

// createViewPattern finds the view a file creates.
var createViewPattern = regexp.MustCompile(`(?i)\bCREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?["` + "`" + `\[]?(\w+)`)

// sqlComment matches a -- comment to the end of its line.
var sqlComment = regexp.MustCompile(`--[^\n]*`)

// loadRepeatables reads the view files and orders them so that a view comes after every view
// it reads (dependencies first).
func loadRepeatables(fsys fs.FS) ([]repeatable, error) {
	names, err := fs.Glob(fsys, repeatableDir+"/R__*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	byView := map[string]*repeatable{}
	var all []*repeatable
	for _, name := range names {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		view := strings.TrimSuffix(strings.TrimPrefix(path.Base(name), "R__"), ".sql")
		creates := createViewPattern.FindAllStringSubmatch(sqlComment.ReplaceAllString(string(body), ""), -1)
		if len(creates) != 1 || !strings.EqualFold(creates[0][1], view) {
			return nil, fmt.Errorf("%s: must hold exactly one CREATE VIEW %s (the name of the file)", name, view)
		}
		sum := sha256.Sum256(body)
		r := &repeatable{file: name, view: view, body: string(body), checksum: hex.EncodeToString(sum[:])}
		byView[strings.ToLower(view)] = r
		all = append(all, r)
	}
	for _, r := range all {
		code := sqlComment.ReplaceAllString(r.body, "")
		for _, other := range all {
			if other != r && regexp.MustCompile(`(?i)\b`+regexp.QuoteMeta(other.view)+`\b`).MatchString(code) {
				r.deps = append(r.deps, other.view)
			}
		}
	}
	// Depth-first topological order; a cycle is an error.
	var ordered []repeatable
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(r *repeatable, chain []string) error
	visit = func(r *repeatable, chain []string) error {
		key := strings.ToLower(r.view)
		switch state[key] {
		case 1:
			return fmt.Errorf("views read each other in a cycle: %s", strings.Join(append(chain, r.view), " → "))
		case 2:
			return nil
		}
		state[key] = 1
		for _, d := range r.deps {
			if err := visit(byView[strings.ToLower(d)], append(chain, r.view)); err != nil {
				return err
			}
		}
		state[key] = 2
		ordered = append(ordered, *r)
		return nil
	}
	for _, r := range all {
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return ordered, nil
}

// repeatableState is what the database records: checksum by file, and which views exist.
type repeatableState struct {
	checksums map[string]string
	views     map[string]bool
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readRepeatableState(ctx context.Context, q queryer) (repeatableState, error) {
	st := repeatableState{checksums: map[string]string{}, views: map[string]bool{}}
	rows, err := q.QueryContext(ctx, `SELECT name, checksum FROM schema_repeatable`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			rows.Close()
			return st, err
		}
		st.checksums[name] = sum
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	rows, err = q.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'view'`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return st, err
		}
		st.views[strings.ToLower(name)] = true
	}
	return st, rows.Err()
}

// stale lists the files to apply: changed since recorded, never applied, or whose view is gone.
func (st repeatableState) stale(files []repeatable) []repeatable {
	var out []repeatable
	for _, r := range files {
		if st.checksums[r.file] != r.checksum || !st.views[strings.ToLower(r.view)] {
			out = append(out, r)
		}
	}
	return out
}

const createSchemaRepeatable = `CREATE TABLE IF NOT EXISTS schema_repeatable (
	name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`

// applyRepeatables re-creates the views whose files changed, in one transaction: dropped in
// reverse dependency order, created in dependency order, then every view of the files is
// queried once, so SQL SQLite cannot run (a syntax error, a missing column, a view it reads
// gone) rolls the whole step back and the previous views stay.
func applyRepeatables(ctx context.Context, w *sql.DB, fsys fs.FS, now time.Time) error {
	files, err := loadRepeatables(fsys)
	if err != nil {
		return err
	}
	if err := execWrite(ctx, w, createSchemaRepeatable); err != nil {
		return fmt.Errorf("create schema_repeatable: %w", err)
	}
	// Most starts change nothing: find that out without taking the write lock.
	st, err := readRepeatableState(ctx, w)
	if err != nil {
		return err
	}
	if len(st.stale(files)) == 0 {
		return nil
	}
	tx, err := beginWrite(ctx, w, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	// Another process may have applied them meanwhile.
	if st, err = readRepeatableState(ctx, tx); err != nil {
		return err
	}
	stale := st.stale(files)
	if len(stale) == 0 {
		return nil
	}
	for i := len(stale) - 1; i >= 0; i-- {
		if _, err := tx.ExecContext(ctx, `DROP VIEW IF EXISTS "`+stale[i].view+`"`); err != nil {
			return fmt.Errorf("%s: drop view: %w", stale[i].file, err)
		}
	}
	for _, r := range stale {
		if _, err := tx.ExecContext(ctx, r.body); err != nil {
			return fmt.Errorf("%s: %w", r.file, err)
		}
	}
	for _, r := range files {
		rows, err := tx.QueryContext(ctx, `SELECT * FROM "`+r.view+`" LIMIT 0`)
		if err == nil {
			err = rows.Close()
		}
		if err != nil {
			return fmt.Errorf("%s: view %s does not run: %w", r.file, r.view, err)
		}
	}
	for _, r := range stale {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_repeatable (name, checksum, applied_at) VALUES (?1, ?2, ?3)
			ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = excluded.applied_at`,
			r.file, r.checksum, FormatTime(now)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// pendingRepeatables lists the view files a migration would apply now.
func pendingRepeatables(ctx context.Context, q queryer, fsys fs.FS) ([]string, error) {
	files, err := loadRepeatables(fsys)
	if err != nil {
		return nil, err
	}
	st, err := readRepeatableState(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range st.stale(files) {
		out = append(out, r.file)
	}
	return out, nil
}
