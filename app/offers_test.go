package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

const offerTestSecret = "rotate:k1=offer-test-secret-0123456789abcdef"

// offerClock is a settable clock shared by the store and the tests.
type offerClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *offerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *offerClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// offerEnv is a server with seeded offer data, its database, clock, keys and log.
type offerEnv struct {
	cfg   *Config
	db    *store.DB
	srv   *Server
	clock *offerClock
	keys  *offertoken.Keyring
	logs  *syncBuffer
}

// newOfferEnv builds a Server over a fresh database seeded by seedOffers. edit may change
// the configuration first.
func newOfferEnv(t *testing.T, edit func(*Config)) *offerEnv {
	t.Helper()
	cfg := testConfig(t)
	cfg.TokenSecret = offerTestSecret
	cfg.BaseURL = "http://shop.test"
	// Checkout is on (pages show buy buttons) but reaches no Stripe: tests that check out set
	// STRIPE_API_BASE to stripe-mock, tests of checkout being off clear the key.
	cfg.StripeSecretKey, cfg.StripeAPIBase = "sk_test_123", "http://127.0.0.1:1"
	if edit != nil {
		edit(cfg)
	}
	clock := &offerClock{t: time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)}
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	seedOffers(t, db)
	logs := &syncBuffer{}
	srv, err := NewServer(cfg, db, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := offertoken.ParseKeyring(offerTestSecret)
	return &offerEnv{cfg: cfg, db: db, srv: srv, clock: clock, keys: keys, logs: logs}
}

