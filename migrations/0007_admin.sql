-- Admin UI: indexes for the dashboard and session housekeeping.

-- The dashboard's 30-day revenue chart sums paid orders by the day they were paid.
CREATE INDEX IF NOT EXISTS idx_orders_paid_at ON orders (paid_at) WHERE status = 'paid';

-- Expired sessions are swept by their absolute expiry.
CREATE INDEX IF NOT EXISTS idx_sessions_expires ON sessions (expires_at);

-- v_next_best_actions groups all purchase history by (company_id, invoice_number); this covering
-- index hands it the rows in that order without a sort or a table lookup per row.
CREATE INDEX IF NOT EXISTS idx_sales_company_invoice
    ON sales (company_id, invoice_number, txn_date, quantity, unit_amount, currency);
