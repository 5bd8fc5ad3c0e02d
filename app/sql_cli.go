package app

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/technifold/technifold/store"
)

// sqlCommand is `technifold sql "SELECT …"`: the operator's SQL prompt in a container that has
// no sqlite3. It opens its own read-only connection (mode=ro and query_only), so it reads the
// live database while serve runs and can never write it.
var sqlCommand = command{"sql", `run one read-only SQL query: sql "SELECT …" [--json|--csv] (against the live database)`, runSQL}

func runSQL(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	path := env.Getenv("DATABASE_PATH")
	if path == "" {
		path = "data/technifold.db"
	}
	fs.StringVar(&path, "database-path", path, "the SQLite file (env DATABASE_PATH)")
	asJSON := fs.Bool("json", false, "print a JSON array with one object per row")
	asCSV := fs.Bool("csv", false, "print CSV with a header line")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, `Usage: technifold sql [--json|--csv] [--database-path PATH] "SELECT …"

Runs one query on a read-only connection of its own: it reads the live database while the
server runs, never waits for or blocks its writes, and refuses any statement that writes.
Output is an aligned table (NULL shown as NULL) unless --json or --csv.

`)
		fs.PrintDefaults()
	}
	// Flags may come before or after the query.
	var query []string
	for rest := args; ; {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		query = append(query, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(query) != 1 || *asJSON && *asCSV {
		fs.Usage()
		return errUsage
	}
	res, err := store.QueryReadOnly(ctx, path, query[0])
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return writeSQLJSON(env.Stdout, res)
	case *asCSV:
		return writeSQLCSV(env.Stdout, res)
	}
	return writeSQLTable(env.Stdout, res)
}

// sqlText renders a value for the table and CSV forms; ok is false for NULL.
func sqlText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case string:
		return x, true
	case []byte:
		if utf8.Valid(x) {
			return string(x), true
		}
		return "x'" + hex.EncodeToString(x) + "'", true
	case bool:
		return strconv.FormatBool(x), true
	}
	return fmt.Sprint(v), true
}

func writeSQLTable(w io.Writer, res store.QueryResult) error {
	cells := make([][]string, len(res.Rows))
	widths := make([]int, len(res.Columns))
	for i, c := range res.Columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	for r, row := range res.Rows {
		cells[r] = make([]string, len(row))
		for i, v := range row {
			s, ok := sqlText(v)
			if !ok {
				s = "NULL"
			}
			s = strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\t", " ").Replace(s)
			cells[r][i] = s
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	line := func(vals []string, numeric []bool) string {
		var b strings.Builder
		for i, s := range vals {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if numeric != nil && numeric[i] {
				b.WriteString(pad + s)
			} else if i < len(vals)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
		}
		return strings.TrimRight(b.String(), " ") + "\n"
	}
	var out strings.Builder
	out.WriteString(line(res.Columns, nil))
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("-", n)
	}
	out.WriteString(line(rule, nil))
	for r, row := range res.Rows {
		numeric := make([]bool, len(row))
		for i, v := range row {
			switch v.(type) {
			case int64, float64:
				numeric[i] = true
			}
		}
		out.WriteString(line(cells[r], numeric))
	}
	fmt.Fprintf(&out, "(%d row%s)\n", len(res.Rows), map[bool]string{true: "", false: "s"}[len(res.Rows) == 1])
	_, err := io.WriteString(w, out.String())
	return err
}

func writeSQLCSV(w io.Writer, res store.QueryResult) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(res.Columns); err != nil {
		return err
	}
	for _, row := range res.Rows {
		rec := make([]string, len(row))
		for i, v := range row {
			rec[i], _ = sqlText(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeSQLJSON prints the rows as objects with the columns in the query's order; numbers stay
// numbers, NULL is null, text is a string (JSON columns included, as sqlite3 -json prints them).
func writeSQLJSON(w io.Writer, res store.QueryResult) error {
	var b strings.Builder
	b.WriteString("[")
	for r, row := range res.Rows {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n{")
		for i, v := range row {
			if i > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(res.Columns[i])
			b.Write(k)
			b.WriteString(":")
			switch x := v.(type) {
			case []byte:
				v, _ = sqlText(x)
			case float64:
				if math.IsInf(x, 0) || math.IsNaN(x) {
					v = strconv.FormatFloat(x, 'g', -1, 64)
				}
			}
			val, err := json.Marshal(v)
			if err != nil {
				return err
			}
			b.Write(val)
		}
		b.WriteString("}")
	}
	b.WriteString("\n]\n")
	_, err := io.WriteString(w, b.String())
	return err
}
