package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// outboxRunBudget is how long POST /api/outbox/run works through due jobs.
const outboxRunBudget = 50 * time.Second

// OutboxRunHandler serves POST /api/outbox/run for operators and external cron: with the
// CRON_SECRET in X-CRON-SECRET (or Authorization: Bearer), it works through due jobs for at most
// 50 s and answers {"success", "processed", "failed", "duration_ms"}. Without a configured
// secret the endpoint is off (503).
func OutboxRunHandler(w *Worker, cronSecret string, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	want := sha256.Sum256([]byte(cronSecret))
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			writeErrorMessage(rw, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		if cronSecret == "" {
			writeErrorMessage(rw, http.StatusServiceUnavailable, "outbox run is disabled: CRON_SECRET is not set")
			return
		}
		got := cronSecretFrom(r)
		// Digests have a fixed length, so the comparison leaks neither content nor length.
		digest := sha256.Sum256([]byte(got))
		if got == "" || subtle.ConstantTimeCompare(digest[:], want[:]) != 1 {
			writeErrorMessage(rw, http.StatusUnauthorized, "unauthorized")
			return
		}
		start := time.Now()
		processed, failed, err := w.RunDue(r.Context(), outboxRunBudget)
		if err != nil {
			logger.Error("outbox run", "error", err, "processed", processed, "failed", failed)
			writeError(rw, r, logger, err)
			return
		}
		logger.Info("outbox run", "processed", processed, "failed", failed, "duration_ms", time.Since(start).Milliseconds())
		writeJSON(rw, http.StatusOK, map[string]any{"success": true, "processed": processed, "failed": failed,
			"duration_ms": time.Since(start).Milliseconds()})
	})
}

// cronSecretFrom reads the secret from X-CRON-SECRET, else from a bearer Authorization header.
func cronSecretFrom(r *http.Request) string {
	if s := r.Header.Get("X-CRON-SECRET"); s != "" {
		return s
	}
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}
