package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// The operations pages: orders, the outbox and its jobs, webhook deliveries.

// orderStatuses are the order statuses (declared in store), for the orders filter.
func orderStatuses() []string {
	var out []string
	for _, st := range store.OrderStatuses() {
		out = append(out, string(st))
	}
	return out
}

type ordersPage struct {
	Status, Company, From, To string
	Order                     string // one order id, e.g. from a company's purchase history
	Table                     tableState
	Statuses                  []string
	Orders                    []store.AdminOrder
	Totals                    []store.OrderTotal
	HasZoho                   bool
	Message                   string
}

func (p ordersPage) errorText() string { return p.Message }

const ordersPageSize = 50

var orderSortKeys = []sortKey{{"created", true}, {"order", false}, {"customer", false}, {"status", false},
	{"total", true}, {"paid_at", true}}

var jobSortKeys = []sortKey{{"id", true}, {"type", false}, {"status", false}, {"attempts", true},
	{"scheduled", true}, {"updated", true}}

var deliverySortKeys = []sortKey{{"id", true}, {"provider", false}, {"type", false}, {"status", false},
	{"received", true}, {"attempts", true}}

func (s *Console) handleOrders(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	page := ordersPage{Status: q.Get("status"), Company: strings.TrimSpace(q.Get("company")), From: q.Get("from"),
		To: q.Get("to"), Statuses: orderStatuses(), HasZoho: s.cfg.ZohoOrganizationID != "",
		Order: strings.TrimSpace(q.Get("order")),
		Table: parseTable("/admin/orders", q, orderSortKeys, "created", ordersPageSize)}
	f := store.AdminOrderFilter{Status: page.Status, CompanyID: page.Company, OrderID: page.Order, Limit: ordersPageSize + 1,
		Sort: store.ListSort{Key: page.Table.Key, Desc: page.Table.Desc, Offset: page.Table.Offset()}}
	var err error
	if f.Status != "" && !slices.Contains(orderStatuses(), f.Status) {
		err = web.Invalidf("status must be one of %s", strings.Join(orderStatuses(), ", "))
	}
	if err == nil && page.Company != "" { // a name, part of one, or an id (admin_filters.go)
		f.CompanyID, _, err = s.resolveCompany(r.Context(), page.Company)
	}
	if err == nil {
		f.From, err = queryDate(q, "from", false)
	}
	if err == nil {
		f.To, err = queryDate(q, "to", true)
	}
	if after := q.Get("after"); err == nil && after != "" {
		f.After, err = store.ParseOrderCursor(after)
	}
	if err != nil {
		page.Message = store.ErrorMessage(err)
		s.render(w, r, web.StatusOf(err), pageOrders, "Orders", page)
		return
	}
	ctx := r.Context()
	if page.Orders, err = s.db.ListAdminOrders(ctx, f); err != nil {
		s.renderError(w, r, err)
		return
	}
	if page.Totals, err = s.db.AdminOrderTotals(ctx, f); err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(page.Orders) > ordersPageSize {
		page.Orders = page.Orders[:ordersPageSize]
		page.Table.More = true
	}
	s.render(w, r, http.StatusOK, pageOrders, "Orders", page)
}

type outboxPage struct {
	Status   store.JobStatus
	Type     string
	Statuses []store.JobStatus
	Types    []string
	Counts   []outboxTypeCounts
	Totals   []int
	Jobs     []store.Job
	Table    tableState
	Message  string
}

func (p outboxPage) errorText() string { return p.Message }

type outboxTypeCounts struct {
	Type   string
	Counts []int // in store.JobStatuses() order
}

const outboxPageSize = 50

func (s *Console) handleOutbox(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx := r.Context()
	q := r.URL.Query()
	page := outboxPage{Status: store.JobStatus(q.Get("status")), Type: strings.TrimSpace(q.Get("type")), Statuses: store.JobStatuses(),
		Table: parseTable("/admin/outbox", q, jobSortKeys, "id", outboxPageSize)}
	counts, err := s.db.JobCounts(ctx)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page.Counts, page.Totals = outboxCountTable(counts)
	typeSet := map[string]bool{}
	for _, t := range s.svc.JobTypes() {
		typeSet[t] = true
	}
	for _, c := range page.Counts {
		typeSet[c.Type] = true
	}
	for t := range typeSet {
		page.Types = append(page.Types, t)
	}
	sort.Strings(page.Types)
	before, err := queryInt(q, "before", 0, 0, 1<<62)
	if err != nil {
		page.Message = store.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, pageOutbox, "Outbox", page)
		return
	}
	jobs, err := s.db.ListJobs(ctx, store.JobFilter{Status: page.Status, Type: page.Type, BeforeID: int64(before),
		Limit: outboxPageSize + 1, Sort: store.ListSort{Key: page.Table.Key, Desc: page.Table.Desc, Offset: page.Table.Offset()}})
	if err != nil {
		if store.ErrorCode(err) == store.EINVALID {
			page.Message = store.ErrorMessage(err)
			s.render(w, r, http.StatusBadRequest, pageOutbox, "Outbox", page)
			return
		}
		s.renderError(w, r, err)
		return
	}
	if len(jobs) > outboxPageSize {
		jobs = jobs[:outboxPageSize]
		page.Table.More = true
	}
	page.Jobs = jobs
	s.render(w, r, http.StatusOK, pageOutbox, "Outbox", page)
}

