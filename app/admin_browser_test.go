package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// adminTestJob is a job type the browser test retries; its handler reports each run.
const adminTestJob = "admin_test_job"

// showcase is what seedShowcase put in the database for the browser test to act on.
type showcase struct {
	deadJob       int64
	deliveryID    int64
	replayOrder   string
	offerCompany  string
	offerContacts int
}

// seedShowcase loads the demo data set and adds what the dashboard and the actions need: paid
// orders over 30 days, a checkout funnel, a dead job, a failed Stripe delivery whose order is
// still pending, and a rejected delivery.
func seedShowcase(t *testing.T, e *adminEnv) showcase {
	t.Helper()
	ctx := context.Background()
	e.loadDemo()
	var sc showcase
	rng := rand.New(rand.NewPCG(7, 7))
	now := e.db.Now()
	var companies []string
	rows, err := e.db.Read().Query(`SELECT company_id FROM companies WHERE currency = 'gbp' ORDER BY company_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		companies = append(companies, id)
	}
	rows.Close()
	err = e.db.Update(ctx, func(tx *store.Tx) error {
		for i := range 45 {
			paid := now.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)
			total := int64(4000 + rng.IntN(60000))
			if _, err := tx.ExecContext(ctx, `INSERT INTO orders (order_id, company_id, status, payment_status, currency,
					subtotal, total_amount, paid_at, stripe_payment_intent_id, created_at, updated_at)
				VALUES (?, ?, 'paid', 'paid', 'gbp', ?, ?, ?, ?, ?, ?)`,
				fmt.Sprintf("ORD-9%05d", i), companies[i%len(companies)], total, total, store.FormatTime(paid),
				fmt.Sprintf("pi_showcase_%d", i), store.FormatTime(paid.Add(-10*time.Minute)), store.FormatTime(paid)); err != nil {
				return err
			}
		}
		for i, name := range []store.EventName{"checkout_started", "checkout_completed", "charge_refunded"} {
			for j := range []int{24, 15, 2}[i] {
				if _, _, err := tx.InsertEvent(ctx, store.Event{Source: "stripe", SourceEventID: fmt.Sprintf("showcase-%s-%d", name, j),
					Name: name, CompanyID: companies[j%len(companies)],
					OccurredAt: now.Add(-time.Duration(rng.IntN(6*24)) * time.Hour)}); err != nil {
					return err
				}
			}
		}
		errs := `[{"attempt":1,"at":"` + store.FormatTime(now.Add(-3*time.Hour)) + `","error":"zoho books: 503 service unavailable"},` +
			`{"attempt":2,"at":"` + store.FormatTime(now.Add(-time.Hour)) + `","error":"zoho books: 503 service unavailable"}]`
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox (job_type, payload, status, attempts, max_attempts, scheduled_for,
				last_attempted_at, last_error, errors, created_at, updated_at)
			VALUES (?1, '{"order_id":"ORD-900001"}', 'dead', 2, 2, ?2, ?2, 'zoho books: 503 service unavailable', ?3, ?2, ?2)`,
			adminTestJob, store.FormatTime(now.Add(-time.Hour)), errs)
		if err != nil {
			return err
		}
		sc.deadJob, _ = res.LastInsertId()
		return tx.RecordRejectedDelivery(ctx, "stripe", "no valid signature in Stripe-Signature header")
	})
	if err != nil {
		t.Fatal(err)
	}
	sc.replayOrder, sc.deliveryID = seedFailedDelivery(t, e)
	if err := e.db.Read().QueryRow(`SELECT s.company_id, count(DISTINCT c.contact_id) FROM v_next_best_actions s
		JOIN contacts c ON c.company_id = s.company_id AND c.marketing_status = 'subscribed'
		GROUP BY s.company_id ORDER BY s.company_id LIMIT 1`).Scan(&sc.offerCompany, &sc.offerContacts); err != nil {
		t.Fatalf("no suggested company with a subscribed contact in the demo data: %v", err)
	}
	return sc
}

