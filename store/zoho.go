package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// ZohoOrder is what the Zoho Books sync needs of an order: the order, its lines, its company
// and its buyer, read in one snapshot.
type ZohoOrder struct {
	ID                    string
	CompanyID             string
	ContactID             string
	Status                string
	PaymentStatus         string
	Currency              string
	Subtotal              int64
	TaxAmount             int64
	TotalAmount           int64
	AmountRefunded        int64
	StripePaymentIntentID string
	ZohoCustomerID        string
	ZohoInvoiceID         string
	ZohoPaymentID         string
	PaidAt                time.Time // zero when not recorded
	Items                 []ZohoOrderItem
	Company               Company
	Contact               *Contact // the buyer; nil when the order has none
}

// ZohoOrderItem is one order line with its product's Books item id.
type ZohoOrderItem struct {
	ProductCode string
	Description string
	ProductType string
	ZohoItemID  string
	Quantity    int64
	UnitAmount  int64
	LineTotal   int64
}

// GetZohoOrder reads an order for the Zoho sync; ENOTFOUND when there is no such order.
func (db *DB) GetZohoOrder(ctx context.Context, orderID string) (ZohoOrder, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return ZohoOrder{}, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var o ZohoOrder
	var contact, pi, cust, inv, pay, paid sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT order_id, company_id, contact_id, status, payment_status, currency,
			subtotal, tax_amount, total_amount, amount_refunded, stripe_payment_intent_id,
			zoho_customer_id, zoho_invoice_id, zoho_payment_id, paid_at
		FROM orders WHERE order_id = ?`, orderID).Scan(&o.ID, &o.CompanyID, &contact, &o.Status, &o.PaymentStatus,
		&o.Currency, &o.Subtotal, &o.TaxAmount, &o.TotalAmount, &o.AmountRefunded, &pi, &cust, &inv, &pay, &paid)
	if IsNoRows(err) {
		return o, Errorf(ENOTFOUND, "order %q not found", orderID)
	}
	if err != nil {
		return o, fmt.Errorf("read order %s: %w", orderID, err)
	}
	o.ContactID, o.StripePaymentIntentID = contact.String, pi.String
	o.ZohoCustomerID, o.ZohoInvoiceID, o.ZohoPaymentID = cust.String, inv.String, pay.String
	if paid.String != "" {
		if o.PaidAt, err = ParseTime(paid.String); err != nil {
			return o, fmt.Errorf("order %s: paid_at: %w", orderID, err)
		}
	}

	rows, err := tx.QueryContext(ctx, `SELECT i.product_code, i.description, p.type, p.zoho_item_id,
			i.quantity, i.unit_amount, i.line_total
		FROM order_items i JOIN products p ON p.product_code = i.product_code
		WHERE i.order_id = ? ORDER BY i.id`, orderID)
	if err != nil {
		return o, fmt.Errorf("read items of order %s: %w", orderID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var it ZohoOrderItem
		var item sql.NullString
		if err := rows.Scan(&it.ProductCode, &it.Description, &it.ProductType, &item,
			&it.Quantity, &it.UnitAmount, &it.LineTotal); err != nil {
			return o, err
		}
		it.ZohoItemID = item.String
		o.Items = append(o.Items, it)
	}
	if err := rows.Err(); err != nil {
		return o, err
	}

	var typ, country, cat, zoho, stripe sql.NullString
	c := &o.Company
	err = tx.QueryRowContext(ctx, `SELECT company_id, company_name, type, country, category, currency,
		zoho_customer_id, stripe_customer_id, created_at, updated_at FROM companies WHERE company_id = ?`, o.CompanyID).
		Scan(&c.ID, &c.Name, &typ, &country, &cat, &c.Currency, &zoho, &stripe, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return o, fmt.Errorf("read company %s of order %s: %w", o.CompanyID, orderID, err)
	}
	c.Type, c.Country, c.Category, c.ZohoCustomerID, c.StripeCustomerID = typ.String, country.String, cat.String, zoho.String, stripe.String

	if o.ContactID != "" {
		k, err := scanContact(tx.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts WHERE contact_id = ?`, o.ContactID))
		switch {
		case err == nil:
			o.Contact = &k
		case !IsNoRows(err):
			return o, fmt.Errorf("read contact %s of order %s: %w", o.ContactID, orderID, err)
		}
	}
	return o, nil
}

