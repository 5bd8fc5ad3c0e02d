package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// Who may check out, and for whom (issue 12 §2): anonymous callers only with an offer link,
// company and contact from the link; staff and the API token may name them; one error for
// unknown or mismatched ids; anonymous checkouts rate-limited per address and per company.

func apiCheckout(t *testing.T, e *offerEnv, body string, hdr http.Header, cookies ...*http.Cookie) (int, map[string]string, http.Header) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Content-Type", "application/json")
	rec := e.do(t, http.MethodPost, "/api/checkout", strings.NewReader(body), hdr, cookies...)
	var out map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer %d is not JSON: %s", rec.Code, rec.Body.String())
	}
	return rec.Code, out, rec.Header()
}

func TestCheckoutAnonymousNeedsAnOfferLink(t *testing.T) {
	stripeBase := startStripeMock(t)
	e := newOfferEnv(t, func(c *Config) { c.StripeSecretKey = "sk_test_123"; c.StripeAPIBase = stripeBase })
	item := `"items":[{"product_code":"RIB-1","quantity":1}]`

	// Naming a company (and a contact whose e-mail Stripe would show) without a link: refused.
	for _, body := range []string{`{"company_id":"ACME",` + item + `}`, `{"company_id":"ACME","contact_id":"K-SUB",` + item + `}`, `{` + item + `}`} {
		status, out, _ := apiCheckout(t, e, body, nil)
		if status != http.StatusForbidden || !strings.Contains(out["error"], "offer link") {
			t.Fatalf("%s: %d %v", body, status, out)
		}
	}
	// A forged, a tampered or an expired token: refused alike.
	good := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder", CampaignKey: "spring"}, time.Hour)
	expired := e.mint(t, offertoken.Claims{CompanyID: "ACME"}, time.Minute)
	e.clock.Advance(2 * time.Minute)
	for _, tok := range []string{"bogus", good[:len(good)-2] + "xx", expired} {
		status, out, _ := apiCheckout(t, e, `{"token":"`+tok+`",`+item+`}`, nil)
		if status != http.StatusForbidden || out["error"] != "invalid or expired offer link" {
			t.Fatalf("token %q: %d %v", tok, status, out)
		}
	}
	// A stale offer_session cookie is no session.
	if status, _, _ := apiCheckout(t, e, `{`+item+`}`, nil, &http.Cookie{Name: offerCookie, Value: "stale"}); status != http.StatusForbidden {
		t.Fatalf("stale cookie: %d", status)
	}
	if n := e.count(t, `SELECT count(*) FROM orders`); n != 0 {
		t.Fatalf("refused checkouts created %d orders", n)
	}

	// A valid token: company, contact, offer and campaign come from the link.
	status, out, _ := apiCheckout(t, e, `{"token":"`+good+`","offer_key":"other",`+item+`}`, nil)
	if status != http.StatusOK || !strings.HasPrefix(out["url"], "https://checkout.stripe.com/") {
		t.Fatalf("token checkout: %d %v", status, out)
	}
	if n := e.count(t, `SELECT count(*) FROM orders WHERE order_id = ? AND company_id = 'ACME' AND contact_id = 'K-SUB'
		AND offer_key = 'reorder' AND campaign_key = 'spring'`, out["order_id"]); n != 1 {
		t.Fatalf("token order not ACME/K-SUB/reorder/spring")
	}
	// Ids in an anonymous body must match the link; any other id gets the uniform error,
	// whether it exists (EURO's contact) or not.
	for _, ids := range []string{`"company_id":"EURO"`, `"company_id":"NOPE"`, `"contact_id":"K-EURO"`, `"contact_id":"K-NOPE"`} {
		status, out, _ := apiCheckout(t, e, `{"token":"`+good+`",`+ids+`,`+item+`}`, nil)
		if status != http.StatusBadRequest || out["error"] != store.ErrUnknownParty {
			t.Fatalf("%s: %d %v", ids, status, out)
		}
	}
	if status, _, _ := apiCheckout(t, e, `{"token":"`+good+`","company_id":"ACME","contact_id":"K-SUB",`+item+`}`, nil); status != http.StatusOK {
		t.Fatalf("matching ids: %d", status)
	}
	// The offer_session cookie works the same way.
	c := sessionCookieOf(e.get(t, "/x/"+e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)))
	if status, out, _ := apiCheckout(t, e, `{"company_id":"EURO",`+item+`}`, nil, c); status != http.StatusBadRequest || out["error"] != store.ErrUnknownParty {
		t.Fatalf("session with another company: %d %v", status, out)
	}
	if status, out, _ := apiCheckout(t, e, `{`+item+`}`, nil, c); status != http.StatusOK {
		t.Fatalf("session checkout: %d %v", status, out)
	}
}