// outboxCountTable lays JobCounts out as one row per job type, a column per status.
func outboxCountTable(counts map[store.JobStatus]map[string]int) ([]outboxTypeCounts, []int) {
	byType := map[string][]int{}
	totals := make([]int, len(store.JobStatuses()))
	for i, st := range store.JobStatuses() {
		for typ, n := range counts[st] {
			if byType[typ] == nil {
				byType[typ] = make([]int, len(store.JobStatuses()))
			}
			byType[typ][i] += n
			totals[i] += n
		}
	}
	var rows []outboxTypeCounts
	for typ, c := range byType {
		rows = append(rows, outboxTypeCounts{Type: typ, Counts: c})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Type < rows[j].Type })
	return rows, totals
}

type jobPage struct {
	Job       store.Job
	CanRetry  bool
	CanCancel bool
}

func jobIDParam(ps httprouter.Params) (int64, error) {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.Errorf(store.ENOTFOUND, "no such job")
	}
	return id, nil
}

func (s *Console) handleJob(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id, err := jobIDParam(ps)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.db.GetJob(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page := jobPage{Job: job,
		CanRetry:  job.Status == store.JobFailed || job.Status == store.JobDead,
		CanCancel: job.Status == store.JobPending || job.Status == store.JobFailed || job.Status == store.JobDead}
	s.render(w, r, http.StatusOK, pageJob, fmt.Sprintf("Job #%d", job.ID), page)
}

// retryJob makes a failed or dead job due now and records who did it, in one transaction,
// then wakes the worker.
func (s *Console) retryJob(r *http.Request, id int64) error {
	if err := s.auditedUpdate(r, "outbox.retry", "job:"+strconv.FormatInt(id, 10), nil, func(tx *store.Tx) error {
		return tx.RetryJob(r.Context(), id)
	}); err != nil {
		return err
	}
	s.svc.WakeWorker()
	return nil
}

func (s *Console) handleJobRetry(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id, err := jobIDParam(ps)
	if err == nil {
		err = s.retryJob(r, id)
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.redirectNotice(w, r, backTo(r, fmt.Sprintf("/admin/jobs/%d", id)),
		fmt.Sprintf("Job #%d is queued to run again now.", id))
}

func (s *Console) handleJobCancel(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id, err := jobIDParam(ps)
	if err == nil {
		err = s.auditedUpdate(r, "outbox.cancel", "job:"+strconv.FormatInt(id, 10), nil, func(tx *store.Tx) error {
			return tx.CancelJob(r.Context(), id)
		})
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.redirectNotice(w, r, backTo(r, fmt.Sprintf("/admin/jobs/%d", id)), fmt.Sprintf("Job #%d is cancelled.", id))
}

// outboxRunNowBudget bounds "run now" so the page answers well within the write timeout.
const outboxRunNowBudget = 20 * time.Second

func (s *Console) handleOutboxRunNow(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(r.Context(), outboxRunNowBudget+5*time.Second)
	defer cancel()
	processed, failed, err := s.svc.RunDueJobs(ctx, outboxRunNowBudget)
	s.audit(r, "outbox.run", "", map[string]any{"processed": processed, "failed": failed})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.redirectNotice(w, r, backTo(r, "/admin/outbox"),
		fmt.Sprintf("Ran the due jobs: %d processed, %d failed.", processed, failed))
}

type webhooksPage struct {
	Provider, Status string
	Statuses         []store.DeliveryStatusOption
	Deliveries       []store.AdminDelivery
	Table            tableState
	Message          string
}

func (p webhooksPage) errorText() string { return p.Message }

const webhooksPageSize = 50

func (s *Console) handleWebhooks(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	page := webhooksPage{Provider: q.Get("provider"), Status: store.DeliveryStatusLabel(q.Get("status")), Statuses: store.DeliveryStatusOptions(),
		Table: parseTable("/admin/webhooks", q, deliverySortKeys, "id", webhooksPageSize)}
	before, err := queryInt(q, "before", 0, 0, 1<<62)
	if err != nil {
		page.Message = store.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, pageWebhooks, "Webhook deliveries", page)
		return
	}
	list, err := s.db.ListAdminDeliveries(r.Context(), store.AdminDeliveryFilter{Provider: page.Provider,
		Status: page.Status, BeforeID: int64(before), Limit: webhooksPageSize + 1,
		Sort: store.ListSort{Key: page.Table.Key, Desc: page.Table.Desc, Offset: page.Table.Offset()}})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(list) > webhooksPageSize {
		list = list[:webhooksPageSize]
		page.Table.More = true
	}
	page.Deliveries = list
	s.render(w, r, http.StatusOK, pageWebhooks, "Webhook deliveries", page)
}

type webhookPage struct {
	Delivery  store.AdminDelivery
	BodyJSON  string
	CanReplay bool
	Why       string      // why it cannot be replayed
	Refusal   refusalHelp // for refused requests: what to check (webhook_refusals.go)
}

func deliveryIDParam(ps httprouter.Params) (int64, error) {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, store.Errorf(store.ENOTFOUND, "no such webhook delivery")
	}
	return id, nil
}

// replayable says whether a stored delivery can be fed through the webhook's code path again.
func replayable(d store.AdminDelivery) (bool, string) {
	switch {
	case d.Refused():
		return false, "Refused requests cannot be replayed: nothing of them was trusted or kept."
	case d.Provider != "stripe" && d.Provider != "zoho":
		return false, "Only Stripe and Zoho deliveries can be replayed."
	case !d.HasBody:
		return false, "The raw body is no longer stored (bodies are kept for WEBHOOK_BODY_RETENTION)."
	}
	return true, ""
}

func (s *Console) handleWebhook(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id, err := deliveryIDParam(ps)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d, err := s.db.GetAdminDelivery(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	page := webhookPage{Delivery: d, BodyJSON: deliveryBodyText(d), Refusal: explainRefusal(d)}
	page.CanReplay, page.Why = replayable(d)
	s.render(w, r, http.StatusOK, pageWebhook, fmt.Sprintf("Webhook delivery #%d", d.ID), page)
}

// handleWebhookReplay feeds a stored delivery's body through the same code path as its
// webhook (signature or secret aside: the body was trusted when it arrived; see
// replayDelivery). A delivery already applied counts as a repeat, so a replay never applies twice.
func (s *Console) handleWebhookReplay(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id, err := deliveryIDParam(ps)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	d, err := s.db.GetAdminDelivery(ctx, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if ok, why := replayable(d); !ok {
		s.renderStatus(w, r, http.StatusConflict, why)
		return
	}
	msg, detail, err := s.replayDelivery(ctx, d)
	s.audit(r, "webhook.replay", "delivery:"+strconv.FormatInt(id, 10), detail)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.redirectNotice(w, r, fmt.Sprintf("/admin/webhooks/%d", id), msg)
}

// The operations pages: staff read them and retry failed jobs; cancelling jobs, running the
// outbox and replaying webhooks are for admins.
var (
	pageOrders   = declarePage(adminPage{key: pageKey{"orders"}, nav: "Orders", navPath: "/admin/orders", navOrder: 50, navRole: roleStaff})
	pageOutbox   = declarePage(adminPage{key: pageKey{"outbox"}, nav: "Outbox", navPath: "/admin/outbox", navOrder: 60, navRole: roleStaff})
	pageJob      = declarePage(adminPage{key: pageKey{"job"}})
	pageWebhooks = declarePage(adminPage{key: pageKey{"webhooks"}, nav: "Webhooks", navPath: "/admin/webhooks", navOrder: 70, navRole: roleStaff})
	pageWebhook  = declarePage(adminPage{key: pageKey{"webhook"}})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodGet, path: "/admin/orders", role: roleStaff, handle: (*Console).handleOrders},
		adminRoute{method: http.MethodGet, path: "/admin/outbox", role: roleStaff, handle: (*Console).handleOutbox},
		adminRoute{method: http.MethodPost, path: "/admin/outbox/run", role: roleAdmin,
			deny: "Only admins can run the outbox.", handle: (*Console).handleOutboxRunNow},
		adminRoute{method: http.MethodGet, path: "/admin/jobs/:id", role: roleStaff, handle: (*Console).handleJob},
		adminRoute{method: http.MethodPost, path: "/admin/jobs/:id/retry", role: roleStaff, handle: (*Console).handleJobRetry},
		adminRoute{method: http.MethodPost, path: "/admin/jobs/:id/cancel", role: roleAdmin,
			deny: "Only admins can cancel jobs.", handle: (*Console).handleJobCancel},
		adminRoute{method: http.MethodGet, path: "/admin/webhooks", role: roleStaff, handle: (*Console).handleWebhooks},
		adminRoute{method: http.MethodGet, path: "/admin/webhooks/:id", role: roleStaff, handle: (*Console).handleWebhook},
		adminRoute{method: http.MethodPost, path: "/admin/webhooks/:id/replay", role: roleAdmin,
			deny: "Only admins can replay webhooks.", handle: (*Console).handleWebhookReplay},
	)
)