// seedOffers loads: ACME (gbp) with a contact of each marketing status and a purchase
// history; EURO (eur) and NIPPON (jpy) with one purchase each.
func seedOffers(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx *store.Tx) error {
		for _, c := range []store.Company{{ID: "ACME", Name: "Acme Print Ltd", Currency: "gbp"},
			{ID: "EURO", Name: "Euro Druck GmbH", Currency: "eur"}, {ID: "NIPPON", Name: "Nippon Insatsu", Currency: "jpy"}} {
			if _, err := tx.UpsertCompany(ctx, c); err != nil {
				return err
			}
		}
		for _, k := range []store.Contact{
			{ID: "K-SUB", CompanyID: "ACME", Email: "alice@acme.test", FirstName: "Alice", LastName: "Archer", MarketingStatus: "subscribed"},
			{ID: "K-PEND", CompanyID: "ACME", Email: "pete@acme.test", FirstName: "Pete", MarketingStatus: "pending"},
			{ID: "K-UNSUB", CompanyID: "ACME", Email: "uma@acme.test", FirstName: "Uma", MarketingStatus: "unsubscribed"},
			{ID: "K-BOUNCE", CompanyID: "ACME", Email: "bob@acme.test", FirstName: "Bob", MarketingStatus: "bounced"},
			{ID: "K-EURO", CompanyID: "EURO", Email: "eva@euro.test", FirstName: "Eva", MarketingStatus: "subscribed"},
		} {
			if _, err := tx.UpsertContact(ctx, k); err != nil {
				return err
			}
		}
		for _, p := range []store.Product{
			{Code: "TOOL-A", Description: "Tri-Creaser", Type: "tool", Category: "Creasing", Active: true},
			{Code: "RIB-1", Description: "Creasing rib, black", Type: "consumable", Category: "Creasing ribs", Active: true},
			{Code: "RIB-2", Description: "Creasing rib, red", Type: "consumable", Category: "Creasing ribs", Active: true},
			{Code: "BLADE-9", Description: "Perforating blade", Type: "consumable", Category: "Blades", Active: true},
		} {
			if _, err := tx.UpsertProduct(ctx, p); err != nil {
				return err
			}
		}
		for _, p := range []store.Price{{ProductCode: "RIB-1", Currency: "gbp", UnitAmount: 3900},
			{ProductCode: "RIB-1", Currency: "eur", UnitAmount: 4550}, {ProductCode: "RIB-1", Currency: "jpy", UnitAmount: 4500},
			{ProductCode: "BLADE-9", Currency: "gbp", UnitAmount: 185000}, {ProductCode: "TOOL-A", Currency: "gbp", UnitAmount: 185000}} {
			if _, err := tx.UpsertPrice(ctx, p); err != nil {
				return err
			}
		}
		for _, m := range [][2]string{{"TOOL-A", "RIB-1"}, {"TOOL-A", "RIB-2"}} {
			if _, err := tx.UpsertToolConsumable(ctx, m[0], m[1]); err != nil {
				return err
			}
		}
		for _, s := range []store.Sale{
			{CompanyID: "ACME", ProductCode: "TOOL-A", Quantity: 1, UnitAmount: 185000, Currency: "gbp", TxnDate: "2024-01-10", InvoiceNumber: "INV-1"},
			{CompanyID: "ACME", ProductCode: "RIB-1", Quantity: 4, UnitAmount: 3900, Currency: "gbp", TxnDate: "2025-03-01", InvoiceNumber: "INV-2"},
			{CompanyID: "ACME", ProductCode: "RIB-2", Quantity: 2, UnitAmount: 3900, Currency: "gbp", TxnDate: "2025-01-05", InvoiceNumber: "INV-3"},
			{CompanyID: "EURO", ProductCode: "RIB-1", Quantity: 1, UnitAmount: 4550, Currency: "eur", TxnDate: "2025-02-01", InvoiceNumber: "INV-4"},
			{CompanyID: "NIPPON", ProductCode: "RIB-1", Quantity: 1, UnitAmount: 4500, Currency: "jpy", TxnDate: "2025-02-01", InvoiceNumber: "INV-5"},
		} {
			if _, err := tx.UpsertSale(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mint signs an offer token valid for ttl from the environment's clock.
func (e *offerEnv) mint(t *testing.T, c offertoken.Claims, ttl time.Duration) string {
	t.Helper()
	tok, err := e.keys.Mint(c, e.clock.Now(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do runs one request through the server's handler.
func (e *offerEnv) do(t *testing.T, method, target string, body io.Reader, hdr http.Header, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (e *offerEnv) get(t *testing.T, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, http.MethodGet, target, nil, nil, cookies...)
}

func (e *offerEnv) postForm(t *testing.T, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, http.MethodPost, target, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, cookies...)
}

// count runs a count(*) query.
func (e *offerEnv) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *offerEnv) views(t *testing.T) int {
	return e.count(t, `SELECT count(*) FROM engagement_events WHERE event_name = 'offer_view'`)
}

func sessionCookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == offerCookie {
			return c
		}
	}
	return nil
}

func TestOfferLinkRejectsBadTokens(t *testing.T) {
	e := newOfferEnv(t, nil)
	valid := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	payload, sig, _ := strings.Cut(valid, ".")
	flipped := []byte(sig)
	flipped[3] ^= 1
	if flipped[3] == sig[3] {
		t.Fatal("tamper did not change the signature")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	tamperedPayload := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte("ACME"), []byte("EURO"), 1))
	otherKeys, _ := offertoken.ParseKeyring("rotate:k1=another-secret")
	wrongSecret, _ := otherKeys.Mint(offertoken.Claims{CompanyID: "ACME"}, e.clock.Now(), time.Hour)
	unknownKid, _ := offerKeyring(t, "rotate:k9=offer-test-secret-0123456789abcdef").Mint(offertoken.Claims{CompanyID: "ACME"}, e.clock.Now(), time.Hour)
	expired := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	unknownCompany := e.mint(t, offertoken.Claims{CompanyID: "NOPE", ContactID: "K-SUB"}, time.Hour)
	e.clock.Advance(2 * time.Minute)

	tests := []struct {
		name, token string
		status      int
	}{
		{"malformed", "not-a-token", http.StatusNotFound},
		{"three parts", payload + "." + sig + ".x", http.StatusNotFound},
		{"tampered signature", payload + "." + string(flipped), http.StatusNotFound},
		{"tampered payload", tamperedPayload + "." + sig, http.StatusNotFound},
		{"other secret", wrongSecret, http.StatusNotFound},
		{"unknown key id", unknownKid, http.StatusNotFound},
		{"expired", expired, http.StatusGone},
		{"unknown company", unknownCompany, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(t, "/x/"+tt.token)
			body := rec.Body.String()
			if rec.Code != tt.status || !strings.Contains(body, "Invalid or Expired Link") {
				t.Fatalf("status %d, want %d; body %.300s", rec.Code, tt.status, body)
			}
			for _, detail := range []string{"signature", "malformed", "kid", "company", "Acme"} {
				if strings.Contains(strings.ToLower(body), strings.ToLower(detail)) {
					t.Errorf("page says %q: it must give no detail", detail)
				}
			}
			if sessionCookieOf(rec) != nil {
				t.Error("a bad link must not set a session cookie")
			}
			if rec.Header().Get("Referrer-Policy") != "no-referrer" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", rec.Header())
			}
		})
	}
	if n := e.views(t); n != 0 {
		t.Fatalf("%d offer_view events from bad links", n)
	}
	// The expired page still links to its preferences (unsubscribe keeps working).
	if body := e.get(t, "/x/"+expired).Body.String(); !strings.Contains(body, "/preferences/"+expired) {
		t.Error("expired page has no preferences link")
	}
	logs := e.logs.String()
	for _, tt := range tests {
		if len(tt.token) > 12 && strings.Contains(logs, tt.token) {
			t.Errorf("log holds the whole %s token", tt.name)
		}
	}
	if !strings.Contains(logs, offertoken.Redact(expired)) {
		t.Errorf("rejections are not logged with the redacted token: %s", logs)
	}
}

