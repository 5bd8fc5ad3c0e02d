-- Stripe checkout and webhook.

-- Each refund state of a charge is booked once: refund_id is '<charge_id>:<amount_refunded>',
-- amount the increase over what the order had. The Zoho refund job is enqueued once the order
-- is paid, so a refund seen before the payment is kept here until then.
ALTER TABLE order_refunds ADD COLUMN charge_id TEXT;
ALTER TABLE order_refunds ADD COLUMN amount_refunded_total INTEGER;
CREATE INDEX idx_order_refunds_order ON order_refunds (order_id);

-- A charge does not carry its PaymentIntent's metadata, so a charge event that arrives before
-- any event has told us which order its PaymentIntent belongs to waits here, and is applied by
-- the event that links that PaymentIntent to an order.
CREATE TABLE stripe_parked_events (
    event_id          TEXT PRIMARY KEY,
    payment_intent_id TEXT NOT NULL,
    event             TEXT NOT NULL CHECK (json_valid(event)),
    created_at        TEXT NOT NULL
);
CREATE INDEX idx_stripe_parked_events_pi ON stripe_parked_events (payment_intent_id);
