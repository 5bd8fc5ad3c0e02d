package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/technifold/technifold/app/display"
	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
	"github.com/technifold/technifold/ui"
)

// The staff admin UI: server-rendered html/template pages embedded from ui/, readable without
// JavaScript. Every POST redirects back with a notice (post/redirect/get) and writes audit_log.

// parsePages parses every declared page's template with the layout and partials.
func parsePages(cfg *Config, now func() time.Time) (map[pageKey]*template.Template, error) {
	base, err := template.New("admin").Funcs(adminFuncs(cfg, now)).ParseFS(ui.FS, "templates/admin_layout.html", "templates/partial_*.html")
	if err != nil {
		return nil, fmt.Errorf("parse admin layout: %w", err)
	}
	pages := map[pageKey]*template.Template{}
	for _, page := range declaredPages() {
		name := pageTemplate(page.key)
		t, err := template.Must(base.Clone()).ParseFS(ui.FS, name)
		if err != nil {
			return nil, fmt.Errorf("admin page %s: parse %s: %w", page.key, name, err)
		}
		pages[page.key] = t
	}
	return pages, nil
}

// staticFiles serves /admin/static/ from the embedded ui/static.
func staticFiles() (http.Handler, error) {
	static, err := fs.Sub(ui.FS, "static")
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix("/admin/static/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}), nil
}

// pageTemplate is the embedded template of a page.
func pageTemplate(k pageKey) string { return "templates/admin_" + k.name + ".html" }

// pageData is what every admin template receives; Data is the page's own.
type pageData struct {
	Title   string
	Active  string
	Nav     []navItem
	User    *store.User
	IsAdmin bool
	Notice  string
	Error   string
	Data    any
}

// render executes a page into a buffer first, so a template error never sends half a page.
func (s *Console) render(w http.ResponseWriter, r *http.Request, status int, page pageKey, title string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.logger.Error("admin page template missing", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pd := pageData{Title: title, Active: page.name, Data: data, Notice: s.takeNotice(w, r)}
	if p := principalFrom(r.Context()); p != nil && !p.ViaToken {
		pd.User, pd.IsAdmin = &p.User, p.IsAdmin()
		pd.Nav = navFor(p, page)
	}
	if e, ok := data.(interface{ errorText() string }); ok {
		pd.Error = e.errorText()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pd); err != nil {
		s.logger.Error("render admin page", "page", page, "error", err, "request_id", web.RequestID(r.Context()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// bannerData is one success (notice), error or warning message (the "banner" partial).
type bannerData struct{ Kind, Text string }

// messagePage is the data of the plain message page.
type messagePage struct {
	Status  int
	Message string
}

// renderStatus answers with a page carrying one message.
func (s *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, pageMessage, http.StatusText(status), messagePage{Status: status, Message: msg})
}

// ServeMiss answers an unknown admin URL (or a method it does not take) with an HTML page
// inside the admin layout, with the navigation when the caller is signed in. It reports
// whether the path was an admin page's; other paths (the JSON API included) answer JSON.
func (s *Console) ServeMiss(w http.ResponseWriter, r *http.Request, status int) bool {
	if r.URL.Path != "/admin" && !strings.HasPrefix(r.URL.Path, "/admin/") {
		return false
	}
	if p, err := s.sessionFromRequest(r); err == nil && p != nil {
		r = withPrincipal(r, p)
	}
	msg := "There is no admin page at this address. Check the link, or start again from the dashboard."
	if status == http.StatusMethodNotAllowed {
		msg = "This address does not take that kind of request."
	}
	s.renderStatus(w, r, status, msg)
	return true
}

// renderError answers with the error's status and its caller-safe message (internal errors are
// logged and answered generically), as web.Error does for JSON.
func (s *Console) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status := web.StatusOf(err)
	msg := store.ErrorMessage(err)
	if status >= 500 {
		s.logger.ErrorContext(r.Context(), "admin request failed", "error", err, "request_id", web.RequestID(r.Context()))
		if status == http.StatusInternalServerError {
			msg = "Something went wrong; the error has been logged."
		}
	}
	s.renderStatus(w, r, status, msg)
}

const flashCookie = "tf_flash"

// redirectNotice redirects (303) to target and shows msg on the next page rendered.
func (s *Console) redirectNotice(w http.ResponseWriter, r *http.Request, target, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)),
		Path: "/admin", MaxAge: 60, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// takeNotice reads and clears the flash cookie.
func (s *Console) takeNotice(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/admin", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 500 {
		return ""
	}
	return string(b)
}

// backTo is the page a POST returns to: the admin page it came from, else fallback.
func backTo(r *http.Request, fallback string) string {
	if ref, err := url.Parse(r.Referer()); err == nil && strings.HasPrefix(ref.Path, "/admin") &&
		(ref.Host == "" || ref.Host == r.Host) {
		return safeNext(ref.RequestURI())
	}
	return fallback
}

// auditEntry describes the current principal for the audit log.
func (s *Console) auditEntry(r *http.Request, action, target string) store.AuditEntry {
	e := store.AuditEntry{Action: action, Target: target, IP: s.clientIP(r), Actor: "anonymous"}
	if p := principalFrom(r.Context()); p != nil {
		e.Actor, e.UserID = p.Actor(), p.User.ID
	}
	return e
}

// auditedUpdate runs fn and records the action in the audit log in the same transaction: the
// entry exists exactly when the action took effect.
func (s *Console) auditedUpdate(r *http.Request, action, target string, detail any, fn func(tx *store.Tx) error) error {
	ctx := r.Context()
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, s.auditEntry(r, action, target), detail)
	})
	if err == nil {
		markAudited(ctx)
	}
	return err
}

