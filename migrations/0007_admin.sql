-- Admin UI: indexes for the dashboard and session housekeeping.

-- The dashboard's 30-day revenue chart sums paid orders by the day they were paid.
CREATE INDEX IF NOT EXISTS idx_orders_paid_at ON orders (paid_at) WHERE status = 'paid';

-- Expired sessions are swept by their absolute expiry.
CREATE INDEX IF NOT EXISTS idx_sessions_expires ON sessions (expires_at);
