package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/technifold/technifold/store"
)

// stripeTestSecrets are the webhook signing secrets of the test servers (rotation: two).
var stripeTestSecrets = []string{"whsec_test_current", "whsec_test_previous"}

// stripeTestAPIToken is the test servers' ADMIN_API_TOKEN: env.checkout calls as a trusted
// caller (the rules for anonymous callers are tested in checkout_public_test.go).
const stripeTestAPIToken = "test-admin-api-token-0123456789abcdef"

// stripeTestEnv is a server on a real database file and a loopback listener, with a
// catalogue: company ACME (gbp) with contact K1, company BETA (eur) with K2, products TOOL-1,
// BLADE-1 (which has a Stripe price in gbp) and the inactive OLD-1.
type stripeTestEnv struct {
	cfg  *Config
	db   *store.DB
	srv  *Server
	http *httptest.Server
}

func newStripeTestEnv(t testing.TB, mutate func(*Config)) *stripeTestEnv {
	t.Helper()
	cfg := testConfig(t)
	cfg.BaseURL = "https://shop.example"
	cfg.StripeSecretKey = "sk_test_technifold"
	cfg.StripeWebhookSecret = strings.Join(stripeTestSecrets, ",")
	cfg.AdminAPIToken = stripeTestAPIToken
	if mutate != nil {
		mutate(cfg)
	}
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	seedStripeCatalog(t, db)
	srv, err := NewServer(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &stripeTestEnv{cfg: cfg, db: db, srv: srv, http: hs}
}

func seedStripeCatalog(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx *store.Tx) error {
		for _, c := range []store.Company{{ID: "ACME", Name: "Acme Print Ltd", Currency: "gbp"}, {ID: "BETA", Name: "Beta GmbH", Currency: "eur"}} {
			if _, err := tx.UpsertCompany(ctx, c); err != nil {
				return err
			}
		}
		for _, k := range []store.Contact{{ID: "K1", CompanyID: "ACME", Email: "buyer@acme.example", FullName: "Ann Buyer"},
			{ID: "K2", CompanyID: "BETA", Email: "einkauf@beta.example"}} {
			if _, err := tx.UpsertContact(ctx, k); err != nil {
				return err
			}
		}
		for _, p := range []store.Product{{Code: "TOOL-1", Description: "Tri-Creaser <Pro>", Type: "tool", Active: true},
			{Code: "BLADE-1", Description: "Blade pack", Type: "consumable", Active: true},
			{Code: "OLD-1", Description: "Retired part", Type: "part", Active: false}} {
			if _, err := tx.UpsertProduct(ctx, p); err != nil {
				return err
			}
		}
		for _, p := range []store.Price{{ProductCode: "TOOL-1", Currency: "gbp", UnitAmount: 125000},
			{ProductCode: "BLADE-1", Currency: "gbp", UnitAmount: 2499, StripePriceID: "price_blade_gbp"},
			{ProductCode: "BLADE-1", Currency: "eur", UnitAmount: 2899},
			{ProductCode: "OLD-1", Currency: "gbp", UnitAmount: 100}} {
			if _, err := tx.UpsertPrice(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// do sends a request to the test server and returns the status and body.
func (e *stripeTestEnv) do(t testing.TB, method, path string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (e *stripeTestEnv) checkout(t testing.TB, body string) (int, map[string]string) {
	t.Helper()
	status, b := e.do(t, http.MethodPost, "/api/checkout", []byte(body), http.Header{"Content-Type": {"application/json"},
		"Authorization": {"Bearer " + stripeTestAPIToken}})
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("checkout answer %d is not JSON: %s", status, b)
	}
	return status, out
}

func (e *stripeTestEnv) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stripeRecorder proxies to stripe-mock and keeps the form and headers of each request.
type stripeRecorder struct {
	mu   sync.Mutex
	reqs []recordedStripeRequest
}

type recordedStripeRequest struct {
	path   string
	form   url.Values
	header http.Header
}

func (r *stripeRecorder) last(t testing.TB) recordedStripeRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request reached Stripe")
	}
	return r.reqs[len(r.reqs)-1]
}

func startRecordingStripe(t testing.TB, mockURL string) (string, *stripeRecorder) {
	t.Helper()
	target, _ := url.Parse(mockURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := &stripeRecorder{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recordedStripeRequest{path: r.URL.Path, form: form, header: r.Header.Clone()})
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs.URL, rec
}

func TestCheckoutCreatesOrderAndSession(t *testing.T) {
	base, rec := startRecordingStripe(t, startStripeMock(t))
	env := newStripeTestEnv(t, func(c *Config) {
		c.StripeAPIBase = base
		c.StripeShippingCountries = "gb, IE"
		c.StripeAutomaticTax = "true"
		c.StripeAllowPromotionCodes = "true"
	})
	status, out := env.checkout(t, `{"company_id":"ACME","contact_id":"K1","offer_key":"spring","campaign_key":"c-42",
		"items":[{"product_code":"TOOL-1","quantity":1},{"product_code":"BLADE-1","quantity":2},{"product_code":"BLADE-1","quantity":1}]}`)
	if status != http.StatusOK || out["order_id"] != "ORD-000001" || out["session_id"] == "" || out["url"] == "" {
		t.Fatalf("checkout: %d %v", status, out)
	}
	o, err := env.db.GetOrder(context.Background(), "ORD-000001")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != store.OrderPending || o.PaymentStatus != store.PaymentUnpaid || o.Currency != "gbp" ||
		o.TotalAmount != 125000+3*2499 || o.TaxAmount != 0 || len(o.Items) != 2 || o.Items[1].Quantity != 3 ||
		o.StripeCheckoutSessionID != out["session_id"] || o.CheckoutURL != out["url"] || o.OfferKey != "spring" {
		t.Fatalf("order %+v", o)
	}
	if n := env.count(t, `SELECT count(*) FROM engagement_events WHERE source = 'web' AND event_name = 'checkout_started'
		AND source_event_id = 'checkout_started:ORD-000001' AND value = ? AND company_id = 'ACME' AND contact_id = 'K1'`, o.TotalAmount); n != 1 {
		t.Fatal("no checkout_started event")
	}
	r := rec.last(t)
	want := map[string]string{
		"mode":                "payment",
		"client_reference_id": "ORD-000001",
		"metadata[order_id]":  "ORD-000001",
		"payment_intent_data[metadata][order_id]":                         "ORD-000001",
		"invoice_creation[enabled]":                                       "true",
		"invoice_creation[invoice_data][metadata][order_id]":              "ORD-000001",
		"billing_address_collection":                                      "required",
		"success_url":                                                     "https://shop.example/checkout/success?session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":                                                      "https://shop.example/checkout/cancel?order_id=ORD-000001",
		"customer_email":                                                  "buyer@acme.example",
		"line_items[0][price_data][currency]":                             "gbp",
		"line_items[0][price_data][unit_amount]":                          "125000",
		"line_items[0][price_data][product_data][name]":                   "Tri-Creaser <Pro>",
		"line_items[0][price_data][product_data][metadata][product_code]": "TOOL-1",
		"line_items[0][quantity]":                                         "1",
		"line_items[1][price]":                                            "price_blade_gbp",
		"line_items[1][quantity]":                                         "3",
		"shipping_address_collection[allowed_countries][0]":               "GB",
		"shipping_address_collection[allowed_countries][1]":               "IE",
		"automatic_tax[enabled]":                                          "true",
		"allow_promotion_codes":                                           "true",
		"adaptive_pricing[enabled]":                                       "false",
	}
	for k, v := range want {
		if got := r.form.Get(k); got != v {
			t.Errorf("Stripe got %s=%q, want %q", k, got, v)
		}
	}
	if r.path != "/v1/checkout/sessions" || r.header.Get("Idempotency-Key") != "checkout-ORD-000001" {
		t.Errorf("request %s with Idempotency-Key %q", r.path, r.header.Get("Idempotency-Key"))
	}
}

func TestCheckoutRejectsBadRequests(t *testing.T) {
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = "http://127.0.0.1:1" }) // never reached
	items100 := make([]string, 101)
	for i := range items100 {
		items100[i] = `{"product_code":"P` + strings.Repeat("X", i%7) + `","quantity":1}`
	}
	tests := []struct {
		name, body, want string
	}{
		{"unknown product", `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":1},{"product_code":"XX","quantity":1}]}`, `items[1]: unknown product code "XX"`},
		{"inactive product", `{"company_id":"ACME","items":[{"product_code":"OLD-1","quantity":1}]}`, `items[0]: product "OLD-1" is not available`},
		{"quantity zero", `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":0}]}`, `items[0]: quantity must be`},
		{"quantity 1000", `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":1000}]}`, `items[0]: quantity must be`},
		{"quantity fraction", `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":1.5}]}`, `items[0]: quantity must be`},
		{"merged over 999", `{"company_id":"ACME","items":[{"product_code":"BLADE-1","quantity":500},{"product_code":"TOOL-1","quantity":1},{"product_code":"BLADE-1","quantity":500}]}`, `items[2]: quantity of "BLADE-1" adds up to 1000`},
		{"missing code", `{"company_id":"ACME","items":[{"quantity":1}]}`, `items[0]: product_code is required`},
		// Unknown company, unknown contact and a contact of another company: one answer.
		{"unknown company", `{"company_id":"NOPE","items":[{"product_code":"TOOL-1","quantity":1}]}`, store.ErrUnknownParty},
		{"foreign contact", `{"company_id":"ACME","contact_id":"K2","items":[{"product_code":"TOOL-1","quantity":1}]}`, store.ErrUnknownParty},
		{"unknown contact", `{"company_id":"ACME","contact_id":"K9","items":[{"product_code":"TOOL-1","quantity":1}]}`, store.ErrUnknownParty},
		{"no price in currency", `{"company_id":"ACME","currency":"USD","items":[{"product_code":"TOOL-1","quantity":1}]}`, `items[0]: product "TOOL-1" has no price in USD`},
		{"no price in company currency", `{"company_id":"BETA","items":[{"product_code":"BLADE-1","quantity":1},{"product_code":"TOOL-1","quantity":1}]}`, `items[1]: product "TOOL-1" has no price in EUR`},
		{"bad currency", `{"company_id":"ACME","currency":"pounds","items":[{"product_code":"TOOL-1","quantity":1}]}`, `currency: must be`},
		{"empty items", `{"company_id":"ACME","items":[]}`, `items: at least one item`},
		{"too many items", `{"company_id":"ACME","items":[` + strings.Join(items100, ",") + `]}`, `items: at most 100 items`},
		{"not json", `{"company_id":`, `malformed JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := env.checkout(t, tt.body)
			if status != http.StatusBadRequest || !strings.Contains(out["error"], tt.want) {
				t.Fatalf("%d %q, want 400 containing %q", status, out["error"], tt.want)
			}
		})
	}
	big := `{"company_id":"ACME","offer_key":"` + strings.Repeat("x", 70<<10) + `","items":[]}`
	if status, _ := env.checkout(t, big); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("70 KiB body: %d, want 413", status)
	}
	if n := env.count(t, `SELECT count(*) FROM orders`) + env.count(t, `SELECT count(*) FROM engagement_events`); n != 0 {
		t.Fatalf("rejected checkouts wrote %d rows", n)
	}
}

func TestCheckoutUnconfigured(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no key", func(c *Config) { c.StripeSecretKey = "" }, "STRIPE_SECRET_KEY"},
		{"bad option", func(c *Config) { c.StripeAutomaticTax = "maybe" }, "STRIPE_AUTOMATIC_TAX must be true or false"},
		{"bad country", func(c *Config) { c.StripeShippingCountries = "GB,England" }, "STRIPE_SHIPPING_COUNTRIES"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newStripeTestEnv(t, tt.mutate)
			status, out := env.checkout(t, `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":1}]}`)
			if status != http.StatusServiceUnavailable || !strings.Contains(out["error"], tt.want) {
				t.Fatalf("%d %v", status, out)
			}
			if n := env.count(t, `SELECT count(*) FROM orders`); n != 0 {
				t.Fatalf("%d orders", n)
			}
		})
	}
}