// markAudited tells the admin API's audit middleware the handler wrote its own entry.
func markAudited(ctx context.Context) {
	if m, ok := ctx.Value(auditMarkKey{}).(*auditMark); ok {
		m.done = true
	}
}

// audit records an action taken by a service method that commits on its own or reaches outside
// the database (offers, replication, running the outbox): the audit row follows in its own
// transaction.
func (s *Console) audit(r *http.Request, action, target string, detail any) {
	ctx := r.Context()
	markAudited(ctx)
	err := s.db.Update(ctx, func(tx *store.Tx) error { return tx.InsertAudit(ctx, s.auditEntry(r, action, target), detail) })
	if err != nil {
		s.logger.Error("write audit log", "action", action, "target", target, "error", err)
	}
}

// adminFuncs are the template helpers. now is the store's clock, so relative times follow it.
func adminFuncs(cfg *Config, now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"since":   func(t time.Time) string { return relativeTime(t, now()) },
		"abstime": func(t time.Time) string { return absoluteTime(t) },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"day": func(stamp string) string { // a stored timestamp as a date, e.g. consent given
			if t, err := store.ParseTime(stamp); err == nil {
				return t.UTC().Format(adminDateFormat)
			}
			if t, err := time.Parse(time.DateOnly, stamp); err == nil { // a sales txn_date
				return t.Format("2 Jan 2006")
			}
			return stamp
		},
		"money":              formatMoney,
		"auditLabel":         auditLabel,
		"timelineFor":        timelineFor,
		"auditActionOptions": auditActionOptions,
		"jobLabel":           jobLabel,
		// banner is the data of the "banner" partial: kind is notice, error or warn.
		"banner": func(kind, text string) bannerData { return bannerData{Kind: kind, Text: text} },
		"moneys": formatMoneys,
		"moneyp": func(v *int64, currency string) string {
			if v == nil {
				return ""
			}
			return formatMoney(*v, currency)
		},
		"pretty": prettyJSON,
		// currency shows a stored currency code as staff write it: "gbp" → "GBP".
		"currency": strings.ToUpper,
		// offerLabel names an offer for staff: "new_tool" → "New tool".
		"offerLabel": offerLabel,
		"pct": func(part, whole int64) string {
			if whole == 0 {
				return "–"
			}
			return strconv.FormatFloat(float64(part)*100/float64(whole), 'f', 1, 64) + "%"
		},
		"stripePayment": func(pi string) string { return "https://dashboard.stripe.com/payments/" + url.PathEscape(pi) },
		"zohoInvoice":   func(id string) string { return zohoInvoiceURL(cfg, id) },
		"join":          strings.Join,
		// eventLabel describes an event name as the feed does (store.EventLabel).
		"eventLabel": store.EventLabel,
		// denied is what staff are told about the admin-only action POSTed to path.
		"denied": deniedText,
	}
}

// relativeTime says how long ago t was ("3 hours ago", "in 5 minutes", "just now").
func relativeTime(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var n int
	var unit string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Minute:
		n, unit = int(math.Max(1, math.Round(d.Minutes()))), "minute"
	case d < 36*time.Hour:
		n, unit = int(math.Round(d.Hours())), "hour"
	case d < 45*24*time.Hour:
		n, unit = int(math.Round(d.Hours()/24)), "day"
	case d < 545*24*time.Hour:
		n, unit = int(math.Round(d.Hours()/24/30.44)), "month"
	default:
		n, unit = int(math.Round(d.Hours()/24/365.25)), "year"
	}
	if n != 1 {
		unit += "s"
	}
	if future {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}

func absoluteTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(adminDateFormat + " 15:04 UTC")
}

// adminDateFormat is the one date format (display.DateFormat; times add " 15:04 UTC"; recent
// times are shown relative, "3 hours ago", with the absolute time as their title).
const adminDateFormat = display.DateFormat

// formatMoney renders minor units with the currency: "£1,234.50", "1,234.50 SEK".
func formatMoney(amount int64, currency string) string { return display.Money(amount, currency) }

// formatMoneys renders amounts in several currencies, in currency order ("£94.28, €52.50");
// "–" when there are none.
func formatMoneys(m map[string]int64) string {
	if len(m) == 0 {
		return "–"
	}
	curs := make([]string, 0, len(m))
	for c := range m {
		curs = append(curs, c)
	}
	slices.Sort(curs)
	parts := make([]string, len(curs))
	for i, c := range curs {
		parts[i] = formatMoney(m[c], c)
	}
	return strings.Join(parts, ", ")
}

// prettyJSON indents a JSON document for display; anything else is shown as it is.
func prettyJSON(v any) string {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	default:
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// zohoInvoiceURL links to an invoice in the Zoho Books web app of the configured data centre.
func zohoInvoiceURL(cfg *Config, invoiceID string) string {
	host := "books.zoho." + cfg.ZohoDC
	switch cfg.ZohoDC {
	case "", "com":
		host = "books.zoho.com"
	case "ca":
		host = "books.zohocloud.ca"
	}
	return "https://" + host + "/app/" + url.PathEscape(cfg.ZohoOrganizationID) + "#/invoices/" + url.PathEscape(invoiceID)
}

// queryInt parses an optional integer query parameter within [lo, hi] (clamping), with def
// when absent; EINVALID when it is not a number.
func queryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, web.Invalidf("%s must be a whole number", name)
	}
	return min(max(n, lo), hi), nil
}

// queryDate parses an optional YYYY-MM-DD (UTC) query parameter; endOfDay moves it to the
// start of the next day, for an inclusive "to".
func queryDate(q url.Values, name string, endOfDay bool) (time.Time, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, web.Invalidf("%s must be a date like 2025-01-31", name)
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// withQuery returns path with q's non-empty values, plus set (overriding).
func withQuery(path string, q url.Values, set ...string) string {
	out := url.Values{}
	for k, vs := range q {
		if len(vs) > 0 && vs[0] != "" {
			out.Set(k, vs[0])
		}
	}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			out.Del(set[i])
		} else {
			out.Set(set[i], set[i+1])
		}
	}
	if len(out) == 0 {
		return path
	}
	return path + "?" + out.Encode()
}

// auditLabels are the audit log's actions as staff read them; the raw action stays in the
// row's technical details.
var auditLabels = map[string]string{
	"api.post":              "API call: create or change",
	"login":                 "Signed in",
	"login.failed":          "Sign-in failed",
	"logout":                "Signed out",
	"offer.link":            "Offer link created",
	"offer.send":            "Offer e-mail sent",
	"outbox.cancel":         "Job cancelled",
	"outbox.retry":          "Job retried",
	"outbox.run":            "Outbox run now",
	"replication.sync":      "Replica synced now",
	"suggestion.dismiss":    "Suggestion dismissed",
	"suggestion.snooze":     "Suggestion snoozed",
	"suggestion.restore":    "Suggestion restored",
	"payment_link.create":   "Payment link created",
	"user.create":           "User created",
	"user.disable":          "User disabled",
	"user.enable":           "User enabled",
	"user.password":         "Password changed",
	"user.setup":            "First admin set up",
	"webhook.replay":        "Webhook replayed",
	"zoho.alert_clear":      "Zoho alert cleared",
	"session.revoke":        "Session revoked",
	"user.role":             "Role changed",
	"import":                "CSV imported",
	"backup.verify":         "Backup verified",
	"api.delete":            "API call: delete",
	"offer.preview":         "Offer previewed",
	"offer.fresh_link_sent": "Fresh offer link sent",
}

// auditLabel names an audit action for staff: its label, else its words.
func auditLabel(action string) string {
	if l, ok := auditLabels[action]; ok {
		return l
	}
	s := strings.NewReplacer(".", ": ", "_", " ").Replace(action)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
