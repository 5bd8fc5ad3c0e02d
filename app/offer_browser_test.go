package app

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// startOfferSite runs the offer environment's server on a loopback port (with stripe-mock
// behind checkout) and returns it with its base URL.
func startOfferSite(t *testing.T) (*offerEnv, string) {
	t.Helper()
	return startOfferSiteWith(t, startStripeMock(t), nil)
}

// startOfferSiteWith is startOfferSite with Stripe at stripeBase and edit applied to the
// configuration last.
func startOfferSiteWith(t *testing.T, stripeBase string, edit func(*Config)) (*offerEnv, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	e := newOfferEnv(t, func(c *Config) {
		c.BaseURL = base
		c.StripeSecretKey, c.StripeAPIBase = "sk_test_123", stripeBase
		if edit != nil {
			edit(c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := e.srv.Start(ctx, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = e.srv.Shutdown(sctx)
		cancel()
	})
	return e, base
}

// pageWatch records the HTTP status of every document the tab loads, and answers requests to
// Stripe's hosted checkout with a stand-in page (the test machine has no internet).
type pageWatch struct {
	mu       sync.Mutex
	statuses map[string]int64
}

const stripeStandIn = `<!doctype html><title>Stripe Checkout</title><h1 id="stripe-checkout">Stripe Checkout</h1>`

func watchPages(t *testing.T, ctx context.Context) *pageWatch {
	t.Helper()
	w := &pageWatch{statuses: map[string]int64{}}
	paused := make(chan fetch.RequestID, 16)
	err := chromedp.Listen(ctx, func(ev any) {
		// This runs in the tab's read loop: record and hand off, never call the browser here.
		switch e := ev.(type) {
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument {
				w.mu.Lock()
				w.statuses[e.Response.URL] = e.Response.Status
				w.mu.Unlock()
			}
		case *fetch.EventRequestPaused:
			paused <- e.RequestID
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case id := <-paused:
				_, _ = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: id, ResponseCode: 200,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
					Body:            []byte(stripeStandIn)})
			case <-ctx.Done():
				return
			}
		}
	}()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	_, err = chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "https://checkout.stripe.com/*"}}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *pageWatch) status(url string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statuses[url]
}

// offerCookieInBrowser returns the browser's offer_session cookie, or nil.
func offerCookieInBrowser(t *testing.T, ctx context.Context) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == offerCookie {
			return c
		}
	}
	return nil
}

// browserText returns the text of the first element matching a CSS selector.
func browserText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// browserDo runs browser steps, failing the test on error.
func browserDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func browserLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestOfferPageBasketReachesStripeInBrowser(t *testing.T) {
	e, base := startOfferSite(t)
	ctx := newBrowser(t)
	watch := watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder", CampaignKey: "spring"}, time.Hour)
	pageURL := base + "/x/" + tok + "?utm_source=browser"
	rib := `#reorder li[data-code="RIB-1"]`

	browserDo(t, ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS(`#who`)))
	who, items := browserText(t, ctx, `#who`), browserText(t, ctx, `#reorder`)
	if !strings.Contains(who, "Acme Print Ltd") || !strings.Contains(who, "Alice") || !strings.Contains(items, "Creasing rib, black") ||
		!strings.Contains(items, "£39.00") {
		t.Fatalf("page: who %q items %q", who, items)
	}
	if watch.status(pageURL) != 200 {
		t.Fatalf("status %d", watch.status(pageURL))
	}
	c := offerCookieInBrowser(t, ctx)
	if c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		t.Fatalf("offer_session cookie %+v", c)
	}
	jsCookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil || strings.Contains(jsCookies, offerCookie) {
		t.Fatalf("page script can read the session cookie (%q, %v)", jsCookies, err)
	}
	if e.views(t) != 1 {
		t.Fatalf("%d offer_view events", e.views(t))
	}

	button := browserText(t, ctx, rib+` button`)
	browserDo(t, ctx,
		chromedp.SetValue(chromedp.CSS(rib+` input[name=quantity]`), "2"),
		chromedp.Click(chromedp.CSS(rib+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`#basket`)),
	)
	if total := browserText(t, ctx, `#basket .total`); button != "Add to basket" || total != "£78.00" {
		t.Fatalf("button %q, basket total %q", button, total)
	}
	browserDo(t, ctx, chromedp.Click(chromedp.CSS(`#basket .checkout`)), chromedp.WaitVisible(chromedp.CSS(`#stripe-checkout`)))
	if loc := browserLocation(t, ctx); !strings.HasPrefix(loc, "https://checkout.stripe.com/") {
		t.Fatalf("browser is at %q", loc)
	}
	var contact, offer string
	var qty int
	if err := e.db.Read().QueryRow(`SELECT o.contact_id, o.offer_key, i.quantity FROM orders o JOIN order_items i USING (order_id)
		WHERE i.product_code = 'RIB-1'`).Scan(&contact, &offer, &qty); err != nil {
		t.Fatal(err)
	}
	if contact != "K-SUB" || offer != "reorder" || qty != 2 {
		t.Fatalf("order: contact %s offer %s quantity %d", contact, offer, qty)
	}
}

