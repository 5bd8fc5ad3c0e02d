package app

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// postStripe sends a body with a Stripe-Signature header to the running server.
func (e *adminEnv) postStripe(body []byte, signature string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/api/stripe/webhook", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Refused requests of both providers (a wrong signature or secret, a malformed body) cost no
// write when they arrive; once flushed they are listed as "refused" with their reasons (two
// reasons of one provider in the same minute each keep their row), under a status filter of
// their own, and each has a page saying what refused means and what to check, with no replay.
func TestRefusedDeliveriesListedWithTheirReasons(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)}
	e := newAdminEnv(t, adminEnvOptions{clock: clock, configure: func(c *Config) {
		c.ZohoWebhookSecret = zohoTestSecret
		c.StripeWebhookSecret = stripeTestSecrets[0]
	}})
	e.addUser("staff@example.com", store.RoleStaff, "staff-password-1")
	c := e.login("staff@example.com", "staff-password-1")

	event := stripeFixtureEvent(t, "checkout.session.completed", "evt_refused_1", nil)
	truncated := event[:len(event)/2]
	_, writes, _ := e.db.CommitStats()
	if code := e.postStripe(event, signStripe("whsec_not_this_endpoint", time.Now(), event)); code != http.StatusBadRequest {
		t.Fatalf("wrong signature: %d", code)
	}
	if code := e.postStripe(event, signStripe("whsec_not_this_endpoint", time.Now(), event)); code != http.StatusBadRequest {
		t.Fatalf("wrong signature again: %d", code)
	}
	if code := e.postStripe(truncated, signStripe(stripeTestSecrets[0], time.Now(), truncated)); code != http.StatusBadRequest {
		t.Fatalf("malformed Stripe body: %d", code)
	}
	if code := e.postZoho("not-the-secret", "application/json", `{"event_type":"email_opened","email":"a@b.example"}`); code != http.StatusUnauthorized {
		t.Fatalf("wrong Zoho secret: %d", code)
	}
	if code := e.postZoho(zohoTestSecret, "application/json", `{"event_type":"email_opened",`); code != http.StatusBadRequest {
		t.Fatalf("malformed Zoho body: %d", code)
	}
	if _, w, _ := e.db.CommitStats(); w != writes {
		t.Fatalf("refused requests cost %d write(s)", w-writes)
	}
	if err := e.srv.refusals.flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	reasons := []struct{ provider, reason, check string }{
		{"stripe", "signature does not match STRIPE_WEBHOOK_SECRET", "Check that STRIPE_WEBHOOK_SECRET holds this endpoint&#39;s signing secret"},
		{"stripe", "body is not valid JSON", "not an event this service reads"},
		{"zoho", "X-Zoho-Secret does not match ZOHO_WEBHOOK_SECRET", "with the value of ZOHO_WEBHOOK_SECRET"},
		{"zoho", "body is not valid JSON", "must post event_type and email or contact_id"},
	}
	// The list: one row per provider and reason in this minute, labelled refused, with counts.
	for _, path := range []string{"/admin/webhooks?status=refused", "/admin/webhooks?status=rejected"} {
		code, body := e.get(c, path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", path, code)
		}
		for _, r := range reasons {
			if !strings.Contains(body, r.reason) {
				t.Errorf("%s lacks the reason %q", path, r.reason)
			}
		}
		if n := strings.Count(body, `>refused</span>`); n != 4 {
			t.Errorf("%s: %d rows labelled refused, want 4", path, n)
		}
		if !strings.Contains(body, `<option value="refused" selected>refused</option>`) || !strings.Contains(body, "in the minute 2 Mar 2026 09:00 UTC") {
			t.Errorf("%s: no refused filter selected or no minute shown", path)
		}
		if !regexp.MustCompile(`<td class="num">2</td>`).MatchString(body) {
			t.Errorf("%s: the two wrong signatures are not counted on one row", path)
		}
	}
	if _, body := e.get(c, "/admin/webhooks?status=refused&provider=zoho"); strings.Contains(body, "STRIPE_WEBHOOK_SECRET") ||
		!strings.Contains(body, "ZOHO_WEBHOOK_SECRET") {
		t.Error("the provider filter does not narrow refused rows")
	}
	if _, body := e.get(c, "/admin/webhooks?status=processed"); strings.Contains(body, ">refused</span>") || !strings.Contains(body, "No deliveries match") {
		t.Error("refused rows listed under processed")
	}

	// Each row's page: reason, count, first and last time, the meaning and what to check; no
	// replay, and never a secret's value.
	for _, r := range reasons {
		var id int64
		if err := e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE provider = ? AND status = 'rejected' AND error = ?`,
			r.provider, r.reason).Scan(&id); err != nil {
			t.Fatalf("%s %q: %v", r.provider, r.reason, err)
		}
		page := fmt.Sprintf("/admin/webhooks/%d", id)
		code, body := e.get(c, page)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", page, code)
		}
		for _, want := range []string{r.reason, r.check, "Refused means the request was turned away before it was trusted",
			"<dt>First</dt>", "<dt>Last</dt>", "2 Mar 2026 09:00 UTC", ">refused</span>"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s (%s) lacks %q", page, r.reason, want)
			}
		}
		if strings.Contains(body, "/replay") || strings.Contains(body, zohoTestSecret) || strings.Contains(body, stripeTestSecrets[0]) {
			t.Errorf("%s offers a replay or shows a secret", page)
		}
		if resp := e.postForm(c, page+"/replay", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("staff replay of a refused row: %d", resp.StatusCode)
		}
	}
	if n := e.count(`SELECT count(*) FROM webhook_deliveries WHERE provider = 'stripe' AND status = 'rejected'
		AND substr(event_id, 1, 25) = 'rejected:2026-03-02T09:00'`); n != 2 {
		t.Fatalf("%d Stripe refusal rows in the minute, want one per reason (2)", n)
	}
}

// An admin cannot replay a refused row either: 409 with why.
func TestRefusedDeliveryIsNotReplayable(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.ZohoWebhookSecret = zohoTestSecret }})
	e.addUser("admin@example.com", store.RoleAdmin, "admin-password-1")
	c := e.login("admin@example.com", "admin-password-1")
	if code := e.postZoho("", "application/json", `{}`); code != http.StatusUnauthorized {
		t.Fatalf("no secret: %d", code)
	}
	if err := e.srv.refusals.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE error = 'no X-Zoho-Secret header'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	resp := e.postForm(c, fmt.Sprintf("/admin/webhooks/%d/replay", id), nil)
	if body := readBody(resp); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "Refused requests cannot be replayed") {
		t.Fatalf("replay of a refused row: %d", resp.StatusCode)
	}
}
