package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// OrderStatus is an order's state (orders.status).
type OrderStatus string

// Order statuses.
const (
	OrderPending   OrderStatus = "pending"
	OrderPaid      OrderStatus = "paid"
	OrderFailed    OrderStatus = "failed"
	OrderCancelled OrderStatus = "cancelled"
	OrderExpired   OrderStatus = "expired"
)

// PaymentStatus is how far an order's payment has got (orders.payment_status).
type PaymentStatus string

// Payment statuses, in the only order they move.
const (
	PaymentUnpaid            PaymentStatus = "unpaid"
	PaymentPaid              PaymentStatus = "paid"
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
	PaymentRefunded          PaymentStatus = "refunded"
)

// OrderStatuses lists every order status (orders.status's CHECK holds the same list).
func OrderStatuses() []OrderStatus {
	return []OrderStatus{OrderPending, OrderPaid, OrderFailed, OrderCancelled, OrderExpired}
}

// PaymentStatuses lists every payment status in the order they move (orders.payment_status).
func PaymentStatuses() []PaymentStatus {
	return []PaymentStatus{PaymentUnpaid, PaymentPaid, PaymentPartiallyRefunded, PaymentRefunded}
}

// MaxOrderLines and MaxLineQuantity bound a checkout.
const (
	MaxOrderLines   = 100
	MaxLineQuantity = 999
)

// Order is a checkout: what was bought at our prices and how far its payment has got.
type Order struct {
	ID                      string        `json:"order_id"`
	CompanyID               string        `json:"company_id"`
	ContactID               string        `json:"contact_id,omitempty"`
	ContactEmail            string        `json:"-"` // the contact's, for Stripe's customer_email
	Status                  OrderStatus   `json:"status"`
	PaymentStatus           PaymentStatus `json:"payment_status"`
	Currency                string        `json:"currency"`
	Subtotal                int64         `json:"subtotal"`
	TaxAmount               int64         `json:"tax_amount"`
	TotalAmount             int64         `json:"total_amount"`
	AmountRefunded          int64         `json:"amount_refunded"`
	OfferKey                string        `json:"offer_key,omitempty"`
	CampaignKey             string        `json:"campaign_key,omitempty"`
	FailureReason           string        `json:"failure_reason,omitempty"`
	StripeCheckoutSessionID string        `json:"stripe_checkout_session_id,omitempty"`
	StripePaymentIntentID   string        `json:"stripe_payment_intent_id,omitempty"`
	StripeInvoiceID         string        `json:"stripe_invoice_id,omitempty"`
	StripeCustomerID        string        `json:"stripe_customer_id,omitempty"`
	CheckoutURL             string        `json:"checkout_url,omitempty"`
	ZohoCustomerID          string        `json:"zoho_customer_id,omitempty"`
	ZohoInvoiceID           string        `json:"zoho_invoice_id,omitempty"`
	ZohoPaymentID           string        `json:"zoho_payment_id,omitempty"`
	PaidAt                  string        `json:"paid_at,omitempty"`
	CreatedAt               string        `json:"created_at"`
	UpdatedAt               string        `json:"updated_at"`
	Items                   []OrderItem   `json:"items"`
}

// OrderItem is one line of an order, priced when the order was placed.
type OrderItem struct {
	ProductCode string `json:"product_code"`
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
	LineTotal   int64  `json:"line_total"`
	// StripePriceID is the product's Stripe price in the order's currency, when one is stored;
	// filled by CreateOrder only (it is not a column of order_items).
	StripePriceID string `json:"-"`
}

// NewOrder is a checkout request whose shape the caller has checked; CreateOrder checks it
// against the catalogue.
type NewOrder struct {
	CompanyID   string
	ContactID   string
	Currency    string // lower-case ISO code; empty means the company's currency
	OfferKey    string
	CampaignKey string
	Lines       []OrderLine
}

// OrderLine is one requested product. Ref names it in errors ("items[1]").
type OrderLine struct {
	Ref         string
	ProductCode string
	Quantity    int64
}

