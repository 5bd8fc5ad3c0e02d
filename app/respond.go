package app

import (
	"log/slog"
	"net/http"

	"github.com/technifold/technifold/app/web"
)

// The JSON answers and the error→status mapping live in app/web, shared with the admin
// console; these names keep the app's handlers short.

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
