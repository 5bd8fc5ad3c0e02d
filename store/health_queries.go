package store

import (
	"context"
	"time"
)

// JobProblem counts the failed or dead jobs of one kind and status, with the oldest one's
// last change (when the problem began).
type JobProblem struct {
	Kind   string
	Status JobStatus
	N      int
	Since  time.Time
}

// JobProblems lists failed and dead jobs grouped by kind and status (the dashboard's health).
func (db *DB) JobProblems(ctx context.Context) ([]JobProblem, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT job_type, status, count(*), min(updated_at) FROM outbox
		WHERE status IN ('failed', 'dead') GROUP BY job_type, status ORDER BY job_type, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []JobProblem
	for rows.Next() {
		var p JobProblem
		var since string
		if err := rows.Scan(&p.Kind, &p.Status, &p.N, &since); err != nil {
			return nil, err
		}
		p.Since, _ = ParseTime(since)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Refusals counts one provider's refused webhook requests and the first one's time.
type Refusals struct {
	N     int
	First time.Time
}

// WebhookRefusals counts refused (rejected) webhook requests per provider since a time.
func (db *DB) WebhookRefusals(ctx context.Context, since time.Time) (map[string]Refusals, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT provider, COALESCE(sum(attempts), 0), min(received_at)
		FROM webhook_deliveries WHERE status = 'rejected' AND COALESCE(last_received_at, received_at) >= ?
		GROUP BY provider`, FormatTime(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Refusals{}
	for rows.Next() {
		var p, first string
		var r Refusals
		if err := rows.Scan(&p, &r.N, &first); err != nil {
			return nil, err
		}
		r.First, _ = ParseTime(first)
		if r.First.Before(since) {
			r.First = since
		}
		out[p] = r
	}
	return out, rows.Err()
}
