package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// StripeEvent is what the store needs of one Stripe event, parsed by the caller. Only the
// fields of the event's object type are set.
type StripeEvent struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	Body    string    `json:"-"` // the raw event, kept in webhook_deliveries

	// OrderID is metadata.order_id, else client_reference_id.
	OrderID         string `json:"order_id,omitempty"`
	SessionID       string `json:"session_id,omitempty"`
	PaymentIntentID string `json:"payment_intent_id,omitempty"`
	ChargeID        string `json:"charge_id,omitempty"`
	InvoiceID       string `json:"invoice_id,omitempty"`
	CustomerID      string `json:"customer_id,omitempty"`
	Currency        string `json:"currency,omitempty"`
	// PaymentStatus is a Checkout Session's: paid, unpaid or no_payment_required.
	PaymentStatus string `json:"payment_status,omitempty"`
	// Amount is what the event is about: a session's amount_total, a PaymentIntent's amount
	// (amount_received once it succeeded), an invoice's amount_paid, a charge's amount.
	Amount int64 `json:"amount,omitempty"`
	// A Checkout Session's totals, when Stripe gave them.
	AmountSubtotal *int64 `json:"amount_subtotal,omitempty"`
	AmountTax      *int64 `json:"amount_tax,omitempty"`
	AmountTotal    *int64 `json:"amount_total,omitempty"`
	// A charge's refunds so far, and whether it is refunded in full.
	AmountRefunded int64 `json:"amount_refunded,omitempty"`
	Refunded       bool  `json:"refunded,omitempty"`
	// A PaymentIntent's last_payment_error.
	FailureCode    string `json:"failure_code,omitempty"`
	DeclineCode    string `json:"decline_code,omitempty"`
	FailureMessage string `json:"failure_message,omitempty"`
}

// StripeOutcome says what ApplyStripeEvent did.
type StripeOutcome struct {
	Status  string // the delivery's status: processed, duplicate or ignored
	Repeat  bool   // this event id had been delivered before; nothing was done
	OrderID string // the order the event belongs to, when one was found
	Note    string // why the event had no effect, when it had none
}

// ApplyStripeEvent records the delivery of e and applies it, all in the caller's transaction:
// the engagement event, the order's change of state, its sales rows and the outbox jobs. A
// repeat delivery (same event id) only counts the attempt. States only move forward, so events
// may arrive in any order and more than once: paid is never undone, refunds only grow, and
// sales rows and the order's sync job are added exactly once, by whichever event pays it.
// ps may be nil; with it the statements need no preparing.
func (tx *Tx) ApplyStripeEvent(ctx context.Context, ps *StripeStatements, e StripeEvent) (StripeOutcome, error) {
	if e.ID == "" || e.Type == "" {
		return StripeOutcome{}, Errorf(EINVALID, "stripe event needs an id and a type")
	}
	s := stripeTx{tx, ps}
	// Record the delivery first. A first delivery inserts its row; a repeat counts an attempt
	// on the row there and reads its status.
	attempts, prev := 1, ""
	n, err := s.execN(ctx, qDeliveryInsert, e.ID, e.Type, tx.NowText(), nullStr(e.Body))
	if err == nil && n == 0 {
		err = s.queryRow(ctx, qDeliveryRepeat, e.ID, tx.NowText()).Scan(&attempts, &prev)
	}
	if err != nil {
		return StripeOutcome{}, fmt.Errorf("record stripe delivery %s: %w", e.ID, translate(err))
	}
	if attempts > 1 && prev != DeliveryFailed {
		return StripeOutcome{Status: prev, Repeat: true}, nil
	}
	out, err := s.apply(ctx, e)
	if err != nil {
		return out, err
	}
	if attempts > 1 || out.Status != DeliveryProcessed || out.Note != "" {
		if err := s.exec(ctx, qDeliverySettle, e.ID, out.Status, nullStr(out.Note), nullStr(e.Body)); err != nil {
			return out, fmt.Errorf("record stripe delivery %s: %w", e.ID, err)
		}
	}
	return out, nil
}

const (
	// No RETURNING on the insert every event runs: SQLite runs RETURNING as a trigger, which
	// costs a statement journal and a temporary table.
	qDeliveryInsert = `INSERT INTO webhook_deliveries (provider, event_id, event_type, received_at, status, body,
			attempts, last_received_at)
		VALUES ('stripe', ?1, ?2, ?3, 'processed', ?4, 1, ?3)
		ON CONFLICT (provider, event_id) DO NOTHING`
	qDeliveryRepeat = `UPDATE webhook_deliveries SET attempts = attempts + 1, last_received_at = ?2
		WHERE provider = 'stripe' AND event_id = ?1
		RETURNING attempts, status`
	qDeliverySettle = `UPDATE webhook_deliveries SET status = ?2, error = ?3, body = ?4
		WHERE provider = 'stripe' AND event_id = ?1`
	qPark = `INSERT INTO stripe_parked_events (event_id, payment_intent_id, event, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`
)

