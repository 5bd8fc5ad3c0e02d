-- Offer-page sessions: the offer_session cookie holds a random id; only its SHA-256 is stored,
-- so a copy of the database cannot be used to ride a buyer's session. Rows are created only
-- for visitors who may be personalised (DESIGN §5); checkout reads company and contact here.
CREATE TABLE offer_sessions (
    id_hash      TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    contact_id   TEXT REFERENCES contacts (contact_id) ON DELETE CASCADE,
    offer_key    TEXT,
    campaign_key TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX idx_offer_sessions_contact ON offer_sessions (contact_id);
CREATE INDEX idx_offer_sessions_expires ON offer_sessions (expires_at);
