package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

var anyEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+(@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// At debug level, stripe-go logs every response body: customers' e-mails and addresses must
// not reach the log (issue 12 §7). A checkout (its session carries the buyer's e-mail) and a
// customer fetch run against stripe-mock with the log at debug.
func TestStripeDebugLogHasNoPersonalData(t *testing.T) {
	cfg := testConfig(t)
	cfg.BaseURL = "https://shop.example"
	cfg.StripeSecretKey = "sk_test_technifold"
	cfg.StripeAPIBase = startStripeMock(t)
	cfg.AdminAPIToken = stripeTestAPIToken
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	seedStripeCatalog(t, db)
	logs := &syncBuffer{}
	srv, err := NewServer(cfg, db, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/checkout",
		strings.NewReader(`{"company_id":"ACME","contact_id":"K1","items":[{"product_code":"TOOL-1","quantity":1}]}`))
	req.Header.Set("Authorization", "Bearer "+stripeTestAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("checkout %d", resp.StatusCode)
	}
	// A customer and a charge: objects full of e-mails, names and addresses.
	if _, err := srv.stripe.client.V1Customers.Retrieve(context.Background(), "cus_123", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.stripe.client.V1Charges.Retrieve(context.Background(), "ch_123", nil); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, `"component":"stripe"`) || !strings.Contains(out, "cus_") {
		t.Fatalf("no stripe debug lines were logged:\n%s", out)
	}
	if m := anyEmail.FindString(out); m != "" {
		t.Fatalf("the log holds an e-mail address %q:\n%s", m, out)
	}
	for _, pii := range []string{"buyer@acme", "line1", "postal_code", "Ann Buyer"} {
		if strings.Contains(out, pii) {
			t.Fatalf("the log holds %q:\n%s", pii, out)
		}
	}
}

// Every level of stripe-go's logging is redacted, whatever the message.
func TestStripeLoggerRedacts(t *testing.T) {
	logs := &syncBuffer{}
	l := stripeLogger{slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Debugf("Response: %s", `{"id":"cus_1","object":"customer","email":"jane@example.com","name":"Jane Doe",`+
		`"address":{"line1":"1 High St","city":"Leeds","postal_code":"LS1 1AA"},"phone":"+44 113 496 0000"}`)
	l.Errorf("Request error from Stripe (status %v): %v", 400, `{"message":"Invalid email address: jane%40example.com","param":"customer_email"}`)
	l.Warnf("retrying %s for jane@example.com with key sk_test_abcdef123", "x")
	l.Infof("Requesting %v %v%v", "POST", "api.stripe.com", "/v1/customers")
	out := logs.String()
	for _, pii := range []string{"jane", "Jane", "High St", "Leeds", "LS1", "113 496", "sk_test_abcdef"} {
		if strings.Contains(out, pii) {
			t.Fatalf("log holds %q:\n%s", pii, out)
		}
	}
	for _, keep := range []string{"cus_1", "customer", "/v1/customers", "Invalid email address", "status 400"} {
		if !strings.Contains(out, keep) {
			t.Fatalf("log lost %q:\n%s", keep, out)
		}
	}
}
