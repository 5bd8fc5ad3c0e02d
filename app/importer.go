package app

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/technifold/technifold/store"
)

// ImportKinds lists the CSV files `technifold import` takes, in the order to load them.
func ImportKinds() []string {
	return []string{"companies", "contacts", "products", "prices", "sales", "tool-consumables"}
}

// importSpec describes one CSV kind: its columns and how a row becomes a write.
type importSpec struct {
	required, optional []string
	parse              func(row csvRow) (parsedRow, error)
}

// rowWrite applies one parsed row inside an import transaction; it reports a change.
type rowWrite func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error)

// parsedRow is one validated data row: its write, the rows it refers to (checked against the
// database before anything is written) and, for contacts, its id and e-mail.
type parsedRow struct {
	write            rowWrite
	refs             []rowRef
	contactID, email string
}

// rowRef is a value of a column that must name an existing row.
type rowRef struct{ table, key, col, val string }

// refNoun names one row of a table a file refers to ("no such company").
var refNoun = map[string]string{"companies": "company", "products": "product"}

var importSpecs = map[string]importSpec{
	"companies": {
		required: []string{"company_id", "company_name"},
		optional: []string{"type", "country", "category", "currency"},
		parse:    parseCompanyRow,
	},
	"contacts": {
		required: []string{"contact_id", "email"},
		optional: []string{"company_id", "first_name", "last_name", "full_name", "phone", "marketing_status", "gdpr_consent_at"},
		parse:    parseContactRow,
	},
	"products": {
		required: []string{"product_code", "description", "type"},
		optional: []string{"category", "active"},
		parse:    parseProductRow,
	},
	"prices": {
		required: []string{"product_code", "currency", "unit_amount"},
		optional: []string{"stripe_price_id"},
		parse:    parsePriceRow,
	},
	"sales": {
		required: []string{"company_id", "product_code", "quantity", "unit_amount", "currency", "txn_date", "invoice_number"},
		parse:    parseSaleRow,
	},
	"tool-consumables": {
		required: []string{"tool_code", "consumable_code"},
		parse:    parseToolConsumableRow,
	},
}

// ImportResult says what an import did.
type ImportResult struct {
	Rows      int // data rows read
	Changed   int // rows inserted or updated (0 on a re-import of the same file)
	Committed int // rows written so far (Rows once the import completed)
	Chunks    int // write transactions it took
}

// ImportOptions tunes how an import writes.
type ImportOptions struct {
	// Progress receives a line every 10,000 rows (stderr for large files); nil silences it.
	Progress io.Writer
	// ChunkTime is how long one write transaction may hold the write lock; the number of rows
	// per transaction adapts to it. 20 ms when zero.
	ChunkTime time.Duration
	// MaxChunkRows caps the rows per transaction (tests); 20,000 when zero.
	MaxChunkRows int
	// Pause is how long the import leaves the write lock free between two transactions; 1 ms
	// when zero. A writer of another process waiting for the lock (the server, when the import
	// runs as a CLI verb) says so (store.DB.YieldToWaitingWriters) and goes first in any case.
	Pause time.Duration
	// Share is the pause after a chunk as a fraction of the chunk's time, taken while another
	// process writes too (it committed since the previous chunk): 0.5 leaves the writer, and a
	// core, to it a third of the time. 0.5 when zero; negative for none.
	Share float64
	// OnChunk, when set, is called after each committed chunk with the rows committed so far.
	OnChunk func(committed int)
}

// importBusyRetries is how many times a chunk is tried again when another process kept the
// write lock for store's whole wait (10 s each): an import is patient, a webhook is not.
const importBusyRetries = 30

// ImportCSV loads one CSV file of the given kind (ImportCSVWith with default options).
func ImportCSV(ctx context.Context, db *store.DB, kind string, r io.Reader, progress io.Writer) (ImportResult, error) {
	return ImportCSVWith(ctx, db, kind, r, ImportOptions{Progress: progress})
}

