-- Indexes every paid order writes to, trimmed to what queries read. A Stripe payment writes
-- about thirty b-tree entries in one transaction on the single writer; each index costs every
-- such write an entry (and its share of the commit's pages), so an index must earn it.

-- No query looks sales up by product alone: the views reach sales by company (the two
-- company indexes), and reports over all products read the whole table anyway.
DROP INDEX IF EXISTS idx_sales_product;

-- No query looks jobs up by order; the outbox stays small (housekeeping prunes finished jobs).
DROP INDEX IF EXISTS idx_outbox_order;

-- Orders are looked up by invoice id only for an id Stripe sent: the pending orders without
-- one need no entry, and paying an order then adds one entry instead of moving one.
DROP INDEX IF EXISTS idx_orders_stripe_invoice_id;
CREATE INDEX idx_orders_stripe_invoice_id ON orders (stripe_invoice_id) WHERE stripe_invoice_id IS NOT NULL;
