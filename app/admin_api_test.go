package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

const testAPIToken = "api-token-123"

// apiCall sends an admin API request with the bearer token and decodes the JSON answer.
func (e *adminEnv) apiCall(method, path, body string, v any) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	raw := readBody(resp)
	if v != nil {
		if err := json.Unmarshal([]byte(raw), v); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

func newAPIEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.AdminAPIToken = testAPIToken }})
	e.loadDemo()
	return e
}

func TestAPIEngagementFeedShapeLimitsAndCursor(t *testing.T) {
	e := newAPIEnv(t)
	var resp struct {
		Events     []map[string]any `json:"events"`
		NextCursor string           `json:"next_cursor"`
		Error      string           `json:"error"`
	}
	if code := e.apiCall("GET", "/api/admin/engagement-feed", "", &resp); code != 200 || len(resp.Events) != 50 || resp.NextCursor == "" {
		t.Fatalf("default: %d, %d events, cursor %q", code, len(resp.Events), resp.NextCursor)
	}
	for _, k := range []string{"event_id", "event_name", "company_name", "event_description", "event_category", "occurred_at", "source"} {
		if _, ok := resp.Events[0][k]; !ok {
			t.Errorf("event lacks %q: %v", k, resp.Events[0])
		}
	}
	first := resp.Events[0]["event_id"]
	resp.Events = nil
	e.exec(`INSERT INTO engagement_events (source, source_event_id, event_name, occurred_at)
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
		SELECT 'system', 'filler-' || i, 'page_view', '2020-01-01T00:00:00.000Z' FROM n`)
	if code := e.apiCall("GET", "/api/admin/engagement-feed?limit=5000", "", &resp); code != 200 || len(resp.Events) != 200 {
		t.Fatalf("limit clamps to 200: %d, %d events", code, len(resp.Events))
	}
	for _, bad := range []string{"limit=abc", "limit=1.5", "from=yesterday", "cursor=nonsense", "source=fax"} {
		resp.Error = ""
		if code := e.apiCall("GET", "/api/admin/engagement-feed?"+bad, "", &resp); code != 400 || resp.Error == "" {
			t.Errorf("%s: %d %q", bad, code, resp.Error)
		}
	}
	var page1, page2 struct {
		Events     []store.FeedEvent `json:"events"`
		NextCursor string            `json:"next_cursor"`
	}
	e.apiCall("GET", "/api/admin/engagement-feed?limit=3", "", &page1)
	e.apiCall("GET", "/api/admin/engagement-feed?limit=3&cursor="+page1.NextCursor, "", &page2)
	if len(page2.Events) != 3 || page2.Events[0].EventID == page1.Events[2].EventID ||
		page2.Events[0].OccurredAt.After(page1.Events[2].OccurredAt) || float64(page1.Events[0].EventID) != first {
		t.Fatalf("cursor paging: %v then %v", page1.Events, page2.Events)
	}
	company := page1.Events[0].CompanyID
	var byCompany struct {
		Events []store.FeedEvent `json:"events"`
	}
	e.apiCall("GET", "/api/admin/engagement-feed?company_id="+company, "", &byCompany)
	for _, ev := range byCompany.Events {
		if ev.CompanyID != company {
			t.Fatalf("company filter returned %s", ev.CompanyID)
		}
	}
}

func TestAPISuggestionsShapeAndLimits(t *testing.T) {
	e := newAPIEnv(t)
	var resp struct {
		Suggestions []map[string]any `json:"suggestions"`
		Error       string           `json:"error"`
	}
	if code := e.apiCall("GET", "/api/admin/suggestions", "", &resp); code != 200 || len(resp.Suggestions) == 0 || len(resp.Suggestions) > 20 {
		t.Fatalf("default: %d, %d suggestions", code, len(resp.Suggestions))
	}
	s := resp.Suggestions[0]
	for _, k := range []string{"company_id", "company_name", "action_type", "action_label", "reason", "priority_score", "action_meta"} {
		if _, ok := s[k]; !ok {
			t.Errorf("suggestion lacks %q: %v", k, s)
		}
	}
	if _, ok := s["action_meta"].(map[string]any); !ok {
		t.Errorf("action_meta is not an object: %T", s["action_meta"])
	}
	company := s["company_id"].(string)
	resp.Suggestions = nil
	e.apiCall("GET", "/api/admin/suggestions?limit=1000&company_id="+company, "", &resp)
	for _, x := range resp.Suggestions {
		if x["company_id"] != company {
			t.Fatalf("company filter: %v", x)
		}
	}
	if code := e.apiCall("GET", "/api/admin/suggestions?limit=ten", "", &resp); code != 400 {
		t.Fatalf("non-numeric limit: %d", code)
	}
	var all struct {
		Suggestions []store.Suggestion `json:"suggestions"`
	}
	e.apiCall("GET", "/api/admin/suggestions?limit=500", "", &all)
	if len(all.Suggestions) > 100 {
		t.Fatalf("limit clamps to 100: %d", len(all.Suggestions))
	}
}

