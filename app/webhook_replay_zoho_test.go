package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// postZoho sends a Zoho CRM delivery to the running server and returns the status.
func (e *adminEnv) postZoho(secret, contentType, body string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/zoho/webhook", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if secret != "" {
		req.Header.Set("X-Zoho-Secret", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// count runs a count query.
func (e *adminEnv) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// A Zoho CRM delivery for a contact not imported yet is kept as failed with its body; staff
// cannot replay it, an admin can: once the contact exists the replay applies it (and its
// consent change) once, audited; replaying again, or replaying a delivery applied live, is a
// repeat that changes nothing.
func TestZohoReplayAppliesOnce(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock, configure: func(c *Config) { c.ZohoWebhookSecret = zohoTestSecret }})
	e.exec(`INSERT INTO companies (company_id, company_name) VALUES ('CO1', 'Acme Print')`)
	e.exec(`INSERT INTO contacts (contact_id, company_id, email, marketing_status) VALUES ('K1', 'CO1', 'bea@acme.example', 'subscribed')`)
	e.addUser("staff@example.com", store.RoleStaff, "staff-password-1")
	e.addUser("admin@example.com", store.RoleAdmin, "admin-password-1")
	staff := e.login("staff@example.com", "staff-password-1")
	admin := e.login("admin@example.com", "admin-password-1")

	// What a Zoho CRM workflow webhook posts: form fields, no event id, no timestamp.
	form := url.Values{"event_type": {"email_unsubscribed"}, "email": {"New.Buyer@acme.example"}, "campaign_key": {"spring"}}.Encode()
	if code := e.postZoho(zohoTestSecret, "application/x-www-form-urlencoded; charset=UTF-8", form); code != http.StatusNotFound {
		t.Fatalf("delivery for an unknown contact: %d", code)
	}
	var failed int64
	var key, contentType string
	if err := e.db.Read().QueryRow(`SELECT id, event_id, content_type FROM webhook_deliveries WHERE provider = 'zoho'
		AND status = 'failed' AND body = ? AND error = 'no contact with that e-mail'`, form).Scan(&failed, &key, &contentType); err != nil {
		t.Fatalf("failed delivery not kept with its body: %v", err)
	}
	if key != "email_unsubscribed:new.buyer@acme.example:2026-03-02T09:00:00.000Z" || !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		t.Fatalf("failed delivery keyed %q, content type %q", key, contentType)
	}
	page := fmt.Sprintf("/admin/webhooks/%d", failed)

	// The page shows the form fields decoded.
	if _, body := e.get(staff, page); !strings.Contains(body, "email = New.Buyer@acme.example") ||
		!strings.Contains(body, "event_type = email_unsubscribed") {
		t.Error("the form body is not shown decoded")
	}
	// Staff see the replay button disabled and are refused it, as for Stripe.
	if _, body := e.get(staff, page); !strings.Contains(body, "Only admins can replay webhooks.") || strings.Contains(body, `action="`+page+`/replay"`) {
		t.Fatal("staff see an enabled replay form")
	}
	resp := e.postForm(staff, page+"/replay", nil)
	if body := readBody(resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only admins can replay webhooks.") {
		t.Fatalf("staff replay: %d", resp.StatusCode)
	}

	// Replayed before the contact exists: fails again, still failed, counted, nothing applied.
	clock.Advance(time.Hour)
	if resp := e.postForm(admin, page+"/replay", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("replay without the contact: %d", resp.StatusCode)
	}
	if n := e.count(`SELECT attempts FROM webhook_deliveries WHERE id = ? AND status = 'failed'`, failed); n != 2 {
		t.Fatalf("failed replay: attempts %d", n)
	}

	// The contact is imported; the replay applies the delivery once.
	e.exec(`INSERT INTO contacts (contact_id, company_id, email, marketing_status) VALUES ('K2', 'CO1', 'new.buyer@acme.example', 'subscribed')`)
	clock.Advance(time.Hour)
	resp = e.postForm(admin, page+"/replay", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
		t.Fatalf("replay: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, body := e.get(admin, page); !strings.Contains(body, "applied, engagement event #") {
		t.Fatal("no notice after the replay")
	}
	// Recorded at the time the delivery arrived, under the contact, with its consent change.
	if n := e.count(`SELECT count(*) FROM engagement_events WHERE source = 'zoho' AND contact_id = 'K2' AND company_id = 'CO1'
		AND event_name = 'email_unsubscribed' AND campaign_key = 'spring' AND occurred_at = '2026-03-02T09:00:00.000Z'
		AND source_event_id = 'email_unsubscribed:K2:2026-03-02T09:00:00.000Z'`); n != 1 {
		t.Fatalf("%d engagement events from the replay", n)
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE contact_id = 'K2' AND marketing_status = 'unsubscribed'`); n != 1 {
		t.Fatal("the replay did not apply the unsubscribe")
	}
	if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE id = ? AND status = 'processed' AND error IS NULL`, failed); n != 1 {
		t.Fatal("the delivery is not processed after the replay")
	}

	// Again: a repeat; nothing changes (the resubscribe in between stays).
	e.exec(`UPDATE contacts SET marketing_status = 'subscribed' WHERE contact_id = 'K2'`)
	resp = e.postForm(admin, page+"/replay", nil)
	resp.Body.Close()
	if _, body := e.get(admin, page); resp.StatusCode != http.StatusSeeOther || !strings.Contains(body, "already been applied, so nothing changed") {
		t.Fatalf("second replay: %d", resp.StatusCode)
	}
	if n := e.count(`SELECT count(*) FROM engagement_events WHERE source = 'zoho'`); n != 1 {
		t.Fatalf("%d engagement events after replaying twice", n)
	}
	if n := e.count(`SELECT count(*) FROM contacts WHERE contact_id = 'K2' AND marketing_status = 'subscribed'`); n != 1 {
		t.Fatal("a repeated replay changed the contact")
	}

	// A delivery applied live (JSON, no event id, no time) replayed later: a repeat too.
	if code := e.postZoho(zohoTestSecret, "application/json", `{"event_type":"email_opened","email":"bea@acme.example"}`); code != http.StatusOK {
		t.Fatalf("live delivery: %d", code)
	}
	var live int64
	if err := e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE provider = 'zoho' AND event_type = 'email_opened'`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Minute)
	resp = e.postForm(admin, fmt.Sprintf("/admin/webhooks/%d/replay", live), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != fmt.Sprintf("/admin/webhooks/%d", live) {
		t.Fatalf("replay of a live delivery: %d", resp.StatusCode)
	}
	if n := e.count(`SELECT count(*) FROM engagement_events WHERE source = 'zoho'`); n != 2 {
		t.Fatalf("%d engagement events after replaying an applied delivery, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE provider = 'zoho'`); n != 2 {
		t.Fatalf("%d Zoho delivery rows, want 2", n)
	}

	// Every admin replay is audited (staff's refused one is not), with what it did.
	entries, err := e.db.ListAudit(context.Background(), store.AuditFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var replays []string
	for _, a := range entries {
		if a.Action == "webhook.replay" {
			replays = append(replays, a.Actor+" "+a.Target+" "+string(a.Detail))
		}
	}
	if len(replays) != 4 {
		t.Fatalf("%d replay audit entries, want 4: %v", len(replays), replays)
	}
	all := strings.Join(replays, "\n")
	for _, want := range []string{fmt.Sprintf("delivery:%d", failed), `"repeat":true`, `"ok":false`, `"status":"processed"`, "admin@example.com"} {
		if !strings.Contains(all, want) {
			t.Errorf("replay audit lacks %s:\n%s", want, all)
		}
	}
	if strings.Contains(all, "staff@example.com") {
		t.Error("staff's refused replay was audited as a replay")
	}
}

