package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// Webhook delivery statuses (webhook_deliveries.status).
const (
	DeliveryProcessed = "processed"
	DeliveryDuplicate = "duplicate"
	DeliveryIgnored   = "ignored"
	DeliveryRejected  = "rejected"
	DeliveryFailed    = "failed"
)

// StripeStatements are ApplyStripeEvent's statements, prepared once on the writer's
// connection. Preparing one costs about as much as running it, and an event runs a dozen;
// a transaction cannot prepare on the pool itself (its one connection is the transaction's),
// so they are prepared ahead, outside any transaction, and bound to each one cheaply.
type StripeStatements struct {
	stmts map[string]*sql.Stmt
}

// stripeHotQueries are the statements worth preparing ahead: those most events run.
var stripeHotQueries = []string{qDeliveryInsert, qDeliveryRepeat, qDeliverySettle, qIDsTaken, qAppendSales, qParked,
	qBookRefund, qPark, qFindOrder["order_id"], qFindOrder["stripe_checkout_session_id"],
	qFindOrder["stripe_payment_intent_id"], qFindOrder["stripe_invoice_id"]}

// PrepareStripeStatements prepares the statements ApplyStripeEvent uses. It needs the
// writer's connection between two commits, so it must not be called inside Update.
func (db *DB) PrepareStripeStatements(ctx context.Context) (*StripeStatements, error) {
	ps := &StripeStatements{stmts: map[string]*sql.Stmt{}}
	for _, q := range stripeHotQueries {
		st, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range ps.stmts {
				st.Close()
			}
			return nil, translate(err)
		}
		ps.stmts[q] = st
	}
	return ps, nil
}

// Close releases the prepared statements.
func (ps *StripeStatements) Close() error {
	var errs []error
	for _, st := range ps.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// stripeTx is a transaction applying Stripe events, with the statements prepared for them.
type stripeTx struct {
	*Tx
	ps *StripeStatements
}

// stmt returns query as a statement of this transaction: the one prepared ahead when there
// is one, else the store's shared one (Tx.stmt).
func (s stripeTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	if s.ps == nil || s.ps.stmts[query] == nil {
		return s.Tx.stmt(ctx, query) // the store's shared statements
	}
	st := s.Tx.Tx.StmtContext(context.WithoutCancel(ctx), s.ps.stmts[query])
	s.stmts[query] = st
	return st, nil
}

func (s stripeTx) exec(ctx context.Context, query string, args ...any) error {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(context.WithoutCancel(ctx), args...)
	return translate(err)
}

// execN runs query and returns how many rows it changed.
func (s stripeTx) execN(ctx context.Context, query string, args ...any) (int64, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(context.WithoutCancel(ctx), args...)
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// stripeRow is a *sql.Row, or the error of preparing its statement.
type stripeRow struct {
	row *sql.Row
	err error
}

func (r stripeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

func (s stripeTx) queryRow(ctx context.Context, query string, args ...any) stripeRow {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return stripeRow{err: err}
	}
	return stripeRow{row: st.QueryRowContext(context.WithoutCancel(ctx), args...)}
}

// RecordStripeFailure notes that applying a Stripe event failed, so the admin sees it; Stripe's
// retry (or reconciliation) applies it again, since a failed delivery is not a repeat.
func (tx *Tx) RecordStripeFailure(ctx context.Context, e StripeEvent, reason string) error {
	_, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (provider, event_id, event_type, received_at, status, error, body,
			attempts, last_received_at)
		VALUES ('stripe', ?1, ?2, ?3, 'failed', ?4, ?5, 1, ?3)
		ON CONFLICT (provider, event_id) DO UPDATE SET error = excluded.error, attempts = webhook_deliveries.attempts + 1,
			last_received_at = excluded.last_received_at
		WHERE webhook_deliveries.status = 'failed'`,
		e.ID, e.Type, tx.NowText(), reason, nullStr(e.Body))
	return err
}

// StripeEventsSeen returns which of ids have been delivered (and not failed).
func (db *DB) StripeEventsSeen(ctx context.Context, ids []string) (map[string]bool, error) {
	seen := map[string]bool{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 200)]
		ids = ids[len(chunk):]
		b, _ := json.Marshal(chunk)
		rows, err := db.read.QueryContext(ctx, `SELECT event_id FROM webhook_deliveries WHERE provider = 'stripe'
			AND status <> 'failed' AND event_id IN (SELECT value FROM json_each(?))`, string(b))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			seen[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

// LatestStripeEventTime is when the newest Stripe event applied to an order happened.
func (db *DB) LatestStripeEventTime(ctx context.Context) (time.Time, bool, error) {
	var at *string
	err := db.read.QueryRowContext(ctx, `SELECT max(occurred_at) FROM engagement_events WHERE source = 'stripe'`).Scan(&at)
	if err != nil || at == nil {
		return time.Time{}, false, err
	}
	t, err := ParseTime(*at)
	return t, err == nil, err
}

// PruneParkedStripeEvents drops the charge events that have waited since before the cutoff for
// an order to link their PaymentIntent (one that no order of ours ever had, such as a charge
// made in the Stripe dashboard), noting on each one's delivery that it was dropped. It returns
// how many it dropped.
func (db *DB) PruneParkedStripeEvents(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.Update(ctx, func(tx *Tx) error {
			// Both statements take the same chunk: the oldest by event id.
			_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries
				SET error = 'no order has payment_intent ' || p.payment_intent_id || '; dropped after waiting since ' || p.created_at
				FROM (SELECT event_id, payment_intent_id, created_at FROM stripe_parked_events WHERE created_at < ?1
					ORDER BY event_id LIMIT ?2) p
				WHERE webhook_deliveries.provider = 'stripe' AND webhook_deliveries.event_id = p.event_id`, FormatTime(before), pruneChunk)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM stripe_parked_events WHERE event_id IN (SELECT event_id
				FROM stripe_parked_events WHERE created_at < ?1 ORDER BY event_id LIMIT ?2)`, FormatTime(before), pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < pruneChunk {
			return total, err
		}
	}
}
