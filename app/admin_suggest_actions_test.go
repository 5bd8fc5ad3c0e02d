package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// TestSuggestionDismissSnoozeRestore: staff dismiss or snooze a suggestion; it is recorded,
// audited and hidden (a snooze until it ends), listed among the hidden ones, and restorable.
func TestSuggestionDismissSnoozeRestore(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	e := newAdminEnv(t, adminEnvOptions{clock: clock})
	sc := seedShowcase(t, e)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	c := e.login("sam@example.com", testPassword)

	all, err := e.db.AllSuggestions(t.Context())
	if err != nil || len(all) < 2 {
		t.Fatalf("need two suggestions: %v %d", err, len(all))
	}
	first, second := all[0], all[1]
	for _, s := range all[1:] {
		if s.CompanyID != first.CompanyID {
			second = s
			break
		}
	}
	card := func(s store.Suggestion) string { return `data-company="` + s.CompanyID + `"` }
	page := func(q string) string {
		status, body := e.get(c, "/admin/suggestions?"+q)
		if status != http.StatusOK {
			t.Fatalf("suggestions?%s: %d\n%s", q, status, body)
		}
		return body
	}
	form := func(s store.Suggestion, extra ...string) url.Values {
		v := url.Values{"company_id": {s.CompanyID}, "action_type": {s.ActionType}, "back": {"action=" + s.ActionType}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	post := func(path string, v url.Values, wantStatus int) string {
		resp := e.postForm(c, path, v)
		body := readBody(resp)
		if resp.StatusCode != wantStatus {
			t.Fatalf("POST %s %v: %d, want %d\n%s", path, v, resp.StatusCode, wantStatus, body)
		}
		return resp.Header.Get("Location")
	}
	if !strings.Contains(page("company="+first.CompanyID), card(first)) {
		t.Fatal("the suggestion is not shown before any decision")
	}

	// Dismiss: hidden, back to the page it came from, recorded with who and audited.
	if loc := post("/admin/suggestions/dismiss", form(first), http.StatusSeeOther); loc != "/admin/suggestions?action="+first.ActionType {
		t.Errorf("dismiss redirects to %q", loc)
	}
	if body := page("company=" + first.CompanyID + "&action=" + first.ActionType); strings.Contains(body, card(first)) {
		t.Error("a dismissed suggestion is still shown")
	}
	hidden := page("hidden=1&company=" + first.CompanyID)
	if !strings.Contains(hidden, card(first)) || !strings.Contains(hidden, "Dismissed by sam@example.com") {
		t.Errorf("the hidden list does not show the dismissal:\n%s", hidden)
	}
	var actor, decision string
	_ = e.db.Read().QueryRow(`SELECT actor, decision FROM suggestion_decisions WHERE company_id = ? AND action_type = ?`,
		first.CompanyID, first.ActionType).Scan(&actor, &decision)
	if actor != "sam@example.com" || decision != "dismissed" {
		t.Errorf("decision row: %q %q", actor, decision)
	}

	// Snooze for 3 days: hidden until then, shown again after.
	post("/admin/suggestions/snooze", form(second, "days", "3"), http.StatusSeeOther)
	if strings.Contains(page("company="+second.CompanyID+"&action="+second.ActionType), card(second)) {
		t.Error("a snoozed suggestion is still shown")
	}
	clock.Advance(2 * 24 * time.Hour)
	c = e.login("sam@example.com", testPassword) // the session has expired meanwhile
	if strings.Contains(page("company="+second.CompanyID+"&action="+second.ActionType), card(second)) {
		t.Error("the snooze ended early")
	}
	clock.Advance(25 * time.Hour)
	c = e.login("sam@example.com", testPassword)
	if !strings.Contains(page("company="+second.CompanyID+"&action="+second.ActionType), card(second)) {
		t.Error("the snoozed suggestion did not come back when the snooze ended")
	}

	// Bad input: nothing written.
	post("/admin/suggestions/snooze", form(second, "days", "0"), http.StatusBadRequest)
	post("/admin/suggestions/snooze", form(second, "days", "lots"), http.StatusBadRequest)
	post("/admin/suggestions/dismiss", form(store.Suggestion{CompanyID: first.CompanyID, ActionType: "nonsense"}), http.StatusBadRequest)
	post("/admin/suggestions/dismiss", form(store.Suggestion{CompanyID: "NOPE", ActionType: first.ActionType}), http.StatusNotFound)

	// Restore brings the dismissed one back; restoring again is a 404.
	post("/admin/suggestions/restore", form(first), http.StatusSeeOther)
	if !strings.Contains(page("company="+first.CompanyID+"&action="+first.ActionType), card(first)) {
		t.Error("a restored suggestion is not shown")
	}
	post("/admin/suggestions/restore", form(first), http.StatusNotFound)

	got := strings.Join(e.auditActions(), " ")
	for _, want := range []string{"suggestion.dismiss", "suggestion.snooze", "suggestion.restore"} {
		if strings.Count(got, want) != 1 {
			t.Errorf("audit %q appears %d times in %s", want, strings.Count(got, want), got)
		}
	}
	entries, _ := e.db.ListAudit(t.Context(), store.AuditFilter{Action: "suggestion.snooze", Limit: 5})
	if len(entries) != 1 || entries[0].Actor != "sam@example.com" || entries[0].Target != second.CompanyID ||
		!strings.Contains(string(entries[0].Detail), `"days":3`) {
		t.Errorf("snooze audit entry: %+v", entries)
	}
	_ = sc
}

// TestSuggestionExplainedAndActedOn: the score is explained in words, and after staff act on
// a suggestion (copy a link), the card says what was done, by whom and when; the link the
// script asks for (Accept: JSON) uses the chosen offer.
func TestSuggestionExplainedAndActedOn(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.TokenSecret = offerTestSecret }})
	sc := seedShowcase(t, e)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	c := e.login("sam@example.com", testPassword)
	_, body := e.get(c, "/admin/suggestions?company="+sc.offerCompany)
	if !strings.Contains(body, `<p class="explain">`) || !strings.Contains(body, "score") {
		t.Fatalf("no explanation:\n%s", body)
	}
	if strings.Contains(body, "Last done:") {
		t.Error("acted-on line before any action")
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/admin/suggestions/link", strings.NewReader(url.Values{
		"company_id": {sc.offerCompany}, "offer_key": {"winback"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || raw["offer_key"] != "winback" || !strings.HasPrefix(raw["url"].(string), e.url+"/x/") {
		t.Fatalf("JSON link: %d %v", resp.StatusCode, raw)
	}
	// Without JavaScript the same button posts the form and the page shows the link.
	resp = e.postForm(c, "/admin/suggestions/link", url.Values{"company_id": {sc.offerCompany}, "offer_key": {"portal"}})
	if body := readBody(resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="offer-link"`) ||
		!strings.Contains(body, "(portal)") {
		t.Errorf("no-JavaScript fallback: %d\n%s", resp.StatusCode, body)
	}
	_, body = e.get(c, "/admin/suggestions?company="+sc.offerCompany)
	if !strings.Contains(body, "Last done: Offer link created (portal offer) by sam@example.com just now") {
		t.Errorf("acted-on line missing:\n%s", body)
	}
}

// TestSuggestionTextsSayPurchasesWithCurrency: on the suggestions page and the company page,
// a suggestion is explained in the pages' vocabulary (purchases, not "orders", which are web
// checkouts) and any lifetime value carries its currency; the view's raw reason (a bare
// "Lifetime value 9428.50") is not shown.
func TestSuggestionTextsSayPurchasesWithCurrency(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	c := e.login("sam@example.com", testPassword)
	all, err := e.db.AllSuggestions(t.Context())
	if err != nil || len(all) == 0 {
		t.Fatalf("suggestions: %v %d", err, len(all))
	}
	bare := regexp.MustCompile(`(?i)\d+ orders|last order|no order|lifetime value \d`)
	money := regexp.MustCompile(`lifetime value [£€$]\d`)
	seen := map[string]bool{}
	for _, sg := range all {
		if seen[sg.ActionType] {
			continue
		}
		seen[sg.ActionType] = true
		for _, path := range []string{"/admin/suggestions?action=" + sg.ActionType + "&company=" + sg.CompanyID, "/admin/companies/" + sg.CompanyID} {
			status, body := e.get(c, path)
			if status != http.StatusOK {
				t.Fatalf("%s: %d", path, status)
			}
			text := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(body, " ")
			if m := bare.FindString(text); m != "" {
				t.Errorf("%s (%s) says %q", path, sg.ActionType, m)
			}
			if sg.ActionType != "portal_invite" && !money.MatchString(text) {
				t.Errorf("%s (%s): no lifetime value with its currency", path, sg.ActionType)
			}
			if !strings.Contains(text, "purchases in the purchase history") && !strings.Contains(text, "purchases and no visit") {
				t.Errorf("%s (%s): no explanation in words", path, sg.ActionType)
			}
		}
	}
	if len(seen) < 3 {
		t.Errorf("the demo shows %d kinds of suggestion, want 3", len(seen))
	}
}

// TestCompanyPageShowsWhatWasDoneAndDecisions: the company page's suggestions say what was
// last done for the company (by whom, when) and which suggestion is snoozed, as the
// suggestions page does.
func TestCompanyPageShowsWhatWasDoneAndDecisions(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{configure: func(c *Config) { c.TokenSecret = offerTestSecret }})
	e.loadDemo()
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	c := e.login("sam@example.com", testPassword)
	all, err := e.db.AllSuggestions(t.Context())
	if err != nil || len(all) == 0 {
		t.Fatalf("suggestions: %v", err)
	}
	sg := all[0]
	resp := e.postForm(c, "/admin/suggestions/link", url.Values{"company_id": {sg.CompanyID}, "offer_key": {"winback"}})
	resp.Body.Close()
	resp = e.postForm(c, "/admin/suggestions/snooze", url.Values{"company_id": {sg.CompanyID}, "action_type": {sg.ActionType}, "days": {"7"}})
	resp.Body.Close()
	_, body := e.get(c, "/admin/companies/"+sg.CompanyID)
	for _, want := range []string{"Last done: Offer link created (winback offer) by sam@example.com just now", "Snoozed until ", " by sam@example.com."} {
		if !strings.Contains(body, want) {
			t.Errorf("company page lacks %q:\n%s", want, body)
		}
	}
}
