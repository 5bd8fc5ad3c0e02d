package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
)

// checkList matches a CHECK constraint testing a column against a list of literals:
// CHECK (status IN ('pending', 'paid', …)).
var checkList = regexp.MustCompile(`CHECK \((\w+) IN \(((?:'[^']*'|-?\d+)(?:,\s*(?:'[^']*'|-?\d+))*)\)\)`)

// checkListLiteral is one literal of such a list.
var checkListLiteral = regexp.MustCompile(`'[^']*'|-?\d+`)

// checkListAsOr rewrites every CHECK (col IN (a, b, c, …)) of a table's CREATE statement as
// CHECK (col = a OR col = b OR …), which accepts exactly the same values. SQLite evaluates a
// CHECK on every insert and update, and codes an IN list of more than two constants by building
// a temporary b-tree of the list each time: five of them for each Stripe payment (orders twice,
// engagement_events, webhook_deliveries, outbox), a tenth of the single writer's time. A chain
// of comparisons costs nothing of the kind. Lists of two or fewer are left as they are (SQLite
// already codes those as comparisons).
func checkListAsOr(create string) string {
	return checkList.ReplaceAllStringFunc(create, func(m string) string {
		parts := checkList.FindStringSubmatch(m)
		col, values := parts[1], checkListLiteral.FindAllString(parts[2], -1)
		if len(values) <= 2 {
			return m
		}
		terms := make([]string, len(values))
		for i, v := range values {
			terms[i] = col + " = " + v
		}
		return "CHECK (" + strings.Join(terms, " OR ") + ")"
	})
}

// checkListTables are the tables of 0001 whose checks 0008 rewrites; tables an operator added
// are left alone.
const checkListTables = `["contacts", "products", "orders", "engagement_events", "webhook_deliveries", "outbox"]`

// rewriteCheckLists is migration 0008: it replaces the IN-list CHECK constraints of 0001 with
// their equivalent comparison chains (checkListAsOr) in place. SQLite has no ALTER for a CHECK,
// and rebuilding the tables would copy every row (and, with foreign keys on, cascade deletes
// when orders is dropped); its documented alternative for changing CHECK constraints is to edit
// the table's CREATE statement in sqlite_schema and bump schema_version. Every existing row
// satisfies the new constraints, as they accept exactly the values the old ones did. The
// statement is re-read before commit, so a rewrite SQLite cannot parse rolls the migration back.
func rewriteCheckLists(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema WHERE type = 'table'
		AND name IN (SELECT value FROM json_each(?))`, checkListTables)
	if err != nil {
		return err
	}
	changed := map[string]string{}
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return err
		}
		if rewritten := checkListAsOr(create); rewritten != create {
			changed[name] = rewritten
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(changed) == 0 {
		return err
	}
	var version int64
	if err := tx.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&version); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA writable_schema = ON`); err != nil {
		return err
	}
	defer tx.ExecContext(context.WithoutCancel(ctx), `PRAGMA writable_schema = OFF`) //nolint:errcheck // the connection's flag only
	for name, create := range changed {
		if _, err := tx.ExecContext(ctx, `UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?`, create, name); err != nil {
			return fmt.Errorf("rewrite checks of %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA schema_version = %d`, version+1)); err != nil {
		return err
	}
	// Reading a table's columns reloads the schema; a statement SQLite cannot parse fails here.
	for name := range changed {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?)`, name).Scan(&n); err != nil || n == 0 {
			return fmt.Errorf("reload schema of %s after rewriting its checks: %v", name, err)
		}
	}
	return nil
}
