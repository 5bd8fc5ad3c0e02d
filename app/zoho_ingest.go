package app

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/technifold/technifold/store"
)

// zohoDelivery is a trusted Zoho CRM delivery (its secret checked) and how to read it.
type zohoDelivery struct {
	ContentType string
	Body        []byte
	// A replay names the stored delivery's key and first arrival: the event's time when the
	// body carries none, as it was then, so the replay dedupes exactly as the original did.
	Key        string
	ReceivedAt time.Time
}

// zohoOutcome is what ingesting one Zoho CRM delivery did.
type zohoOutcome struct {
	EventID   int64 // the engagement event recorded (0 for a repeat)
	Repeat    bool  // already applied: nothing changed but the delivery's count
	Malformed bool  // the body could not be read (an EINVALID error): a refusal
}

// ingestZoho applies one trusted Zoho CRM delivery, the live webhook's and a replay's alike:
// parse, resolve the contact and company, then one transaction (recordZohoWebhook). A delivery
// that reads but cannot be applied (its contact or company unknown, the database unavailable)
// is kept as failed with its body, so staff can replay it: Zoho CRM never sends it again.
func (s *Server) ingestZoho(ctx context.Context, d zohoDelivery) (zohoOutcome, error) {
	in, err := parseZohoWebhook(d.ContentType, d.Body)
	if err != nil {
		return zohoOutcome{Malformed: true}, err
	}
	id, repeat, err := s.recordZohoWebhook(ctx, in, d)
	if err == nil {
		return zohoOutcome{EventID: id, Repeat: repeat}, nil
	}
	if store.ErrorCode(err) != store.EINVALID && ctx.Err() == nil {
		f := store.ZohoFailure{Key: d.Key, EventType: in.EventType, ContentType: d.ContentType, Body: string(d.Body),
			Reason: store.ErrorMessage(err)}
		ferr := s.db.Update(ctx, func(tx *store.Tx) error {
			if f.Key == "" {
				f.Key = zohoFailureKey(in, tx.Now()) // the time it is recorded as received
			}
			return tx.RecordZohoFailure(ctx, f)
		})
		if ferr != nil {
			s.logger.WarnContext(ctx, "record failed zoho delivery", "key", f.Key, "error", ferr)
		}
	}
	s.logger.WarnContext(ctx, "apply zoho delivery", "event_type", in.EventType, "error", err, "request_id", requestID(ctx))
	return zohoOutcome{}, err
}

// zohoFailureKey keys a delivery that could not be applied: its event_id, else type + record +
// time as the dedupe key is made (the record is the contact_id, else the e-mail, since the
// contact may be what is missing).
func zohoFailureKey(in zohoWebhook, now time.Time) string {
	if in.EventID != "" {
		return in.EventID
	}
	record := in.ContactID
	if record == "" {
		record = strings.ToLower(in.Email)
	}
	at := in.OccurredAt
	if at.IsZero() {
		at = now
	}
	return in.EventType + ":" + record + ":" + store.FormatTime(at)
}

// replayZoho feeds a stored Zoho delivery through ingestZoho again.
func (s *Server) replayZoho(ctx context.Context, d store.AdminDelivery) (zohoOutcome, error) {
	return s.ingestZoho(ctx, zohoDelivery{ContentType: zohoStoredContentType(d), Body: []byte(d.Body),
		Key: d.EventID, ReceivedAt: d.ReceivedAt})
}

// zohoStoredContentType is how to read a stored body: as it arrived; rows kept before the
// Content-Type was stored are form fields unless the body is a JSON object.
func zohoStoredContentType(d store.AdminDelivery) string {
	if d.ContentType != "" {
		return d.ContentType
	}
	if b := bytes.TrimSpace([]byte(d.Body)); len(b) > 0 && b[0] != '{' {
		return "application/x-www-form-urlencoded"
	}
	return "" // read as JSON, as the webhook reads a delivery without a Content-Type
}
