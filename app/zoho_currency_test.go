package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/app/zohobooks/zohofake"
	"github.com/technifold/technifold/store"
)

// zohoCalls counts the Books calls of this method whose path under /books/v3 starts with prefix.
func zohoCalls(f *zohofake.Server, method, prefix string) int {
	n := 0
	for _, r := range f.Requests() {
		if (method == "" || r.Method == method) && strings.HasPrefix(strings.TrimPrefix(r.Path, "/books/v3"), prefix) {
			n++
		}
	}
	return n
}

// zohoCurrencyIDs maps the fake's ISO codes to currency ids.
func zohoCurrencyIDs(f *zohofake.Server) map[string]string {
	ids := map[string]string{}
	for _, c := range f.Currencies() {
		ids[c.CurrencyCode] = c.CurrencyID
	}
	return ids
}

// expectNothingBooked asserts that the fake holds no record the sync could have created and that
// no create call reached it.
func (e *zohoEnv) expectNothingBooked(t *testing.T, customers int) {
	t.Helper()
	if n := len(e.fake.Customers()); n != customers {
		t.Errorf("%d customers, want %d", n, customers)
	}
	if len(e.fake.Items()) != 0 || len(e.fake.Invoices()) != 0 || len(e.fake.Payments()) != 0 {
		t.Errorf("booked %d items, %d invoices, %d payments; want none", len(e.fake.Items()), len(e.fake.Invoices()), len(e.fake.Payments()))
	}
	if n := zohoCalls(e.fake, http.MethodPost, ""); n != 0 {
		t.Errorf("%d create calls, want none", n)
	}
}

// expectSyncFails runs the order's job once and asserts it fails (not a deferral) naming every want.
func (e *zohoEnv) expectSyncFails(t *testing.T, orderID string, want ...string) {
	t.Helper()
	_, err := e.sync.SyncOrder(context.Background(), zohoOrderJob(orderID))
	if _, deferred := asDeferError(err); err == nil || deferred {
		t.Fatalf("sync %s: %v, want a failure", orderID, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("sync %s: %q does not say %q", orderID, err, w)
		}
	}
}

// A company buying in EUR gets a EUR customer and EUR invoices; a GBP company stays in GBP.
func TestZohoSyncOrderInEUR(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000040", company: "CO1", contact: "K1", currency: "eur", tax: 190,
		lines: []zohoLine{{code: "C1", qty: 2, unit: 1250}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000041", company: "CO2", contact: "K2", currency: "gbp",
		lines: []zohoLine{{code: "C1", qty: 1, unit: 999}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000042", company: "CO1", contact: "K1", currency: "eur",
		lines: []zohoLine{{code: "C2", qty: 1, unit: 500}}})
	orders := []string{"ORD-000040", "ORD-000041", "ORD-000042"}
	for _, id := range orders {
		e.runToCompletion(t, zohoOrderJob(id))
	}
	e.checkBooks(t, 2, 3, orders, 0)

	ids := zohoCurrencyIDs(e.fake)
	want := map[string]string{"Company CO1": "EUR", "Company CO2": "GBP"}
	for _, c := range e.fake.Customers() {
		if c.CurrencyCode != want[c.ContactName] || c.CurrencyID != ids[want[c.ContactName]] {
			t.Errorf("customer %s in %s (%s), want %s", c.ContactName, c.CurrencyCode, c.CurrencyID, want[c.ContactName])
		}
	}
	wantInv := map[string]string{"ORD-000040": "EUR", "ORD-000041": "GBP", "ORD-000042": "EUR"}
	for _, inv := range e.fake.Invoices() {
		if inv.CurrencyCode != wantInv[inv.ReferenceNumber] {
			t.Errorf("invoice %s in %s, want %s", inv.ReferenceNumber, inv.CurrencyCode, wantInv[inv.ReferenceNumber])
		}
	}
	if inv := e.fake.Invoices()[0]; inv.Total != 26.9 {
		t.Errorf("EUR invoice total %v, want 26.9", inv.Total)
	}
	// The customer created for ORD-000040 is known to be in EUR: ORD-000042 does not read it again.
	if n := zohoCalls(e.fake, http.MethodGet, "/contacts/"); n != 0 {
		t.Errorf("%d reads of a customer, want none", n)
	}
}

// An order in a currency the organisation has not enabled fails, naming it, before anything is
// created; once an admin enables it, the retry books the order in it.
func TestZohoSyncCurrencyNotEnabled(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	var mu sync.Mutex
	skew := time.Duration(0)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}
	c, err := zohobooks.New(zohobooks.Config{ClientID: e.cfg.ZohoClientID, ClientSecret: e.cfg.ZohoClientSecret,
		RefreshToken: e.cfg.ZohoRefreshToken, OrganizationID: e.cfg.ZohoOrganizationID, AccountsURL: e.cfg.ZohoAccountsURL,
		APIURL: e.cfg.ZohoBooksAPIURL, RatePerMinute: 60000, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	e.sync.client = c
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000050", company: "CO1", contact: "K1", currency: "chf",
		lines: []zohoLine{{code: "C1", qty: 1, unit: 4000}}})

	for range 2 {
		e.expectSyncFails(t, "ORD-000050", "order ORD-000050 is in CHF", "enable CHF in Zoho Books → Settings → Currencies")
	}
	e.expectNothingBooked(t, 0)
	if n := zohoCalls(e.fake, "", ""); n != 1 || zohoCalls(e.fake, http.MethodGet, "/settings/currencies") != 1 {
		t.Errorf("%d calls, want only one currency list", n)
	}
	o, _ := e.db.GetZohoOrder(context.Background(), "ORD-000050")
	if o.ZohoCustomerID != "" || o.Company.ZohoCustomerID != "" {
		t.Errorf("customer linked: order %q, company %q", o.ZohoCustomerID, o.Company.ZohoCustomerID)
	}

	e.fake.AddCurrency(zohofake.Currency{CurrencyCode: "CHF", CurrencySymbol: "CHF"})
	mu.Lock()
	skew = 2 * zohobooks.CurrencyRefreshInterval
	mu.Unlock()
	e.runToCompletion(t, zohoOrderJob("ORD-000050"))
	e.checkBooks(t, 1, 1, []string{"ORD-000050"}, 0)
	if cust, inv := e.fake.Customers()[0], e.fake.Invoices()[0]; cust.CurrencyCode != "CHF" || inv.CurrencyCode != "CHF" {
		t.Errorf("customer in %s, invoice in %s; want CHF", cust.CurrencyCode, inv.CurrencyCode)
	}
}

