package console

import (
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
	"github.com/technifold/technifold/ui"
)

func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

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

// An admin-only JSON route refuses a staff session with a JSON 403 and takes the bearer token
// (which acts as an admin); a staff route takes both.
func TestAdminOnlyAPIRouteRefusesStaffAndTakesTheToken(t *testing.T) {
	const token = "api-token-0123456789abcdef"
	var called atomic.Int32
	e := newTestEnv(t, &fakeServices{token: token}, adminRoute{method: http.MethodPost, path: "/api/admin/test-admin-only", role: roleAdmin,
		api: true, deny: "Only admins can test.", handle: func(_ *Console, w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
			called.Add(1)
			web.JSON(w, http.StatusOK, map[string]bool{"ok": true})
		}})
	e.addUser("sam@example.com", store.RoleStaff)
	staff := e.login("sam@example.com")
	resp := e.post(staff, "/api/admin/test-admin-only", nil, "application/x-www-form-urlencoded")
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
		// staff: read every screen, send offers, mint offer and payment links, retry a failed job
		"GET /admin": roleStaff, "GET /admin/outbox": roleStaff, "GET /admin/webhooks/:id": roleStaff,
		"POST /admin/suggestions/send": roleStaff, "POST /admin/suggestions/link": roleStaff,
		"POST /admin/suggestions/dismiss": roleStaff, "POST /admin/suggestions/snooze": roleStaff,
		"POST /admin/suggestions/restore": roleStaff,
		"POST /admin/jobs/:id/retry":      roleStaff, "POST /api/admin/outbox/retry": roleStaff,
		"POST /api/admin/offers/send":            roleStaff,
		"POST /admin/companies/:id/payment-link": roleStaff, // create payment links
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
