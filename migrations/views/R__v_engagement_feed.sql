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
        WHEN 'link_clicked'             THEN 'Clicked a link'
        WHEN 'page_view'                THEN 'Viewed a page'
        WHEN 'portal_visit'             THEN 'Visited the reorder portal'
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
