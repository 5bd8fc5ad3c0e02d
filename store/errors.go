package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Error codes carried by *Error. The HTTP layer maps them to status codes in one place.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EUNAVAILABLE  = "unavailable"
)

// Error is an application error with a code and a message that is safe to show to a caller.
type Error struct {
	Code    string
	Message string
	Err     error // the underlying cause, for logs; never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return EUNAVAILABLE
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the *Error's message, or a generic one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// translate turns SQLite's constraint errors into coded errors. It is the only place that
// inspects driver errors, so handlers never parse SQLite messages.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	msg := se.Error()
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &Error{Code: ECONFLICT, Message: "already exists" + constraintDetail(msg), Err: err}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return &Error{Code: EINVALID, Message: "refers to a record that does not exist", Err: err}
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return &Error{Code: EINVALID, Message: "invalid value" + constraintDetail(msg), Err: err}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &Error{Code: EUNAVAILABLE, Message: "database is busy", Err: err}
	}
	return err
}

// constraintDetail extracts the column list SQLite names in a constraint message
// ("UNIQUE constraint failed: contacts.email" → " (contacts.email)").
func constraintDetail(msg string) string {
	i := strings.Index(msg, "constraint failed: ")
	if i < 0 {
		return ""
	}
	detail := msg[i+len("constraint failed: "):]
	if j := strings.Index(detail, " ("); j >= 0 {
		detail = detail[:j]
	}
	return " (" + detail + ")"
}