// Every accepted Zoho delivery, in each shape Zoho CRM may post (JSON or form, with or without
// event_id and occurred_at, by e-mail or contact_id), replayed later through the stored row is
// a repeat: no second event, no second delivery row.
func TestZohoReplayOfEveryAcceptedShapeIsARepeat(t *testing.T) {
	e := newZohoWebhookEnv(t, zohoTestSecret)
	form := func(v url.Values) string { return v.Encode() }
	deliveries := []struct{ contentType, body string }{
		{"application/json", `{"event_type":"email_opened","event_id":"z-1","email":"bea@acme.example"}`},
		{"application/json", `{"event_type":"email_clicked","email":"bea@acme.example"}`},
		{"", `{"event_type":"deal_won","contact_id":"K2","occurred_at":1772445600000}`},
		{"application/x-www-form-urlencoded", form(url.Values{"event_type": {"form_submitted"}, "email": {"AL@acme.example"}})},
		{"application/x-www-form-urlencoded; charset=UTF-8", form(url.Values{"event_type": {"webinar_registered"},
			"contact_id": {"K1"}, "occurred_at": {"2026-03-01 08:30:00"}, "metadata.seat": {"12"}})},
		{"application/x-www-form-urlencoded", form(url.Values{"event_type": {"email_bounced"}, "event_id": {"z-6"}, "email": {"al@acme.example"}})},
	}
	for i, d := range deliveries {
		e.clock.AdvanceTo(e.clock.Now().Add(time.Duration(i+1) * time.Second))
		if status, out := e.post(t, zohoTestSecret, d.contentType, d.body); status != http.StatusOK || out["event_id"] == nil {
			t.Fatalf("delivery %d: %d %v", i, status, out)
		}
	}
	events := e.count(t, `SELECT count(*) FROM engagement_events`)
	rows := e.count(t, `SELECT count(*) FROM webhook_deliveries`)
	if events != len(deliveries) || rows != len(deliveries) {
		t.Fatalf("%d events, %d rows after %d deliveries", events, rows, len(deliveries))
	}
	e.clock.AdvanceTo(e.clock.Now().Add(2 * time.Hour))
	list, err := e.db.ListAdminDeliveries(context.Background(), store.AdminDeliveryFilter{Provider: "zoho"})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range list {
		d, err := e.db.GetAdminDelivery(context.Background(), item.ID)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.srv.replayZoho(context.Background(), d)
		if err != nil || !out.Repeat {
			t.Errorf("replay of %s (%s): %+v %v", d.EventID, d.ContentType, out, err)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events`); n != events {
		t.Fatalf("replays added %d events", n-events)
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_deliveries`); n != rows {
		t.Fatalf("replays added %d delivery rows", n-rows)
	}
	if s := e.marketingStatus(t, "K2"); s != store.MarketingBounced {
		t.Fatalf("K2 is %s", s)
	}
}
