package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/store"
)

// maxZohoWebhookBody caps a Zoho CRM webhook body.
const maxZohoWebhookBody = 64 << 10

// zohoConsentChanges maps the events that change a contact's marketing status to the new status.
var zohoConsentChanges = map[string]string{
	string(store.EventEmailUnsubscribed): store.MarketingUnsubscribed,
	string(store.EventEmailBounced):      store.MarketingBounced,
}

// zohoWebhook is one delivery of the Zoho CRM webhook, parsed but not yet resolved.
type zohoWebhook struct {
	EventType   string
	EventID     string
	Email       string
	ContactID   string
	CompanyID   string
	CampaignKey string
	URL         string
	OccurredAt  time.Time // zero when the delivery carries none
	Metadata    map[string]any
}

// handleZohoWebhook is POST /api/zoho/webhook: it records a Zoho CRM engagement event (and the
// consent change it implies) in one transaction. See DESIGN §5.
func (s *Server) handleZohoWebhook(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if s.cfg.ZohoWebhookSecret == "" {
		writeErrorMessage(w, http.StatusServiceUnavailable, s.cfg.Feature(FeatureZohoWebhook).Why())
		return
	}
	if got := r.Header.Get("X-Zoho-Secret"); !zohoSecretMatches(got, s.cfg.ZohoWebhookSecret) {
		if got == "" {
			s.refusals.note(r.Context(), "zoho", store.RefusedNoSecret, "no X-Zoho-Secret header")
		} else {
			s.refusals.note(r.Context(), "zoho", store.RefusedBadSecret, "X-Zoho-Secret does not match ZOHO_WEBHOOK_SECRET")
		}
		writeErrorMessage(w, http.StatusUnauthorized, "missing or wrong X-Zoho-Secret")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxZohoWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.refusals.note(r.Context(), "zoho", store.RefusedOversize, "body is larger than 64 KiB")
		} else {
			err = invalidf("could not read the body")
		}
		writeError(w, r, s.logger, err)
		return
	}
	out, err := s.ingestZoho(r.Context(), zohoDelivery{ContentType: r.Header.Get("Content-Type"), Body: body})
	switch {
	case out.Malformed:
		s.refusals.note(r.Context(), "zoho", store.RefusedMalformed, malformedZohoReason(err))
		writeError(w, r, s.logger, err)
	case err != nil:
		writeError(w, r, s.logger, err)
	case out.Repeat:
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "message": "Event already processed"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "event_id": out.EventID})
	}
}

// zohoSecretMatches compares in constant time; hashing first hides the secret's length too.
func zohoSecretMatches(got, want string) bool {
	if got == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// recordZohoWebhook resolves the contact and company and applies the event in one transaction.
// Without an event_id, the dedupe key is type + contact + timestamp (occurred_at, else when the
// delivery first arrived: now, or the stored delivery's time for a replay).
func (s *Server) recordZohoWebhook(ctx context.Context, in zohoWebhook, d zohoDelivery) (int64, bool, error) {
	var contact store.Contact
	var err error
	if in.ContactID != "" {
		if contact, err = s.db.GetContact(ctx, in.ContactID); store.ErrorCode(err) == store.ENOTFOUND {
			err = store.Errorf(store.ENOTFOUND, "no contact with that contact_id")
		}
	} else {
		contact, err = s.db.FindContactByEmail(ctx, in.Email) // ENOTFOUND: "no contact with that e-mail"
	}
	if err != nil {
		return 0, false, err
	}
	// The contact's own company wins: an event naming another company is recorded for the
	// contact's company (the contact is never moved), with a note on the delivery and the
	// named company under meta.company_id_named. A contact without a company takes the named one.
	companyID, note := contact.CompanyID, ""
	if in.CompanyID != "" {
		if _, err := s.db.GetCompany(ctx, in.CompanyID); err != nil {
			if store.ErrorCode(err) == store.ENOTFOUND {
				err = store.Errorf(store.ENOTFOUND, "no company with that company_id")
			}
			return 0, false, err
		}
		switch {
		case companyID == "":
			companyID = in.CompanyID
		case in.CompanyID != companyID:
			note = "company_id " + in.CompanyID + " is not the contact's company " + companyID + ": recorded for " + companyID
			meta := map[string]any{}
			for k, v := range in.Metadata {
				meta[k] = v
			}
			meta["company_id_named"] = in.CompanyID
			in.Metadata = meta
			s.logger.WarnContext(ctx, "zoho event names another company than its contact's", "contact_id", contact.ID,
				"company_id", companyID, "company_id_named", in.CompanyID, "request_id", requestID(ctx))
		}
	}
	var id int64
	var duplicate bool
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		occurred := in.OccurredAt
		if occurred.IsZero() {
			occurred = d.ReceivedAt
		}
		if occurred.IsZero() {
			occurred = tx.Now()
		}
		sourceID := in.EventID
		if sourceID == "" {
			sourceID = in.EventType + ":" + contact.ID + ":" + store.FormatTime(occurred)
		}
		var err error
		id, duplicate, err = tx.ApplyZohoEngagement(ctx, store.ZohoEngagement{
			Event: store.Event{SourceEventID: sourceID, Name: store.EventName(in.EventType), CompanyID: companyID, ContactID: contact.ID,
				CampaignKey: in.CampaignKey, URL: in.URL, Meta: in.Metadata, OccurredAt: occurred},
			MarketingStatus: zohoConsentChanges[in.EventType],
			Body:            string(d.Body),
			Note:            note,
			ContentType:     d.ContentType,
			DeliveryKey:     d.Key,
		})
		return err
	})
	return id, duplicate, err
}

