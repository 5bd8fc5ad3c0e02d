package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// Acting on suggestions: the score explained in words, what was last done for the company (by
// whom and when, from the audit log), and dismissing or snoozing a suggestion (recorded in
// suggestion_decisions and audited). A dismissed suggestion stays hidden until restored; a
// snoozed one until its snooze ends.

// maxSnoozeDays bounds a snooze.
const maxSnoozeDays = 365

// suggestionActedActions are the audit actions that count as acting on a suggestion.
var suggestionActedActions = []string{"offer.send", "offer.link"}

// explainScore says in words why a suggestion ranks where it does, in the vocabulary of the
// company pages: a purchase is an invoice in the purchase history (imported or a paid web
// order), and the lifetime value is shown per currency, as the companies list shows it.
func explainScore(s store.Suggestion, stats store.PurchaseStats) string {
	var m struct {
		Orders     int     `json:"orders"` // distinct invoices in sales: purchases
		DaysSince  int     `json:"days_since_last_order"`
		AverageGap float64 `json:"average_gap_days"`
	}
	_ = json.Unmarshal(s.ActionMeta, &m)
	value := ""
	if len(stats.Lifetime) > 0 {
		value = "lifetime value " + formatMoneys(stats.Lifetime)
	}
	var parts []string
	switch s.ActionType {
	case "reorder_reminder":
		parts = append(parts, fmt.Sprintf("last purchase %d days ago; usually every %.0f days", m.DaysSince, m.AverageGap),
			"reorder reminders score 90")
	case "engagement_needed":
		parts = append(parts, fmt.Sprintf("no purchase and no engagement for %d days", m.DaysSince))
		threshold := "500"
		switch {
		case s.PriorityScore >= 95:
			threshold = "5,000"
		case s.PriorityScore >= 80:
			threshold = "1,000"
		}
		why := fmt.Sprintf("score %d because purchases total more than %s", s.PriorityScore, threshold)
		if value != "" {
			why += " (" + value + ")"
			value = ""
		}
		parts = append(parts, why)
	case "portal_invite":
		parts = append(parts, plural(m.Orders, "purchase", "purchases")+" and no visit to the reorder portal in the last 30 days",
			"portal invitations score 70")
	default:
		parts = append(parts, s.Reason)
	}
	if m.Orders > 0 && s.ActionType != "portal_invite" {
		parts = append(parts, plural(m.Orders, "purchase", "purchases")+" in the purchase history")
	}
	if value != "" {
		parts = append(parts, value)
	}
	out := strings.Join(parts, "; ")
	return strings.ToUpper(out[:1]) + out[1:] + "."
}

// actedText says what was last done for a company: "Offer e-mail sent (reorder) by ann@… 3 hours ago".
func actedText(e store.AuditEntry, now time.Time) string {
	var d struct {
		OfferKey string `json:"offer_key"`
		Queued   *int   `json:"queued"`
	}
	_ = json.Unmarshal(e.Detail, &d)
	s := auditLabel(e.Action)
	if d.OfferKey != "" {
		s += " (" + d.OfferKey + " offer"
		if d.Queued != nil {
			s += ", " + plural(*d.Queued, "e-mail", "e-mails") + " queued"
		}
		s += ")"
	}
	return s + " by " + e.Actor + " " + relativeTime(e.CreatedAt, now) + ", " + absoluteTime(e.CreatedAt)
}

// decisionKey is the key of HiddenSuggestions' map.
func decisionKey(companyID, actionType string) string { return companyID + "\x00" + actionType }

// applyDecisions keeps the suggestions not hidden (or, with hidden, only the hidden ones).
func applyDecisions(all []store.Suggestion, decisions map[string]store.SuggestionDecision, hidden bool) []store.Suggestion {
	out := make([]store.Suggestion, 0, len(all))
	for _, s := range all {
		if _, ok := decisions[decisionKey(s.CompanyID, s.ActionType)]; ok == hidden {
			out = append(out, s)
		}
	}
	return out
}

// decorateSuggestions adds the explanation, the last action and any decision to each view.
func (s *Console) decorateSuggestions(ctx context.Context, views []suggestionView, decisions map[string]store.SuggestionDecision) error {
	targets := make([]string, 0, len(views))
	for _, v := range views {
		targets = append(targets, v.CompanyID)
	}
	acted, err := s.db.LastActions(ctx, targets, suggestionActedActions)
	if err != nil {
		return err
	}
	stats, err := s.db.PurchaseStatsOf(ctx, targets)
	if err != nil {
		return err
	}
	now := s.db.Now()
	for i := range views {
		v := &views[i]
		v.Explanation = explainScore(v.Suggestion, stats[v.CompanyID])
		if e, ok := acted[v.CompanyID]; ok {
			v.Acted = actedText(e, now)
		}
		if d, ok := decisions[decisionKey(v.CompanyID, v.ActionType)]; ok {
			if d.Decision == "snoozed" {
				v.Decision = "Snoozed until " + absoluteTime(d.HiddenUntil) + " by " + d.Actor
			} else {
				v.Decision = "Dismissed by " + d.Actor + " " + relativeTime(d.CreatedAt, now)
			}
		}
	}
	return nil
}

