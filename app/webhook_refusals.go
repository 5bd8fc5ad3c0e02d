package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/store"
)

// Refused webhook requests (a bad or missing signature or secret, a stale timestamp, a
// malformed body) are counted in memory: an unauthenticated request must never cost a durable
// write, or a flood of forged requests would queue behind, and slow, the single writer. The
// counts feed /metrics (technifold_webhook_refused_total) and the dashboard at once; the
// per-minute aggregate is written to webhook_deliveries (status rejected, one row per
// provider, minute and reason code, so two kinds of refusal in a minute do not overwrite each
// other; the codes are a short fixed list, so a flood still makes a few rows) by flush, which the scheduler runs once a minute and Shutdown once
// more. A crash loses at most the last minute's counts, never a business row.

// refusalFlushEvery is how often the aggregate is written.
const refusalFlushEvery = time.Minute

type refusalKey struct {
	provider string
	minute   int64  // Unix minutes
	code     string // bad_signature, malformed, … (webhook_refusal_reasons.go)
}

type refusalBucket struct {
	n      int
	reason string // the last one of its code
	last   time.Time
}

// webhookRefusals is the in-memory count of refused webhook requests.
type webhookRefusals struct {
	db     *store.DB
	logger *slog.Logger
	metric *prometheus.CounterVec

	flushMu sync.Mutex // one flush at a time
	mu      sync.Mutex
	pending map[refusalKey]*refusalBucket
	unsaved int // requests counted in pending
}

func newWebhookRefusals(db *store.DB, logger *slog.Logger, reg prometheus.Registerer) *webhookRefusals {
	r := &webhookRefusals{db: db, logger: logger, pending: map[refusalKey]*refusalBucket{},
		metric: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "technifold_webhook_refused_total",
			Help: "Webhook requests refused before they were trusted, by provider and reason."}, []string{"provider", "reason"})}
	reg.MustRegister(r.metric)
	return r
}

// note counts one refused request. code is a short label for /metrics (bad_signature,
// stale, …); reason is the message kept on the aggregate row. The first refusal of a minute
// is logged at warn, the rest at debug, so a flood does not flood the log either.
func (r *webhookRefusals) note(ctx context.Context, provider, code, reason string) {
	r.metric.WithLabelValues(provider, code).Inc()
	now := r.db.Now()
	key := refusalKey{provider: provider, minute: now.Unix() / 60, code: code}
	r.mu.Lock()
	b := r.pending[key]
	first := b == nil
	if first {
		b = &refusalBucket{}
		r.pending[key] = b
	}
	b.n++
	b.reason, b.last = reason, now
	r.unsaved++
	r.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	r.logger.Log(ctx, level, "webhook request refused", "provider", provider, "reason", reason, "request_id", requestID(ctx))
}

// unsavedCount is how many refusals are counted but not written yet (all of the last minute
// or two), for the dashboard.
func (r *webhookRefusals) unsavedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unsaved
}

// unsavedByProvider is the refusals counted but not written yet, per provider, with the time
// of the earliest one's minute, for the dashboard's health table.
func (r *webhookRefusals) unsavedByProvider() map[string]store.Refusals {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]store.Refusals{}
	for k, b := range r.pending {
		agg := out[k.provider]
		first := time.Unix(k.minute*60, 0).UTC()
		if agg.N == 0 || first.Before(agg.First) {
			agg.First = first
		}
		agg.N += b.n
		out[k.provider] = agg
	}
	return out
}

// flush writes the counted refusals, one row per provider, minute and code, in one transaction.
// When the write fails the counts are kept for the next flush.
func (r *webhookRefusals) flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch, n := r.pending, r.unsaved
	r.pending, r.unsaved = map[refusalKey]*refusalBucket{}, 0
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := r.db.Update(ctx, func(tx *store.Tx) error {
		for k, b := range batch {
			if err := tx.AddRejectedDeliveries(ctx, k.provider, k.code, b.last, b.n, b.reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.mu.Lock()
		for k, b := range batch {
			if cur := r.pending[k]; cur != nil {
				cur.n += b.n
			} else {
				r.pending[k] = b
			}
		}
		r.unsaved += n
		r.mu.Unlock()
	}
	return err
}
