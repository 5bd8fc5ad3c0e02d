package app

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/store"
)

// TestCompanyTypeAheadAndShareableFiltersInBrowser: typing part of a company's name into the
// timeline's company filter lists matching companies by name; the filtered page (company, event
// and a date range) is a URL that, opened afresh, shows the same filters and the same events.
func TestCompanyTypeAheadAndShareableFiltersInBrowser(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	ctx := newBrowser(t, chromedp.WindowSize(390, 900))
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	inBrowser(t, ctx,
		chromedp.EmulateViewport(390, 900),
		chromedp.Navigate(e.url+"/admin/login"),
		chromedp.WaitVisible(css(`input[name=password]`)),
		chromedp.SendKeys(css(`input[name=email]`), "ann@example.com"),
		chromedp.SendKeys(css(`input[name=password]`), testPassword),
		clickAndLoad(`form[action="/admin/login"] button`),
		chromedp.Navigate(e.url+"/admin/timeline"),
		chromedp.WaitVisible(css(`#timeline-filters`)),
		chromedp.SendKeys(css(`input[name=company]`), "Acme Pr"),
		voidOf(chromedp.Poll[bool](`document.querySelectorAll("#company-names option").length > 0`, chromedp.WithPollingTimeout(10*time.Second))),
	)
	names := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#company-names option")].map(o => o.value + "|" + o.label)`))
	if len(names) != 1 || names[0] != "Acme Print|COMPANY101" {
		t.Fatalf("type-ahead offers %v", names)
	}
	// Pick the name, an event type by its label and a date range; the answer's URL carries all.
	day := e.db.Now().UTC().AddDate(0, 0, -30).Format(time.DateOnly)
	inBrowser(t, ctx,
		chromedp.SetValue(css(`input[name=company]`), "Acme Print"),
		chromedp.SetValue(css(`select[name=event]`), "offer_email_sent"),
		chromedp.SetValue(css(`input[name=from]`), day),
		clickAndLoad(`#timeline-filters button[type=submit]`),
	)
	loc := fromBrowser(t, ctx, chromedp.Location())
	q, _ := url.Parse(loc)
	if q.Query().Get("company") != "Acme Print" || q.Query().Get("event") != "offer_email_sent" || q.Query().Get("from") != day {
		t.Fatalf("filtered URL %s", loc)
	}
	events := func() []string {
		return fromBrowser(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".timeline li strong")].map(s => s.textContent)`))
	}
	first := events()
	if len(first) == 0 {
		t.Fatal("the filtered timeline is empty: the demo sent Acme Print an offer e-mail")
	}
	for _, ev := range first {
		if ev != "Was sent an offer e-mail" {
			t.Errorf("filtered timeline shows %q", ev)
		}
	}
	// Shared: the same URL in a fresh page shows the same filters and events.
	inBrowser(t, ctx, chromedp.Navigate(e.url+"/admin"), chromedp.Navigate(loc), chromedp.WaitVisible(css(`#timeline-filters`)))
	kept := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`["company", "event", "from"].map(n => document.querySelector("#timeline-filters [name=" + n + "]").value)`))
	if strings.Join(kept, ",") != "Acme Print,offer_email_sent,"+day || strings.Join(events(), ",") != strings.Join(first, ",") {
		t.Fatalf("shared URL shows filters %v and events %v, want %v", kept, events(), first)
	}
}
