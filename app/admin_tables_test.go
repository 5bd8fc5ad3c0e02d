package app

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// seedLists writes n rows into each sortable admin list (companies with purchases, orders,
// outbox jobs, webhook deliveries, audit entries), with values that sort differently from
// their ids.
func seedLists(t *testing.T, e *adminEnv, n int) {
	t.Helper()
	now := time.Now().UTC()
	ts := store.FormatTime(now)
	for i := range n {
		id := fmt.Sprintf("CO%03d", i)
		e.exec(`INSERT INTO companies (company_id, company_name, country, currency, created_at, updated_at)
			VALUES (?, ?, 'GB', 'gbp', ?, ?)`, id, fmt.Sprintf("Name %03d", (i*37)%n), ts, ts)
		e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
			VALUES (?, 'P', 1, ?, 'gbp', ?, ?)`, id, 100*((i*53)%n+1), now.AddDate(0, 0, -(i%40)).Format(time.DateOnly),
			"INV-"+id)
		at := store.FormatTime(now.Add(-time.Duration(i) * time.Minute))
		e.exec(`INSERT INTO orders (order_id, company_id, status, payment_status, currency, subtotal, total_amount,
			paid_at, created_at, updated_at) VALUES (?, ?, 'paid', 'paid', 'gbp', ?, ?, ?, ?, ?)`,
			fmt.Sprintf("ORD-%06d", i), id, (i*53)%n*100, (i*53)%n*100, at, at, at)
		e.exec(`INSERT INTO outbox (job_type, payload, status, attempts, scheduled_for, created_at, updated_at)
			VALUES (?, '{}', 'cancelled', ?, ?, ?, ?)`, fmt.Sprintf("kind_%d", i%3), (i*7)%5, at, at, at)
		e.exec(`INSERT INTO webhook_deliveries (provider, event_id, event_type, received_at, status, attempts)
			VALUES (?, ?, ?, ?, 'processed', ?)`, []string{"stripe", "zoho"}[i%2], fmt.Sprintf("evt_%d", i),
			fmt.Sprintf("type.%02d", (i*37)%n), at, 1+(i*7)%5)
		e.exec(`INSERT INTO audit_log (actor, action, target, created_at) VALUES (?, ?, ?, ?)`,
			fmt.Sprintf("user%02d@example.com", (i*37)%n), "test.action", fmt.Sprintf("T%03d", i), at)
	}
}

// Each list sorts by a clicked column (server-side, with aria-sort), pages with links that keep
// the sort and the filters, pages without gaps or repeats, and treats an unknown or hostile
// sort key as the default sort.
func TestAdminListsSortAndPage(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	const n = 120 // more than two pages of 50
	seedLists(t, e, n)
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	for _, tc := range []struct {
		path, filter, key, label string
		rowRe                    string // the text of a row's sort value or identity, in page order
		size                     int
		distinct                 int    // rows over all pages
		first                    string // the first row in the column's first direction ("" unchecked)
	}{
		{"/admin/companies", "q=CO", "revenue_12m", "12-month revenue", `<a href="/admin/companies/(CO\d+)">`, 50, n,
			fmt.Sprintf("CO%03d", seedIndex(n, func(i int) bool { return (i*53)%n == n-1 }))},
		{"/admin/orders", "status=paid", "total", "Total", `<td>(ORD-\d+)`, 50, n,
			fmt.Sprintf("ORD-%06d", seedIndex(n, func(i int) bool { return (i*53)%n == n-1 }))},
		// Cancelled jobs: the running worker leaves them alone while the test pages.
		{"/admin/outbox", "status=cancelled", "attempts", "Attempts", `href="/admin/jobs/(\d+)"`, 50, n, ""},
		{"/admin/webhooks", "provider=zoho", "type", "Event", `href="/admin/webhooks/(\d+)"`, 50, n / 2, ""},
		{"/admin/audit", "action=test.action", "actor", "Who", `<td>(T\d+)</td>`, 100, n, "T000"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/admin/"), func(t *testing.T) {
			// The header link of the column sorts by it, keeping the filter.
			_, first := e.get(c, tc.path+"?"+tc.filter)
			link := regexp.MustCompile(`<a class="sort" href="([^"]*)">` + regexp.QuoteMeta(tc.label) + `<`).FindStringSubmatch(first)
			if link == nil {
				t.Fatalf("no sort link for %q", tc.label)
			}
			sortURL := html.UnescapeString(link[1])
			if !strings.Contains(sortURL, "sort="+tc.key) || !strings.Contains(sortURL, tc.filter) {
				t.Fatalf("sort link %q lacks the key or the filter %q", sortURL, tc.filter)
			}
			var seen []string
			next := sortURL
			pages := 0
			for next != "" && pages < 10 {
				pages++
				status, body := e.get(c, next)
				if status != 200 {
					t.Fatalf("GET %s: %d", next, status)
				}
				if !regexp.MustCompile(`<th scope="col"[^>]* aria-sort="(ascending|descending)"><a class="sort" href="[^"]*">` +
					regexp.QuoteMeta(tc.label)).MatchString(body) {
					t.Fatalf("GET %s: column %q not marked aria-sort", next, tc.label)
				}
				rows := regexp.MustCompile(tc.rowRe).FindAllStringSubmatch(body, -1)
				if len(rows) > tc.size {
					t.Fatalf("GET %s: %d rows, page size %d", next, len(rows), tc.size)
				}
				for _, r := range rows {
					seen = append(seen, r[1])
				}
				next = ""
				if m := regexp.MustCompile(`<a href="([^"]*)" rel="next">`).FindStringSubmatch(body); m != nil {
					next = html.UnescapeString(m[1])
					if !strings.Contains(next, tc.filter) || !strings.Contains(next, "sort="+tc.key) {
						t.Fatalf("next link %q drops the filter or the sort", next)
					}
				}
			}
			if tc.first != "" && (len(seen) == 0 || seen[0] != tc.first) {
				t.Fatalf("sorted by %s the first row is %v, want %s", tc.key, seen[:min(3, len(seen))], tc.first)
			}
			uniq := slices.Clone(seen)
			slices.Sort(uniq)
			if len(slices.Compact(uniq)) != tc.distinct || len(seen) != tc.distinct {
				t.Fatalf("%d rows over %d pages (%d distinct), want %d each", len(seen), pages, len(uniq), tc.distinct)
			}
			// Flipping the direction reverses the order (ties broken the same way, reversed).
			_, body := e.get(c, sortURL)
			flip := regexp.MustCompile(`<a class="sort" href="([^"]*)">` + regexp.QuoteMeta(tc.label) + ` <span`).FindStringSubmatch(body)
			if flip == nil {
				t.Fatalf("no flip link on the sorted column")
			}
			flipURL := html.UnescapeString(flip[1])
			_, flipped := e.get(c, flipURL+"&page=1000")
			if regexp.MustCompile(tc.rowRe).MatchString(flipped) {
				t.Errorf("page 1000 of %s is not empty", flipURL)
			}
			_, flipped = e.get(c, flipURL)
			firstFlipped := regexp.MustCompile(tc.rowRe).FindStringSubmatch(flipped)
			if firstFlipped == nil || firstFlipped[1] != seen[len(seen)-1] {
				t.Errorf("flipped order starts with %v, want the last row %s", firstFlipped, seen[len(seen)-1])
			}
			// Unknown and hostile keys fall back to the default sort; the data is untouched.
			for _, bad := range []string{"nope", "id;DROP TABLE companies", "1)--", "company_name"} {
				status, body := e.get(c, tc.path+"?"+tc.filter+"&sort="+strings.ReplaceAll(bad, " ", "%20"))
				if status != 200 || !strings.Contains(body, `aria-sort=`) || strings.Contains(body, "sort="+bad) {
					t.Errorf("sort=%q: status %d", bad, status)
				}
			}
		})
	}
	var companies int
	_ = e.db.Read().QueryRow(`SELECT count(*) FROM companies`).Scan(&companies)
	if companies != n {
		t.Fatalf("%d companies after hostile sorts, want %d", companies, n)
	}
}