// ImportCSVWith loads one CSV file of the given kind. The whole file is read and validated
// first by ValidateCSV (every column of every row, and every reference to a company or product
// against the database): on any bad row nothing is written, and the error lists every invalid
// row (the first MaxListedProblems of them, and how many there are) with its line, column and
// value. The rows are then written in order in short transactions (chunks of about
// ChunkTime each; between two, any writer of another process waiting for the lock goes
// first), so a server running on the same database — this process's or another's — waits at
// most about one chunk for the write lock. Every row is an upsert by its natural key, so when
// an import is interrupted (Ctrl-C, a crash, a write error) the chunks before the interruption
// are committed, the rest not (an *ImportInterrupted says how many rows), and importing the
// same file again completes it without duplicates.
func ImportCSVWith(ctx context.Context, db *store.DB, kind string, r io.Reader, opts ImportOptions) (ImportResult, error) {
	check, err := ValidateCSV(ctx, db, kind, r)
	if err != nil {
		return ImportResult{}, err
	}
	if err := check.Err(); err != nil {
		return ImportResult{}, err
	}
	rows, lines := check.rows, check.lines
	if opts.ChunkTime <= 0 {
		opts.ChunkTime = 20 * time.Millisecond
	}
	if opts.MaxChunkRows <= 0 {
		opts.MaxChunkRows = 20000
	}
	if opts.Pause <= 0 {
		opts.Pause = time.Millisecond
	}
	if opts.Share == 0 {
		opts.Share = 0.5
	}
	res := ImportResult{Rows: len(rows)}
	refs := &refCache{seen: map[string]bool{}}
	size := min(64, opts.MaxChunkRows) // rows of the first chunk; then sized from the time per row
	var lastVersion int64
	for start := 0; start < len(rows); {
		if err := ctx.Err(); err != nil {
			return res, interrupted(start, len(rows), err)
		}
		end := min(len(rows), start+size)
		var changed int
		var spent time.Duration
		var version int64
		err := updateChunk(ctx, db, func(tx *store.Tx) error {
			t0 := time.Now()
			changed = 0
			refs.tx = tx
			var err error
			if version, err = tx.DataVersion(ctx); err != nil {
				return err
			}
			for i := start; i < end; i++ {
				c, err := rows[i].write(ctx, tx, refs)
				if err != nil {
					return fmt.Errorf("line %d: %w", lines[i], err)
				}
				if c {
					changed++
				}
			}
			spent = time.Since(t0)
			return nil
		})
		if err != nil {
			return res, interrupted(start, len(rows), err)
		}
		othersWrite := res.Chunks > 0 && version != lastVersion
		lastVersion = version
		res.Changed += changed
		res.Committed = end
		res.Chunks++
		if opts.OnChunk != nil {
			opts.OnChunk(end)
		}
		if opts.Progress != nil && end/10000 > start/10000 {
			fmt.Fprintf(opts.Progress, "import %s: %d/%d rows\n", kind, end/10000*10000, len(rows))
		}
		perRow := spent / time.Duration(end-start)
		if perRow > 0 {
			size = max(16, min(opts.MaxChunkRows, int(opts.ChunkTime/perRow)))
		}
		start = end
		if start < len(rows) {
			select {
			case <-time.After(pause(opts, spent, othersWrite)):
			case <-ctx.Done():
			}
			db.YieldToWaitingWriters(ctx, time.Second)
		}
	}
	return res, nil
}

// interrupted is the error of an import stopped after committing rows (err alone when it
// committed none: nothing was imported).
func interrupted(committed, rows int, err error) error {
	if committed == 0 {
		return err
	}
	return &ImportInterrupted{Committed: committed, Rows: rows, Err: err}
}

// pause is how long an import leaves the write lock free after a chunk that took spent.
func pause(opts ImportOptions, spent time.Duration, othersWrite bool) time.Duration {
	if !othersWrite || opts.Share < 0 {
		return opts.Pause
	}
	return max(opts.Pause, time.Duration(float64(spent)*opts.Share))
}

// updateChunk runs one chunk's transaction, trying again while another process holds the
// write lock beyond store's wait.
func updateChunk(ctx context.Context, db *store.DB, fn func(*store.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.Update(ctx, fn)
		if err == nil || store.ErrorCode(err) != store.EUNAVAILABLE || ctx.Err() != nil || attempt == importBusyRetries {
			return err
		}
	}
}

// ImportInterrupted is an import that stopped after validation, part-way through writing: the
// first Committed rows are in the database, the rest are not. Importing the same file again
// completes it (rows are upserted by their natural key).
type ImportInterrupted struct {
	Committed, Rows int
	Err             error
}

func (e *ImportInterrupted) Error() string {
	return fmt.Sprintf("%v (rows 1-%d of %d are imported, the rest are not; fix the cause and import the same file again to complete it)",
		e.Err, e.Committed, e.Rows)
}

func (e *ImportInterrupted) Unwrap() error { return e.Err }

