package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ReadOnlyDSN is the connection string of a connection that cannot write the file: SQLite opens
// it read-only (mode=ro, which no PRAGMA in the query can undo) and query_only as well. It reads
// a live database (WAL) while the server writes it, and never takes the write lock.
func ReadOnlyDSN(path string) string {
	return DSN(path, false) + "&mode=ro"
}

// QueryResult is the outcome of a read-only query: column names and rows of driver values
// (int64, float64, string, []byte or nil).
type QueryResult struct {
	Columns []string
	Rows    [][]any
}

// QueryReadOnly runs one SQL query against the database file at path on a read-only connection
// of its own (no migration, no write lock): `technifold sql`. A statement that writes is
// refused with an EINVALID error saying so.
func QueryReadOnly(ctx context.Context, path, query string) (QueryResult, error) {
	if strings.TrimSpace(query) == "" {
		return QueryResult{}, Errorf(EINVALID, "no SQL given")
	}
	if _, err := os.Stat(path); err != nil {
		return QueryResult{}, Errorf(EINVALID, "no database at %s (set DATABASE_PATH or --database-path)", path)
	}
	db, err := sql.Open("sqlite", ReadOnlyDSN(path))
	if err != nil {
		return QueryResult{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return QueryResult{}, readOnlyError(err)
	}
	defer rows.Close()
	var res QueryResult
	if res.Columns, err = rows.Columns(); err != nil {
		return QueryResult{}, err
	}
	for rows.Next() {
		vals := make([]any, len(res.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return QueryResult{}, readOnlyError(err)
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return QueryResult{}, readOnlyError(err)
	}
	return res, nil
}

// readOnlyError turns SQLite's refusal to write into a clear message; other errors (syntax,
// no such table) are the caller's SQL and are shown as SQLite words them.
func readOnlyError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		if se.Code()&0xff == sqlite3.SQLITE_READONLY || strings.Contains(se.Error(), "query_only") {
			return &Error{Code: EINVALID, Message: "read-only: this connection cannot change the database (use the admin UI, the API or a CLI verb to write)", Err: err}
		}
		return &Error{Code: EINVALID, Message: fmt.Sprintf("SQL error: %s", sqliteMessage(se))}
	}
	return err
}

// sqliteMessage is SQLite's own text of the error, without the driver's code suffix.
func sqliteMessage(se *sqlite.Error) string {
	msg := se.Error()
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	return msg
}