func TestCheckoutStripeFailureMarksOrderFailed(t *testing.T) {
	old := stripeNetworkRetries
	stripeNetworkRetries = 0
	t.Cleanup(func() { stripeNetworkRetries = old })
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"Something went wrong on Stripe's end (key sk_test_abc123)."}}`)
	}))
	t.Cleanup(failing.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tt := range []struct{ name, base, want string }{
		{"stripe answers 500", failing.URL, "Something went wrong on Stripe's end"},
		{"stripe unreachable", closed.URL, "could not reach Stripe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = tt.base })
			status, out := env.checkout(t, `{"company_id":"ACME","items":[{"product_code":"TOOL-1","quantity":1}]}`)
			if status != http.StatusBadGateway || !strings.HasPrefix(out["error"], "payment provider error: ") ||
				!strings.Contains(out["error"], tt.want) || strings.Contains(out["error"], "sk_test") {
				t.Fatalf("%d %v", status, out)
			}
			o, err := env.db.GetOrder(context.Background(), "ORD-000001")
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != store.OrderFailed || !strings.Contains(o.FailureReason, tt.want) || o.StripeCheckoutSessionID != "" {
				t.Fatalf("order %+v", o)
			}
		})
	}
}

func TestCheckoutUsesOfferSession(t *testing.T) {
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = startStripeMock(t) })
	env.srv.offerSession = func(r *http.Request) (string, string, bool) {
		c, err := r.Cookie("offer_session")
		if err != nil || c.Value != "sess-1" {
			return "", "", false
		}
		return "ACME", "K1", true
	}
	h := http.Header{"Content-Type": {"application/json"}, "Cookie": {"offer_session=sess-1"}}
	status, b := env.do(t, http.MethodPost, "/api/checkout", []byte(`{"items":[{"product_code":"BLADE-1","quantity":4}]}`), h)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, b)
	}
	o, _ := env.db.GetOrder(context.Background(), "ORD-000001")
	if o.CompanyID != "ACME" || o.ContactID != "K1" {
		t.Fatalf("order %+v", o)
	}
	status, b = env.do(t, http.MethodPost, "/api/checkout", []byte(`{"company_id":"BETA","items":[{"product_code":"BLADE-1","quantity":4}]}`), h)
	if status != http.StatusBadRequest || !strings.Contains(string(b), store.ErrUnknownParty) {
		t.Fatalf("other company with an offer session: %d %s", status, b)
	}
}

func TestCheckoutPages(t *testing.T) {
	env := newStripeTestEnv(t, func(c *Config) { c.StripeAPIBase = startStripeMock(t) })
	status, out := env.checkout(t, `{"company_id":"ACME","contact_id":"K1","items":[{"product_code":"TOOL-1","quantity":2}]}`)
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, out)
	}
	sid := url.QueryEscape(out["session_id"])
	status, b := env.do(t, http.MethodGet, "/checkout/success?session_id="+sid, nil, nil)
	page := string(b)
	if status != http.StatusOK || !strings.Contains(page, "ORD-000001") || !strings.Contains(page, "£2,500.00") ||
		!strings.Contains(page, `http-equiv="refresh"`) || !strings.Contains(page, "/api/orders/status") ||
		!strings.Contains(page, "Tri-Creaser &lt;Pro&gt;") || strings.Contains(page, "buyer@acme.example") {
		t.Fatalf("success page %d:\n%s", status, page)
	}
	status, b = env.do(t, http.MethodGet, "/api/orders/status?session_id="+sid, nil, nil)
	var st map[string]string
	_ = json.Unmarshal(b, &st)
	if status != http.StatusOK || st["order_id"] != "ORD-000001" || st["status"] != "pending" || st["payment_status"] != "unpaid" || len(st) != 3 {
		t.Fatalf("status %d %s", status, b)
	}
	// Once paid, the page stops refreshing.
	env.postSigned(t, stripeFixtureEvent(t, "checkout.session.completed", "evt_page_paid", map[string]any{
		"id": out["session_id"], "metadata.order_id": "ORD-000001", "client_reference_id": "ORD-000001",
		"currency": "gbp", "amount_total": 250000, "amount_subtotal": 250000}), http.StatusOK)
	status, b = env.do(t, http.MethodGet, "/checkout/success?session_id="+sid, nil, nil)
	if status != http.StatusOK || strings.Contains(string(b), `http-equiv="refresh"`) || !strings.Contains(string(b), "paid / paid") {
		t.Fatalf("paid page %d:\n%s", status, b)
	}
	if status, b = env.do(t, http.MethodGet, "/checkout/success?session_id=cs_unknown", nil, nil); status != http.StatusNotFound ||
		!strings.Contains(string(b), "Order not found") {
		t.Fatalf("unknown session: %d %s", status, b)
	}
	if status, _ = env.do(t, http.MethodGet, "/api/orders/status?session_id=cs_unknown", nil, nil); status != http.StatusNotFound {
		t.Fatalf("unknown session status: %d", status)
	}
	status, b = env.do(t, http.MethodGet, "/checkout/cancel?order_id=%3Cscript%3E", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(b), "not completed") || strings.Contains(string(b), "<script>") ||
		strings.Contains(string(b), `href="/"`) {
		t.Fatalf("cancel page %d:\n%s", status, b)
	}
}
