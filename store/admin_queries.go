package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The read models of the admin UI and the admin API. Every list pages by a key (never OFFSET
// on the big tables) and builds its WHERE from the filters actually set, so SQLite can choose
// the index that matches them.

// FeedEvent is one row of v_engagement_feed.
type FeedEvent struct {
	EventID       int64           `json:"event_id"`
	Source        string          `json:"source"`
	SourceEventID string          `json:"source_event_id"`
	EventName     string          `json:"event_name"`
	CompanyID     string          `json:"company_id,omitempty"`
	CompanyName   string          `json:"company_name,omitempty"`
	ContactID     string          `json:"contact_id,omitempty"`
	ContactName   string          `json:"contact_name,omitempty"`
	ContactEmail  string          `json:"contact_email,omitempty"`
	OfferKey      string          `json:"offer_key,omitempty"`
	CampaignKey   string          `json:"campaign_key,omitempty"`
	SessionID     string          `json:"session_id,omitempty"`
	URL           string          `json:"url,omitempty"`
	Value         *int64          `json:"value,omitempty"`
	Currency      string          `json:"currency,omitempty"`
	Meta          json.RawMessage `json:"meta"`
	OccurredAt    time.Time       `json:"occurred_at"`
	CreatedAt     time.Time       `json:"created_at"`
	Description   string          `json:"event_description"`
	Category      string          `json:"event_category"`
}

// Cursor returns the key of the page that follows this event.
func (e FeedEvent) Cursor() FeedCursor {
	return FeedCursor{OccurredAt: FormatTime(e.OccurredAt), EventID: e.EventID}
}

// FeedCursor is a position in the timeline, newest first: (occurred_at, event_id).
type FeedCursor struct {
	OccurredAt string
	EventID    int64
}

// String encodes the cursor for a URL: "<occurred_at>_<event_id>".
func (c FeedCursor) String() string {
	if c.EventID == 0 {
		return ""
	}
	return c.OccurredAt + "_" + strconv.FormatInt(c.EventID, 10)
}

// ParseFeedCursor decodes FeedCursor.String; EINVALID for anything else.
func ParseFeedCursor(s string) (FeedCursor, error) {
	i := strings.LastIndexByte(s, '_')
	if i <= 0 {
		return FeedCursor{}, Errorf(EINVALID, "invalid cursor")
	}
	id, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || id <= 0 {
		return FeedCursor{}, Errorf(EINVALID, "invalid cursor")
	}
	t, err := ParseTime(s[:i])
	if err != nil {
		return FeedCursor{}, Errorf(EINVALID, "invalid cursor")
	}
	return FeedCursor{OccurredAt: FormatTime(t), EventID: id}, nil
}

// FeedFilter selects timeline events. Empty fields match everything.
type FeedFilter struct {
	CompanyID string
	ContactID string
	Source    string
	EventName string
	From      time.Time // occurred_at >= From
	To        time.Time // occurred_at < To
	After     FeedCursor
	Limit     int // 50 when zero, at most 500
}

const feedColumns = `event_id, source, source_event_id, event_name, company_id, company_name, contact_id,
	contact_name, contact_email, offer_key, campaign_key, session_id, url, value, currency, meta,
	occurred_at, created_at, event_description, event_category`

// feedIndex is the index that serves a timeline filter: the most selective equality it has.
// Without statistics SQLite's planner can prefer walking the time index and filtering (seconds
// on a million events), so the page's ids are picked with the index named here, and the view
// is then read by primary key for those ids only.
func feedIndex(f FeedFilter) string {
	switch {
	case f.CompanyID != "":
		return "idx_events_company"
	case f.ContactID != "":
		return "idx_events_contact"
	case f.EventName != "":
		return "idx_events_name"
	case f.Source != "":
		return "idx_events_source_time"
	}
	return "idx_events_occurred"
}

// EngagementFeed lists timeline events newest first, continuing after f.After. It pages by
// the key (occurred_at, event_id), never by offset.
func (db *DB) EngagementFeed(ctx context.Context, f FeedFilter) ([]FeedEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var w where
	w.eq("company_id", f.CompanyID)
	w.eq("contact_id", f.ContactID)
	w.eq("source", f.Source)
	w.eq("event_name", f.EventName)
	if !f.From.IsZero() {
		w.add("occurred_at >= ?", FormatTime(f.From))
	}
	if !f.To.IsZero() {
		w.add("occurred_at < ?", FormatTime(f.To))
	}
	if f.After.EventID > 0 {
		w.add("(occurred_at, event_id) < (?, ?)", f.After.OccurredAt, f.After.EventID)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+feedColumns+` FROM v_engagement_feed
		WHERE event_id IN (SELECT event_id FROM engagement_events INDEXED BY `+feedIndex(f)+w.sql()+`
			ORDER BY occurred_at DESC, event_id DESC LIMIT ?)
		ORDER BY occurred_at DESC, event_id DESC`, append(w.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("engagement feed: %w", err)
	}
	defer rows.Close()
	events := []FeedEvent{}
	for rows.Next() {
		var e FeedEvent
		var company, companyName, contact, contactName, contactEmail, offer, campaign, session, url, currency sql.NullString
		var value sql.NullInt64
		var meta, occurred, created string
		if err := rows.Scan(&e.EventID, &e.Source, &e.SourceEventID, &e.EventName, &company, &companyName,
			&contact, &contactName, &contactEmail, &offer, &campaign, &session, &url, &value, &currency, &meta,
			&occurred, &created, &e.Description, &e.Category); err != nil {
			return nil, err
		}
		e.CompanyID, e.CompanyName, e.ContactID = company.String, companyName.String, contact.String
		e.ContactName, e.ContactEmail, e.OfferKey = contactName.String, contactEmail.String, offer.String
		e.CampaignKey, e.SessionID, e.URL, e.Currency = campaign.String, session.String, url.String, currency.String
		if value.Valid {
			v := value.Int64
			e.Value = &v
		}
		e.Meta = json.RawMessage(meta)
		e.OccurredAt, _ = ParseTime(occurred)
		e.CreatedAt, _ = ParseTime(created)
		events = append(events, e)
	}
	return events, rows.Err()
}

// Suggestion is one row of v_next_best_actions.
type Suggestion struct {
	CompanyID     string          `json:"company_id"`
	CompanyName   string          `json:"company_name"`
	ActionType    string          `json:"action_type"`
	ActionLabel   string          `json:"action_label"`
	Reason        string          `json:"reason"`
	PriorityScore int             `json:"priority_score"`
	ActionMeta    json.RawMessage `json:"action_meta"`
}

// SuggestionFilter selects suggestions. Empty fields match everything.
type SuggestionFilter struct {
	CompanyID  string
	ActionType string
	Offset     int // the view is computed whole each time, so an offset costs nothing extra
	Limit      int // 20 when zero, at most 500
}

// Suggestions lists next best actions by priority, highest first.
func (db *DB) Suggestions(ctx context.Context, f SuggestionFilter) ([]Suggestion, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 500)
	var w where
	w.eq("company_id", f.CompanyID)
	w.eq("action_type", f.ActionType)
	rows, err := db.read.QueryContext(ctx, `SELECT company_id, company_name, action_type, action_label, reason,
		priority_score, action_meta FROM v_next_best_actions`+w.sql()+
		` ORDER BY priority_score DESC, company_id, action_type LIMIT ? OFFSET ?`,
		append(w.args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("suggestions: %w", err)
	}
	defer rows.Close()
	return scanSuggestions(rows)
}

// AllSuggestions reads the whole of v_next_best_actions in its order. Computing the view costs
// the same for one row as for all of them (it aggregates all purchase history), so the admin UI
// reads it whole and filters in memory.
func (db *DB) AllSuggestions(ctx context.Context) ([]Suggestion, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT company_id, company_name, action_type, action_label, reason,
		priority_score, action_meta FROM v_next_best_actions ORDER BY priority_score DESC, company_id, action_type`)
	if err != nil {
		return nil, fmt.Errorf("suggestions: %w", err)
	}
	defer rows.Close()
	return scanSuggestions(rows)
}

func scanSuggestions(rows *sql.Rows) ([]Suggestion, error) {
	out := []Suggestion{}
	for rows.Next() {
		var s Suggestion
		var meta string
		if err := rows.Scan(&s.CompanyID, &s.CompanyName, &s.ActionType, &s.ActionLabel, &s.Reason,
			&s.PriorityScore, &meta); err != nil {
			return nil, err
		}
		s.ActionMeta = json.RawMessage(meta)
		out = append(out, s)
	}
	return out, rows.Err()
}

// countBy runs a two-column "key, count" query and returns the counts by key.
func (db *DB) countBy(ctx context.Context, query string, args ...any) (map[string]int64, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k sql.NullString
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k.String] = n
	}
	return out, rows.Err()
}

// EventsBySource counts engagement events per source that occurred since the given time.
func (db *DB) EventsBySource(ctx context.Context, since time.Time) (map[string]int64, error) {
	// The time index reads only the window; left to itself the planner may walk all of
	// idx_events_source_time for its grouping order.
	return db.countBy(ctx, `SELECT source, count(*) FROM engagement_events INDEXED BY idx_events_occurred
		WHERE occurred_at >= ? GROUP BY source`, FormatTime(since))
}

// EventNameCounts counts events with the given names that occurred since the given time.
func (db *DB) EventNameCounts(ctx context.Context, since time.Time, names ...string) (map[string]int64, error) {
	if len(names) == 0 {
		return map[string]int64{}, nil
	}
	args := []any{FormatTime(since)}
	for _, n := range names {
		args = append(args, n)
	}
	return db.countBy(ctx, `SELECT event_name, count(*) FROM engagement_events
		WHERE occurred_at >= ? AND event_name IN (?`+strings.Repeat(", ?", len(names)-1)+`) GROUP BY event_name`, args...)
}

// RevenueDay is the total of the orders paid on one UTC day in one currency.
type RevenueDay struct {
	Day      string // YYYY-MM-DD
	Currency string
	Total    int64 // minor units
	Orders   int
}

// DailyRevenue sums paid orders' total_amount per day and currency since the given time.
func (db *DB) DailyRevenue(ctx context.Context, since time.Time) ([]RevenueDay, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT substr(paid_at, 1, 10) AS day, currency, sum(total_amount), count(*)
		FROM orders INDEXED BY idx_orders_paid_at WHERE paid_at >= ? AND status = 'paid'
		GROUP BY day, currency ORDER BY day, currency`, FormatTime(since))
	if err != nil {
		return nil, fmt.Errorf("daily revenue: %w", err)
	}
	defer rows.Close()
	out := []RevenueDay{}
	for rows.Next() {
		var d RevenueDay
		if err := rows.Scan(&d.Day, &d.Currency, &d.Total, &d.Orders); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeliveryRequests counts the webhook requests with a status last seen since the given time:
// rows' attempts, since repeats and rejected requests are folded into one row.
func (db *DB) DeliveryRequests(ctx context.Context, status string, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COALESCE(sum(attempts), 0) FROM webhook_deliveries
		WHERE status = ? AND COALESCE(last_received_at, received_at) >= ?`, status, FormatTime(since)).Scan(&n)
	return n, err
}

// EngagementWindow is the period the engagement score counts events over.
const EngagementWindow = 90 * 24 * time.Hour

// CompanySummary is a company as the companies list shows it.
type CompanySummary struct {
	Company
	Contacts     int       `json:"contacts"`
	LastActivity time.Time `json:"last_activity,omitzero"`
	Events90     int       `json:"events_90d"`
	Score        int       `json:"engagement_score"`
}

// CompanyFilter selects companies.
type CompanyFilter struct {
	Query  string // matches the name anywhere or the id from its start, case-insensitively
	Sort   string // "name" (default) or "activity" (latest engagement first)
	Offset int    // companies are few enough (thousands) for offset paging
	Limit  int    // 50 when zero, at most 500
}

// SearchCompanies lists companies with their engagement score and the total that match.
func (db *DB) SearchCompanies(ctx context.Context, f CompanyFilter) ([]CompanySummary, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var w where
	if q := strings.TrimSpace(f.Query); q != "" {
		like := "%" + escapeLike(q) + "%"
		w.add(`(c.company_name LIKE ? ESCAPE '\' OR c.company_id LIKE ? ESCAPE '\')`, like, escapeLike(q)+"%")
	}
	var total int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM companies c`+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count companies: %w", err)
	}
	order := `c.company_name COLLATE NOCASE, c.company_id`
	if f.Sort == "activity" {
		order = `last_activity IS NULL, last_activity DESC, c.company_id`
	}
	rows, err := db.read.QueryContext(ctx, `SELECT c.company_id, c.company_name, c.type, c.country, c.category,
			c.currency, c.zoho_customer_id, c.stripe_customer_id, c.created_at, c.updated_at,
			(SELECT max(e.occurred_at) FROM engagement_events e WHERE e.company_id = c.company_id) AS last_activity
		FROM companies c`+w.sql()+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(w.args, limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list companies: %w", err)
	}
	defer rows.Close()
	out := []CompanySummary{}
	index := map[string]int{}
	for rows.Next() {
		var s CompanySummary
		var typ, country, cat, zoho, stripe, last sql.NullString
		if err := rows.Scan(&s.ID, &s.Name, &typ, &country, &cat, &s.Currency, &zoho, &stripe, &s.CreatedAt,
			&s.UpdatedAt, &last); err != nil {
			return nil, 0, err
		}
		s.Type, s.Country, s.Category = typ.String, country.String, cat.String
		s.ZohoCustomerID, s.StripeCustomerID = zoho.String, stripe.String
		if last.Valid {
			s.LastActivity, _ = ParseTime(last.String)
		}
		index[s.ID] = len(out)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) == 0 {
		return out, total, nil
	}
	ids := make([]string, len(out))
	for i, s := range out {
		ids[i] = s.ID
	}
	scores, err := db.engagementScores(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	contacts, err := db.contactCounts(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	for id, i := range index {
		out[i].Score, out[i].Events90 = scores[id].score, scores[id].events
		out[i].Contacts = contacts[id]
	}
	return out, total, nil
}

type engagement struct{ score, events int }

// engagementScores weighs each company's events of the last EngagementWindow by category.
func (db *DB) engagementScores(ctx context.Context, ids []string) (map[string]engagement, error) {
	args := []any{FormatTime(db.Now().Add(-EngagementWindow))}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT company_id, event_category, count(*) FROM v_engagement_feed
		WHERE event_id IN (SELECT event_id FROM engagement_events INDEXED BY idx_events_company
			WHERE occurred_at >= ? AND company_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`))
		GROUP BY company_id, event_category`, args...)
	if err != nil {
		return nil, fmt.Errorf("engagement scores: %w", err)
	}
	defer rows.Close()
	out := map[string]engagement{}
	for rows.Next() {
		var id, cat string
		var n int
		if err := rows.Scan(&id, &cat, &n); err != nil {
			return nil, err
		}
		e := out[id]
		e.events += n
		e.score += n * EventCategory(cat).Weight()
		out[id] = e
	}
	return out, rows.Err()
}

func (db *DB) contactCounts(ctx context.Context, ids []string) (map[string]int, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	counts, err := db.countBy(ctx, `SELECT company_id, count(*) FROM contacts
		WHERE company_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) GROUP BY company_id`, args...)
	out := map[string]int{}
	for k, v := range counts {
		out[k] = int(v)
	}
	return out, err
}

// CompanySummaryByID is the companies-list row of one company; ENOTFOUND when it does not exist.
func (db *DB) CompanySummaryByID(ctx context.Context, id string) (CompanySummary, error) {
	c, err := db.GetCompany(ctx, id)
	if err != nil {
		return CompanySummary{}, err
	}
	s := CompanySummary{Company: c}
	var last sql.NullString
	if err := db.read.QueryRowContext(ctx, `SELECT max(occurred_at) FROM engagement_events WHERE company_id = ?`, id).
		Scan(&last); err != nil {
		return s, err
	}
	if last.Valid {
		s.LastActivity, _ = ParseTime(last.String)
	}
	scores, err := db.engagementScores(ctx, []string{id})
	if err != nil {
		return s, err
	}
	s.Score, s.Events90 = scores[id].score, scores[id].events
	contacts, err := db.contactCounts(ctx, []string{id})
	s.Contacts = contacts[id]
	return s, err
}

// escapeLike escapes LIKE's wildcards with a backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// where collects the conditions of a dynamic WHERE clause and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// eq adds "col = value" when value is set.
func (w *where) eq(col, value string) {
	if value != "" {
		w.add(col+" = ?", value)
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