// SaveZohoCustomer records the Books customer of an order: on the order, on its company (unless
// the company already has one) and, when known, the buyer's Books contact person on the contact.
func (tx *Tx) SaveZohoCustomer(ctx context.Context, orderID, companyID, customerID, contactID, contactPersonID string) error {
	if customerID == "" {
		return Errorf(EINVALID, "zoho customer id is empty")
	}
	now := tx.NowText()
	if _, err := tx.ExecContext(ctx, `UPDATE companies SET zoho_customer_id = ?1, updated_at = ?2
		WHERE company_id = ?3 AND zoho_customer_id IS NULL`, customerID, now, companyID); err != nil {
		return fmt.Errorf("save zoho customer of company %s: %w", companyID, err)
	}
	if err := tx.setOrderZohoID(ctx, orderID, "zoho_customer_id", customerID); err != nil {
		return err
	}
	if contactID != "" && contactPersonID != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE contacts SET zoho_contact_id = ?1, updated_at = ?2
			WHERE contact_id = ?3 AND zoho_contact_id IS NOT ?1`, contactPersonID, now, contactID); err != nil {
			return fmt.Errorf("save zoho contact of contact %s: %w", contactID, err)
		}
	}
	return nil
}

// SaveZohoItem records the Books item of a product.
func (tx *Tx) SaveZohoItem(ctx context.Context, productCode, itemID string) error {
	if itemID == "" {
		return Errorf(EINVALID, "zoho item id is empty")
	}
	res, err := tx.ExecContext(ctx, `UPDATE products SET zoho_item_id = ?1, updated_at = ?2 WHERE product_code = ?3`,
		itemID, tx.NowText(), productCode)
	if err != nil {
		return fmt.Errorf("save zoho item of product %s: %w", productCode, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Errorf(ENOTFOUND, "product %q not found", productCode)
	}
	return nil
}

// SaveZohoInvoice records the Books invoice of an order.
func (tx *Tx) SaveZohoInvoice(ctx context.Context, orderID, invoiceID string) error {
	return tx.setOrderZohoID(ctx, orderID, "zoho_invoice_id", invoiceID)
}

// SaveZohoPayment records the Books customer payment of an order.
func (tx *Tx) SaveZohoPayment(ctx context.Context, orderID, paymentID string) error {
	return tx.setOrderZohoID(ctx, orderID, "zoho_payment_id", paymentID)
}

// orderZohoColumns are the only columns setOrderZohoID writes; the name never comes from input.
var orderZohoColumns = map[string]bool{"zoho_customer_id": true, "zoho_invoice_id": true, "zoho_payment_id": true}

func (tx *Tx) setOrderZohoID(ctx context.Context, orderID, column, id string) error {
	if !orderZohoColumns[column] {
		return Errorf(EINTERNAL, "orders has no zoho column %q", column)
	}
	if id == "" {
		return Errorf(EINVALID, "%s is empty", column)
	}
	res, err := tx.ExecContext(ctx, `UPDATE orders SET `+column+` = ?1, updated_at = ?2 WHERE order_id = ?3`,
		id, tx.NowText(), orderID)
	if err != nil {
		return fmt.Errorf("save %s of order %s: %w", column, orderID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Errorf(ENOTFOUND, "order %q not found", orderID)
	}
	return nil
}

// ZohoRefund is one Stripe refund state booked as a refund of a Books customer payment.
type ZohoRefund struct {
	Reference           string // refund:<charge_id>:<amount_refunded_total>; the Books reference_number
	OrderID             string
	ChargeID            string
	AmountRefundedTotal int64
	RefundAmount        int64
	Currency            string
	ZohoPaymentID       string
	ZohoRefundID        string
	CreatedAt           time.Time
}

// GetZohoRefund reads a booked refund by reference; ok is false when it was not booked yet.
func (db *DB) GetZohoRefund(ctx context.Context, reference string) (r ZohoRefund, ok bool, err error) {
	var created string
	err = db.read.QueryRowContext(ctx, `SELECT reference, order_id, charge_id, amount_refunded_total, refund_amount,
			currency, zoho_payment_id, zoho_refund_id, created_at FROM zoho_refunds WHERE reference = ?`, reference).
		Scan(&r.Reference, &r.OrderID, &r.ChargeID, &r.AmountRefundedTotal, &r.RefundAmount, &r.Currency,
			&r.ZohoPaymentID, &r.ZohoRefundID, &created)
	if IsNoRows(err) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read zoho refund %s: %w", reference, err)
	}
	r.CreatedAt, _ = ParseTime(created)
	return r, true, nil
}

// SaveZohoRefund records a booked refund. A second save of the same reference keeps the first.
func (tx *Tx) SaveZohoRefund(ctx context.Context, r ZohoRefund) error {
	if r.Reference == "" || r.ZohoRefundID == "" || r.ZohoPaymentID == "" {
		return Errorf(EINVALID, "a zoho refund needs a reference, a payment id and a refund id")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO zoho_refunds (reference, order_id, charge_id, amount_refunded_total,
			refund_amount, currency, zoho_payment_id, zoho_refund_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reference) DO NOTHING`,
		r.Reference, r.OrderID, r.ChargeID, r.AmountRefundedTotal, r.RefundAmount, r.Currency,
		r.ZohoPaymentID, r.ZohoRefundID, tx.NowText())
	if err != nil {
		return fmt.Errorf("save zoho refund %s: %w", r.Reference, err)
	}
	return nil
}