// An existing customer in another currency than the order's (found by e-mail, or linked to the
// company) fails the job, and nothing is booked to it.
func TestZohoSyncCurrencyMismatch(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	ctx := context.Background()
	// CO1's buyer already is a GBP customer in Books.
	gbp := e.fake.AddCustomer(zohofake.Customer{ContactName: "Company CO1 Ltd", ContactPersons: []zohofake.ContactPerson{
		{Email: "k1@co1.example", IsPrimaryContact: true}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000060", company: "CO1", contact: "K1", currency: "eur",
		lines: []zohoLine{{code: "C1", qty: 1, unit: 1000}}})
	e.expectSyncFails(t, "ORD-000060", "zoho books customer "+gbp.ContactID, "is in GBP but order ORD-000060 is in EUR")
	o, _ := e.db.GetZohoOrder(ctx, "ORD-000060")
	if o.ZohoCustomerID != "" || o.Company.ZohoCustomerID != "" {
		t.Errorf("wrong-currency customer linked: order %q, company %q", o.ZohoCustomerID, o.Company.ZohoCustomerID)
	}

	// CO2 is linked to a USD customer.
	usd := e.fake.AddCustomer(zohofake.Customer{ContactName: "Company CO2", CurrencyCode: "USD"})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000061", company: "CO2", contact: "K2", currency: "eur",
		lines: []zohoLine{{code: "C1", qty: 1, unit: 1000}}})
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE companies SET zoho_customer_id = ? WHERE company_id = 'CO2'`, usd.ContactID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.expectSyncFails(t, "ORD-000061", "zoho books customer "+usd.ContactID, "is in USD but order ORD-000061 is in EUR")
	e.expectNothingBooked(t, 2)
	if o, _ := e.db.GetZohoOrder(ctx, "ORD-000061"); o.ZohoCustomerID != "" {
		t.Errorf("order linked to the USD customer %s", o.ZohoCustomerID)
	}
	if n := zohoCalls(e.fake, http.MethodGet, "/contacts/"+usd.ContactID); n != 1 {
		t.Errorf("%d reads of the linked customer, want 1", n)
	}

	// The remedy the error names: a EUR customer set as the order's.
	eur := e.fake.AddCustomer(zohofake.Customer{ContactName: "Company CO2 (EUR)", CurrencyCode: "EUR"})
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE orders SET zoho_customer_id = ? WHERE order_id = 'ORD-000061'`, eur.ContactID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.runToCompletion(t, zohoOrderJob("ORD-000061"))
	if invs := e.fake.Invoices(); len(invs) != 1 || invs[0].CustomerID != eur.ContactID || invs[0].CurrencyCode != "EUR" {
		t.Fatalf("invoices %+v", invs)
	}
}

// Many orders in several currencies, synced concurrently, fetch the currency list once.
func TestZohoSyncFetchesCurrenciesOnce(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	currencies := []string{"gbp", "eur", "usd"}
	var orders []string
	for i := range 12 {
		id := fmt.Sprintf("ORD-%06d", 70+i)
		orders = append(orders, id)
		e.seedPaidOrder(t, zohoOrderSeed{order: id, company: fmt.Sprintf("CO%d", i%6), contact: fmt.Sprintf("K%d", i%6),
			currency: currencies[i%6%3], lines: []zohoLine{{code: fmt.Sprintf("C%d", i%4), qty: 1, unit: 1000}}})
	}
	jobs := make(chan string, len(orders))
	for _, id := range orders {
		jobs <- id
	}
	close(jobs)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for id := range jobs {
				if _, err := e.sync.SyncOrder(context.Background(), zohoOrderJob(id)); err != nil {
					t.Errorf("sync %s: %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	e.checkBooks(t, 6, 4, orders, 0)
	if n := zohoCalls(e.fake, http.MethodGet, "/settings/currencies"); n != 1 {
		t.Errorf("currency list fetched %d times, want once", n)
	}
	if n := zohoCalls(e.fake, http.MethodGet, "/contacts/"); n != 0 {
		t.Errorf("%d reads of a customer, want none", n)
	}
	byCustomer := map[string]string{}
	for _, c := range e.fake.Customers() {
		byCustomer[c.ContactID] = c.CurrencyCode
	}
	for _, inv := range e.fake.Invoices() {
		var i int
		fmt.Sscanf(inv.ReferenceNumber, "ORD-%d", &i)
		want := strings.ToUpper(currencies[(i-70)%6%3])
		if inv.CurrencyCode != want || byCustomer[inv.CustomerID] != want {
			t.Errorf("invoice %s in %s, customer in %s; want %s", inv.ReferenceNumber, inv.CurrencyCode, byCustomer[inv.CustomerID], want)
		}
	}
}
