package app

import (
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/store"
	"github.com/technifold/technifold/ui"
)

// Every declared page has its template, every admin template belongs to a declared page, and
// no page or route is declared twice.
func TestEveryDeclaredAdminPageHasATemplate(t *testing.T) {
	declared := map[string]bool{}
	for _, p := range declaredPages() {
		if declared[p.key.name] {
			t.Errorf("page %s declared twice", p.key)
		}
		declared[p.key.name] = true
		if _, err := fs.Stat(ui.FS, pageTemplate(p.key)); err != nil {
			t.Errorf("page %s: %v", p.key, err)
		}
		if p.nav != "" && !strings.HasPrefix(p.navPath, "/admin") {
			t.Errorf("page %s: nav path %q", p.key, p.navPath)
		}
	}
	files, err := fs.Glob(ui.FS, "templates/admin_*.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/admin_"), ".html")
		if name != "layout" && !declared[name] {
			t.Errorf("%s belongs to no declared page", f)
		}
	}
	seen := map[string]bool{}
	for _, rt := range declaredAdminRoutes() {
		k := rt.method + " " + rt.path
		if seen[k] {
			t.Errorf("%s declared twice", k)
		}
		seen[k] = true
		if rt.handle == nil {
			t.Errorf("%s has no handler", k)
		}
		if rt.api != strings.HasPrefix(rt.path, "/api/admin/") {
			t.Errorf("%s: api=%v does not match its path", k, rt.api)
		}
		if rt.role == roleAdmin && rt.deny == "" {
			t.Errorf("%s is admin-only but tells staff no reason", k)
		}
	}
}

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
	for _, rt := range declaredAdminRoutes() {
		if rt.role != roleAdmin {
			continue
		}
		n++
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			path := concretePath(rt.path)
			do := func(c *http.Client) (int, string, string) {
				if rt.method == http.MethodPost {
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
			if status != http.StatusForbidden || !strings.Contains(body, rt.deny) {
				t.Errorf("staff: %d %q", status, body)
			}
			if rt.api != strings.HasPrefix(ctype, "application/json") {
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
	for _, rt := range declaredAdminRoutes() {
		if rt.role != roleStaff || rt.method != http.MethodGet {
			continue
		}
		path := strings.ReplaceAll(rt.path, ":id", "1")
		switch {
		case strings.HasPrefix(rt.path, "/admin/companies/:id"), strings.HasPrefix(rt.path, "/api/admin/companies/:id"):
			path = strings.ReplaceAll(rt.path, ":id", sc.offerCompany)
		case strings.HasPrefix(rt.path, "/admin/jobs/"):
			path = fmt.Sprintf("/admin/jobs/%d", sc.deadJob)
		case strings.HasPrefix(rt.path, "/admin/webhooks/"):
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
	for _, rt := range declaredAdminRoutes() {
		if rt.role == roleAdmin && rt.method == http.MethodPost {
			pat := regexp.MustCompile(`:\w+`).ReplaceAllString(regexp.QuoteMeta(rt.path), `[^"/]+`)
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

// An admin-only JSON route refuses a staff session with a JSON 403 and takes the bearer token
// (which acts as an admin); a staff route takes both.
func TestAdminOnlyAPIRouteRefusesStaffAndTakesTheToken(t *testing.T) {
	const token = "api-token-0123456789abcdef"
	var called atomic.Int32
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.AdminAPIToken = token },
		before: func(s *Server) {
			s.registerAdminRoute(adminRoute{method: http.MethodPost, path: "/api/admin/test-admin-only", role: roleAdmin,
				api: true, deny: "Only admins can test.", handle: func(_ *Server, w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
					called.Add(1)
					writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
				}})
		}})
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	staff := e.login("sam@example.com", testPassword)
	resp := e.postForm(staff, "/api/admin/test-admin-only", nil)
	body := readBody(resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error":"Only admins can test."`) || called.Load() != 0 {
		t.Fatalf("staff: %d %s (handler ran %d times)", resp.StatusCode, body, called.Load())
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/admin/test-admin-only", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(resp); resp.StatusCode != http.StatusOK || called.Load() != 1 {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
}

// The roles of issue 12 §3, pinned: what staff may do, and what only admins may.
func TestDeclaredRolesFollowTheRoleRules(t *testing.T) {
	want := map[string]role{
		// staff: read every screen, send offers, mint offer links, retry a failed job
		"GET /admin": roleStaff, "GET /admin/outbox": roleStaff, "GET /admin/webhooks/:id": roleStaff,
		"POST /admin/suggestions/send": roleStaff, "POST /admin/suggestions/link": roleStaff,
		"POST /admin/jobs/:id/retry": roleStaff, "POST /api/admin/outbox/retry": roleStaff,
		"POST /api/admin/offers/send": roleStaff,
		// admin: cancel jobs, run the outbox, replay webhooks, replication, settings, users
		"POST /admin/jobs/:id/cancel": roleAdmin, "POST /admin/outbox/run": roleAdmin,
		"POST /admin/webhooks/:id/replay": roleAdmin, "POST /admin/replication/sync": roleAdmin,
		"POST /admin/alerts/zoho/clear": roleAdmin, "GET /admin/users": roleAdmin, "POST /admin/users": roleAdmin,
		"POST /admin/users/:id/disable": roleAdmin, "POST /admin/users/:id/enable": roleAdmin,
	}
	got := map[string]role{}
	for _, rt := range declaredAdminRoutes() {
		got[rt.method+" "+rt.path] = rt.role
	}
	for k, r := range want {
		if g, ok := got[k]; !ok || g != r {
			t.Errorf("%s: declared %v (found %v), want %v", k, g, ok, r)
		}
	}
	// Every other state-changing admin UI route is admin-only unless listed above: a new action
	// must be placed on purpose.
	for k, r := range got {
		if _, listed := want[k]; !listed && strings.HasPrefix(k, "POST /admin/") && r == roleStaff &&
			k != "POST /admin/logout" {
			t.Errorf("%s is open to staff but not in the role rules", k)
		}
	}
}
