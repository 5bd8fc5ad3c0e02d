package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/store"
)

// Server is the HTTP face of the app: routes, handlers and the services they call.
type Server struct {
	cfg      *Config
	db       *store.DB
	logger   *slog.Logger
	router   *httprouter.Router
	registry *prometheus.Registry
	metrics  *httpMetrics
	jobs     *Registry
	worker   *Worker
	sched    *Scheduler

	// offerSession reads company and contact from the offer page's cookie; nil until the offers
	// feature sets it. Checkout uses it for fields the request leaves out.
	offerSession func(r *http.Request) (companyID, contactID string, ok bool)
	// offerToken verifies an offer link's token for POST /api/checkout; nil until the offers
	// feature sets it.
	offerToken func(ctx context.Context, token string) (offerParty, bool)
	stripe     *stripeService
	offers     *offerHandlers // set by offerRoutes
	// console is the staff admin console (app/console); guesses throttles every guessable
	// secret (auth_throttle.go); replicator is set by Serve when replication runs, for the
	// dashboard's status and "sync now".
	console    *console.Console
	guesses    *guessThrottle
	replicator *store.Replicator
	// refusals counts refused webhook requests in memory (webhook_refusals.go).
	refusals *webhookRefusals

	http *http.Server
	// registered lists the routes as "METHOD /pattern" (Routes).
	registered []string
}

// NewServer builds the server and its routes. It starts nothing: Start and Shutdown do.
func NewServer(cfg *Config, db *store.DB, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, db: db, logger: logger, router: httprouter.New(), registry: prometheus.NewRegistry()}
	s.metrics = newHTTPMetrics(s.registry)
	// The server's own registry holds every metric, the Go runtime and process collectors
	// included (the names the default registry would give them); nothing is global.
	s.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(db.Read(), "read"),
		NewOutboxCollector(db),
		newStoreCollector(db),
	)
	s.refusals = newWebhookRefusals(db, logger, s.registry)
	s.jobs = &Registry{}
	if err := s.registerJobs(); err != nil {
		return nil, err
	}
	s.worker = NewWorker(db, s.jobs, WorkerOptions{Concurrency: cfg.WorkerConcurrency, Logger: logger})
	s.registry.MustRegister(append(s.jobs.Metrics(), s.worker.metrics.collectors()...)...)
	s.guesses = newGuessThrottle(guessWindow)
	s.registry.MustRegister(newAuthCollector(s.guesses))
	var err error
	if s.console, err = s.newConsole(); err != nil {
		return nil, err
	}
	if s.sched, err = NewScheduler(db, s.worker, SchedulerOptions{Logger: logger,
		JobRetention: cfg.JobRetention, WebhookBodyRetention: cfg.WebhookBodyRetention}); err != nil {
		return nil, err
	}
	err = errors.Join(
		registerStripeReconcile(s.sched, cfg, db, logger),
		s.sched.Register("webhook-refusals-flush", refusalFlushEvery, s.refusals.flush),
		s.sched.Register("offer-session-cleanup", time.Hour, func(ctx context.Context) error {
			_, err := db.DeleteExpiredOfferSessions(ctx)
			return err
		}),
	)
	if err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// attachReplication gives the server the running replicator: its status for the dashboard and
// /metrics, and the daily backup verification.
func (s *Server) attachReplication(repl *store.Replicator) error {
	if repl == nil {
		return nil
	}
	s.replicator = repl
	s.registry.MustRegister(NewReplicationCollector(repl, s.db))
	return registerBackupVerify(s.sched, s.db, repl, s.logger)
}

// Handler is the server's root handler (used directly by tests).
func (s *Server) Handler() http.Handler { return s.router }

// Worker is the in-process outbox worker.
func (s *Server) Worker() *Worker { return s.worker }

// Jobs is the job-type registry.
func (s *Server) Jobs() *Registry { return s.jobs }

