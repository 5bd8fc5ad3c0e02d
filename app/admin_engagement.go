package app

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// The engagement pages: timeline, suggestions (with their offer actions) and companies.

// timelinePageSize is how many events a timeline page shows.
const timelinePageSize = 50

// eventSources are engagement_events.source values, for the timeline's filter.
var eventSources = []string{"stripe", "zoho", "web", "admin", "system"}

// knownEventNames are the event names the timeline describes, for its filter.
var knownEventNames = []string{"checkout_started", "checkout_completed", "checkout_expired", "async_payment_succeeded",
	"async_payment_failed", "payment_succeeded", "payment_failed", "invoice_paid", "charge_refunded", "offer_view",
	"offer_email_sent", "email_opened", "email_clicked", "email_bounced", "email_unsubscribed", "email_resubscribed",
	"campaign_sent", "form_submitted", "webinar_registered", "deal_created", "deal_won"}

// timelineQuery is the timeline's filter form, as typed.
type timelineQuery struct {
	Company, Contact, Source, Event, From, To string
}

type timelinePage struct {
	Q          timelineQuery
	Events     []store.FeedEvent
	NextURL    string
	NewestURL  string
	Sources    []string
	EventNames []string
	Message    string
}

func (p timelinePage) errorText() string { return p.Message }

// parseFeedFilter turns timeline query parameters into a filter. A contact may be given by id
// or by e-mail address.
func (s *Server) parseFeedFilter(ctx context.Context, q url.Values) (store.FeedFilter, timelineQuery, error) {
	tq := timelineQuery{Company: strings.TrimSpace(q.Get("company")), Contact: strings.TrimSpace(q.Get("contact")),
		Source: q.Get("source"), Event: strings.TrimSpace(q.Get("event")), From: q.Get("from"), To: q.Get("to")}
	f := store.FeedFilter{CompanyID: tq.Company, ContactID: tq.Contact, Source: tq.Source, EventName: tq.Event}
	if f.Source != "" && !slices.Contains(eventSources, f.Source) {
		return f, tq, invalidf("source must be one of %s", strings.Join(eventSources, ", "))
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

func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	page := timelinePage{Sources: eventSources, EventNames: knownEventNames}
	f, tq, err := s.parseFeedFilter(r.Context(), q)
	page.Q = tq
	if err != nil {
		status := statusOf(err)
		if status >= 500 {
			s.renderError(w, r, err)
			return
		}
		page.Message = store.ErrorMessage(err)
		s.render(w, r, status, "timeline", "Timeline", page)
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
	s.render(w, r, http.StatusOK, "timeline", "Timeline", page)
}

// suggestionsPageSize is how many suggestions a page shows.
const suggestionsPageSize = 50

// offerKeys are the offers staff can send or link from a suggestion.
var offerKeys = []string{"reorder", "winback", "new_tool", "portal"}

// offerKeyFor is the offer that answers a suggestion's action type.
func offerKeyFor(actionType string) string {
	switch actionType {
	case "reorder_reminder":
		return "reorder"
	case "engagement_needed":
		return "winback"
	}
	return "portal"
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
}

func (p suggestionsPage) errorText() string { return p.Message }

type suggestionView struct {
	store.Suggestion
	OfferKey string
}

type mintedLink struct {
	CompanyID, CompanyName, OfferKey, URL string
	ExpiresAt                             time.Time
}

func (s *Server) suggestionsPage(ctx context.Context, q url.Values) (suggestionsPage, error) {
	page := suggestionsPage{Company: strings.TrimSpace(q.Get("company")), Action: q.Get("action"), OfferKeys: offerKeys,
		Actions: []string{"reorder_reminder", "engagement_needed", "portal_invite"}, Back: q.Encode()}
	if f := offerEmailFeature(s.cfg); !f.On() {
		page.SendNote = "Sending offers is not available: " + f.Why() + "."
	}
	if _, err := s.offerKeyring(); err != nil {
		page.LinkNote = "Offer links are not available: " + err.Error() + "."
	}
	offset, err := queryInt(q, "offset", 0, 0, 1_000_000)
	if err != nil {
		return page, err
	}
	all, at, err := s.admin.suggestions.get(ctx, q.Get("fresh") != "")
	if err != nil {
		return page, err
	}
	page.ComputedAt = at
	items, more := suggestionQuery{CompanyID: page.Company, ActionType: page.Action, Offset: offset,
		Limit: suggestionsPageSize}.pick(all)
	if more {
		page.NextURL = withQuery("/admin/suggestions", q, "offset", strconv.Itoa(offset+suggestionsPageSize))
	}
	page.RefreshURL = withQuery("/admin/suggestions", q, "fresh", "1")
	if offset > 0 {
		page.PrevURL = withQuery("/admin/suggestions", q, "offset", strconv.Itoa(max(0, offset-suggestionsPageSize)))
	}
	for _, it := range items {
		page.Items = append(page.Items, suggestionView{Suggestion: it, OfferKey: offerKeyFor(it.ActionType)})
	}
	return page, nil
}

func (s *Server) handleSuggestions(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	page, err := s.suggestionsPage(r.Context(), r.URL.Query())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "suggestions", "Suggestions", page)
}

// offerKeyring parses TOKEN_SECRET for minting links from the admin UI.
func (s *Server) offerKeyring() (*offertoken.Keyring, error) {
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
		return "", "", invalidf("company_id is required")
	}
	if offerKey == "" {
		offerKey = offerKeyFor(r.PostForm.Get("action_type"))
	}
	if len(offerKey) > 100 {
		return "", "", invalidf("offer_key: at most 100 characters")
	}
	return companyID, offerKey, nil
}

