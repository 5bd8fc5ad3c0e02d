package app

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/store"
)

// concretePath fills a route's parameters with an id no row has.
func concretePath(route string) string {
	return regexp.MustCompile(`:\w+`).ReplaceAllString(route, "999999")
}

// Every admin-only route and form, derived from the declarations (a new admin route is covered
// without editing this test), answers a staff session 403 and changes nothing; an admin gets
// past the role check.
func TestStaffAreRefusedEveryAdminOnlyRoute(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("boss@example.com", store.RoleAdmin, testPassword)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	staff := e.login("sam@example.com", testPassword)
	admin := e.login("boss@example.com", testPassword)
	auditBefore := len(e.auditActions())
	n := 0
	for _, rt := range console.DeclaredRoutes() {
		if rt.Role != "admin" {
			continue
		}
		n++
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			path := concretePath(rt.Path)
			do := func(c *http.Client) (int, string, string) {
				if rt.Method == http.MethodPost {
					resp := e.postForm(c, path, nil)
					return resp.StatusCode, resp.Header.Get("Content-Type"), readBody(resp)
				}
				resp, err := c.Get(e.url + path)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, resp.Header.Get("Content-Type"), readBody(resp)
			}
			status, ctype, body := do(staff)
			if status != http.StatusForbidden || !strings.Contains(body, rt.Deny) {
				t.Errorf("staff: %d %q", status, body)
			}
			if rt.API != strings.HasPrefix(ctype, "application/json") {
				t.Errorf("staff: content type %q", ctype)
			}
			if status, _, body := do(admin); status == http.StatusForbidden {
				t.Errorf("admin: 403 %s", body)
			}
		})
	}
	if n < 8 {
		t.Fatalf("only %d admin-only routes declared", n)
	}
	// The refused requests wrote nothing (the admin's did, e.g. outbox.run).
	if got := e.auditActions(); slices.Contains(got[:len(got)-auditBefore], "user.create") {
		t.Fatalf("audit: %v", got)
	}
}

// Staff may do what issue 12 lists: read every screen, send offers and mint links, retry a
// failed job; and the bearer token acts as admin.
func TestStaffMayReadEverythingAndRetryJobs(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.AdminAPIToken = "api-token-0123456789" }})
	sc := seedShowcase(t, e)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	staff := e.login("sam@example.com", testPassword)
	for _, rt := range console.DeclaredRoutes() {
		if rt.Role != "staff" || rt.Method != http.MethodGet {
			continue
		}
		path := strings.ReplaceAll(rt.Path, ":id", "1")
		switch {
		case strings.HasPrefix(rt.Path, "/admin/companies/:id"), strings.HasPrefix(rt.Path, "/api/admin/companies/:id"):
			path = strings.ReplaceAll(rt.Path, ":id", sc.offerCompany)
		case strings.HasPrefix(rt.Path, "/admin/jobs/"):
			path = fmt.Sprintf("/admin/jobs/%d", sc.deadJob)
		case strings.HasPrefix(rt.Path, "/admin/webhooks/"):
			path = fmt.Sprintf("/admin/webhooks/%d", sc.deliveryID)
		}
		if status, body := e.get(staff, path); status != http.StatusOK {
			t.Errorf("staff GET %s: %d %.200s", path, status, body)
		}
	}
	resp := e.postForm(staff, fmt.Sprintf("/admin/jobs/%d/retry", sc.deadJob), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff retry: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/api/admin/companies", nil)
	req.Header.Set("Authorization", "Bearer api-token-0123456789")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer: %v %v", resp, err)
	}
}

// A staff member sees each admin-only action disabled with its reason: no page they can read
// holds a form that posts to an admin-only route.
func TestStaffSeeAdminOnlyActionsDisabled(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	sc := seedShowcase(t, e)
	e.exec(`INSERT INTO integration_state (name, value, updated_at) VALUES ('zoho_auth_alert', ?, ?)`,
		`{"message":"invalid_client","at":"2026-01-01T00:00:00Z","credentials":"abc"}`, store.FormatTime(e.db.Now()))
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	e.addUser("boss@example.com", store.RoleAdmin, testPassword)
	staff := e.login("sam@example.com", testPassword)
	admin := e.login("boss@example.com", testPassword)
	var adminForms []*regexp.Regexp
	for _, rt := range console.DeclaredRoutes() {
		if rt.Role == "admin" && rt.Method == http.MethodPost {
			pat := regexp.MustCompile(`:\w+`).ReplaceAllString(regexp.QuoteMeta(rt.Path), `[^"/]+`)
			adminForms = append(adminForms, regexp.MustCompile(`action="`+pat+`"`))
		}
	}
	pages := []string{"/admin", "/admin/outbox", fmt.Sprintf("/admin/jobs/%d", sc.deadJob),
		fmt.Sprintf("/admin/webhooks/%d", sc.deliveryID), "/admin/suggestions", "/admin/companies/" + sc.offerCompany}
	shown := map[string]bool{}
	for _, p := range pages {
		status, body := e.get(staff, p)
		if status != http.StatusOK {
			t.Fatalf("staff GET %s: %d", p, status)
		}
		for _, re := range adminForms {
			if m := re.FindString(body); m != "" {
				t.Errorf("staff see an enabled admin-only form on %s: %s", p, m)
			}
		}
		for _, why := range []string{"Only admins can cancel jobs.", "Only admins can run the outbox.",
			"Only admins can replay webhooks.", "Only admins can change integration settings."} {
			if strings.Contains(body, why) {
				shown[why] = true
			}
		}
		// An admin sees the same page with its forms.
		if _, body := e.get(admin, p); strings.Contains(body, "Only admins can") {
			t.Errorf("admin sees a disabled action on %s", p)
		}
	}
	if len(shown) != 4 {
		t.Fatalf("reasons shown to staff: %v", shown)
	}
}
