package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
)

// Company is a customer business, keyed by the business's own code (e.g. COMPANY123).
type Company struct {
	ID               string `json:"company_id"`
	Name             string `json:"company_name"`
	Type             string `json:"type,omitempty"`
	Country          string `json:"country,omitempty"`
	Category         string `json:"category,omitempty"`
	Currency         string `json:"currency"`
	ZohoCustomerID   string `json:"zoho_customer_id,omitempty"`
	StripeCustomerID string `json:"stripe_customer_id,omitempty"`
	CreatedAt        string `json:"created_at,omitempty"`
	UpdatedAt        string `json:"updated_at,omitempty"`
}

// Contact is a person at a company.
type Contact struct {
	ID              string `json:"contact_id"`
	CompanyID       string `json:"company_id,omitempty"`
	Email           string `json:"email"`
	FirstName       string `json:"first_name,omitempty"`
	LastName        string `json:"last_name,omitempty"`
	FullName        string `json:"full_name,omitempty"`
	Phone           string `json:"phone,omitempty"`
	MarketingStatus string `json:"marketing_status"`
	GDPRConsentAt   string `json:"gdpr_consent_at,omitempty"`
	ZohoContactID   string `json:"zoho_contact_id,omitempty"`
}

// DisplayName is the contact's name for people: full name, else first and last, else e-mail.
func (c Contact) DisplayName() string {
	switch {
	case c.FullName != "":
		return c.FullName
	case c.FirstName != "" || c.LastName != "":
		return strings.TrimSpace(c.FirstName + " " + c.LastName)
	}
	return c.Email
}

// Product is a sellable item: a tool, a consumable, a part or a service.
type Product struct {
	Code            string `json:"product_code"`
	Description     string `json:"description"`
	Type            string `json:"type"`
	Category        string `json:"category,omitempty"`
	Active          bool   `json:"active"`
	ZohoItemID      string `json:"zoho_item_id,omitempty"`
	StripeProductID string `json:"stripe_product_id,omitempty"`
}

// Price is a product's unit price in one currency, in minor units.
type Price struct {
	ProductCode   string `json:"product_code"`
	Currency      string `json:"currency"`
	UnitAmount    int64  `json:"unit_amount"`
	StripePriceID string `json:"stripe_price_id,omitempty"`
}

// Sale is one line of purchase history.
type Sale struct {
	CompanyID     string
	ProductCode   string
	Quantity      int64
	UnitAmount    int64
	Currency      string
	TxnDate       string // YYYY-MM-DD
	InvoiceNumber string
	Source        string
	OrderID       string
}

// Marketing statuses (contacts.marketing_status).
const (
	MarketingSubscribed   = "subscribed"
	MarketingUnsubscribed = "unsubscribed"
	MarketingBounced      = "bounced"
	MarketingPending      = "pending"
)

// NormalizeMarketingStatus maps legacy values (active, opted_out) to today's and reports
// whether the value is known.
func NormalizeMarketingStatus(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "subscribed", "active":
		return MarketingSubscribed, true
	case "unsubscribed", "opted_out", "opted-out", "optedout":
		return MarketingUnsubscribed, true
	case "bounced":
		return MarketingBounced, true
	case "pending", "":
		return MarketingPending, true
	}
	return "", false
}

// UpsertCompany inserts c or updates it by company_id; an identical row is left untouched so a
// re-import changes nothing, not even updated_at. It reports whether a row changed.
func (tx *Tx) UpsertCompany(ctx context.Context, c Company) (bool, error) {
	if c.Currency == "" {
		c.Currency = "gbp"
	}
	res, err := tx.exec(ctx, `INSERT INTO companies (company_id, company_name, type, country, category, currency, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
		ON CONFLICT (company_id) DO UPDATE SET company_name = excluded.company_name, type = excluded.type,
			country = excluded.country, category = excluded.category, currency = excluded.currency,
			updated_at = excluded.updated_at
		WHERE companies.company_name IS NOT excluded.company_name OR companies.type IS NOT excluded.type
			OR companies.country IS NOT excluded.country OR companies.category IS NOT excluded.category
			OR companies.currency IS NOT excluded.currency`,
		c.ID, c.Name, nullStr(c.Type), nullStr(c.Country), nullStr(c.Category), c.Currency, tx.NowText())
	return changed(res, err)
}