// parseZohoWebhook reads a JSON or form-encoded delivery. In a form, metadata is either a JSON
// object in the metadata field or one metadata.KEY field per key (both may be combined).
func parseZohoWebhook(contentType string, body []byte) (zohoWebhook, error) {
	mt := "application/json"
	if contentType != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(contentType); err != nil {
			return zohoWebhook{}, invalidf("malformed Content-Type")
		}
	}
	var f map[string]string
	var meta map[string]any
	var err error
	switch mt {
	case "application/json":
		f, meta, err = zohoJSONFields(body)
	case "application/x-www-form-urlencoded":
		f, meta, err = zohoFormFields(body)
	default:
		return zohoWebhook{}, invalidf("Content-Type must be application/json or application/x-www-form-urlencoded")
	}
	if err != nil {
		return zohoWebhook{}, err
	}
	in := zohoWebhook{EventType: strings.ToLower(f["event_type"]), EventID: f["event_id"], Email: f["email"],
		ContactID: f["contact_id"], CompanyID: f["company_id"], CampaignKey: f["campaign_key"], URL: f["url"], Metadata: meta}
	// The engagement events Zoho CRM may post (contract) are declared with the other event
	// names in store.
	if zohoEventTypes := store.ZohoEventTypes(); !slices.Contains(zohoEventTypes, in.EventType) {
		if in.EventType == "" {
			return in, invalidf("event_type is required; accepted: %s", strings.Join(zohoEventTypes, ", "))
		}
		return in, invalidf("unknown event_type %q; accepted: %s", truncateRunes(in.EventType, 64), strings.Join(zohoEventTypes, ", "))
	}
	if in.Email == "" && in.ContactID == "" {
		return in, invalidf("email or contact_id is required")
	}
	for name, v := range map[string]string{"event_id": in.EventID, "contact_id": in.ContactID, "company_id": in.CompanyID,
		"campaign_key": in.CampaignKey, "email": in.Email} {
		if len(v) > 256 {
			return in, invalidf("%s is longer than 256 characters", name)
		}
	}
	if len(in.URL) > 4096 {
		return in, invalidf("url is longer than 4096 characters")
	}
	if in.OccurredAt, err = parseZohoTime(f["occurred_at"]); err != nil {
		return in, err
	}
	return in, nil
}

// zohoFieldNames are the scalar fields of a delivery.
var zohoFieldNames = []string{"event_type", "event_id", "email", "contact_id", "company_id", "campaign_key", "url", "occurred_at"}

// zohoJSONFields reads the scalar fields (strings, or numbers as written: CRM templates render
// ids and epoch times unquoted) and the metadata object (or a string holding one).
func zohoJSONFields(body []byte) (map[string]string, map[string]any, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, nil, invalidf("the body must be a JSON object")
		}
		return nil, nil, invalidf("malformed JSON: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, invalidf("malformed JSON: unexpected data after the object")
	}
	f := map[string]string{}
	for _, name := range zohoFieldNames {
		v, ok := raw[name]
		if !ok {
			continue
		}
		var s string
		var n json.Number
		switch {
		case string(v) == "null":
		case json.Unmarshal(v, &s) == nil:
			f[name] = strings.TrimSpace(s)
		case json.Unmarshal(v, &n) == nil:
			f[name] = n.String()
		default:
			return nil, nil, invalidf("%s must be a string", name)
		}
	}
	meta, err := zohoMetadata(raw["metadata"])
	return f, meta, err
}

func zohoFormFields(body []byte) (map[string]string, map[string]any, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, nil, invalidf("malformed form body")
	}
	f := map[string]string{}
	for _, name := range zohoFieldNames {
		f[name] = strings.TrimSpace(vals.Get(name))
	}
	var meta map[string]any
	if m := strings.TrimSpace(vals.Get("metadata")); m != "" {
		if meta, err = zohoMetadata(json.RawMessage(strconv.Quote(m))); err != nil {
			return nil, nil, err
		}
	}
	for k, vs := range vals {
		if key, ok := strings.CutPrefix(k, "metadata."); ok && key != "" && len(vs) > 0 {
			if meta == nil {
				meta = map[string]any{}
			}
			meta[key] = vs[0]
		}
	}
	return f, meta, nil
}

// zohoMetadata decodes metadata: a JSON object, or a string holding one; absent or null is nil.
func zohoMetadata(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		raw = json.RawMessage(s)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, invalidf("metadata must be a JSON object")
	}
	return m, nil
}

// parseZohoTime reads occurred_at: RFC 3339, Zoho's "yyyy-MM-dd HH:mm:ss" (UTC) or epoch
// milliseconds. Empty is the zero time.
func parseZohoTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 && ms < 1e14 {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, invalidf(`occurred_at must be RFC 3339, "yyyy-MM-dd HH:mm:ss" (UTC) or epoch milliseconds`)
}

// truncateRunes shortens s to at most n runes for echoing in messages.
func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
