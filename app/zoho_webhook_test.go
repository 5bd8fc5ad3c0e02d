package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

const zohoTestSecret = "zoho-webhook-secret"

// zohoWebhookEnv is a server with the Zoho webhook on, one company and two contacts.
type zohoWebhookEnv struct {
	srv   *Server
	db    *store.DB
	clock *zohoClock
}

func newZohoWebhookEnv(t testing.TB, secret string) *zohoWebhookEnv {
	t.Helper()
	env := map[string]string{"DATABASE_PATH": filepath.Join(t.TempDir(), "technifold.db"), "ZOHO_WEBHOOK_SECRET": secret}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	clock := &zohoClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `
			INSERT INTO companies (company_id, company_name) VALUES ('CO1', 'Acme Print'), ('CO2', 'Other Ltd');
			INSERT INTO contacts (contact_id, company_id, email, marketing_status) VALUES
				('K1', 'CO1', 'Bea@Acme.example', 'subscribed'), ('K2', 'CO1', 'al@acme.example', 'pending')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(cfg, db, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return &zohoWebhookEnv{srv: srv, db: db, clock: clock}
}

// post sends a delivery and returns the status and the decoded answer.
func (e *zohoWebhookEnv) post(t testing.TB, secret, contentType, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/zoho/webhook", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if secret != "" {
		r.Header.Set("X-Zoho-Secret", secret)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %q", w.Body.String())
	}
	return w.Code, out
}

func (e *zohoWebhookEnv) postJSON(t testing.TB, body string) (int, map[string]any) {
	t.Helper()
	return e.post(t, zohoTestSecret, "application/json", body)
}

func (e *zohoWebhookEnv) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *zohoWebhookEnv) marketingStatus(t testing.TB, contactID string) string {
	t.Helper()
	k, err := e.db.GetContact(context.Background(), contactID)
	if err != nil {
		t.Fatal(err)
	}
	return k.MarketingStatus
}

func TestZohoWebhookRecordsEvents(t *testing.T) {
	form := func(v url.Values) string { return v.Encode() }
	cases := []struct {
		name, contentType, body string
		want                    store.Event // SourceEventID "" means the dedupe key
	}{
		{"json", "application/json",
			`{"event_type":"email_opened","event_id":"z-1","email":"bea@acme.example","campaign_key":"spring",
			  "url":"https://acme.example/x","occurred_at":"2026-03-01T10:00:00+01:00","metadata":{"subject":"Blades","utm":{"source":"zoho"}}}`,
			store.Event{SourceEventID: "z-1", Name: "email_opened", ContactID: "K1", CompanyID: "CO1", CampaignKey: "spring",
				URL: "https://acme.example/x", OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
				Meta: map[string]any{"subject": "Blades", "utm": map[string]any{"source": "zoho"}}}},
		{"json with numbers and no content type", "",
			`{"event_type":"Deal_Won","event_id":4876000000123,"contact_id":"K2","company_id":"CO2","occurred_at":1772445600000}`,
			// K2 is CO1's: the contact's own company wins over the CO2 the event names.
			store.Event{SourceEventID: "4876000000123", Name: "deal_won", ContactID: "K2", CompanyID: "CO1",
				OccurredAt: time.UnixMilli(1772445600000).UTC(), Meta: map[string]any{"company_id_named": "CO2"}}},
		{"form with metadata as JSON", "application/x-www-form-urlencoded",
			form(url.Values{"event_type": {"form_submitted"}, "event_id": {"z-3"}, "email": {"AL@acme.example"},
				"occurred_at": {"2026-03-01 08:30:00"}, "metadata": {`{"form":"demo request"}`}}),
			store.Event{SourceEventID: "z-3", Name: "form_submitted", ContactID: "K2", CompanyID: "CO1",
				OccurredAt: time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC), Meta: map[string]any{"form": "demo request"}}},
		{"form with metadata fields and no event id", "application/x-www-form-urlencoded; charset=utf-8",
			form(url.Values{"event_type": {"webinar_registered"}, "contact_id": {"K1"}, "occurred_at": {"2026-03-01 08:30:00"},
				"metadata.webinar": {"Folding 101"}, "metadata.seat": {"12"}}),
			store.Event{Name: "webinar_registered", ContactID: "K1", CompanyID: "CO1",
				OccurredAt: time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC), Meta: map[string]any{"webinar": "Folding 101", "seat": "12"}}},
		{"no timestamp", "application/json", `{"event_type":"campaign_sent","email":"bea@acme.example"}`,
			store.Event{Name: "campaign_sent", ContactID: "K1", CompanyID: "CO1", OccurredAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newZohoWebhookEnv(t, zohoTestSecret)
			status, out := e.post(t, zohoTestSecret, tc.contentType, tc.body)
			if status != http.StatusOK || out["success"] != true || out["event_id"] == nil {
				t.Fatalf("HTTP %d %v", status, out)
			}
			var got store.Event
			var meta, occurred, sourceID string
			var company, contact, campaign, link *string
			err := e.db.Read().QueryRow(`SELECT event_id, source, source_event_id, event_name, company_id, contact_id,
				campaign_key, url, meta, occurred_at FROM engagement_events`).Scan(&got.ID, &got.Source, &sourceID, &got.Name,
				&company, &contact, &campaign, &link, &meta, &occurred)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want.SourceEventID == "" {
				want.SourceEventID = string(want.Name) + ":" + want.ContactID + ":" + store.FormatTime(want.OccurredAt)
			}
			wantMeta := "{}"
			if want.Meta != nil {
				b, _ := json.Marshal(want.Meta)
				wantMeta = string(b)
			}
			if float64(got.ID) != out["event_id"] || got.Source != "zoho" || sourceID != want.SourceEventID || got.Name != want.Name ||
				deref(company) != want.CompanyID || deref(contact) != want.ContactID || deref(campaign) != want.CampaignKey ||
				deref(link) != want.URL || occurred != store.FormatTime(want.OccurredAt) || meta != wantMeta {
				t.Fatalf("event %d %s %s %s company %s contact %s campaign %s url %s meta %s at %s; want %+v meta %s",
					got.ID, got.Source, sourceID, got.Name, deref(company), deref(contact), deref(campaign), deref(link), meta, occurred, want, wantMeta)
			}
			if n := e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'zoho' AND status = 'processed'
				AND event_id = ? AND body = ?`, want.SourceEventID, tc.body); n != 1 {
				t.Fatalf("delivery rows: %d", n)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestZohoWebhookRejects(t *testing.T) {
	accepted := "accepted: email_opened, email_clicked, email_bounced, email_unsubscribed, campaign_sent, form_submitted, " +
		"webinar_registered, deal_created, deal_won"
	cases := []struct {
		name, secret, contentType, body string
		status                          int
		errText                         string
	}{
		{"no secret header", "", "application/json", `{"event_type":"email_opened","email":"bea@acme.example"}`, 401, "X-Zoho-Secret"},
		{"wrong secret", "zoho-webhook-secreT", "application/json", `{"event_type":"email_opened","email":"bea@acme.example"}`, 401, "X-Zoho-Secret"},
		{"missing event_type", zohoTestSecret, "application/json", `{"email":"bea@acme.example"}`, 400, "event_type is required; " + accepted},
		{"unknown event_type", zohoTestSecret, "application/json", `{"event_type":"email_forwarded","email":"bea@acme.example"}`, 400,
			`unknown event_type "email_forwarded"; ` + accepted},
		{"unknown email", zohoTestSecret, "application/json", `{"event_type":"email_unsubscribed","email":"nobody@acme.example"}`, 404,
			"no contact with that e-mail"},
		{"unknown contact_id", zohoTestSecret, "application/json", `{"event_type":"email_opened","contact_id":"K9"}`, 404, "no contact with that contact_id"},
		{"unknown company_id", zohoTestSecret, "application/json", `{"event_type":"email_opened","contact_id":"K1","company_id":"CO9"}`, 404,
			"no company with that company_id"},
		{"no contact", zohoTestSecret, "application/json", `{"event_type":"email_opened"}`, 400, "email or contact_id is required"},
		{"bad occurred_at", zohoTestSecret, "application/json", `{"event_type":"email_opened","email":"bea@acme.example","occurred_at":"yesterday"}`,
			400, "occurred_at must be RFC 3339"},
		{"metadata not an object", zohoTestSecret, "application/x-www-form-urlencoded",
			"event_type=email_opened&email=bea%40acme.example&metadata=%5B1%5D", 400, "metadata must be a JSON object"},
		{"malformed JSON", zohoTestSecret, "application/json", `{"event_type":`, 400, "malformed JSON"},
		{"event_type not a string", zohoTestSecret, "application/json", `{"event_type":["email_opened"],"email":"bea@acme.example"}`, 400,
			"event_type must be a string"},
		{"other content type", zohoTestSecret, "text/plain", `event_type=email_opened`, 400, "Content-Type must be"},
		{"oversized body", zohoTestSecret, "application/json",
			`{"event_type":"email_opened","email":"bea@acme.example","metadata":{"x":"` + strings.Repeat("a", 64<<10) + `"}}`, 413,
			"request body too large"},
	}
	e := newZohoWebhookEnv(t, zohoTestSecret)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := e.post(t, tc.secret, tc.contentType, tc.body)
			if msg, _ := out["error"].(string); status != tc.status || !strings.Contains(msg, tc.errText) {
				t.Fatalf("HTTP %d %v; want %d with %q", status, out, tc.status, tc.errText)
			}
		})
	}
	// Nothing was applied. The three that read but name an unknown contact or company are kept
	// as failed with their bodies, for replay once the record exists; the rest wrote nothing
	// (refusals are counted in memory).
	if n := e.count(t, `SELECT count(*) FROM engagement_events`); n != 0 {
		t.Fatalf("%d events written by rejected deliveries", n)
	}
	if n, failed := e.count(t, `SELECT count(*) FROM webhook_deliveries`), e.count(t, `SELECT count(*) FROM webhook_deliveries
		WHERE provider = 'zoho' AND status = 'failed' AND body IS NOT NULL AND error LIKE 'no %'`); n != 3 || failed != 3 {
		t.Fatalf("%d delivery rows (%d failed with body), want the 3 unknown records", n, failed)
	}
	if s := e.marketingStatus(t, "K1"); s != store.MarketingSubscribed {
		t.Fatalf("marketing status changed to %s", s)
	}
}