func TestOfferCheckoutWithoutJavaScriptInBrowser(t *testing.T) {
	e, base := startOfferSite(t)
	ctx := newBrowser(t)
	watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-PEND", OfferKey: "reorder"}, time.Hour)
	rib := `#reorder li[data-code="RIB-1"]`
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	browserDo(t, ctx, chromedp.Navigate(base+"/x/"+tok), chromedp.WaitVisible(chromedp.CSS(rib)))
	button := browserText(t, ctx, rib+` button`)
	browserDo(t, ctx,
		chromedp.SetValue(chromedp.CSS(rib+` input[name=quantity]`), "3"),
		chromedp.Click(chromedp.CSS(rib+` button`)),
		chromedp.WaitVisible(chromedp.CSS(`#stripe-checkout`)),
	)
	if loc := browserLocation(t, ctx); button != "Buy now" || !strings.HasPrefix(loc, "https://checkout.stripe.com/") {
		t.Fatalf("button %q, location %q", button, loc)
	}
	if n := e.count(t, `SELECT count(*) FROM orders o JOIN order_items i USING (order_id)
		WHERE o.contact_id = 'K-PEND' AND i.product_code = 'RIB-1' AND i.quantity = 3`); n != 1 {
		t.Fatalf("%d matching orders", n)
	}
}

func TestOfferExpiredLinkInBrowser(t *testing.T) {
	e, base := startOfferSite(t)
	ctx := newBrowser(t)
	watch := watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	e.clock.Advance(time.Hour)
	browserDo(t, ctx, chromedp.Navigate(base+"/x/"+tok))
	if heading := browserText(t, ctx, `h1`); heading != "Invalid or Expired Link" || watch.status(base+"/x/"+tok) != 410 {
		t.Fatalf("heading %q status %d", heading, watch.status(base+"/x/"+tok))
	}
	if offerCookieInBrowser(t, ctx) != nil || e.views(t) != 0 {
		t.Fatal("an expired link opened a session")
	}
	// "Send me a fresh link" posts from the page itself (same origin) and queues one e-mail.
	browserDo(t, ctx, chromedp.Click(chromedp.CSS(`#fresh-link button`)), chromedp.WaitNotPresent(chromedp.CSS(`#fresh-link`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if heading := browserText(t, ctx, `h1`); heading != "Check your inbox" || watch.status(base+"/x/fresh-link") != 200 {
		t.Fatalf("after asking for a fresh link: %q, status %d", heading, watch.status(base+"/x/fresh-link"))
	}
	if n := e.count(t, `SELECT count(*) FROM outbox WHERE job_type = ?`, string(store.JobSendOfferEmail)); n != 1 {
		t.Fatalf("%d offer e-mails queued, want 1", n)
	}
}

func TestOfferUnsubscribeInBrowser(t *testing.T) {
	e, base := startOfferSite(t)
	ctx := newBrowser(t)
	watchPages(t, ctx)
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Hour)
	pageURL := base + "/x/" + tok

	browserDo(t, ctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.CSS(`#who`)),
		chromedp.Click(chromedp.CSS(`footer a`)),
		chromedp.WaitVisible(chromedp.CSS(`#unsubscribe`)),
		chromedp.Click(chromedp.CSS(`#unsubscribe`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	)
	status, done := browserText(t, ctx, `#status`), browserText(t, ctx, `#done`)
	if status != "unsubscribed" || !strings.Contains(done, "unsubscribed") || e.status(t, "K-SUB") != "unsubscribed" {
		t.Fatalf("after unsubscribe: page %q / %q, stored %s", status, done, e.status(t, "K-SUB"))
	}
	if e.views(t) != 1 {
		t.Fatalf("%d views before revisiting", e.views(t))
	}

	e.clock.Advance(10 * time.Second)
	browserDo(t, ctx, chromedp.Navigate(pageURL), chromedp.WaitVisible(chromedp.CSS(`#catalogue`)))
	main := browserText(t, ctx, `main`)
	personal, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("who") !== null`))
	if err != nil {
		t.Fatal(err)
	}
	if personal || strings.Contains(main, "Acme") || strings.Contains(main, "Alice") || strings.Contains(main, "last ordered") ||
		!strings.Contains(main, "Creasing rib, black") {
		t.Fatalf("revisit is not generic: %q", main)
	}
	if n := e.views(t); n != 1 {
		t.Fatalf("the revisit was tracked: %d offer_view events", n)
	}
	if c := offerCookieInBrowser(t, ctx); c != nil {
		t.Fatalf("session cookie kept after unsubscribing: %+v", c)
	}

	// The generic page's basket checks out with the link: an order for the company, no contact.
	browserDo(t, ctx,
		chromedp.Click(chromedp.CSS(`#catalogue li[data-code="RIB-1"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#basket`)),
		chromedp.Click(chromedp.CSS(`#basket .checkout`)),
		chromedp.WaitVisible(chromedp.CSS(`#stripe-checkout`)),
	)
	if n := e.count(t, `SELECT count(*) FROM orders WHERE company_id = 'ACME' AND contact_id IS NULL`); n != 1 {
		t.Fatalf("%d anonymous orders from the generic page", n)
	}
	if n := e.views(t); n != 1 {
		t.Fatalf("checkout from the generic page was tracked as a view: %d", n)
	}
}
