package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// TestDashboardHealthBanner renders the dashboard through the real server: with every
// integration off and no problem the banner is green and names the parts that are off; a
// failed job and a refused webhook turn it red and the health table says what and since when.
func TestDashboardHealthBanner(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("admin@example.com", store.RoleAdmin, "correct horse battery")
	c := e.login("admin@example.com", "correct horse battery")
	status, body := e.get(c, "/admin")
	if status != http.StatusOK {
		t.Fatalf("dashboard: %d", status)
	}
	if !strings.Contains(body, "Every configured part is healthy. Off: Stripe, Zoho CRM, Zoho Books, E-mail, Replication and backups, Webhooks.") {
		t.Errorf("green banner naming the parts off missing:\n%s", body)
	}
	if !strings.Contains(body, "Off: set STRIPE_SECRET_KEY") {
		t.Error("the Stripe line does not name the variable that turns it on")
	}
	if strings.Contains(body, "No alerts") {
		t.Error("the old all-green notice is still shown")
	}

	now := store.FormatTime(e.db.Now().Add(-2 * time.Hour))
	e.exec(`INSERT INTO outbox (job_type, status, attempts, last_error, created_at, updated_at, scheduled_for)
		VALUES ('send_offer_email', 'dead', 5, 'smtp refused', ?1, ?1, ?1)`, now)
	_, body = e.get(c, "/admin")
	if !strings.Contains(body, `class="banner error" role="alert">Problems: E-mail, Outbox.`) {
		t.Errorf("red banner naming the outbox missing:\n%s", body)
	}
	if !strings.Contains(body, "1 dead job.") || !strings.Contains(body, "Since "+absoluteTime(e.db.Now().Add(-2*time.Hour))) {
		t.Errorf("outbox line does not say what and since when:\n%s", body)
	}

	// With the Stripe webhook configured, a refused request in the last 24 hours is a problem.
	e2 := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.StripeWebhookSecret = "whsec_test" }})
	e2.addUser("admin@example.com", store.RoleAdmin, "correct horse battery")
	c2 := e2.login("admin@example.com", "correct horse battery")
	e2.exec(`INSERT INTO webhook_deliveries (provider, event_id, received_at, status, error) VALUES ('stripe', NULL, ?, 'rejected', 'bad signature')`,
		store.FormatTime(e2.db.Now().Add(-time.Hour)))
	e2.exec(`INSERT INTO webhook_deliveries (provider, event_id, received_at, status, error) VALUES ('stripe', 'old', ?, 'rejected', 'bad signature')`,
		store.FormatTime(e2.db.Now().Add(-30*time.Hour)))
	_, body = e2.get(c2, "/admin")
	if !strings.Contains(body, "Problems: Stripe, Webhooks.") || !strings.Contains(body, "1 refused webhook request in the last 24 hours") {
		t.Errorf("refused webhook not reported (or the 30-hour-old one counted):\n%s", body)
	}
}