// importError words a failed import for the CLI: nothing imported, or how far it got.
func importError(file string, err error) error {
	var part *ImportInterrupted
	if errors.As(err, &part) {
		return fmt.Errorf("%s: import stopped: %w", file, err)
	}
	return fmt.Errorf("%s: nothing imported: %w", file, err)
}

// checkReferences checks, before anything is written, that every company and product the
// file names exists, and that no contact takes an e-mail address another contact keeps. Each
// row that fails is added to check (once, with its first problem) and marked in bad.
func checkReferences(ctx context.Context, db *store.DB, check *ImportCheck, bad []bool) error {
	rows, lines := check.rows, check.lines
	byTable := map[string]map[string]bool{} // table → value → missing
	var order []string
	for _, r := range rows {
		for _, ref := range r.refs {
			vals := byTable[ref.table]
			if vals == nil {
				vals = map[string]bool{}
				byTable[ref.table] = vals
				order = append(order, ref.table)
			}
			vals[ref.val] = false
		}
	}
	keyCol := map[string]string{"companies": "company_id", "products": "product_code"}
	for _, table := range order {
		vals := make([]string, 0, len(byTable[table]))
		for v := range byTable[table] {
			vals = append(vals, v)
		}
		missing, err := db.MissingKeys(ctx, table, keyCol[table], vals)
		if err != nil {
			return err
		}
		for _, v := range missing {
			byTable[table][v] = true
		}
	}
	for i, r := range rows {
		for _, ref := range r.refs {
			if byTable[ref.table][ref.val] {
				check.add(ImportProblem{Line: lines[i], Column: ref.col, Value: quoteValue(ref.val),
					Reason: fmt.Sprintf("no such %s (import %s first)", refNoun[ref.table], ref.table)})
				bad[i] = true
				break
			}
		}
	}
	return checkContactEmails(ctx, db, check, bad)
}

// checkContactEmails refuses the rows of a contacts file that would break the unique e-mail
// index: a second contact of the file with one address, or an address another contact already
// has (and keeps, or gives up only on a later line of the file).
func checkContactEmails(ctx context.Context, db *store.DB, check *ImportCheck, bad []bool) error {
	rows, lines := check.rows, check.lines
	if len(rows) == 0 || rows[0].email == "" {
		return nil
	}
	fail := func(i int, format string, args ...any) {
		if !bad[i] {
			check.add(ImportProblem{Line: lines[i], Column: "email", Value: quoteValue(rows[i].email), Reason: fmt.Sprintf(format, args...)})
			bad[i] = true
		}
	}
	owner := map[string]int{}   // lower-cased address → index of the row that takes it
	lastRow := map[string]int{} // contact id → index of its last row in the file
	var emails []string
	for i, r := range rows {
		e := strings.ToLower(r.email)
		j, taken := owner[e]
		if taken && rows[j].contactID != r.contactID {
			fail(i, "contact %s on line %d has the same address", rows[j].contactID, lines[j])
			continue
		}
		if !taken {
			emails = append(emails, r.email)
		}
		owner[e] = i
		lastRow[r.contactID] = i
	}
	existing, err := db.ContactIDsByEmail(ctx, emails)
	if err != nil {
		return err
	}
	for i, r := range rows {
		other, ok := existing[strings.ToLower(r.email)]
		if !ok || other == r.contactID {
			continue
		}
		j, moved := lastRow[other]
		if !moved || strings.EqualFold(rows[j].email, r.email) {
			fail(i, "contact %s already has this address", other)
		} else if j > i {
			fail(i, "contact %s has this address until line %d changes it (put that line first)", other, lines[j])
		}
	}
	return nil
}

