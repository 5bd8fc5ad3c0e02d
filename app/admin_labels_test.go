package app

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/technifold/technifold/store"
)

// TestFiltersAndCountsUseHumanLabels: every option of the timeline's source and event filters,
// the dashboard's events-by-source counts and the feed's source badges show a label staff
// read ("Zoho CRM", "Visited the reorder portal"), never the raw key ("zoho", "portal_visit").
func TestFiltersAndCountsUseHumanLabels(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/timeline")
	opts := regexp.MustCompile(`<option value="([^"]+)"[^>]*>([^<]*)</option>`).FindAllStringSubmatch(body, -1)
	if len(opts) < len(store.EventSources())+len(store.EventNames()) {
		t.Fatalf("timeline filters have %d options", len(opts))
	}
	for _, o := range opts {
		value, label := o[1], o[2]
		if label == value || strings.Contains(label, "_") || !unicode.IsUpper([]rune(label)[0]) {
			t.Errorf("filter option %q is shown as %q", value, label)
		}
	}
	for _, raw := range []string{`<span class="badge">stripe</span>`, `<span class="badge">zoho</span>`, `<span class="badge">web</span>`} {
		if strings.Contains(body, raw) {
			t.Errorf("the feed shows the raw source %s", raw)
		}
	}
	_, body = e.get(c, "/admin")
	for _, s := range store.EventSources() {
		if !strings.Contains(body, `<a href="/admin/timeline?source=`+s+`">`+store.EventSourceLabel(s)+`</a>`) {
			t.Errorf("dashboard counts do not name source %s as %q", s, store.EventSourceLabel(s))
		}
	}
}

// TestOutboxNamesJobKinds: the outbox's counts and list name job kinds as staff know them;
// a job's raw kind, dedupe key and payload are in its collapsed technical details.
func TestOutboxNamesJobKinds(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	e.exec(`INSERT INTO outbox (id, job_type, payload, status, attempts, last_error, dedupe_key, scheduled_for, created_at, updated_at)
		VALUES (77, 'send_offer_email', '{"contact_id":"K1"}', 'dead', 5, 'smtp refused', 'send_offer_email:K1', ?1, ?1, ?1)`, store.FormatTime(e.db.Now()))
	_, body := e.get(c, "/admin/outbox")
	if !strings.Contains(body, "#77 Offer e-mail</a>") || !strings.Contains(body, `<a href="/admin/outbox?type=send_offer_email">Offer e-mail</a>`) {
		t.Errorf("outbox does not name the job kind:\n%s", body)
	}
	if regexp.MustCompile(`>[^<]*send_offer_email[^<]*<`).MatchString(body) {
		t.Errorf("outbox shows the raw kind as text:\n%s", body)
	}
	_, body = e.get(c, "/admin/jobs/77")
	outside := regexp.MustCompile(`(?s)<details.*?</details>`).ReplaceAllString(body, "")
	for _, raw := range []string{"send_offer_email", "contact_id", "Dedupe key"} {
		if strings.Contains(outside, raw) {
			t.Errorf("job page shows %q outside its technical details", raw)
		}
		if raw != "Dedupe key" && !strings.Contains(body, raw) {
			t.Errorf("job page lost %q", raw)
		}
	}
}

// TestEveryMessageIsABanner: the warnings and notices pages show are the one banner (the
// company page's "sending is off", the users page's "created"), not look-alike paragraphs.
func TestEveryMessageIsABanner(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/companies/COMPANY101")
	if !strings.Contains(body, `<div class="banner warn" role="status">Sending offers is not available`) {
		t.Errorf("company page's note is not a banner:\n%s", body)
	}
	resp := e.postForm(c, "/admin/users", url.Values{"email": {"new@example.com"}, "role": {"staff"}})
	body = readBody(resp)
	if !strings.Contains(body, `<div class="banner notice" role="status">`) || strings.Contains(body, `<div class="notice"`) {
		t.Errorf("users page's notice is not a banner (%d):\n%s", resp.StatusCode, body)
	}
}

// TestCurrencyCodesAreWrittenAsStaffWriteThem: the orders totals and the company page name a
// currency "EUR", not the stored "eur".
func TestCurrencyCodesAreWrittenAsStaffWriteThem(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/orders")
	if !strings.Contains(body, "<h2>EUR</h2>") || strings.Contains(body, "<h2>eur</h2>") {
		t.Errorf("orders totals do not name the currency EUR:\n%s", body)
	}
	_, body = e.get(c, "/admin/companies/COMPANY101")
	if !strings.Contains(body, "<dt>Currency</dt><dd>GBP</dd>") {
		t.Errorf("company page currency:\n%s", body)
	}
}

// TestWebhookDeliveriesNameTheirEvents: the deliveries list and a delivery's page name the
// event as staff know it; the provider's raw type is in the technical details.
func TestWebhookDeliveriesNameTheirEvents(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/webhooks")
	outside := regexp.MustCompile(`(?s)<details.*?</details>`).ReplaceAllString(body, "")
	for _, raw := range []string{"email_opened", "deal_won", "checkout.session.completed"} {
		if strings.Contains(outside, raw) {
			t.Errorf("deliveries list shows %q outside technical details", raw)
		}
		if !strings.Contains(body, "<code>"+raw+"</code>") {
			t.Errorf("deliveries list lost %q from its technical details", raw)
		}
	}
	for _, label := range []string{"Opened an e-mail", "Deal won", "Completed a checkout"} {
		if !strings.Contains(outside, label) {
			t.Errorf("deliveries list does not say %q", label)
		}
	}
	if got := (store.AdminDelivery{Provider: "stripe", EventType: "customer.created"}).EventLabel(); got != "Other Stripe event" {
		t.Errorf("unhandled Stripe type labelled %q", got)
	}
}

// TestOfferChoicesAreNamed: the offer chosen next to "Send offer" and "Copy offer link" is
// listed by name ("New tool offer"), its key only the value posted.
func TestOfferChoicesAreNamed(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	all, err := e.db.AllSuggestions(t.Context())
	if err != nil || len(all) == 0 {
		t.Fatalf("suggestions: %v", err)
	}
	// Orders and the timeline name the offer an order or a visit came from the same way.
	if _, body := e.get(c, "/admin/orders"); !strings.Contains(body, `<div class="small muted">Reorder offer</div>`) {
		t.Error("orders list does not name the order's offer")
	}
	if _, body := e.get(c, "/admin/timeline"); strings.Contains(body, "· offer reorder") || !strings.Contains(body, "· Reorder offer") {
		t.Error("timeline does not name the event's offer")
	}
	for _, path := range []string{"/admin/suggestions", "/admin/companies/" + all[0].CompanyID} {
		_, body := e.get(c, path)
		if !regexp.MustCompile(`<option value="new_tool" (selected)?>New tool offer</option>`).MatchString(body) ||
			strings.Contains(body, `>new_tool</option>`) {
			t.Errorf("%s: offer choices not named", path)
		}
	}
}