// UpsertContact inserts k or updates it by contact_id (e-mail unique, case-insensitive).
func (tx *Tx) UpsertContact(ctx context.Context, k Contact) (bool, error) {
	if k.MarketingStatus == "" {
		k.MarketingStatus = MarketingPending
	}
	res, err := tx.exec(ctx, `INSERT INTO contacts (contact_id, company_id, email, first_name, last_name, full_name, phone,
			marketing_status, gdpr_consent_at, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
		ON CONFLICT (contact_id) DO UPDATE SET company_id = excluded.company_id, email = excluded.email,
			first_name = excluded.first_name, last_name = excluded.last_name, full_name = excluded.full_name,
			phone = excluded.phone, marketing_status = excluded.marketing_status,
			gdpr_consent_at = excluded.gdpr_consent_at, updated_at = excluded.updated_at
		WHERE contacts.company_id IS NOT excluded.company_id OR contacts.email IS NOT excluded.email
			OR contacts.first_name IS NOT excluded.first_name OR contacts.last_name IS NOT excluded.last_name
			OR contacts.full_name IS NOT excluded.full_name OR contacts.phone IS NOT excluded.phone
			OR contacts.marketing_status IS NOT excluded.marketing_status
			OR contacts.gdpr_consent_at IS NOT excluded.gdpr_consent_at`,
		k.ID, nullStr(k.CompanyID), k.Email, nullStr(k.FirstName), nullStr(k.LastName), nullStr(k.FullName),
		nullStr(k.Phone), k.MarketingStatus, nullStr(k.GDPRConsentAt), tx.NowText())
	return changed(res, err)
}

// UpsertProduct inserts p or updates it by product_code.
func (tx *Tx) UpsertProduct(ctx context.Context, p Product) (bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO products (product_code, description, type, category, active, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
		ON CONFLICT (product_code) DO UPDATE SET description = excluded.description, type = excluded.type,
			category = excluded.category, active = excluded.active, updated_at = excluded.updated_at
		WHERE products.description IS NOT excluded.description OR products.type IS NOT excluded.type
			OR products.category IS NOT excluded.category OR products.active IS NOT excluded.active`,
		p.Code, p.Description, p.Type, nullStr(p.Category), boolInt(p.Active), tx.NowText())
	return changed(res, err)
}

// UpsertPrice inserts p or updates it by (product_code, currency).
func (tx *Tx) UpsertPrice(ctx context.Context, p Price) (bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO product_prices (product_code, currency, unit_amount, stripe_price_id, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		ON CONFLICT (product_code, currency) DO UPDATE SET unit_amount = excluded.unit_amount,
			stripe_price_id = COALESCE(excluded.stripe_price_id, product_prices.stripe_price_id),
			updated_at = excluded.updated_at
		WHERE product_prices.unit_amount IS NOT excluded.unit_amount
			OR (excluded.stripe_price_id IS NOT NULL AND product_prices.stripe_price_id IS NOT excluded.stripe_price_id)`,
		p.ProductCode, p.Currency, p.UnitAmount, nullStr(p.StripePriceID), tx.NowText())
	return changed(res, err)
}

// UpsertToolConsumable records that consumable fits tool.
func (tx *Tx) UpsertToolConsumable(ctx context.Context, tool, consumable string) (bool, error) {
	res, err := tx.exec(ctx, `INSERT INTO tool_consumable_map (tool_code, consumable_code) VALUES (?, ?)
		ON CONFLICT DO NOTHING`, tool, consumable)
	return changed(res, err)
}

// UpsertSale inserts a purchase-history line or updates it by (invoice_number, product_code).
func (tx *Tx) UpsertSale(ctx context.Context, s Sale) (bool, error) {
	if s.Source == "" {
		s.Source = "import"
	}
	res, err := tx.exec(ctx, `INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date,
			invoice_number, source, order_id, created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
		ON CONFLICT (invoice_number, product_code) DO UPDATE SET company_id = excluded.company_id,
			quantity = excluded.quantity, unit_amount = excluded.unit_amount, currency = excluded.currency,
			txn_date = excluded.txn_date
		WHERE sales.company_id IS NOT excluded.company_id OR sales.quantity IS NOT excluded.quantity
			OR sales.unit_amount IS NOT excluded.unit_amount OR sales.currency IS NOT excluded.currency
			OR sales.txn_date IS NOT excluded.txn_date`,
		s.CompanyID, s.ProductCode, s.Quantity, s.UnitAmount, s.Currency, s.TxnDate, s.InvoiceNumber,
		s.Source, nullStr(s.OrderID), tx.NowText())
	return changed(res, err)
}