// readCSV checks the header and parses every row before any write, so the writer is held
// only for the inserts. A row that does not parse is added to check with its problem and
// reading goes on; a header that does not fit the kind ends the reading (one problem, line 1).
// The error is for a file that cannot be read at all (an I/O error).
func readCSV(r io.Reader, spec importSpec, check *ImportCheck) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	cr.FieldsPerRecord = 0
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		check.add(ImportProblem{Reason: "the file is empty: expected a header line with " + strings.Join(spec.required, ",")})
		return nil
	}
	if p, ok := csvProblem(err); ok {
		p.Line = 1
		check.add(p)
		return nil
	}
	if err != nil {
		return err
	}
	if p, bad := checkUTF8(cr, header, nil); bad {
		check.add(p)
		return nil
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(spec.required, h) && !slices.Contains(spec.optional, h) {
			check.add(ImportProblem{Line: 1, Column: strconv.Itoa(i + 1),
				Reason: fmt.Sprintf("unknown column %s (expected %s)", quoteValue(h), describeColumns(spec))})
			return nil
		}
		if _, dup := cols[h]; dup {
			check.add(ImportProblem{Line: 1, Column: strconv.Itoa(i + 1), Reason: fmt.Sprintf("column %s appears twice", quoteValue(h))})
			return nil
		}
		cols[h] = i
		check.Header = append(check.Header, h)
	}
	for _, req := range spec.required {
		if _, ok := cols[req]; !ok {
			check.add(ImportProblem{Line: 1, Reason: fmt.Sprintf("missing required column %q (expected %s)", req, describeColumns(spec))})
			return nil
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if p, ok := csvProblem(err); ok {
			check.Rows++
			check.add(p)
			continue
		}
		if err != nil {
			return err
		}
		check.Rows++
		if p, bad := checkUTF8(cr, rec, header); bad {
			check.add(p)
			continue
		}
		line, _ := cr.FieldPos(0)
		w, err := spec.parse(csvRow{cols: cols, rec: rec, line: line})
		var pe *problemError
		if errors.As(err, &pe) {
			check.add(pe.p)
			continue
		}
		if err != nil {
			return err
		}
		if len(check.samples) < maxSampleCandidates {
			check.samples = append(check.samples, ImportSample{Line: line, Values: rec, row: len(check.rows)})
		}
		check.rows = append(check.rows, w)
		check.lines = append(check.lines, line)
	}
	return nil
}

func describeColumns(spec importSpec) string {
	s := strings.Join(spec.required, ",")
	if len(spec.optional) > 0 {
		s += " and optionally " + strings.Join(spec.optional, ",")
	}
	return s
}

// csvProblem words a CSV syntax error (a stray quote, a row with the wrong number of fields)
// as the problem of its line.
func csvProblem(err error) (ImportProblem, bool) {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return ImportProblem{}, false
	}
	return ImportProblem{Line: pe.Line, Column: strconv.Itoa(pe.Column), Reason: pe.Err.Error()}, true
}

// csvRow is one data row with its line number, for errors that name line, column and value.
type csvRow struct {
	cols map[string]int
	rec  []string
	line int
}

func (r csvRow) get(col string) string {
	i, ok := r.cols[col]
	if !ok || i >= len(r.rec) {
		return ""
	}
	return strings.TrimSpace(r.rec[i])
}

// errf is the row's problem with col: its line, the column, its value and why.
func (r csvRow) errf(col, format string, args ...any) error {
	return &problemError{ImportProblem{Line: r.line, Column: col, Value: quoteValue(r.get(col)), Reason: fmt.Sprintf(format, args...)}}
}

// maxQuotedValue is how much of a bad value an error quotes: enough to find it, never a
// megabyte of it.
const maxQuotedValue = 80

// quoteValue quotes v for an error message, cut to its first 80 characters ("…" and the
// full length in bytes when longer).
func quoteValue(v string) string {
	n := 0
	for i := range v {
		if n == maxQuotedValue {
			return strconv.Quote(v[:i]) + fmt.Sprintf("… (%d bytes)", len(v))
		}
		n++
	}
	return strconv.Quote(v)
}