func (s stripeTx) apply(ctx context.Context, e StripeEvent) (StripeOutcome, error) {
	if !IsHandledStripeEvent(e.Type) {
		return StripeOutcome{Status: DeliveryIgnored, Note: "event type not handled"}, nil
	}
	o, found, err := s.findOrder(ctx, e)
	if err != nil {
		return StripeOutcome{}, err
	}
	if found {
		return s.applyToOrder(ctx, &o, e)
	}
	if e.Type == StripeChargeRefunded && e.PaymentIntentID != "" {
		// The completion that tells us this PaymentIntent's order may still be on its way.
		ev, _ := json.Marshal(e)
		if err := s.exec(ctx, qPark, e.ID, e.PaymentIntentID, string(ev), s.NowText()); err != nil {
			return StripeOutcome{}, fmt.Errorf("park stripe event %s: %w", e.ID, err)
		}
		return StripeOutcome{Status: DeliveryIgnored,
			Note: "no order has payment_intent " + e.PaymentIntentID + " yet; kept until one does"}, nil
	}
	return StripeOutcome{Status: DeliveryIgnored, Note: "no order matches this event"}, nil
}

// stripeOrderColumns are orderColumns without the contact's email, which events do not use
// (so the lookup needs no join).
var stripeOrderColumns = strings.Replace(orderColumns, "c.email", "NULL", 1)

// qFindOrder finds an order by one of the columns that link it to Stripe.
var qFindOrder = func() map[string]string {
	m := map[string]string{}
	for _, col := range []string{"order_id", "stripe_checkout_session_id", "stripe_payment_intent_id", "stripe_invoice_id"} {
		m[col] = `SELECT ` + stripeOrderColumns + ` FROM orders o WHERE o.` + col + ` = ? LIMIT 1`
	}
	return m
}()

// findOrder links an event to an order: by the order id Stripe carries back in metadata or
// client_reference_id, else by the Stripe ids stored on the order.
func (s stripeTx) findOrder(ctx context.Context, e StripeEvent) (Order, bool, error) {
	for _, k := range []struct{ col, val string }{
		{"order_id", e.OrderID},
		{"stripe_checkout_session_id", e.SessionID},
		{"stripe_payment_intent_id", e.PaymentIntentID},
		{"stripe_invoice_id", e.InvoiceID},
	} {
		if k.val == "" {
			continue
		}
		o, err := scanOrder(s.queryRow(ctx, qFindOrder[k.col], k.val))
		if err == nil {
			return o, true, nil
		}
		if !IsNoRows(err) {
			return o, false, fmt.Errorf("find order for stripe event %s: %w", e.ID, err)
		}
	}
	return Order{}, false, nil
}

// applyToOrder records e's engagement event and, unless that event was already there, applies
// e to o and saves o.
func (s stripeTx) applyToOrder(ctx context.Context, o *Order, e StripeEvent) (StripeOutcome, error) {
	out := StripeOutcome{Status: DeliveryProcessed, OrderID: o.ID}
	before := *o
	if _, inserted, err := s.InsertEvent(ctx, stripeEngagementEvent(o, e)); err != nil {
		return out, err
	} else if !inserted {
		out.Status, out.Note = DeliveryDuplicate, "event already applied"
		return out, nil
	}
	hadIntent := o.StripePaymentIntentID != ""
	if err := s.adoptIDs(ctx, o, e); err != nil {
		return out, err
	}
	at := e.Created
	if at.IsZero() {
		at = s.now
	}
	currencyOK := e.Currency == "" || e.Currency == o.Currency
	var err error
	switch e.Type {
	case StripeCheckoutCompleted, StripeAsyncPaymentSucceeded:
		if currencyOK {
			setIf(&o.TotalAmount, e.AmountTotal)
			setIf(&o.Subtotal, e.AmountSubtotal)
			setIf(&o.TaxAmount, e.AmountTax)
		}
		if e.PaymentStatus == "paid" || e.PaymentStatus == "no_payment_required" {
			err = s.markPaid(ctx, o, at)
		}
		o.settlePaymentStatus(false)
	case StripePaymentSucceeded:
		if o.Status != OrderPaid && currencyOK && e.Amount > 0 {
			o.TotalAmount = e.Amount // what was charged; the session's totals refine it
		}
		err = s.markPaid(ctx, o, at)
	case StripeAsyncPaymentFailed:
		if o.Status == OrderPending || o.Status == OrderExpired {
			o.Status, o.FailureReason = OrderFailed, "asynchronous payment failed"
		}
	case StripeCheckoutExpired:
		if o.Status == OrderPending {
			o.Status = OrderExpired
		}
	case StripePaymentFailed:
		if o.Status == OrderPending {
			o.Status, o.FailureReason = OrderFailed, failureReason(e)
		}
	case StripeChargeRefunded:
		err = s.applyRefund(ctx, o, e)
	}
	if err != nil {
		return out, err
	}
	if before.PaidAt == "" && o.Status == OrderCancelled && o.PaidAt != "" {
		out.Note = "the order was cancelled: payment recorded and the order flagged for staff, not marked paid"
	}
	if err := s.saveOrder(ctx, &before, o); err != nil {
		return out, fmt.Errorf("update order %s: %w", o.ID, err)
	}
	if !hadIntent && o.StripePaymentIntentID != "" {
		if err := s.applyParked(ctx, o); err != nil {
			return out, err
		}
	}
	return out, nil
}

