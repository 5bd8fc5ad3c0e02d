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

	"github.com/technifold/technifold/store"
)

// ImportKinds lists the CSV files `technifold import` takes, in the order to load them.
func ImportKinds() []string {
	return []string{"companies", "contacts", "products", "prices", "sales", "tool-consumables"}
}

// importSpec describes one CSV kind: its columns and how a row becomes a write.
type importSpec struct {
	required, optional []string
	parse              func(row csvRow) (rowWrite, error)
}

// rowWrite applies one parsed row inside the import's transaction; it reports a change.
type rowWrite func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error)

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
	Rows    int // data rows read
	Changed int // rows inserted or updated (0 on a re-import of the same file)
}

// ImportCSV loads one CSV file of the given kind in a single transaction: on any bad row
// nothing is imported and the error names the line, column and value. Progress lines go to
// progress (stderr) for large files; nil silences them.
func ImportCSV(ctx context.Context, db *store.DB, kind string, r io.Reader, progress io.Writer) (ImportResult, error) {
	spec, ok := importSpecs[kind]
	if !ok {
		return ImportResult{}, invalidf("unknown import kind %q (expected one of %s)", kind, strings.Join(ImportKinds(), ", "))
	}
	writes, lines, err := readCSV(r, spec)
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Rows: len(writes)}
	err = db.Update(ctx, func(tx *store.Tx) error {
		refs := &refCache{tx: tx, seen: map[string]bool{}}
		res.Changed = 0
		for i, w := range writes {
			changed, err := w(ctx, tx, refs)
			if err != nil {
				return fmt.Errorf("line %d: %w", lines[i], err)
			}
			if changed {
				res.Changed++
			}
			if progress != nil && (i+1)%10000 == 0 {
				fmt.Fprintf(progress, "import %s: %d/%d rows\n", kind, i+1, len(writes))
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// readCSV checks the header and parses every row before any write, so the writer is held
// only for the inserts.
func readCSV(r io.Reader, spec importSpec) ([]rowWrite, []int, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	cr.FieldsPerRecord = 0
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, invalidf("the file is empty: expected a header line with %s", strings.Join(spec.required, ","))
	}
	if err != nil {
		return nil, nil, invalidf("line 1: %s", csvErrorText(err))
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(spec.required, h) && !slices.Contains(spec.optional, h) {
			return nil, nil, invalidf("line 1, column %d: unknown column %q (expected %s)", i+1, h, describeColumns(spec))
		}
		if _, dup := cols[h]; dup {
			return nil, nil, invalidf("line 1, column %d: column %q appears twice", i+1, h)
		}
		cols[h] = i
	}
	for _, req := range spec.required {
		if _, ok := cols[req]; !ok {
			return nil, nil, invalidf("line 1: missing required column %q (expected %s)", req, describeColumns(spec))
		}
	}
	var writes []rowWrite
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, invalidf("%s", csvErrorText(err))
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		w, err := spec.parse(csvRow{cols: cols, rec: rec, line: line})
		if err != nil {
			return nil, nil, err
		}
		writes = append(writes, w)
		lines = append(lines, line)
	}
	return writes, lines, nil
}

func describeColumns(spec importSpec) string {
	s := strings.Join(spec.required, ",")
	if len(spec.optional) > 0 {
		s += " and optionally " + strings.Join(spec.optional, ",")
	}
	return s
}

func csvErrorText(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
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

func (r csvRow) errf(col, format string, args ...any) error {
	return invalidf("line %d, column %s, value %q: %s", r.line, col, r.get(col), fmt.Sprintf(format, args...))
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

func parseCompanyRow(r csvRow) (rowWrite, error) {
	var c store.Company
	var err error
	if c.ID, err = r.code("company_id", true); err != nil {
		return nil, err
	}
	if c.Name, err = r.text("company_name", true, 200); err != nil {
		return nil, err
	}
	c.Type, c.Country, c.Category = r.get("type"), r.get("country"), r.get("category")
	if c.Currency, err = r.currency("currency", false); err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx *store.Tx, _ *refCache) (bool, error) { return tx.UpsertCompany(ctx, c) }, nil
}

func parseContactRow(r csvRow) (rowWrite, error) {
	var k store.Contact
	var err error
	if k.ID, err = r.code("contact_id", true); err != nil {
		return nil, err
	}
	if k.CompanyID, err = r.code("company_id", false); err != nil {
		return nil, err
	}
	addr, err := mail.ParseAddress(r.get("email"))
	if err != nil || addr.Address != r.get("email") {
		return nil, r.errf("email", "must be a plain e-mail address like name@example.com")
	}
	k.Email = addr.Address
	k.FirstName, k.LastName, k.FullName, k.Phone = r.get("first_name"), r.get("last_name"), r.get("full_name"), r.get("phone")
	status, ok := store.NormalizeMarketingStatus(r.get("marketing_status"))
	if !ok {
		return nil, r.errf("marketing_status", "must be subscribed, unsubscribed, bounced or pending (legacy active and opted_out are accepted)")
	}
	k.MarketingStatus = status
	if v := r.get("gdpr_consent_at"); v != "" {
		t, err := store.ParseTime(v)
		if err != nil {
			return nil, r.errf("gdpr_consent_at", "must be a date or timestamp like 2025-01-20T10:00:00Z")
		}
		k.GDPRConsentAt = store.FormatTime(t)
	}
	return func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
		if k.CompanyID != "" {
			if err := refs.require(ctx, "companies", "company_id", k.CompanyID); err != nil {
				return false, err
			}
		}
		return tx.UpsertContact(ctx, k)
	}, nil
}

var productTypes = []string{"tool", "consumable", "part", "service"}

func parseProductRow(r csvRow) (rowWrite, error) {
	var p store.Product
	var err error
	if p.Code, err = r.code("product_code", true); err != nil {
		return nil, err
	}
	if p.Description, err = r.text("description", true, 500); err != nil {
		return nil, err
	}
	p.Type = strings.ToLower(r.get("type"))
	if !slices.Contains(productTypes, p.Type) {
		return nil, r.errf("type", "must be one of %s", strings.Join(productTypes, ", "))
	}
	p.Category = r.get("category")
	switch strings.ToLower(r.get("active")) {
	case "", "1", "true", "yes", "y":
		p.Active = true
	case "0", "false", "no", "n":
		p.Active = false
	default:
		return nil, r.errf("active", "must be true or false")
	}
	return func(ctx context.Context, tx *store.Tx, _ *refCache) (bool, error) { return tx.UpsertProduct(ctx, p) }, nil
}

func parsePriceRow(r csvRow) (rowWrite, error) {
	var p store.Price
	var err error
	if p.ProductCode, err = r.code("product_code", true); err != nil {
		return nil, err
	}
	if p.Currency, err = r.currency("currency", true); err != nil {
		return nil, err
	}
	if p.UnitAmount, err = r.integer("unit_amount", 0); err != nil {
		return nil, err
	}
	p.StripePriceID = r.get("stripe_price_id")
	return func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
		if err := refs.require(ctx, "products", "product_code", p.ProductCode); err != nil {
			return false, err
		}
		return tx.UpsertPrice(ctx, p)
	}, nil
}

func parseSaleRow(r csvRow) (rowWrite, error) {
	var s store.Sale
	var err error
	if s.CompanyID, err = r.code("company_id", true); err != nil {
		return nil, err
	}
	if s.ProductCode, err = r.code("product_code", true); err != nil {
		return nil, err
	}
	if s.Quantity, err = r.integer("quantity", -1_000_000); err != nil {
		return nil, err
	}
	if s.Quantity == 0 {
		return nil, r.errf("quantity", "must not be 0")
	}
	if s.UnitAmount, err = r.integer("unit_amount", 0); err != nil {
		return nil, err
	}
	if s.Currency, err = r.currency("currency", true); err != nil {
		return nil, err
	}
	d, err := time.Parse("2006-01-02", r.get("txn_date"))
	if err != nil {
		t, terr := store.ParseTime(r.get("txn_date"))
		if terr != nil {
			return nil, r.errf("txn_date", "must be a date like 2025-01-20")
		}
		d = t
	}
	s.TxnDate = d.Format("2006-01-02")
	if s.InvoiceNumber, err = r.text("invoice_number", true, 64); err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
		if err := refs.require(ctx, "companies", "company_id", s.CompanyID); err != nil {
			return false, err
		}
		if err := refs.require(ctx, "products", "product_code", s.ProductCode); err != nil {
			return false, err
		}
		return tx.UpsertSale(ctx, s)
	}, nil
}

func parseToolConsumableRow(r csvRow) (rowWrite, error) {
	tool, err := r.code("tool_code", true)
	if err != nil {
		return nil, err
	}
	cons, err := r.code("consumable_code", true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx *store.Tx, refs *refCache) (bool, error) {
		if err := refs.require(ctx, "products", "product_code", tool); err != nil {
			return false, err
		}
		if err := refs.require(ctx, "products", "product_code", cons); err != nil {
			return false, err
		}
		return tx.UpsertToolConsumable(ctx, tool, cons)
	}, nil
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
		return invalidf("column %s, value %q: no such %s (import %s first)", col, val, strings.TrimSuffix(table, "s"), table)
	}
	c.seen[key] = true
	return nil
}
