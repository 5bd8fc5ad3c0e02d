package zohobooks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
)

// currencyCalls counts GET /settings/currencies.
func currencyCalls(f *zohofake.Server) int {
	n := 0
	for _, r := range f.Requests() {
		if strings.HasSuffix(r.Path, "/settings/currencies") {
			n++
		}
	}
	return n
}

func TestListCurrencies(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	c := newClient(t, fakeConfig(f))
	list, err := c.ListCurrencies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, cur := range list {
		codes = append(codes, cur.CurrencyCode)
		if cur.CurrencyID == "" || cur.CurrencySymbol == "" || cur.IsBaseCurrency != (cur.CurrencyCode == "GBP") {
			t.Errorf("currency %+v", cur)
		}
	}
	if strings.Join(codes, ",") != "GBP,EUR,USD" {
		t.Fatalf("currencies %v, want GBP (base), EUR, USD", codes)
	}
	if r := f.Requests()[0]; r.Query.Get("organization_id") != zohofake.DefaultOrganizationID || r.Status != 200 {
		t.Fatalf("request %+v", r)
	}
}

// The list is fetched once for the life of the client, lookups are
// case-insensitive, and a missing code refreshes it at most once per
// CurrencyRefreshInterval.
func TestCurrencyIDIsCachedAndRefreshedOnMiss(t *testing.T) {
	clk := newClock()
	f := zohofake.New(t, zohofake.Options{})
	cfg := fakeConfig(f)
	cfg.Now = clk.Now
	c := newClient(t, cfg)
	ctx := context.Background()
	want := map[string]string{}
	for _, cur := range f.Currencies() {
		want[cur.CurrencyCode] = cur.CurrencyID
	}

	var wg sync.WaitGroup
	for _, code := range []string{"eur", "EUR", "gbp", "Usd", "eur", "usd", "GBP", "eUr"} {
		wg.Go(func() {
			id, err := c.CurrencyID(ctx, code)
			if err != nil || id != want[strings.ToUpper(code)] {
				t.Errorf("CurrencyID(%s) = %q, %v; want %s", code, id, err, want[strings.ToUpper(code)])
			}
		})
	}
	wg.Wait()
	if n := currencyCalls(f); n != 1 {
		t.Fatalf("%d currency list calls for 8 lookups, want 1", n)
	}

	// CHF is not enabled: no refresh right after the first fetch.
	_, err := c.CurrencyID(ctx, "chf")
	var ne *CurrencyNotEnabledError
	if !errors.As(err, &ne) || ne.Code != "CHF" || strings.Join(ne.Enabled, ",") != "EUR,GBP,USD" ||
		!strings.Contains(err.Error(), "enable CHF in Zoho Books → Settings → Currencies") {
		t.Fatalf("CHF: %v", err)
	}
	if IsRetryable(err) || currencyCalls(f) != 1 {
		t.Fatalf("CHF: retryable %v, %d list calls", IsRetryable(err), currencyCalls(f))
	}

	// An admin enables CHF; once the interval has passed, a miss refreshes the list once.
	chf := f.AddCurrency(zohofake.Currency{CurrencyCode: "CHF"})
	clk.Advance(CurrencyRefreshInterval / 2)
	if _, err := c.CurrencyID(ctx, "CHF"); !errors.As(err, &ne) || currencyCalls(f) != 1 {
		t.Fatalf("CHF within the interval: %v, %d list calls", err, currencyCalls(f))
	}
	clk.Advance(CurrencyRefreshInterval)
	if id, err := c.CurrencyID(ctx, "CHF"); err != nil || id != chf.CurrencyID || currencyCalls(f) != 2 {
		t.Fatalf("CHF after enabling: %q, %v, %d list calls; want %s after 2", id, err, currencyCalls(f), chf.CurrencyID)
	}
	if _, err := c.CurrencyID(ctx, "chf"); err != nil || currencyCalls(f) != 2 {
		t.Fatalf("CHF again: %v, %d list calls", err, currencyCalls(f))
	}
	// A code still missing after the refresh costs one call per interval, no more.
	clk.Advance(2 * CurrencyRefreshInterval)
	for range 3 {
		if _, err := c.CurrencyID(ctx, "SEK"); !errors.As(err, &ne) {
			t.Fatalf("SEK: %v", err)
		}
	}
	if n := currencyCalls(f); n != 3 {
		t.Fatalf("%d list calls, want 3", n)
	}
}

