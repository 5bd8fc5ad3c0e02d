package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// The admin JSON API (DESIGN §6). Shapes follow the system this replaces: the feed answers
// {"events": […]}, suggestions {"suggestions": […]}. A limit that is not a number is a 400;
// one out of range is clamped.

func (s *Console) handleAPIEngagementFeed(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 50, 1, 200)
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	f := store.FeedFilter{CompanyID: strings.TrimSpace(q.Get("company_id")), ContactID: strings.TrimSpace(q.Get("contact_id")),
		Source: q.Get("source"), EventName: strings.TrimSpace(q.Get("event_name")), Limit: limit + 1}
	if f.Source != "" && !slices.Contains(eventSources(), f.Source) {
		err = web.Invalidf("source must be one of %s", strings.Join(eventSources(), ", "))
	}
	if err == nil {
		f.From, err = queryTime(q, "from")
	}
	if err == nil {
		f.To, err = queryTime(q, "to")
	}
	if c := q.Get("cursor"); err == nil && c != "" {
		f.After, err = store.ParseFeedCursor(c)
	}
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	events, err := s.db.EngagementFeed(r.Context(), f)
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	resp := map[string]any{"events": events}
	if len(events) > limit {
		events = events[:limit]
		resp["events"], resp["next_cursor"] = events, events[limit-1].Cursor().String()
	}
	web.JSON(w, http.StatusOK, resp)
}

// queryTime parses an optional RFC 3339 timestamp or YYYY-MM-DD (UTC midnight).
func queryTime(q url.Values, name string) (t time.Time, err error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = strings.TrimSpace(vs[0])
	}
	if v == "" {
		return t, nil
	}
	parsed, perr := store.ParseTime(v)
	if perr != nil {
		return t, web.Invalidf("%s must be an RFC 3339 time or a date like 2025-01-31", name)
	}
	return parsed, nil
}

func (s *Console) handleAPISuggestions(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 20, 1, 100)
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	all, at, err := s.suggestions.get(r.Context(), q.Get("fresh") == "true" || q.Get("fresh") == "1")
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	items, _ := suggestionQuery{CompanyID: strings.TrimSpace(q.Get("company_id")),
		ActionType: strings.TrimSpace(q.Get("action_type")), Limit: limit}.pick(all)
	web.JSON(w, http.StatusOK, map[string]any{"suggestions": items, "computed_at": at})
}

// jobIDValue accepts a job id as a JSON number or a numeric string.
type jobIDValue int64

func (v *jobIDValue) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return web.Invalidf("job_id must be a number")
		}
		n = json.Number(s)
	}
	id, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || id <= 0 {
		return web.Invalidf("job_id must be a positive whole number")
	}
	*v = jobIDValue(id)
	return nil
}

func (s *Console) handleAPIOutboxRetry(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var req struct {
		JobID *jobIDValue `json:"job_id"`
	}
	if err := web.DecodeJSON(w, r, web.MaxJSONBody, &req); err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	if req.JobID == nil {
		web.Error(w, r, s.logger, web.Invalidf("job_id is required"))
		return
	}
	id := int64(*req.JobID)
	if err := s.retryJob(r, id); err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	job, err := s.db.GetJob(r.Context(), id)
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"success": true, "job": job})
}

func (s *Console) handleAPICompanies(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit", 20, 1, 100)
	if err == nil {
		var offset int
		if offset, err = queryInt(q, "offset", 0, 0, 10_000_000); err == nil {
			var list []store.CompanySummary
			var total int
			// sort: a key of store.CompanySortKeys (unknown keys answer 400), dir asc|desc;
			// "activity" is the earlier spelling of last_activity, newest first.
			key, desc := q.Get("sort"), q.Get("dir") == "desc"
			if key == "activity" {
				key, desc = "last_activity", q.Get("dir") != "asc"
			}
			list, total, err = s.db.SearchCompanies(r.Context(), store.CompanyFilter{Query: q.Get("q"), Sort: key,
				Desc: desc, Offset: offset, Limit: limit})
			if err == nil {
				web.JSON(w, http.StatusOK, map[string]any{"companies": list, "total": total})
				return
			}
		}
	}
	web.Error(w, r, s.logger, err)
}

func (s *Console) handleAPICompanyContacts(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ctx := r.Context()
	id := ps.ByName("id")
	if _, err := s.db.GetCompany(ctx, id); err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	contacts, err := s.db.ListContacts(ctx, id)
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	if contacts == nil {
		contacts = []store.Contact{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"contacts": contacts})
}

// handleAPIOfferSend queues offer e-mails to the consenting contacts of the companies and
// contacts named, and reports who gets one and who does not.
func (s *Console) handleAPIOfferSend(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if f := s.cfg.Features.OfferEmail; !f.On() {
		web.ErrorMessage(w, http.StatusServiceUnavailable, f.Why())
		return
	}
	var req OfferSendRequest
	if err := web.DecodeJSON(w, r, web.MaxJSONBody, &req); err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	rep, err := s.svc.SendOffers(r.Context(), req)
	if err != nil {
		web.Error(w, r, s.logger, err)
		return
	}
	web.JSON(w, http.StatusOK, rep)
}

// The JSON twins of the admin pages: a session of the route's role or the bearer token.
var _ = declareAdminRoutes(
	adminRoute{method: http.MethodGet, path: "/api/admin/engagement-feed", role: roleStaff, api: true, handle: (*Console).handleAPIEngagementFeed},
	adminRoute{method: http.MethodGet, path: "/api/admin/suggestions", role: roleStaff, api: true, handle: (*Console).handleAPISuggestions},
	adminRoute{method: http.MethodPost, path: "/api/admin/outbox/retry", role: roleStaff, api: true, handle: (*Console).handleAPIOutboxRetry},
	adminRoute{method: http.MethodGet, path: "/api/admin/companies", role: roleStaff, api: true, handle: (*Console).handleAPICompanies},
	adminRoute{method: http.MethodGet, path: "/api/admin/companies/:id/contacts", role: roleStaff, api: true, handle: (*Console).handleAPICompanyContacts},
	// Staff may send offers; a request that succeeds gets a generic audit entry (serveAudited).
	adminRoute{method: http.MethodPost, path: "/api/admin/offers/send", role: roleStaff, api: true, handle: (*Console).handleAPIOfferSend},
)
