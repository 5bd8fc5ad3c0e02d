package console

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/technifold/technifold/store"
)

// Filters take what staff see: a company by its name (type-ahead from /api/admin/companies),
// an event type by its label. Every filter is a GET parameter, so a filtered page's address
// can be shared.

// companyChoiceLimit is how many companies an ambiguous name lists.
const companyChoiceLimit = 10

// resolveCompany turns what staff typed (a company id, a full name, or part of a name) into a
// company id. Several matches and no exact name among them: choices lists them (with an
// EINVALID error saying so); none: ENOTFOUND.
func (s *Console) resolveCompany(ctx context.Context, typed string) (string, []store.CompanySummary, error) {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return "", nil, nil
	}
	if c, err := s.db.GetCompany(ctx, typed); err == nil {
		return c.ID, nil, nil
	} else if store.ErrorCode(err) != store.ENOTFOUND {
		return "", nil, err
	}
	list, total, err := s.db.SearchCompanies(ctx, store.CompanyFilter{Query: typed, Limit: companyChoiceLimit})
	if err != nil {
		return "", nil, err
	}
	var exact []store.CompanySummary
	for _, c := range list {
		if strings.EqualFold(c.Name, typed) {
			exact = append(exact, c)
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0].ID, nil, nil
	case total == 1:
		return list[0].ID, nil, nil
	case total == 0:
		return "", nil, store.Errorf(store.ENOTFOUND, "no company matches %q", typed)
	}
	return "", list, store.Errorf(store.EINVALID, "%d companies match %q: pick one", total, typed)
}

// eventOption is one entry of the event-type filter: the declared name and its label.
type eventOption struct{ Name, Label string }

// offerLabel names an offer key for staff: its words, capitalised ("new_tool" → "New tool").
func offerLabel(key string) string {
	s := strings.ReplaceAll(key, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// sourceOptions lists the event sources with their human labels.
func sourceOptions() []eventOption {
	var out []eventOption
	for _, s := range store.EventSources() {
		out = append(out, eventOption{Name: s, Label: store.EventSourceLabel(s)})
	}
	return out
}

// eventOptions lists the declared event names with their human labels.
func eventOptions() []eventOption {
	var out []eventOption
	for _, e := range store.EventNames() {
		out = append(out, eventOption{Name: string(e.Name), Label: e.Label})
	}
	return out
}

// timelineFor is the timeline address of q with the company set to id (an ambiguous name's
// choices link there).
func timelineFor(q timelineQuery, id string) string {
	v := url.Values{}
	for k, val := range map[string]string{"company": id, "contact": q.Contact, "source": q.Source,
		"event": q.Event, "from": q.From, "to": q.To} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return "/admin/timeline?" + v.Encode()
}

// auditGroupLabel names a group of audit actions ("api" → "API") for the filter.
func auditGroupLabel(g string) string {
	switch g {
	case "api":
		return "API"
	case "login":
		return "sign-in"
	case "zoho":
		return "Zoho"
	case "payment_link":
		return "payment link"
	}
	return strings.ReplaceAll(g, "_", " ")
}

// auditActionOptions lists the audit filter's choices by label: each labelled action, and a
// "Any … action" entry per group (the "outbox." prefix matches every outbox action).
func auditActionOptions() []eventOption {
	var out []eventOption
	groups := map[string]bool{}
	for action, label := range auditLabels {
		out = append(out, eventOption{Name: action, Label: label})
		if i := strings.IndexByte(action, '.'); i > 0 {
			groups[action[:i+1]] = true
		}
	}
	for g := range groups {
		out = append(out, eventOption{Name: g, Label: "Any " + auditGroupLabel(strings.TrimSuffix(g, ".")) + " action"})
	}
	slices.SortFunc(out, func(a, b eventOption) int { return strings.Compare(a.Label, b.Label) })
	return out
}

// jobLabels name the job kinds for staff; the raw kind stays in technical details.
var jobLabels = map[string]string{
	string(store.JobZohoSyncOrder):  "Zoho Books: sync order",
	string(store.JobZohoSyncRefund): "Zoho Books: sync refund",
	string(store.JobSendOfferEmail): "Offer e-mail",
}

// jobLabel names a job kind: its label, else its words.
func jobLabel(kind string) string {
	if l, ok := jobLabels[kind]; ok {
		return l
	}
	s := strings.ReplaceAll(kind, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
