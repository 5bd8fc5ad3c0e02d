package store

import (
	"context"
	"encoding/json"
	"time"
)

// Event is one engagement event: something a customer did or that happened to them.
type Event struct {
	ID            int64          `json:"event_id"`
	Source        string         `json:"source"` // stripe, zoho, web, admin, system
	SourceEventID string         `json:"source_event_id"`
	Name          EventName      `json:"event_name"`
	CompanyID     string         `json:"company_id,omitempty"`
	ContactID     string         `json:"contact_id,omitempty"`
	OfferKey      string         `json:"offer_key,omitempty"`
	CampaignKey   string         `json:"campaign_key,omitempty"`
	SessionID     string         `json:"session_id,omitempty"`
	URL           string         `json:"url,omitempty"`
	Value         *int64         `json:"value,omitempty"`
	Currency      string         `json:"currency,omitempty"`
	Meta          map[string]any `json:"meta,omitempty"`
	OccurredAt    time.Time      `json:"occurred_at"`
}

// InsertEvent records e unless an event with the same (source, source_event_id) exists; it
// reports whether this call inserted it, which is how every ingest path detects a repeat.
func (tx *Tx) InsertEvent(ctx context.Context, e Event) (id int64, inserted bool, err error) {
	if e.Source == "" || e.SourceEventID == "" || e.Name == "" {
		return 0, false, Errorf(EINVALID, "event needs a source, a source event id and a name")
	}
	meta := []byte("{}")
	if len(e.Meta) > 0 {
		if meta, err = json.Marshal(e.Meta); err != nil {
			return 0, false, Errorf(EINVALID, "event meta is not JSON-encodable")
		}
	}
	occurred := e.OccurredAt
	if occurred.IsZero() {
		occurred = tx.now
	}
	var value any
	if e.Value != nil {
		value = *e.Value
	}
	// No RETURNING: SQLite runs it as a trigger, which costs the insert a statement journal
	// and a temporary table; the row count and rowid say the same.
	res, err := tx.exec(ctx, `INSERT INTO engagement_events (source, source_event_id, event_name, company_id,
			contact_id, offer_key, campaign_key, session_id, url, value, currency, meta, occurred_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, source_event_id) DO NOTHING`,
		e.Source, e.SourceEventID, e.Name, nullStr(e.CompanyID), nullStr(e.ContactID), nullStr(e.OfferKey),
		nullStr(e.CampaignKey), nullStr(e.SessionID), nullStr(e.URL), value, nullStr(e.Currency), string(meta),
		FormatTime(occurred), tx.NowText())
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// SetState stores a named value in integration_state.
func (tx *Tx) SetState(ctx context.Context, name, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO integration_state (name, value, updated_at) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, tx.NowText())
	return err
}

// DeleteState removes a named value.
func (tx *Tx) DeleteState(ctx context.Context, name string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM integration_state WHERE name = ?`, name)
	return err
}

// GetState reads a named value; ok is false when it is not set.
func (db *DB) GetState(ctx context.Context, name string) (value string, updatedAt time.Time, ok bool, err error) {
	var at string
	err = db.read.QueryRowContext(ctx, `SELECT value, updated_at FROM integration_state WHERE name = ?`, name).Scan(&value, &at)
	if IsNoRows(err) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, err
	}
	updatedAt, _ = ParseTime(at)
	return value, updatedAt, true, nil
}

// GetStateTx reads a named value inside a write transaction.
func (tx *Tx) GetState(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := tx.QueryRowContext(ctx, `SELECT value FROM integration_state WHERE name = ?`, name).Scan(&v)
	if IsNoRows(err) {
		return "", false, nil
	}
	return v, err == nil, err
}
