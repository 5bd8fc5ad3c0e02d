package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/app/zohobooks/zohofake"
	"github.com/technifold/technifold/store"
)

// zohoClock is the store's settable clock in the Zoho tests; the client and the fake run on
// real time (token expiry, rate windows), which these tests never wait on.
type zohoClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *zohoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// AdvanceTo moves the clock to t if t is later.
func (c *zohoClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// zohoEnv is one Zoho sync under test: a database, the fake, the sync service and its clock.
type zohoEnv struct {
	db    *store.DB
	fake  *zohofake.Server
	sync  *ZohoSync
	clock *zohoClock
	cfg   *Config
	logs  *syncBuffer
}

// zohoEnvOptions tune newZohoEnv.
type zohoEnvOptions struct {
	fake          zohofake.Options
	clientTimeout time.Duration // 300 ms when zero
	rate          int           // client calls per minute; 60000 when zero
	env           map[string]string
}

// zohoTestConfig is a configuration pointing the Zoho features at the fake.
func zohoTestConfig(t testing.TB, f *zohofake.Server, extra map[string]string) *Config {
	t.Helper()
	o := f.Options()
	env := map[string]string{
		"DATABASE_PATH": filepath.Join(t.TempDir(), "technifold.db"), "ZOHO_CLIENT_ID": o.ClientID,
		"ZOHO_CLIENT_SECRET": o.ClientSecret, "ZOHO_REFRESH_TOKEN": o.RefreshToken, "ZOHO_ORGANIZATION_ID": o.OrganizationID,
		"ZOHO_ACCOUNTS_URL": f.AccountsURL(), "ZOHO_BOOKS_API_URL": f.APIURL(), "ZOHO_DEPOSIT_ACCOUNT_ID": "460000000000001",
		"ZOHO_RATE_PER_MINUTE": "60000", "ZOHO_WEBHOOK_SECRET": "zoho-webhook-secret",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newZohoEnv(t testing.TB, opts zohoEnvOptions) *zohoEnv {
	t.Helper()
	if opts.fake.RateLimit == 0 {
		opts.fake.RateLimit = -1 // the fault tests make calls faster than 100 a minute
	}
	f := zohofake.New(t, opts.fake)
	cfg := zohoTestConfig(t, f, opts.env)
	clock := &zohoClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	db, err := store.Open(context.Background(), cfg.DatabasePath, store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &syncBuffer{}
	z := NewZohoSync(cfg, db, slog.New(slog.NewTextHandler(logs, nil)))
	if cfg.Feature(FeatureZohoBooks).On() {
		z.client = newZohoTestClient(t, cfg, db, opts.clientTimeout, opts.rate)
	}
	return &zohoEnv{db: db, fake: f, sync: z, clock: clock, cfg: cfg, logs: logs}
}

// newZohoTestClient is the process client as books() builds it, with a short HTTP timeout.
func newZohoTestClient(t testing.TB, cfg *Config, db *store.DB, timeout time.Duration, rate int) *zohobooks.Client {
	t.Helper()
	if timeout == 0 {
		timeout = 300 * time.Millisecond
	}
	if rate == 0 {
		rate = 60000
	}
	c, err := zohobooks.New(zohobooks.Config{ClientID: cfg.ZohoClientID, ClientSecret: cfg.ZohoClientSecret,
		RefreshToken: cfg.ZohoRefreshToken, OrganizationID: cfg.ZohoOrganizationID, AccountsURL: cfg.ZohoAccountsURL,
		APIURL: cfg.ZohoBooksAPIURL, RatePerMinute: rate, HTTPClient: &http.Client{Timeout: timeout},
		TokenCache: zohoTokenCache{db: db}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// zohoLine is one order line to seed.
type zohoLine struct {
	code     string
	qty      int64
	unit     int64
	prodType string
}

// zohoOrderSeed describes a paid order to write with SQL.
type zohoOrderSeed struct {
	order, company, contact, currency string
	tax                               int64
	lines                             []zohoLine
}

// seedZohoPaidOrder writes the company, contact, products and a paid order with its lines.
func (e *zohoEnv) seedPaidOrder(t testing.TB, s zohoOrderSeed) {
	t.Helper()
	if s.currency == "" {
		s.currency = "gbp"
	}
	ctx := context.Background()
	err := e.db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO companies (company_id, company_name, currency) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, s.company, "Company "+s.company, s.currency); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO contacts (contact_id, company_id, email, first_name, last_name)
			VALUES (?1, ?2, lower(?1) || '@' || lower(?2) || '.example', 'Pat', ?1) ON CONFLICT DO NOTHING`,
			s.contact, s.company); err != nil {
			return err
		}
		var subtotal int64
		for _, l := range s.lines {
			typ := l.prodType
			if typ == "" {
				typ = "consumable"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO products (product_code, description, type) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, l.code, "Product "+l.code, typ); err != nil {
				return err
			}
			subtotal += l.qty * l.unit
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (order_id, company_id, contact_id, status, payment_status,
				currency, subtotal, tax_amount, total_amount, stripe_payment_intent_id, paid_at)
			VALUES (?1, ?2, ?3, 'paid', 'paid', ?4, ?5, ?6, ?5 + ?6, 'pi_' || ?1, '2026-03-01T17:45:00.000Z')`,
			s.order, s.company, s.contact, s.currency, subtotal, s.tax); err != nil {
			return err
		}
		for _, l := range s.lines {
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (order_id, product_code, description, quantity,
				unit_amount, line_total) VALUES (?, ?, ?, ?, ?, ?)`, s.order, l.code, "Product "+l.code, l.qty, l.unit,
				l.qty*l.unit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func zohoOrderJob(orderID string) store.Job {
	return store.Job{JobType: string(store.JobZohoSyncOrder), Payload: json.RawMessage(fmt.Sprintf(`{"order_id":%q}`, orderID)), OrderID: orderID}
}

func zohoRefundJob(orderID, chargeID string, total, amount int64) store.Job {
	return store.Job{JobType: string(store.JobZohoSyncRefund), OrderID: orderID, Payload: json.RawMessage(fmt.Sprintf(
		`{"order_id":%q,"charge_id":%q,"amount_refunded_total":%d,"refund_amount":%d,"currency":"gbp"}`,
		orderID, chargeID, total, amount))}
}

// zohoRun counts what it took to finish a job.
type zohoRun struct {
	result   any
	failed   int // attempts that failed (the outbox would retry them with backoff)
	deferred int // deferrals (no attempt spent)
	errs     []string
}

// runToCompletion plays the outbox: it re-runs the job after each failure and, after a
// deferral, moves the store's clock to the deferral's end, until the job succeeds.
func (e *zohoEnv) runToCompletion(t testing.TB, job store.Job) zohoRun {
	t.Helper()
	h := e.sync.SyncOrder
	if job.JobType == string(store.JobZohoSyncRefund) {
		h = e.sync.SyncRefund
	}
	var run zohoRun
	for range 20 {
		res, err := h(context.Background(), job)
		if err == nil {
			run.result = res
			return run
		}
		run.errs = append(run.errs, err.Error())
		if d, ok := asDeferError(err); ok {
			run.deferred++
			e.clock.AdvanceTo(d.Until)
			continue
		}
		run.failed++
		if run.failed > 6 {
			break
		}
	}
	t.Fatalf("%s %s did not complete: %q", job.JobType, job.OrderID, run.errs)
	return run
}

// checkBooks asserts the fake holds exactly one customer per company, one item per product,
// one invoice and one payment per order and the given refunds, and that the orders carry the ids.
func (e *zohoEnv) checkBooks(t testing.TB, companies, products int, orders []string, refunds int) {
	t.Helper()
	ctx := context.Background()
	names := map[string]int{}
	for _, c := range e.fake.Customers() {
		names[c.ContactName]++
	}
	if len(names) != companies || len(e.fake.Customers()) != companies {
		t.Errorf("customers: %v, want one for each of %d companies", names, companies)
	}
	skus := map[string]int{}
	for _, it := range e.fake.Items() {
		skus[it.SKU]++
	}
	if len(e.fake.Items()) != products || len(skus) != products {
		t.Errorf("items: %v, want one for each of %d products", skus, products)
	}
	invByRef := map[string]zohofake.Invoice{}
	for _, inv := range e.fake.Invoices() {
		if _, dup := invByRef[inv.ReferenceNumber]; dup {
			t.Errorf("two invoices for %s", inv.ReferenceNumber)
		}
		invByRef[inv.ReferenceNumber] = inv
	}
	payByRef := map[string]zohofake.Payment{}
	for _, p := range e.fake.Payments() {
		if _, dup := payByRef[p.ReferenceNumber]; dup {
			t.Errorf("two payments for %s", p.ReferenceNumber)
		}
		payByRef[p.ReferenceNumber] = p
	}
	if len(invByRef) != len(orders) || len(payByRef) != len(orders) {
		t.Errorf("%d invoices and %d payments for %d orders", len(invByRef), len(payByRef), len(orders))
	}
	for _, id := range orders {
		o, err := e.db.GetZohoOrder(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		inv, pay := invByRef[id], payByRef["pi_"+id]
		if inv.InvoiceID == "" || inv.InvoiceID != o.ZohoInvoiceID || pay.PaymentID != o.ZohoPaymentID ||
			inv.CustomerID != o.ZohoCustomerID || o.Company.ZohoCustomerID != o.ZohoCustomerID || inv.Status != "paid" {
			t.Errorf("order %s: stored %s/%s/%s, books invoice %+v payment %s", id, o.ZohoCustomerID, o.ZohoInvoiceID,
				o.ZohoPaymentID, inv, pay.PaymentID)
		}
	}
	refs := map[string]int{}
	for _, r := range e.fake.Refunds() {
		refs[r.ReferenceNumber]++
	}
	if len(e.fake.Refunds()) != refunds || len(refs) != refunds {
		t.Errorf("refunds: %v, want %d, each once", refs, refunds)
	}
}

// zohoScenario is three paid orders of two companies (two sharing a product) and two partial
// refunds of the first, each run until it completes.
func (e *zohoEnv) zohoScenario(t testing.TB) []zohoRun {
	t.Helper()
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000001", company: "CO1", contact: "K1",
		lines: []zohoLine{{code: "T1", qty: 1, unit: 125000, prodType: "tool"}, {code: "C1", qty: 10, unit: 1250}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000002", company: "CO1", contact: "K2",
		lines: []zohoLine{{code: "C1", qty: 4, unit: 1250}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000003", company: "CO2", contact: "K3",
		lines: []zohoLine{{code: "C2", qty: 2, unit: 999}}})
	var runs []zohoRun
	for _, id := range []string{"ORD-000001", "ORD-000002", "ORD-000003"} {
		runs = append(runs, e.runToCompletion(t, zohoOrderJob(id)))
	}
	runs = append(runs, e.runToCompletion(t, zohoRefundJob("ORD-000001", "ch_1", 2500, 2500)))
	runs = append(runs, e.runToCompletion(t, zohoRefundJob("ORD-000001", "ch_1", 10000, 7500)))
	// A redelivered refund job books nothing new.
	runs = append(runs, e.runToCompletion(t, zohoRefundJob("ORD-000001", "ch_1", 2500, 2500)))
	e.checkBooks(t, 2, 3, []string{"ORD-000001", "ORD-000002", "ORD-000003"}, 2)
	return runs
}

func TestZohoSyncSurvivesFaults(t *testing.T) {
	type want int
	const (
		wantFailure  want = iota // an attempt fails and is retried
		wantDeferral             // the job is deferred, no attempt spent
		wantNothing              // the client copes on its own
	)
	post, get := http.MethodPost, http.MethodGet
	cases := []struct {
		name  string
		fault zohofake.Fault
		want  want
	}{
		{"500 on find customer", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: get, Path: "/contacts"}, wantFailure},
		{"500 on create customer", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: post, Path: "/contacts"}, wantFailure},
		{"500 on create item", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: post, Path: "/items", Nth: 2}, wantFailure},
		{"500 on find invoice", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: get, Path: "/invoices", Nth: 3}, wantFailure},
		{"500 on create invoice", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: post, Path: "/invoices"}, wantFailure},
		{"500 on mark sent", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: post, Path: "/invoices/"}, wantFailure},
		{"500 on create payment", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: post, Path: "/customerpayments", Nth: 2}, wantFailure},
		{"500 on refund", zohofake.Fault{Kind: zohofake.FaultInternalError, Method: post, Path: "/customerpayments/", Nth: 2}, wantFailure},
		{"429 code 44 with Retry-After", zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: 44, RetryAfter: 30 * time.Second, Path: "/invoices"}, wantDeferral},
		{"429 code 44 on create item", zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: 44, Method: post, Path: "/items"}, wantDeferral},
		{"429 code 1070", zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: 1070, Method: post, Path: "/customerpayments"}, wantDeferral},
		{"429 code 45 daily cap", zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: 45, Method: post, Path: "/invoices", Nth: 2}, wantDeferral},
		{"429 code 45 on refund", zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: 45, Method: get, Path: "/customerpayments/"}, wantDeferral},
		{"401 once", zohofake.Fault{Kind: zohofake.FaultUnauthorized, Path: "/invoices"}, wantNothing},
		{"timeout on create customer", zohofake.Fault{Kind: zohofake.FaultTimeout, Delay: 2 * time.Second, Method: post, Path: "/contacts"}, wantFailure},
		{"timeout on create item", zohofake.Fault{Kind: zohofake.FaultTimeout, Delay: 2 * time.Second, Method: post, Path: "/items"}, wantFailure},
		{"timeout on create invoice", zohofake.Fault{Kind: zohofake.FaultTimeout, Delay: 2 * time.Second, Method: post, Path: "/invoices", Nth: 2}, wantFailure},
		{"timeout on create payment", zohofake.Fault{Kind: zohofake.FaultTimeout, Delay: 2 * time.Second, Method: post, Path: "/customerpayments"}, wantFailure},
		{"timeout on refund", zohofake.Fault{Kind: zohofake.FaultTimeout, Delay: 2 * time.Second, Method: post, Path: "/customerpayments/"}, wantFailure},
		{"lost response on create customer", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/contacts"}, wantFailure},
		{"lost response on create second customer", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/contacts", Nth: 2}, wantFailure},
		{"lost response on create item", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/items"}, wantFailure},
		{"lost response on create invoice", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/invoices"}, wantFailure},
		{"lost response on mark sent", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/invoices/", Nth: 2}, wantFailure},
		{"lost response on create payment", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/customerpayments"}, wantFailure},
		{"lost response on refund", zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: post, Path: "/customerpayments/", Nth: 2}, wantFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newZohoEnv(t, zohoEnvOptions{fake: zohofake.Options{AllowAppliedRefunds: true}})
			e.fake.InjectFault(tc.fault)
			var failed, deferred int
			for _, r := range e.zohoScenario(t) {
				failed, deferred = failed+r.failed, deferred+r.deferred
			}
			if e.fake.FaultsFired() != 1 {
				t.Fatalf("fault fired %d times", e.fake.FaultsFired())
			}
			switch {
			case tc.want == wantFailure && (failed == 0 || deferred != 0),
				tc.want == wantDeferral && (failed != 0 || deferred == 0),
				tc.want == wantNothing && (failed != 0 || deferred != 0):
				t.Fatalf("failed attempts %d, deferrals %d; want %v", failed, deferred, tc.want)
			}
		})
	}
}

func TestZohoSyncOrderContent(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{fake: zohofake.Options{
		Currencies: append(zohofake.DefaultCurrencies(), zohofake.Currency{CurrencyCode: "JPY", CurrencySymbol: "¥"})}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000010", company: "CO1", contact: "K1", tax: 2150,
		lines: []zohoLine{{code: "T1", qty: 1, unit: 100000, prodType: "tool"}, {code: "S1", qty: 3, unit: 2500, prodType: "service"}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000011", company: "CO2", contact: "K2", currency: "jpy",
		lines: []zohoLine{{code: "C9", qty: 2, unit: 1500}}})
	res := e.runToCompletion(t, zohoOrderJob("ORD-000010")).result.(zohoOrderResult)
	e.runToCompletion(t, zohoOrderJob("ORD-000011"))

	cust := e.fake.Customers()[0]
	if cust.ContactName != "Company CO1" || cust.Email() != "k1@co1.example" || cust.ContactPersons[0].FirstName != "Pat" ||
		res.CustomerID != cust.ContactID {
		t.Fatalf("customer: %+v (result %+v)", cust, res)
	}
	k, _ := e.db.GetContact(context.Background(), "K1")
	if k.ZohoContactID != cust.ContactPersons[0].ContactPersonID {
		t.Errorf("contact's zoho_contact_id %q, want the contact person %q", k.ZohoContactID, cust.ContactPersons[0].ContactPersonID)
	}
	inv := e.fake.Invoices()[0]
	type line struct {
		name      string
		rate, qty float64
	}
	var lines []line
	for _, li := range inv.LineItems {
		lines = append(lines, line{li.Name, li.Rate, li.Quantity})
	}
	want := []line{{"Product T1", 1000, 1}, {"Product S1", 25, 3}, {"Tax", 21.5, 1}}
	if fmt.Sprint(lines) != fmt.Sprint(want) || inv.Date != "2026-03-01" || inv.ReferenceNumber != "ORD-000010" ||
		inv.Total != 1096.5 || inv.Status != "paid" {
		t.Fatalf("invoice: %+v lines %v", inv, lines)
	}
	items := map[string]zohofake.Item{}
	for _, it := range e.fake.Items() {
		items[it.SKU] = it
	}
	if items["S1"].ProductType != "service" || items["T1"].Name != "Product T1 (T1)" || items[zohoTaxSKU].ItemID == "" {
		t.Errorf("items: %+v", items)
	}
	pay := e.fake.Payments()[0]
	if pay.Amount != 1096.5 || pay.ReferenceNumber != "pi_ORD-000010" || pay.AccountID != "460000000000001" ||
		pay.PaymentMode != "creditcard" || pay.Date != "2026-03-01" || len(pay.Invoices) != 1 || pay.Invoices[0].AmountApplied != 1096.5 {
		t.Fatalf("payment: %+v", pay)
	}
	// Zero-decimal currency: 1500 yen is 1500, not 15.
	if jp := e.fake.Invoices()[1]; jp.LineItems[0].Rate != 1500 || jp.Total != 3000 || jp.CurrencyCode != "JPY" ||
		inv.CurrencyCode != "GBP" || e.fake.Customers()[1].CurrencyCode != "JPY" {
		t.Fatalf("jpy invoice: %+v", jp)
	}
	// A finished order costs no further call.
	before := len(e.fake.Requests())
	e.runToCompletion(t, zohoOrderJob("ORD-000010"))
	if n := len(e.fake.Requests()) - before; n != 0 {
		t.Fatalf("re-running a finished order made %d calls", n)
	}
}

func TestZohoSyncOrderRefusesWhatItCannotSync(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000020", company: "CO1", contact: "K1", lines: []zohoLine{{code: "C1", qty: 1, unit: 100}}})
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE orders SET status = 'pending' WHERE order_id = 'ORD-000020'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
		run        func() (any, error)
	}{
		{"unpaid order", "ORD-000020 is pending, not paid", func() (any, error) { return e.sync.SyncOrder(ctx, zohoOrderJob("ORD-000020")) }},
		{"unknown order", `order "ORD-404" not found`, func() (any, error) { return e.sync.SyncOrder(ctx, zohoOrderJob("ORD-404")) }},
		{"bad payload", "payload needs an order_id", func() (any, error) {
			return e.sync.SyncOrder(ctx, store.Job{JobType: string(store.JobZohoSyncOrder), Payload: json.RawMessage(`{}`)})
		}},
		{"refund before the order's payment", "waiting for zoho_sync_order", func() (any, error) {
			return e.sync.SyncRefund(ctx, zohoRefundJob("ORD-000020", "ch_9", 100, 100))
		}},
		{"refund without amount", "positive refund_amount", func() (any, error) {
			return e.sync.SyncRefund(ctx, zohoRefundJob("ORD-000020", "ch_9", 0, 0))
		}},
	} {
		_, err := tc.run()
		if _, deferred := asDeferError(err); err == nil || deferred || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a failure saying %q", tc.name, err, tc.want)
		}
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Fatalf("%d calls to Zoho for orders that cannot be synced", n)
	}
}

func TestZohoSyncNotConfiguredFailsLoudly(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{env: map[string]string{"ZOHO_REFRESH_TOKEN": "", "ZOHO_ORGANIZATION_ID": ""}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000030", company: "CO1", contact: "K1", lines: []zohoLine{{code: "C1", qty: 1, unit: 100}}})
	_, err := e.sync.SyncOrder(context.Background(), zohoOrderJob("ORD-000030"))
	if err == nil || err.Error() != "zoho books is not configured: set ZOHO_REFRESH_TOKEN, ZOHO_ORGANIZATION_ID" {
		t.Fatalf("unconfigured sync: %v", err)
	}

	e = newZohoEnv(t, zohoEnvOptions{env: map[string]string{"ZOHO_DEPOSIT_ACCOUNT_ID": ""}})
	_, err = e.sync.SyncRefund(context.Background(), zohoRefundJob("ORD-000030", "ch_1", 100, 100))
	if err == nil || !strings.Contains(err.Error(), "not configured: set ZOHO_DEPOSIT_ACCOUNT_ID") {
		t.Fatalf("refund without a deposit account: %v", err)
	}
}

// TestZohoSyncThroughWorker runs the jobs as the Stripe webhook enqueues them, through the
// worker and the handlers registerJobHandlers wires (the process's shared client and token
// cache): five orders of one company running concurrently make one customer.
func TestZohoSyncThroughWorker(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{fake: zohofake.Options{AllowAppliedRefunds: true, RateLimit: 100000}})
	reg := &Registry{}
	registerJobHandlers(reg, e.cfg, e.db, quietLogger())
	ctx := context.Background()
	var orders []string
	for i := range 5 {
		id := fmt.Sprintf("ORD-%06d", 100+i)
		orders = append(orders, id)
		e.seedPaidOrder(t, zohoOrderSeed{order: id, company: "CO1", contact: fmt.Sprintf("K%d", i%2),
			lines: []zohoLine{{code: "C1", qty: 2, unit: 1000}, {code: fmt.Sprintf("P%d", i%3), qty: 1, unit: 500}}})
	}
	var refundJob int64
	err := e.db.Update(ctx, func(tx *store.Tx) error {
		// A refund seen before the order's sync ran first: it waits (one failed attempt) until
		// the order's payment exists.
		var err error
		refundJob, _, err = tx.Enqueue(ctx, store.NewJob{Type: store.JobZohoSyncRefund, OrderID: orders[0],
			Payload:   store.ZohoSyncRefundArgs{OrderID: orders[0], ChargeID: "ch_1", AmountRefundedTotal: 500, RefundAmount: 500, Currency: "gbp"},
			DedupeKey: "zoho_sync_refund:ch_1:500"})
		if err != nil {
			return err
		}
		for _, id := range orders {
			if _, _, err := tx.Enqueue(ctx, store.NewJob{Type: store.JobZohoSyncOrder, Payload: store.ZohoSyncOrderArgs{OrderID: id},
				DedupeKey: "zoho_sync_order:" + id, CompanyID: "CO1", OrderID: id}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWorker(e.db, reg, WorkerOptions{Concurrency: 4, Logger: quietLogger()})
	for range 3 {
		if _, _, err := w.RunDue(ctx, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		e.clock.AdvanceTo(e.clock.Now().Add(10 * time.Minute)) // past the refund's retry
	}
	jobs, err := e.db.ListJobs(ctx, store.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Status != store.JobCompleted {
			t.Errorf("job %d %s is %s: %s", j.ID, j.JobType, j.Status, j.LastError)
		}
		if j.ID == refundJob && (j.Attempts != 2 || !strings.Contains(j.Errors[0].Error, "waiting for zoho_sync_order")) {
			t.Errorf("refund job: %d attempts, errors %+v", j.Attempts, j.Errors)
		}
	}
	e.checkBooks(t, 1, 4, orders, 1)
	if e.fake.TokensMinted() != 1 {
		t.Errorf("minted %d tokens, want 1", e.fake.TokensMinted())
	}
}