// savedOrderColumns are the order columns Stripe events change, with their values.
var savedOrderColumns = []struct {
	name  string
	value func(*Order) any
}{
	{"status", func(o *Order) any { return o.Status }},
	{"payment_status", func(o *Order) any { return o.PaymentStatus }},
	{"subtotal", func(o *Order) any { return o.Subtotal }},
	{"tax_amount", func(o *Order) any { return o.TaxAmount }},
	{"total_amount", func(o *Order) any { return o.TotalAmount }},
	{"amount_refunded", func(o *Order) any { return o.AmountRefunded }},
	{"failure_reason", func(o *Order) any { return nullStr(o.FailureReason) }},
	{"stripe_checkout_session_id", func(o *Order) any { return nullStr(o.StripeCheckoutSessionID) }},
	{"stripe_payment_intent_id", func(o *Order) any { return nullStr(o.StripePaymentIntentID) }},
	{"stripe_invoice_id", func(o *Order) any { return nullStr(o.StripeInvoiceID) }},
	{"stripe_customer_id", func(o *Order) any { return nullStr(o.StripeCustomerID) }},
	{"paid_at", func(o *Order) any { return nullStr(o.PaidAt) }},
}

// saveOrder writes the columns of o that differ from before, and updated_at. SQLite rewrites
// the entry of every index on a column an UPDATE sets, changed or not; an order has five such
// indexes (status, paid_at, the session, PaymentIntent and invoice ids), so setting only what
// changed spares most events most of them. The statement is one of a few shapes, each prepared
// once and shared.
func (s stripeTx) saveOrder(ctx context.Context, before, o *Order) error {
	var set strings.Builder
	args := []any{o.ID}
	for _, c := range savedOrderColumns {
		if v := c.value(o); v != c.value(before) {
			args = append(args, v)
			fmt.Fprintf(&set, "%s = ?%d, ", c.name, len(args))
		}
	}
	args = append(args, s.NowText())
	return s.exec(ctx, fmt.Sprintf("UPDATE orders SET %supdated_at = ?%d WHERE order_id = ?1", set.String(), len(args)), args...)
}

const (
	qIDsTaken = `SELECT
			EXISTS (SELECT 1 FROM orders WHERE stripe_checkout_session_id = ?1 AND order_id <> ?3),
			EXISTS (SELECT 1 FROM orders WHERE stripe_payment_intent_id = ?2 AND order_id <> ?3)`
)

// adoptIDs stores the Stripe ids e carries that o does not have yet. An id already held by
// another order is left alone (the columns are unique).
func (s stripeTx) adoptIDs(ctx context.Context, o *Order, e StripeEvent) error {
	session := o.StripeCheckoutSessionID == "" && e.SessionID != ""
	intent := o.StripePaymentIntentID == "" && e.PaymentIntentID != ""
	if session || intent {
		var sessionTaken, intentTaken int
		if err := s.queryRow(ctx, qIDsTaken, e.SessionID, e.PaymentIntentID, o.ID).Scan(&sessionTaken, &intentTaken); err != nil {
			return err
		}
		if session && sessionTaken == 0 {
			o.StripeCheckoutSessionID = e.SessionID
		}
		if intent && intentTaken == 0 {
			o.StripePaymentIntentID = e.PaymentIntentID
		}
	}
	if o.StripeInvoiceID == "" {
		o.StripeInvoiceID = e.InvoiceID
	}
	if o.StripeCustomerID == "" {
		o.StripeCustomerID = e.CustomerID
	}
	return nil
}

const qAppendSales = `INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date,
			invoice_number, source, order_id, created_at)
		SELECT ?2, product_code, quantity, unit_amount, ?3, ?4, ?1, 'stripe', ?1, ?5 FROM order_items WHERE order_id = ?1
		ON CONFLICT (invoice_number, product_code) DO NOTHING`

