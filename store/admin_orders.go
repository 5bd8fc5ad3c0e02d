package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// Admin read models of orders and webhook deliveries (the admin UI's orders and webhooks pages).

// AdminOrder is an order as the admin UI lists it.
type AdminOrder struct {
	OrderID                 string    `json:"order_id"`
	CompanyID               string    `json:"company_id"`
	CompanyName             string    `json:"company_name,omitempty"`
	ContactID               string    `json:"contact_id,omitempty"`
	ContactName             string    `json:"contact_name,omitempty"`
	Status                  string    `json:"status"`
	PaymentStatus           string    `json:"payment_status"`
	Currency                string    `json:"currency"`
	Subtotal                int64     `json:"subtotal"`
	TaxAmount               int64     `json:"tax_amount"`
	TotalAmount             int64     `json:"total_amount"`
	AmountRefunded          int64     `json:"amount_refunded"`
	OfferKey                string    `json:"offer_key,omitempty"`
	CampaignKey             string    `json:"campaign_key,omitempty"`
	FailureReason           string    `json:"failure_reason,omitempty"`
	StripeCheckoutSessionID string    `json:"stripe_checkout_session_id,omitempty"`
	StripePaymentIntentID   string    `json:"stripe_payment_intent_id,omitempty"`
	StripeInvoiceID         string    `json:"stripe_invoice_id,omitempty"`
	ZohoCustomerID          string    `json:"zoho_customer_id,omitempty"`
	ZohoInvoiceID           string    `json:"zoho_invoice_id,omitempty"`
	ZohoPaymentID           string    `json:"zoho_payment_id,omitempty"`
	PaidAt                  time.Time `json:"paid_at,omitzero"`
	CreatedAt               time.Time `json:"created_at"`
}

// OrderCursor is a position in the orders list, newest first: (created_at, order_id).
type OrderCursor struct {
	CreatedAt string
	OrderID   string
}

// String encodes the cursor for a URL: the fixed-width timestamp, "_", the order id.
func (c OrderCursor) String() string {
	if c.OrderID == "" {
		return ""
	}
	return c.CreatedAt + "_" + c.OrderID
}

// ParseOrderCursor decodes OrderCursor.String.
func ParseOrderCursor(s string) (OrderCursor, error) {
	n := len(TimeFormat) // every stored timestamp has exactly this width
	if len(s) <= n+1 || s[n] != '_' {
		return OrderCursor{}, Errorf(EINVALID, "invalid cursor")
	}
	if _, err := time.Parse(TimeFormat, s[:n]); err != nil {
		return OrderCursor{}, Errorf(EINVALID, "invalid cursor")
	}
	return OrderCursor{CreatedAt: s[:n], OrderID: s[n+1:]}, nil
}

// AdminOrderFilter selects orders. Empty fields match everything.
type AdminOrderFilter struct {
	Status    string
	CompanyID string
	From      time.Time // created_at >= From
	To        time.Time // created_at < To
	OrderID   string
	After     OrderCursor
	Sort      ListSort // by OrderSortKeys; newest first when empty
	Limit     int      // 50 when zero, at most 500
}

func (f AdminOrderFilter) where(withCursor bool) where {
	var w where
	w.eq("o.status", f.Status)
	w.eq("o.company_id", f.CompanyID)
	w.eq("o.order_id", f.OrderID)
	if !f.From.IsZero() {
		w.add("o.created_at >= ?", FormatTime(f.From))
	}
	if !f.To.IsZero() {
		w.add("o.created_at < ?", FormatTime(f.To))
	}
	if withCursor && f.After.OrderID != "" {
		w.add("(o.created_at, o.order_id) < (?, ?)", f.After.CreatedAt, f.After.OrderID)
	}
	return w
}