// checkUTF8 refuses a record with a field that is not valid UTF-8, naming the line and
// column (in bytes, 1-based) where that field starts and, for data rows, its column name.
func checkUTF8(cr *csv.Reader, rec, header []string) (ImportProblem, bool) {
	for i, f := range rec {
		if utf8.ValidString(f) {
			continue
		}
		line, col := cr.FieldPos(i)
		name := ""
		if i < len(header) {
			name = " (" + quoteValue(strings.TrimSpace(header[i])) + ")"
		}
		bad := 0
		for bad < len(f) {
			r, size := utf8.DecodeRuneInString(f[bad:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			bad += size
		}
		return ImportProblem{Line: line, Column: strconv.Itoa(col) + name,
			Reason: fmt.Sprintf("the value is not valid UTF-8 (byte %d of the field); save the file as UTF-8", bad+1)}, true
	}
	return ImportProblem{}, false
}

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)

func (r csvRow) code(col string, required bool) (string, error) {
	v := r.get(col)
	if v == "" {
		if required {
			return "", r.errf(col, "is required")
		}
		return "", nil
	}
	if !codePattern.MatchString(v) {
		return "", r.errf(col, "must be 1-64 letters, digits or . _ : / -")
	}
	return v, nil
}

func (r csvRow) text(col string, required bool, maxLen int) (string, error) {
	v := r.get(col)
	if v == "" && required {
		return "", r.errf(col, "is required")
	}
	if len(v) > maxLen {
		return "", r.errf(col, "is longer than %d characters", maxLen)
	}
	return v, nil
}

func (r csvRow) currency(col string, required bool) (string, error) {
	v := strings.ToLower(r.get(col))
	if v == "" && !required {
		return "", nil
	}
	if !isCurrency(v) {
		return "", r.errf(col, "must be a 3-letter ISO currency code like gbp")
	}
	return v, nil
}

func (r csvRow) integer(col string, minimum int64) (int64, error) {
	n, err := strconv.ParseInt(r.get(col), 10, 64)
	if err != nil {
		return 0, r.errf(col, "must be a whole number")
	}
	if n < minimum {
		return 0, r.errf(col, "must be at least %d", minimum)
	}
	return n, nil
}

// amount reads a money column: a whole number of minor units (3900 for £39.00), not negative.
// A decimal amount ("39.00", "39,00") is refused with the number to write instead.
func (r csvRow) amount(col string) (int64, error) {
	v := r.get(col)
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		if hint := minorUnitsHint(v, r.get("currency")); hint != "" {
			return 0, r.errf(col, "must be a whole number; %s", hint)
		}
	}
	return r.integer(col, 0)
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func parseCompanyRow(r csvRow) (parsedRow, error) {
	var c store.Company
	var err error
	if c.ID, err = r.code("company_id", true); err != nil {
		return parsedRow{}, err
	}
	if c.Name, err = r.text("company_name", true, 200); err != nil {
		return parsedRow{}, err
	}
	c.Type, c.Country, c.Category = r.get("type"), r.get("country"), r.get("category")
	if c.Currency, err = r.currency("currency", false); err != nil {
		return parsedRow{}, err
	}
	return parsedRow{write: func(ctx context.Context, tx *store.Tx, _ *refCache) (bool, error) { return tx.UpsertCompany(ctx, c) }}, nil
}

func parseContactRow(r csvRow) (parsedRow, error) {
	var k store.Contact
	var err error
	if k.ID, err = r.code("contact_id", true); err != nil {
		return parsedRow{}, err
	}
	if k.CompanyID, err = r.code("company_id", false); err != nil {
		return parsedRow{}, err
	}
	addr, err := mail.ParseAddress(r.get("email"))
	if err != nil || addr.Address != r.get("email") || len(addr.Address) > 254 {
		return parsedRow{}, r.errf("email", "must be a plain e-mail address like name@example.com")
	}
	k.Email = addr.Address
	k.FirstName, k.LastName, k.FullName, k.Phone = r.get("first_name"), r.get("last_name"), r.get("full_name"), r.get("phone")
	status, ok := store.NormalizeMarketingStatus(r.get("marketing_status"))
	if !ok {
		return parsedRow{}, r.errf("marketing_status", "must be subscribed, unsubscribed, bounced or pending (legacy active and opted_out are accepted)")
	}
	k.MarketingStatus = status
	if v := r.get("gdpr_consent_at"); v != "" {
		t, err := store.ParseTime(v)
		if err != nil {
			return parsedRow{}, r.errf("gdpr_consent_at", "must be a date or timestamp like 2025-01-20T10:00:00Z")
		}
		k.GDPRConsentAt = store.FormatTime(t)
	}
	row := parsedRow{contactID: k.ID, email: k.Email, write: func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
		if k.CompanyID != "" {
			if err := refs.require(ctx, "companies", "company_id", k.CompanyID); err != nil {
				return false, err
			}
		}
		return tx.UpsertContact(ctx, k)
	}}
	if k.CompanyID != "" {
		row.refs = []rowRef{{"companies", "company_id", "company_id", k.CompanyID}}
	}
	return row, nil
}

var productTypes = []string{"tool", "consumable", "part", "service"}