func (s *Server) routes() {
	r := s.router
	r.RedirectTrailingSlash = false
	r.HandleMethodNotAllowed = true
	r.NotFound = s.instrument("", "(not found)", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.console.ServeMiss(w, r, http.StatusNotFound) {
			return
		}
		writeErrorMessage(w, http.StatusNotFound, "not found")
	}))
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.console.ServeMiss(w, r, http.StatusMethodNotAllowed) {
			return
		}
		writeErrorMessage(w, http.StatusMethodNotAllowed, "method not allowed")
	})
	s.handleFunc(http.MethodGet, "/healthz", s.handleHealthz)
	s.handleFunc(http.MethodGet, "/readyz", s.handleReadyz)
	// Litestream (a library we do not fork) registers its own metrics on the global registry:
	// its litestream_* families are served from there, renamed where they fail Prometheus' lint.
	s.handle(http.MethodGet, "/metrics", promhttp.HandlerFor(
		prometheus.Gatherers{s.registry, litestreamMetrics(prometheus.DefaultGatherer)}, promhttp.HandlerOpts{}))
	s.handle(http.MethodPost, "/api/outbox/run", s.guardCronSecret(OutboxRunHandler(s.worker, s.cfg.CronSecret, s.logger)))
	s.handleFunc(http.MethodPost, "/api/zoho/webhook", s.handleZohoWebhook)
	s.stripeRoutes()
	s.offerRoutes()
	s.consoleRoutes()
	s.handleFunc(http.MethodGet, "/", s.handleRoot)
}

// handleRoot sends a person who opens the bare address to the admin UI.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz checks that the database takes a write and has every migration applied.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.logger.Warn("readyz: database not writable", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database is not writable"})
		return
	}
	pending, err := s.db.PendingMigrations(ctx)
	if err != nil || len(pending) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "error": "migrations pending", "pending": pending})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Start listens on cfg.Addr (or ln when given) and starts the worker. It returns once the
// listener is open; Serve errors are logged.
func (s *Server) Start(ctx context.Context, ln net.Listener) (net.Addr, error) {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
			return nil, err
		}
	}
	s.http = &http.Server{
		Handler:           s.router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      75 * time.Second, // /api/outbox/run may work for 50 s
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.worker.Start(ctx)
	s.sched.Start()
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped", "error", err)
		}
	}()
	return ln.Addr(), nil
}

// Shutdown stops HTTP first (finishing requests in flight), then the worker. The caller
// closes the database and then replication, in that order (DESIGN §7).
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	}
	errs = append(errs, s.refusals.flush(ctx)) // the last minute's refused webhooks
	errs = append(errs, s.sched.Shutdown(), s.worker.Stop(ctx))
	return errors.Join(errs...)
}

// storeCollector exposes the writer's group-commit counters.
type storeCollector struct {
	db                                *store.DB
	batches, requests, failures, busy *prometheus.Desc
}

func newStoreCollector(db *store.DB) *storeCollector {
	return &storeCollector{db: db,
		batches:  prometheus.NewDesc("technifold_db_write_commits_total", "Write transactions committed (each may carry several requests).", nil, nil),
		requests: prometheus.NewDesc("technifold_db_write_requests_total", "Write requests handled by the group committer.", nil, nil),
		failures: prometheus.NewDesc("technifold_db_write_failures_total", "Write requests that failed and were rolled back.", nil, nil),
		busy: prometheus.NewDesc("technifold_db_writer_busy_seconds_total",
			"Time the single writer spent running transactions; a rate near 1 means writes are queueing.", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.batches
	ch <- c.requests
	ch <- c.failures
	ch <- c.busy
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	b, r, f := c.db.CommitStats()
	ch <- prometheus.MustNewConstMetric(c.batches, prometheus.CounterValue, float64(b))
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(r))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(f))
	ch <- prometheus.MustNewConstMetric(c.busy, prometheus.CounterValue, c.db.WriterBusy().Seconds())
}