// decorateCompanySuggestions explains a company page's suggestions like the suggestions page
// does, and says which are dismissed or snoozed (the company page lists them all).
func (s *Console) decorateCompanySuggestions(ctx context.Context, views []suggestionView) error {
	decisions, err := s.db.HiddenSuggestions(ctx, s.db.Now())
	if err != nil {
		return err
	}
	return s.decorateSuggestions(ctx, views, decisions)
}

// suggestionDecisionForm reads a dismiss, snooze or restore form.
func suggestionDecisionForm(w http.ResponseWriter, r *http.Request) (companyID, actionType string, err error) {
	if err := parseAdminForm(w, r); err != nil {
		return "", "", err
	}
	companyID, actionType = strings.TrimSpace(r.PostForm.Get("company_id")), strings.TrimSpace(r.PostForm.Get("action_type"))
	if companyID == "" {
		return "", "", web.Invalidf("company_id is required")
	}
	if _, err := store.LookupActionType(actionType); err != nil {
		return "", "", web.Invalidf("action_type must be a known suggestion type")
	}
	return companyID, actionType, nil
}

// suggestionsBack is the suggestions page a decision form came from.
func suggestionsBack(r *http.Request) string {
	q := backQuery(r)
	q.Del("fresh")
	if len(q) == 0 {
		return "/admin/suggestions"
	}
	return "/admin/suggestions?" + q.Encode()
}

func (s *Console) handleSuggestionDismiss(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.decideSuggestion(w, r, false)
}

func (s *Console) handleSuggestionSnooze(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.decideSuggestion(w, r, true)
}

func (s *Console) decideSuggestion(w http.ResponseWriter, r *http.Request, snooze bool) {
	companyID, actionType, err := suggestionDecisionForm(w, r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	co, err := s.db.GetCompany(ctx, companyID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var until time.Time
	action, detail := "suggestion.dismiss", map[string]any{"action_type": actionType}
	msg := "Suggestion for " + co.Name + " dismissed: it stays hidden until restored."
	if snooze {
		days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("days")))
		if err != nil || days < 1 || days > maxSnoozeDays {
			s.renderError(w, r, web.Invalidf("days must be a whole number from 1 to %d", maxSnoozeDays))
			return
		}
		until = s.db.Now().AddDate(0, 0, days)
		action, detail["days"], detail["until"] = "suggestion.snooze", days, store.FormatTime(until)
		msg = fmt.Sprintf("Suggestion for %s snoozed for %s: hidden until %s.", co.Name, plural(days, "day", "days"), absoluteTime(until))
	}
	entry := s.auditEntry(r, action, co.ID)
	if err := s.auditedUpdate(r, action, co.ID, detail, func(tx *store.Tx) error {
		return tx.DecideSuggestion(ctx, co.ID, actionType, until, entry)
	}); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.redirectNotice(w, r, suggestionsBack(r), msg)
}

func (s *Console) handleSuggestionRestore(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	companyID, actionType, err := suggestionDecisionForm(w, r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	var found bool
	if err := s.auditedUpdate(r, "suggestion.restore", companyID, map[string]any{"action_type": actionType}, func(tx *store.Tx) error {
		var err error
		if found, err = tx.RestoreSuggestion(ctx, companyID, actionType); err == nil && !found {
			err = store.Errorf(store.ENOTFOUND, "that suggestion is not dismissed or snoozed")
		}
		return err
	}); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.redirectNotice(w, r, suggestionsBack(r), "Suggestion restored.")
}

// wantsJSON reports whether a form post came from the page's script (Accept: application/json).
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// Dismissing, snoozing and restoring suggestions: staff, like sending offers.
var _ = declareAdminRoutes(
	adminRoute{method: http.MethodPost, path: "/admin/suggestions/dismiss", role: roleStaff, handle: (*Console).handleSuggestionDismiss},
	adminRoute{method: http.MethodPost, path: "/admin/suggestions/snooze", role: roleStaff, handle: (*Console).handleSuggestionSnooze},
	adminRoute{method: http.MethodPost, path: "/admin/suggestions/restore", role: roleStaff, handle: (*Console).handleSuggestionRestore},
)