func TestZohoWebhookOffWithoutSecret(t *testing.T) {
	e := newZohoWebhookEnv(t, "")
	status, out := e.post(t, "anything", "application/json", `{"event_type":"email_opened","email":"bea@acme.example"}`)
	if status != http.StatusServiceUnavailable || out["error"] != "zoho webhook is off: set ZOHO_WEBHOOK_SECRET" {
		t.Fatalf("HTTP %d %v", status, out)
	}
}

func TestZohoWebhookDeduplicates(t *testing.T) {
	e := newZohoWebhookEnv(t, zohoTestSecret)
	first := `{"event_type":"email_clicked","event_id":"z-7","email":"bea@acme.example"}`
	if status, out := e.postJSON(t, first); status != 200 || out["event_id"] == nil {
		t.Fatalf("first: HTTP %d %v", status, out)
	}
	if status, out := e.postJSON(t, first); status != 200 || out["success"] != true || out["message"] != "Event already processed" || out["event_id"] != nil {
		t.Fatalf("repeat: HTTP %d %v", status, out)
	}
	// Without an event id: the same type, contact and instant, however the timestamp is written.
	for i, at := range []string{`"2026-03-01 10:00:00"`, `"2026-03-01T11:00:00+01:00"`, `1772359200000`} {
		status, out := e.postJSON(t, `{"event_type":"email_opened","email":"BEA@acme.example","occurred_at":`+at+`}`)
		if status != 200 || (i == 0) != (out["event_id"] != nil) {
			t.Fatalf("delivery %d (%s): HTTP %d %v", i, at, status, out)
		}
	}
	// A different type, contact or instant is a different event.
	for _, body := range []string{
		`{"event_type":"email_clicked","email":"bea@acme.example","occurred_at":"2026-03-01 10:00:00"}`,
		`{"event_type":"email_opened","email":"al@acme.example","occurred_at":"2026-03-01 10:00:00"}`,
		`{"event_type":"email_opened","email":"bea@acme.example","occurred_at":"2026-03-01 10:00:01"}`,
	} {
		if status, out := e.postJSON(t, body); status != 200 || out["event_id"] == nil {
			t.Fatalf("%s: HTTP %d %v", body, status, out)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events`); n != 5 {
		t.Fatalf("%d events, want 5", n)
	}
	if n := e.count(t, `SELECT attempts FROM webhook_deliveries WHERE event_id = 'email_opened:K1:2026-03-01T10:00:00.000Z'`); n != 3 {
		t.Fatalf("delivery attempts %d, want 3", n)
	}
}

func TestZohoWebhookConsentChanges(t *testing.T) {
	e := newZohoWebhookEnv(t, zohoTestSecret)
	steps := []struct {
		body, want string
	}{
		{`{"event_type":"email_opened","event_id":"c-1","email":"bea@acme.example"}`, store.MarketingSubscribed},
		{`{"event_type":"email_unsubscribed","event_id":"c-2","email":"bea@acme.example"}`, store.MarketingUnsubscribed},
		{`{"event_type":"email_bounced","event_id":"c-3","contact_id":"K2"}`, store.MarketingBounced},
	}
	for _, s := range steps {
		if status, out := e.postJSON(t, s.body); status != 200 || out["event_id"] == nil {
			t.Fatalf("%s: HTTP %d %v", s.body, status, out)
		}
	}
	if a, b := e.marketingStatus(t, "K1"), e.marketingStatus(t, "K2"); a != store.MarketingUnsubscribed || b != store.MarketingBounced {
		t.Fatalf("statuses %s, %s", a, b)
	}
	// A repeat of the unsubscribe after the contact resubscribed changes nothing.
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE contacts SET marketing_status = 'subscribed' WHERE contact_id = 'K1'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, out := e.postJSON(t, steps[1].body); out["message"] != "Event already processed" || e.marketingStatus(t, "K1") != store.MarketingSubscribed {
		t.Fatalf("repeat: %v, status %s", out, e.marketingStatus(t, "K1"))
	}
	// Event and status change commit together: when the delivery row cannot be written, neither stays.
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `CREATE TRIGGER fail_zoho_delivery BEFORE INSERT ON webhook_deliveries
			WHEN NEW.event_id = 'c-4' BEGIN SELECT RAISE(ABORT, 'disk full'); END`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.postJSON(t, `{"event_type":"email_unsubscribed","event_id":"c-4","email":"bea@acme.example"}`); status != 500 {
		t.Fatalf("failed delivery answered %d", status)
	}
	if s := e.marketingStatus(t, "K1"); s != store.MarketingSubscribed || e.count(t, `SELECT count(*) FROM engagement_events WHERE source_event_id = 'c-4'`) != 0 {
		t.Fatalf("half-applied delivery: status %s", s)
	}
}

func FuzzZohoWebhookBody(f *testing.F) {
	f.Add("application/json", `{"event_type":"email_opened","email":"a@b.c","occurred_at":"2026-03-01 10:00:00","metadata":"{\"a\":1}"}`)
	f.Add("application/json", `{"event_type":"deal_won","contact_id":12,"occurred_at":1772359200000,"metadata":{"v":[1,2]}}`)
	f.Add("application/x-www-form-urlencoded", "event_type=email_bounced&email=a%40b.c&metadata.reason=hard")
	f.Add("application/x-www-form-urlencoded", "event_type=email_bounced&contact_id=K1&metadata=%7B%7D&occurred_at=2026-03-01T10:00:00Z")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		in, err := parseZohoWebhook(contentType, []byte(body))
		if err != nil {
			if store.ErrorCode(err) != store.EINVALID {
				t.Fatalf("parse error without a 400 code: %v", err)
			}
			return
		}
		if !strings.Contains(strings.Join(store.ZohoEventTypes(), ","), in.EventType) || (in.Email == "" && in.ContactID == "") {
			t.Fatalf("accepted %+v", in)
		}
		if _, err := json.Marshal(in.Metadata); err != nil {
			t.Fatalf("metadata cannot be stored: %v", err)
		}
	})
}

// An event naming company B for a contact of company A is recorded for A, the contact is not
// moved, and the delivery carries a note saying so; a contact without a company takes the
// named one.
func TestZohoWebhookCompanyMismatch(t *testing.T) {
	e := newZohoWebhookEnv(t, zohoTestSecret)
	status, out := e.postJSON(t, `{"event_type":"deal_won","event_id":"z-mis","contact_id":"K1","company_id":"CO2"}`)
	if status != http.StatusOK || out["success"] != true {
		t.Fatalf("%d %v", status, out)
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events WHERE source_event_id = 'z-mis' AND company_id = 'CO1'
		AND contact_id = 'K1' AND json_extract(meta, '$.company_id_named') = 'CO2'`); n != 1 {
		t.Fatal("event not recorded for the contact's own company with the named one in meta")
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events WHERE company_id = 'CO2'`); n != 0 {
		t.Fatal("event attributed to the named company")
	}
	if n := e.count(t, `SELECT count(*) FROM contacts WHERE contact_id = 'K1' AND company_id = 'CO1'`); n != 1 {
		t.Fatal("contact moved")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'zoho' AND event_id = 'z-mis'
		AND status = 'processed' AND error = 'company_id CO2 is not the contact''s company CO1: recorded for CO1'`); n != 1 {
		t.Fatal("delivery lacks the note")
	}
	// The same company, or none named: no note.
	e.postJSON(t, `{"event_type":"deal_won","event_id":"z-same","contact_id":"K1","company_id":"CO1"}`)
	if n := e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE event_id = 'z-same' AND error IS NULL`); n != 1 {
		t.Fatal("a matching company got a note")
	}
	// A contact without a company: the named company is used.
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO contacts (contact_id, email, marketing_status) VALUES ('K3', 'free@x.example', 'pending')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.postJSON(t, `{"event_type":"deal_created","event_id":"z-free","contact_id":"K3","company_id":"CO2"}`)
	if n := e.count(t, `SELECT count(*) FROM engagement_events WHERE source_event_id = 'z-free' AND company_id = 'CO2'`); n != 1 {
		t.Fatal("a contact without a company did not take the named one")
	}
}
