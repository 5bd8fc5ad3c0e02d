-- Technifold schema. Names follow the system this replaces so operators' SQL keeps working.
-- Timestamps: TEXT, UTC, YYYY-MM-DDTHH:MM:SS.sssZ. Money: INTEGER minor units + lower-case ISO currency.

CREATE TABLE companies (
    company_id         TEXT PRIMARY KEY CHECK (length(company_id) BETWEEN 1 AND 64),
    company_name       TEXT NOT NULL CHECK (length(company_name) > 0),
    type               TEXT,
    country            TEXT,
    category           TEXT,
    -- currency the company is quoted in on offer pages
    currency           TEXT NOT NULL DEFAULT 'gbp' CHECK (length(currency) = 3 AND currency = lower(currency)),
    zoho_customer_id   TEXT,
    stripe_customer_id TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX idx_companies_name ON companies (company_name COLLATE NOCASE);

CREATE TABLE contacts (
    contact_id        TEXT PRIMARY KEY CHECK (length(contact_id) BETWEEN 1 AND 64),
    company_id        TEXT REFERENCES companies (company_id) ON DELETE SET NULL,
    email             TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK (instr(email, '@') > 1),
    first_name        TEXT,
    last_name         TEXT,
    full_name         TEXT,
    phone             TEXT,
    marketing_status  TEXT NOT NULL DEFAULT 'pending'
                      CHECK (marketing_status IN ('subscribed', 'unsubscribed', 'bounced', 'pending')),
    gdpr_consent_at   TEXT,
    zoho_contact_id   TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX idx_contacts_company ON contacts (company_id);

CREATE TABLE products (
    product_code      TEXT PRIMARY KEY CHECK (length(product_code) BETWEEN 1 AND 64),
    description       TEXT NOT NULL,
    type              TEXT NOT NULL CHECK (type IN ('tool', 'consumable', 'part', 'service')),
    category          TEXT,
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    zoho_item_id      TEXT,
    stripe_product_id TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE product_prices (
    id              INTEGER PRIMARY KEY,
    product_code    TEXT NOT NULL REFERENCES products (product_code) ON DELETE CASCADE,
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    unit_amount     INTEGER NOT NULL CHECK (unit_amount >= 0),
    stripe_price_id TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (product_code, currency)
);

CREATE TABLE tool_consumable_map (
    tool_code       TEXT NOT NULL REFERENCES products (product_code) ON DELETE CASCADE,
    consumable_code TEXT NOT NULL REFERENCES products (product_code) ON DELETE CASCADE,
    PRIMARY KEY (tool_code, consumable_code)
) WITHOUT ROWID;
CREATE INDEX idx_tool_consumable_consumable ON tool_consumable_map (consumable_code);

-- Purchase history: imported, and appended for every paid order (invoice_number = order_id).
-- An "order" in the suggestion rules is a distinct invoice_number.
CREATE TABLE sales (
    id             INTEGER PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    product_code   TEXT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity <> 0),
    unit_amount    INTEGER NOT NULL CHECK (unit_amount >= 0),
    currency       TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    txn_date       TEXT NOT NULL CHECK (txn_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'),
    invoice_number TEXT NOT NULL,
    source         TEXT NOT NULL DEFAULT 'import',
    order_id       TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (invoice_number, product_code)
);
CREATE INDEX idx_sales_company_date ON sales (company_id, txn_date, invoice_number);
CREATE INDEX idx_sales_product ON sales (product_code);

CREATE TABLE orders (
    order_id                   TEXT PRIMARY KEY,
    company_id                 TEXT NOT NULL REFERENCES companies (company_id),
    contact_id                 TEXT REFERENCES contacts (contact_id) ON DELETE SET NULL,
    status                     TEXT NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'paid', 'failed', 'cancelled', 'expired')),
    payment_status             TEXT NOT NULL DEFAULT 'unpaid'
                               CHECK (payment_status IN ('unpaid', 'paid', 'partially_refunded', 'refunded')),
    currency                   TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    subtotal                   INTEGER NOT NULL DEFAULT 0,
    tax_amount                 INTEGER NOT NULL DEFAULT 0,
    total_amount               INTEGER NOT NULL DEFAULT 0,
    amount_refunded            INTEGER NOT NULL DEFAULT 0,
    offer_key                  TEXT,
    campaign_key               TEXT,
    failure_reason             TEXT,
    stripe_checkout_session_id TEXT UNIQUE,
    stripe_payment_intent_id   TEXT UNIQUE,
    stripe_invoice_id          TEXT,
    stripe_customer_id         TEXT,
    checkout_url               TEXT,
    zoho_customer_id           TEXT,
    zoho_invoice_id            TEXT,
    zoho_payment_id            TEXT,
    paid_at                    TEXT,
    created_at                 TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at                 TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX idx_orders_company ON orders (company_id, created_at);
CREATE INDEX idx_orders_status ON orders (status, created_at);
CREATE INDEX idx_orders_created ON orders (created_at);
CREATE INDEX idx_orders_stripe_invoice_id ON orders (stripe_invoice_id);

CREATE TABLE order_items (
    id           INTEGER PRIMARY KEY,
    order_id     TEXT NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    product_code TEXT NOT NULL REFERENCES products (product_code),
    description  TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 999),
    unit_amount  INTEGER NOT NULL CHECK (unit_amount >= 0),
    line_total   INTEGER NOT NULL,
    UNIQUE (order_id, product_code)
);

-- Stripe refunds seen, one row per refund (or per charge state when refunds are not listed),
-- so each is booked once.
CREATE TABLE order_refunds (
    refund_id   TEXT PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    amount      INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE engagement_events (
    event_id        INTEGER PRIMARY KEY,
    source          TEXT NOT NULL CHECK (source IN ('stripe', 'zoho', 'web', 'admin', 'system')),
    source_event_id TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    company_id      TEXT,
    contact_id      TEXT,
    offer_key       TEXT,
    campaign_key    TEXT,
    session_id      TEXT,
    url             TEXT,
    value           INTEGER,
    currency        TEXT,
    meta            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),
    occurred_at     TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (source, source_event_id)
);
CREATE INDEX idx_events_occurred ON engagement_events (occurred_at, event_id);
CREATE INDEX idx_events_company ON engagement_events (company_id, occurred_at, event_id);
CREATE INDEX idx_events_contact ON engagement_events (contact_id, occurred_at, event_id);
CREATE INDEX idx_events_name ON engagement_events (event_name, occurred_at);
CREATE INDEX idx_events_source_time ON engagement_events (source, occurred_at);

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL CHECK (provider IN ('stripe', 'zoho')),
    event_id     TEXT,
    event_type   TEXT,
    received_at  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('processed', 'duplicate', 'ignored', 'rejected', 'failed')),
    error        TEXT,
    body         TEXT,
    attempts     INTEGER NOT NULL DEFAULT 1,
    last_received_at TEXT,
    UNIQUE (provider, event_id)
);
CREATE INDEX idx_webhook_deliveries_received ON webhook_deliveries (received_at);
CREATE INDEX idx_webhook_deliveries_status ON webhook_deliveries (status, received_at);

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY,
    job_type          TEXT NOT NULL,
    payload           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'dead', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    scheduled_for     TEXT NOT NULL,
    locked_until      TEXT,
    locked_by         TEXT,
    last_attempted_at TEXT,
    last_error        TEXT,
    errors            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(errors)),
    result            TEXT CHECK (result IS NULL OR json_valid(result)),
    dedupe_key        TEXT UNIQUE,
    company_id        TEXT,
    order_id          TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    completed_at      TEXT
);
-- The claim query walks these: due pending/failed jobs by time, and expired leases.
CREATE INDEX idx_outbox_worker_query ON outbox (status, scheduled_for, id);
CREATE INDEX idx_outbox_lease ON outbox (locked_until) WHERE status = 'processing';
CREATE INDEX idx_outbox_type ON outbox (job_type, status);
CREATE INDEX idx_outbox_order ON outbox (order_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    last_login_at TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX idx_sessions_user ON sessions (user_id);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    detail     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
    ip         TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_audit_created ON audit_log (created_at);

-- Small named values the integrations keep across restarts (a cached Zoho token, alerts, pauses).
CREATE TABLE integration_state (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Named counters, e.g. the order number sequence (ORD-000123).
CREATE TABLE sequences (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
