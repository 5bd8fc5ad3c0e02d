package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/technifold/technifold/migrations"
)

// migrationFiles lists the migrations in the order they apply: the embedded SQL files and the
// steps written in Go (goMigrations), by name.
func migrationFiles(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	for name := range goMigrations {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// goMigrations are the migrations SQL alone cannot express, by name; each runs in its
// migration's transaction like a SQL file.
var goMigrations = map[string]func(ctx context.Context, tx *sql.Tx) error{
	"0008_check_lists": rewriteCheckLists,
}

// migrate applies each pending migration in its own IMMEDIATE transaction, recording it in
// schema_migrations in the same transaction, so a failed migration leaves nothing behind and
// two processes starting together apply each migration once.
func migrate(ctx context.Context, w *sql.DB, fsys fs.FS, now func() time.Time) error {
	if err := execWrite(ctx, w, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := migrationFiles(fsys)
	if err != nil {
		return err
	}
	for _, name := range names {
		step := goMigrations[name]
		if step == nil {
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			step = sqlStep(string(body))
		}
		if err := applyMigration(ctx, w, name, step, now().UTC()); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	if err := applyRepeatables(ctx, w, fsys, now().UTC()); err != nil {
		return fmt.Errorf("migration %w", err)
	}
	return nil
}

// sqlStep is a migration that runs SQL.
func sqlStep(body string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, body)
		return err
	}
}

func applyMigration(ctx context.Context, w *sql.DB, name string, step func(context.Context, *sql.Tx) error, now time.Time) error {
	tx, err := beginWrite(ctx, w, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if err := step(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
		name, FormatTime(now)); err != nil {
		return err
	}
	return tx.Commit()
}

// PendingMigrations lists embedded migrations not yet applied, and view files (views/R__*.sql)
// changed since they were applied (empty once Open has run).
func (db *DB) PendingMigrations(ctx context.Context) ([]string, error) {
	names, err := migrationFiles(migrations.FS)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		applied[n] = true
	}
	var pending []string
	for _, n := range names {
		if !applied[n] {
			pending = append(pending, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	views, err := pendingRepeatables(ctx, db.read, migrations.FS)
	return append(pending, views...), err
}

// AppliedMigrations lists applied migration names in order.
func (db *DB) AppliedMigrations(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// isLitestreamTable reports whether a table belongs to Litestream, which every schema tool ignores.
func isLitestreamTable(name string) bool { return strings.HasPrefix(name, "_litestream_") }