func parseProductRow(r csvRow) (parsedRow, error) {
	var p store.Product
	var err error
	if p.Code, err = r.code("product_code", true); err != nil {
		return parsedRow{}, err
	}
	if p.Description, err = r.text("description", true, 500); err != nil {
		return parsedRow{}, err
	}
	p.Type = strings.ToLower(r.get("type"))
	if !slices.Contains(productTypes, p.Type) {
		return parsedRow{}, r.errf("type", "must be one of %s", strings.Join(productTypes, ", "))
	}
	p.Category = r.get("category")
	switch strings.ToLower(r.get("active")) {
	case "", "1", "true", "yes", "y":
		p.Active = true
	case "0", "false", "no", "n":
		p.Active = false
	default:
		return parsedRow{}, r.errf("active", "must be true or false")
	}
	return parsedRow{write: func(ctx context.Context, tx *store.Tx, _ *refCache) (bool, error) { return tx.UpsertProduct(ctx, p) }}, nil
}

func parsePriceRow(r csvRow) (parsedRow, error) {
	var p store.Price
	var err error
	if p.ProductCode, err = r.code("product_code", true); err != nil {
		return parsedRow{}, err
	}
	if p.Currency, err = r.currency("currency", true); err != nil {
		return parsedRow{}, err
	}
	if p.UnitAmount, err = r.amount("unit_amount"); err != nil {
		return parsedRow{}, err
	}
	p.StripePriceID = r.get("stripe_price_id")
	return parsedRow{refs: []rowRef{{"products", "product_code", "product_code", p.ProductCode}},
		write: func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
			if err := refs.require(ctx, "products", "product_code", p.ProductCode); err != nil {
				return false, err
			}
			return tx.UpsertPrice(ctx, p)
		}}, nil
}

func parseSaleRow(r csvRow) (parsedRow, error) {
	var s store.Sale
	var err error
	if s.CompanyID, err = r.code("company_id", true); err != nil {
		return parsedRow{}, err
	}
	if s.ProductCode, err = r.code("product_code", true); err != nil {
		return parsedRow{}, err
	}
	if s.Quantity, err = r.integer("quantity", -1_000_000); err != nil {
		return parsedRow{}, err
	}
	if s.Quantity == 0 {
		return parsedRow{}, r.errf("quantity", "must not be 0")
	}
	if s.UnitAmount, err = r.amount("unit_amount"); err != nil {
		return parsedRow{}, err
	}
	if s.Currency, err = r.currency("currency", true); err != nil {
		return parsedRow{}, err
	}
	d, err := time.Parse("2006-01-02", r.get("txn_date"))
	if err != nil {
		t, terr := store.ParseTime(r.get("txn_date"))
		if terr != nil {
			return parsedRow{}, r.errf("txn_date", "must be a date like 2025-01-20")
		}
		d = t
	}
	s.TxnDate = d.Format("2006-01-02")
	if s.InvoiceNumber, err = r.text("invoice_number", true, 64); err != nil {
		return parsedRow{}, err
	}
	return parsedRow{refs: []rowRef{{"companies", "company_id", "company_id", s.CompanyID}, {"products", "product_code", "product_code", s.ProductCode}},
		write: func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
			if err := refs.require(ctx, "companies", "company_id", s.CompanyID); err != nil {
				return false, err
			}
			if err := refs.require(ctx, "products", "product_code", s.ProductCode); err != nil {
				return false, err
			}
			return tx.UpsertSale(ctx, s)
		}}, nil
}

func parseToolConsumableRow(r csvRow) (parsedRow, error) {
	tool, err := r.code("tool_code", true)
	if err != nil {
		return parsedRow{}, err
	}
	cons, err := r.code("consumable_code", true)
	if err != nil {
		return parsedRow{}, err
	}
	return parsedRow{refs: []rowRef{{"products", "product_code", "tool_code", tool}, {"products", "product_code", "consumable_code", cons}},
		write: func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
			if err := refs.require(ctx, "products", "product_code", tool); err != nil {
				return false, err
			}
			if err := refs.require(ctx, "products", "product_code", cons); err != nil {
				return false, err
			}
			return tx.UpsertToolConsumable(ctx, tool, cons)
		}}, nil
}

// refCache checks that referenced rows exist, once per value per import, so errors name the
// column and value instead of a bare foreign-key failure.
type refCache struct {
	tx   *store.Tx
	seen map[string]bool
}

func (c *refCache) require(ctx context.Context, table, col, val string) error {
	key := table + "\x00" + val
	if c.seen[key] {
		return nil
	}
	ok, err := c.tx.Exists(ctx, table, col, val)
	if err != nil {
		return err
	}
	if !ok {
		return invalidf("column %s, value %s: no such %s (import %s first)", col, quoteValue(val), refNoun[table], table)
	}
	c.seen[key] = true
	return nil
}
