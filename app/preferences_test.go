package app

import (
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
)

func (e *offerEnv) status(t *testing.T, contact string) string {
	t.Helper()
	k, err := e.db.GetContact(context.Background(), contact)
	if err != nil {
		t.Fatal(err)
	}
	return k.MarketingStatus
}

func (e *offerEnv) prefEvents(t *testing.T, name string) int {
	return e.count(t, `SELECT count(*) FROM engagement_events WHERE event_name = ? AND source = 'web'`, name)
}

func TestPreferencesShowAndChangeStatus(t *testing.T) {
	e := newOfferEnv(t, nil)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder", CampaignKey: "spring"}, time.Hour)
	// An offer session exists; unsubscribing ends it.
	cookie := sessionCookieOf(e.get(t, "/x/"+tok))

	rec := e.get(t, "/preferences/"+tok)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "a•••@acme.test") || !strings.Contains(body, `id="status">subscribed`) ||
		!strings.Contains(body, `id="unsubscribe"`) || strings.Contains(body, `id="resubscribe"`) {
		t.Fatalf("preferences page %d: %.800s", rec.Code, body)
	}
	if strings.Contains(body, "alice@acme.test") {
		t.Error("the page shows the whole address")
	}

	rec = e.postForm(t, "/preferences/"+tok, url.Values{"action": {"unsubscribe"}})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "You are unsubscribed") || !strings.Contains(rec.Body.String(), `id="resubscribe"`) {
		t.Fatalf("unsubscribe: %d %.500s", rec.Code, rec.Body.String())
	}
	if got := e.status(t, "K-SUB"); got != "unsubscribed" {
		t.Fatalf("status %s", got)
	}
	var meta, evURL, offer string
	if err := e.db.Read().QueryRow(`SELECT meta, url, offer_key FROM engagement_events WHERE event_name = 'email_unsubscribed'`).
		Scan(&meta, &evURL, &offer); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta, `"previous_status":"subscribed"`) || evURL != "/preferences/…" || offer != "reorder" {
		t.Fatalf("event meta %s url %s offer %s", meta, evURL, offer)
	}
	if _, err := e.db.GetOfferSession(context.Background(), cookie.Value); err == nil {
		t.Fatal("the contact's offer session survived the unsubscribe")
	}
	// Unsubscribing again changes nothing and records nothing.
	e.clock.Advance(time.Second)
	e.postForm(t, "/preferences/"+tok, url.Values{"action": {"unsubscribe"}})
	if n := e.prefEvents(t, "email_unsubscribed"); n != 1 {
		t.Fatalf("%d unsubscribe events", n)
	}

	e.clock.Advance(time.Second)
	rec = e.postForm(t, "/preferences/"+tok, url.Values{"action": {"resubscribe"}})
	if rec.Code != http.StatusOK || e.status(t, "K-SUB") != "subscribed" || e.prefEvents(t, "email_resubscribed") != 1 {
		t.Fatalf("resubscribe: %d, status %s", rec.Code, e.status(t, "K-SUB"))
	}
	if rec := e.postForm(t, "/preferences/"+tok, url.Values{"action": {"explode"}}); rec.Code != http.StatusBadRequest {
		t.Fatalf("unknown action: %d", rec.Code)
	}
}

func TestPreferencesOneClickUnsubscribe(t *testing.T) {
	e := newOfferEnv(t, nil)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)
	rec := e.postForm(t, "/preferences/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}})
	if rec.Code != http.StatusOK || e.status(t, "K-SUB") != "unsubscribed" {
		t.Fatalf("one-click: %d %q, status %s", rec.Code, rec.Body.String(), e.status(t, "K-SUB"))
	}
	var meta string
	if err := e.db.Read().QueryRow(`SELECT meta FROM engagement_events WHERE event_name = 'email_unsubscribed'`).Scan(&meta); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(meta), &m); err != nil || m["method"] != "one-click" {
		t.Fatalf("meta %s", meta)
	}

	// Multipart one-click (as some mail providers send it) works too.
	tok2 := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-PEND"}, time.Hour)
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("List-Unsubscribe", "One-Click")
	_ = mw.Close()
	rec = e.do(t, http.MethodPost, "/preferences/"+tok2, strings.NewReader(body.String()),
		http.Header{"Content-Type": {mw.FormDataContentType()}})
	if rec.Code != http.StatusOK || e.status(t, "K-PEND") != "unsubscribed" {
		t.Fatalf("multipart one-click: %d, status %s", rec.Code, e.status(t, "K-PEND"))
	}
}

