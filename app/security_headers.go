package app

import (
	"net/http"
	"strings"
)

// setSecurityHeaders sets the headers that depend on the route rather than the handler: pages
// whose URL carries a token (offer links, preferences) send no Referer anywhere; admin pages
// send only their origin to other sites; and when BASE_URL is https every answer tells the
// browser to use https only (HSTS).
func (s *Server) setSecurityHeaders(w http.ResponseWriter, route string) {
	h := w.Header()
	switch {
	case strings.HasPrefix(route, "/x/"), strings.HasPrefix(route, "/preferences/"):
		h.Set("Referrer-Policy", "no-referrer")
	case route == "/admin" || strings.HasPrefix(route, "/admin/") || strings.HasPrefix(route, "/api/admin/"):
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	}
	if s.secureCookies() {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}
