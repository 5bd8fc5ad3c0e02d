package zohobooks

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
)

// clock is a settable clock shared by a client and a fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeConfig is a Config for the fake. The rate is high so that tests do
// not wait on the limiter; TestLimiterStaysUnderZohoLimit tests it.
func fakeConfig(f *zohofake.Server) Config {
	o := f.Options()
	return Config{
		ClientID:       o.ClientID,
		ClientSecret:   o.ClientSecret,
		RefreshToken:   o.RefreshToken,
		OrganizationID: o.OrganizationID,
		AccountsURL:    f.AccountsURL(),
		APIURL:         f.APIURL(),
		RatePerMinute:  60000,
		Now:            o.Now,
	}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// headerRecorder records the Authorization header of every API request.
type headerRecorder struct {
	mu      sync.Mutex
	headers []string
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/books/v3/") {
		h.mu.Lock()
		h.headers = append(h.headers, r.Header.Get("Authorization"))
		h.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestNewValidatesConfig(t *testing.T) {
	_, err := New(Config{ClientSecret: "s3cr3t-value", RefreshToken: "r3fr3sh-value"})
	if err == nil {
		t.Fatal("New accepted a config without client id and organization")
	}
	msg := err.Error()
	for _, want := range []string{"ZOHO_CLIENT_ID", "ZOHO_ORGANIZATION_ID"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	for _, secret := range []string{"s3cr3t-value", "r3fr3sh-value", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q mentions %s", msg, secret)
		}
	}

	full := Config{ClientID: "id", ClientSecret: "s", RefreshToken: "r", OrganizationID: "1"}
	for dc, wantAPI := range map[string]string{
		"":       "https://www.zohoapis.com/books/v3",
		"eu":     "https://www.zohoapis.eu/books/v3",
		"com.au": "https://www.zohoapis.com.au/books/v3",
	} {
		cfg := full
		cfg.DC = dc
		c := newClient(t, cfg)
		if c.baseURL() != wantAPI {
			t.Errorf("DC %q: API %s, want %s", dc, c.baseURL(), wantAPI)
		}
		if wantTok := strings.Replace(strings.TrimSuffix(wantAPI, "/books/v3"), "www.zohoapis", "accounts.zoho", 1) + "/oauth/v2/token"; c.tokens.conf.Endpoint.TokenURL != wantTok {
			t.Errorf("DC %q: token URL %s, want %s", dc, c.tokens.conf.Endpoint.TokenURL, wantTok)
		}
	}
	full.DC = "us"
	if _, err := New(full); err == nil {
		t.Error("New accepted DC us")
	}
}

func TestEveryCallHasZohoHeaderAndOrganization(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	rec := &headerRecorder{}
	cfg := fakeConfig(f)
	cfg.HTTPClient = &http.Client{Transport: rec}
	c := newClient(t, cfg)
	ctx := context.Background()

	if _, err := c.FindCustomerByEmail(ctx, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindItemBySKU(ctx, "B1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindInvoiceByReference(ctx, "ORD-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindPaymentByReference(ctx, "ch_1"); err != nil {
		t.Fatal(err)
	}

	if len(rec.headers) != 4 {
		t.Fatalf("recorded %d API requests, want 4", len(rec.headers))
	}
	for _, h := range rec.headers {
		if !strings.HasPrefix(h, "Zoho-oauthtoken 1000.") {
			t.Errorf("Authorization %q, want Zoho-oauthtoken", h)
		}
	}
	for _, r := range f.Requests() {
		if r.Query.Get("organization_id") != zohofake.DefaultOrganizationID || r.Status != 200 {
			t.Errorf("%s %s: organization_id %q, HTTP %d", r.Method, r.Path, r.Query.Get("organization_id"), r.Status)
		}
	}
}

func TestFollowsAPIDomain(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	cfg := fakeConfig(f)
	cfg.DC, cfg.APIURL = "eu", "" // zohoapis.eu is unreachable here: only api_domain leads to the fake
	c := newClient(t, cfg)
	if _, err := c.FindItemBySKU(context.Background(), "B1"); err != nil {
		t.Fatalf("call after api_domain switch: %v", err)
	}
	if want := f.URL() + "/books/v3"; c.baseURL() != want {
		t.Fatalf("API base %s, want %s", c.baseURL(), want)
	}

	// An explicit APIURL wins over api_domain.
	pinned := zohofake.New(t, zohofake.Options{APIDomain: "https://www.zohoapis.eu"})
	c = newClient(t, fakeConfig(pinned))
	if _, err := c.FindItemBySKU(context.Background(), "B1"); err != nil {
		t.Fatalf("call with pinned APIURL: %v", err)
	}
}

func TestHappyPath(t *testing.T) {
	// Zoho refunds only a payment's excess; a Stripe refund of an applied
	// charge needs the relaxed fake (see zohofake.Options).
	f := zohofake.New(t, zohofake.Options{AllowAppliedRefunds: true})
	c := newClient(t, fakeConfig(f))
	ctx := context.Background()

	if got, err := c.FindCustomerByEmail(ctx, "ada@example.com"); err != nil || got != nil {
		t.Fatalf("find before create: %v, %v", got, err)
	}
	cust, err := c.CreateCustomer(ctx, CreateCustomerInput{
		ContactName: "Ada Lovelace", CompanyName: "Analytical Ltd", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
	})
	if err != nil {
		t.Fatal(err)
	}
	if found, err := c.FindCustomerByEmail(ctx, "ADA@example.com"); err != nil || found == nil || found.ContactID != cust.ContactID {
		t.Fatalf("find after create: %+v, %v", found, err)
	}

	item, err := c.CreateItem(ctx, Item{Name: "Field Guide", SKU: "FG-1", Rate: MinorToMajor(1234, "gbp"), Description: "Paperback"})
	if err != nil {
		t.Fatal(err)
	}
	if found, err := c.FindItemBySKU(ctx, "FG-1"); err != nil || found == nil || found.ItemID != item.ItemID {
		t.Fatalf("find item: %+v, %v", found, err)
	}

	inv, err := c.CreateInvoice(ctx, CreateInvoiceInput{
		CustomerID: cust.ContactID, ReferenceNumber: "ORD-1001", Date: "2026-03-01",
		LineItems: []LineItem{{ItemID: item.ItemID, Name: "Field Guide", Rate: MinorToMajor(1234, "gbp"), Quantity: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != "draft" || inv.Total != 24.68 {
		t.Fatalf("invoice %+v, want a draft of 24.68", inv)
	}
	if err := c.MarkInvoiceSent(ctx, inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	if found, err := c.FindInvoiceByReference(ctx, "ORD-1001"); err != nil || found == nil || found.Status != "sent" {
		t.Fatalf("find invoice: %+v, %v", found, err)
	}

	pay, err := c.CreatePayment(ctx, CreatePaymentInput{
		CustomerID: cust.ContactID, Amount: MinorToMajor(2468, "gbp"), Date: "2026-03-01", ReferenceNumber: "ch_123",
		AccountID: "acc-1", Invoices: []AppliedInvoice{{InvoiceID: inv.InvoiceID, AmountApplied: MinorToMajor(2468, "gbp")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if found, err := c.FindPaymentByReference(ctx, "ch_123"); err != nil || found == nil || found.PaymentID != pay.PaymentID {
		t.Fatalf("find payment: %+v, %v", found, err)
	}

	ref, err := c.CreatePaymentRefund(ctx, pay.PaymentID, RefundInput{
		Date: "2026-03-02", RefundMode: "creditcard", ReferenceNumber: "re_1", Amount: MinorToMajor(1000, "gbp"), FromAccountID: "acc-1", Description: "partial",
	})
	if err != nil {
		t.Fatal(err)
	}
	refunds, err := c.ListPaymentRefunds(ctx, pay.PaymentID)
	if err != nil || len(refunds) != 1 || refunds[0].PaymentRefundID != ref.PaymentRefundID || refunds[0].AmountBCY != 10 {
		t.Fatalf("list refunds: %+v, %v", refunds, err)
	}

	// The books as Zoho would hold them.
	customers := f.Customers()
	if len(customers) != 1 || customers[0].ContactType != "customer" || customers[0].Email() != "ada@example.com" ||
		!customers[0].ContactPersons[0].IsPrimaryContact {
		t.Errorf("customers %+v", customers)
	}
	if items := f.Items(); len(items) != 1 || items[0].SKU != "FG-1" || items[0].Rate != 12.34 || items[0].ProductType != "goods" {
		t.Errorf("items %+v", items)
	}
	invoices := f.Invoices()
	if len(invoices) != 1 || invoices[0].Status != "paid" || invoices[0].ReferenceNumber != "ORD-1001" ||
		invoices[0].Date != "2026-03-01" || invoices[0].LineItems[0].Quantity != 2 {
		t.Errorf("invoices %+v", invoices)
	}
	payments := f.Payments()
	if len(payments) != 1 || payments[0].PaymentMode != "creditcard" || payments[0].Amount != 24.68 ||
		payments[0].AmountRefunded != 10 || payments[0].AccountID != "acc-1" ||
		payments[0].Invoices[0] != (zohofake.AppliedInvoice{InvoiceID: inv.InvoiceID, AmountApplied: 24.68}) {
		t.Errorf("payments %+v", payments)
	}
	if refunds := f.Refunds(); len(refunds) != 1 || refunds[0].Amount != 10 || refunds[0].FromAccountID != "acc-1" || refunds[0].ReferenceNumber != "re_1" {
		t.Errorf("refunds %+v", refunds)
	}
	if f.TokensMinted() != 1 || f.RateLimited() != 0 {
		t.Errorf("minted %d, 429s %d; want 1, 0", f.TokensMinted(), f.RateLimited())
	}
}

func TestAPIErrorsSurface(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	c := newClient(t, fakeConfig(f))
	ctx := context.Background()
	if _, err := c.CreateCustomer(ctx, CreateCustomerInput{ContactName: "Ada"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateCustomer(ctx, CreateCustomerInput{ContactName: "Ada"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 || ae.Code != zohofake.CodeContactExists || IsRetryable(err) {
		t.Fatalf("duplicate contact: %v", err)
	}

	// A payment on a draft invoice is refused: mark it sent first.
	cust := f.Customers()[0]
	item, _ := c.CreateItem(ctx, Item{Name: "Book", Rate: 5})
	inv, _ := c.CreateInvoice(ctx, CreateInvoiceInput{CustomerID: cust.ContactID, LineItems: []LineItem{{ItemID: item.ItemID, Rate: 5, Quantity: 1}}})
	_, err = c.CreatePayment(ctx, CreatePaymentInput{CustomerID: cust.ContactID, Amount: 5, Date: "2026-03-01",
		Invoices: []AppliedInvoice{{InvoiceID: inv.InvoiceID, AmountApplied: 5}}})
	if !errors.As(err, &ae) || ae.Code != zohofake.CodeInvalidValue || !strings.Contains(ae.Message, "draft") {
		t.Fatalf("payment on a draft: %v", err)
	}
}