func TestPreferencesAcceptExpiredLinksForUnsubscribeOnly(t *testing.T) {
	e := newOfferEnv(t, nil)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	e.clock.Advance(30 * 24 * time.Hour)

	rec := e.get(t, "/preferences/"+tok)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="unsubscribe"`) {
		t.Fatalf("expired link preferences: %d %.400s", rec.Code, rec.Body.String())
	}
	rec = e.postForm(t, "/preferences/"+tok, url.Values{"List-Unsubscribe": {"One-Click"}})
	if rec.Code != http.StatusOK || e.status(t, "K-SUB") != "unsubscribed" {
		t.Fatalf("expired one-click: %d status %s", rec.Code, e.status(t, "K-SUB"))
	}
	rec = e.get(t, "/preferences/"+tok)
	if strings.Contains(rec.Body.String(), `id="resubscribe"`) || !strings.Contains(rec.Body.String(), "more recent e-mail") {
		t.Fatalf("an expired link offers resubscribe: %.600s", rec.Body.String())
	}
	rec = e.postForm(t, "/preferences/"+tok, url.Values{"action": {"resubscribe"}})
	if rec.Code != http.StatusGone || e.status(t, "K-SUB") != "unsubscribed" {
		t.Fatalf("expired resubscribe: %d status %s", rec.Code, e.status(t, "K-SUB"))
	}
}

func TestPreferencesRejectBadLinks(t *testing.T) {
	e := newOfferEnv(t, nil)
	good := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)
	payload, sig, _ := strings.Cut(good, ".")
	tests := []struct {
		name, token string
		status      int
		want        string
	}{
		{"malformed", "garbage", http.StatusNotFound, "Invalid or Expired Link"},
		{"tampered", payload + "." + sig[:len(sig)-2] + "AA", http.StatusNotFound, "Invalid or Expired Link"},
		{"unknown contact", e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-NOPE"}, time.Hour), http.StatusNotFound, "Invalid or Expired Link"},
		{"company-wide link", e.mint(t, offertoken.Claims{CompanyID: "ACME"}, time.Hour), http.StatusNotFound, "No e-mail preferences"},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			var rec = e.get(t, "/preferences/"+tt.token)
			if method == http.MethodPost {
				rec = e.postForm(t, "/preferences/"+tt.token, url.Values{"List-Unsubscribe": {"One-Click"}})
			}
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%s %s: %d %.300s", method, tt.name, rec.Code, rec.Body.String())
			}
		}
	}
	if e.status(t, "K-SUB") != "subscribed" {
		t.Fatal("a bad link changed a status")
	}
}

func TestUnsubscribedContactSeesGenericPageAfterwards(t *testing.T) {
	e := newOfferEnv(t, nil)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	first := e.get(t, "/x/"+tok)
	if !strings.Contains(first.Body.String(), "Acme Print Ltd") || e.views(t) != 1 {
		t.Fatal("first visit not personalised")
	}
	e.postForm(t, "/preferences/"+tok, url.Values{"action": {"unsubscribe"}})
	e.clock.Advance(5 * time.Second)
	rec := e.get(t, "/x/"+tok, sessionCookieOf(first))
	if strings.Contains(rec.Body.String(), "Acme Print Ltd") || e.views(t) != 1 {
		t.Fatalf("after unsubscribing: personalised %v, %d views", strings.Contains(rec.Body.String(), "Acme"), e.views(t))
	}
}