// CreateOrder prices lines from product_prices, numbers the order from the 'order' sequence
// and inserts it (pending, unpaid) with its items and a checkout_started event. Problems with
// the request come back as EINVALID naming the field or line.
func (tx *Tx) CreateOrder(ctx context.Context, n NewOrder) (Order, error) {
	o := Order{CompanyID: n.CompanyID, ContactID: n.ContactID, Status: OrderPending, PaymentStatus: PaymentUnpaid,
		OfferKey: n.OfferKey, CampaignKey: n.CampaignKey}
	if len(n.Lines) == 0 {
		return o, Errorf(EINVALID, "items: at least one item is required")
	}
	if len(n.Lines) > MaxOrderLines {
		return o, Errorf(EINVALID, "items: at most %d items are allowed", MaxOrderLines)
	}
	var companyCurrency string
	err := tx.QueryRowContext(ctx, `SELECT currency FROM companies WHERE company_id = ?`, n.CompanyID).Scan(&companyCurrency)
	if IsNoRows(err) {
		return o, Errorf(EINVALID, "company_id: unknown company %q", n.CompanyID)
	}
	if err != nil {
		return o, err
	}
	if n.ContactID != "" {
		var company sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT company_id, email FROM contacts WHERE contact_id = ?`, n.ContactID).
			Scan(&company, &o.ContactEmail)
		if IsNoRows(err) {
			return o, Errorf(EINVALID, "contact_id: unknown contact %q", n.ContactID)
		}
		if err != nil {
			return o, err
		}
		if company.String != n.CompanyID {
			return o, Errorf(EINVALID, "contact_id: contact %q does not belong to company %q", n.ContactID, n.CompanyID)
		}
	}
	o.Currency = n.Currency
	if o.Currency == "" {
		o.Currency = companyCurrency
	}
	seen := map[string]bool{}
	for _, l := range n.Lines {
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			return o, Errorf(EINVALID, "%s: quantity must be between 1 and %d", l.Ref, MaxLineQuantity)
		}
		if seen[l.ProductCode] {
			return o, Errorf(EINVALID, "%s: product code %q appears twice", l.Ref, l.ProductCode)
		}
		seen[l.ProductCode] = true
		item, err := tx.priceLine(ctx, l, o.Currency)
		if err != nil {
			return o, err
		}
		o.Items = append(o.Items, item)
		o.Subtotal += item.LineTotal
	}
	o.TotalAmount = o.Subtotal
	seq, err := tx.NextSequence(ctx, "order")
	if err != nil {
		return o, err
	}
	o.ID = fmt.Sprintf("ORD-%06d", seq)
	o.CreatedAt, o.UpdatedAt = tx.NowText(), tx.NowText()
	if _, err := tx.exec(ctx, `INSERT INTO orders (order_id, company_id, contact_id, status, payment_status, currency,
			subtotal, tax_amount, total_amount, offer_key, campaign_key, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11, ?11)`,
		o.ID, o.CompanyID, nullStr(o.ContactID), o.Status, o.PaymentStatus, o.Currency, o.Subtotal, o.TotalAmount,
		nullStr(o.OfferKey), nullStr(o.CampaignKey), o.CreatedAt); err != nil {
		return o, fmt.Errorf("insert order: %w", err)
	}
	for _, it := range o.Items {
		if _, err := tx.exec(ctx, `INSERT INTO order_items (order_id, product_code, description, quantity, unit_amount, line_total)
			VALUES (?, ?, ?, ?, ?, ?)`, o.ID, it.ProductCode, it.Description, it.Quantity, it.UnitAmount, it.LineTotal); err != nil {
			return o, fmt.Errorf("insert order item %s: %w", it.ProductCode, err)
		}
	}
	total := o.TotalAmount
	_, _, err = tx.InsertEvent(ctx, Event{Source: "web", SourceEventID: "checkout_started:" + o.ID, Name: EventCheckoutStarted,
		CompanyID: o.CompanyID, ContactID: o.ContactID, OfferKey: o.OfferKey, CampaignKey: o.CampaignKey,
		Value: &total, Currency: o.Currency, Meta: map[string]any{"order_id": o.ID, "items": len(o.Items)}})
	return o, err
}

// priceLine looks up an order line's product and its price in currency.
func (tx *Tx) priceLine(ctx context.Context, l OrderLine, currency string) (OrderItem, error) {
	it := OrderItem{ProductCode: l.ProductCode, Quantity: l.Quantity}
	var active int
	var amount sql.NullInt64
	var priceID sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT p.description, p.active, pp.unit_amount, pp.stripe_price_id
		FROM products p LEFT JOIN product_prices pp ON pp.product_code = p.product_code AND pp.currency = ?2
		WHERE p.product_code = ?1`, l.ProductCode, currency).Scan(&it.Description, &active, &amount, &priceID)
	switch {
	case IsNoRows(err):
		return it, Errorf(EINVALID, "%s: unknown product code %q", l.Ref, l.ProductCode)
	case err != nil:
		return it, err
	case active != 1:
		return it, Errorf(EINVALID, "%s: product %q is not available", l.Ref, l.ProductCode)
	case !amount.Valid:
		return it, Errorf(EINVALID, "%s: product %q has no price in %s", l.Ref, l.ProductCode, strings.ToUpper(currency))
	}
	it.UnitAmount, it.StripePriceID = amount.Int64, priceID.String
	it.LineTotal = it.UnitAmount * it.Quantity
	return it, nil
}

