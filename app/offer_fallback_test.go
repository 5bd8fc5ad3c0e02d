package app

import (
	"flag"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/app/offertoken"
)

const (
	testSupportEmail = "orders@technifold.test"
	testSupportPhone = "+44 (0)20 7946 0123"
)

func withSupport(c *Config) { c.SupportEmail, c.SupportPhone = testSupportEmail, testSupportPhone }

// flakyStripe stands in front of stripe-mock and fails every call with a Stripe api_error
// while fail is set.
type flakyStripe struct {
	URL  string
	fail atomic.Bool
}

func startFlakyStripe(t *testing.T) *flakyStripe {
	t.Helper()
	old := stripeNetworkRetries
	stripeNetworkRetries = 0
	t.Cleanup(func() { stripeNetworkRetries = old })
	target, err := url.Parse(startStripeMock(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &flakyStripe{}
	f.fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.fail.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":{"type":"api_error","message":"Something went wrong on Stripe's end."}}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func TestOfferPageWithCheckoutOffShowsHowToReorder(t *testing.T) {
	e := newOfferEnv(t, func(c *Config) { c.StripeSecretKey = ""; withSupport(c) })
	personal := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	generic := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-UNSUB"}, time.Hour)
	for name, tok := range map[string]string{"personal": personal, "generic": generic} {
		rec := e.get(t, "/x/"+tok)
		body := html.UnescapeString(rec.Body.String())
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", name, rec.Code)
		}
		for _, bad := range []string{`action="/x/checkout"`, "Buy now", "STRIPE_SECRET_KEY", `class="buy-form"`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s page with checkout off contains %q", name, bad)
			}
		}
		for _, want := range []string{`id="reorder-contact"`, "How to reorder", "£39.00", "RIB-1",
			`href="mailto:` + testSupportEmail + `?subject=Reorder`, `>` + testSupportEmail + `</a>`,
			`href="tel:+442079460123"`, `>` + testSupportPhone + `</a>`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s page with checkout off lacks %q", name, want)
			}
		}
	}

	// Without a support contact the page still says how: reply to the e-mail.
	e2 := newOfferEnv(t, func(c *Config) { c.StripeSecretKey = "" })
	body := e2.get(t, "/x/"+e2.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)).Body.String()
	if !strings.Contains(body, "Reply to the e-mail this link came in") || strings.Contains(body, "mailto:") || strings.Contains(body, "tel:") {
		t.Fatalf("no support contact: %s", body)
	}

	// With checkout on, the buy buttons are back and the contact waits in the basket for a failure.
	e3 := newOfferEnv(t, withSupport)
	body = e3.get(t, "/x/"+e3.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)).Body.String()
	if !strings.Contains(body, `action="/x/checkout"`) || strings.Contains(body, `id="reorder-contact"`) ||
		!strings.Contains(body, `<div class="fallback" hidden>`) || !strings.Contains(body, testSupportEmail) {
		t.Fatalf("checkout on: %s", body)
	}
}