// ZohoEngagement is one accepted Zoho CRM webhook delivery: the engagement event it records,
// the marketing status it sets on the contact (empty for none) and the raw body kept for replay.
type ZohoEngagement struct {
	Event           Event // Source is set to zoho
	MarketingStatus string
	Body            string
	// Note is kept on the delivery (webhook_deliveries.error) when it was applied other than
	// asked, e.g. for the contact's own company rather than the one the event named.
	Note string
	// ContentType is the request's Content-Type, kept so a replay reads Body the same way.
	ContentType string
	// DeliveryKey is the webhook_deliveries.event_id to record under: Event.SourceEventID when
	// empty. A replay of a failed delivery names the key it was stored under.
	DeliveryKey string
}

// ApplyZohoEngagement records e in the caller's transaction: the engagement event, the contact's
// new marketing status and the delivery. A repeat (same source_event_id) changes nothing but
// the delivery's attempt count and reports duplicate.
func (tx *Tx) ApplyZohoEngagement(ctx context.Context, e ZohoEngagement) (eventID int64, duplicate bool, err error) {
	ev := e.Event
	ev.Source = "zoho"
	if e.MarketingStatus != "" {
		if _, ok := NormalizeMarketingStatus(e.MarketingStatus); !ok {
			return 0, false, Errorf(EINVALID, "unknown marketing status %q", e.MarketingStatus)
		}
		if ev.ContactID == "" {
			return 0, false, Errorf(EINVALID, "a marketing status change needs a contact")
		}
		var prev string
		err := tx.QueryRowContext(ctx, `SELECT marketing_status FROM contacts WHERE contact_id = ?`, ev.ContactID).Scan(&prev)
		if IsNoRows(err) {
			return 0, false, Errorf(ENOTFOUND, "contact %q not found", ev.ContactID)
		}
		if err != nil {
			return 0, false, translate(err)
		}
		if prev != e.MarketingStatus {
			meta := map[string]any{}
			for k, v := range ev.Meta {
				meta[k] = v
			}
			meta["marketing_status"] = map[string]string{"from": prev, "to": e.MarketingStatus}
			ev.Meta = meta
		}
	}
	eventID, inserted, err := tx.InsertEvent(ctx, ev)
	if err != nil {
		return 0, false, err
	}
	status := "processed"
	if !inserted {
		status = "duplicate"
	} else if e.MarketingStatus != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE contacts SET marketing_status = ?1, updated_at = ?2
			WHERE contact_id = ?3 AND marketing_status <> ?1`, e.MarketingStatus, tx.NowText(), ev.ContactID); err != nil {
			return 0, false, fmt.Errorf("set marketing status of contact %s: %w", ev.ContactID, err)
		}
	}
	now := tx.NowText()
	key := e.DeliveryKey
	if key == "" {
		key = ev.SourceEventID
	}
	// A delivery recorded as failed (RecordZohoFailure) settles now; any other repeat only
	// counts the attempt.
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (provider, event_id, event_type, received_at,
			status, body, attempts, last_received_at, error, content_type)
		VALUES ('zoho', ?1, ?2, ?3, ?4, ?5, 1, ?3, ?6, ?7)
		ON CONFLICT (provider, event_id) DO UPDATE SET attempts = attempts + 1, last_received_at = excluded.received_at,
			status = CASE WHEN status = 'failed' THEN excluded.status ELSE status END,
			error = CASE WHEN status = 'failed' THEN excluded.error ELSE error END`,
		key, ev.Name, now, status, nullStr(e.Body), nullStr(e.Note), nullStr(e.ContentType)); err != nil {
		return 0, false, fmt.Errorf("record zoho delivery: %w", err)
	}
	return eventID, !inserted, nil
}

// ResumeDeferredJobs makes pending jobs of the given types that wait for a later time due now
// (after an operator lifted what deferred them), and wakes the worker. It returns how many.
func (tx *Tx) ResumeDeferredJobs(ctx context.Context, jobTypes ...string) (int64, error) {
	types, err := json.Marshal(jobTypes)
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET scheduled_for = ?1, updated_at = ?1
		WHERE status = 'pending' AND scheduled_for > ?1 AND job_type IN (SELECT value FROM json_each(?2))`,
		tx.NowText(), string(types))
	if err != nil {
		return 0, fmt.Errorf("resume deferred jobs: %w", err)
	}
	n, err := res.RowsAffected()
	if n > 0 {
		tx.AfterCommit(tx.db.signalJob)
	}
	return n, err
}

// ZohoItemID returns the Books item id stored on a product ("" when none yet).
func (db *DB) ZohoItemID(ctx context.Context, productCode string) (string, error) {
	var id sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT zoho_item_id FROM products WHERE product_code = ?`, productCode).Scan(&id)
	if IsNoRows(err) {
		return "", Errorf(ENOTFOUND, "product %q not found", productCode)
	}
	return id.String, err
}
