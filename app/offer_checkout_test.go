package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

func TestOfferCheckoutFormNeedsASessionOrALink(t *testing.T) {
	e := newOfferEnv(t, func(c *Config) { c.StripeSecretKey = "sk_test_123" })
	tests := []struct {
		name   string
		form   url.Values
		cookie *http.Cookie
		status int
		want   string
	}{
		{"no session", url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}}, nil, http.StatusBadRequest, "Your session has ended"},
		{"stale cookie", url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}}, &http.Cookie{Name: offerCookie, Value: "stale"},
			http.StatusBadRequest, "Your session has ended"},
		{"bad link", url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}, "t": {"bogus"}}, nil, http.StatusNotFound, "Invalid or Expired Link"},
	}
	for _, tt := range tests {
		var cookies []*http.Cookie
		if tt.cookie != nil {
			cookies = append(cookies, tt.cookie)
		}
		rec := e.postForm(t, "/x/checkout", tt.form, cookies...)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %.300s", tt.name, rec.Code, rec.Body.String())
		}
	}
	// A cross-site form post is refused before anything else.
	rec := e.do(t, http.MethodPost, "/x/checkout", strings.NewReader("product_code=RIB-1&quantity=1"),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}})
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site post: %d", rec.Code)
	}
}

func TestOfferCheckoutWithoutJavaScript(t *testing.T) {
	stripeBase := startStripeMock(t)
	e := newOfferEnv(t, func(c *Config) { c.StripeSecretKey = "sk_test_123"; c.StripeAPIBase = stripeBase })
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder", CampaignKey: "spring"}, time.Hour)
	c := sessionCookieOf(e.get(t, "/x/"+tok))

	rec := e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-1"}, "quantity": {"3"}}, c)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "https://checkout.stripe.com/") {
		t.Fatalf("checkout: %d %q %.300s", rec.Code, loc, rec.Body.String())
	}
	var company, contact, offer, campaign string
	var total int64
	if err := e.db.Read().QueryRow(`SELECT company_id, contact_id, offer_key, campaign_key, subtotal FROM orders`).
		Scan(&company, &contact, &offer, &campaign, &total); err != nil {
		t.Fatal(err)
	}
	if company != "ACME" || contact != "K-SUB" || offer != "reorder" || campaign != "spring" || total != 3*3900 {
		t.Fatalf("order %s %s %s %s %d", company, contact, offer, campaign, total)
	}

	// A generic page checks out with its link: the company, and no contact.
	gen := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-UNSUB"}, time.Hour)
	rec = e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}, "t": {gen}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("generic checkout: %d %.300s", rec.Code, rec.Body.String())
	}
	if n := e.count(t, `SELECT count(*) FROM orders WHERE contact_id IS NULL AND company_id = 'ACME'`); n != 1 {
		t.Fatalf("generic order rows: %d", n)
	}
	// Catalogue problems come back as a page naming the item.
	rec = e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-2"}, "quantity": {"1"}}, c)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "RIB-2") {
		t.Fatalf("unpriced item: %d %.300s", rec.Code, rec.Body.String())
	}
	// JSON checkout takes company and contact from the cookie.
	rec = e.do(t, http.MethodPost, "/api/checkout", strings.NewReader(`{"items":[{"product_code":"RIB-1","quantity":1}]}`),
		http.Header{"Content-Type": {"application/json"}}, c)
	var res checkoutResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != http.StatusOK || !strings.HasPrefix(res.URL, "https://checkout.stripe.com/") {
		t.Fatalf("api checkout: %d %s", rec.Code, rec.Body.String())
	}
	// A contact who bounced since the visit is no longer attached to what the session buys.
	err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, _, err := tx.SetMarketingStatus(context.Background(), "K-SUB", store.MarketingBounced)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec := e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-1"}, "quantity": {"1"}}, c); rec.Code != http.StatusSeeOther {
		t.Fatalf("checkout after bounce: %d", rec.Code)
	}
	if n := e.count(t, `SELECT count(*) FROM orders WHERE contact_id IS NULL`); n != 2 {
		t.Fatalf("orders without contact: %d, want 2", n)
	}
}

func TestTokenMintCommand(t *testing.T) {
	dir := t.TempDir()
	dbPath := dir + "/t.db"
	db, err := store.Open(context.Background(), dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seedOffers(t, db)
	db.Close()
	run := func(env map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
		return code, out.String(), errOut.String()
	}
	env := map[string]string{"DATABASE_PATH": dbPath, "TOKEN_SECRET": offerTestSecret, "BASE_URL": "https://shop.example.com/"}
	code, out, errOut := run(env, "token", "mint", "--company", "ACME", "--contact", "K-SUB", "--offer", "reorder", "--campaign", "spring", "--ttl", "2h")
	if code != 0 || !strings.HasPrefix(out, "https://shop.example.com/x/") {
		t.Fatalf("mint: %d %q %q", code, out, errOut)
	}
	tok := strings.TrimSpace(strings.TrimPrefix(out, "https://shop.example.com/x/"))
	claims, err := offerKeyring(t, offerTestSecret).Verify(tok, time.Now())
	if err != nil || claims.CompanyID != "ACME" || claims.ContactID != "K-SUB" || claims.OfferKey != "reorder" ||
		claims.CampaignKey != "spring" || claims.KeyID != "k1" {
		t.Fatalf("claims %+v %v", claims, err)
	}
	if d := time.Until(claims.ExpiresAt); d < 119*time.Minute || d > 2*time.Hour {
		t.Fatalf("ttl: expires in %s", d)
	}

	failures := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no secret", map[string]string{"DATABASE_PATH": dbPath}, []string{"--company", "ACME", "--offer", "reorder"}, "TOKEN_SECRET"},
		{"unknown company", env, []string{"--company", "NOPE", "--offer", "reorder"}, `company "NOPE"`},
		{"unknown contact", env, []string{"--company", "ACME", "--contact", "K-NOPE", "--offer", "reorder"}, `contact "K-NOPE"`},
		{"contact of another company", env, []string{"--company", "EURO", "--contact", "K-SUB", "--offer", "reorder"}, "belongs to company"},
		{"no offer", env, []string{"--company", "ACME"}, "--offer is required"},
		{"bad ttl", env, []string{"--company", "ACME", "--offer", "reorder", "--ttl", "-1h"}, "--ttl"},
	}
	for _, f := range failures {
		code, _, errOut := run(f.env, append([]string{"token", "mint"}, f.args...)...)
		if code == 0 || !strings.Contains(errOut, f.want) {
			t.Errorf("%s: exit %d, stderr %q", f.name, code, errOut)
		}
	}
	if code, _, _ := run(env, "token", "burn"); code != 2 {
		t.Errorf("unknown token verb: exit %d", code)
	}
}
