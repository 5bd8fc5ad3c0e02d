package console

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/technifold/technifold/app/web"
)

// Short names for app/web's JSON answers, as the app's handlers have them.

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

func requestID(ctx context.Context) string { return web.RequestID(ctx) }

// clientIP is the address a request came from (web.ClientIP).
func (s *Console) clientIP(r *http.Request) string { return web.ClientIP(r, s.cfg.OnFly) }

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// setRetryAfter sets the Retry-After header (whole seconds, rounded up).
func setRetryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}