// Without JavaScript: a checkout that fails answers with the basket as posted, a "Try again"
// form carrying it, and the support contact (the e-mail prefilled with the basket).
func TestOfferCheckoutFailureKeepsTheBasketWithoutJavaScript(t *testing.T) {
	stripe := startFlakyStripe(t)
	e := newOfferEnv(t, func(c *Config) { c.StripeAPIBase = stripe.URL; withSupport(c) })
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	sess := sessionCookieOf(e.get(t, "/x/"+tok))
	form := url.Values{"product_code": {"RIB-1", "BLADE-9"}, "quantity": {"3", "1"}}

	rec := e.postForm(t, "/x/checkout", form, sess)
	body := html.UnescapeString(rec.Body.String())
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("failed checkout: %d %s", rec.Code, body)
	}
	for _, want := range []string{"Checkout is not available", `id="kept-basket"`, "3 × Creasing rib, black", "£117.00",
		"1 × Perforating blade", "£1,850.00", "Total £1,967.00", `<form method="post" action="/x/checkout" id="try-again">`,
		`<input type="hidden" name="product_code" value="RIB-1"><input type="hidden" name="quantity" value="3">`,
		`<input type="hidden" name="product_code" value="BLADE-9"><input type="hidden" name="quantity" value="1">`,
		"Order by e-mail or phone", "&body=Hello%2C%20I%20would%20like%20to%20order%3A%0D%0A3%20%C3%97%20Creasing%20rib%2C%20black%20%28RIB-1%29",
		"subject=Reorder%20for%20Acme%20Print%20Ltd", `href="tel:+442079460123"`, ">" + testSupportPhone + "</a>"} {
		if !strings.Contains(body, want) {
			t.Errorf("failure page lacks %q", want)
		}
	}
	if strings.Contains(body, "Something went wrong on Stripe") || strings.Contains(body, "sk_test") {
		t.Error("the failure page shows Stripe's internals")
	}
	if n := e.count(t, `SELECT count(*) FROM orders WHERE status = 'failed'`); n != 1 {
		t.Fatalf("%d failed orders", n)
	}

	// "Try again" posts exactly the kept basket; with Stripe back it reaches checkout.
	stripe.fail.Store(false)
	again := url.Values{}
	for _, m := range regexp.MustCompile(`name="(product_code|quantity)" value="([^"]+)"`).FindAllStringSubmatch(
		body[strings.Index(body, `id="try-again"`):], -1) {
		again.Add(m[1], m[2])
	}
	rec = e.postForm(t, "/x/checkout", again, sess)
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "https://checkout.stripe.com/") {
		t.Fatalf("try again: %d %s\n%s", rec.Code, rec.Body.String(), e.logs.String())
	}
	if n := e.count(t, `SELECT count(*) FROM orders o JOIN order_items i USING (order_id) WHERE o.status = 'pending'
		AND ((i.product_code = 'RIB-1' AND i.quantity = 3) OR (i.product_code = 'BLADE-9' AND i.quantity = 1))`); n != 2 {
		t.Fatalf("retried order has %d of its 2 lines", n)
	}
}

// A page opened before checkout was switched off still posts; the answer keeps the basket,
// says how else to order, and names no configuration.
func TestOfferCheckoutOffKeepsAPostedBasket(t *testing.T) {
	e := newOfferEnv(t, func(c *Config) { c.StripeSecretKey = ""; withSupport(c) })
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-UNSUB"}, time.Hour)
	rec := e.postForm(t, "/x/checkout", url.Values{"t": {tok}, "product_code": {"RIB-1"}, "quantity": {"2"}})
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "2 × Creasing rib, black") ||
		!strings.Contains(body, `<input type="hidden" name="t" value="`+tok+`">`) || !strings.Contains(body, testSupportEmail) ||
		strings.Contains(body, "STRIPE_SECRET_KEY") {
		t.Fatalf("checkout off: %d %s", rec.Code, body)
	}
}

func TestSupportContactSettings(t *testing.T) {
	for _, tt := range []struct {
		email, phone string
		ok           bool
	}{
		{"", "", true},
		{"orders@example.com", "+44 (0)20 7946 0123", true},
		{"Orders <orders@example.com>", "", false},
		{"not-an-address", "", false},
		{"", "call us", false},
		{"", "+44 20 7946 0123\" onclick=\"x", false},
		{"", "12", false},
	} {
		c, _ := LoadConfig(func(k string) string {
			return map[string]string{"SUPPORT_EMAIL": tt.email, "SUPPORT_PHONE": tt.phone}[k]
		})
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("SUPPORT_EMAIL=%q SUPPORT_PHONE=%q: %v", tt.email, tt.phone, err)
		}
		if err != nil && !strings.Contains(err.Error(), "SUPPORT_") {
			t.Errorf("error does not name the setting: %v", err)
		}
	}
	// serve --demo fills them when unset, and keeps what the operator set.
	c := &Config{}
	useDemoSupportContact(c)
	if c.SupportEmail != demoSupportEmail || c.SupportPhone != demoSupportPhone || !validSupportEmail(c.SupportEmail) ||
		!validSupportPhone(c.SupportPhone) {
		t.Fatalf("demo support contact %q %q", c.SupportEmail, c.SupportPhone)
	}
	c = &Config{SupportEmail: "mine@example.com"}
	useDemoSupportContact(c)
	if c.SupportEmail != "mine@example.com" {
		t.Fatal("the demo overrode SUPPORT_EMAIL")
	}
}

// The README's configuration table names every setting, so the two change together.
func TestReadmeConfigurationTableListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Configuration")
	if start < 0 {
		t.Fatal("README has no Configuration section")
	}
	section := readme[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, strings.SplitN(line, "|", 3)[1])
		}
	}
	c := &Config{}
	c.BindFlags(flag.NewFlagSet("t", flag.ContinueOnError), func(string) string { return "" })
	for _, s := range c.settings() {
		found := false
		for _, cell := range rows {
			if strings.Contains(cell, "`"+s.env+"`") {
				found = true
			}
		}
		if !found {
			t.Errorf("README configuration table has no row for %s", s.env)
		}
	}
}

