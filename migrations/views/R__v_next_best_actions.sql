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
