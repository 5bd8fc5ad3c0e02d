package app

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/technifold/technifold/store"
)

// TestFiltersAndCountsUseHumanLabels: every option of the timeline's source and event filters,
// the dashboard's events-by-source counts and the feed's source badges show a label staff
// read ("Zoho CRM", "Visited the reorder portal"), never the raw key ("zoho", "portal_visit").
func TestFiltersAndCountsUseHumanLabels(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin/timeline")
	opts := regexp.MustCompile(`<option value="([^"]+)"[^>]*>([^<]*)</option>`).FindAllStringSubmatch(body, -1)
	if len(opts) < len(store.EventSources())+len(store.EventNames()) {
		t.Fatalf("timeline filters have %d options", len(opts))
	}
	for _, o := range opts {
		value, label := o[1], o[2]
		if label == value || strings.Contains(label, "_") || !unicode.IsUpper([]rune(label)[0]) {
			t.Errorf("filter option %q is shown as %q", value, label)
		}
	}
	for _, raw := range []string{`<span class="badge">stripe</span>`, `<span class="badge">zoho</span>`, `<span class="badge">web</span>`} {
		if strings.Contains(body, raw) {
			t.Errorf("the feed shows the raw source %s", raw)
		}
	}
	_, body = e.get(c, "/admin")
	for _, s := range store.EventSources() {
		if !strings.Contains(body, `<a href="/admin/timeline?source=`+s+`">`+store.EventSourceLabel(s)+`</a>`) {
			t.Errorf("dashboard counts do not name source %s as %q", s, store.EventSourceLabel(s))
		}
	}
}
