package app

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// adminOf signs in an admin on the server of a Stripe test environment.
func adminOf(t *testing.T, se *stripeTestEnv) (*adminEnv, func(path string) (int, string)) {
	t.Helper()
	e := &adminEnv{t: t, cfg: se.cfg, db: se.db, srv: se.srv, url: se.http.URL}
	e.addUser("ops@example.com", store.RoleAdmin, testPassword)
	c := e.login("ops@example.com", testPassword)
	return e, func(path string) (int, string) { return e.get(c, path) }
}

// The company page's purchase history reads imported sales and the rows a paid order appends
// (through the real webhook), counts a twice-delivered payment once, pages newest first, and
// totals per currency and per category over all pages.
func TestCompanyPurchaseHistory(t *testing.T) {
	se := newStripeTestEnv(t, nil)
	e, get := adminOf(t, se)
	e.exec(`UPDATE products SET category = CASE product_code WHEN 'TOOL-1' THEN 'machines' ELSE 'ribs' END`)
	today := time.Now().UTC()
	for i := range 30 {
		e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
			VALUES ('ACME', 'BLADE-1', 1, ?, 'gbp', ?, ?)`, 1000+i, today.AddDate(0, 0, -(i+1)*9).Format(time.DateOnly),
			fmt.Sprintf("INV-%03d", i))
	}
	e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
		VALUES ('ACME', 'BLADE-1', 2, 2500, 'eur', ?, 'INV-EUR')`, today.AddDate(0, 0, -400).Format(time.DateOnly))
	o := placeStripeOrder(t, se.db) // TOOL-1 ×1 (£1,250.00) and BLADE-1 ×2 (£49.98)
	body := completedEvent(t, o, "evt_hist_1", "pi_hist_1")
	se.postSigned(t, body, 200)
	se.postSigned(t, body, 200) // the same delivery again: counted once
	if n := se.count(t, `SELECT count(*) FROM sales WHERE order_id = ?`, o.ID); n != 2 {
		t.Fatalf("%d sales rows for the order, want 2", n)
	}

	status, page1 := get("/admin/companies/ACME")
	if status != 200 {
		t.Fatalf("company page: %d", status)
	}
	for _, want := range []string{
		"<em>Purchases</em> are the whole purchase history", "<em>Orders</em>, below, are web checkouts only",
		`<a href="/admin/orders?order=` + o.ID + `">order ` + o.ID + `</a>`, // newest first: today's order
		"£1,250.00", "£49.98",
		"£1,604.33 <span",                                      // gbp total: 30 imported lines (30,435) + the order (129,998), once
		"€50.00 <span",                                         // eur total
		"machines: £1,250.00", "ribs: £354.33", "ribs: €50.00", // per category and currency
		"Lifetime value</dt><dd>€50.00, £1,604.33", "12-month revenue</dt><dd>£1,604.33<",
		"Purchases</dt><dd>32 (last ", // 30 invoices, the order and the eur invoice
		`rel="next"`,
	} {
		if !strings.Contains(page1, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	rows := regexp.MustCompile(`(?s)<h2 id="h-purchases">.*?</table>`).FindString(page1)
	if n := strings.Count(rows, "<tr>") - 1; n != purchasesPageSize {
		t.Errorf("page 1 has %d purchase rows, want %d", n, purchasesPageSize)
	}
	if strings.Contains(rows, "INV-EUR") || strings.Contains(rows, "INV-029") {
		t.Errorf("page 1 shows the oldest purchases")
	}
	_, page2 := get("/admin/companies/ACME?page=2")
	rows2 := regexp.MustCompile(`(?s)<h2 id="h-purchases">.*?</table>`).FindString(page2)
	if n := strings.Count(rows2, "<tr>") - 1; n != 33-purchasesPageSize {
		t.Errorf("page 2 has %d purchase rows, want %d", n, 33-purchasesPageSize)
	}
	if !strings.Contains(rows2, "invoice INV-EUR") || strings.Contains(rows2, o.ID) {
		t.Errorf("page 2 does not end with the oldest purchase, or repeats the order")
	}
	if strings.Contains(page2, `rel="next"`) || !strings.Contains(page2, `href="/admin/companies/ACME" rel="prev"`) {
		t.Errorf("page 2 pager wrong")
	}
	if !strings.Contains(page2, "£1,604.33 <span") {
		t.Errorf("totals differ between pages")
	}

	// The order link of a purchase line opens that order alone in the orders list.
	if status, orders := get("/admin/orders?order=" + o.ID); status != 200 || strings.Count(orders, "<td>ORD-") != 1 ||
		!strings.Contains(orders, "<td>"+o.ID) {
		t.Errorf("orders list filtered by order id: %d", status)
	}

	// The companies list says what the company page says.
	_, list := get("/admin/companies?q=ACME")
	for _, want := range []string{"£1,604.33</td>", "32 purchases"} {
		if !strings.Contains(list, want) {
			t.Errorf("companies list lacks %q", want)
		}
	}
	// A company without purchases says so in the same words.
	_, beta := get("/admin/companies/BETA")
	for _, want := range []string{"No purchases.", "Purchases</dt><dd>none", "Lifetime value</dt><dd>–"} {
		if !strings.Contains(beta, want) {
			t.Errorf("BETA page lacks %q", want)
		}
	}
}
