package store

import "context"

// CountCancelledButPaid counts the cancelled orders Stripe reported paid and that still wait
// for staff (refund or take back): the dashboard raises them.
func (db *DB) CountCancelledButPaid(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE status = 'cancelled' AND failure_reason = ?`,
		CancelledButPaid).Scan(&n)
	return n, err
}