// GetCompany loads one company.
func (db *DB) GetCompany(ctx context.Context, id string) (Company, error) {
	var c Company
	var typ, country, cat, zoho, stripe sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT company_id, company_name, type, country, category, currency,
		zoho_customer_id, stripe_customer_id, created_at, updated_at FROM companies WHERE company_id = ?`, id).
		Scan(&c.ID, &c.Name, &typ, &country, &cat, &c.Currency, &zoho, &stripe, &c.CreatedAt, &c.UpdatedAt)
	if IsNoRows(err) {
		return c, Errorf(ENOTFOUND, "company %q not found", id)
	}
	c.Type, c.Country, c.Category, c.ZohoCustomerID, c.StripeCustomerID = typ.String, country.String, cat.String, zoho.String, stripe.String
	return c, err
}

const contactColumns = `contact_id, company_id, email, first_name, last_name, full_name, phone,
	marketing_status, gdpr_consent_at, zoho_contact_id`

func scanContact(row interface{ Scan(...any) error }) (Contact, error) {
	var k Contact
	var company, first, last, full, phone, consent, zoho sql.NullString
	err := row.Scan(&k.ID, &company, &k.Email, &first, &last, &full, &phone, &k.MarketingStatus, &consent, &zoho)
	k.CompanyID, k.FirstName, k.LastName, k.FullName, k.Phone = company.String, first.String, last.String, full.String, phone.String
	k.GDPRConsentAt, k.ZohoContactID = consent.String, zoho.String
	return k, err
}

// GetContact loads one contact by id.
func (db *DB) GetContact(ctx context.Context, id string) (Contact, error) {
	k, err := scanContact(db.read.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts WHERE contact_id = ?`, id))
	if IsNoRows(err) {
		return k, Errorf(ENOTFOUND, "contact %q not found", id)
	}
	return k, err
}

// FindContactByEmail loads one contact by e-mail, case-insensitively.
func (db *DB) FindContactByEmail(ctx context.Context, email string) (Contact, error) {
	k, err := scanContact(db.read.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts WHERE email = ? COLLATE NOCASE`, email))
	if IsNoRows(err) {
		return k, Errorf(ENOTFOUND, "no contact with that e-mail")
	}
	return k, err
}

// ListContacts returns the contacts of a company ordered by name.
func (db *DB) ListContacts(ctx context.Context, companyID string) ([]Contact, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+contactColumns+` FROM contacts WHERE company_id = ?
		ORDER BY COALESCE(full_name, last_name, email)`, companyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		k, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// CountRows returns the row count of each main table (used by backup verify and the CLI).
func (db *DB) CountRows(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range MainTables() {
		var n int64
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}

// MainTables lists the business tables whose row counts identify a database's content (a
// fresh slice each call).
func MainTables() []string {
	return []string{"companies", "contacts", "products", "product_prices", "tool_consumable_map",
		"sales", "orders", "order_items", "engagement_events", "webhook_deliveries", "outbox", "users"}
}

func changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// existsQueries are the only lookups Exists runs; table and column never come from input.
var existsQueries = map[string]string{
	"companies.company_id":  `SELECT EXISTS (SELECT 1 FROM companies WHERE company_id = ?)`,
	"products.product_code": `SELECT EXISTS (SELECT 1 FROM products WHERE product_code = ?)`,
	"contacts.contact_id":   `SELECT EXISTS (SELECT 1 FROM contacts WHERE contact_id = ?)`,
}

// Exists reports whether table has a row whose col equals val.
func (tx *Tx) Exists(ctx context.Context, table, col, val string) (bool, error) {
	q, ok := existsQueries[table+"."+col]
	if !ok {
		return false, Errorf(EINTERNAL, "no existence check for %s.%s", table, col)
	}
	var n int
	err := tx.QueryRowContext(ctx, q, val).Scan(&n)
	return n == 1, err
}

// missingQueries are the only lookups MissingKeys runs; table and column never come from input.
var missingQueries = map[string]string{
	"companies.company_id":  `SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM companies WHERE company_id = value)`,
	"products.product_code": `SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM products WHERE product_code = value)`,
}

// MissingKeys returns the values of vals that no row of table has in col (read pool: checking
// a whole import file before it writes anything).
func (db *DB) MissingKeys(ctx context.Context, table, col string, vals []string) ([]string, error) {
	q, ok := missingQueries[table+"."+col]
	if !ok {
		return nil, Errorf(EINTERNAL, "no existence check for %s.%s", table, col)
	}
	var missing []string
	for start := 0; start < len(vals); start += 5000 {
		list, err := json.Marshal(vals[start:min(len(vals), start+5000)])
		if err != nil {
			return nil, err
		}
		rows, err := db.read.QueryContext(ctx, q, string(list))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, err
			}
			missing = append(missing, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// ContactIDsByEmail maps each of emails that a contact already has (compared case-insensitively,
// like the unique index) to that contact's id, keyed by the lower-cased address.
func (db *DB) ContactIDsByEmail(ctx context.Context, emails []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(emails); start += 5000 {
		list, err := json.Marshal(emails[start:min(len(emails), start+5000)])
		if err != nil {
			return nil, err
		}
		rows, err := db.read.QueryContext(ctx, `SELECT c.email, c.contact_id FROM json_each(?) j
			JOIN contacts c ON c.email = j.value`, string(list))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var email, id string
			if err := rows.Scan(&email, &id); err != nil {
				rows.Close()
				return nil, err
			}
			out[strings.ToLower(email)] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
