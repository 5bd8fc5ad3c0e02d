package console

import (
	"context"
	"fmt"
)

// Importer is the CSV importer of `technifold import`, as the import page uses it: the same
// kinds, checks and chunked writes as the CLI.
type Importer interface {
	// ImportKinds lists what a file may hold, each with its columns.
	ImportKinds() []ImportKind
	// CheckCSV checks every row of a file, writing nothing.
	CheckCSV(ctx context.Context, kind string, data []byte) (*ImportCheck, error)
	// ImportCSV imports a file; an *ImportInterrupted when it stopped part-way.
	ImportCSV(ctx context.Context, kind string, data []byte) (ImportResult, error)
}

// ImportKind is one kind of file and its columns.
type ImportKind struct {
	Name               string
	Required, Optional []string
}

// ImportCheck is what checking a file found.
type ImportCheck struct {
	Kind    string
	Rows    int // data rows read
	Valid   int // rows that pass every check
	Invalid int // invalid rows, a header that does not fit the kind counting as one
	// Problems lists the first invalid rows by line (at most 100), one problem each.
	Problems []ImportProblem
	Header   []string       // the file's columns, lower-cased
	Sample   []ImportSample // the first few valid rows
}

// Unlisted is how many invalid rows Problems leaves out.
func (c *ImportCheck) Unlisted() int { return c.Invalid - len(c.Problems) }

// ImportProblem is why one row (or the header) cannot be imported.
type ImportProblem struct {
	Line   int    // line of the file, the header being line 1 (0: the file as a whole)
	Column string // the column's name, or its position for a syntax error
	Value  string // the value, quoted and cut
	Reason string
}

// ImportSample is one valid row as the file has it.
type ImportSample struct {
	Line   int
	Values []string // in the order of ImportCheck.Header
}

// ImportResult is what an import wrote.
type ImportResult struct {
	Rows      int // data rows read
	Changed   int // rows inserted or updated
	Committed int // rows written
}

// ImportInterrupted is an import that stopped part-way: rows 1-Committed are written.
type ImportInterrupted struct {
	Committed, Rows int
	Err             error
}

func (e *ImportInterrupted) Error() string {
	return fmt.Sprintf("%v (rows 1-%d of %d are imported)", e.Err, e.Committed, e.Rows)
}

func (e *ImportInterrupted) Unwrap() error { return e.Err }
