package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// The engagement pages: timeline, suggestions (with their offer actions) and companies.

// timelinePageSize is how many events a timeline page shows.
const timelinePageSize = 50

// eventSources are engagement_events.source values (declared in store), for the filters.
func eventSources() []string { return store.EventSources() }

// timelineQuery is the timeline's filter form, as typed.
type timelineQuery struct {
	Company, Contact, Source, Event, From, To string
}

type timelinePage struct {
	Q          timelineQuery
	Events     []store.FeedEvent
	NextURL    string
	NewestURL  string
	Sources    []eventOption
	EventNames []eventOption
	Message    string
	// Choices are the companies an ambiguous company name matches.
	Choices []store.CompanySummary
}

func (p timelinePage) errorText() string { return p.Message }

// parseFeedFilter turns timeline query parameters into a filter. A contact may be given by id
// or by e-mail address.
func (s *Console) parseFeedFilter(ctx context.Context, q url.Values) (store.FeedFilter, timelineQuery, error) {
	tq := timelineQuery{Company: strings.TrimSpace(q.Get("company")), Contact: strings.TrimSpace(q.Get("contact")),
		Source: q.Get("source"), Event: strings.TrimSpace(q.Get("event")), From: q.Get("from"), To: q.Get("to")}
	f := store.FeedFilter{CompanyID: tq.Company, ContactID: tq.Contact, Source: tq.Source, EventName: tq.Event}
	if f.Source != "" && !slices.Contains(eventSources(), f.Source) {
		return f, tq, web.Invalidf("source must be one of %s", strings.Join(eventSources(), ", "))
	}
	if strings.Contains(f.ContactID, "@") {
		k, err := s.db.FindContactByEmail(ctx, f.ContactID)
		if store.ErrorCode(err) == store.ENOTFOUND {
			return f, tq, store.Errorf(store.ENOTFOUND, "no contact has the e-mail address %s", f.ContactID)
		}
		if err != nil {
			return f, tq, err
		}
		f.ContactID = k.ID
	}
	var err error
	if f.From, err = queryDate(q, "from", false); err != nil {
		return f, tq, err
	}
	if f.To, err = queryDate(q, "to", true); err != nil {
		return f, tq, err
	}
	if after := q.Get("after"); after != "" {
		if f.After, err = store.ParseFeedCursor(after); err != nil {
			return f, tq, err
		}
	}
	return f, tq, nil
}

func (s *Console) handleTimeline(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	page := timelinePage{Sources: sourceOptions(), EventNames: eventOptions()}
	f, tq, err := s.parseFeedFilter(r.Context(), q)
	page.Q = tq
	if err == nil && tq.Company != "" {
		f.CompanyID, page.Choices, err = s.resolveCompany(r.Context(), tq.Company)
	}
	if err != nil {
		status := web.StatusOf(err)
		if status >= 500 {
			s.renderError(w, r, err)
			return
		}
		page.Message = store.ErrorMessage(err)
		s.render(w, r, status, pageTimeline, "Timeline", page)
		return
	}
	f.Limit = timelinePageSize + 1
	events, err := s.db.EngagementFeed(r.Context(), f)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(events) > timelinePageSize {
		events = events[:timelinePageSize]
		page.NextURL = withQuery("/admin/timeline", q, "after", events[len(events)-1].Cursor().String())
	}
	if f.After.EventID > 0 {
		page.NewestURL = withQuery("/admin/timeline", q, "after", "")
	}
	page.Events = events
	s.render(w, r, http.StatusOK, pageTimeline, "Timeline", page)
}

// suggestionsPageSize is how many suggestions a page shows.
const suggestionsPageSize = 50

// offerKeyFor is the offer that answers a suggestion's action type (declared in store); an
// unknown type is an error, never a silent default.
func offerKeyFor(actionType string) (string, error) {
	a, err := store.LookupActionType(actionType)
	return a.OfferKey, err
}

// suggestionViews pairs each suggestion with the offer that answers it.
func suggestionViews(items []store.Suggestion) ([]suggestionView, error) {
	var out []suggestionView
	for _, it := range items {
		key, err := offerKeyFor(it.ActionType)
		if err != nil {
			return nil, fmt.Errorf("suggestion for %s: %w", it.CompanyID, err)
		}
		out = append(out, suggestionView{Suggestion: it, OfferKey: key})
	}
	return out, nil
}

// actionTypeNames lists the declared suggestion action types, for the filter.
func actionTypeNames() []string {
	var out []string
	for _, a := range store.ActionTypes() {
		out = append(out, string(a.Type))
	}
	return out
}

// actionTypeOptions lists the declared action types with their labels, for the filter.
func actionTypeOptions() []eventOption {
	var out []eventOption
	for _, a := range store.ActionTypes() {
		out = append(out, eventOption{Name: string(a.Type), Label: a.Label})
	}
	return out
}

