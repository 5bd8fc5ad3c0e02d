package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// seedFilterCompanies adds three companies and one e-mail-opened event for each.
func seedFilterCompanies(t *testing.T, e *adminEnv) {
	t.Helper()
	for _, c := range [][2]string{{"ACME1", "Acme Print Ltd"}, {"ACME2", "Acme Finishing"}, {"BETA", "Beta Bindery"}} {
		e.exec(`INSERT INTO companies (company_id, company_name) VALUES (?, ?)`, c[0], c[1])
	}
	ctx := context.Background()
	now := e.db.Now()
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		for i, c := range []string{"ACME1", "ACME2", "BETA"} {
			for _, name := range []store.EventName{store.EventEmailOpened, store.EventEmailClicked} {
				if _, _, err := tx.InsertEvent(ctx, store.Event{Source: "zoho", SourceEventID: c + string(name), Name: name,
					CompanyID: c, OccurredAt: now.Add(-time.Duration(i+1) * 24 * time.Hour)}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTimelineFiltersTakeWhatStaffSee: a company by its full or partial name (an ambiguous
// name lists the matches as links), an event type from a list of labels, a date range; every
// combination is a GET address that can be shared; the type-ahead's source answers a session.
func TestTimelineFiltersTakeWhatStaffSee(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	seedFilterCompanies(t, e)
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)

	// The event filter lists labels, not keys.
	_, body := e.get(c, "/admin/timeline")
	if !strings.Contains(body, `<option value="email_opened" >Opened an e-mail</option>`) || !strings.Contains(body, `list="company-names"`) {
		t.Errorf("filter form lacks the labelled event list or the company type-ahead:\n%s", body)
	}

	count := func(body string) int { return strings.Count(body, "<li>\n    <span class=\"icon") }
	for _, tc := range []struct {
		query  url.Values
		status int
		n      int
		want   string
	}{
		{url.Values{"company": {"Beta Bindery"}}, 200, 2, ""},
		{url.Values{"company": {"beta bind"}}, 200, 2, ""}, // a unique part of a name
		{url.Values{"company": {"ACME1"}}, 200, 2, ""},     // an id still works
		{url.Values{"company": {"acme finishing"}, "event": {"email_opened"}}, 200, 1, `selected>Opened an e-mail`},
		{url.Values{"company": {"Acme"}}, 400, 0, "2 companies match"},
		{url.Values{"company": {"Nobody"}}, 404, 0, "no company matches"},
		{url.Values{"event": {"email_clicked"}, "from": {e.db.Now().AddDate(0, 0, -2).Format("2006-01-02")}}, 200, 2, ""},
	} {
		status, body := e.get(c, "/admin/timeline?"+tc.query.Encode())
		if status != tc.status || (tc.status == 200 && count(body) != tc.n) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: status %d, %d events; want %d, %d events, %q", tc.query.Encode(), status, count(body), tc.status, tc.n, tc.want)
		}
	}
	// An ambiguous name links to each match, keeping the other filters.
	_, body = e.get(c, "/admin/timeline?company=Acme&event=email_opened")
	if !strings.Contains(body, `href="/admin/timeline?company=ACME2&amp;event=email_opened"`) {
		t.Errorf("ambiguous name does not link to the choices:\n%s", body)
	}

	// The type-ahead's source: the companies API, with the staff session.
	resp, err := c.Get(e.url + "/api/admin/companies?limit=10&q=acm")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Companies []store.CompanySummary `json:"companies"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&got) != nil || len(got.Companies) != 2 {
		t.Errorf("type-ahead source: %d %+v", resp.StatusCode, got)
	}
	resp.Body.Close()
}

// TestSuggestionsFilterByCompanyName: the suggestions page takes the company's name and
// lists the action types by label.
func TestSuggestionsFilterByCompanyName(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	seedShowcase(t, e)
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	all, err := e.db.AllSuggestions(t.Context())
	if err != nil || len(all) == 0 {
		t.Fatalf("no suggestions: %v", err)
	}
	target := all[0]
	status, body := e.get(c, "/admin/suggestions?company="+url.QueryEscape(strings.ToUpper(target.CompanyName)))
	if status != http.StatusOK || !strings.Contains(body, `data-company="`+target.CompanyID+`"`) {
		t.Fatalf("by name: %d\n%s", status, body)
	}
	for _, a := range strings.Split(body, `<article class="card suggestion" data-company="`)[1:] {
		if !strings.HasPrefix(a, target.CompanyID+`"`) {
			t.Errorf("another company shown: %.40s", a)
		}
	}
	if !strings.Contains(body, ">"+target.ActionLabel+"</option>") {
		t.Errorf("action filter lacks the label %q", target.ActionLabel)
	}
	status, body = e.get(c, "/admin/suggestions?company=no+such+company+anywhere")
	if status != http.StatusNotFound || !strings.Contains(body, "no company matches") || !strings.Contains(body, "<h1>Suggestions</h1>") {
		t.Errorf("unknown name: %d\n%s", status, body)
	}
}

// TestOrdersFilterByCompanyName: the orders list takes the company's name too.
func TestOrdersFilterByCompanyName(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	seedFilterCompanies(t, e)
	now := store.FormatTime(e.db.Now())
	for _, o := range [][2]string{{"ORD-A", "ACME1"}, {"ORD-B", "BETA"}} {
		e.exec(`INSERT INTO orders (order_id, company_id, status, payment_status, currency, subtotal, total_amount, created_at, updated_at)
			VALUES (?, ?, 'pending', 'unpaid', 'gbp', 100, 100, ?, ?)`, o[0], o[1], now, now)
	}
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	status, body := e.get(c, "/admin/orders?company=beta+bindery")
	if status != http.StatusOK || !strings.Contains(body, "ORD-B") || strings.Contains(body, "ORD-A") {
		t.Errorf("orders by name: %d\n%s", status, body)
	}
	if status, body = e.get(c, "/admin/orders?company=Acme"); status != http.StatusBadRequest || !strings.Contains(body, "2 companies match") {
		t.Errorf("ambiguous: %d", status)
	}
}

// TestAuditFilterByLabel: the audit log's action filter lists labels (and "Any … action"
// groups), and a chosen group filters by its prefix.
func TestAuditFilterByLabel(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("ann@example.com", store.RoleAdmin, testPassword)
	c := e.login("ann@example.com", testPassword)
	resp := e.postForm(c, "/admin/replication/sync", nil)
	resp.Body.Close()
	status, body := e.get(c, "/admin/audit?action=replication.")
	if status != http.StatusOK || !strings.Contains(body, `<option value="replication." selected>Any replication action</option>`) ||
		!strings.Contains(body, "<td>Replica synced now</td>") || strings.Contains(body, "<td>Signed in</td>") {
		t.Errorf("audit filter by group: %d\n%s", status, body)
	}
	if !strings.Contains(body, `<option value="login" >Signed in</option>`) {
		t.Error("the filter does not list actions by label")
	}
}
