package app

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// TestUnknownAdminURLIsAnHTMLPageInTheLayout: an unknown admin address answers 404 with an
// HTML page inside the admin layout (navigation included when signed in), not JSON; the JSON
// API's unknown addresses still answer JSON.
func TestUnknownAdminURLIsAnHTMLPageInTheLayout(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	for _, path := range []string{"/admin/nope", "/admin/companies/x/y/z"} {
		resp, err := c.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(resp)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{"<!doctype html>", "There is no admin page at this address", `href="/admin/suggestions"`, "ann@example.com"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: page lacks %q:\n%s", path, want, body)
			}
		}
	}
	// Signed out: still the layout, without the navigation.
	status, body := e.get(e.client(), "/admin/nope")
	if status != http.StatusNotFound || !strings.Contains(body, "There is no admin page") || strings.Contains(body, `href="/admin/suggestions"`) {
		t.Errorf("signed out /admin/nope: %d\n%s", status, body)
	}
	resp, err := c.Get(e.url + "/api/admin/nope")
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(resp)
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/admin/nope: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// TestBannersShareOnePartial: the success notice after a POST, an error page's message and a
// page's own warning all render through the one banner partial (same element, same place).
func TestBannersShareOnePartial(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	resp := e.postForm(c, "/admin/replication/sync", nil)
	resp.Body.Close()
	_, body := e.get(c, "/admin")
	if !strings.Contains(body, `<main>
<div class="banner notice" role="status">Replication is not configured.</div>`) {
		t.Errorf("success notice is not the banner at the top of main:\n%s", body)
	}
	_, body = e.get(c, "/admin/suggestions")
	if !strings.Contains(body, `<div class="banner warn" role="status">`) {
		t.Errorf("suggestions warning is not a banner:\n%s", body)
	}
	_, body = e.get(c, "/admin/outbox?status=weird")
	// An error page carries its message in its card; the layout's error banner is the same partial.
	if !regexp.MustCompile(`unknown job status`).MatchString(body) {
		t.Errorf("error page: %s", body)
	}
	if strings.Contains(body, `class="alert warn"`) || strings.Contains(body, `<p class="alert`) {
		t.Error("an old-style alert paragraph is still rendered")
	}
}

// TestNoDeveloperNamesOutsideTechnicalDetails: the timeline shows human labels; the raw event
// key appears only inside a collapsed <details> block, and the audit log names its actions.
func TestNoDeveloperNamesOutsideTechnicalDetails(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	seedShowcase(t, e)
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/timeline?source=zoho&event=email_opened")
	if !strings.Contains(body, "Opened an e-mail") {
		t.Fatalf("timeline lacks the label:\n%s", body)
	}
	outside := regexp.MustCompile(`(?s)<details.*?</details>`).ReplaceAllString(body, "")
	outside = regexp.MustCompile(`(?s)<form.*?</form>`).ReplaceAllString(outside, "") // the filter's own value
	if strings.Contains(outside, "email_opened") {
		t.Errorf("raw event key outside technical details:\n%s", outside)
	}
	if !strings.Contains(body, "<summary>Technical details</summary>event <code>email_opened</code>") {
		t.Error("the raw key is not kept in the technical details")
	}
	_, body = e.get(c, "/admin/audit")
	if !strings.Contains(body, "<td>Signed in</td>") {
		t.Errorf("audit log does not label the sign-in:\n%s", body)
	}
}

// TestJobKindsAreLabelled: a job's page and the dashboard name its kind; the raw kind is in
// the technical details.
func TestJobKindsAreLabelled(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	e.exec(`INSERT INTO outbox (id, job_type, status, attempts, last_error, scheduled_for, created_at, updated_at)
		VALUES (77, 'send_offer_email', 'dead', 5, 'smtp refused', ?1, ?1, ?1)`, store.FormatTime(e.db.Now()))
	_, body := e.get(c, "/admin/jobs/77")
	if !strings.Contains(body, "<dd>Offer e-mail <details") || !strings.Contains(body, "kind <code>send_offer_email</code></details>") {
		t.Errorf("job page:\n%s", body)
	}
	_, body = e.get(c, "/admin")
	if !strings.Contains(body, "#77 Offer e-mail</a>") {
		t.Errorf("dashboard does not label the dead job:\n%s", body)
	}
}

// TestCompanyPageKeepsViewNamesInTechnicalDetails: the view behind the reorder section is
// named only inside its collapsed technical details, and purchase dates use the admin format.
func TestCompanyPageKeepsViewNamesInTechnicalDetails(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	sc := seedShowcase(t, e)
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/companies/"+sc.offerCompany)
	if !strings.Contains(body, "vw_company_consumable_payload_v2") {
		t.Fatalf("technical details lost the view name:\n%s", body)
	}
	outside := regexp.MustCompile(`(?s)<details.*?</details>`).ReplaceAllString(body, "")
	if strings.Contains(outside, "vw_") || strings.Contains(outside, "Raw payload") {
		t.Errorf("a view name or raw payload outside technical details:\n%s", outside)
	}
	if m := regexp.MustCompile(`<td>\d{4}-\d{2}-\d{2}</td>`).FindString(outside); m != "" {
		t.Errorf("a raw date %s on the company page", m)
	}
}