// seedIndex is the first i < n for which ok holds.
func seedIndex(n int, ok func(int) bool) int {
	for i := range n {
		if ok(i) {
			return i
		}
	}
	return -1
}

func TestStoreRefusesUnknownSortKeys(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	ctx := t.Context()
	bad := store.ListSort{Key: "id; DROP TABLE outbox"}
	if _, err := e.db.ListJobs(ctx, store.JobFilter{Sort: bad}); store.ErrorCode(err) != store.EINVALID {
		t.Errorf("ListJobs: %v", err)
	}
	if _, err := e.db.ListAdminOrders(ctx, store.AdminOrderFilter{Sort: bad}); store.ErrorCode(err) != store.EINVALID {
		t.Errorf("ListAdminOrders: %v", err)
	}
	if _, err := e.db.ListAdminDeliveries(ctx, store.AdminDeliveryFilter{Sort: bad}); store.ErrorCode(err) != store.EINVALID {
		t.Errorf("ListAdminDeliveries: %v", err)
	}
	if _, err := e.db.ListAudit(ctx, store.AuditFilter{Sort: bad}); store.ErrorCode(err) != store.EINVALID {
		t.Errorf("ListAudit: %v", err)
	}
	if _, _, err := e.db.SearchCompanies(ctx, store.CompanyFilter{Sort: bad.Key}); store.ErrorCode(err) != store.EINVALID {
		t.Errorf("SearchCompanies: %v", err)
	}
}

// The companies JSON API sorts by the same keys (and the earlier "activity"), and refuses an
// unknown key with 400 rather than ignoring it.
func TestAPICompaniesSort(t *testing.T) {
	e := newAPIEnv(t)
	type list struct {
		Companies []store.CompanySummary `json:"companies"`
	}
	var byRevenue list
	if code := e.apiCall("GET", "/api/admin/companies?sort=revenue_12m&dir=desc&limit=100", "", &byRevenue); code != 200 || len(byRevenue.Companies) < 2 {
		t.Fatalf("sort=revenue_12m: %d %d companies", code, len(byRevenue.Companies))
	}
	sum := func(m map[string]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	for i := 1; i < len(byRevenue.Companies); i++ {
		if sum(byRevenue.Companies[i].Revenue12m) > sum(byRevenue.Companies[i-1].Revenue12m) {
			t.Fatalf("not by 12-month revenue, descending, at %d", i)
		}
	}
	var byActivity list
	if code := e.apiCall("GET", "/api/admin/companies?sort=activity&limit=100", "", &byActivity); code != 200 {
		t.Fatalf("sort=activity: %d", code)
	}
	for i := 1; i < len(byActivity.Companies); i++ {
		if a, b := byActivity.Companies[i-1].LastActivity, byActivity.Companies[i].LastActivity; !b.IsZero() && b.After(a) {
			t.Fatalf("sort=activity not newest first at %d", i)
		}
	}
	var errBody map[string]string
	if code := e.apiCall("GET", "/api/admin/companies?sort=company_name%3BDROP", "", &errBody); code != 400 || !strings.Contains(errBody["error"], "unknown sort key") {
		t.Fatalf("unknown sort key: %d %v", code, errBody)
	}
}
