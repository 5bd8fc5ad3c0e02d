package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// staffCookie signs a staff member in directly (a session row) and returns the admin cookie.
func (e *offerEnv) staffCookie(t *testing.T, email string) *http.Cookie {
	t.Helper()
	ctx := context.Background()
	user, _, err := CreateUser(ctx, e.db, email, store.RoleStaff, "", store.AuditEntry{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	id := newSecret()
	err = e.db.Update(ctx, func(tx *store.Tx) error {
		return tx.CreateSession(ctx, store.Session{IDHash: hashSecret(id), UserID: user.ID, ExpiresAt: tx.Now().Add(sessionAbsolute)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: adminCookie, Value: id}
}

// engagementOf is what staff see move: the company's engagement score and its suggestions.
func (e *offerEnv) engagementOf(t *testing.T, company string) (int, string) {
	t.Helper()
	sum, err := e.db.CompanySummaryByID(context.Background(), company)
	if err != nil {
		t.Fatal(err)
	}
	var actions string
	if err := e.db.Read().QueryRow(`SELECT COALESCE(group_concat(action_type || ':' || priority_score, ','), '')
		FROM (SELECT action_type, priority_score FROM v_next_best_actions WHERE company_id = ? ORDER BY action_type)`, company).
		Scan(&actions); err != nil {
		t.Fatal(err)
	}
	return sum.Score, actions
}

func TestOfferStaffPreviewRecordsNothing(t *testing.T) {
	e := newOfferEnv(t, nil)
	staff := e.staffCookie(t, "sam@technifold.test")
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	score, actions := e.engagementOf(t, "ACME")
	events := e.count(t, `SELECT count(*) FROM engagement_events`)

	// Five previews: the admin's Preview button (?preview=1) and plain opens while signed in.
	for i, target := range []string{"/x/" + tok + "?preview=1", "/x/" + tok, "/x/" + tok + "?preview=1&utm_source=mail",
		"/x/" + tok, "/x/" + tok + "?preview=1"} {
		e.clock.Advance(2 * time.Second)
		rec := e.get(t, target, staff)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "Preview — this visit is not recorded") ||
			!strings.Contains(body, "Hi Alice") || !strings.Contains(body, `data-checkout="preview"`) {
			t.Fatalf("preview %d: status %d, body %.400s", i, rec.Code, body)
		}
		if !strings.Contains(body, `disabled title="Buying is switched off in preview"`) {
			t.Fatalf("preview %d: buy buttons are live", i)
		}
		if c := sessionCookieOf(rec); c != nil {
			t.Fatalf("preview %d opened an offer session: %+v", i, c)
		}
	}
	if n := e.views(t); n != 0 {
		t.Fatalf("previews logged %d offer_view events", n)
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events`); n != events {
		t.Fatalf("previews added %d events", n-events)
	}
	if n := e.count(t, `SELECT count(*) FROM offer_sessions`); n != 0 {
		t.Fatalf("previews opened %d offer sessions", n)
	}
	if s, a := e.engagementOf(t, "ACME"); s != score || a != actions {
		t.Fatalf("previews moved the company: score %d → %d, suggestions %q → %q", score, s, actions, a)
	}

	// The same link without a staff session is a customer visit, ?preview=1 or not.
	e.clock.Advance(2 * time.Second)
	rec := e.get(t, "/x/"+tok+"?preview=1")
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "Preview — this visit") || sessionCookieOf(rec) == nil {
		t.Fatalf("customer visit: status %d, cookie %v", rec.Code, sessionCookieOf(rec))
	}
	if n := e.views(t); n != 1 {
		t.Fatalf("customer visit logged %d offer_view events, want 1", n)
	}
	if s, _ := e.engagementOf(t, "ACME"); s != score+store.EventCategory("view").Weight() {
		t.Fatalf("customer visit: score %d → %d, want +%d", score, s, store.EventCategory("view").Weight())
	}
}

func TestOfferPreviewNeedsALiveStaffSession(t *testing.T) {
	e := newOfferEnv(t, nil)
	staff := e.staffCookie(t, "sam@technifold.test")
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, 24*time.Hour)
	for name, c := range map[string]*http.Cookie{
		"forged cookie": {Name: adminCookie, Value: "not-a-session"},
		"empty cookie":  {Name: adminCookie, Value: ""},
	} {
		e.clock.Advance(2 * time.Second)
		rec := e.get(t, "/x/"+tok+"?preview=1", c)
		if strings.Contains(rec.Body.String(), "Preview — this visit") {
			t.Fatalf("%s: shown as a preview", name)
		}
	}
	if n := e.views(t); n != 2 {
		t.Fatalf("%d views, want 2 (both were customer visits)", n)
	}
	// An idle-expired staff session is no longer a preview.
	e.clock.Advance(sessionIdle + time.Minute)
	rec := e.get(t, "/x/"+tok+"?preview=1", staff)
	if strings.Contains(rec.Body.String(), "Preview — this visit") || e.views(t) != 3 {
		t.Fatalf("expired staff session still previews (views %d)", e.views(t))
	}
}

func TestOfferPreviewOfGenericPage(t *testing.T) {
	e := newOfferEnv(t, nil)
	staff := e.staffCookie(t, "sam@technifold.test")
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-UNSUB"}, time.Hour)
	rec := e.get(t, "/x/"+tok, staff, &http.Cookie{Name: offerCookie, Value: "a-customer-session"})
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "Preview — this visit is not recorded") || strings.Contains(body, "Uma") {
		t.Fatalf("generic preview: %d %.300s", rec.Code, body)
	}
	if sessionCookieOf(rec) != nil {
		t.Fatal("a preview touched the offer_session cookie")
	}
}