func offerKeyring(t *testing.T, s string) *offertoken.Keyring {
	t.Helper()
	k, err := offertoken.ParseKeyring(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOfferLinkWithoutTokenSecret(t *testing.T) {
	e := newOfferEnv(t, func(c *Config) { c.TokenSecret = "" })
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME"}, time.Hour)
	for _, path := range []string{"/x/" + tok, "/preferences/" + tok} {
		rec := e.get(t, path)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "TOKEN_SECRET") {
			t.Fatalf("%s: %d %.300s", path, rec.Code, rec.Body.String())
		}
	}
}

func TestOfferViewIsPersonalisedAndTracked(t *testing.T) {
	e := newOfferEnv(t, nil)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder", CampaignKey: "spring"}, time.Hour)
	rec := e.get(t, "/x/"+tok+"?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=ribs&utm_content=button&other=x")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %.500s", rec.Code, body)
	}
	for _, want := range []string{"Acme Print Ltd", "Hi Alice", "Time to restock?", "Creasing rib, black", "£39.00",
		"last ordered 1 Mar 2025", "Price on request", "Tri-Creaser", `action="/x/checkout"`, `value="4"`,
		`href="/preferences/` + tok + `"`, `data-checkout="api"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, ` data-token="`) || strings.Contains(body, `name="t"`) {
		t.Error("personalised page must check out with its session, not the token")
	}
	// Latest purchase first: RIB-1 (March) before RIB-2 (January).
	if i, j := strings.Index(body, `data-code="RIB-1"`), strings.Index(body, `data-code="RIB-2"`); i < 0 || j < i {
		t.Errorf("reorder items not latest first (%d, %d)", i, j)
	}

	c := sessionCookieOf(rec)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
		t.Fatalf("cookie %+v", c)
	}
	if c.Value == tok || strings.Contains(tok, c.Value) {
		t.Fatal("the cookie must not carry the token")
	}
	sess, err := e.db.GetOfferSession(context.Background(), c.Value)
	if err != nil || sess.CompanyID != "ACME" || sess.ContactID != "K-SUB" || sess.OfferKey != "reorder" || sess.CampaignKey != "spring" {
		t.Fatalf("session %+v %v", sess, err)
	}
	var ev struct {
		source, sourceEventID, company, contact, offer, campaign, session, url, meta string
	}
	err = e.db.Read().QueryRow(`SELECT source, source_event_id, company_id, contact_id, offer_key, campaign_key, session_id, url, meta
		FROM engagement_events WHERE event_name = 'offer_view'`).Scan(&ev.source, &ev.sourceEventID, &ev.company, &ev.contact,
		&ev.offer, &ev.campaign, &ev.session, &ev.url, &ev.meta)
	if err != nil {
		t.Fatal(err)
	}
	if ev.source != "web" || ev.company != "ACME" || ev.contact != "K-SUB" || ev.offer != "reorder" || ev.campaign != "spring" ||
		ev.session != sess.Ref || ev.url != "/x/…" || !strings.HasPrefix(ev.sourceEventID, "offer_view:"+sess.Ref+":") {
		t.Fatalf("event %+v", ev)
	}
	var meta struct {
		UTM map[string]string `json:"utm"`
	}
	if err := json.Unmarshal([]byte(ev.meta), &meta); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring", "utm_term": "ribs", "utm_content": "button"}
	if len(meta.UTM) != len(want) {
		t.Fatalf("meta.utm %v", meta.UTM)
	}
	for k, v := range want {
		if meta.UTM[k] != v {
			t.Errorf("meta.utm[%s] = %q, want %q", k, meta.UTM[k], v)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events WHERE meta LIKE ? OR url LIKE ? OR source_event_id LIKE ?`,
		"%"+tok+"%", "%"+tok+"%", "%"+tok+"%"); n != 0 {
		t.Fatal("the token was stored in an event")
	}
	if strings.Contains(e.logs.String(), tok) {
		t.Fatal("the token was logged")
	}
}

func TestOfferViewReloadsCountButDoubleSubmitsDoNot(t *testing.T) {
	e := newOfferEnv(t, nil)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	first := e.get(t, "/x/"+tok)
	c := sessionCookieOf(first)
	if c == nil {
		t.Fatal("no cookie")
	}
	// A second request in the same second with the same session (a double click) is one view.
	if rec := e.get(t, "/x/"+tok, c); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	if n := e.views(t); n != 1 {
		t.Fatalf("double submit gave %d views", n)
	}
	e.clock.Advance(3 * time.Second)
	if rec := e.get(t, "/x/"+tok, c); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	if n := e.views(t); n != 2 {
		t.Fatalf("reload gave %d views, want 2", n)
	}
	if n := e.count(t, `SELECT count(DISTINCT session_id) FROM engagement_events WHERE event_name = 'offer_view'`); n != 1 {
		t.Fatalf("a reload with the cookie must keep its session (%d sessions)", n)
	}
	if n := e.count(t, `SELECT count(*) FROM offer_sessions`); n != 1 {
		t.Fatalf("%d session rows", n)
	}
}

func TestOfferCookieIsSecureUnderHTTPS(t *testing.T) {
	e := newOfferEnv(t, func(c *Config) { c.BaseURL = "https://shop.example.com" })
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)
	c := sessionCookieOf(e.get(t, "/x/"+tok))
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}
}

func TestOfferConsentGating(t *testing.T) {
	e := newOfferEnv(t, nil)
	tests := []struct {
		contact  string
		personal bool
	}{
		{"K-SUB", true},
		{"K-PEND", true},
		{"K-UNSUB", false},
		{"K-BOUNCE", false},
		{"K-GONE", false}, // unknown contact
		{"K-EURO", false}, // a contact of another company
		{"", true},        // a company-wide link names no person
	}
	for _, tt := range tests {
		t.Run(tt.contact, func(t *testing.T) {
			before := e.views(t)
			sessions := e.count(t, `SELECT count(*) FROM offer_sessions`)
			tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: tt.contact, OfferKey: "reorder"}, time.Hour)
			old := &http.Cookie{Name: offerCookie, Value: "stale"}
			rec := e.get(t, "/x/"+tok+"?utm_source=x", old)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			personal := strings.Contains(body, "Acme Print Ltd")
			if personal != tt.personal {
				t.Fatalf("personalised = %v, want %v", personal, tt.personal)
			}
			tracked := e.views(t) - before
			newSessions := e.count(t, `SELECT count(*) FROM offer_sessions`) - sessions
			if tt.personal {
				if tracked != 1 || newSessions != 1 {
					t.Fatalf("tracked %d views, %d sessions", tracked, newSessions)
				}
				return
			}
			if tracked != 0 || newSessions != 0 {
				t.Fatalf("generic visit tracked: %d views, %d sessions", tracked, newSessions)
			}
			for _, personalBit := range []string{"Hi ", "last ordered", "Reorder what you bought", "Consumables for your tools", "Time to restock?"} {
				if strings.Contains(body, personalBit) {
					t.Errorf("generic page shows %q", personalBit)
				}
			}
			for _, want := range []string{"Creasing rib, black", "£39.00", "Perforating blade", "£1,850.00",
				`name="t" value="` + tok + `"`, `data-checkout="form"`, "/preferences/" + tok} {
				if !strings.Contains(body, want) {
					t.Errorf("generic page lacks %q", want)
				}
			}
			if c := sessionCookieOf(rec); c == nil || c.MaxAge >= 0 {
				t.Errorf("a stale session cookie is not cleared: %+v", c)
			}
		})
	}
}

func TestOfferPricesInCompanyCurrencyAndCopyByOffer(t *testing.T) {
	e := newOfferEnv(t, nil)
	tests := []struct {
		company, contact, offer string
		want                    []string
	}{
		{"EURO", "K-EURO", "winback", []string{"€45.50", "We&#39;ve missed you"}},
		{"NIPPON", "", "", []string{"4,500 JPY", "Consumables for your Technifold tools"}},
		{"ACME", "K-SUB", "no-such-offer", []string{"£39.00", "Consumables for your Technifold tools"}},
	}
	for _, tt := range tests {
		tok := e.mint(t, offertoken.Claims{CompanyID: tt.company, ContactID: tt.contact, OfferKey: tt.offer}, time.Hour)
		body := e.get(t, "/x/"+tok).Body.String()
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s page lacks %q", tt.company, w)
			}
		}
	}
	if got := formatMoney(4500, "jpy"); got != "4,500 JPY" {
		t.Errorf("formatMoney jpy = %q", got)
	}
	if got := formatMoney(4550, "eur"); got != "€45.50" {
		t.Errorf("formatMoney eur = %q", got)
	}
	if got := formatMoney(1234567, "kwd"); got != "1,234.567 KWD" {
		t.Errorf("formatMoney kwd = %q", got)
	}
}
