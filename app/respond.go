package app

import (
	"log/slog"
	"net/http"

	"github.com/technifold/technifold/app/display"
	"github.com/technifold/technifold/app/web"
)

// The JSON answers, the error→status mapping and the caller's address live in app/web, and
// the money format in app/display, shared with the admin console; these names keep the app's
// handlers short.

// maxJSONBody caps request bodies of the JSON API.
const maxJSONBody = web.MaxJSONBody

func writeJSON(w http.ResponseWriter, status int, v any) { web.JSON(w, status, v) }

func writeErrorMessage(w http.ResponseWriter, status int, msg string) {
	web.ErrorMessage(w, status, msg)
}

func statusOf(err error) int { return web.StatusOf(err) }

func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	web.Error(w, r, logger, err)
}

func invalidf(format string, args ...any) error { return web.Invalidf(format, args...) }

func decodeJSONBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	return web.DecodeJSON(w, r, limit, v)
}

func jsonErrorText(err error) string { return web.JSONErrorText(err) }

// formatMoney renders minor units with the currency (display.Money).
func formatMoney(amount int64, currency string) string { return display.Money(amount, currency) }

// clientIP is the address a request came from (web.ClientIP).
func (s *Server) clientIP(r *http.Request) string { return web.ClientIP(r, s.cfg.OnFly) }

// secureCookies reports whether cookies get the Secure flag: when the public URL is https.
func (s *Server) secureCookies() bool { return web.SecureCookies(s.cfg.BaseURL) }
