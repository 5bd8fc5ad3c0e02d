package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Purchase history of a company: every row of `sales`, imported or appended by a paid order
// (which writes its lines with the order id as invoice_number and in order_id). Reading only
// `sales` counts each paid order exactly once.

// Purchase is one line of a company's purchase history.
type Purchase struct {
	TxnDate       string `json:"txn_date"` // YYYY-MM-DD
	InvoiceNumber string `json:"invoice_number"`
	OrderID       string `json:"order_id,omitempty"` // set when the line comes from a web checkout
	ProductCode   string `json:"product_code"`
	Description   string `json:"description,omitempty"`
	Category      string `json:"category,omitempty"`
	Quantity      int64  `json:"quantity"`
	UnitAmount    int64  `json:"unit_amount"`
	Amount        int64  `json:"amount"` // quantity × unit_amount, minor units
	Currency      string `json:"currency"`
	Source        string `json:"source"`
}

// PurchaseTotal is the sum of a company's purchases in one currency, for one product category
// ("" in Category for the whole currency).
type PurchaseTotal struct {
	Category string `json:"category,omitempty"`
	Currency string `json:"currency"`
	Lines    int    `json:"lines"`
	Amount   int64  `json:"amount"`
}

// PurchaseHistory is one page of a company's purchases, newest first, with totals over all pages.
type PurchaseHistory struct {
	Purchases  []Purchase
	Lines      int             // all lines, every page
	ByCurrency []PurchaseTotal // per currency
	ByCategory []PurchaseTotal // per product category and currency
}

// CompanyPurchases reads page (from 1) of size lines of a company's purchase history, newest
// first (txn_date, then invoice number and line id descending: a stable order across pages).
func (db *DB) CompanyPurchases(ctx context.Context, companyID string, page, size int) (PurchaseHistory, error) {
	var h PurchaseHistory
	page, size = max(page, 1), min(max(size, 1), 500)
	rows, err := db.read.QueryContext(ctx, `SELECT s.txn_date, s.invoice_number, COALESCE(s.order_id, o.order_id, ''),
			s.product_code, COALESCE(p.description, ''), COALESCE(p.category, ''), s.quantity, s.unit_amount,
			s.currency, s.source
		FROM sales s INDEXED BY idx_sales_company_date
		LEFT JOIN products p ON p.product_code = s.product_code
		LEFT JOIN orders o ON o.order_id = s.invoice_number AND o.company_id = s.company_id
		WHERE s.company_id = ?
		ORDER BY s.txn_date DESC, s.invoice_number DESC, s.id DESC LIMIT ? OFFSET ?`,
		companyID, size, (page-1)*size)
	if err != nil {
		return h, fmt.Errorf("purchases of %s: %w", companyID, err)
	}
	defer rows.Close()
	h.Purchases = []Purchase{}
	for rows.Next() {
		var p Purchase
		if err := rows.Scan(&p.TxnDate, &p.InvoiceNumber, &p.OrderID, &p.ProductCode, &p.Description, &p.Category,
			&p.Quantity, &p.UnitAmount, &p.Currency, &p.Source); err != nil {
			return h, err
		}
		p.TxnDate = p.TxnDate[:min(len(p.TxnDate), 10)]
		p.Amount = p.Quantity * p.UnitAmount
		h.Purchases = append(h.Purchases, p)
	}
	if err := rows.Err(); err != nil {
		return h, err
	}
	// Totals over the whole history: one pass over the company's index entries, grouped by
	// category and currency; the per-currency totals add the categories up.
	trows, err := db.read.QueryContext(ctx, `SELECT COALESCE(p.category, ''), s.currency, count(*),
			sum(s.quantity * s.unit_amount)
		FROM sales s INDEXED BY idx_sales_company_invoice
		LEFT JOIN products p ON p.product_code = s.product_code
		WHERE s.company_id = ? GROUP BY 1, 2 ORDER BY 2, 1`, companyID)
	if err != nil {
		return h, fmt.Errorf("purchase totals of %s: %w", companyID, err)
	}
	defer trows.Close()
	byCur := map[string]int{}
	for trows.Next() {
		var t PurchaseTotal
		if err := trows.Scan(&t.Category, &t.Currency, &t.Lines, &t.Amount); err != nil {
			return h, err
		}
		h.ByCategory = append(h.ByCategory, t)
		h.Lines += t.Lines
		i, ok := byCur[t.Currency]
		if !ok {
			i = len(h.ByCurrency)
			byCur[t.Currency] = i
			h.ByCurrency = append(h.ByCurrency, PurchaseTotal{Currency: t.Currency})
		}
		h.ByCurrency[i].Lines += t.Lines
		h.ByCurrency[i].Amount += t.Amount
	}
	return h, trows.Err()
}

// PurchaseStats is what the companies list and the company page both say about a company's
// purchase history, from one query so the two never disagree.
type PurchaseStats struct {
	Purchases    int              `json:"purchases"`     // distinct invoices (imported and web orders)
	LastPurchase string           `json:"last_purchase"` // YYYY-MM-DD, "" when none
	Lifetime     map[string]int64 `json:"lifetime_value"`
	Revenue12m   map[string]int64 `json:"revenue_12m"` // purchases of the last 365 days
}

// purchaseStats reads PurchaseStats of the given companies through the covering index
// idx_sales_company_invoice (no table lookups).
func (db *DB) purchaseStats(ctx context.Context, ids []string) (map[string]PurchaseStats, error) {
	out := map[string]PurchaseStats{}
	if len(ids) == 0 {
		return out, nil
	}
	since := db.Now().UTC().AddDate(0, 0, -365).Format(time.DateOnly)
	args := []any{since}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT company_id, currency, count(DISTINCT invoice_number),
			max(substr(txn_date, 1, 10)), sum(quantity * unit_amount),
			COALESCE(sum(quantity * unit_amount) FILTER (WHERE txn_date >= ?1), 0)
		FROM sales INDEXED BY idx_sales_company_invoice
		WHERE company_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) GROUP BY company_id, currency`, args...)
	if err != nil {
		return nil, fmt.Errorf("purchase stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, cur string
		var n int
		var last sql.NullString
		var life, recent int64
		if err := rows.Scan(&id, &cur, &n, &last, &life, &recent); err != nil {
			return nil, err
		}
		s, ok := out[id]
		if !ok {
			s = PurchaseStats{Lifetime: map[string]int64{}, Revenue12m: map[string]int64{}}
		}
		s.Purchases += n // an invoice is in one currency
		s.LastPurchase = max(s.LastPurchase, last.String)
		s.Lifetime[cur] += life
		if recent != 0 {
			s.Revenue12m[cur] += recent
		}
		out[id] = s
	}
	return out, rows.Err()
}

// PurchaseStatsOf reads PurchaseStats of the given companies (the numbers the companies list
// shows), for explaining suggestions in the same terms.
func (db *DB) PurchaseStatsOf(ctx context.Context, ids []string) (map[string]PurchaseStats, error) {
	return db.purchaseStats(ctx, ids)
}
