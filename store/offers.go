package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// OfferSession is what an offer_session cookie stands for: who opened which offer link.
type OfferSession struct {
	// Ref is a non-secret reference to the session (a prefix of the id's hash), recorded on
	// events; the cookie's id itself is never stored.
	Ref         string
	CompanyID   string
	ContactID   string
	OfferKey    string
	CampaignKey string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// hashSessionID is the stored form of a session id.
func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// OfferSessionRef is the non-secret reference of session id, as recorded on events.
func OfferSessionRef(id string) string { return hashSessionID(id)[:32] }

// CreateOfferSession stores a session under the hash of id, expiring ttl after the
// transaction's time. It also drops sessions that have expired, so the table holds only
// live ones without a separate sweep.
func (tx *Tx) CreateOfferSession(ctx context.Context, id string, s OfferSession, ttl time.Duration) (OfferSession, error) {
	if id == "" || s.CompanyID == "" || ttl <= 0 {
		return OfferSession{}, Errorf(EINVALID, "offer session needs an id, a company and a lifetime")
	}
	s.Ref = OfferSessionRef(id)
	s.CreatedAt, s.ExpiresAt = tx.now, tx.now.Add(ttl)
	if _, err := tx.ExecContext(ctx, `DELETE FROM offer_sessions WHERE expires_at <= ?`, tx.NowText()); err != nil {
		return OfferSession{}, fmt.Errorf("drop expired offer sessions: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO offer_sessions (id_hash, company_id, contact_id, offer_key, campaign_key,
			created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		hashSessionID(id), s.CompanyID, nullStr(s.ContactID), nullStr(s.OfferKey), nullStr(s.CampaignKey),
		FormatTime(s.CreatedAt), FormatTime(s.ExpiresAt))
	if err != nil {
		return OfferSession{}, fmt.Errorf("create offer session: %w", err)
	}
	return s, nil
}

// GetOfferSession loads the live session with id; an unknown or expired one is ENOTFOUND.
func (db *DB) GetOfferSession(ctx context.Context, id string) (OfferSession, error) {
	if id == "" {
		return OfferSession{}, Errorf(ENOTFOUND, "no offer session")
	}
	var s OfferSession
	var contact, offer, campaign sql.NullString
	var created, expires string
	err := db.read.QueryRowContext(ctx, `SELECT company_id, contact_id, offer_key, campaign_key, created_at, expires_at
		FROM offer_sessions WHERE id_hash = ? AND expires_at > ?`, hashSessionID(id), FormatTime(db.Now())).
		Scan(&s.CompanyID, &contact, &offer, &campaign, &created, &expires)
	if IsNoRows(err) {
		return OfferSession{}, Errorf(ENOTFOUND, "offer session not found or expired")
	}
	if err != nil {
		return OfferSession{}, fmt.Errorf("load offer session: %w", err)
	}
	s.Ref = OfferSessionRef(id)
	s.ContactID, s.OfferKey, s.CampaignKey = contact.String, offer.String, campaign.String
	s.CreatedAt, _ = ParseTime(created)
	s.ExpiresAt, _ = ParseTime(expires)
	return s, nil
}

// DeleteOfferSessionsOfContact ends every offer session of a contact (on unsubscribe, so no
// cookie keeps identifying them).
func (tx *Tx) DeleteOfferSessionsOfContact(ctx context.Context, contactID string) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM offer_sessions WHERE contact_id = ?`, contactID)
	if err != nil {
		return 0, fmt.Errorf("delete offer sessions: %w", err)
	}
	return res.RowsAffected()
}

// DeleteExpiredOfferSessions removes sessions past their expiry (housekeeping).
func (db *DB) DeleteExpiredOfferSessions(ctx context.Context) (int64, error) {
	var n int64
	err := db.Update(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM offer_sessions WHERE expires_at <= ?`, tx.NowText())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// SetMarketingStatus changes a contact's marketing_status and reports the previous value;
// changed is false when it already had that status. Subscribing records the consent time.
func (tx *Tx) SetMarketingStatus(ctx context.Context, contactID, status string) (previous string, changed bool, err error) {
	status, ok := NormalizeMarketingStatus(status)
	if !ok {
		return "", false, Errorf(EINVALID, "unknown marketing status")
	}
	err = tx.QueryRowContext(ctx, `SELECT marketing_status FROM contacts WHERE contact_id = ?`, contactID).Scan(&previous)
	if IsNoRows(err) {
		return "", false, Errorf(ENOTFOUND, "contact %q not found", contactID)
	}
	if err != nil {
		return "", false, translate(err)
	}
	if previous == status {
		return previous, false, nil
	}
	consent := `gdpr_consent_at`
	if status == MarketingSubscribed {
		consent = `?3`
	}
	_, err = tx.ExecContext(ctx, `UPDATE contacts SET marketing_status = ?2, updated_at = ?3, gdpr_consent_at = `+consent+`
		WHERE contact_id = ?1`, contactID, status, tx.NowText())
	if err != nil {
		return "", false, fmt.Errorf("set marketing status: %w", err)
	}
	return previous, true, nil
}

// OfferItem is one product on the reorder page, priced in the company's currency.
type OfferItem struct {
	ProductCode    string `json:"product_code"`
	Description    string `json:"description"`
	Category       string `json:"category"`
	Type           string `json:"type,omitempty"`
	Currency       string `json:"currency"`
	Price          *int64 `json:"price"` // minor units; nil when there is no price in that currency
	LastPurchase   string `json:"last_purchase,omitempty"`
	LastQuantity   int64  `json:"last_quantity,omitempty"`
	TimesPurchased int64  `json:"times_purchased,omitempty"`
}

// OfferTool is a tool the company owns with the consumables that fit it.
type OfferTool struct {
	ToolCode        string      `json:"tool_code"`
	ToolDescription string      `json:"tool_description"`
	Category        string      `json:"category"`
	LastPurchase    string      `json:"last_purchase,omitempty"`
	Consumables     []OfferItem `json:"consumables"`
}

// ConsumablePayload is a company's row of vw_company_consumable_payload_v2.
type ConsumablePayload struct {
	CompanyID    string
	CompanyName  string
	Currency     string
	ReorderItems []OfferItem // latest purchase first
	ByToolTabs   []OfferTool
}

// GetConsumablePayload reads the reorder-page payload of a company.
func (db *DB) GetConsumablePayload(ctx context.Context, companyID string) (ConsumablePayload, error) {
	var p ConsumablePayload
	var reorder, tabs sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT company_id, company_name, currency, reorder_items, by_tool_tabs
		FROM vw_company_consumable_payload_v2 WHERE company_id = ?`, companyID).
		Scan(&p.CompanyID, &p.CompanyName, &p.Currency, &reorder, &tabs)
	if IsNoRows(err) {
		return p, Errorf(ENOTFOUND, "company %q not found", companyID)
	}
	if err != nil {
		return p, fmt.Errorf("load consumable payload of %s: %w", companyID, err)
	}
	if reorder.Valid {
		if err := json.Unmarshal([]byte(reorder.String), &p.ReorderItems); err != nil {
			return p, fmt.Errorf("decode reorder_items of %s: %w", companyID, err)
		}
	}
	if tabs.Valid {
		if err := json.Unmarshal([]byte(tabs.String), &p.ByToolTabs); err != nil {
			return p, fmt.Errorf("decode by_tool_tabs of %s: %w", companyID, err)
		}
	}
	return p, nil
}

// ListCatalogue returns the active consumables and parts with their price in currency (nil
// when none), by category and code: the generic page shown when nothing may be personalised.
func (db *DB) ListCatalogue(ctx context.Context, currency string) ([]OfferItem, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT p.product_code, p.description, COALESCE(p.category, ''), p.type, pp.unit_amount
		FROM products p
		LEFT JOIN product_prices pp ON pp.product_code = p.product_code AND pp.currency = ?
		WHERE p.active = 1 AND p.type IN ('consumable', 'part')
		ORDER BY COALESCE(p.category, ''), p.product_code`, currency)
	if err != nil {
		return nil, fmt.Errorf("list catalogue: %w", err)
	}
	defer rows.Close()
	var out []OfferItem
	for rows.Next() {
		it := OfferItem{Currency: currency}
		var price sql.NullInt64
		if err := rows.Scan(&it.ProductCode, &it.Description, &it.Category, &it.Type, &price); err != nil {
			return nil, err
		}
		if price.Valid {
			v := price.Int64
			it.Price = &v
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OfferAudience is who a send of offer e-mails is aimed at.
type OfferAudience struct {
	Contacts         []Contact
	UnknownCompanies []string // company ids that do not exist
	EmptyCompanies   []string // companies without any contact
	UnknownContacts  []string // contact ids that do not exist
}

// maxAudienceIDs bounds one lookup (SQLite's variable limit is far above it).
const maxAudienceIDs = 10000

// FindOfferAudience resolves company and contact ids to contacts, in the order given and
// without duplicates, and reports the ids that resolve to nothing.
func (db *DB) FindOfferAudience(ctx context.Context, companyIDs, contactIDs []string) (OfferAudience, error) {
	var a OfferAudience
	if len(companyIDs)+len(contactIDs) > maxAudienceIDs {
		return a, Errorf(EINVALID, "at most %d ids per send", maxAudienceIDs)
	}
	seen := map[string]bool{}
	add := func(k Contact) {
		if !seen[k.ID] {
			seen[k.ID] = true
			a.Contacts = append(a.Contacts, k)
		}
	}
	for _, id := range uniqueIDs(companyIDs) {
		var exists int
		if err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM companies WHERE company_id = ?)`, id).Scan(&exists); err != nil {
			return a, err
		}
		if exists == 0 {
			a.UnknownCompanies = append(a.UnknownCompanies, id)
			continue
		}
		ks, err := db.ListContacts(ctx, id)
		if err != nil {
			return a, fmt.Errorf("list contacts of %s: %w", id, err)
		}
		if len(ks) == 0 {
			a.EmptyCompanies = append(a.EmptyCompanies, id)
		}
		for _, k := range ks {
			add(k)
		}
	}
	for _, id := range uniqueIDs(contactIDs) {
		k, err := db.GetContact(ctx, id)
		if ErrorCode(err) == ENOTFOUND {
			a.UnknownContacts = append(a.UnknownContacts, id)
			continue
		}
		if err != nil {
			return a, err
		}
		add(k)
	}
	return a, nil
}

// uniqueIDs returns ids trimmed, without blanks and duplicates, in their first order.
func uniqueIDs(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// EventRecorded reports whether an event with (source, source_event_id) exists; jobs use it to
// see whether an earlier attempt already finished its work.
func (db *DB) EventRecorded(ctx context.Context, source, sourceEventID string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM engagement_events
		WHERE source = ? AND source_event_id = ?)`, source, sourceEventID).Scan(&n)
	return n == 1, err
}