type suggestionsPage struct {
	Company    string
	Action     string
	Items      []suggestionView
	NextURL    string
	PrevURL    string
	Link       *mintedLink
	SendNote   string // why sending is off, when it is
	LinkNote   string // why links are off, when they are
	OfferKeys  []string
	Actions    []string
	Message    string
	Report     *OfferSendReport
	ReportFrom string
	Back       string // the page's query, posted back by its forms so the answer keeps the filters
	ComputedAt time.Time
	RefreshURL string
	Choices    []store.CompanySummary // the companies an ambiguous company name matches
	ActionOpts []eventOption          // action types with their labels, for the filter
	Hidden     bool                   // showing the dismissed and snoozed suggestions
	HiddenURL  string                 // the other list (hidden ones, or the active ones)
}

func (p suggestionsPage) errorText() string { return p.Message }

type suggestionView struct {
	store.Suggestion
	OfferKey    string
	Explanation string // the score in words
	Acted       string // what was last done for the company, by whom and when
	Decision    string // dismissed or snoozed (only when showing hidden suggestions)
}

type mintedLink struct {
	CompanyID, CompanyName, OfferKey, URL string
	ExpiresAt                             time.Time
}

func (s *Console) suggestionsPage(ctx context.Context, q url.Values) (suggestionsPage, error) {
	page := suggestionsPage{Company: strings.TrimSpace(q.Get("company")), Action: q.Get("action"), OfferKeys: s.cfg.OfferKeys,
		Actions: actionTypeNames(), ActionOpts: actionTypeOptions(), Back: q.Encode()}
	if f := s.cfg.Features.OfferEmail; !f.On() {
		page.SendNote = "Sending offers is not available: " + f.Why() + "."
	}
	if _, err := s.offerKeyring(); err != nil {
		page.LinkNote = "Offer links are not available: " + err.Error() + "."
	}
	offset, err := queryInt(q, "offset", 0, 0, 1_000_000)
	if err != nil {
		return page, err
	}
	all, at, err := s.suggestions.get(ctx, q.Get("fresh") != "")
	if err != nil {
		return page, err
	}
	page.ComputedAt = at
	page.Hidden = q.Get("hidden") != ""
	decisions, err := s.db.HiddenSuggestions(ctx, s.db.Now())
	if err != nil {
		return page, err
	}
	all = applyDecisions(all, decisions, page.Hidden)
	companyID := ""
	if page.Company != "" {
		if companyID, page.Choices, err = s.resolveCompany(ctx, page.Company); err != nil {
			return page, err
		}
	}
	items, more := suggestionQuery{CompanyID: companyID, ActionType: page.Action, Offset: offset,
		Limit: suggestionsPageSize}.pick(all)
	if more {
		page.NextURL = withQuery("/admin/suggestions", q, "offset", strconv.Itoa(offset+suggestionsPageSize))
	}
	page.RefreshURL = withQuery("/admin/suggestions", q, "fresh", "1")
	if offset > 0 {
		page.PrevURL = withQuery("/admin/suggestions", q, "offset", strconv.Itoa(max(0, offset-suggestionsPageSize)))
	}
	if page.Items, err = suggestionViews(items); err != nil {
		return page, err
	}
	other := "1"
	if page.Hidden {
		other = ""
	}
	page.HiddenURL = withQuery("/admin/suggestions", q, "hidden", other, "offset", "", "fresh", "")
	return page, s.decorateSuggestions(ctx, page.Items, decisions)
}

func (s *Console) handleSuggestions(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	page, err := s.suggestionsPage(r.Context(), r.URL.Query())
	if status := web.StatusOf(err); err != nil && status < 500 {
		// A filter staff typed (an unknown or ambiguous company): the page, with the message.
		page.Message = store.ErrorMessage(err)
		s.render(w, r, status, pageSuggestions, "Suggestions", page)
		return
	} else if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, pageSuggestions, "Suggestions", page)
}

// offerKeyring parses TOKEN_SECRET for minting links from the admin UI.
func (s *Console) offerKeyring() (*offertoken.Keyring, error) {
	if s.cfg.TokenSecret == "" {
		return nil, store.Errorf(store.EUNAVAILABLE, "TOKEN_SECRET is not set")
	}
	k, err := offertoken.ParseKeyring(s.cfg.TokenSecret)
	if err != nil {
		return nil, store.Errorf(store.EUNAVAILABLE, "TOKEN_SECRET is not valid")
	}
	return k, nil
}

