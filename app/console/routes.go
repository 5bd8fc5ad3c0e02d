package console

import (
	"net/http"
	"slices"
	"sort"

	"github.com/julienschmidt/httprouter"
)

// Admin pages and routes are declared where the page is: each page's file declares its page
// (template key, title, navigation entry) with declarePage and its routes (method, path,
// required role, handler) with declareAdminRoutes. Console.Routes hands them all to the
// server's router, so adding a page is one Go file plus its template. A page key is a pageKey
// value, not a string: a misspelt key does not compile, and New refuses a declared page
// without a template (TestEveryDeclaredAdminPageHasATemplate).

// role is what an admin route requires of its caller.
type role int

const (
	rolePublic role = iota // anyone (sign-in, first-admin setup)
	roleStaff              // a signed-in user of either role, or the API token
	roleAdmin              // an admin, or the API token
)

func (r role) String() string {
	switch r {
	case rolePublic:
		return "public"
	case roleStaff:
		return "staff"
	}
	return "admin"
}

// allows reports whether p may use a route that requires r.
func (r role) allows(p *principal) bool {
	switch r {
	case rolePublic:
		return true
	case roleStaff:
		return p != nil
	}
	return p != nil && p.IsAdmin()
}

// pageKey names a declared admin page; its template is ui/templates/admin_<name>.html.
type pageKey struct{ name string }

func (k pageKey) String() string { return k.name }

// adminPage is one declared page.
type adminPage struct {
	key pageKey
	// nav is the page's label in the top navigation ("" for none), at navOrder, linking to
	// navPath and shown to callers navRole allows.
	nav      string
	navPath  string
	navOrder int
	navRole  role
}

// adminRoute is one declared admin route.
type adminRoute struct {
	method, path string
	role         role
	// api marks a JSON route (/api/admin/…): it takes the bearer token too, and answers JSON.
	api bool
	// deny is what a caller whose role is too low is told (403), e.g. "Only admins can cancel jobs."
	deny   string
	handle func(s *Console, w http.ResponseWriter, r *http.Request, ps httprouter.Params)
}

// The declarations, filled by the package's variable initialisers (declarePage and
// declareAdminRoutes) before main runs and only read afterwards.
var (
	adminPageTable  []adminPage
	adminRouteTable []adminRoute
)

// declarePage declares a page and returns its key.
func declarePage(p adminPage) pageKey {
	adminPageTable = append(adminPageTable, p)
	return p.key
}

// declareAdminRoutes declares routes; its result only gives the declaration a name.
func declareAdminRoutes(routes ...adminRoute) []adminRoute {
	adminRouteTable = append(adminRouteTable, routes...)
	return routes
}

// declaredPages lists the declared pages in navigation order.
func declaredPages() []adminPage {
	pages := slices.Clone(adminPageTable)
	slices.SortStableFunc(pages, func(a, b adminPage) int { return a.navOrder - b.navOrder })
	return pages
}

// declaredAdminRoutes lists the declared routes, sorted by path then method. It sorts
// indexes, not routes: a generic sort over adminRoute would make its handler's type (and so
// *Console and every type it reaches) "used in an interface", which with text/template's
// reflection keeps every exported method of those types in the binary. The console reaches
// the server only through the Services interface, but app's adapter behind it must not hold
// the *Console for the same reason (app/console.go): that costs +8.5 MB (the Stripe client).
func declaredAdminRoutes() []adminRoute {
	idx := make([]int, len(adminRouteTable))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool {
		a, b := adminRouteTable[idx[i]], adminRouteTable[idx[j]]
		if a.path != b.path {
			return a.path < b.path
		}
		return a.method < b.method
	})
	routes := make([]adminRoute, 0, len(idx))
	for _, i := range idx {
		routes = append(routes, adminRouteTable[i])
	}
	return routes
}

// navItem is one link of the top navigation.
type navItem struct {
	Label, Path string
	On          bool
}

// navFor is the navigation p sees on page.
func navFor(p *principal, page pageKey) []navItem {
	var out []navItem
	for _, pg := range declaredPages() {
		if pg.nav != "" && pg.navRole.allows(p) {
			out = append(out, navItem{Label: pg.nav, Path: pg.navPath, On: pg.key == page})
		}
	}
	return out
}

// pageMessage is the plain message page every handler may answer with (errors, 403s).
var pageMessage = declarePage(adminPage{key: pageKey{"message"}})

// deniedText is the reason a declared POST route at path gives callers below its role (the
// templates show it beside a disabled button).
func deniedText(path string) string {
	for _, rt := range adminRouteTable {
		if rt.path == path && rt.method == http.MethodPost {
			return denyText(rt.deny)
		}
	}
	return "Not available."
}
