package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// Staff accounts (admins only) and the audit log.

type usersPage struct {
	Users     []store.User
	Created   *store.User
	Password  string // a generated password, shown once
	Email     string
	Role      string
	Message   string
	CurrentID int64
}

func (p usersPage) errorText() string { return p.Message }

func (s *Console) usersPage(r *http.Request) (usersPage, error) {
	users, err := s.db.ListUsers(r.Context())
	page := usersPage{Users: users, Role: store.RoleStaff}
	if p := principalFrom(r.Context()); p != nil {
		page.CurrentID = p.User.ID
	}
	return page, err
}

func (s *Console) handleUsers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	page, err := s.usersPage(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, pageUsers, "Users", page)
}

// handleUserCreate adds an account. A generated password is shown on the page it answers with,
// once, and never stored anywhere but as its hash.
func (s *Console) handleUserCreate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := parseAdminForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	email, role := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("role")
	password := r.PostForm.Get("password")
	user, pw, err := CreateUser(r.Context(), s.db, email, role, password, s.auditEntry(r, "", ""))
	page, lerr := s.usersPage(r)
	if lerr != nil {
		s.renderError(w, r, lerr)
		return
	}
	if err != nil {
		if web.StatusOf(err) >= 500 {
			s.renderError(w, r, err)
			return
		}
		page.Email, page.Role, page.Message = email, role, store.ErrorMessage(err)
		s.render(w, r, web.StatusOf(err), pageUsers, "Users", page)
		return
	}
	page.Created = &user
	if password == "" {
		page.Password = pw
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, pageUsers, "Users", page)
}

func (s *Console) setUserDisabled(w http.ResponseWriter, r *http.Request, ps httprouter.Params, disabled bool) {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil {
		s.renderError(w, r, store.Errorf(store.ENOTFOUND, "no such user"))
		return
	}
	if p := principalFrom(r.Context()); disabled && p != nil && p.User.ID == id {
		s.renderStatus(w, r, http.StatusConflict, "You cannot disable your own account.")
		return
	}
	ctx := r.Context()
	action := map[bool]string{true: "user.disable", false: "user.enable"}[disabled]
	var user store.User
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		if user, err = tx.SetUserDisabled(ctx, id, disabled); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, s.auditEntry(r, action, user.Email), nil)
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	verb := map[bool]string{true: "disabled; their sessions have ended", false: "enabled"}[disabled]
	s.redirectNotice(w, r, "/admin/users", fmt.Sprintf("%s is %s.", user.Email, verb))
}

func (s *Console) handleUserDisable(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	s.setUserDisabled(w, r, ps, true)
}

func (s *Console) handleUserEnable(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	s.setUserDisabled(w, r, ps, false)
}

type auditPage struct {
	Actor, Action string
	Entries       []store.AuditEntry
	Table         tableState
}

const auditPageSize = 100

var auditSortKeys = []sortKey{{"id", true}, {"actor", false}, {"action", false}, {"target", false}}

func (s *Console) handleAudit(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q := r.URL.Query()
	page := auditPage{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		Table: parseTable("/admin/audit", q, auditSortKeys, "id", auditPageSize)}
	before, err := queryInt(q, "before", 0, 0, 1<<62)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	entries, err := s.db.ListAudit(r.Context(), store.AuditFilter{Actor: page.Actor, Action: page.Action,
		BeforeID: int64(before), Limit: auditPageSize + 1,
		Sort: store.ListSort{Key: page.Table.Key, Desc: page.Table.Desc, Offset: page.Table.Offset()}})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(entries) > auditPageSize {
		entries = entries[:auditPageSize]
		page.Table.More = true
	}
	page.Entries = entries
	s.render(w, r, http.StatusOK, pageAudit, "Audit log", page)
}

// Users are managed by admins; everyone reads the audit log.
var (
	pageUsers = declarePage(adminPage{key: pageKey{"users"}, nav: "Users", navPath: "/admin/users", navOrder: 80, navRole: roleAdmin})
	pageAudit = declarePage(adminPage{key: pageKey{"audit"}, nav: "Audit log", navPath: "/admin/audit", navOrder: 90, navRole: roleStaff})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodGet, path: "/admin/users", role: roleAdmin, deny: denyUsers, handle: (*Console).handleUsers},
		adminRoute{method: http.MethodPost, path: "/admin/users", role: roleAdmin, deny: denyUsers, handle: (*Console).handleUserCreate},
		adminRoute{method: http.MethodPost, path: "/admin/users/:id/disable", role: roleAdmin, deny: denyUsers, handle: (*Console).handleUserDisable},
		adminRoute{method: http.MethodPost, path: "/admin/users/:id/enable", role: roleAdmin, deny: denyUsers, handle: (*Console).handleUserEnable},
		adminRoute{method: http.MethodGet, path: "/admin/audit", role: roleStaff, handle: (*Console).handleAudit},
	)
)

const denyUsers = "Only admins can manage users."
