package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Refunds and the charge events that wait for their order: a charge does not carry its
// PaymentIntent's metadata, so its events are linked through the PaymentIntent an order holds.

// orderRefund is one booked increase of a charge's refunded amount.
type orderRefund struct {
	ChargeID string
	Total    int64 // the charge's amount_refunded after this refund
	Amount   int64 // the increase
	Currency string
}

const (
	qBookRefund = `INSERT INTO order_refunds (refund_id, order_id, amount, currency, charge_id, amount_refunded_total,
			created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (refund_id) DO NOTHING`
	qOrderRefunds = `SELECT COALESCE(charge_id, ''), COALESCE(amount_refunded_total, 0), amount, currency
		FROM order_refunds WHERE order_id = ? ORDER BY amount_refunded_total`
)

// applyRefund books the growth of a charge's amount_refunded. Refunds only grow, so an older
// state arriving late changes nothing. The Zoho job waits until the order is paid.
func (s stripeTx) applyRefund(ctx context.Context, o *Order, e StripeEvent) error {
	if e.AmountRefunded > o.AmountRefunded {
		r := orderRefund{ChargeID: e.ChargeID, Total: e.AmountRefunded, Amount: e.AmountRefunded - o.AmountRefunded, Currency: e.Currency}
		if r.Currency == "" {
			r.Currency = o.Currency
		}
		o.AmountRefunded = e.AmountRefunded
		if err := s.exec(ctx, qBookRefund, r.ChargeID+":"+strconv.FormatInt(r.Total, 10), o.ID, r.Amount, r.Currency,
			r.ChargeID, r.Total, s.NowText()); err != nil {
			return fmt.Errorf("book refund of order %s: %w", o.ID, err)
		}
		if o.Status == OrderPaid {
			if err := s.enqueueRefundSync(ctx, o, r); err != nil {
				return err
			}
		}
	}
	o.settlePaymentStatus(e.Refunded && e.AmountRefunded >= o.AmountRefunded)
	if o.Status == OrderCancelled && o.FailureReason == CancelledButPaid && o.PaymentStatus == PaymentRefunded {
		o.FailureReason = CancelledPaidRefunded
	}
	return nil
}

func (s stripeTx) enqueueRefundSync(ctx context.Context, o *Order, r orderRefund) error {
	key := r.ChargeID + ":" + strconv.FormatInt(r.Total, 10)
	job := NewJobFor(ZohoSyncRefundArgs{OrderID: o.ID, ChargeID: r.ChargeID, AmountRefundedTotal: r.Total,
		RefundAmount: r.Amount, Currency: r.Currency})
	job.DedupeKey, job.CompanyID, job.OrderID = string(JobZohoSyncRefund)+":"+key, o.CompanyID, o.ID
	_, _, err := s.Enqueue(ctx, job)
	return err
}

func (s stripeTx) orderRefunds(ctx context.Context, orderID string) ([]orderRefund, error) {
	st, err := s.stmt(ctx, qOrderRefunds)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(context.WithoutCancel(ctx), orderID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []orderRefund
	for rows.Next() {
		var r orderRefund
		if err := rows.Scan(&r.ChargeID, &r.Total, &r.Amount, &r.Currency); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const (
	qParked = `SELECT event FROM stripe_parked_events WHERE payment_intent_id = ? ORDER BY rowid` // arrival order
	qUnpark = `DELETE FROM stripe_parked_events WHERE event_id = ?`
)

// applyParked applies the charge events that waited for o's PaymentIntent.
func (s stripeTx) applyParked(ctx context.Context, o *Order) error {
	st, err := s.stmt(ctx, qParked)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(context.WithoutCancel(ctx), o.StripePaymentIntentID)
	if err != nil {
		return translate(err)
	}
	var parked []StripeEvent
	for rows.Next() {
		var raw string
		var e StripeEvent
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			rows.Close()
			return fmt.Errorf("decode parked stripe event: %w", err)
		}
		parked = append(parked, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range parked {
		if err := s.exec(ctx, qUnpark, e.ID); err != nil {
			return err
		}
		out, err := s.applyToOrder(ctx, o, e)
		if err != nil {
			return fmt.Errorf("apply parked stripe event %s: %w", e.ID, err)
		}
		if err := s.exec(ctx, `UPDATE webhook_deliveries SET status = ?2, error = ?3
			WHERE provider = 'stripe' AND event_id = ?1`, e.ID, out.Status, nullStr(out.Note)); err != nil {
			return err
		}
	}
	return nil
}
