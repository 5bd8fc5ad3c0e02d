package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"
)

// GetJob reads one job.
func (db *DB) GetJob(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(db.read.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM outbox WHERE id = ?`, id))
	if IsNoRows(err) {
		return Job{}, Errorf(ENOTFOUND, "job %d not found", id)
	}
	return j, err
}

// JobFilter selects jobs for ListJobs. Empty fields match everything.
type JobFilter struct {
	Status   JobStatus
	Type     string
	Limit    int   // 50 when zero, at most 1000
	BeforeID int64 // keyset paging: only jobs with a smaller id
}

// ListJobs lists jobs newest first.
func (db *DB) ListJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	if f.Status != "" && !slices.Contains(JobStatuses(), f.Status) {
		return nil, Errorf(EINVALID, "unknown job status %q (want one of %s)", f.Status, joinStatuses(JobStatuses()))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	rows, err := db.read.QueryContext(ctx, `SELECT `+jobColumns+` FROM outbox
		WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR job_type = ?2) AND (?3 = 0 OR id < ?3)
		ORDER BY id DESC LIMIT ?4`, f.Status, f.Type, f.BeforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	jobs := []Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// JobCounts counts jobs by status and type.
func (db *DB) JobCounts(ctx context.Context) (map[JobStatus]map[string]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT status, job_type, count(*) FROM outbox GROUP BY status, job_type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[JobStatus]map[string]int{}
	for rows.Next() {
		var status JobStatus
		var typ string
		var n int
		if err := rows.Scan(&status, &typ, &n); err != nil {
			return nil, err
		}
		if counts[status] == nil {
			counts[status] = map[string]int{}
		}
		counts[status][typ] = n
	}
	return counts, rows.Err()
}

// NextDueAt is when the next job becomes claimable: the earliest scheduled_for of a pending or
// failed job, or locked_until of a running one. ok is false when nothing is waiting.
func (db *DB) NextDueAt(ctx context.Context) (at time.Time, ok bool, err error) {
	var s sql.NullString
	err = db.read.QueryRowContext(ctx, `SELECT min(t) FROM (
			SELECT min(scheduled_for) AS t FROM outbox WHERE status = 'pending'
			UNION ALL SELECT min(scheduled_for) FROM outbox WHERE status = 'failed'
			UNION ALL SELECT min(locked_until) FROM outbox INDEXED BY idx_outbox_lease WHERE status = 'processing')`).Scan(&s)
	if err != nil || !s.Valid {
		return time.Time{}, false, err
	}
	at, err = ParseTime(s.String)
	return at, err == nil, err
}

// pruneChunk bounds each housekeeping transaction, so pruning never holds the writer long.
const pruneChunk = 1000

// PruneJobs deletes completed and cancelled jobs that finished before the cutoff.
func (db *DB) PruneJobs(ctx context.Context, completedBefore time.Time) (int64, error) {
	return db.pruneInChunks(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE status IN ('completed', 'cancelled') AND COALESCE(completed_at, updated_at) < ?1 LIMIT ?2)`,
		FormatTime(completedBefore))
}

// PruneWebhookBodies drops the raw bodies of webhook deliveries received before the cutoff,
// keeping the delivery rows themselves.
func (db *DB) PruneWebhookBodies(ctx context.Context, before time.Time) (int64, error) {
	return db.pruneInChunks(ctx, `UPDATE webhook_deliveries SET body = NULL WHERE id IN (SELECT id
		FROM webhook_deliveries WHERE received_at < ?1 AND body IS NOT NULL LIMIT ?2)`, FormatTime(before))
}

func (db *DB) pruneInChunks(ctx context.Context, query, cutoff string) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.Update(ctx, func(tx *Tx) error {
			res, err := tx.ExecContext(ctx, query, cutoff, pruneChunk)
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

// joinStatuses lists statuses for a message: "pending, processing, …".
func joinStatuses[S ~string](statuses []S) string {
	var b strings.Builder
	for i, st := range statuses {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(st))
	}
	return b.String()
}