func TestCheckoutTrustedCallersNameTheCompany(t *testing.T) {
	stripeBase := startStripeMock(t)
	e := newOfferEnv(t, func(c *Config) {
		c.StripeSecretKey, c.StripeAPIBase, c.AdminAPIToken = "sk_test_123", stripeBase, stripeTestAPIToken
	})
	body := `{"company_id":"ACME","contact_id":"K-SUB","items":[{"product_code":"RIB-1","quantity":2}]}`
	bearer := http.Header{"Authorization": {"Bearer " + stripeTestAPIToken}}
	status, out, _ := apiCheckout(t, e, body, bearer)
	if status != http.StatusOK || e.count(t, `SELECT count(*) FROM orders WHERE order_id = ? AND contact_id = 'K-SUB'`, out["order_id"]) != 1 {
		t.Fatalf("bearer checkout: %d %v", status, out)
	}
	status, out, _ = apiCheckout(t, e, body, http.Header{"Authorization": {"Bearer wrong-token-wrong-token-wrong-token"}})
	if status != http.StatusUnauthorized || out["error"] != "invalid API token" {
		t.Fatalf("wrong bearer: %d %v", status, out)
	}
	// Unknown or mismatched ids: byte-for-byte the same answer, so nothing is enumerated.
	var answers []string
	for _, ids := range []string{`"company_id":"NOPE"`, `"company_id":"ACME","contact_id":"K-NOPE"`, `"company_id":"ACME","contact_id":"K-EURO"`} {
		rec := e.do(t, http.MethodPost, "/api/checkout", strings.NewReader(`{`+ids+`,"items":[{"product_code":"RIB-1","quantity":1}]}`),
			http.Header{"Content-Type": {"application/json"}, "Authorization": bearer["Authorization"]})
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: %d %s", ids, rec.Code, rec.Body.String())
		}
		answers = append(answers, rec.Body.String())
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Fatalf("answers differ: %q", answers)
	}
	// Guessing the token here is throttled per address like on /api/admin/* (one guess made
	// above), and the two routes share the window.
	wrong := http.Header{"Authorization": {"Bearer guess-guess-guess-guess-guess-guess"}}
	for i := 2; i < tokenGuessesPerAddress; i++ {
		if status, _, _ := apiCheckout(t, e, body, wrong); status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, status)
		}
	}
	rec := e.do(t, http.MethodGet, "/api/admin/suggestions", nil, wrong)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("guess %d on /api/admin: %d", tokenGuessesPerAddress, rec.Code)
	}
	status, _, hdr := apiCheckout(t, e, body, wrong)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("guess %d: %d", tokenGuessesPerAddress+1, status)
	}
	// From another address the right token still works (trusted callers are not limited).
	other := http.Header{"Authorization": bearer["Authorization"]}
	other.Set("Fly-Client-IP", "203.0.113.9")
	e.cfg.OnFly = true
	if status, out, _ := apiCheckout(t, e, body, other); status != http.StatusOK {
		t.Fatalf("bearer from another address: %d %v", status, out)
	}
}

func TestCheckoutStaffSession(t *testing.T) {
	stripeBase := startStripeMock(t)
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.StripeSecretKey, c.StripeAPIBase = "sk_test_123", stripeBase }})
	seedStripeCatalog(t, e.db)
	e.addUser("staff@example.com", store.RoleStaff, "staff-password-1")
	c := e.login("staff@example.com", "staff-password-1")
	post := func(site string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/api/checkout",
			strings.NewReader(`{"company_id":"ACME","contact_id":"K1","items":[{"product_code":"TOOL-1","quantity":1}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(resp)
	}
	if status, body := post("same-origin"); status != http.StatusOK || !strings.Contains(body, "checkout.stripe.com") {
		t.Fatalf("staff checkout: %d %s", status, body)
	}
	if status, body := post("cross-site"); status != http.StatusForbidden {
		t.Fatalf("cross-site staff checkout: %d %s", status, body)
	}
	// Signed out, the same request is anonymous.
	if status, _ := e.postJSONAnon(t, "/api/checkout", `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":1}]}`); status != http.StatusForbidden {
		t.Fatalf("anonymous: %d", status)
	}
}

