package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobStatus is a job's state in the outbox's state machine (DESIGN §5; outbox.status).
type JobStatus string

// Job statuses.
const (
	JobPending    JobStatus = "pending"
	JobProcessing JobStatus = "processing"
	JobCompleted  JobStatus = "completed"
	JobFailed     JobStatus = "failed"
	JobDead       JobStatus = "dead"
	JobCancelled  JobStatus = "cancelled"
)

// JobStatuses lists every status in lifecycle order (a fresh slice; outbox.status's CHECK
// holds the same list, which TestDeclaredListsMatchTheSchema keeps in step).
func JobStatuses() []JobStatus {
	return []JobStatus{JobPending, JobProcessing, JobCompleted, JobFailed, JobDead, JobCancelled}
}

// DefaultMaxAttempts is how many attempts a job gets unless NewJob says otherwise.
const DefaultMaxAttempts = 5

// RetryBase is the delay after a first failed attempt; each further failure doubles it.
const RetryBase = 5 * time.Minute

// maxRetryDelay caps the doubling for jobs allowed more than the default attempts.
const maxRetryDelay = 24 * time.Hour

// RetryDelay is the default retry schedule, the wait after failed attempt number attempt:
// 5, 10, 20, 40, 80 min, … A job kind may declare its own (JobKindSpec.Backoff).
func RetryDelay(attempt int) time.Duration {
	d := RetryBase
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// JobError is one failed attempt, as kept in the job's errors history.
type JobError struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
}