// CancelledButPaid is the note on a cancelled order that Stripe reports paid: staff refund the
// payment or take the order back.
const CancelledButPaid = "Paid after it was cancelled: refund the payment in Stripe, or take the order back"

// CancelledPaidRefunded replaces CancelledButPaid once the payment is refunded in full.
const CancelledPaidRefunded = "Paid after it was cancelled, then refunded in full"

// markPaid moves o to paid once: the sales rows, the Zoho sync job and the sync jobs of
// refunds seen before the payment are added only by the event that makes this move.
func (s stripeTx) markPaid(ctx context.Context, o *Order, at time.Time) error {
	if o.Status == OrderPaid {
		return nil
	}
	if o.Status == OrderCancelled {
		// Stripe took money for an order staff had cancelled: the payment is recorded and the
		// order flagged, but it is not silently reinstated (no sales rows, no Books invoice).
		if o.PaidAt == "" {
			o.PaidAt, o.FailureReason = FormatTime(at), CancelledButPaid
			o.settlePaymentStatus(false)
		}
		return nil
	}
	o.Status, o.FailureReason, o.PaidAt = OrderPaid, "", FormatTime(at)
	o.settlePaymentStatus(false)
	if err := s.exec(ctx, qAppendSales, o.ID, o.CompanyID, o.Currency, at.UTC().Format(time.DateOnly), s.NowText()); err != nil {
		return fmt.Errorf("append sales of order %s: %w", o.ID, err)
	}
	job := NewJobFor(ZohoSyncOrderArgs{OrderID: o.ID})
	job.DedupeKey, job.CompanyID, job.OrderID = string(JobZohoSyncOrder)+":"+o.ID, o.CompanyID, o.ID
	if _, _, err := s.Enqueue(ctx, job); err != nil {
		return err
	}
	if o.AmountRefunded == 0 {
		return nil
	}
	refunds, err := s.orderRefunds(ctx, o.ID)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if err := s.enqueueRefundSync(ctx, o, r); err != nil {
			return err
		}
	}
	return nil
}

// rank is how far a payment status has moved (its position in PaymentStatuses).
func (p PaymentStatus) rank() int {
	switch p {
	case PaymentPaid:
		return 1
	case PaymentPartiallyRefunded:
		return 2
	case PaymentRefunded:
		return 3
	}
	return 0
}

// settlePaymentStatus derives a paid order's payment status from its refunds, never moving it
// back. An order that is not paid keeps "unpaid" (its refunds wait for the payment).
func (o *Order) settlePaymentStatus(fullyRefunded bool) {
	if o.Status != OrderPaid && (o.Status != OrderCancelled || o.PaidAt == "") {
		return
	}
	want := PaymentPaid
	if o.AmountRefunded > 0 {
		want = PaymentPartiallyRefunded
		if fullyRefunded || o.AmountRefunded >= o.TotalAmount {
			want = PaymentRefunded
		}
	}
	if want.rank() > o.PaymentStatus.rank() {
		o.PaymentStatus = want
	}
}

func setIf(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

func failureReason(e StripeEvent) string {
	switch {
	case e.FailureMessage != "":
		return e.FailureMessage
	case e.DeclineCode != "":
		return "payment failed: " + e.DeclineCode
	case e.FailureCode != "":
		return "payment failed: " + e.FailureCode
	}
	return "payment failed"
}

// stripeEngagementEvent is the engagement event recording e against o.
func stripeEngagementEvent(o *Order, e StripeEvent) Event {
	meta := map[string]any{"order_id": o.ID, "stripe_event_type": e.Type}
	for k, v := range map[string]string{"checkout_session_id": e.SessionID, "payment_intent_id": e.PaymentIntentID,
		"charge_id": e.ChargeID, "invoice_id": e.InvoiceID, "payment_status": e.PaymentStatus} {
		if v != "" {
			meta[k] = v
		}
	}
	value := e.Amount
	switch e.Type {
	case StripePaymentFailed:
		meta["last_payment_error"] = map[string]string{"code": e.FailureCode, "decline_code": e.DeclineCode, "message": e.FailureMessage}
	case StripeChargeRefunded:
		value = e.AmountRefunded
		meta["amount_refunded"] = e.AmountRefunded
		meta["refund_amount"] = max(0, e.AmountRefunded-o.AmountRefunded)
		meta["refunded"] = e.Refunded
	}
	currency := e.Currency
	if currency == "" {
		currency = o.Currency
	}
	return Event{Source: "stripe", SourceEventID: e.ID, Name: stripeEventName(e.Type), CompanyID: o.CompanyID,
		ContactID: o.ContactID, OfferKey: o.OfferKey, CampaignKey: o.CampaignKey, Value: &value, Currency: currency,
		Meta: meta, OccurredAt: e.Created}
}
