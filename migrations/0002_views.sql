-- The three views operators and the admin UI read (contract names).

-- Timeline: every engagement event with who it was and a human description and category.
CREATE VIEW v_engagement_feed AS
SELECT
    e.event_id,
    e.source,
    e.source_event_id,
    e.event_name,
    e.company_id,
    c.company_name,
    e.contact_id,
    COALESCE(NULLIF(ct.full_name, ''),
             NULLIF(trim(COALESCE(ct.first_name, '') || ' ' || COALESCE(ct.last_name, '')), ''),
             ct.email) AS contact_name,
    ct.email AS contact_email,
    e.offer_key,
    e.campaign_key,
    e.session_id,
    e.url,
    e.value,
    e.currency,
    e.meta,
    e.occurred_at,
    e.created_at,
    CASE e.event_name
        WHEN 'checkout_started'         THEN 'Started a checkout'
        WHEN 'checkout_completed'       THEN 'Completed a checkout'
        WHEN 'checkout_expired'         THEN 'Checkout expired'
        WHEN 'async_payment_succeeded'  THEN 'Delayed payment succeeded'
        WHEN 'async_payment_failed'     THEN 'Delayed payment failed'
        WHEN 'payment_succeeded'        THEN 'Payment succeeded'
        WHEN 'payment_failed'           THEN 'Payment failed'
        WHEN 'invoice_paid'             THEN 'Invoice paid'
        WHEN 'charge_refunded'          THEN 'Payment refunded'
        WHEN 'offer_view'               THEN 'Viewed an offer page'
        WHEN 'offer_email_sent'         THEN 'Was sent an offer e-mail'
        WHEN 'email_opened'             THEN 'Opened an e-mail'
        WHEN 'email_clicked'            THEN 'Clicked a link in an e-mail'
        WHEN 'email_bounced'            THEN 'E-mail bounced'
        WHEN 'email_unsubscribed'       THEN 'Unsubscribed from e-mails'
        WHEN 'email_resubscribed'       THEN 'Resubscribed to e-mails'
        WHEN 'campaign_sent'            THEN 'Was sent a campaign'
        WHEN 'form_submitted'           THEN 'Submitted a form'
        WHEN 'webinar_registered'       THEN 'Registered for a webinar'
        WHEN 'deal_created'             THEN 'Deal created'
        WHEN 'deal_won'                 THEN 'Deal won'
        ELSE replace(e.event_name, '_', ' ')
    END AS event_description,
    CASE
        WHEN e.event_name IN ('checkout_started', 'checkout_completed', 'checkout_expired',
                              'async_payment_succeeded', 'async_payment_failed', 'payment_succeeded',
                              'payment_failed', 'invoice_paid', 'charge_refunded', 'deal_won')
            THEN 'purchase'
        WHEN e.event_name IN ('email_clicked', 'link_clicked') THEN 'click'
        WHEN e.event_name LIKE 'email\_%' ESCAPE '\' OR e.event_name IN ('campaign_sent', 'offer_email_sent')
            THEN 'email'
        WHEN e.event_name IN ('offer_view', 'page_view', 'portal_visit') THEN 'view'
        ELSE 'event'
    END AS event_category
FROM engagement_events e
LEFT JOIN companies c ON c.company_id = e.company_id
LEFT JOIN contacts ct ON ct.contact_id = e.contact_id;

