package app

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// TestCheckoutCancelKeepsTheBasket: a buyer who leaves Stripe's page comes back to their basket
// (the order's lines, "Try again", the other ways to order) when the browser holds the offer
// session of the order's company; anyone else sees only the order number, never the items.
func TestCheckoutCancelKeepsTheBasket(t *testing.T) {
	e := newOfferEnv(t, func(c *Config) { c.StripeAPIBase = startStripeMock(t); withSupport(c) })
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	sess := sessionCookieOf(e.get(t, "/x/"+tok))
	rec := e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-1", "BLADE-9"}, "quantity": {"3", "1"}}, sess)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("checkout: %d %s", rec.Code, rec.Body.String())
	}
	var id string
	if err := e.db.Read().QueryRow(`SELECT order_id FROM orders`).Scan(&id); err != nil {
		t.Fatal(err)
	}

	rec = e.get(t, "/checkout/cancel?order_id="+id, sess)
	body := html.UnescapeString(rec.Body.String())
	if rec.Code != http.StatusOK {
		t.Fatalf("cancel: %d", rec.Code)
	}
	for _, want := range []string{"Payment not completed", "nothing has been charged", `id="kept-basket"`,
		"3 × Creasing rib, black", "1 × Perforating blade", "Total £1,967.00", `id="try-again"`,
		`<input type="hidden" name="product_code" value="RIB-1"><input type="hidden" name="quantity" value="3">`,
		testSupportEmail, testSupportPhone} {
		if !strings.Contains(body, want) {
			t.Errorf("cancel page with the offer session lacks %q", want)
		}
	}
	// "Try again" checks the same basket out again.
	rec = e.postForm(t, "/x/checkout", url.Values{"product_code": {"RIB-1", "BLADE-9"}, "quantity": {"3", "1"}}, sess)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("try again: %d", rec.Code)
	}

	// No session, or another company's session: the order number only.
	euro := sessionCookieOf(e.get(t, "/x/"+e.mint(t, offertoken.Claims{CompanyID: "EURO", ContactID: "K-EURO"}, time.Hour)))
	for name, cookies := range map[string][]*http.Cookie{"no session": nil, "other company": {euro}} {
		rec = e.get(t, "/checkout/cancel?order_id="+id, cookies...)
		body = rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, id) || strings.Contains(body, "Creasing rib") ||
			!strings.Contains(body, "open the link from your e-mail again") || strings.Contains(body, `href="/"`) {
			t.Errorf("%s: %d\n%s", name, rec.Code, body)
		}
	}
}

// TestOfferBasketSurvivesLeavingStripeInBrowser: with JavaScript, going to Stripe's page keeps
// the basket, so a buyer who comes back (Back, or Stripe's cancel link) finds it; the success
// page of a paid order drops it.
func TestOfferBasketSurvivesLeavingStripeInBrowser(t *testing.T) {
	e, base := startOfferSiteWith(t, startStripeMock(t), withSupport)
	ctx := newBrowser(t)
	watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	rib := `#reorder li[data-code="RIB-1"]`
	browserDo(t, ctx, chromedp.Navigate(base+"/x/"+tok), chromedp.WaitVisible(chromedp.CSS(rib)),
		chromedp.SetValue(chromedp.CSS(rib+` input[name=quantity]`), "2"),
		chromedp.Click(chromedp.CSS(rib+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`#basket`)),
		chromedp.Click(chromedp.CSS(`#basket .checkout`)),
		chromedp.WaitVisible(chromedp.CSS(`#stripe-checkout`)),
	)
	var id, session string
	if err := e.db.Read().QueryRow(`SELECT order_id, stripe_checkout_session_id FROM orders`).Scan(&id, &session); err != nil {
		t.Fatal(err)
	}
	// Stripe's cancel link: the kept basket of the order.
	browserDo(t, ctx, chromedp.Navigate(base+"/checkout/cancel?order_id="+id), chromedp.WaitVisible(chromedp.CSS(`#kept-basket`)))
	if got := browserText(t, ctx, `#kept-basket`); !strings.Contains(got, "2 × Creasing rib, black") {
		t.Fatalf("cancel page basket %q", got)
	}
	// Back on the offer page the basket is still there.
	browserDo(t, ctx, chromedp.Navigate(base+"/x/"+tok), chromedp.WaitVisible(chromedp.CSS(`#basket`)))
	if total := browserText(t, ctx, `#basket .total`); total != "£78.00" {
		t.Fatalf("offer page basket after leaving Stripe: %q", total)
	}
	// Paid: the success page drops the kept basket.
	if err := e.db.Update(t.Context(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(t.Context(), `UPDATE orders SET status = 'paid', payment_status = 'paid' WHERE order_id = ?`, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	browserDo(t, ctx, chromedp.Navigate(base+"/checkout/success?session_id="+url.QueryEscape(session)),
		chromedp.WaitVisible(chromedp.CSS(`#order-state`)),
		chromedp.Navigate(base+"/x/"+tok), chromedp.WaitVisible(chromedp.CSS(rib)))
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("basket").hidden`)); err != nil || !hidden {
		t.Fatalf("the basket is still shown after the order was paid (%v)", err)
	}
}
