package store

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/technifold/technifold/migrations"
)

// post337 are constructs SQLite added after 3.37 (Ubuntu 22.04's version), with the version.
// A schema object using one makes every statement of an older sqlite3 fail ("malformed
// database schema").
var post337 = []struct {
	pattern *regexp.Regexp
	what    string
}{
	{regexp.MustCompile(`->`), "-> / ->> (3.38)"},
	{regexp.MustCompile(`(?i)\bunixepoch\s*\(`), "unixepoch() (3.38)"},
	{regexp.MustCompile(`(?i)\bformat\s*\(`), "format() (3.38; printf() is the same function)"},
	{regexp.MustCompile(`(?i)\b(RIGHT|FULL)\s+(OUTER\s+)?JOIN\b`), "RIGHT/FULL JOIN (3.39)"},
	{regexp.MustCompile(`(?i)\bIS\s+(NOT\s+)?DISTINCT\s+FROM\b`), "IS [NOT] DISTINCT FROM (3.39)"},
	{regexp.MustCompile(`(?i)\bunhex\s*\(`), "unhex() (3.41)"},
	{regexp.MustCompile(`(?i)\bjson_error_position\s*\(`), "json_error_position() (3.42)"},
	{regexp.MustCompile(`(?i)\b(octet_length|timediff)\s*\(`), "octet_length()/timediff() (3.43)"},
	{regexp.MustCompile(`(?i)\b(concat|concat_ws|string_agg)\s*\(`), "concat()/concat_ws()/string_agg() (3.44)"},
	{regexp.MustCompile(`(?i)\bjsonb\w*\s*\(`), "jsonb functions (3.45)"},
	{regexp.MustCompile(`(?i)\bjson_pretty\s*\(`), "json_pretty() (3.46)"},
	{regexp.MustCompile(`(?i)\b(if|iif)\s*\([^(),]*,[^(),]*\)`), "two-argument iif()/if() (3.48)"},
}

// aggregateCall finds the aggregates whose ORDER BY argument needs 3.44.
var aggregateCall = regexp.MustCompile(`(?i)\b(json_group_array|json_group_object|group_concat|string_agg|json_agg)\s*\(`)

// stripSQL removes comments and string literals, which may say anything.
func stripSQL(s string) string {
	s = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(s, " ")
	s = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(s, " ")
	return regexp.MustCompile(`'(?:[^']|'')*'`).ReplaceAllString(s, "''")
}

// orderByInAggregate reports an aggregate call with ORDER BY at its own parenthesis level.
func orderByInAggregate(s string) (string, bool) {
	for _, loc := range aggregateCall.FindAllStringIndex(s, -1) {
		depth, start := 0, loc[1]-1
		for i := start; i < len(s); i++ {
			switch s[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				break
			}
			if depth == 1 && i+8 <= len(s) && strings.EqualFold(s[i:i+8], "ORDER BY") {
				return s[loc[0]:min(len(s), i+8)], true
			}
		}
	}
	return "", false
}

// TestSchemaParsesInSQLite337 scans every schema object of a migrated database (tables with
// their CHECKs and generated columns, indexes, views, triggers) for syntax newer than SQLite
// 3.37. TestSQLite3CLIReadsEveryViewAndOperatorQuery (app) runs them in the machine's sqlite3.
func TestSchemaParsesInSQLite337(t *testing.T) {
	db := openTest(t, Options{})
	rows, err := db.Read().Query(`SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			t.Fatal(err)
		}
		n++
		code := stripSQL(sql)
		for _, p := range post337 {
			if m := p.pattern.FindString(code); m != "" {
				t.Errorf("%s %s uses %s: %q", typ, name, p.what, m)
			}
		}
		if m, ok := orderByInAggregate(code); ok {
			t.Errorf("%s %s uses ORDER BY inside an aggregate (3.44): %q", typ, name, m)
		}
	}
	if n < 30 {
		t.Fatalf("only %d schema objects", n)
	}
	// The checks find what they look for.
	if _, ok := orderByInAggregate(stripSQL("SELECT json_group_array(json_object('a', x) ORDER BY y) FROM t")); !ok {
		t.Error("ORDER BY inside json_group_array not found")
	}
	old, err := fs.ReadFile(migrations.FS, "0002_views.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := orderByInAggregate(stripSQL(string(old))); !ok {
		t.Error("the scan misses the SQLite 3.44 form of the payload view in 0002")
	}
	if _, ok := orderByInAggregate(stripSQL("SELECT json_group_array(x) FROM (SELECT x FROM t ORDER BY y)")); ok {
		t.Error("an ordered subquery taken for ORDER BY inside the aggregate")
	}
}
