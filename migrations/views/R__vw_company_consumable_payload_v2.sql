-- The reorder-page payload of each company: what it bought (latest first) and, per tool it owns,
-- the compatible consumables, each with category, price in the company's currency and last purchase.
--
-- Written for SQLite 3.37 and later (Ubuntu 22.04, Debian 12, Python's sqlite3, BI tools): an
-- aggregate with its own ORDER BY (json_group_array(x ORDER BY …)) needs 3.44, so each array is
-- aggregated over a subquery that delivers its rows in order. SQLite never flattens an ordered
-- subquery into an aggregate query, and feeds the aggregate the rows in the subquery's order.
-- json() keeps each element an object (not a quoted string) across the subquery boundary.
CREATE VIEW vw_company_consumable_payload_v2 AS
SELECT
    c.company_id,
    c.company_name,
    c.currency,
    (SELECT json_group_array(json(ri.item))
     FROM (SELECT json_object(
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
                'times_purchased', b.times_purchased) AS item
           FROM (SELECT s.product_code, MAX(s.txn_date) AS last_purchase,
                        COUNT(DISTINCT s.invoice_number) AS times_purchased
                 FROM sales s WHERE s.company_id = c.company_id GROUP BY s.product_code) b
           JOIN products p ON p.product_code = b.product_code AND p.type <> 'tool' AND p.active = 1
           LEFT JOIN product_prices pp ON pp.product_code = p.product_code AND pp.currency = c.currency
           ORDER BY b.last_purchase DESC, p.product_code) ri
    ) AS reorder_items,
    (SELECT json_group_array(json(tt.item))
     FROM (SELECT json_object(
                'tool_code', t.product_code,
                'tool_description', t.description,
                'category', t.category,
                'last_purchase', o.last_purchase,
                'consumables', json((SELECT json_group_array(json(ci.item))
                    FROM (SELECT json_object(
                                'product_code', cp.product_code,
                                'description', cp.description,
                                'category', cp.category,
                                'currency', c.currency,
                                'price', cpp.unit_amount,
                                'last_purchase', (SELECT MAX(s3.txn_date) FROM sales s3
                                                  WHERE s3.company_id = c.company_id
                                                    AND s3.product_code = cp.product_code)) AS item
                          FROM tool_consumable_map m
                          JOIN products cp ON cp.product_code = m.consumable_code AND cp.active = 1
                          LEFT JOIN product_prices cpp ON cpp.product_code = cp.product_code
                                                      AND cpp.currency = c.currency
                          WHERE m.tool_code = t.product_code
                          ORDER BY cp.category, cp.product_code) ci))) AS item
           FROM (SELECT s.product_code, MAX(s.txn_date) AS last_purchase
                 FROM sales s WHERE s.company_id = c.company_id AND s.quantity > 0 GROUP BY s.product_code) o
           JOIN products t ON t.product_code = o.product_code AND t.type = 'tool'
           ORDER BY o.last_purchase DESC, t.product_code) tt
    ) AS by_tool_tabs
FROM companies c;
