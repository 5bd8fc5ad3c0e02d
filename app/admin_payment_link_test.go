package app

import (
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

func TestAdminPaymentLink(t *testing.T) {
	stripeBase := startStripeMock(t)
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.StripeSecretKey, c.StripeAPIBase = "sk_test_123", stripeBase }})
	seedStripeCatalog(t, e.db)
	e.addUser("staff@example.com", store.RoleStaff, "staff-password-1")
	c := e.login("staff@example.com", "staff-password-1")

	status, page := e.get(c, "/admin/companies/ACME")
	if status != http.StatusOK || !strings.Contains(page, `action="/admin/companies/ACME/payment-link"`) ||
		!strings.Contains(page, `<option value="K1">`) || !strings.Contains(page, `<option value="BLADE-1">`) {
		t.Fatalf("company page lacks the payment-link form: %d", status)
	}
	form := url.Values{"contact_id": {"K1"}, "product_code": {"TOOL-1", "", "BLADE-1"}, "quantity": {"1", "1", "3"}}
	resp := e.postForm(c, "/admin/companies/ACME/payment-link", form)
	body := readBody(resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "https://checkout.stripe.com/") || !strings.Contains(body, "ORD-000001") {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	o, err := e.db.GetOrder(t.Context(), "ORD-000001")
	if err != nil || o.CompanyID != "ACME" || o.ContactID != "K1" || len(o.Items) != 2 || o.StripeCheckoutSessionID == "" {
		t.Fatalf("order %+v %v", o, err)
	}
	if !slices.Contains(e.auditActions(), "payment_link.create") {
		t.Fatalf("not audited: %v", e.auditActions())
	}
	// A contact of another company, or an unknown one: the uniform error, no order.
	for _, k := range []string{"K2", "K9"} {
		resp := e.postForm(c, "/admin/companies/ACME/payment-link", url.Values{"contact_id": {k}, "product_code": {"TOOL-1"}, "quantity": {"1"}})
		body := html.UnescapeString(readBody(resp))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, store.ErrUnknownParty) {
			t.Fatalf("contact %s: %d %s", k, resp.StatusCode, body)
		}
	}
	var orders int
	_ = e.db.Read().QueryRow(`SELECT count(*) FROM orders`).Scan(&orders)
	if orders != 1 {
		t.Fatalf("orders: %d", orders)
	}
	// Signed out: sent to sign in, nothing created.
	resp = e.postForm(e.client(), "/admin/companies/ACME/payment-link", form)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
