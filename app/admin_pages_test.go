package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

func TestAdminPagesRender(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	sc := seedShowcase(t, e)
	e.exec(`UPDATE companies SET company_name = '<script>alert(1)</script> Ltd' WHERE company_id = ?`, sc.offerCompany)
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	var order string
	_ = e.db.Read().QueryRow(`SELECT order_id FROM orders WHERE status = 'paid' ORDER BY created_at DESC LIMIT 1`).Scan(&order)
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/admin", 200, []string{"Outbox", "Events in the last 24 hours", "Checkout funnel", "<svg class=\"chart\"", "Replication is off"}},
		{"/admin/timeline", 200, []string{`class="timeline"`, `rel="next"`, "ago"}},
		{"/admin/timeline?source=zoho&event=email_opened", 200, []string{"Opened an e-mail"}},
		{"/admin/timeline?contact=nobody@example.com", 404, []string{"Engagement timeline", "no contact has the e-mail address nobody@example.com"}},
		{"/admin/timeline?from=31/01/2026", 400, []string{"from must be a date"}},
		{"/admin/timeline?after=garbage", 400, []string{"invalid cursor"}},
		{"/admin/suggestions", 200, []string{"Send offer", "Sending offers is not available", "Offer links are not available"}},
		{"/admin/suggestions?company=" + sc.offerCompany, 200, []string{"&lt;script&gt;alert(1)&lt;/script&gt; Ltd"}},
		{"/admin/companies?q=%3Cscript", 200, []string{"&lt;script&gt;"}},
		{"/admin/companies?sort=activity", 200, []string{"Engagement score"}},
		{"/admin/companies/" + sc.offerCompany, 200, []string{"Contacts", "What the reorder page offers", "subscribed", "Full timeline"}},
		{"/admin/companies/NOPE", 404, []string{"not found"}},
		{"/admin/orders", 200, []string{"paid total", order, "https://dashboard.stripe.com/payments/pi_showcase_"}},
		{"/admin/orders?status=paid&from=2020-01-01", 200, []string{order}},
		{"/admin/orders?status=lost", 400, []string{"status must be one of"}},
		{"/admin/outbox", 200, []string{"Run due jobs now", adminTestJob}},
		{"/admin/outbox?status=weird", 400, []string{"unknown job status"}},
		{fmt.Sprintf("/admin/jobs/%d", sc.deadJob), 200, []string{"Error history", "503 service unavailable", "Retry now"}},
		{"/admin/jobs/999999", 404, []string{"not found"}},
		{"/admin/webhooks?status=rejected", 200, []string{"rejected"}},
		{fmt.Sprintf("/admin/webhooks/%d", sc.deliveryID), 200, []string{"Replay this delivery", "checkout.session.completed"}},
		{"/admin/users", 200, []string{"ann@example.com", "Add a user"}},
		{"/admin/audit", 200, []string{"login"}},
		{"/admin/static/admin.css", 200, []string{"--accent"}},
	} {
		status, body := e.get(c, tc.path)
		if status != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, status, tc.status)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tc.path, w)
			}
		}
		if strings.Contains(body, "<script>alert(1)") {
			t.Errorf("GET %s: unescaped company name", tc.path)
		}
	}
	resp, _ := c.Get(e.url + "/admin")
	resp.Body.Close()
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q", h, got)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestAdminPostActionsRedirectWithANotice(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	sc := seedShowcase(t, e)
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	resp := e.postForm(c, fmt.Sprintf("/admin/jobs/%d/cancel", sc.deadJob), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if status, body := e.get(c, resp.Header.Get("Location")); status != 200 || !strings.Contains(body, "is cancelled") {
		t.Fatalf("notice after cancel: %d", status)
	}
	if _, body := e.get(c, "/admin/outbox"); strings.Contains(body, "is cancelled") {
		t.Fatal("the notice must show once")
	}
	if resp := e.postForm(c, fmt.Sprintf("/admin/jobs/%d/cancel", sc.deadJob), nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("cancelling twice: %d", resp.StatusCode)
	}
	resp = e.postForm(c, "/admin/outbox/run", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("run now: %d", resp.StatusCode)
	}
	if resp := e.postForm(c, "/admin/replication/sync", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sync without replication: %d", resp.StatusCode)
	}
	if resp := e.postForm(c, "/admin/suggestions/send", url.Values{"company_id": {sc.offerCompany}}); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("send with e-mail off: %d", resp.StatusCode)
	}
	var rejected int64
	_ = e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE status = 'rejected'`).Scan(&rejected)
	if resp := e.postForm(c, fmt.Sprintf("/admin/webhooks/%d/replay", rejected), nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("replaying a rejected request: %d", resp.StatusCode)
	}
	actions := strings.Join(e.auditActions(), " ")
	for _, a := range []string{"outbox.cancel", "outbox.run", "replication.sync"} {
		if !strings.Contains(actions, a) {
			t.Errorf("audit lacks %s: %s", a, actions)
		}
	}
}

func TestZohoAlertShowsAndClears(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	e.exec(`INSERT INTO integration_state (name, value, updated_at) VALUES ('zoho_auth_alert', ?, ?),
		('backup_verify', '{"ok":false,"detail":"row counts differ: orders 10 vs 9"}', ?)`,
		`{"message":"invalid_client","at":"2026-01-01T00:00:00Z","credentials":"abc"}`,
		store.FormatTime(e.db.Now()), store.FormatTime(e.db.Now()))
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin")
	for _, w := range []string{"Zoho Books refused our credentials", "invalid_client", "Backup verification failed", "row counts differ"} {
		if !strings.Contains(body, w) {
			t.Errorf("dashboard lacks %q", w)
		}
	}
	resp := e.postForm(c, "/admin/alerts/zoho/clear", nil)
	resp.Body.Close()
	if _, body := e.get(c, "/admin"); strings.Contains(body, "refused our credentials") || !strings.Contains(body, "Zoho alert cleared") {
		t.Fatal("the alert did not clear")
	}
}

func TestUserCommand(t *testing.T) {
	cfg := testConfig(t)
	env := func(stdin string) (Env, *bytes.Buffer, *bytes.Buffer) {
		var out, errb bytes.Buffer
		return Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == "DATABASE_PATH" {
				return cfg.DatabasePath
			}
			return ""
		}}, &out, &errb
	}
	ctx := context.Background()
	en, out, errb := env("a very good password\n")
	if code := Main(ctx, []string{"user", "create", "--email", "ann@example.com", "--role", "admin"}, en); code != 0 {
		t.Fatalf("create: %d %s", code, errb)
	}
	if strings.Contains(out.String(), "password:") {
		t.Fatalf("a password read from stdin must not be printed: %s", out)
	}
	en, out, _ = env("")
	if code := Main(ctx, []string{"user", "create", "--email", "sam@example.com"}, en); code != 0 {
		t.Fatal("create with a generated password failed")
	}
	i := strings.Index(out.String(), "password: ")
	if i < 0 {
		t.Fatalf("no generated password printed: %s", out)
	}
	generated := strings.Fields(out.String()[i+len("password: "):])[0]
	en, _, errb = env("short\n")
	if code := Main(ctx, []string{"user", "create", "--email", "x@example.com"}, en); code != 1 || !strings.Contains(errb.String(), "at least 10") {
		t.Fatalf("short password: %d %s", code, errb)
	}
	en, _, errb = env("")
	if code := Main(ctx, []string{"user", "create", "--email", "ANN@example.com"}, en); code != 1 || !strings.Contains(errb.String(), "already exists") {
		t.Fatalf("duplicate: %d %s", code, errb)
	}
	en, _, errb = env("")
	if code := Main(ctx, []string{"user", "create", "--email", "y@example.com", "--role", "owner"}, en); code != 1 || !strings.Contains(errb.String(), "admin or staff") {
		t.Fatalf("bad role: %d %s", code, errb)
	}
	en, out, _ = env("")
	if code := Main(ctx, []string{"user", "disable", "--email", "sam@example.com"}, en); code != 0 {
		t.Fatal("disable failed")
	}
	en, out, _ = env("")
	Main(ctx, []string{"user", "list"}, en)
	if !strings.Contains(out.String(), "sam@example.com") || !strings.Contains(out.String(), "disabled") {
		t.Fatalf("list: %s", out)
	}
	en, _, _ = env("")
	if code := Main(ctx, []string{"user", "frobnicate"}, en); code != 2 {
		t.Fatalf("unknown action: %d", code)
	}
	db := openTestDBAt(t, cfg.DatabasePath)
	if !passwordSignsIn(ctx, db, "ann@example.com", "a very good password") {
		t.Fatal("the password read from stdin does not sign in")
	}
	if passwordSignsIn(ctx, db, "sam@example.com", generated) {
		t.Fatal("a disabled user signed in")
	}
	entries, _ := db.ListAudit(ctx, store.AuditFilter{Actor: "cli"})
	if len(entries) != 3 {
		t.Fatalf("cli audit entries: %+v", entries)
	}
}

func TestDashboardShowsReplicationAndSyncsNow(t *testing.T) {
	var repl *store.Replicator
	e := newAdminEnv(t, adminEnvOptions{before: func(s *Server) {
		r, err := store.NewReplicator(s.cfg.DatabasePath, store.ReplicationConfig{
			ReplicaURL: "file://" + filepath.Join(t.TempDir(), "replica")}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close(context.Background()) })
		repl = r
		if err := s.attachReplication(r); err != nil {
			t.Fatal(err)
		}
	}})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	resp := e.postForm(c, "/admin/replication/sync", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sync now: %d", resp.StatusCode)
	}
	_, body := e.get(c, "/admin")
	for _, w := range []string{"Replica is up to date.", "file", "Local position", "Sync now"} {
		if !strings.Contains(body, w) {
			t.Errorf("dashboard lacks %q", w)
		}
	}
	if st := repl.Status(context.Background()); !st.Running {
		t.Fatalf("replicator not running: %+v", st)
	}
}
