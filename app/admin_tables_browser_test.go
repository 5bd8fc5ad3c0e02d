package app

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/store"
)

// At a phone's width (390 px) the sortable lists and the purchase history do not widen the
// page: each table scrolls sideways inside its own region, and the sort links stay reachable.
func TestAdminTablesAtPhoneWidth(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	seedLists(t, e, 60)
	e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
		VALUES ('CO001', 'P', 3, 4200, 'gbp', '2026-01-05', 'INV-PHONE')`)
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	ctx := newBrowser(t, chromedp.WindowSize(390, 844))
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	inBrowser(t, ctx,
		chromedp.EmulateViewport(390, 844), // headless windows are at least 500 px wide
		chromedp.Navigate(e.url+"/admin/login"),
		chromedp.WaitVisible(css(`input[name=password]`)),
		chromedp.SendKeys(css(`input[name=email]`), "ann@example.com"),
		chromedp.SendKeys(css(`input[name=password]`), testPassword),
		clickAndLoad(`form[action="/admin/login"] button`),
	)
	for _, path := range []string{"/admin/companies", "/admin/companies/CO001", "/admin/orders?sort=total",
		"/admin/outbox", "/admin/webhooks", "/admin/audit"} {
		inBrowser(t, ctx, chromedp.Navigate(e.url+path), chromedp.WaitVisible(css(`.table-scroll table`)))
		page := fromBrowser(t, ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth,
			Math.max(...[...document.querySelectorAll(".table-scroll")].map(d => d.scrollWidth - d.clientWidth)),
			document.querySelectorAll("th[scope=col] a.sort").length]`))
		if page[0] > page[1] {
			wide := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter(el =>
				el.getBoundingClientRect().right > window.innerWidth && !el.closest(".table-scroll")).slice(0, 5).map(el =>
				el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))`))
			t.Errorf("%s: the page is %d px wide in a %d px window; too wide: %v", path, page[0], page[1], wide)
		}
		if page[2] <= 0 {
			t.Errorf("%s: no table scrolls inside its region", path)
		}
		if path != "/admin/companies/CO001" && page[3] == 0 {
			t.Errorf("%s: no sort links in the headers", path)
		}
	}
}
