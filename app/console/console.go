package console

import (
	"html/template"
	"log/slog"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/store"
)

// Console serves the admin pages and the admin JSON API. Build it with New; it starts nothing.
type Console struct {
	cfg    *Config
	db     *store.DB
	svc    Services
	logger *slog.Logger

	pages       map[pageKey]*template.Template // by declared page, each with the layout
	cop         *http.CrossOriginProtection
	devices     deviceKeyring // key of the device cookies (device.go)
	static      http.Handler
	suggestions *suggestionCache
	imports     *importHolds // uploads previewed on the import page (import.go)
}

// New parses the templates and builds the console. cfg is copied.
func New(cfg Config, db *store.DB, svc Services, logger *slog.Logger) (*Console, error) {
	pages, err := parsePages(&cfg, db.Now)
	if err != nil {
		return nil, err
	}
	static, err := staticFiles()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: &cfg, db: db, svc: svc, logger: logger, pages: pages,
		cop: newCrossOriginProtection(cfg.BaseURL), static: static, suggestions: newSuggestionCache(db),
		imports: newImportHolds()}, nil
}

// Route is one route for the server's router.
type Route struct {
	Method, Path string
	Handler      http.Handler
}

// Routes are the static files and every declared route (each page's file declares its own),
// each wrapped in its access check, sorted by path then method.
func (s *Console) Routes() []Route {
	out := []Route{{Method: http.MethodGet, Path: "/admin/static/*filepath", Handler: s.static}}
	for _, rt := range declaredAdminRoutes() {
		out = append(out, Route{Method: rt.method, Path: rt.path, Handler: s.guard(rt)})
	}
	return out
}

// guard wraps a declared route in its access check.
func (s *Console) guard(rt adminRoute) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.handle(s, w, r, httprouter.ParamsFromContext(r.Context()))
	})
	switch {
	case rt.api:
		return s.requireAdminAPI(rt.role, rt.deny, h)
	case rt.role == rolePublic:
		return s.cop.Handler(h)
	default:
		return s.requireAdminPage(rt.role, rt.deny, h)
	}
}

// Authenticate returns the user of the request's live staff session (sliding its idle
// clock), or nil when it carries none.
func (s *Console) Authenticate(r *http.Request) (*store.User, error) {
	p, err := s.sessionFromRequest(r)
	if p == nil || err != nil {
		return nil, err
	}
	return &p.User, nil
}

// CheckOrigin applies the console's cross-origin check (CSRF) to a request that a staff
// session authorises elsewhere (checkout).
func (s *Console) CheckOrigin(r *http.Request) error { return s.cop.Check(r) }

// RouteInfo describes a declared route: for the route table tests and documentation.
type RouteInfo struct {
	Method, Path string
	Role         string // public, staff or admin
	API          bool
	Deny         string // what a caller below the role is told
}

// DeclaredRoutes lists the declared routes, sorted by path then method.
func DeclaredRoutes() []RouteInfo {
	var out []RouteInfo
	for _, rt := range declaredAdminRoutes() {
		out = append(out, RouteInfo{Method: rt.method, Path: rt.path, Role: rt.role.String(), API: rt.api, Deny: denyText(rt.deny)})
	}
	return out
}

// The console's session settings, for the server and its tests.
const (
	// SessionCookie carries the staff session; DeviceCookie a signed-in browser's device id.
	SessionCookie = adminCookie
	DeviceCookie  = deviceCookie
	// SessionIdle ends a session nobody used for this long; SessionAbsolute ends any session.
	SessionIdle     = sessionIdle
	SessionAbsolute = sessionAbsolute
	// SetupTTL is how long the one-time first-admin link lives.
	SetupTTL = setupTTL
	// DemoAdminEmail is the demo admin's account (serve --demo).
	DemoAdminEmail = demoAdminEmail
)

// JobLabel names a job kind as staff read it ("Offer e-mail"); unknown kinds by their words.
func JobLabel(kind string) string { return jobLabel(kind) }

// AuditLabel names an audit action as the audit log shows it ("Signed in").
func AuditLabel(action string) string { return auditLabel(action) }