// Job is one row of the outbox.
type Job struct {
	ID              int64           `json:"id"`
	JobType         string          `json:"job_type"`
	Payload         json.RawMessage `json:"payload"`
	Status          JobStatus       `json:"status"`
	Attempts        int             `json:"attempts"`
	MaxAttempts     int             `json:"max_attempts"`
	ScheduledFor    time.Time       `json:"scheduled_for"`
	LockedUntil     time.Time       `json:"locked_until,omitzero"`
	LockedBy        string          `json:"locked_by,omitempty"`
	LastAttemptedAt time.Time       `json:"last_attempted_at,omitzero"`
	LastError       string          `json:"last_error,omitempty"`
	Errors          []JobError      `json:"errors"`
	Result          json.RawMessage `json:"result,omitempty"`
	DedupeKey       string          `json:"dedupe_key,omitempty"`
	CompanyID       string          `json:"company_id,omitempty"`
	OrderID         string          `json:"order_id,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	CompletedAt     time.Time       `json:"completed_at,omitzero"`
}

// NewJob describes a job to enqueue.
type NewJob struct {
	Type    JobKind
	Payload any // JSON-encoded; a json.RawMessage is stored as is; nil stores {}
	// DedupeKey makes a second enqueue of the same logical job a no-op.
	DedupeKey   string
	CompanyID   string
	OrderID     string
	MaxAttempts int       // 0 means DefaultMaxAttempts
	RunAt       time.Time // zero means now
}

const jobColumns = `id, job_type, payload, status, attempts, max_attempts, scheduled_for, locked_until,
	locked_by, last_attempted_at, last_error, errors, result, dedupe_key, company_id, order_id,
	created_at, updated_at, completed_at`

func scanJob(row interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var payload, scheduled, errs, created, updated string
	var lockedUntil, lockedBy, lastAttempted, lastError, result, dedupe, company, order, completed sql.NullString
	if err := row.Scan(&j.ID, &j.JobType, &payload, &j.Status, &j.Attempts, &j.MaxAttempts, &scheduled,
		&lockedUntil, &lockedBy, &lastAttempted, &lastError, &errs, &result, &dedupe, &company, &order,
		&created, &updated, &completed); err != nil {
		return Job{}, err
	}
	j.Payload = json.RawMessage(payload)
	j.LockedBy, j.LastError, j.DedupeKey = lockedBy.String, lastError.String, dedupe.String
	j.CompanyID, j.OrderID = company.String, order.String
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	j.Errors = []JobError{}
	if err := json.Unmarshal([]byte(errs), &j.Errors); err != nil {
		return Job{}, fmt.Errorf("job %d: decode errors history: %w", j.ID, err)
	}
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&j.ScheduledFor, scheduled}, {&j.LockedUntil, lockedUntil.String}, {&j.LastAttemptedAt, lastAttempted.String},
		{&j.CreatedAt, created}, {&j.UpdatedAt, updated}, {&j.CompletedAt, completed.String}} {
		if t.src == "" {
			continue
		}
		v, err := ParseTime(t.src)
		if err != nil {
			return Job{}, fmt.Errorf("job %d: %w", j.ID, err)
		}
		*t.dst = v
	}
	return j, nil
}

// encodeJSON encodes v for a JSON column; ok is false for nil (store NULL or the default).
func encodeJSON(v any) (s string, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case json.RawMessage:
		if len(bytes.TrimSpace(x)) == 0 {
			return "", false, nil
		}
		if !json.Valid(x) {
			return "", false, Errorf(EINVALID, "value is not valid JSON")
		}
		return string(x), true, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, &Error{Code: EINVALID, Message: "value is not JSON-encodable", Err: err}
	}
	return string(b), true, nil
}

// outboxStmt prepares query once per transaction (Tx.exec's cache), for statements run many
// times in one transaction such as bulk enqueues.
func (tx *Tx) outboxStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return tx.stmt(ctx, query)
}

// Enqueue adds a job in the caller's transaction, so it commits or rolls back with the business
// rows. A job whose DedupeKey already exists is not added again: the existing id comes back with
// created false. The in-process worker is woken once the transaction commits.
func (tx *Tx) Enqueue(ctx context.Context, j NewJob) (id int64, created bool, err error) {
	if strings.TrimSpace(string(j.Type)) == "" {
		return 0, false, Errorf(EINVALID, "job type is empty")
	}
	if err := checkJobPayload(j); err != nil {
		return 0, false, err
	}
	payload, ok, err := encodeJSON(j.Payload)
	if err != nil {
		return 0, false, Errorf(EINVALID, "payload of %s job is not valid JSON", j.Type)
	}
	if !ok {
		payload = "{}"
	}
	maxAttempts := j.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if maxAttempts < 0 {
		return 0, false, Errorf(EINVALID, "max attempts of %s job must be positive", j.Type)
	}
	runAt := j.RunAt
	if runAt.IsZero() {
		runAt = tx.now
	}
	// No RETURNING (it would cost a statement journal and a temporary table): a conflict
	// inserts no row, and the existing job is looked up by its key.
	st, err := tx.outboxStmt(ctx, `INSERT INTO outbox (job_type, payload, max_attempts, scheduled_for, dedupe_key,
			company_id, order_id, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
		ON CONFLICT (dedupe_key) DO NOTHING`)
	if err != nil {
		return 0, false, err
	}
	res, err := st.ExecContext(context.WithoutCancel(ctx), j.Type, payload, maxAttempts, FormatTime(runAt),
		nullStr(j.DedupeKey), nullStr(j.CompanyID), nullStr(j.OrderID), tx.NowText())
	if err != nil {
		return 0, false, fmt.Errorf("enqueue %s job: %w", j.Type, translate(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, err
	} else if n == 0 {
		err = tx.QueryRowContext(ctx, `SELECT id FROM outbox WHERE dedupe_key = ?`, j.DedupeKey).Scan(&id)
		if err != nil {
			return 0, false, fmt.Errorf("find job by dedupe key: %w", translate(err))
		}
		return id, false, nil
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, false, err
	}
	tx.AfterCommit(tx.db.signalJob)
	return id, true, nil
}

// claimCandidates picks up to ?2 due jobs, each case walking its own index: pending and failed
// jobs by (status, scheduled_for, id), expired leases by idx_outbox_lease. Pending jobs go
// first, then the oldest.
const claimCandidates = `
SELECT id, status, attempts >= max_attempts FROM (
	SELECT id, status, attempts, max_attempts, 0 AS pri, scheduled_for FROM (
		SELECT id, status, attempts, max_attempts, scheduled_for FROM outbox
		WHERE status = 'pending' AND scheduled_for <= ?1 ORDER BY scheduled_for, id LIMIT ?2)
	UNION ALL
	SELECT id, status, attempts, max_attempts, 1, scheduled_for FROM (
		SELECT id, status, attempts, max_attempts, scheduled_for FROM outbox
		WHERE status = 'failed' AND scheduled_for <= ?1 ORDER BY scheduled_for, id LIMIT ?2)
	UNION ALL
	SELECT id, status, attempts, max_attempts, 1, scheduled_for FROM (
		SELECT id, status, attempts, max_attempts, scheduled_for FROM outbox INDEXED BY idx_outbox_lease
		WHERE status = 'processing' AND locked_until < ?1 ORDER BY locked_until LIMIT ?2)
) ORDER BY pri, scheduled_for, id LIMIT ?2`

// leaseExpiredError appends the dead worker's attempt to the history.
const leaseExpiredError = `json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?1, 'error', 'lease expired'))`

// ClaimJobs moves up to limit due jobs to processing under workerID's lease, in one write
// transaction, and returns them in claim order (pending first, then oldest). Due means pending
// or failed with scheduled_for ≤ now, or processing whose lease has expired; each claim counts
// an attempt. An expired job that has already used its last attempt is marked dead instead.
func (db *DB) ClaimJobs(ctx context.Context, workerID string, lease time.Duration, limit int) ([]Job, error) {
	if workerID == "" || lease <= 0 || limit <= 0 {
		return nil, Errorf(EINVALID, "claim needs a worker id, a positive lease and a positive limit")
	}
	var jobs []Job
	var order map[int64]int // claim order: RETURNING does not keep it
	err := db.Update(ctx, func(tx *Tx) error {
		jobs = nil
		now := tx.NowText()
		rows, err := tx.QueryContext(ctx, claimCandidates, now, limit)
		if err != nil {
			return fmt.Errorf("find due jobs: %w", err)
		}
		var claim, exhausted []int64
		order = map[int64]int{}
		for rows.Next() {
			var id int64
			var status JobStatus
			var spent bool
			if err := rows.Scan(&id, &status, &spent); err != nil {
				rows.Close()
				return err
			}
			order[id] = len(order)
			if status == JobProcessing && spent {
				exhausted = append(exhausted, id)
			} else {
				claim = append(claim, id)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(exhausted) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'dead', errors = `+leaseExpiredError+`,
					last_error = 'lease expired', locked_until = NULL, locked_by = NULL, updated_at = ?1
				WHERE id IN (SELECT value FROM json_each(?2))`, now, idList(exhausted)); err != nil {
				return fmt.Errorf("mark exhausted jobs dead: %w", err)
			}
		}
		if len(claim) == 0 {
			return nil
		}
		rows, err = tx.QueryContext(ctx, `UPDATE outbox SET
				errors = CASE WHEN status = 'processing' THEN `+leaseExpiredError+` ELSE errors END,
				last_error = CASE WHEN status = 'processing' THEN 'lease expired' ELSE last_error END,
				status = 'processing', attempts = attempts + 1, locked_until = ?2, locked_by = ?3,
				last_attempted_at = ?1, updated_at = ?1
			WHERE id IN (SELECT value FROM json_each(?4))
			RETURNING `+jobColumns, now, FormatTime(tx.now.Add(lease)), workerID, idList(claim))
		if err != nil {
			return fmt.Errorf("claim jobs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(jobs, func(a, b Job) int { return order[a.ID] - order[b.ID] })
	return jobs, nil
}

// idList renders ids as a JSON array for json_each.
func idList(ids []int64) string {
	b := make([]byte, 0, len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// leaseLost is the answer to a worker that no longer holds a job: its lease expired and the
// job was reclaimed (or cancelled, or finished by someone else).
func leaseLost(id int64, attempt int) error {
	return Errorf(ECONFLICT, "lease lost on job %d attempt %d", id, attempt)
}

// holder is the WHERE clause that admits only the current lease holder.
const holder = `id = ? AND status = 'processing' AND locked_by = ? AND attempts = ?`

// Completion is one successful attempt for CompleteJobs.
type Completion struct {
	ID       int64
	Attempt  int
	WorkerID string
	Result   any // JSON-encoded; nil stores NULL
}

// CompleteJob marks a job completed with its result. Only the current lease holder (same
// worker, same attempt) may; anyone else gets ECONFLICT and changes nothing.
func (db *DB) CompleteJob(ctx context.Context, id int64, attempt int, workerID string, result any) error {
	errs, err := db.CompleteJobs(ctx, []Completion{{ID: id, Attempt: attempt, WorkerID: workerID, Result: result}})
	if err != nil {
		return err
	}
	return errs[0]
}

// CompleteJobs completes several jobs in one transaction (the worker's batching path). errs[i]
// is the outcome of cs[i] (ECONFLICT when its lease was lost); err is a failure of the whole.
func (db *DB) CompleteJobs(ctx context.Context, cs []Completion) (errs []error, err error) {
	errs = make([]error, len(cs))
	results := make([]any, len(cs))
	bad := make([]error, len(cs))
	for i, c := range cs {
		s, ok, err := encodeJSON(c.Result)
		switch {
		case err != nil:
			bad[i] = Errorf(EINVALID, "result of job %d is not JSON-encodable", c.ID)
		case ok:
			results[i] = s
		}
	}
	err = db.Update(ctx, func(tx *Tx) error {
		now := tx.NowText()
		for i, c := range cs {
			if errs[i] = bad[i]; bad[i] != nil {
				continue
			}
			res, err := tx.exec(ctx, `UPDATE outbox SET status = 'completed', result = ?1, completed_at = ?2,
					updated_at = ?2, locked_until = NULL, locked_by = NULL
				WHERE id = ?3 AND status = 'processing' AND locked_by = ?4 AND attempts = ?5`,
				results[i], now, c.ID, c.WorkerID, c.Attempt)
			if err := mustChange(res, err, c.ID, c.Attempt); err != nil {
				if ErrorCode(err) != ECONFLICT {
					return err
				}
				errs[i] = err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete jobs: %w", err)
	}
	return errs, nil
}

// FailJob records a failed attempt: the error joins the job's history, and the job is retried
// after its kind's backoff (RetryDelay by default) — or is dead once it has used max_attempts. Lease holder only.
func (db *DB) FailJob(ctx context.Context, id int64, attempt int, workerID, errMsg string) (status JobStatus, err error) {
	if errMsg == "" {
		errMsg = "failed without an error message"
	}
	err = db.Update(ctx, func(tx *Tx) error {
		var attempts, maxAttempts int
		var jobType string
		err := tx.QueryRowContext(ctx, `SELECT attempts, max_attempts, job_type FROM outbox WHERE `+holder,
			id, workerID, attempt).Scan(&attempts, &maxAttempts, &jobType)
		if IsNoRows(err) {
			return leaseLost(id, attempt)
		}
		if err != nil {
			return translate(err)
		}
		status = JobFailed
		next := tx.now.Add(retryDelayFor(jobType, attempts))
		if attempts >= maxAttempts {
			status = JobDead
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET status = ?2,
				errors = json_insert(errors, '$[#]', json_object('attempt', attempts, 'at', ?3, 'error', ?4)),
				last_error = ?4, scheduled_for = CASE WHEN ?2 = 'failed' THEN ?5 ELSE scheduled_for END,
				locked_until = NULL, locked_by = NULL, updated_at = ?3
			WHERE id = ?1`, id, status, tx.NowText(), errMsg, FormatTime(next))
		return err
	})
	if err != nil {
		return "", err
	}
	return status, nil
}

// DeferJob puts a job back to pending at until (now when zero) and gives back the attempt it
// was charged: used when an outside limit (Zoho's daily cap) pauses work that did not fail.
// reason, when set, goes to last_error but not to the errors history. Lease holder only.
func (db *DB) DeferJob(ctx context.Context, id int64, attempt int, workerID string, until time.Time, reason string) error {
	return db.Update(ctx, func(tx *Tx) error {
		at := until
		if at.IsZero() {
			at = tx.now
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', attempts = attempts - 1,
				scheduled_for = ?4, last_error = COALESCE(NULLIF(?5, ''), last_error),
				locked_until = NULL, locked_by = NULL, updated_at = ?6
			WHERE id = ?1 AND status = 'processing' AND locked_by = ?2 AND attempts = ?3`,
			id, workerID, attempt, FormatTime(at), reason, tx.NowText())
		return mustChange(res, err, id, attempt)
	})
}

// JobLease names one lease a worker holds: the job and the attempt it was claimed for.
type JobLease struct {
	ID      int64
	Attempt int
}

// RenewLease extends a lease to now+lease. Lease holder only.
func (db *DB) RenewLease(ctx context.Context, id int64, attempt int, workerID string, lease time.Duration) error {
	lost, err := db.RenewLeases(ctx, workerID, lease, []JobLease{{ID: id, Attempt: attempt}})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return leaseLost(id, attempt)
	}
	return nil
}

// RenewLeases extends every listed lease of workerID in one transaction and returns the jobs
// whose lease it no longer holds.
func (db *DB) RenewLeases(ctx context.Context, workerID string, lease time.Duration, leases []JobLease) (lost []int64, err error) {
	if len(leases) == 0 {
		return nil, nil
	}
	err = db.Update(ctx, func(tx *Tx) error {
		lost = nil
		until, now := FormatTime(tx.now.Add(lease)), tx.NowText()
		for _, l := range leases {
			res, err := tx.exec(ctx, `UPDATE outbox SET locked_until = ?1, updated_at = ?2 WHERE id = ?3
				AND status = 'processing' AND locked_by = ?4 AND attempts = ?5`, until, now, l.ID, workerID, l.Attempt)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				lost = append(lost, l.ID)
			}
		}
		return nil
	})
	return lost, err
}

func mustChange(res sql.Result, err error, id int64, attempt int) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return leaseLost(id, attempt)
	}
	return nil
}

// jobStatus reads a job's status inside tx; ENOTFOUND when there is no such job.
func (tx *Tx) jobStatus(ctx context.Context, id int64) (JobStatus, error) {
	var status JobStatus
	err := tx.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = ?`, id).Scan(&status)
	if IsNoRows(err) {
		return "", Errorf(ENOTFOUND, "job %d not found", id)
	}
	return status, translate(err)
}

// CancelJob cancels a job that is not running or finished: pending, failed or dead.
func (db *DB) CancelJob(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error { return tx.CancelJob(ctx, id) })
}

// CancelJob is DB.CancelJob in the caller's transaction.
func (tx *Tx) CancelJob(ctx context.Context, id int64) error {
	status, err := tx.jobStatus(ctx, id)
	if err != nil {
		return err
	}
	switch status {
	case JobProcessing:
		return Errorf(ECONFLICT, "job %d is running", id)
	case JobCompleted, JobCancelled:
		return Errorf(ECONFLICT, "job %d is already %s", id, status)
	}
	_, err = tx.ExecContext(ctx, `UPDATE outbox SET status = 'cancelled', locked_until = NULL,
		locked_by = NULL, updated_at = ?2 WHERE id = ?1`, id, tx.NowText())
	return err
}

// RetryJob makes a failed or dead job due now. A dead job gets its attempts back; the errors
// history stays.
func (db *DB) RetryJob(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error { return tx.RetryJob(ctx, id) })
}

// RetryJob is DB.RetryJob in the caller's transaction; the worker wakes once it commits.
func (tx *Tx) RetryJob(ctx context.Context, id int64) error {
	status, err := tx.jobStatus(ctx, id)
	if err != nil {
		return err
	}
	if status != JobFailed && status != JobDead {
		return Errorf(ECONFLICT, "job %d is %s; only failed or dead jobs can be retried", id, status)
	}
	_, err = tx.ExecContext(ctx, `UPDATE outbox SET status = 'pending', scheduled_for = ?2, updated_at = ?2,
			attempts = CASE WHEN status = 'dead' THEN 0 ELSE attempts END
		WHERE id = ?1`, id, tx.NowText())
	if err == nil {
		tx.AfterCommit(tx.db.signalJob)
	}
	return err
}