// seedFailedDelivery creates a pending order and a failed delivery of its completed checkout,
// as if applying the event had failed the first time.
func seedFailedDelivery(t *testing.T, e *adminEnv) (orderID string, deliveryID int64) {
	t.Helper()
	ctx := context.Background()
	var company, product string
	if err := e.db.Read().QueryRow(`SELECT c.company_id, p.product_code FROM companies c
		JOIN product_prices p ON p.currency = c.currency ORDER BY c.company_id, p.product_code LIMIT 1`).
		Scan(&company, &product); err != nil {
		t.Fatal(err)
	}
	var o store.Order
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		o, err = tx.CreateOrder(ctx, store.NewOrder{CompanyID: company, Lines: []store.OrderLine{{Ref: "items[0]", ProductCode: product, Quantity: 2}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"id": "evt_admin_replay_1", "object": "event", "type": "checkout.session.completed",
		"created": e.db.Now().Unix(), "data": map[string]any{"object": map[string]any{
			"id": "cs_test_admin_replay", "object": "checkout.session", "client_reference_id": o.ID,
			"metadata": map[string]string{"order_id": o.ID}, "payment_status": "paid", "status": "complete",
			"currency": o.Currency, "amount_total": o.TotalAmount, "amount_subtotal": o.Subtotal,
			"total_details": map[string]any{"amount_tax": 0}, "payment_intent": "pi_test_admin_replay", "customer": "cus_test_admin"}}})
	ev, err := parseStripeEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		return tx.RecordStripeFailure(ctx, ev, "database is busy")
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE event_id = ?`, ev.ID).Scan(&deliveryID); err != nil {
		t.Fatal(err)
	}
	return o.ID, deliveryID
}

// screenshotPath is where the browser test leaves its pictures for a person to look at.
func screenshotPath(t *testing.T, name string) string {
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// clickAndLoad clicks sel and waits for the next page: the current body is marked first, and
// the wait ends when a body without the mark exists.
func clickAndLoad(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		voidOf(chromedp.Evaluate[bool](`document.body.setAttribute("data-stale", "1"), true`)),
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitReady(chromedp.CSS(`body:not([data-stale])`)),
	)
}

// voidOf drops an action's value, so it can run among steps.
func voidOf[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// inBrowser runs steps, failing the test on an error.
func inBrowser(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// fromBrowser runs one action and returns its value, failing the test on an error.
func fromBrowser[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAdminInBrowser(t *testing.T) {
	ran := make(chan int64, 4)
	e := newAdminEnv(t, adminEnvOptions{
		configure: func(c *Config) {
			c.TokenSecret = "rotate:k1=admin-browser-test-secret-0123456789"
			c.SMTPURL, c.MailFrom = "smtp://127.0.0.1:1", "shop@example.com"
		},
		before: func(s *Server) {
			s.Jobs().Register(adminTestJob, func(_ context.Context, j store.Job) (any, error) {
				ran <- j.ID
				return map[string]bool{"ok": true}, nil
			})
		},
	})
	sc := seedShowcase(t, e)
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	ctx := newBrowser(t, chromedp.WindowSize(1280, 1000))
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	t.Run("login", func(t *testing.T) {
		inBrowser(t, ctx,
			chromedp.Navigate(e.url+"/admin/outbox"),
			chromedp.WaitVisible(css(`input[name=password]`)),
			chromedp.SendKeys(css(`input[name=email]`), "ann@example.com"),
			chromedp.SendKeys(css(`input[name=password]`), testPassword),
			clickAndLoad(`form[action="/admin/login"] button`),
		)
		title := fromBrowser(t, ctx, chromedp.Text(css(`h1`)))
		loc := fromBrowser(t, ctx, chromedp.Location())
		if title != "Outbox" || !strings.HasSuffix(loc, "/admin/outbox") {
			t.Fatalf("after sign-in: %q at %s, want the outbox page asked for", title, loc)
		}
	})

	t.Run("dashboard screenshot", func(t *testing.T) {
		inBrowser(t, ctx, chromedp.Navigate(e.url+"/admin"), chromedp.WaitVisible(css(`svg.chart`)))
		health := fromBrowser(t, ctx, chromedp.Text(css(`table.health`)))
		for _, want := range []string{"1 dead job", "2 refused webhook requests in the last 24 hours"} { // Zoho CRM: wrong secret, malformed body
			if !strings.Contains(health, want) {
				t.Errorf("dashboard health lacks %q: %s", want, health)
			}
		}
		png := fromBrowser(t, ctx, chromedp.FullScreenshot(100))
		path := screenshotPath(t, "dashboard.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("dashboard screenshot: %s", path)
	})

	t.Run("filter the timeline", func(t *testing.T) {
		inBrowser(t, ctx,
			chromedp.Navigate(e.url+"/admin/timeline"),
			chromedp.WaitVisible(css(`#timeline-filters`)),
			chromedp.SetValue(css(`select[name=source]`), "zoho"),
			clickAndLoad(`#timeline-filters button[type=submit]`),
		)
		loc := fromBrowser(t, ctx, chromedp.Location())
		sources := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".timeline .badge")].map(b => b.textContent)`))
		if !strings.Contains(loc, "source=zoho") || len(sources) == 0 {
			t.Fatalf("filtered timeline at %s shows %d events", loc, len(sources))
		}
		for _, s := range sources {
			if s != "Zoho CRM" {
				t.Fatalf("a %q event in the Zoho-only timeline", s)
			}
		}
		_ = os.WriteFile(screenshotPath(t, "timeline.png"), fromBrowser(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	})

	t.Run("retry a dead job", func(t *testing.T) {
		inBrowser(t, ctx,
			chromedp.Navigate(e.url+"/admin/outbox?status=dead"),
			chromedp.WaitVisible(css(fmt.Sprintf(`#job-%d`, sc.deadJob))),
			clickAndLoad(fmt.Sprintf(`#job-%d form[action$="/retry"] button`, sc.deadJob)),
		)
		if notice := fromBrowser(t, ctx, chromedp.Text(css(`.notice`))); !strings.Contains(notice, "queued to run again") {
			t.Fatalf("notice after retry: %q", notice)
		}
		select {
		case id := <-ran:
			if id != sc.deadJob {
				t.Fatalf("ran job %d, want %d", id, sc.deadJob)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the retried job did not run")
		}
		if !strings.Contains(strings.Join(e.auditActions(), " "), "outbox.retry") {
			t.Fatal("retry not audited")
		}
	})

	t.Run("replay a webhook delivery", func(t *testing.T) {
		inBrowser(t, ctx,
			chromedp.Navigate(fmt.Sprintf("%s/admin/webhooks/%d", e.url, sc.deliveryID)),
			chromedp.WaitVisible(css(`form[action$="/replay"] button`)),
			clickAndLoad(`form[action$="/replay"] button`),
		)
		notice := fromBrowser(t, ctx, chromedp.Text(css(`.notice`)))
		o, err := e.db.GetOrder(context.Background(), sc.replayOrder)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != store.OrderPaid || !strings.Contains(notice, sc.replayOrder) {
			t.Fatalf("after replay: order %s is %s; notice %q", o.ID, o.Status, notice)
		}
	})

	t.Run("send an offer and copy a link", func(t *testing.T) {
		card := fmt.Sprintf(`article[data-company=%q]`, sc.offerCompany)
		var before int // the demo's own offer e-mails
		_ = e.db.Read().QueryRow(`SELECT count(*) FROM outbox WHERE job_type = ? AND company_id = ?`,
			store.JobSendOfferEmail, sc.offerCompany).Scan(&before)
		inBrowser(t, ctx,
			chromedp.Navigate(e.url+"/admin/suggestions?company="+sc.offerCompany),
			chromedp.WaitVisible(css(card)),
			clickAndLoad(card+` form[action="/admin/suggestions/send"] button`),
		)
		report := fromBrowser(t, ctx, chromedp.Text(css(`#h-report + p`)))
		if report != fmt.Sprintf("%d e-mail(s) queued.", sc.offerContacts) {
			t.Fatalf("send report %q, want %d queued", report, sc.offerContacts)
		}
		var jobs int
		_ = e.db.Read().QueryRow(`SELECT count(*) FROM outbox WHERE job_type = ? AND company_id = ?`,
			store.JobSendOfferEmail, sc.offerCompany).Scan(&jobs)
		if jobs-before != sc.offerContacts {
			t.Fatalf("%d send_offer_email jobs added, want %d", jobs-before, sc.offerContacts)
		}
		// "Copy offer link" uses the offer chosen next to it and copies without a page reload.
		inBrowser(t, ctx,
			chromedp.SetValue(css(card+` select[name="offer_key"]`), "winback"),
			voidOf(chromedp.Evaluate[bool](`window.__sameDocument = true`)),
			chromedp.Click(css(card+` button[data-copy-link]`)),
			chromedp.WaitVisible(css(card+` output.copied input.link`)),
		)
		if !fromBrowser(t, ctx, chromedp.Evaluate[bool](`window.__sameDocument === true`)) {
			t.Fatal("copying the offer link reloaded the page")
		}
		link := fromBrowser(t, ctx, chromedp.Value(css(card+` output.copied input.link`)))
		shown := fromBrowser(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("article.suggestion")].map(a => a.dataset.company)`))
		for _, c := range shown {
			if c != sc.offerCompany {
				t.Fatalf("after the actions the page lost its company filter: shows %v", shown)
			}
		}
		prefix := e.url + "/x/"
		if !strings.HasPrefix(link, prefix) {
			t.Fatalf("offer link %q", link)
		}
		keys, _ := offertoken.ParseKeyring(e.cfg.TokenSecret)
		claims, err := keys.Verify(strings.TrimPrefix(link, prefix), time.Now())
		if err != nil || claims.CompanyID != sc.offerCompany || claims.OfferKey != "winback" {
			t.Fatalf("minted link does not verify for %s with the chosen winback offer: %v %+v", sc.offerCompany, err, claims)
		}
		// Preview: the signed-in staff member opens the link; the page says so and logs no view.
		var viewsBefore, viewsAfter int
		_ = e.db.Read().QueryRow(`SELECT count(*) FROM engagement_events WHERE event_name = 'offer_view'`).Scan(&viewsBefore)
		preview := fromBrowser(t, ctx, chromedp.AttributeValue(css(`#offer-preview`), "href")).Value
		inBrowser(t, ctx, chromedp.Navigate(preview), chromedp.WaitVisible(css(`#preview-banner`)))
		_ = e.db.Read().QueryRow(`SELECT count(*) FROM engagement_events WHERE event_name = 'offer_view'`).Scan(&viewsAfter)
		if banner := fromBrowser(t, ctx, chromedp.Text(css(`#preview-banner`))); preview != link+"?preview=1" ||
			!strings.Contains(banner, "Preview — this visit is not recorded") || viewsAfter != viewsBefore {
			t.Fatalf("preview %q: banner %q, offer_view %d → %d", preview, banner, viewsBefore, viewsAfter)
		}
		actions := strings.Join(e.auditActions(), " ")
		if !strings.Contains(actions, "offer.send") || !strings.Contains(actions, "offer.link") {
			t.Fatalf("offer actions not audited: %s", actions)
		}
		_ = os.WriteFile(screenshotPath(t, "suggestions.png"), fromBrowser(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	})

	t.Run("company page", func(t *testing.T) {
		inBrowser(t, ctx,
			chromedp.Navigate(e.url+"/admin/companies?sort=activity"),
			chromedp.WaitVisible(css(`table`)),
			clickAndLoad(fmt.Sprintf(`a[href="/admin/companies/%s"]`, sc.offerCompany)),
			chromedp.WaitVisible(css(`#h-contacts`)),
		)
		consent := fromBrowser(t, ctx, chromedp.Text(css(`#h-contacts + table`)))
		if !strings.Contains(consent, "subscribed") {
			t.Fatalf("contacts without their consent: %s", consent)
		}
		_ = os.WriteFile(screenshotPath(t, "company.png"), fromBrowser(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	})

	t.Run("cross-origin form is refused", func(t *testing.T) {
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/admin/users">
				<input name="email" value="evil@example.com"><input name="role" value="admin"></form>
				<script>document.getElementById("f").submit()</script>`, e.url)
		}))
		defer evil.Close()
		evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site, not just another port
		inBrowser(t, ctx, chromedp.Navigate(evilURL), chromedp.WaitReady(css(`body:not(:has(form#f))`)))
		body := fromBrowser(t, ctx, chromedp.Text(css(`body`)))
		if _, err := e.db.UserByEmail(context.Background(), "evil@example.com"); store.ErrorCode(err) != store.ENOTFOUND {
			t.Fatalf("the cross-origin form created a user (%v); page: %s", err, body)
		}
		if !strings.Contains(body, "cross-origin request refused") {
			t.Fatalf("page after the cross-site post: %.300s", body)
		}
	})

	t.Run("signed out means no access", func(t *testing.T) {
		inBrowser(t, ctx,
			chromedp.Navigate(e.url+"/admin"),
			chromedp.WaitVisible(css(`form[action="/admin/logout"] button`)),
			clickAndLoad(`form[action="/admin/logout"] button`),
			chromedp.Navigate(e.url+"/admin/orders"),
			chromedp.WaitVisible(css(`input[name=password]`)),
		)
		if loc := fromBrowser(t, ctx, chromedp.Location()); !strings.Contains(loc, "/admin/login?next=%2Fadmin%2Forders") {
			t.Fatalf("after sign-out /admin/orders went to %s", loc)
		}
	})
}
