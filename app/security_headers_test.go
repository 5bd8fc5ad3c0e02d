package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
)

func TestPreferencesRefuseCrossSiteChangesButOneClick(t *testing.T) {
	e := newOfferEnv(t, nil)
	crossSite := http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
		"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	legacyBrowser := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {"https://evil.example"}}
	post := func(tok string, form url.Values, hdr http.Header) *httptest.ResponseRecorder {
		return e.do(t, http.MethodPost, "/preferences/"+tok, strings.NewReader(form.Encode()), hdr)
	}
	for _, contact := range []string{"K-PEND", "K-UNSUB"} {
		tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: contact}, time.Hour)
		for name, hdr := range map[string]http.Header{"Sec-Fetch-Site": crossSite, "Origin only": legacyBrowser} {
			rec := post(tok, url.Values{"action": {"resubscribe"}}, hdr)
			if rec.Code != http.StatusForbidden || e.status(t, contact) == "subscribed" {
				t.Fatalf("%s: cross-site resubscribe (%s): %d, status now %s", contact, name, rec.Code, e.status(t, contact))
			}
		}
		if rec := post(tok, url.Values{"action": {"unsubscribe"}}, crossSite); rec.Code != http.StatusForbidden {
			t.Fatalf("%s: a cross-site form change other than one-click: %d", contact, rec.Code)
		}
	}
	if n := e.prefEvents(t, "email_resubscribed"); n != 0 {
		t.Fatalf("%d resubscribe events after cross-site posts", n)
	}

	// RFC 8058 one-click still works from anywhere, and only unsubscribes.
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)
	rec := post(tok, url.Values{"List-Unsubscribe": {"One-Click"}, "action": {"resubscribe"}}, crossSite)
	if rec.Code != http.StatusOK || e.status(t, "K-SUB") != "unsubscribed" {
		t.Fatalf("cross-site one-click: %d, status %s", rec.Code, e.status(t, "K-SUB"))
	}
	// The page's own buttons (same origin) still resubscribe.
	sameOrigin := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}}
	if rec := post(tok, url.Values{"action": {"resubscribe"}}, sameOrigin); rec.Code != http.StatusOK || e.status(t, "K-SUB") != "subscribed" {
		t.Fatalf("same-origin resubscribe: %d, status %s", rec.Code, e.status(t, "K-SUB"))
	}
}

func TestReferrerPolicyAndHSTS(t *testing.T) {
	for _, base := range []string{"http://localhost:8080", "https://shop.example.com"} {
		t.Run(base, func(t *testing.T) {
			e := newOfferEnv(t, func(c *Config) { c.BaseURL = base })
			tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
			tests := []struct {
				name, method, target string
				form                 url.Values
				referrer             string
			}{
				{"offer page", http.MethodGet, "/x/" + tok, nil, "no-referrer"},
				{"bad offer link", http.MethodGet, "/x/not-a-token", nil, "no-referrer"},
				{"preferences page", http.MethodGet, "/preferences/" + tok, nil, "no-referrer"},
				{"one-click answer", http.MethodPost, "/preferences/" + tok, url.Values{"List-Unsubscribe": {"One-Click"}}, "no-referrer"},
				{"admin sign-in page", http.MethodGet, "/admin/login", nil, "strict-origin-when-cross-origin"},
				{"admin page (redirect to sign in)", http.MethodGet, "/admin/companies", nil, "strict-origin-when-cross-origin"},
				{"admin API", http.MethodGet, "/api/admin/suggestions", nil, "strict-origin-when-cross-origin"},
				{"health", http.MethodGet, "/healthz", nil, ""},
			}
			for _, tt := range tests {
				var rec *httptest.ResponseRecorder
				if tt.form != nil {
					rec = e.postForm(t, tt.target, tt.form)
				} else {
					rec = e.do(t, tt.method, tt.target, nil, nil)
				}
				if got := rec.Header().Get("Referrer-Policy"); got != tt.referrer {
					t.Errorf("%s (%d): Referrer-Policy %q, want %q", tt.name, rec.Code, got, tt.referrer)
				}
				hsts := rec.Header().Get("Strict-Transport-Security")
				if https := strings.HasPrefix(base, "https:"); https != (hsts != "") || (https && !strings.HasPrefix(hsts, "max-age=31536000")) {
					t.Errorf("%s: Strict-Transport-Security %q with BASE_URL %s", tt.name, hsts, base)
				}
			}
		})
	}
}
