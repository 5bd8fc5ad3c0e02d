package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// The accessibility walk: every admin page (the GET page routes declared with
// declareAdminRoutes, so a new page is walked without editing this file) and every customer
// page, each at a desktop (1400 px) and a phone (390 px) width, in one Chromium. On each the
// test checks the page's heading and a fact from the demo data, that the page does not
// scroll sideways at 390 px (tables scroll inside their own .table-scroll region), and runs
// axe-core (Deque's accessibility checker) in the page: any serious or critical violation
// fails the test, listed with its rule, targets, page and width.

// axeEnv names the axe.min.js file the browser tests inject; .ci/run installs a pinned
// axe-core from the npm registry and sets it.
const axeEnv = "TECHNIFOLD_AXE_JS"

// axeScript reads axe-core's axe.min.js from $TECHNIFOLD_AXE_JS, else from where .ci/run
// installs it (the user's cache directory). Without it the test is skipped, except under
// CI=true, where it fails.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv(axeEnv)
	if path == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			path = filepath.Join(dir, "technifold", "axe-core", "node_modules", "axe-core", "axe.min.js")
		}
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		msg := fmt.Sprintf("axe-core not found (%s=%q: %v): run .ci/run, or npm install axe-core and set %s to its axe.min.js", axeEnv, path, err, axeEnv)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		axeSkipped.Store(true)
		t.Skip(msg)
	}
	return string(b)
}

// axeSkipped records that the accessibility check was skipped for want of axe-core, for
// TestMain's one-line note.
var axeSkipped atomic.Bool

// noteAxeSkip says in one line, on stdout and the terminal, that the accessibility check did
// not run (go test shows a passing package's output only with -v).
func noteAxeSkip(stdout io.Writer, tty io.WriteCloser) {
	line := "note: the accessibility check skipped in ./app: axe-core not found (.ci/run installs it and sets " + axeEnv + "; CI=true makes this a failure)\n"
	fmt.Fprint(stdout, line)
	if tty != nil {
		fmt.Fprint(tty, line)
		tty.Close()
	}
}

// a11yWidths are the widths every page is checked at.
var a11yWidths = []struct{ w, h int64 }{{1400, 900}, {390, 844}}

// a11yPage is one page to check: where it is (or how to reach it) and what it must show.
type a11yPage struct {
	name string
	// path is navigated to; when empty, open runs instead (a page reached by a form post).
	path string
	open func(t *testing.T, ctx context.Context)
	// h1 must be (a prefix of) the page's first heading; facts must appear in its text.
	h1    string
	facts []string
	// shows is a CSS selector that must match an element (a list's rows, a form).
	shows string
	// status is the HTTP status the page is served with (200 when zero).
	status int64
	// sameAs skips axe-core when the page's main content has exactly the markup it had when the
	// page at this path was checked before (staff pages identical to the admin's).
	sameAs string
}

// adminPagePaths lists the declared GET admin pages (not the JSON API), with each path
// parameter replaced by a real id from ids; a route whose parameter has no id is an error,
// so a new page with an id in its path must be given one here.
func adminPagePaths(t *testing.T, ids map[string]string) []string {
	t.Helper()
	var out []string
	for _, rt := range declaredAdminRoutes() {
		if rt.method != http.MethodGet || rt.api {
			continue
		}
		path := rt.path
		if strings.Contains(path, ":") || strings.Contains(path, "*") {
			id, ok := ids[rt.path]
			if !ok {
				t.Errorf("admin page %s has a path parameter: add a demo id for it to the accessibility test", rt.path)
				continue
			}
			path = id
		}
		out = append(out, path)
	}
	return out
}

