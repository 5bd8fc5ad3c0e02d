package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/technifold/technifold/store"
)

const testPassword = "correct horse battery"

func sessionCookie(t *testing.T, e *adminEnv, c *http.Client) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(e.url)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == adminCookie {
			return ck
		}
	}
	t.Fatal("no tf_admin cookie")
	return nil
}

func TestAdminLoginStoresOnlyTheSessionHashAndLogoutEndsIt(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)

	c := e.client()
	resp := e.postForm(c, "/admin/login", url.Values{"email": {"ANN@example.com"}, "password": {testPassword},
		"next": {"/admin/outbox?status=dead"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/outbox?status=dead" {
		t.Fatalf("login: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var set *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == adminCookie {
			set = ck
		}
	}
	resp.Body.Close()
	if set == nil || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Secure || set.Path != "/" {
		t.Fatalf("session cookie attributes: %+v", set)
	}
	var stored string
	if err := e.db.Read().QueryRow(`SELECT id_hash FROM sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == set.Value || stored != hashSecret(set.Value) {
		t.Fatalf("sessions.id_hash must be the SHA-256 of the cookie, got %q for cookie %q", stored, set.Value)
	}
	if status, body := e.get(c, "/admin"); status != http.StatusOK || !strings.Contains(body, "ann@example.com") {
		t.Fatalf("dashboard after login: %d", status)
	}
	if resp := e.postForm(c, "/admin/logout", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	var n int
	_ = e.db.Read().QueryRow(`SELECT count(*) FROM sessions`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d sessions left after logout", n)
	}
	// The old cookie value no longer works even if a browser kept it.
	replay := e.client()
	u, _ := url.Parse(e.url)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: adminCookie, Value: set.Value}})
	if status, _ := e.get(replay, "/admin"); status != http.StatusSeeOther {
		t.Fatalf("old session after logout: %d", status)
	}
	if got := e.auditActions(); len(got) < 2 || got[0] != "logout" || got[1] != "login" {
		t.Fatalf("audit actions = %v", got)
	}
}

func TestAdminSessionIdleAndAbsoluteExpiry(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	e.addUser("ann@example.com", store.RoleStaff, testPassword)

	idle := e.login("ann@example.com", testPassword)
	clock.Advance(sessionIdle - time.Minute)
	if status, _ := e.get(idle, "/admin"); status != http.StatusOK {
		t.Fatalf("within the idle window: %d", status)
	}
	clock.Advance(sessionIdle - time.Minute) // activity above moved the idle clock
	if status, _ := e.get(idle, "/admin"); status != http.StatusOK {
		t.Fatalf("activity must extend the idle window: %d", status)
	}
	clock.Advance(sessionIdle)
	if status, _ := e.get(idle, "/admin"); status != http.StatusSeeOther {
		t.Fatalf("after %s idle: %d, want a redirect to sign in", sessionIdle, status)
	}

	busy := e.login("ann@example.com", testPassword)
	for elapsed := time.Duration(0); elapsed < sessionAbsolute-time.Hour; elapsed += time.Hour {
		clock.Advance(time.Hour)
		if status, _ := e.get(busy, "/admin/timeline"); status != http.StatusOK {
			t.Fatalf("active session at %s: %d", elapsed, status)
		}
	}
	clock.Advance(2 * time.Hour)
	if status, _ := e.get(busy, "/admin/timeline"); status != http.StatusSeeOther {
		t.Fatalf("after the absolute lifetime: %d, want a redirect", status)
	}
}

func TestAdminLoginThrottlesPerAccount(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.client()
	for i := range 5 {
		resp := e.postForm(c, "/admin/login", url.Values{"email": {"ann@example.com"}, "password": {"wrong password"}})
		if body := readBody(resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong e-mail or password") {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	resp := e.postForm(c, "/admin/login", url.Values{"email": {"ann@example.com"}, "password": {testPassword}})
	body := readBody(resp)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-in attempts") ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt (right password): %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	clock.Advance(16 * time.Minute)
	e.login("ann@example.com", testPassword)
	if n := strings.Count(strings.Join(e.auditActions(), " "), "login.failed"); n != 5 {
		t.Fatalf("%d login.failed audit entries, want 5", n)
	}
}

func TestAdminRoutesRefuseRequestsWithoutASession(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.AdminAPIToken = "api-token-123" }})
	c := e.client()
	for _, path := range []string{"/admin", "/admin/timeline?source=web", "/admin/users", "/admin/jobs/1"} {
		resp, err := c.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
			t.Errorf("GET %s without a session: %d → %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if resp := e.postForm(c, "/admin/outbox/run", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("POST without a session: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/api/admin/engagement-feed", "", http.StatusUnauthorized},
		{"GET", "/api/admin/suggestions", "Bearer wrong", http.StatusUnauthorized},
		{"POST", "/api/admin/outbox/retry", "", http.StatusUnauthorized},
		{"POST", "/api/admin/offers/send", "", http.StatusUnauthorized},
		{"GET", "/api/admin/companies", "", http.StatusUnauthorized},
		{"GET", "/api/admin/engagement-feed", "Bearer api-token-123", http.StatusOK},
		{"GET", "/api/admin/suggestions", "bearer api-token-123", http.StatusOK},
	} {
		req, _ := http.NewRequest(tc.method, e.url+tc.path, strings.NewReader(`{}`))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(resp)
		if resp.StatusCode != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s (%q): %d %s, want %d JSON", tc.method, tc.path, tc.auth, resp.StatusCode, body, tc.want)
		}
	}
}

func TestAdminRefusesCrossOriginPosts(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.AdminAPIToken = "api-token-123" }})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	for _, path := range []string{"/admin/outbox/run", "/admin/users", "/admin/logout", "/api/admin/outbox/retry", "/admin/login"} {
		for _, hdr := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			{"Origin": "https://evil.example"}, // older browsers: Origin only
		} {
			req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader("email=x%40y.z&role=admin"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("cross-origin POST %s %v: %d, want 403", path, hdr, resp.StatusCode)
			}
		}
	}
	if users, _ := e.db.ListUsers(context.Background()); len(users) != 1 {
		t.Fatalf("a cross-origin POST created a user: %d users", len(users))
	}
	// The session still works for same-origin requests.
	if status, _ := e.get(c, "/admin"); status != http.StatusOK {
		t.Fatalf("dashboard: %d", status)
	}
}

func TestStaffCannotManageUsers(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("boss@example.com", store.RoleAdmin, testPassword)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	staff := e.login("sam@example.com", testPassword)
	if status, body := e.get(staff, "/admin/users"); status != http.StatusForbidden || !strings.Contains(body, "Only admins") {
		t.Fatalf("staff GET /admin/users: %d", status)
	}
	if resp := e.postForm(staff, "/admin/users", url.Values{"email": {"x@example.com"}, "role": {"admin"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("staff POST /admin/users: %d", resp.StatusCode)
	}
	if _, body := e.get(staff, "/admin"); strings.Contains(body, `href="/admin/users"`) {
		t.Fatal("staff see the Users link")
	}

	admin := e.login("boss@example.com", testPassword)
	resp := e.postForm(admin, "/admin/users", url.Values{"email": {"new@example.com"}, "role": {"staff"}})
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Created new@example.com") || !strings.Contains(body, "shown only now") {
		t.Fatalf("create user: %d", resp.StatusCode)
	}
	u, err := e.db.UserByEmail(context.Background(), "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if resp := e.postForm(admin, "/admin/users/"+strconv.FormatInt(u.ID, 10)+"/disable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if u, _ = e.db.UserByEmail(context.Background(), "new@example.com"); !u.Disabled {
		t.Fatal("user not disabled")
	}
	// Staff whose account is disabled lose their session at once.
	if resp := e.postForm(admin, "/admin/users/"+strconv.FormatInt(e.mustUser("sam@example.com").ID, 10)+"/disable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable sam: %d", resp.StatusCode)
	}
	if status, _ := e.get(staff, "/admin"); status != http.StatusSeeOther {
		t.Fatalf("disabled user's session: %d", status)
	}
	actions := strings.Join(e.auditActions(), " ")
	for _, a := range []string{"user.create", "user.disable"} {
		if !strings.Contains(actions, a) {
			t.Errorf("audit log lacks %s: %s", a, actions)
		}
	}
}

func (e *adminEnv) mustUser(email string) store.User {
	e.t.Helper()
	u, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func TestSetupLinkCreatesTheFirstAdminOnce(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	var out bytes.Buffer
	print := func(f string, a ...any) { out.WriteString(strings.TrimSpace(fmt.Sprintf(f, a...)) + "\n") }
	if err := BootstrapAdmin(context.Background(), e.db, e.cfg, false, print); err != nil {
		t.Fatal(err)
	}
	i := strings.Index(out.String(), "/admin/setup?token=")
	if i < 0 {
		t.Fatalf("no setup link printed: %q", out.String())
	}
	token := strings.Fields(out.String()[i+len("/admin/setup?token="):])[0]
	raw, _, _, _ := e.db.GetState(context.Background(), setupState)
	if strings.Contains(raw, token) {
		t.Fatal("the setup token is stored in clear")
	}
	c := e.client()
	if status, body := e.get(c, "/admin/setup?token=wrong"); status != http.StatusGone || strings.Contains(body, `name="password"`) {
		t.Fatalf("wrong token: %d", status)
	}
	if status, _ := e.get(c, "/admin/setup?token="+token); status != http.StatusOK {
		t.Fatalf("setup form: %d", status)
	}
	form := url.Values{"token": {token}, "email": {"first@example.com"}, "password": {testPassword}, "confirm": {testPassword}}
	resp := e.postForm(c, "/admin/setup", form)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("setup: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, body := e.get(c, "/admin"); status != http.StatusOK || !strings.Contains(body, "first@example.com") {
		t.Fatalf("signed in after setup: %d", status)
	}
	form.Set("email", "second@example.com")
	if resp := e.postForm(e.client(), "/admin/setup", form); resp.StatusCode != http.StatusGone {
		t.Fatalf("second use of the link: %d", resp.StatusCode)
	}
	if u := e.mustUser("first@example.com"); u.Role != store.RoleAdmin {
		t.Fatalf("role = %s", u.Role)
	}
	out.Reset()
	if err := BootstrapAdmin(context.Background(), e.db, e.cfg, true, print); err != nil {
		t.Fatal(err)
	}
	// With users, a start creates nothing and only says how to set a password.
	if got := out.String(); strings.Contains(got, "setup?token") || strings.Contains(got, "created") ||
		!strings.Contains(got, "technifold user password --email") {
		t.Fatalf("bootstrap with users printed %q", got)
	}
	if n, _ := e.db.CountUsers(context.Background()); n != 1 {
		t.Fatalf("%d users", n)
	}
}

func TestSetupLinkExpiresAfterAnHour(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	token, err := CreateSetupToken(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(setupTTL + time.Second)
	form := url.Values{"token": {token}, "email": {"late@example.com"}, "password": {testPassword}, "confirm": {testPassword}}
	if resp := e.postForm(e.client(), "/admin/setup", form); resp.StatusCode != http.StatusGone {
		t.Fatalf("expired link: %d", resp.StatusCode)
	}
	if n, _ := e.db.CountUsers(context.Background()); n != 0 {
		t.Fatalf("%d users", n)
	}
}

func TestBootstrapAdminFromEnvironmentAndDemo(t *testing.T) {
	for _, tc := range []struct {
		name, email, password string
		demo                  bool
		wantEmail, wantOut    string
	}{
		{"environment", "ops@example.com", testPassword, false, "ops@example.com", "created from ADMIN_EMAIL"},
		{"demo", "", "", true, demoAdminEmail, "with password "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.AdminEmail, cfg.AdminPassword = tc.email, tc.password
			db := openTestDBAt(t, cfg.DatabasePath)
			var out bytes.Buffer
			if err := BootstrapAdmin(context.Background(), db, cfg, tc.demo, func(f string, a ...any) {
				out.WriteString(fmt.Sprintf(f, a...))
			}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output %q lacks %q", out.String(), tc.wantOut)
			}
			u, err := db.UserByEmail(context.Background(), tc.wantEmail)
			if err != nil || u.Role != store.RoleAdmin {
				t.Fatalf("admin %s: %v %+v", tc.wantEmail, err, u)
			}
			if tc.demo {
				pw := strings.Fields(out.String()[strings.Index(out.String(), "with password ")+len("with password "):])[0]
				if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)); err != nil {
					t.Fatalf("printed demo password does not sign in: %v", err)
				}
				// Every later start says how to set a new one, without the password.
				for i := 0; i < 2; i++ {
					out.Reset()
					if err := BootstrapAdmin(context.Background(), db, cfg, true, func(f string, a ...any) {
						out.WriteString(fmt.Sprintf(f, a...))
					}); err != nil {
						t.Fatal(err)
					}
					if got := out.String(); !strings.Contains(got, "technifold user password --email "+demoAdminEmail) ||
						strings.Contains(got, pw) {
						t.Fatalf("restart %d printed %q", i+1, got)
					}
				}
			}
		})
	}
}