// ListAdminOrders lists orders newest first.
func (db *DB) ListAdminOrders(ctx context.Context, f AdminOrderFilter) ([]AdminOrder, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	w := f.where(true)
	sort := f.Sort
	if sort.Key == "" {
		sort.Desc = true
	}
	order, err := sort.orderBy(OrderSortKeys, "created", "o.order_id")
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT o.order_id, o.company_id, c.company_name, o.contact_id,
			COALESCE(NULLIF(k.full_name, ''), NULLIF(trim(COALESCE(k.first_name, '') || ' ' || COALESCE(k.last_name, '')), ''), k.email), o.status,
			o.payment_status, o.currency, o.subtotal, o.tax_amount, o.total_amount, o.amount_refunded, o.offer_key,
			o.campaign_key, o.failure_reason, o.stripe_checkout_session_id, o.stripe_payment_intent_id,
			o.stripe_invoice_id, o.zoho_customer_id, o.zoho_invoice_id, o.zoho_payment_id, o.paid_at, o.created_at
		FROM orders o LEFT JOIN companies c ON c.company_id = o.company_id
		LEFT JOIN contacts k ON k.contact_id = o.contact_id`+w.sql()+order+` LIMIT ? OFFSET ?`,
		append(w.args, limit, max(sort.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()
	out := []AdminOrder{}
	for rows.Next() {
		var o AdminOrder
		var name, contact, contactName, offer, campaign, failure, cs, pi, inv, zc, zi, zp, paid sql.NullString
		var created string
		if err := rows.Scan(&o.OrderID, &o.CompanyID, &name, &contact, &contactName, &o.Status, &o.PaymentStatus, &o.Currency,
			&o.Subtotal, &o.TaxAmount, &o.TotalAmount, &o.AmountRefunded, &offer, &campaign, &failure, &cs, &pi,
			&inv, &zc, &zi, &zp, &paid, &created); err != nil {
			return nil, err
		}
		o.ContactName = contactName.String
		o.CompanyName, o.ContactID, o.OfferKey, o.CampaignKey = name.String, contact.String, offer.String, campaign.String
		o.FailureReason, o.StripeCheckoutSessionID, o.StripePaymentIntentID = failure.String, cs.String, pi.String
		o.StripeInvoiceID, o.ZohoCustomerID, o.ZohoInvoiceID, o.ZohoPaymentID = inv.String, zc.String, zi.String, zp.String
		if paid.Valid {
			o.PaidAt, _ = ParseTime(paid.String)
		}
		o.CreatedAt, _ = ParseTime(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// Cursor returns the key of the page that follows this order.
func (o AdminOrder) Cursor() OrderCursor {
	return OrderCursor{CreatedAt: FormatTime(o.CreatedAt), OrderID: o.OrderID}
}

// OrderTotal sums the orders of one currency that match a filter.
type OrderTotal struct {
	Currency string `json:"currency"`
	Orders   int    `json:"orders"`
	Paid     int    `json:"paid"`
	Total    int64  `json:"total"`    // total_amount of paid orders
	Refunded int64  `json:"refunded"` // amount_refunded of those
}

// AdminOrderTotals sums the orders matching f (all pages) per currency.
func (db *DB) AdminOrderTotals(ctx context.Context, f AdminOrderFilter) ([]OrderTotal, error) {
	w := f.where(false)
	rows, err := db.read.QueryContext(ctx, `SELECT o.currency, count(*),
			count(*) FILTER (WHERE o.status = 'paid'),
			COALESCE(sum(o.total_amount) FILTER (WHERE o.status = 'paid'), 0),
			COALESCE(sum(o.amount_refunded) FILTER (WHERE o.status = 'paid'), 0)
		FROM orders o`+w.sql()+` GROUP BY o.currency ORDER BY o.currency`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("order totals: %w", err)
	}
	defer rows.Close()
	out := []OrderTotal{}
	for rows.Next() {
		var t OrderTotal
		if err := rows.Scan(&t.Currency, &t.Orders, &t.Paid, &t.Total, &t.Refunded); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AdminDelivery is a stored webhook delivery.
type AdminDelivery struct {
	ID             int64     `json:"id"`
	Provider       string    `json:"provider"`
	EventID        string    `json:"event_id,omitempty"`
	EventType      string    `json:"event_type,omitempty"`
	Status         string    `json:"status"`
	Error          string    `json:"error,omitempty"`
	Attempts       int       `json:"attempts"`
	ReceivedAt     time.Time `json:"received_at"`
	LastReceivedAt time.Time `json:"last_received_at,omitzero"`
	HasBody        bool      `json:"has_body"`
	Body           string    `json:"body,omitempty"`         // only from GetAdminDelivery
	ContentType    string    `json:"content_type,omitempty"` // only from GetAdminDelivery
}

// AdminDeliveryFilter selects webhook deliveries. Empty fields match everything.
type AdminDeliveryFilter struct {
	Provider  string
	Status    string
	EventType string
	BeforeID  int64    // keyset paging
	Sort      ListSort // by DeliverySortKeys; newest first when empty
	Limit     int      // 50 when zero, at most 500
}

const deliveryColumns = `id, provider, event_id, event_type, status, error, attempts, received_at, last_received_at,
	body IS NOT NULL AND body <> ''`

func scanDelivery(row interface{ Scan(...any) error }, extra ...any) (AdminDelivery, error) {
	var d AdminDelivery
	var eventID, eventType, errText, last sql.NullString
	var received string
	dest := append([]any{&d.ID, &d.Provider, &eventID, &eventType, &d.Status, &errText, &d.Attempts, &received,
		&last, &d.HasBody}, extra...)
	if err := row.Scan(dest...); err != nil {
		return d, err
	}
	d.EventID, d.EventType, d.Error = eventID.String, eventType.String, errText.String
	d.ReceivedAt, _ = ParseTime(received)
	if last.Valid {
		d.LastReceivedAt, _ = ParseTime(last.String)
	}
	return d, nil
}

// ListAdminDeliveries lists deliveries newest first, without their bodies.
func (db *DB) ListAdminDeliveries(ctx context.Context, f AdminDeliveryFilter) ([]AdminDelivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var w where
	w.eq("provider", f.Provider)
	w.eq("status", DeliveryStatusValue(f.Status)) // "refused" is the label of rejected
	w.eq("event_type", f.EventType)
	if f.BeforeID > 0 {
		w.add("id < ?", f.BeforeID)
	}
	sort := f.Sort
	if sort.Key == "" {
		sort.Desc = true
	}
	order, err := sort.orderBy(DeliverySortKeys, "id", "id")
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries`+w.sql()+
		order+` LIMIT ? OFFSET ?`, append(w.args, limit, max(sort.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []AdminDelivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// GetAdminDelivery reads one delivery with its raw body.
func (db *DB) GetAdminDelivery(ctx context.Context, id int64) (AdminDelivery, error) {
	var body, contentType sql.NullString
	d, err := scanDelivery(db.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+`, body, content_type
		FROM webhook_deliveries WHERE id = ?`, id), &body, &contentType)
	if IsNoRows(err) {
		return d, Errorf(ENOTFOUND, "webhook delivery %s not found", strconv.FormatInt(id, 10))
	}
	d.Body, d.ContentType = body.String, contentType.String
	return d, err
}
