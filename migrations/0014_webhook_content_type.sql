-- The Content-Type a delivery arrived with, so a replay reads the stored body as the webhook
-- read it (Zoho CRM posts JSON or form fields). NULL for rows stored before this column.
ALTER TABLE webhook_deliveries ADD COLUMN content_type TEXT;
