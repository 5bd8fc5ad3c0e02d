package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// TestCompanyPageSuggestionsInBrowser: at desktop and phone widths, a company page explains
// its suggestions in words with the currency, and its "Copy offer link" uses the offer chosen
// next to it and copies without a page reload; the page does not widen at 390 px.
func TestCompanyPageSuggestionsInBrowser(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.TokenSecret = offerTestSecret }})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	all, err := e.db.AllSuggestions(t.Context())
	if err != nil || len(all) == 0 {
		t.Fatalf("suggestions: %v", err)
	}
	company := all[0].CompanyID
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	for _, width := range []int64{1400, 390} {
		ctx := newBrowser(t, chromedp.WindowSize(int(width), 900))
		inBrowser(t, ctx,
			chromedp.EmulateViewport(width, 900),
			chromedp.Navigate(e.url+"/admin/login"),
			chromedp.WaitVisible(css(`input[name=password]`)),
			chromedp.SendKeys(css(`input[name=email]`), "ann@example.com"),
			chromedp.SendKeys(css(`input[name=password]`), testPassword),
			clickAndLoad(`form[action="/admin/login"] button`),
			chromedp.Navigate(e.url+"/admin/companies/"+company),
			chromedp.WaitVisible(css(`#h-sugg`)),
		)
		explain := fromBrowser(t, ctx, chromedp.Text(css(`#h-sugg ~ p .explain`)))
		if !strings.Contains(explain, "purchase") || strings.Contains(explain, " orders") {
			t.Errorf("%d px: explanation %q", width, explain)
		}
		// Sending is off here: its button looks switched off, not like the live ones.
		if look := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`(() => {
			const live = document.body.appendChild(document.createElement("button"));
			const off = document.querySelector("#h-sugg ~ .actions button[disabled]");
			const out = [getComputedStyle(live).backgroundColor, off ? getComputedStyle(off).backgroundColor : ""];
			live.remove();
			return out;
		})()`)); look[1] == "" || look[0] == look[1] {
			t.Errorf("%d px: a disabled Send button looks like a live one (%v)", width, look)
		}
		form := `#h-sugg ~ .actions form.offer-actions`
		inBrowser(t, ctx,
			chromedp.SetValue(css(form+` select[name="offer_key"]`), "winback"),
			voidOf(chromedp.Evaluate[bool](`window.__sameDocument = true`)),
			chromedp.Click(css(form+` button[data-copy-link]`)),
			chromedp.WaitVisible(css(form+` output.copied input.link`)),
		)
		if !fromBrowser(t, ctx, chromedp.Evaluate[bool](`window.__sameDocument === true`)) {
			t.Fatalf("%d px: copying the offer link reloaded the page", width)
		}
		link := fromBrowser(t, ctx, chromedp.Value(css(form+` output.copied input.link`)))
		keys, _ := offertoken.ParseKeyring(offerTestSecret)
		claims, err := keys.Verify(strings.TrimPrefix(link, e.url+"/x/"), time.Now())
		if err != nil || claims.CompanyID != company || claims.OfferKey != "winback" {
			t.Fatalf("%d px: link %q does not carry the chosen offer: %v %+v", width, link, err, claims)
		}
		if w := fromBrowser(t, ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); w[0] > w[1] {
			t.Errorf("%d px: the company page is %d px wide", width, w[0])
		}
	}
}