// offerForm reads a suggestion action's form: the company and the offer to send or link.
func offerForm(w http.ResponseWriter, r *http.Request) (companyID, offerKey string, err error) {
	if err := parseAdminForm(w, r); err != nil {
		return "", "", err
	}
	companyID, offerKey = strings.TrimSpace(r.PostForm.Get("company_id")), strings.TrimSpace(r.PostForm.Get("offer_key"))
	if companyID == "" {
		return "", "", web.Invalidf("company_id is required")
	}
	if offerKey == "" {
		if offerKey, err = offerKeyFor(r.PostForm.Get("action_type")); err != nil {
			return "", "", web.Invalidf("offer_key or a known action_type is required")
		}
	}
	if len(offerKey) > 100 {
		return "", "", web.Invalidf("offer_key: at most 100 characters")
	}
	return companyID, offerKey, nil
}

// handleSuggestionLink mints an offer link for a company on the server and shows it in a
// read-only field, ready to copy.
func (s *Console) handleSuggestionLink(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	companyID, offerKey, err := offerForm(w, r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	keys, err := s.offerKeyring()
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	co, err := s.db.GetCompany(ctx, companyID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	now := s.db.Now()
	token, err := keys.Mint(offertoken.Claims{CompanyID: co.ID, OfferKey: offerKey, CampaignKey: "admin-link"}, now, offertoken.DefaultTTL)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.audit(r, "offer.link", co.ID, map[string]string{"offer_key": offerKey, "token": offertoken.Redact(token)})
	linkURL := strings.TrimRight(s.cfg.BaseURL, "/") + "/x/" + token
	if wantsJSON(r) { // the page's script copies it without a reload
		web.JSON(w, http.StatusOK, map[string]any{"url": linkURL, "offer_key": offerKey, "company_id": co.ID,
			"company_name": co.Name, "expires_at": now.Add(offertoken.DefaultTTL)})
		return
	}
	page, err := s.suggestionsPage(ctx, backQuery(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page.Link = &mintedLink{CompanyID: co.ID, CompanyName: co.Name, OfferKey: offerKey,
		URL: linkURL, ExpiresAt: now.Add(offertoken.DefaultTTL)}
	s.render(w, r, http.StatusOK, pageSuggestions, "Suggestions", page)
}

// handleSuggestionSend queues the offer e-mail to the company's consenting contacts through
// SendOffers and shows who gets it and who does not.
func (s *Console) handleSuggestionSend(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if f := s.cfg.Features.OfferEmail; !f.On() {
		s.renderStatus(w, r, http.StatusServiceUnavailable, "Sending offers is not available: "+f.Why()+".")
		return
	}
	companyID, offerKey, err := offerForm(w, r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	req := OfferSendRequest{CompanyIDs: []string{companyID}, OfferKey: offerKey,
		CampaignKey: "admin-" + s.db.Now().Format("2006-01-02")}
	rep, err := s.svc.SendOffers(ctx, req)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.audit(r, "offer.send", companyID, map[string]any{"offer_key": offerKey, "campaign_key": req.CampaignKey,
		"queued": rep.Queued, "eligible": len(rep.Eligible), "ineligible": len(rep.Ineligible)})
	page, err := s.suggestionsPage(ctx, backQuery(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page.Report, page.ReportFrom = &rep, companyID
	s.render(w, r, http.StatusOK, pageSuggestions, "Suggestions", page)
}

// backQuery is the query of the suggestions page a form was posted from (its "back" field), so
// the page rendered in answer keeps its filters.
func backQuery(r *http.Request) url.Values {
	q, err := url.ParseQuery(r.PostForm.Get("back"))
	if err != nil {
		return url.Values{}
	}
	return q
}

type companiesPage struct {
	Query     string
	Companies []store.CompanySummary
	Total     int
	From, To  int
	Table     tableState
}

const companiesPageSize = 50

// companySortKeys are the companies list's sortable columns (store.CompanySortKeys holds the SQL).
var companySortKeys = []sortKey{{"name", false}, {"id", false}, {"country", false}, {"last_activity", true},
	{"last_purchase", true}, {"revenue_12m", true}, {"score", true}}

func (s *Console) handleCompanies(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	if q.Get("sort") == "activity" { // the earlier spelling, in bookmarks
		q.Set("sort", "last_activity")
	}
	page := companiesPage{Query: strings.TrimSpace(q.Get("q")),
		Table: parseTable("/admin/companies", q, companySortKeys, "name", companiesPageSize)}
	var err error
	page.Companies, page.Total, err = s.db.SearchCompanies(r.Context(), store.CompanyFilter{Query: page.Query,
		Sort: page.Table.Key, Desc: page.Table.Desc, Offset: page.Table.Offset(), Limit: companiesPageSize})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page.From, page.To = page.Table.Offset()+1, page.Table.Offset()+len(page.Companies)
	page.Table.More = page.To < page.Total
	s.render(w, r, http.StatusOK, pageCompanies, "Companies", page)
}

type companyPage struct {
	Company     store.CompanySummary
	Contacts    []store.Contact
	Orders      []store.AdminOrder
	Events      []store.FeedEvent
	Suggestions []suggestionView
	Purchases   store.PurchaseHistory
	// PurchaseTable pages the purchase history (?page=N), newest first.
	PurchaseTable tableState
	Payload       store.ConsumablePayload
	PayloadJSON   string
	HasZoho       bool
	LinkNote      string
	// SuggestionsPending is true while the first computation of suggestions runs.
	SuggestionsPending bool
	SendNote           string
	OfferKeys          []string
	PaymentLink        *paymentLinkForm
}

const purchasesPageSize = 25

func (s *Console) handleCompany(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ctx := r.Context()
	id := ps.ByName("id")
	var page companyPage
	var err error
	if page.Company, err = s.db.CompanySummaryByID(ctx, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	if page.Contacts, err = s.db.ListContacts(ctx, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	if page.Orders, err = s.db.ListAdminOrders(ctx, store.AdminOrderFilter{CompanyID: id, Limit: 20}); err != nil {
		s.renderError(w, r, err)
		return
	}
	page.PurchaseTable = parseTable("/admin/companies/"+url.PathEscape(id), r.URL.Query(), nil, "", purchasesPageSize)
	if page.Purchases, err = s.db.CompanyPurchases(ctx, id, page.PurchaseTable.Page, purchasesPageSize); err != nil {
		s.renderError(w, r, err)
		return
	}
	page.PurchaseTable.More = page.PurchaseTable.Offset()+len(page.Purchases.Purchases) < page.Purchases.Lines
	if page.Events, err = s.db.EngagementFeed(ctx, store.FeedFilter{CompanyID: id, Limit: 20}); err != nil {
		s.renderError(w, r, err)
		return
	}
	// The company page does not wait for a first computation of all suggestions.
	all, _, ready := s.suggestions.peek()
	page.SuggestionsPending = !ready
	sugg, _ := suggestionQuery{CompanyID: id, Limit: 10}.pick(all)
	if page.Suggestions, err = suggestionViews(sugg); err != nil {
		s.renderError(w, r, err)
		return
	}
	if err = s.decorateCompanySuggestions(ctx, page.Suggestions); err != nil {
		s.renderError(w, r, err)
		return
	}
	if page.Payload, err = s.db.GetConsumablePayload(ctx, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	page.PayloadJSON = prettyJSON(map[string]any{"company_id": page.Payload.CompanyID, "currency": page.Payload.Currency,
		"reorder_items": page.Payload.ReorderItems, "by_tool_tabs": page.Payload.ByToolTabs})
	page.HasZoho = s.cfg.ZohoOrganizationID != ""
	page.PaymentLink = s.paymentLinkFormFor(ctx, page.Company.Currency)
	page.OfferKeys = s.cfg.OfferKeys
	if f := s.cfg.Features.OfferEmail; !f.On() {
		page.SendNote = "Sending offers is not available: " + f.Why() + "."
	}
	if _, err := s.offerKeyring(); err != nil {
		page.LinkNote = "Offer links are not available: " + err.Error() + "."
	}
	s.render(w, r, http.StatusOK, pageCompany, page.Company.Name, page)
}

// The engagement pages and their offer actions (staff may send offers and mint links).
var (
	pageTimeline    = declarePage(adminPage{key: pageKey{"timeline"}, nav: "Timeline", navPath: "/admin/timeline", navOrder: 20, navRole: roleStaff})
	pageSuggestions = declarePage(adminPage{key: pageKey{"suggestions"}, nav: "Suggestions", navPath: "/admin/suggestions", navOrder: 30, navRole: roleStaff})
	pageCompanies   = declarePage(adminPage{key: pageKey{"companies"}, nav: "Companies", navPath: "/admin/companies", navOrder: 40, navRole: roleStaff})
	pageCompany     = declarePage(adminPage{key: pageKey{"company"}})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodGet, path: "/admin/timeline", role: roleStaff, handle: (*Console).handleTimeline},
		adminRoute{method: http.MethodGet, path: "/admin/suggestions", role: roleStaff, handle: (*Console).handleSuggestions},
		adminRoute{method: http.MethodPost, path: "/admin/suggestions/send", role: roleStaff, handle: (*Console).handleSuggestionSend},
		adminRoute{method: http.MethodPost, path: "/admin/suggestions/link", role: roleStaff, handle: (*Console).handleSuggestionLink},
		adminRoute{method: http.MethodGet, path: "/admin/companies", role: roleStaff, handle: (*Console).handleCompanies},
		adminRoute{method: http.MethodGet, path: "/admin/companies/:id", role: roleStaff, handle: (*Console).handleCompany},
	)
)