-- Next best actions: three rules over purchase history. An "order" is a distinct invoice_number
-- in sales. Day counts are whole UTC days. Comparisons are done in integers so the thresholds
-- are exact (61 days fires, 60 does not; exactly 1.5x the average gap does not).
CREATE VIEW v_next_best_actions AS
WITH company_orders AS (
    SELECT company_id,
           invoice_number,
           MIN(date(txn_date)) AS order_date,
           SUM(quantity * unit_amount /
               CASE WHEN currency IN ('bif','clp','djf','gnf','jpy','kmf','krw','mga','pyg','rwf',
                                      'ugx','vnd','vuv','xaf','xof','xpf') THEN 1.0
                    WHEN currency IN ('bhd','jod','kwd','omr','tnd') THEN 1000.0
                    ELSE 100.0 END) AS order_value
    FROM sales
    GROUP BY company_id, invoice_number
),
stats AS (
    SELECT company_id,
           COUNT(*) AS n_orders,
           MIN(order_date) AS first_order,
           MAX(order_date) AS last_order,
           ROUND(SUM(order_value), 2) AS lifetime_value,
           CAST(julianday(date('now')) - julianday(MAX(order_date)) AS INTEGER) AS days_since_last,
           CAST(julianday(MAX(order_date)) - julianday(MIN(order_date)) AS INTEGER) AS span_days
    FROM company_orders
    GROUP BY company_id
),
rules AS (
    SELECT s.company_id,
           'reorder_reminder' AS action_type,
           'Send a reorder reminder' AS action_label,
           'Last order ' || s.days_since_last || ' days ago; usually every ' ||
               CAST(ROUND(s.span_days * 1.0 / (s.n_orders - 1)) AS INTEGER) || ' days' AS reason,
           90 AS priority_score,
           json_object('orders', s.n_orders, 'last_order', s.last_order,
                       'days_since_last_order', s.days_since_last,
                       'average_gap_days', ROUND(s.span_days * 1.0 / (s.n_orders - 1), 1),
                       'lifetime_value', s.lifetime_value) AS action_meta
    FROM stats s
    WHERE s.n_orders >= 2
      AND s.days_since_last > 60
      AND s.days_since_last * 2 * (s.n_orders - 1) > 3 * s.span_days
    UNION ALL
    SELECT s.company_id,
           'engagement_needed',
           'Re-engage this customer',
           'Lifetime value ' || printf('%.2f', s.lifetime_value) || '; no order and no engagement for ' ||
               s.days_since_last || ' days',
           CASE WHEN s.lifetime_value > 5000 THEN 95 WHEN s.lifetime_value > 1000 THEN 80 ELSE 65 END,
           json_object('orders', s.n_orders, 'last_order', s.last_order,
                       'days_since_last_order', s.days_since_last,
                       'lifetime_value', s.lifetime_value)
    FROM stats s
    WHERE s.lifetime_value > 500
      AND s.days_since_last > 180
      AND NOT EXISTS (SELECT 1 FROM engagement_events e
                      WHERE e.company_id = s.company_id
                        AND e.occurred_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-180 days'))
    UNION ALL
    SELECT s.company_id,
           'portal_invite',
           'Invite to the reorder portal',
           s.n_orders || ' orders and no portal visit in the last 30 days',
           70,
           json_object('orders', s.n_orders, 'last_order', s.last_order,
                       'days_since_last_order', s.days_since_last,
                       'lifetime_value', s.lifetime_value)
    FROM stats s
    WHERE s.n_orders >= 2
      AND NOT EXISTS (SELECT 1 FROM engagement_events e
                      WHERE e.company_id = s.company_id
                        AND e.event_name IN ('offer_view', 'portal_visit')
                        AND e.occurred_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 days'))
)
SELECT r.company_id, c.company_name, r.action_type, r.action_label, r.reason, r.priority_score, r.action_meta
FROM rules r
JOIN companies c ON c.company_id = r.company_id
ORDER BY r.priority_score DESC, r.company_id;

-- The reorder-page payload of each company: what it bought (latest first) and, per tool it owns,
-- the compatible consumables, each with category, price in the company's currency and last purchase.
CREATE VIEW vw_company_consumable_payload_v2 AS
SELECT
    c.company_id,
    c.company_name,
    c.currency,
    (SELECT json_group_array(json_object(
                'product_code', p.product_code,
                'description', p.description,
                'category', p.category,
                'type', p.type,
                'currency', c.currency,
                'price', pp.unit_amount,
                'last_purchase', b.last_purchase,
                'last_quantity', (SELECT s2.quantity FROM sales s2
                                  WHERE s2.company_id = c.company_id AND s2.product_code = p.product_code
                                  ORDER BY s2.txn_date DESC, s2.id DESC LIMIT 1),
                'times_purchased', b.times_purchased)
            ORDER BY b.last_purchase DESC, p.product_code)
     FROM (SELECT s.product_code, MAX(s.txn_date) AS last_purchase,
                  COUNT(DISTINCT s.invoice_number) AS times_purchased
           FROM sales s WHERE s.company_id = c.company_id GROUP BY s.product_code) b
     JOIN products p ON p.product_code = b.product_code AND p.type <> 'tool' AND p.active = 1
     LEFT JOIN product_prices pp ON pp.product_code = p.product_code AND pp.currency = c.currency
    ) AS reorder_items,
    (SELECT json_group_array(json_object(
                'tool_code', t.product_code,
                'tool_description', t.description,
                'category', t.category,
                'last_purchase', o.last_purchase,
                'consumables', json((SELECT json_group_array(json_object(
                        'product_code', cp.product_code,
                        'description', cp.description,
                        'category', cp.category,
                        'currency', c.currency,
                        'price', cpp.unit_amount,
                        'last_purchase', (SELECT MAX(s3.txn_date) FROM sales s3
                                          WHERE s3.company_id = c.company_id
                                            AND s3.product_code = cp.product_code))
                        ORDER BY cp.category, cp.product_code)
                    FROM tool_consumable_map m
                    JOIN products cp ON cp.product_code = m.consumable_code AND cp.active = 1
                    LEFT JOIN product_prices cpp ON cpp.product_code = cp.product_code
                                                AND cpp.currency = c.currency
                    WHERE m.tool_code = t.product_code)))
            ORDER BY o.last_purchase DESC, t.product_code)
     FROM (SELECT s.product_code, MAX(s.txn_date) AS last_purchase
           FROM sales s WHERE s.company_id = c.company_id AND s.quantity > 0 GROUP BY s.product_code) o
     JOIN products t ON t.product_code = o.product_code AND t.type = 'tool'
    ) AS by_tool_tabs
FROM companies c;