func (e *adminEnv) postJSONAnon(t *testing.T, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(e.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readBody(resp)
}

func TestCheckoutRateLimits(t *testing.T) {
	stripeBase := startStripeMock(t)
	e := newOfferEnv(t, func(c *Config) {
		c.StripeSecretKey, c.StripeAPIBase, c.AdminAPIToken = "sk_test_123", stripeBase, stripeTestAPIToken
		c.CheckoutRatePerAddress, c.CheckoutRatePerCompany = 3, 5
		c.OnFly = true // the address comes from Fly-Client-IP, so the test can be several callers
	})
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME"}, 24*time.Hour)
	body := `{"token":"` + tok + `","items":[{"product_code":"RIB-1","quantity":1}]}`
	from := func(ip string) http.Header {
		h := http.Header{}
		h.Set("Fly-Client-IP", ip)
		return h
	}

	// Per address: three a minute, the fourth is 429 with Retry-After, and no order.
	for i := range 3 {
		if status, out, _ := apiCheckout(t, e, body, from("203.0.113.1")); status != http.StatusOK {
			t.Fatalf("checkout %d: %d %v", i, status, out)
		}
	}
	status, out, hdr := apiCheckout(t, e, body, from("203.0.113.1"))
	ra, _ := strconv.Atoi(hdr.Get("Retry-After"))
	if status != http.StatusTooManyRequests || ra < 1 || ra > 60 || !strings.Contains(out["error"], "too many") {
		t.Fatalf("4th from one address: %d %v Retry-After %q", status, out, hdr.Get("Retry-After"))
	}
	if n := e.count(t, `SELECT count(*) FROM orders`); n != 3 {
		t.Fatalf("orders after the address limit: %d", n)
	}
	// The no-JavaScript form shares the limit.
	rec := e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}, "t": {tok}})
	if rec.Code == http.StatusTooManyRequests {
		t.Fatalf("form post from another address (httptest's) limited: %d", rec.Code)
	}
	// Per company: five an hour from any addresses (3 + 1 form post so far).
	if status, _, _ := apiCheckout(t, e, body, from("203.0.113.2")); status != http.StatusOK {
		t.Fatalf("5th for the company: %d", status)
	}
	status, _, hdr = apiCheckout(t, e, body, from("203.0.113.3"))
	ra, _ = strconv.Atoi(hdr.Get("Retry-After"))
	if status != http.StatusTooManyRequests || ra < 60 || ra > 3600 {
		t.Fatalf("6th for the company: %d Retry-After %q", status, hdr.Get("Retry-After"))
	}
	formHdr := from("203.0.113.4")
	formHdr.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = e.do(t, http.MethodPost, "/x/checkout", strings.NewReader(url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}, "t": {tok}}.Encode()), formHdr)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("form post over the company limit: %d", rec.Code)
	}
	// Trusted callers are not limited.
	bearer := from("203.0.113.1")
	bearer.Set("Authorization", "Bearer "+stripeTestAPIToken)
	if status, out, _ := apiCheckout(t, e, `{"company_id":"ACME","items":[{"product_code":"RIB-1","quantity":1}]}`, bearer); status != http.StatusOK {
		t.Fatalf("bearer over the limits: %d %v", status, out)
	}
	// The windows slide: after a minute the address may again (the company still may not);
	// after an hour both may.
	e.clock.Advance(61 * time.Second)
	if status, _, _ := apiCheckout(t, e, body, from("203.0.113.1")); status != http.StatusTooManyRequests {
		t.Fatalf("company limit after a minute: %d", status)
	}
	e.clock.Advance(time.Hour)
	if status, out, _ := apiCheckout(t, e, body, from("203.0.113.1")); status != http.StatusOK {
		t.Fatalf("after an hour: %d %v", status, out)
	}
}
