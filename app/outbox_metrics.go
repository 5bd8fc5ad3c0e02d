package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/store"
)

// outboxMetrics are a worker's counters. Each worker has its own; the server registers its
// worker's on the server's registry (no global registry, so tests and CLI runs share nothing).
type outboxMetrics struct {
	processed      *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	handlerSeconds *prometheus.HistogramVec
	startLatency   *prometheus.HistogramVec
}

func newOutboxMetrics() *outboxMetrics {
	return &outboxMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "technifold_outbox_jobs_processed_total",
			Help: "Outbox job attempts finished, by job type and outcome (completed, failed, dead, deferred).",
		}, []string{"type", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "technifold_outbox_job_attempts_total",
			Help: "Outbox job attempts started, by job type.",
		}, []string{"type"}),
		handlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "technifold_outbox_handler_duration_seconds",
			Help:    "Time an outbox handler took for one attempt, by job type.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"type"}),
		startLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "technifold_outbox_enqueue_to_start_seconds",
			Help:    "Time from a job falling due (enqueue, or its retry time) to its claim, by job type.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60, 300, 1800},
		}, []string{"type"}),
	}
}

// collectors are the metrics to register.
func (m *outboxMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.processed, m.attempts, m.handlerSeconds, m.startLatency}
}

// observeStart counts an attempt and how long its job waited since it fell due.
func (m *outboxMetrics) observeStart(j store.Job) {
	m.attempts.WithLabelValues(j.JobType).Inc()
	due := j.ScheduledFor
	if j.Attempts == 1 && j.CreatedAt.After(due) {
		due = j.CreatedAt // enqueued with a RunAt in the past
	}
	if wait := j.LastAttemptedAt.Sub(due); wait >= 0 {
		m.startLatency.WithLabelValues(j.JobType).Observe(wait.Seconds())
	}
}

// outboxCollector reads the outbox's state from the database at scrape time.
type outboxCollector struct {
	db   *store.DB
	jobs *prometheus.Desc
	lag  *prometheus.Desc
}

// NewOutboxCollector exposes jobs by status and type, and how far the oldest due job is
// overdue, read from db at each scrape. Register it once per registry.
func NewOutboxCollector(db *store.DB) prometheus.Collector {
	return &outboxCollector{db: db,
		jobs: prometheus.NewDesc("technifold_outbox_jobs", "Outbox jobs by status and type.", []string{"status", "type"}, nil),
		lag: prometheus.NewDesc("technifold_outbox_due_lag_seconds",
			"How long the earliest due outbox job (or expired lease) has been waiting; 0 when none is overdue.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.lag
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.db.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.jobs, err)
		return
	}
	for status, byType := range counts {
		for typ, n := range byType {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), string(status), typ)
		}
	}
	next, ok, err := c.db.NextDueAt(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lag, err)
		return
	}
	lag := 0.0
	if ok {
		lag = max(0, c.db.Now().Sub(next).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag)
}
