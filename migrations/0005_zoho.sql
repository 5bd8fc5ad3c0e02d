-- Zoho Books sync. Refunds booked against a Books customer payment, one row per Stripe refund
-- state (charge + cumulative amount refunded), so a retried zoho_sync_refund never books one twice.
CREATE TABLE zoho_refunds (
    reference             TEXT PRIMARY KEY, -- refund:<charge_id>:<amount_refunded_total>, also the Books reference_number
    order_id              TEXT NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    charge_id             TEXT NOT NULL,
    amount_refunded_total INTEGER NOT NULL,
    refund_amount         INTEGER NOT NULL CHECK (refund_amount > 0),
    currency              TEXT NOT NULL,
    zoho_payment_id       TEXT NOT NULL,
    zoho_refund_id        TEXT NOT NULL,
    created_at            TEXT NOT NULL
);
CREATE INDEX idx_zoho_refunds_order ON zoho_refunds (order_id);
