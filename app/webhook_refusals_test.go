package app

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// Refused Zoho requests are counted in memory (no write), the dashboard shows them at once,
// and the once-a-minute flush writes one aggregate row without counting them twice.
func TestWebhookRefusalsCountedInMemory(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.ZohoWebhookSecret = zohoTestSecret }})
	e.addUser("staff@example.com", store.RoleStaff, "staff-password-1")
	c := e.login("staff@example.com", "staff-password-1")
	_, writes, _ := e.db.CommitStats()
	for _, secret := range []string{"", "wrong", "zoho-webhook-secreT"} {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/api/zoho/webhook", strings.NewReader(`{"event_type":"email_opened","email":"a@b.example"}`))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Zoho-Secret", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("secret %q: %d", secret, resp.StatusCode)
		}
	}
	if _, w, _ := e.db.CommitStats(); w != writes {
		t.Fatalf("refused Zoho requests cost %d write(s)", w-writes)
	}
	alert := "3 refused webhook requests in the last 24 hours" // the health table's Webhooks part
	if _, page := e.get(c, "/admin"); !strings.Contains(page, alert) {
		t.Fatalf("dashboard before the flush lacks %q", alert)
	}
	if _, m := e.get(c, "/metrics"); !strings.Contains(m, `technifold_webhook_refused_total{provider="zoho",reason="bad_secret"} 2`) ||
		!strings.Contains(m, `technifold_webhook_refused_total{provider="zoho",reason="no_secret"} 1`) {
		t.Fatal("/metrics lacks the Zoho refusals")
	}
	if err := e.srv.refusals.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rows, attempts int
	if err := e.db.Read().QueryRow(`SELECT count(*), COALESCE(sum(attempts), 0) FROM webhook_deliveries
		WHERE provider = 'zoho' AND status = 'rejected'`).Scan(&rows, &attempts); err != nil {
		t.Fatal(err)
	}
	if rows < 2 || rows > 4 || attempts != 3 { // two reasons (no header, wrong secret), in one minute or two
		t.Fatalf("aggregate: %d rows, %d attempts", rows, attempts)
	}
	if _, page := e.get(c, "/admin"); !strings.Contains(page, alert) {
		t.Fatalf("dashboard after the flush lacks %q", alert)
	}
	// Nothing left to write: a second flush is no write.
	_, writes, _ = e.db.CommitStats()
	if err := e.srv.refusals.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, w, _ := e.db.CommitStats(); w != writes {
		t.Fatal("an empty flush wrote")
	}
}
