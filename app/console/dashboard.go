package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/store"
)

// The dashboard: the outbox, event volume, the checkout funnel, revenue, replication, alerts.

type dashboardPage struct {
	Outbox      []statusCount
	OutboxNote  string
	Problems    []store.Job
	Sources     []sourceCount
	SourceTotal int64
	Funnel      funnel
	Revenue     revenueChart
	Replication *store.ReplicationStatus
	ReplNote    string
	Alerts      []dashboardAlert
	Health      []partHealth
	Banner      healthBanner
	ZohoAlert   bool
	GeneratedAt time.Time
}

type statusCount struct {
	Status store.JobStatus
	N      int
}

type sourceCount struct {
	Source string
	Label  string // the source as staff know it
	N      int64
	Width  float64 // percent of the largest
}

type funnel struct {
	Started, Completed, Refunded int64
}

type dashboardAlert struct {
	Level string // bad or warn
	Text  string
	Link  string
}

func (s *Console) handleDashboard(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx := r.Context()
	now := s.db.Now()
	d := dashboardPage{GeneratedAt: now}
	var err error
	if d.Outbox, d.Problems, err = s.outboxSummary(ctx); err != nil {
		s.renderError(w, r, err)
		return
	}
	if d.Sources, d.SourceTotal, err = s.sourceCounts(ctx, now.Add(-24*time.Hour)); err != nil {
		s.renderError(w, r, err)
		return
	}
	started, completed, refunded := string(store.EventCheckoutStarted), string(store.EventCheckoutCompleted), string(store.EventChargeRefunded)
	counts, err := s.db.EventNameCounts(ctx, now.AddDate(0, 0, -7), started, completed, refunded)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d.Funnel = funnel{Started: counts[started], Completed: counts[completed], Refunded: counts[refunded]}
	days, err := s.db.DailyRevenue(ctx, startOfDay(now).AddDate(0, 0, -29))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d.Revenue = buildRevenueChart(days, now, 30)
	d.Replication, d.ReplNote = s.replicationStatus(ctx)
	if err := s.dashboardAlerts(ctx, now, &d); err != nil {
		s.renderError(w, r, err)
		return
	}
	in, err := s.gatherHealth(ctx, now, d.Replication)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d.Health = computeHealth(in, now)
	d.Banner = bannerFor(d.Health)
	s.render(w, r, http.StatusOK, pageDashboard, "Dashboard", d)
}

// outboxSummary counts jobs by status (lifecycle order) and lists the newest dead and failed.
func (s *Console) outboxSummary(ctx context.Context) ([]statusCount, []store.Job, error) {
	counts, err := s.db.JobCounts(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]statusCount, 0, len(store.JobStatuses()))
	for _, st := range store.JobStatuses() {
		n := 0
		for _, c := range counts[st] {
			n += c
		}
		out = append(out, statusCount{Status: st, N: n})
	}
	var problems []store.Job
	for _, st := range []store.JobStatus{store.JobDead, store.JobFailed} {
		jobs, err := s.db.ListJobs(ctx, store.JobFilter{Status: st, Limit: 10})
		if err != nil {
			return nil, nil, err
		}
		problems = append(problems, jobs...)
	}
	return out, problems, nil
}

func (s *Console) sourceCounts(ctx context.Context, since time.Time) ([]sourceCount, int64, error) {
	bySource, err := s.db.EventsBySource(ctx, since)
	if err != nil {
		return nil, 0, err
	}
	var out []sourceCount
	var top, total int64
	for _, src := range []string{"stripe", "zoho", "web", "admin", "system"} {
		n := bySource[src]
		out = append(out, sourceCount{Source: src, Label: store.EventSourceLabel(src), N: n})
		top, total = max(top, n), total+n
	}
	for i := range out {
		if top > 0 {
			out[i].Width = float64(out[i].N) * 100 / float64(top)
		}
	}
	return out, total, nil
}

