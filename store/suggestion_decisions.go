package store

import (
	"context"
	"strings"
	"time"
)

// SuggestionDecision is a staff member's dismissal or snooze of one suggestion.
type SuggestionDecision struct {
	CompanyID   string    `json:"company_id"`
	ActionType  string    `json:"action_type"`
	Decision    string    `json:"decision"` // dismissed or snoozed
	HiddenUntil time.Time `json:"hidden_until,omitzero"`
	Actor       string    `json:"actor"`
	CreatedAt   time.Time `json:"created_at"`
}

// DecideSuggestion records a dismissal (until zero) or a snooze (until set), replacing any
// earlier decision on the same suggestion.
func (tx *Tx) DecideSuggestion(ctx context.Context, companyID, actionType string, until time.Time, e AuditEntry) error {
	decision, hidden := "dismissed", any(nil)
	if !until.IsZero() {
		decision, hidden = "snoozed", FormatTime(until)
	}
	var user any
	if e.UserID != 0 {
		user = e.UserID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO suggestion_decisions (company_id, action_type, decision, hidden_until, user_id, actor, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (company_id, action_type) DO UPDATE SET decision = excluded.decision,
			hidden_until = excluded.hidden_until, user_id = excluded.user_id, actor = excluded.actor, created_at = excluded.created_at`,
		companyID, actionType, decision, hidden, user, e.Actor, FormatTime(tx.db.Now()))
	return err
}

// RestoreSuggestion removes a decision; it reports whether there was one.
func (tx *Tx) RestoreSuggestion(ctx context.Context, companyID, actionType string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM suggestion_decisions WHERE company_id = ? AND action_type = ?`, companyID, actionType)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// HiddenSuggestions lists the decisions in force at now (dismissals, and snoozes not yet
// over), keyed by company id + "\x00" + action type.
func (db *DB) HiddenSuggestions(ctx context.Context, now time.Time) (map[string]SuggestionDecision, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT company_id, action_type, decision, COALESCE(hidden_until, ''), actor, created_at
		FROM suggestion_decisions WHERE hidden_until IS NULL OR hidden_until > ?`, FormatTime(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]SuggestionDecision{}
	for rows.Next() {
		var d SuggestionDecision
		var until, created string
		if err := rows.Scan(&d.CompanyID, &d.ActionType, &d.Decision, &until, &d.Actor, &created); err != nil {
			return nil, err
		}
		if until != "" {
			d.HiddenUntil, _ = ParseTime(until)
		}
		d.CreatedAt, _ = ParseTime(created)
		out[d.CompanyID+"\x00"+d.ActionType] = d
	}
	return out, rows.Err()
}

// LastActions returns, per target, the newest audit entry with one of the actions.
func (db *DB) LastActions(ctx context.Context, targets, actions []string) (map[string]AuditEntry, error) {
	out := map[string]AuditEntry{}
	if len(targets) == 0 || len(actions) == 0 {
		return out, nil
	}
	q := `SELECT id, COALESCE(user_id, 0), actor, action, COALESCE(target, ''), detail, COALESCE(ip, ''), created_at
		FROM audit_log WHERE target IN (?` + strings.Repeat(",?", len(targets)-1) + `) AND action IN (?` +
		strings.Repeat(",?", len(actions)-1) + `) ORDER BY id DESC`
	args := make([]any, 0, len(targets)+len(actions))
	for _, t := range targets {
		args = append(args, t)
	}
	for _, a := range actions {
		args = append(args, a)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		var detail, created string
		if err := rows.Scan(&e.ID, &e.UserID, &e.Actor, &e.Action, &e.Target, &detail, &e.IP, &created); err != nil {
			return nil, err
		}
		if _, seen := out[e.Target]; seen {
			continue
		}
		e.Detail = []byte(detail)
		e.CreatedAt, _ = ParseTime(created)
		out[e.Target] = e
	}
	return out, rows.Err()
}