func TestAccessibilityInBrowser(t *testing.T) {
	axe := axeScript(t)
	const secret = "rotate:k1=a11y-browser-test-secret-0123456789"
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) {
		c.TokenSecret = secret
		c.SupportEmail, c.SupportPhone = demoSupportEmail, demoSupportPhone
		// Checkout is on, with Stripe's API mock behind it (for the payment link page).
		c.StripeSecretKey, c.StripeAPIBase = "sk_test_a11y", startStripeMock(t)
	}})
	e.loadDemo()
	ctx := context.Background()
	q := func(query string, dest ...any) {
		t.Helper()
		if err := e.db.Read().QueryRow(query).Scan(dest...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}

	// Real ids and facts from the demo data.
	var company, companyName, contact, contactFirst, job, jobType, delivery, deliveryProvider, paidOrder, paidSession string
	q(`SELECT c.company_id, c.company_name, k.contact_id, k.first_name FROM companies c
		JOIN contacts k ON k.company_id = c.company_id AND k.marketing_status = 'subscribed' AND k.first_name != ''
		JOIN sales s ON s.company_id = c.company_id
		ORDER BY c.company_id, k.contact_id LIMIT 1`, &company, &companyName, &contact, &contactFirst)
	q(`SELECT id, job_type FROM outbox WHERE errors IS NOT NULL AND errors != '[]' ORDER BY id LIMIT 1`, &job, &jobType)
	q(`SELECT id, provider FROM webhook_deliveries ORDER BY id LIMIT 1`, &delivery, &deliveryProvider)
	q(`SELECT order_id, stripe_checkout_session_id FROM orders WHERE status = 'paid' AND stripe_checkout_session_id IS NOT NULL
		ORDER BY order_id LIMIT 1`, &paidOrder, &paidSession)
	var deadJobs, companies int
	var latestEventCompany, product string
	q(`SELECT p.product_code FROM product_prices p JOIN companies c ON c.currency = p.currency
		WHERE c.company_id = '`+company+`' ORDER BY p.product_code LIMIT 1`, &product)
	q(`SELECT c.company_name FROM engagement_events e JOIN companies c ON c.company_id = e.company_id
		ORDER BY e.occurred_at DESC LIMIT 1`, &latestEventCompany)
	q(`SELECT count(*) FROM outbox WHERE status = 'dead'`, &deadJobs)
	q(`SELECT count(*) FROM companies`, &companies)

	keys, err := offertoken.ParseKeyring(secret)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(c offertoken.Claims) string {
		tok, err := keys.Mint(c, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	personal := mint(offertoken.Claims{CompanyID: company, ContactID: contact, OfferKey: "reorder"})
	generic := mint(offertoken.Claims{CompanyID: company})
	expired := mint(offertoken.Claims{CompanyID: company, ContactID: contact, ExpiresAt: time.Now().Add(-48 * time.Hour)})
	tampered := personal[:len(personal)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(personal, "AA")]

	// The first-admin setup form exists only while there are no users.
	var setupOut strings.Builder
	if err := BootstrapAdmin(ctx, e.db, e.cfg, false, func(f string, a ...any) { fmt.Fprintf(&setupOut, f+"\n", a...) }); err != nil {
		t.Fatal(err)
	}
	i := strings.Index(setupOut.String(), "/admin/setup?token=")
	if i < 0 {
		t.Fatalf("no setup link printed: %q", setupOut.String())
	}
	setupPath := strings.Fields(setupOut.String()[i:])[0]

	// A second server on the same database with checkout switched off (no Stripe key). It is
	// started before the browser so that it shuts down after it: Go's Shutdown waits up to 5 s
	// for a connection the browser opened ahead of need.
	offCfg := *e.cfg
	offCfg.StripeSecretKey, offCfg.StripeAPIBase = "", ""
	off := startAdminEnv(t, &offCfg, e.cfg.DatabasePath, adminEnvOptions{})
	if err := off.srv.Worker().Stop(ctx); err != nil {
		t.Fatal(err)
	}

	browser := newBrowser(t, chromedp.WindowSize(1400, 900))
	if _, err := chromedp.Call(browser, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: axe}); err != nil {
		t.Fatal(err)
	}
	var problems []string
	checked, reused := 0, 0
	contentSeen := map[string]string{} // page and width → its main content when axe-core ran
	var took []string                  // each page view's time, for the log
	check := func(t *testing.T, p a11yPage) {
		t.Helper()
		for _, size := range a11yWidths {
			start := time.Now()
			inBrowser(t, browser, chromedp.EmulateViewport(size.w, size.h))
			if size == a11yWidths[0] {
				if p.path != "" {
					resp := fromBrowser(t, browser, chromedp.NavigateResponse(e.url+p.path))
					want := p.status
					if want == 0 {
						want = http.StatusOK
					}
					if resp.Status != want {
						t.Errorf("%s: HTTP %d, want %d", p.name, resp.Status, want)
					}
				} else {
					p.open(t, browser)
				}
				inBrowser(t, browser, chromedp.WaitReady(chromedp.CSS(`body`)))
			}
			where := fmt.Sprintf("%s at %d px", p.name, size.w)
			got := fromBrowser(t, browser, chromedp.Evaluate[[]string](`[
				(document.querySelector("h1") || {innerText: ""}).innerText.trim(), document.title, document.body.innerText]`))
			if !strings.HasPrefix(got[0], p.h1) || got[0] == "" {
				t.Errorf("%s: heading %q, want %q", where, got[0], p.h1)
			}
			if got[1] == "" {
				t.Errorf("%s: no title", where)
			}
			for _, f := range p.facts {
				if !strings.Contains(got[2], f) {
					t.Errorf("%s: the page does not show %q", where, f)
				}
			}
			if p.shows != "" && !fromBrowser(t, browser, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, p.shows))) {
				t.Errorf("%s: nothing matches %s", where, p.shows)
			}
			if size.w < 500 {
				wide := fromBrowser(t, browser, chromedp.Evaluate[[]string](`document.documentElement.scrollWidth <= window.innerWidth ? [] :
					[...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 &&
						!el.closest(".table-scroll")).slice(0, 5).map(el => el.tagName.toLowerCase() +
						(el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
						" (right edge " + Math.round(el.getBoundingClientRect().right) + " px)")
						.concat(["page " + document.documentElement.scrollWidth + " px wide in a " + window.innerWidth + " px window"])`))
				if len(wide) > 0 {
					t.Errorf("%s: the page scrolls sideways: %s", where, strings.Join(wide, "; "))
				}
			}
			// The main content's markup without its words (relative times and counts move on
			// between the walks; what axe-core judges is the elements and their attributes).
			content := fromBrowser(t, browser, chromedp.Evaluate[string](`(() => {
				const m = (document.querySelector("main") || document.body).cloneNode(true);
				const w = document.createTreeWalker(m, NodeFilter.SHOW_TEXT);
				for (let n = w.nextNode(); n; n = w.nextNode()) n.nodeValue = n.nodeValue.trim() ? "x" : "";
				m.querySelectorAll("[title]").forEach(el => el.removeAttribute("title"));
				return m.innerHTML;
			})()`))
			key := fmt.Sprintf("%s at %d", p.path, size.w)
			if p.sameAs != "" && contentSeen[fmt.Sprintf("%s at %d", p.sameAs, size.w)] == content {
				checked++
				reused++
				continue
			}
			contentSeen[key] = content
			found := fromBrowser(t, browser, chromedp.Evaluate[[]string](`(async () => {
				if (typeof axe === "undefined") return ["axe-core is not loaded in the page"];
				const r = await axe.run(document, {resultTypes: ["violations"]});
				return r.violations.map(v =>
					v.impact + " " + v.id + ": " + v.help + " — " + v.nodes.slice(0, 6).map(n => n.target.join(" ")).join(", ") +
					(v.nodes.length > 6 ? " and " + (v.nodes.length - 6) + " more" : ""));
			})()`, chromedp.EvalAwaitPromise))
			for _, v := range found {
				// Serious and critical violations fail the test; moderate and minor ones are
				// reported for a person to judge.
				if strings.HasPrefix(v, "serious ") || strings.HasPrefix(v, "critical ") || strings.HasPrefix(v, "axe-core") {
					problems = append(problems, where+" ("+p.path+"): "+v)
				} else {
					t.Logf("%s: %s", where, v)
				}
			}
			checked++
			took = append(took, fmt.Sprintf("%5dms %s at %d px", time.Since(start).Milliseconds(), p.name, size.w))
		}
	}

	signIn := func(t *testing.T, email string) {
		inBrowser(t, browser,
			chromedp.Navigate(e.url+"/admin/login"),
			chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
			clickAndLoad(`form[action="/admin/login"] button`),
		)
		if loc := fromBrowser(t, browser, chromedp.Location()); strings.Contains(loc, "/admin/login") {
			t.Fatalf("sign-in as %s failed: at %s", email, loc)
		}
	}

	// What each admin page must show; a declared page missing here is still walked and checked
	// for a heading and accessibility.
	adminFacts := map[string]a11yPage{
		"/admin":                      {h1: "Dashboard", facts: []string{"Stripe", "Outbox", fmt.Sprintf("%d dead job", deadJobs)}},
		"/admin/timeline":             {h1: "Engagement timeline", facts: []string{latestEventCompany}, shows: ".timeline li"},
		"/admin/suggestions":          {h1: "Suggestions", shows: `article.suggestion form[action="/admin/suggestions/send"]`},
		"/admin/companies":            {h1: "Companies", facts: []string{fmt.Sprintf("of %d", companies)}},
		"/admin/companies/" + company: {h1: companyName, facts: []string{company, "Purchase history"}},
		"/admin/orders":               {h1: "Orders", facts: []string{paidOrder, "£"}},
		"/admin/outbox":               {h1: "Outbox", facts: []string{jobLabel(jobType)}, shows: "#job-" + job},
		"/admin/jobs/" + job:          {h1: "Job #" + job, facts: []string{jobLabel(jobType), "Error history"}},
		"/admin/webhooks":             {h1: "Webhook deliveries", shows: `a[href="/admin/webhooks/` + delivery + `"]`},
		"/admin/webhooks/" + delivery: {h1: "Webhook delivery #" + delivery, facts: []string{deliveryProvider}},
		"/admin/users":                {h1: "Users", facts: []string{"ann@example.com", "sam@example.com"}},
		"/admin/audit":                {h1: "Audit log"}, // its fact is the users' creation, below
		"/admin/no-such-page":         {h1: "Not Found", status: http.StatusNotFound, shows: "header.top nav"},
	}
	ids := map[string]string{
		"/admin/companies/:id": "/admin/companies/" + company,
		"/admin/jobs/:id":      "/admin/jobs/" + job,
		"/admin/webhooks/:id":  "/admin/webhooks/" + delivery,
	}
	paths := adminPagePaths(t, ids)

	t.Run("before any user", func(t *testing.T) {
		check(t, a11yPage{name: "first-admin setup", path: setupPath, h1: "Create the first admin"})
	})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	var lastAction, lastTarget string
	q(`SELECT action, coalesce(target, '') FROM audit_log ORDER BY id DESC LIMIT 1`, &lastAction, &lastTarget)
	audit := adminFacts["/admin/audit"]
	audit.facts = []string{auditLabel(lastAction), lastTarget}
	adminFacts["/admin/audit"] = audit

	t.Run("signed out", func(t *testing.T) {
		check(t, a11yPage{name: "sign-in", path: "/admin/login", h1: "Sign in"})
	})

	// Admins and staff walk every page: staff see admin-only actions disabled and explained,
	// and the users page refused.
	for _, who := range []struct{ role, email string }{{"admin", "ann@example.com"}, {"staff", "sam@example.com"}} {
		t.Run(who.role, func(t *testing.T) {
			signIn(t, who.email)
			for _, path := range append(paths, "/admin/no-such-page") {
				if path == "/admin/login" || path == "/admin/setup" {
					continue // public pages, checked above
				}
				p, ok := adminFacts[path]
				if !ok {
					t.Logf("%s: no heading or facts declared for it in this test; checking its layout and accessibility only", path)
				}
				if who.role == "staff" && path == "/admin/users" {
					p = a11yPage{h1: "Forbidden", status: http.StatusForbidden, facts: []string{denyText(denyUsers)}}
				}
				p.name, p.path = who.role+" "+path, path
				if who.role == "staff" {
					p.sameAs = path
				}
				check(t, p)
			}
			// The payment link page answers the company page's form (an order taken by phone);
			// staff may create one. Last, as it adds an order.
			if who.role == "staff" {
				check(t, a11yPage{name: who.role + " payment link", open: func(t *testing.T, ctx context.Context) {
					form := `form[action="/admin/companies/` + company + `/payment-link"]`
					inBrowser(t, ctx, chromedp.Navigate(e.url+"/admin/companies/"+company),
						chromedp.WaitVisible(chromedp.CSS(form+` input[name=product_code]`)),
						chromedp.SetValue(chromedp.CSS(form+` input[name=product_code]`), product),
						clickAndLoad(form+` button[type=submit]`))
				}, h1: "Payment link for " + companyName, shows: "#payment-link"})
			}
			signOut := `form[action="/admin/logout"] button`
			inBrowser(t, browser, chromedp.Navigate(e.url+"/admin"), chromedp.WaitVisible(chromedp.CSS(signOut)), clickAndLoad(signOut))
		})
	}

	t.Run("customer", func(t *testing.T) {
		for _, p := range []a11yPage{
			{name: "offer page (personal)", path: "/x/" + personal, facts: []string{"Hi " + contactFirst, companyName, "Reorder what you bought before"}},
			{name: "offer page with a basket", open: func(t *testing.T, ctx context.Context) {
				inBrowser(t, ctx, chromedp.Navigate(e.url+"/x/"+personal),
					chromedp.WaitVisible(chromedp.CSS(`form.buy-form button[type=submit]`)),
					chromedp.Click(chromedp.CSS(`form.buy-form button[type=submit]`)),
					chromedp.WaitVisible(chromedp.CSS(`#basket button.checkout`)))
			}, facts: []string{companyName, "Total"}, shows: "#basket:not([hidden]) li"},
			{name: "offer page (company link)", path: "/x/" + generic, facts: []string{companyName}},
			{name: "preferences", path: "/preferences/" + personal, h1: "E-mail preferences"},
			{name: "expired link", path: "/x/" + expired, h1: "Invalid or Expired Link", status: http.StatusGone, facts: []string{"Send me a fresh link"}},
			{name: "tampered link", path: "/x/" + tampered, h1: "Invalid or Expired Link", status: http.StatusNotFound, facts: []string{demoSupportEmail}},
			{name: "checkout success", path: "/checkout/success?session_id=" + paidSession, h1: "Thank you for your order", facts: []string{paidOrder}},
			{name: "checkout cancelled", path: "/checkout/cancel?order_id=" + paidOrder, h1: "Payment not completed", facts: []string{paidOrder}},
		} {
			check(t, p)
		}
	})

	// Checkout switched off: the offer page says how to reorder another way.
	t.Run("customer, checkout off", func(t *testing.T) {
		saved := e.url
		e.url = off.url
		defer func() { e.url = saved }()
		check(t, a11yPage{name: "offer page (checkout off)", path: "/x/" + personal, facts: []string{"How to reorder", demoSupportEmail}})
		// A basket posted while checkout is off (a page opened before it was switched off) is
		// kept, with the other ways to order.
		check(t, a11yPage{name: "checkout could not start", open: func(t *testing.T, ctx context.Context) {
			inBrowser(t, ctx, voidOf(chromedp.Evaluate[bool](`(() => {
				const f = document.createElement("form");
				f.method = "post"; f.action = "/x/checkout";
				for (const [n, v] of [["product_code", document.querySelector("li.item[data-code]").dataset.code], ["quantity", "2"]]) {
					const i = document.createElement("input"); i.type = "hidden"; i.name = n; i.value = v; f.appendChild(i);
				}
				document.body.appendChild(f); document.body.setAttribute("data-stale", "1"); f.submit(); return true;
			})()`)), chromedp.WaitReady(chromedp.CSS(`body:not([data-stale])`)))
		}, facts: []string{"Your basket", demoSupportEmail, demoSupportPhone}, shows: "#kept-basket li"})
	})

	sort.Strings(problems)
	if len(problems) > 0 {
		t.Errorf("%d serious or critical accessibility violations (axe-core):\n%s", len(problems), strings.Join(problems, "\n"))
	}
	t.Logf("checked %d page views (%d admin routes declared); axe-core skipped on %d staff views identical to the admin's", checked, len(paths), reused)
	sort.Sort(sort.Reverse(sort.StringSlice(took)))
	t.Logf("slowest page views:\n%s", strings.Join(took[:min(8, len(took))], "\n"))
}