func TestOfferBasketSurvivesAFailedCheckoutInBrowser(t *testing.T) {
	stripe := startFlakyStripe(t)
	e, base := startOfferSiteWith(t, stripe.URL, withSupport)
	ctx := newBrowser(t)
	watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	rib := `#reorder li[data-code="RIB-1"]`

	browserDo(t, ctx, chromedp.Navigate(base+"/x/"+tok), chromedp.WaitVisible(chromedp.CSS(rib)))
	if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#basket .fallback").hidden`)); err != nil || !hidden {
		t.Fatalf("the fallback shows before anything failed (%v)", err)
	}
	browserDo(t, ctx,
		chromedp.SetValue(chromedp.CSS(rib+` input[name=quantity]`), "2"),
		chromedp.Click(chromedp.CSS(rib+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`#basket`)),
		chromedp.Click(chromedp.CSS(`#basket .checkout`)),
		chromedp.WaitVisible(chromedp.CSS(`#basket .fallback`)),
	)
	msg, total := browserText(t, ctx, `#basket .msg`), browserText(t, ctx, `#basket .total`)
	mailto, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#basket .fallback .support-email").href`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "not available just now") || strings.Contains(msg, "Stripe") || total != "£78.00" {
		t.Fatalf("after the failure: message %q, total %q", msg, total)
	}
	if !strings.HasPrefix(mailto, "mailto:"+testSupportEmail+"?subject=Reorder%20for%20Acme%20Print%20Ltd&body=") ||
		!strings.Contains(mailto, "2%20%C3%97%20Creasing%20rib%2C%20black%20(RIB-1)") {
		t.Fatalf("fallback e-mail link %q", mailto)
	}
	if phone := browserText(t, ctx, `#basket .fallback .support-phone`); phone != testSupportPhone {
		t.Fatalf("fallback phone %q", phone)
	}

	// The basket survives a reload, then checks out once Stripe is back.
	browserDo(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#basket`)))
	if total := browserText(t, ctx, `#basket .total`); total != "£78.00" {
		t.Fatalf("after reload the basket is %q", total)
	}
	stripe.fail.Store(false)
	browserDo(t, ctx, chromedp.Click(chromedp.CSS(`#basket .checkout`)), chromedp.WaitVisible(chromedp.CSS(`#stripe-checkout`)))
	if n := e.count(t, `SELECT count(*) FROM orders o JOIN order_items i USING (order_id)
		WHERE o.status = 'pending' AND i.product_code = 'RIB-1' AND i.quantity = 2`); n != 1 {
		t.Fatalf("%d pending orders with the kept basket", n)
	}
	if n := e.count(t, `SELECT count(*) FROM orders WHERE status = 'failed'`); n != 1 {
		t.Fatalf("%d failed orders", n)
	}
}

func TestOfferCheckoutOffInBrowser(t *testing.T) {
	e, base := startOfferSiteWith(t, "http://127.0.0.1:1", func(c *Config) { c.StripeSecretKey = ""; withSupport(c) })
	ctx := newBrowser(t, chromedp.WindowSize(390, 844))
	watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	browserDo(t, ctx, chromedp.Navigate(base+"/x/"+tok), chromedp.WaitVisible(chromedp.CSS(`#reorder-contact`)))
	how := browserText(t, ctx, `#reorder-contact`)
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main button, main form").length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(how, testSupportEmail) || !strings.Contains(how, testSupportPhone) || buttons != 0 ||
		!strings.Contains(browserText(t, ctx, `#reorder`), "£39.00") {
		t.Fatalf("checkout off: %q, %d buttons or forms", how, buttons)
	}
}

func TestBadLinkPagesNameTheSupportContact(t *testing.T) {
	e := newOfferEnv(t, withSupport)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	e.clock.Advance(time.Hour)
	for target, status := range map[string]int{"/x/" + tok: http.StatusGone, "/x/" + tok + "x": http.StatusNotFound, "/x/nonsense": http.StatusNotFound} {
		rec := e.get(t, target)
		body := html.UnescapeString(rec.Body.String())
		if rec.Code != status || !strings.Contains(body, "mailto:"+testSupportEmail) || !strings.Contains(body, testSupportPhone) {
			t.Errorf("%s: %d %s", target, rec.Code, body)
		}
	}
}