// replicationStatus reads the replicator's state, or says why there is none.
func (s *Console) replicationStatus(ctx context.Context) (*store.ReplicationStatus, string) {
	repl := s.svc.Replicator()
	if repl == nil {
		return nil, "Replication is off: set REPLICA_URL, LITESTREAM_CONFIG or BUCKET_NAME."
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st := repl.Status(ctx)
	return &st, ""
}

// dashboardAlerts fills d.Alerts: the Zoho auth alert (with its clear button) and the Zoho pause.
func (s *Console) dashboardAlerts(ctx context.Context, now time.Time, d *dashboardPage) error {
	var alerts []dashboardAlert
	zoho, err := s.svc.ZohoAuthAlert(ctx)
	if err != nil {
		return err
	}
	d.ZohoAlert = zoho != nil
	if zoho != nil {
		alerts = append(alerts, dashboardAlert{Level: "bad", Text: fmt.Sprintf(
			"Zoho Books refused our credentials %s (%s). Zoho jobs are held until the credentials are fixed and the alert is cleared.",
			relativeTime(zoho.At, now), zoho.Message)})
	}
	if until, err := s.svc.ZohoPausedUntil(ctx); err == nil && !until.IsZero() {
		alerts = append(alerts, dashboardAlert{Level: "warn", Text: "Zoho Books daily API limit reached: Zoho jobs wait until " +
			absoluteTime(until) + "."})
	}
	if n, err := s.db.CountCancelledButPaid(ctx); err != nil {
		return err
	} else if n > 0 {
		alerts = append(alerts, dashboardAlert{Level: "bad", Link: "/admin/orders?status=cancelled", Text: plural(n, "cancelled order was", "cancelled orders were") +
			" paid: refund the payment in Stripe, or take the order back."})
	}
	// Dead jobs, refused webhooks, backup verification and replication errors are stated by
	// the health table (health.go), once.
	d.Alerts = alerts
	return nil
}

// handleReplicationSync is the dashboard's "sync now".
func (s *Console) handleReplicationSync(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	repl := s.svc.Replicator()
	if repl == nil {
		s.audit(r, "replication.sync", "", map[string]any{"ok": false, "reason": "replication is off"})
		s.redirectNotice(w, r, "/admin", "Replication is not configured.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	err := repl.SyncNow(ctx)
	s.audit(r, "replication.sync", "", map[string]any{"ok": err == nil})
	if err != nil {
		s.logger.Warn("replication sync now", "error", err)
		s.redirectNotice(w, r, "/admin", "Sync failed: "+store.ErrorMessage(err))
		return
	}
	s.redirectNotice(w, r, "/admin", "Replica is up to date.")
}

// handleZohoAlertClear lifts the Zoho auth alert once an admin has fixed the credentials.
func (s *Console) handleZohoAlertClear(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	resumed, err := s.svc.ClearZohoAuthAlert(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.audit(r, "zoho.alert_clear", "", map[string]int64{"resumed_jobs": resumed})
	s.redirectNotice(w, r, "/admin", fmt.Sprintf("Zoho alert cleared; %d job(s) resumed.", resumed))
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// revenueChart is a bar chart of one currency's daily revenue, drawn as SVG on the server.
type revenueChart struct {
	Currency  string
	Width     int
	Height    int
	PlotTop   float64
	PlotBot   float64
	Bars      []chartBar
	Ticks     []chartTick
	Total     int64
	Orders    int
	Others    []store.RevenueDay // totals of other currencies (Day empty)
	HasData   bool
	FirstDay  string
	LastDay   string
	AxisLeft  float64
	AxisRight float64
}

type chartBar struct {
	X, Y, W, H float64
	Title      string
}

type chartTick struct {
	Y     float64
	Label string
}

// buildRevenueChart lays out n days ending today for the currency with the most revenue.
func buildRevenueChart(days []store.RevenueDay, now time.Time, n int) revenueChart {
	c := revenueChart{Width: 720, Height: 200, PlotTop: 10, PlotBot: 175, AxisLeft: 70, AxisRight: 712}
	totals := map[string]*store.RevenueDay{}
	for _, d := range days {
		t := totals[d.Currency]
		if t == nil {
			t = &store.RevenueDay{Currency: d.Currency}
			totals[d.Currency] = t
		}
		t.Total += d.Total
		t.Orders += d.Orders
	}
	for cur, t := range totals {
		if c.Currency == "" || t.Total > totals[c.Currency].Total || (t.Total == totals[c.Currency].Total && cur < c.Currency) {
			c.Currency = cur
		}
	}
	for cur, t := range totals {
		if cur != c.Currency {
			c.Others = append(c.Others, *t)
		}
	}
	sort.Slice(c.Others, func(i, j int) bool { return c.Others[i].Currency < c.Others[j].Currency })
	first := startOfDay(now).AddDate(0, 0, -(n - 1))
	c.FirstDay, c.LastDay = first.Format("2 Jan"), startOfDay(now).Format("2 Jan")
	if c.Currency == "" {
		return c
	}
	c.HasData = true
	c.Total, c.Orders = totals[c.Currency].Total, totals[c.Currency].Orders
	perDay := map[string]int64{}
	var top int64
	for _, d := range days {
		if d.Currency == c.Currency {
			perDay[d.Day] = d.Total
			top = max(top, d.Total)
		}
	}
	top = niceCeiling(top, c.Currency)
	slot := (c.AxisRight - c.AxisLeft) / float64(n)
	height := c.PlotBot - c.PlotTop
	for i := range n {
		day := first.AddDate(0, 0, i)
		v := perDay[day.Format("2006-01-02")]
		h := 0.0
		if top > 0 {
			h = float64(v) / float64(top) * height
		}
		c.Bars = append(c.Bars, chartBar{X: c.AxisLeft + float64(i)*slot + 1, Y: c.PlotBot - h, W: slot - 2, H: h,
			Title: day.Format("Mon 2 Jan") + ": " + formatMoney(v, c.Currency)})
	}
	for i := 0; i <= 4; i++ {
		v := top * int64(i) / 4
		c.Ticks = append(c.Ticks, chartTick{Y: c.PlotBot - float64(i)/4*height, Label: formatMoneyWhole(v, c.Currency)})
	}
	return c
}

// niceCeiling rounds a maximum up to 1, 2 or 5 × a power of ten of major units, so the axis
// labels are round numbers.
func niceCeiling(v int64, currency string) int64 {
	unit := int64(1)
	for range zohobooks.CurrencyExponent(currency) {
		unit *= 10
	}
	if v <= 0 {
		return 10 * unit
	}
	step := unit
	for {
		for _, m := range []int64{1, 2, 5} {
			if m*step >= v {
				return m * step
			}
		}
		step *= 10
	}
}

// formatMoneyWhole is formatMoney without the minor digits when they are zero (axis labels).
func formatMoneyWhole(amount int64, currency string) string {
	s := formatMoney(amount, currency)
	if d := zohobooks.CurrencyExponent(currency); d > 0 {
		zeros := "." + strings.Repeat("0", d)
		if i := strings.Index(s, zeros); i >= 0 && (i+len(zeros) == len(s) || s[i+len(zeros)] == ' ') {
			s = s[:i] + s[i+len(zeros):]
		}
	}
	return s
}

// The dashboard, and its replication and Zoho-alert actions (admin only).
var (
	pageDashboard = declarePage(adminPage{key: pageKey{"dashboard"}, nav: "Dashboard", navPath: "/admin", navOrder: 10, navRole: roleStaff})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodGet, path: "/admin", role: roleStaff, handle: (*Console).handleDashboard},
		adminRoute{method: http.MethodPost, path: "/admin/replication/sync", role: roleAdmin,
			deny: "Only admins can act on replication.", handle: (*Console).handleReplicationSync},
		adminRoute{method: http.MethodPost, path: "/admin/alerts/zoho/clear", role: roleAdmin,
			deny: "Only admins can change integration settings.", handle: (*Console).handleZohoAlertClear},
	)
)
