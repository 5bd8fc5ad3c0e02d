package console

import (
	"net/http"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

func TestRelativeTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{90 * time.Second, "2 minutes ago"},
		{time.Minute, "1 minute ago"},
		{3 * time.Hour, "3 hours ago"},
		{26 * time.Hour, "26 hours ago"},
		{3 * 24 * time.Hour, "3 days ago"},
		{70 * 24 * time.Hour, "2 months ago"},
		{800 * 24 * time.Hour, "2 years ago"},
		{-5 * time.Minute, "in 5 minutes"},
	} {
		if got := relativeTime(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("relativeTime(-%s) = %q, want %q", tc.ago, got, tc.want)
		}
	}
	if relativeTime(time.Time{}, now) != "never" {
		t.Error("zero time")
	}
}

func TestRevenueChartPicksTheMainCurrencyAndScales(t *testing.T) {
	now := time.Date(2026, 5, 30, 15, 0, 0, 0, time.UTC)
	c := buildRevenueChart([]store.RevenueDay{
		{Day: "2026-05-01", Currency: "gbp", Total: 10000, Orders: 1},
		{Day: "2026-05-30", Currency: "gbp", Total: 34000, Orders: 2},
		{Day: "2026-05-29", Currency: "eur", Total: 5000, Orders: 1},
	}, now, 30)
	if c.Currency != "gbp" || c.Total != 44000 || len(c.Bars) != 30 || len(c.Others) != 1 || c.Others[0].Currency != "eur" {
		t.Fatalf("chart %+v", c)
	}
	if last := c.Bars[29]; last.H <= c.Bars[0].H || last.Y+last.H != c.PlotBot {
		t.Fatalf("bars: first %+v last %+v", c.Bars[0], last)
	}
	if c.Ticks[4].Label != "£500" { // 340.00 rounds up to a 5 × 100 axis
		t.Fatalf("top tick %q", c.Ticks[4].Label)
	}
	if empty := buildRevenueChart(nil, now, 30); empty.HasData {
		t.Fatal("an empty chart has data")
	}
}

func TestSafeNextStaysOnAdminPages(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/timeline?source=web": "/admin/timeline?source=web",
		"https://evil.example/admin": "/admin",
		"//evil.example/admin":       "/admin",
		"/admin/login":               "/admin",
		"/x/token":                   "/admin",
		"":                           "/admin",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// An axis label drops zero minor digits (moved from TestFormatMoney in app).
func TestFormatMoneyWhole(t *testing.T) {
	if got := formatMoneyWhole(200000, "gbp"); got != "£2,000" {
		t.Errorf("formatMoneyWhole = %q", got)
	}
}

func TestAdminCookieIsSecureWhenBaseURLIsHTTPS(t *testing.T) {
	s := &Console{cfg: &Config{BaseURL: "https://shop.example.com"}}
	if ck := s.adminCookie("x", 60); !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie = %+v", ck)
	}
}

func TestExplainScore(t *testing.T) {
	gbp := store.PurchaseStats{Lifetime: map[string]int64{"gbp": 942850}}
	two := store.PurchaseStats{Lifetime: map[string]int64{"gbp": 9428, "eur": 5250}}
	for _, tc := range []struct {
		s     store.Suggestion
		stats store.PurchaseStats
		want  string
	}{
		{store.Suggestion{ActionType: "reorder_reminder", PriorityScore: 90,
			ActionMeta: []byte(`{"orders":5,"days_since_last_order":137,"average_gap_days":30.2}`)}, gbp,
			"Last purchase 137 days ago; usually every 30 days; reorder reminders score 90; 5 purchases in the purchase history; lifetime value £9,428.50."},
		{store.Suggestion{ActionType: "engagement_needed", PriorityScore: 95,
			ActionMeta: []byte(`{"orders":2,"days_since_last_order":200,"lifetime_value":6000}`)}, gbp,
			"No purchase and no engagement for 200 days; score 95 because purchases total more than 5,000 (lifetime value £9,428.50); 2 purchases in the purchase history."},
		{store.Suggestion{ActionType: "engagement_needed", PriorityScore: 65,
			ActionMeta: []byte(`{"orders":1,"days_since_last_order":200}`)}, two,
			"No purchase and no engagement for 200 days; score 65 because purchases total more than 500 (lifetime value €52.50, £94.28); 1 purchase in the purchase history."},
		{store.Suggestion{ActionType: "portal_invite", PriorityScore: 70, ActionMeta: []byte(`{"orders":4}`)}, store.PurchaseStats{},
			"4 purchases and no visit to the reorder portal in the last 30 days; portal invitations score 70."},
	} {
		if got := explainScore(tc.s, tc.stats); got != tc.want {
			t.Errorf("explainScore(%s) = %q, want %q", tc.s.ActionType, got, tc.want)
		}
	}
}