func TestAPIOutboxRetry(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.AdminAPIToken = testAPIToken }})
	now := store.FormatTime(e.db.Now())
	e.exec(`INSERT INTO outbox (id, job_type, status, attempts, max_attempts, scheduled_for, errors, last_error, created_at, updated_at)
		VALUES (7, 'unregistered_job', 'dead', 5, 5, ?1, '[{"attempt":5,"at":"2026-01-01T00:00:00Z","error":"boom"}]', 'boom', ?1, ?1),
		       (8, 'unregistered_job', 'completed', 1, 5, ?1, '[]', NULL, ?1, ?1)`, now)
	var out struct {
		Success bool      `json:"success"`
		Job     store.Job `json:"job"`
		Error   string    `json:"error"`
	}
	if code := e.apiCall("POST", "/api/admin/outbox/retry", `{"job_id": 7}`, &out); code != 200 || !out.Success || out.Job.ID != 7 {
		t.Fatalf("retry: %d %+v", code, out)
	}
	if len(out.Job.Errors) == 0 {
		t.Fatal("the error history was dropped on retry")
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"job_id": "8"}`, http.StatusConflict}, // a string id is accepted; a completed job is not retried
		{`{"job_id": 999}`, http.StatusNotFound},
		{`{"job_id": "x"}`, http.StatusBadRequest},
		{`{}`, http.StatusBadRequest},
		{`not json`, http.StatusBadRequest},
	} {
		out.Error = ""
		if code := e.apiCall("POST", "/api/admin/outbox/retry", tc.body, &out); code != tc.want || out.Error == "" {
			t.Errorf("%s: %d %q, want %d", tc.body, code, out.Error, tc.want)
		}
	}
	entries, _ := e.db.ListAudit(context.Background(), store.AuditFilter{Action: "outbox.retry"})
	if len(entries) != 1 || entries[0].Actor != "api-token" || entries[0].Target != "job:7" {
		t.Fatalf("audit: %+v", entries)
	}
}

func TestAPIOfferSendIsProtectedAndAudited(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) {
		c.AdminAPIToken, c.TokenSecret, c.SMTPURL, c.MailFrom = testAPIToken, "secret", "smtp://127.0.0.1:1", "shop@example.com"
	}})
	e.loadDemo()
	var company string
	_ = e.db.Read().QueryRow(`SELECT company_id FROM contacts WHERE marketing_status = 'subscribed' LIMIT 1`).Scan(&company)
	var rep OfferSendReport
	if code := e.apiCall("POST", "/api/admin/offers/send", `{"company_ids":["`+company+`"],"offer_key":"reorder"}`, &rep); code != 200 || rep.Queued == 0 {
		t.Fatalf("send: %d %+v", code, rep)
	}
	entries, _ := e.db.ListAudit(context.Background(), store.AuditFilter{Action: "api.post"})
	if len(entries) != 1 || entries[0].Target != "/api/admin/offers/send" || entries[0].Actor != "api-token" {
		t.Fatalf("audit: %+v", entries)
	}
}

func TestAPICompaniesAndContacts(t *testing.T) {
	e := newAPIEnv(t)
	var list struct {
		Companies []store.CompanySummary `json:"companies"`
		Total     int                    `json:"total"`
	}
	if code := e.apiCall("GET", "/api/admin/companies?q=press&limit=3", "", &list); code != 200 || len(list.Companies) == 0 || len(list.Companies) > 3 {
		t.Fatalf("companies: %d %+v", code, list)
	}
	for _, c := range list.Companies {
		if !strings.Contains(strings.ToLower(c.Name+c.ID), "press") {
			t.Fatalf("search returned %s", c.Name)
		}
	}
	var contacts struct {
		Contacts []store.Contact `json:"contacts"`
	}
	if code := e.apiCall("GET", "/api/admin/companies/"+list.Companies[0].ID+"/contacts", "", &contacts); code != 200 || len(contacts.Contacts) == 0 {
		t.Fatalf("contacts: %d %+v", code, contacts)
	}
	var errResp struct{ Error string }
	if code := e.apiCall("GET", "/api/admin/companies/NOPE/contacts", "", &errResp); code != 404 || errResp.Error == "" {
		t.Fatalf("unknown company: %d %+v", code, errResp)
	}
}

func TestAPIAcceptsASignedInSession(t *testing.T) {
	e := newAPIEnv(t)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	c := e.login("sam@example.com", testPassword)
	if status, body := e.get(c, "/api/admin/suggestions?limit=2"); status != 200 || !strings.Contains(body, `"suggestions":[{`) {
		t.Fatalf("session API call: %d %s", status, body)
	}
}