// A failed fetch is not cached: the next lookup fetches again.
func TestCurrencyFetchFailureIsNotCached(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	f.InjectFault(zohofake.Fault{Kind: zohofake.FaultInternalError, Path: "/settings/currencies"})
	c := newClient(t, fakeConfig(f))
	ctx := context.Background()
	if _, err := c.CurrencyID(ctx, "EUR"); !IsRetryable(err) {
		t.Fatalf("first lookup: %v, want a retryable 500", err)
	}
	if id, err := c.CurrencyID(ctx, "EUR"); err != nil || id == "" {
		t.Fatalf("second lookup: %q, %v", id, err)
	}
	if _, err := c.CurrencyID(ctx, " "); err == nil {
		t.Fatal("empty code accepted")
	}
}

// Customers carry their currency through create, search and get; Zoho
// refuses an unknown currency_id.
func TestCustomerCurrency(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	c := newClient(t, fakeConfig(f))
	ctx := context.Background()
	eur, err := c.CurrencyID(ctx, "eur")
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateCustomer(ctx, CreateCustomerInput{ContactName: "Eva", Email: "eva@example.com", CurrencyID: eur})
	if err != nil || created.CurrencyID != eur || created.CurrencyCode != "EUR" {
		t.Fatalf("create: %+v, %v", created, err)
	}
	found, err := c.FindCustomerByEmail(ctx, "eva@example.com")
	if err != nil || found == nil || found.CurrencyID != eur || found.CurrencyCode != "EUR" {
		t.Fatalf("find: %+v, %v", found, err)
	}
	got, err := c.GetContact(ctx, created.ContactID)
	if err != nil || got.CurrencyID != eur || got.CurrencyCode != "EUR" || got.Email != "eva@example.com" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	var ae *APIError
	if _, err := c.GetContact(ctx, "404"); !errors.As(err, &ae) || ae.HTTPStatus != 404 {
		t.Fatalf("get unknown: %v", err)
	}

	// No currency_id: the base currency.
	base, err := c.CreateCustomer(ctx, CreateCustomerInput{ContactName: "Bea"})
	if err != nil || base.CurrencyCode != "GBP" {
		t.Fatalf("create without currency: %+v, %v", base, err)
	}
	_, err = c.CreateCustomer(ctx, CreateCustomerInput{ContactName: "Cal", CurrencyID: "999"})
	if !errors.As(err, &ae) || ae.HTTPStatus != 400 || ae.Code != zohofake.CodeInvalidValue || !strings.Contains(ae.Message, "currency_id") {
		t.Fatalf("unknown currency_id: %v", err)
	}

	// The invoice follows the customer's currency.
	item, _ := c.CreateItem(ctx, Item{Name: "Book", Rate: 5})
	inv, err := c.CreateInvoice(ctx, CreateInvoiceInput{CustomerID: created.ContactID, ReferenceNumber: "ORD-1",
		LineItems: []LineItem{{ItemID: item.ItemID, Rate: 5, Quantity: 1}}})
	if err != nil || inv.CurrencyCode != "EUR" {
		t.Fatalf("invoice: %+v, %v", inv, err)
	}
	if found, err := c.FindInvoiceByReference(ctx, "ORD-1"); err != nil || found.CurrencyCode != "EUR" {
		t.Fatalf("find invoice: %+v, %v", found, err)
	}
}
