package store

import (
	"context"
	"strings"
	"time"
)

// Webhook deliveries of both providers: what staff call each status, the aggregate rows of
// refused requests, and failed Zoho deliveries kept for replay.

// DeliveryRefusedLabel is what staff call a rejected delivery: a request refused before it was
// trusted (wrong signature or secret, malformed body). The stored status stays rejected.
const DeliveryRefusedLabel = "refused"

// DeliveryStatusOption is one webhook delivery status as the admin's filter offers it.
type DeliveryStatusOption struct {
	Value string // the stored status (webhook_deliveries.status)
	Label string // what staff read and type in ?status=
}

// DeliveryStatusOptions are the delivery statuses in the order the filter lists them.
func DeliveryStatusOptions() []DeliveryStatusOption {
	out := []DeliveryStatusOption{}
	for _, v := range []string{DeliveryProcessed, DeliveryDuplicate, DeliveryIgnored, DeliveryFailed, DeliveryRejected} {
		out = append(out, DeliveryStatusOption{Value: v, Label: DeliveryStatusLabel(v)})
	}
	return out
}

// DeliveryStatusLabel is the one place a stored delivery status becomes its label.
func DeliveryStatusLabel(status string) string {
	if status == DeliveryRejected {
		return DeliveryRefusedLabel
	}
	return status
}

// DeliveryStatusValue maps a status filter (a label or a stored value) to the stored value;
// anything else is returned as is (it matches nothing).
func DeliveryStatusValue(s string) string {
	if s == DeliveryRefusedLabel {
		return DeliveryRejected
	}
	return s
}

// StatusLabel is the delivery's status as staff read it.
func (d AdminDelivery) StatusLabel() string { return DeliveryStatusLabel(d.Status) }

// Refused says whether the row counts refused requests (an aggregate, not one delivery).
func (d AdminDelivery) Refused() bool { return d.Status == DeliveryRejected }

// Reason codes of refused requests: the /metrics label and the last part of a refusal row's
// event_id. A short fixed list, so a flood of one kind stays one row a minute.
const (
	RefusedNoSignature  = "no_signature"  // Stripe: no Stripe-Signature header
	RefusedBadHeader    = "bad_header"    // Stripe: Stripe-Signature unreadable
	RefusedBadSignature = "bad_signature" // Stripe: signed with another secret
	RefusedStale        = "stale"         // Stripe: timestamp outside the tolerance
	RefusedOversize     = "oversize"      // the body is over the provider's limit
	RefusedMalformed    = "malformed"     // trusted, but the body cannot be read
	RefusedNoSecret     = "no_secret"     // Zoho: no X-Zoho-Secret header
	RefusedBadSecret    = "bad_secret"    // Zoho: X-Zoho-Secret is not ZOHO_WEBHOOK_SECRET
)

// refusalPrefix starts the event_id of a refusal aggregate: rejected:<minute>[:<code>].
const refusalPrefix = "rejected:"

// RefusalCode is the short code of a refused row's reason (bad_signature, malformed, …), ""
// for other rows and for aggregates written before refusals were kept per reason.
func (d AdminDelivery) RefusalCode() string {
	rest, ok := strings.CutPrefix(d.EventID, refusalPrefix)
	if !ok || !d.Refused() {
		return ""
	}
	// rest is the minute (2006-01-02T15:04, 16 characters), then :code.
	if len(rest) > 17 && rest[16] == ':' {
		return rest[17:]
	}
	return ""
}

// RecordRejectedDelivery counts one webhook request refused before it was trusted, now (see
// AddRejectedDeliveries), under no reason code.
func (tx *Tx) RecordRejectedDelivery(ctx context.Context, provider, reason string) error {
	return tx.AddRejectedDeliveries(ctx, provider, "", tx.now, 1, reason)
}

// AddRejectedDeliveries adds n webhook requests refused before they were trusted (bad
// signature, stale timestamp, malformed body) for the reason code (bad_signature, malformed,
// …), the last at time at, to the row of their provider, minute and code (attempts counts
// them; received_at is the first, last_received_at the last). Nothing of the requests is kept
// but the last reason text of the code, so different reasons in one minute each keep a row
// while a flood of one kind stays one row. The server counts refusals in memory and calls this
// at most once a minute per provider, minute and code, so a flood of forged requests costs no
// write of its own.
func (tx *Tx) AddRejectedDeliveries(ctx context.Context, provider, code string, at time.Time, n int, reason string) error {
	if n <= 0 {
		return nil
	}
	bucket := refusalPrefix + at.UTC().Format("2006-01-02T15:04")
	if code != "" {
		bucket += ":" + code
	}
	when := FormatTime(at)
	_, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (provider, event_id, received_at, status, error, attempts, last_received_at)
		VALUES (?1, ?2, ?3, 'rejected', ?4, ?5, ?3)
		ON CONFLICT (provider, event_id) DO UPDATE SET attempts = webhook_deliveries.attempts + excluded.attempts,
			error = excluded.error, last_received_at = max(COALESCE(webhook_deliveries.last_received_at, ''), excluded.last_received_at)`,
		provider, bucket, when, reason, n)
	return err
}

// ZohoFailure is a Zoho CRM delivery that passed the secret check and parsed, but could not be
// applied (its contact or company unknown, the database unavailable).
type ZohoFailure struct {
	Key         string // webhook_deliveries.event_id: the event_id, else type:contact-or-email:time
	EventType   string
	ContentType string
	Body        string
	Reason      string
}

// RecordZohoFailure keeps a failed Zoho delivery with its body, so staff see it and can replay
// it once what it needs is there (Zoho CRM does not send a delivery again). A delivery that
// already applied is left as it is; a failed one counts the attempt and keeps the new reason.
func (tx *Tx) RecordZohoFailure(ctx context.Context, f ZohoFailure) error {
	_, err := tx.exec(ctx, `INSERT INTO webhook_deliveries (provider, event_id, event_type, received_at, status, error, body,
			attempts, last_received_at, content_type)
		VALUES ('zoho', ?1, ?2, ?3, 'failed', ?4, ?5, 1, ?3, ?6)
		ON CONFLICT (provider, event_id) DO UPDATE SET error = excluded.error, attempts = webhook_deliveries.attempts + 1,
			last_received_at = excluded.last_received_at
		WHERE webhook_deliveries.status = 'failed'`,
		f.Key, nullStr(f.EventType), tx.NowText(), f.Reason, nullStr(f.Body), nullStr(f.ContentType))
	return err
}
