package app

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/store"
)

// Validating a CSV file before importing it: every invalid row is found (not only the first),
// so a person fixes a file in one pass. The CLI's `import` and the admin UI's import page use
// the same check, with the same words.

// MaxListedProblems is how many invalid rows a check lists; it counts all of them.
const MaxListedProblems = 100

// maxSampleCandidates bounds the rows a check keeps as they are in the file, for the preview's
// sample of valid rows (the first of them that pass every check).
const maxSampleCandidates = 200

// sampleRows is how many valid rows a check shows as a sample.
const sampleRows = 5

// ImportProblem is why one row (or the header) of a CSV file cannot be imported.
type ImportProblem struct {
	Line   int    `json:"line"`             // line of the file, the header being line 1 (0: the file as a whole)
	Column string `json:"column,omitempty"` // the column's name, or its position for a syntax error
	Value  string `json:"value,omitempty"`  // the value, quoted and cut to 80 characters (quoteValue)
	Reason string `json:"reason"`
}

// String words the problem as the importer always has: `line 3, column currency, value
// "pounds": must be a 3-letter ISO currency code like gbp`.
func (p ImportProblem) String() string {
	var parts []string
	if p.Line > 0 {
		parts = append(parts, "line "+strconv.Itoa(p.Line))
	}
	if p.Column != "" {
		parts = append(parts, "column "+p.Column)
	}
	if p.Value != "" {
		parts = append(parts, "value "+p.Value)
	}
	if len(parts) == 0 {
		return p.Reason
	}
	return strings.Join(parts, ", ") + ": " + p.Reason
}

// problemError carries a row's problem out of the parse functions.
type problemError struct{ p ImportProblem }

func (e *problemError) Error() string { return e.p.String() }

// ImportSample is one valid row as the file has it.
type ImportSample struct {
	Line   int
	Values []string // in the order of ImportCheck.Header, each cut to 80 characters
	row    int      // index among the parsed rows
}

// ImportCheck is what validating a CSV file found. Nothing is written to find it.
type ImportCheck struct {
	Kind    string
	Rows    int // data rows read (blank lines are skipped)
	Valid   int // rows that pass every check
	Invalid int // invalid rows, a header that does not fit the kind counting as one
	// Problems lists the first MaxListedProblems invalid rows by line, one problem each
	// (the first found in the row).
	Problems []ImportProblem
	Header   []string       // the file's columns, lower-cased
	Sample   []ImportSample // the first few valid rows

	rows    []parsedRow // rows that parsed, with their lines: what an import writes
	lines   []int
	samples []ImportSample // candidates for Sample
}

// ValidateCSV reads a whole CSV file of the given kind and checks every row: every column,
// every company and product it names (against the database), and for contacts that no
// address is already another contact's. It writes nothing. The error is for what is not a
// problem of the file's rows: an unknown kind, a read or database error.
func ValidateCSV(ctx context.Context, db *store.DB, kind string, r io.Reader) (*ImportCheck, error) {
	spec, ok := importSpecs[kind]
	if !ok {
		return nil, invalidf("unknown import kind %q (expected one of %s)", kind, strings.Join(ImportKinds(), ", "))
	}
	check := &ImportCheck{Kind: kind}
	if err := readCSV(r, spec, check); err != nil {
		return nil, err
	}
	bad := make([]bool, len(check.rows))
	if len(check.rows) > 0 {
		if err := checkReferences(ctx, db, check, bad); err != nil {
			return nil, err
		}
	}
	for i := range bad {
		if !bad[i] {
			check.Valid++
		}
	}
	for _, s := range check.samples {
		if len(check.Sample) == sampleRows {
			break
		}
		if !bad[s.row] {
			for i, v := range s.Values {
				s.Values[i] = cutText(strings.TrimSpace(v), maxQuotedValue)
			}
			check.Sample = append(check.Sample, s)
		}
	}
	check.samples = nil
	return check, nil
}

// ImportColumns are the required and optional columns of a kind's file.
func ImportColumns(kind string) (required, optional []string) {
	spec := importSpecs[kind]
	return slices.Clone(spec.required), slices.Clone(spec.optional)
}

// add records an invalid row, keeping the first MaxListedProblems by line.
func (c *ImportCheck) add(p ImportProblem) {
	c.Invalid++
	n := len(c.Problems)
	if n == MaxListedProblems && p.Line >= c.Problems[n-1].Line {
		return
	}
	i := sort.Search(n, func(i int) bool { return c.Problems[i].Line > p.Line })
	c.Problems = slices.Insert(c.Problems, i, p)
	if len(c.Problems) > MaxListedProblems {
		c.Problems = c.Problems[:MaxListedProblems]
	}
}

// Unlisted is how many invalid rows Problems leaves out.
func (c *ImportCheck) Unlisted() int { return c.Invalid - len(c.Problems) }

// Err is nil for a file with no problem; else an EINVALID error listing them, one a line
// (a single problem alone, as the importer has always said it).
func (c *ImportCheck) Err() error {
	if c.Invalid == 0 {
		return nil
	}
	if c.Invalid == 1 {
		return invalidf("%s", c.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d rows are invalid:", c.Invalid, c.Rows)
	for _, p := range c.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	if more := c.Unlisted(); more > 0 {
		fmt.Fprintf(&b, "\n  … and %d more invalid rows (only the first %d are listed)", more, len(c.Problems))
	}
	return invalidf("%s", b.String())
}

// decimalAmount is an amount written in major units: "39.00", "39,5", "£39.00". A comma takes
// at most two decimals, so "39,000" (a thousands separator) is not read as 39.
var decimalAmount = regexp.MustCompile(`^[£$€]?(\d{1,15})(?:\.(\d{1,3})|,(\d{1,2}))$`)

// minorUnitsHint tells someone who wrote a money amount in major units what to write instead,
// for the row's currency (3900 for 39.00 GBP, 39 for 39 JPY); "" when v does not look like one.
func minorUnitsHint(v, currency string) string {
	m := decimalAmount.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	if !isCurrency(strings.ToLower(currency)) {
		currency = "gbp"
	}
	digits := zohobooks.CurrencyExponent(currency)
	frac := m[2] + m[3]
	if len(frac) > digits {
		if strings.Trim(frac[digits:], "0") != "" {
			return "amounts are in minor units (pence, cents): a whole number like 3900 for 39.00"
		}
		frac = frac[:digits]
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(m[1]+frac, 10, 64)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("amounts are in minor units: write %d for %s", n, strings.TrimLeft(v, "£$€"))
}

// cutText cuts s to its first n characters, marking the cut with "…".
func cutText(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