// handleSuggestionLink mints an offer link for a company on the server and shows it in a
// read-only field, ready to copy.
func (s *Server) handleSuggestionLink(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
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
	page, err := s.suggestionsPage(ctx, backQuery(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page.Link = &mintedLink{CompanyID: co.ID, CompanyName: co.Name, OfferKey: offerKey,
		URL: strings.TrimRight(s.cfg.BaseURL, "/") + "/x/" + token, ExpiresAt: now.Add(offertoken.DefaultTTL)}
	s.render(w, r, http.StatusOK, "suggestions", "Suggestions", page)
}

// handleSuggestionSend queues the offer e-mail to the company's consenting contacts through
// SendOffers and shows who gets it and who does not.
func (s *Server) handleSuggestionSend(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	companyID, offerKey, err := offerForm(w, r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if f := offerEmailFeature(s.cfg); !f.On() {
		s.renderStatus(w, r, http.StatusServiceUnavailable, "Sending offers is not available: "+f.Why()+".")
		return
	}
	ctx := r.Context()
	req := OfferSendRequest{CompanyIDs: []string{companyID}, OfferKey: offerKey,
		CampaignKey: "admin-" + s.db.Now().Format("2006-01-02")}
	rep, err := SendOffers(ctx, s.db, req)
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
	s.render(w, r, http.StatusOK, "suggestions", "Suggestions", page)
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

func (s *Server) handleCompanies(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
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
	s.render(w, r, http.StatusOK, "companies", "Companies", page)
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
}

const purchasesPageSize = 25

func (s *Server) handleCompany(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
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
	all, _, ready := s.admin.suggestions.peek()
	page.SuggestionsPending = !ready
	sugg, _ := suggestionQuery{CompanyID: id, Limit: 10}.pick(all)
	for _, it := range sugg {
		page.Suggestions = append(page.Suggestions, suggestionView{Suggestion: it, OfferKey: offerKeyFor(it.ActionType)})
	}
	if page.Payload, err = s.db.GetConsumablePayload(ctx, id); err != nil {
		s.renderError(w, r, err)
		return
	}
	page.PayloadJSON = prettyJSON(map[string]any{"company_id": page.Payload.CompanyID, "currency": page.Payload.Currency,
		"reorder_items": page.Payload.ReorderItems, "by_tool_tabs": page.Payload.ByToolTabs})
	page.HasZoho = s.cfg.ZohoOrganizationID != ""
	page.OfferKeys = offerKeys
	if f := offerEmailFeature(s.cfg); !f.On() {
		page.SendNote = "Sending offers is not available: " + f.Why() + "."
	}
	if _, err := s.offerKeyring(); err != nil {
		page.LinkNote = "Offer links are not available: " + err.Error() + "."
	}
	s.render(w, r, http.StatusOK, "company", page.Company.Name, page)
}
