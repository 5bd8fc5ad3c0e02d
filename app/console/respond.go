package console

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/technifold/technifold/app/web"
)

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