// NextSequence increments the named counter and returns its new value (the first is 1). It
// reads the value back rather than use RETURNING, which SQLite runs through a temporary b-tree.
func (tx *Tx) NextSequence(ctx context.Context, name string) (int64, error) {
	res, err := tx.exec(ctx, `UPDATE sequences SET value = value + 1 WHERE name = ?`, name)
	if err != nil {
		return 0, fmt.Errorf("next %s number: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 0 {
		if _, err := tx.exec(ctx, `INSERT INTO sequences (name, value) VALUES (?, 1)`, name); err != nil {
			return 0, fmt.Errorf("start %s numbers: %w", name, err)
		}
		return 1, nil
	}
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM sequences WHERE name = ?`, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("next %s number: %w", name, translate(err))
	}
	return v, nil
}

// SetCheckoutSession stores the Stripe Checkout Session created for a pending order.
func (tx *Tx) SetCheckoutSession(ctx context.Context, orderID, sessionID, url string) error {
	res, err := tx.ExecContext(ctx, `UPDATE orders SET stripe_checkout_session_id = ?2, checkout_url = ?3, updated_at = ?4
		WHERE order_id = ?1 AND (stripe_checkout_session_id IS NULL OR stripe_checkout_session_id = ?2)`,
		orderID, sessionID, nullStr(url), tx.NowText())
	if err != nil {
		return fmt.Errorf("store checkout session of order %s: %w", orderID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Errorf(ECONFLICT, "order %s already has another checkout session", orderID)
	}
	return nil
}

// FailCheckout marks a still-pending order failed because its checkout could not start.
func (tx *Tx) FailCheckout(ctx context.Context, orderID, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'failed', failure_reason = ?2, updated_at = ?3
		WHERE order_id = ?1 AND status = 'pending'`, orderID, reason, tx.NowText())
	return err
}

const orderColumns = `o.order_id, o.company_id, o.contact_id, c.email, o.status, o.payment_status, o.currency,
	o.subtotal, o.tax_amount, o.total_amount, o.amount_refunded, o.offer_key, o.campaign_key, o.failure_reason,
	o.stripe_checkout_session_id, o.stripe_payment_intent_id, o.stripe_invoice_id, o.stripe_customer_id,
	o.checkout_url, o.zoho_customer_id, o.zoho_invoice_id, o.zoho_payment_id, o.paid_at, o.created_at, o.updated_at`

func scanOrder(row interface{ Scan(...any) error }) (Order, error) {
	var o Order
	var s [17]sql.NullString
	err := row.Scan(&o.ID, &o.CompanyID, &s[0], &s[1], &o.Status, &o.PaymentStatus, &o.Currency,
		&o.Subtotal, &o.TaxAmount, &o.TotalAmount, &o.AmountRefunded, &s[2], &s[3], &s[4],
		&s[5], &s[6], &s[7], &s[8], &s[9], &s[10], &s[11], &s[12], &s[13], &o.CreatedAt, &o.UpdatedAt)
	o.ContactID, o.ContactEmail, o.OfferKey, o.CampaignKey, o.FailureReason = s[0].String, s[1].String, s[2].String, s[3].String, s[4].String
	o.StripeCheckoutSessionID, o.StripePaymentIntentID, o.StripeInvoiceID, o.StripeCustomerID = s[5].String, s[6].String, s[7].String, s[8].String
	o.CheckoutURL, o.ZohoCustomerID, o.ZohoInvoiceID, o.ZohoPaymentID, o.PaidAt = s[9].String, s[10].String, s[11].String, s[12].String, s[13].String
	return o, err
}

// GetOrder loads an order with its items.
func (db *DB) GetOrder(ctx context.Context, id string) (Order, error) {
	return db.getOrder(ctx, `o.order_id = ?`, id)
}

// GetOrderByCheckoutSession loads the order a Stripe Checkout Session was created for.
func (db *DB) GetOrderByCheckoutSession(ctx context.Context, sessionID string) (Order, error) {
	return db.getOrder(ctx, `o.stripe_checkout_session_id = ?`, sessionID)
}

func (db *DB) getOrder(ctx context.Context, where, arg string) (Order, error) {
	o, err := scanOrder(db.read.QueryRowContext(ctx, `SELECT `+orderColumns+`
		FROM orders o LEFT JOIN contacts c ON c.contact_id = o.contact_id WHERE `+where, arg))
	if IsNoRows(err) {
		return o, Errorf(ENOTFOUND, "order not found")
	}
	if err != nil {
		return o, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT product_code, description, quantity, unit_amount, line_total
		FROM order_items WHERE order_id = ? ORDER BY id`, o.ID)
	if err != nil {
		return o, err
	}
	defer rows.Close()
	o.Items = []OrderItem{}
	for rows.Next() {
		var it OrderItem
		if err := rows.Scan(&it.ProductCode, &it.Description, &it.Quantity, &it.UnitAmount, &it.LineTotal); err != nil {
			return o, err
		}
		o.Items = append(o.Items, it)
	}
	return o, rows.Err()
}
