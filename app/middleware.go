package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/app/web"
)

// requestID returns the request's id (set by the middleware), or "".
func requestID(ctx context.Context) string { return web.RequestID(ctx) }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// httpMetrics counts requests by route pattern (never the raw path, which may hold a token).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "technifold_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "technifold_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// statusRecorder remembers the status and size a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
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
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets streaming handlers flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// instrument wraps h with a request id, panic recovery, metrics and an access log line.
// route is the pattern the handler was registered under; logs and metrics use it instead of
// the path so that tokens in paths never reach either.
func (s *Server) instrument(method, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		s.setSecurityHeaders(w, route)
		r = r.WithContext(web.WithRequestID(r.Context(), id))
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("panic in handler", "route", route, "request_id", id,
					"panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeErrorMessage(rec, http.StatusInternalServerError, "internal error")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			s.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
			level := slog.LevelInfo
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				level = slog.LevelDebug
			}
			s.logger.Log(r.Context(), level, "http request", "method", r.Method, "route", route,
				"status", status, "bytes", rec.bytes, "duration_ms", elapsed.Milliseconds(), "request_id", id)
		}()
		h.ServeHTTP(rec, r)
	})
}

// handle registers h under method and route on the router, instrumented.
func (s *Server) handle(method, route string, h http.Handler) {
	s.router.Handler(method, route, s.instrument(method, route, h))
	s.registered = append(s.registered, method+" "+route)
}

// Routes lists every registered route as "METHOD /pattern", in registration order (the
// README's route table is checked against it).
func (s *Server) Routes() []string { return slices.Clone(s.registered) }

// handleFunc is handle for a handler function that takes the route parameters.
func (s *Server) handleFunc(method, route string, h func(http.ResponseWriter, *http.Request, httprouter.Params)) {
	s.handle(method, route, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, httprouter.ParamsFromContext(r.Context()))
	}))
}
