package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/technifold/technifold/app/web"
)

// Access to /admin/… and /api/admin/…: every route is wrapped in Go's CrossOriginProtection
// (CSRF defence for state-changing methods, on top of the SameSite=Lax session cookie) and then
// in an authentication check. Pages need a session (else a redirect to the sign-in page); the
// JSON API takes a session or Authorization: Bearer <ADMIN_API_TOKEN> (else 401).

// adminSecretEqual compares two secrets in constant time, whatever their lengths.
func adminSecretEqual(a, b string) bool { return web.SecretEqual(a, b) }

// bearerToken returns the token of an "Authorization: Bearer …" header, or "".
func bearerToken(r *http.Request) string { return web.BearerToken(r) }

// newCrossOriginProtection builds the CSRF check; BASE_URL's origin is trusted too, for
// deployments where a proxy rewrites the Host header.
func newCrossOriginProtection(baseURL string) *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(baseURL); err == nil && u.Scheme != "" && u.Host != "" {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const msg = "cross-origin request refused: submit the form from the admin pages"
		if strings.HasPrefix(r.URL.Path, "/api/") {
			web.ErrorMessage(w, http.StatusForbidden, msg)
			return
		}
		http.Error(w, msg, http.StatusForbidden)
	}))
	return cop
}

func withPrincipal(r *http.Request, p *principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// requireAdminAPI guards a JSON admin route: cross-origin browser writes are refused (403),
// then the caller needs the ADMIN_API_TOKEN as a bearer token or a signed-in session (401),
// and a session needs the route's role (403 with deny). The token acts as an admin.
func (s *Console) requireAdminAPI(need role, deny string, h http.Handler) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := bearerToken(r); tok != "" {
			if !s.svc.CheckAPIToken(w, r, tok) {
				return
			}
			s.serveAudited(w, withPrincipal(r, &principal{ViaToken: true}), h)
			return
		}
		p, err := s.sessionFromRequest(r)
		if err != nil {
			web.Error(w, r, s.logger, err)
			return
		}
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="technifold admin"`)
			web.ErrorMessage(w, http.StatusUnauthorized, "authentication required: sign in or send Authorization: Bearer <ADMIN_API_TOKEN>")
			return
		}
		if !need.allows(p) {
			web.ErrorMessage(w, http.StatusForbidden, denyText(deny))
			return
		}
		s.serveAudited(w, withPrincipal(r, p), h)
	}))
}

// auditMark notes that a handler wrote its own audit entry.
type auditMark struct{ done bool }

type auditMarkKey struct{}

// serveAudited runs an API handler; a state-changing request that succeeded without writing
// its own audit entry (e.g. POST /api/admin/offers/send) gets a generic one.
func (s *Console) serveAudited(w http.ResponseWriter, r *http.Request, h http.Handler) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		h.ServeHTTP(w, r)
		return
	}
	mark := &auditMark{}
	r = r.WithContext(context.WithValue(r.Context(), auditMarkKey{}, mark))
	rec := &statusRecorder{ResponseWriter: w}
	h.ServeHTTP(rec, r)
	if status := rec.status; !mark.done && status > 0 && status < 400 {
		s.audit(r, "api."+strings.ToLower(r.Method), r.URL.Path, map[string]int{"status": status})
	}
}

// requireAdminPage guards an admin page: cross-origin browser writes are refused (403), a
// request without a live session is sent to the sign-in page (and back afterwards), and a
// caller without the route's role is answered 403 with deny.
func (s *Console) requireAdminPage(need role, deny string, h http.Handler) http.Handler {
	return s.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionFromRequest(r)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if p == nil {
			next := ""
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.SetCookie(w, s.adminCookie("", -1))
			http.Redirect(w, r, loginURL(next), http.StatusSeeOther)
			return
		}
		if !need.allows(p) {
			s.renderStatus(w, withPrincipal(r, p), http.StatusForbidden, denyText(deny))
			return
		}
		h.ServeHTTP(w, withPrincipal(r, p))
	}))
}

// denyText is what a caller without a route's role is told.
func denyText(deny string) string {
	if deny == "" {
		return "Only admins can do this."
	}
	return deny
}

// loginURL is the sign-in page, returning to next afterwards.
func loginURL(next string) string {
	if next == "" || next == "/admin" {
		return "/admin/login"
	}
	return "/admin/login?next=" + url.QueryEscape(next)
}

// safeNext keeps a post-sign-in redirect on this site's admin pages (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin"
	}
	if strings.HasPrefix(next, "/admin/login") || strings.HasPrefix(next, "/admin/logout") {
		return "/admin"
	}
	return next
}
