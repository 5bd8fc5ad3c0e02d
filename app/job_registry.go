package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/store"
)

// Handler runs one attempt of an outbox job. It must be idempotent (a retry after a crash runs
// it again) and honour ctx, which carries the per-job timeout. The result is stored as JSON.
type Handler func(ctx context.Context, job store.Job) (result any, err error)

// Registry maps job types to their handlers. The zero value is ready to use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Handler
	metrics  []prometheus.Collector // the handlers' own metrics, for the server's registry
}

// addMetrics keeps metrics of the registered handlers for the server to expose.
func (r *Registry) addMetrics(c ...prometheus.Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics = append(r.metrics, c...)
}

// Metrics are the registered handlers' own metrics.
func (r *Registry) Metrics() []prometheus.Collector {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.metrics)
}

// registerJob registers fn as the handler of A's kind. The kind comes from the payload type
// the enqueuer uses too (store.JobArgs), and fn receives the payload decoded as A: a handler
// can be filed under no other name and read no other payload.
func registerJob[A store.JobArgs](r *Registry, fn func(ctx context.Context, job store.Job, args A) (any, error)) {
	var args A
	r.Register(args.JobKind(), jobHandler(fn))
}

// jobHandler adapts a handler of payload type A to Handler: the job must be of A's kind and
// its payload A's JSON.
func jobHandler[A store.JobArgs](fn func(ctx context.Context, job store.Job, args A) (any, error)) Handler {
	return func(ctx context.Context, job store.Job) (any, error) {
		args, err := store.DecodeJobArgs[A](job)
		if err != nil {
			return nil, err
		}
		return fn(ctx, job, args)
	}
}

// CheckDeclared reports every declared job kind (store.JobKinds) without a handler: a worker
// must not start with one, or every job of that kind would die with "no handler".
func (r *Registry) CheckDeclared() error {
	var missing []string
	for _, k := range store.JobKinds() {
		if _, ok := r.Lookup(string(k.Kind)); !ok {
			missing = append(missing, string(k.Kind))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("outbox: no handler registered for job kind(s) %s", strings.Join(missing, ", "))
	}
	return nil
}

// Register sets the handler of jobType. Registering a type twice is a programming error.
func (r *Registry) Register(kind store.JobKind, h Handler) {
	jobType := string(kind)
	if jobType == "" || h == nil {
		panic("outbox: Register needs a job type and a handler")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers == nil {
		r.handlers = map[string]Handler{}
	}
	if _, dup := r.handlers[jobType]; dup {
		panic(fmt.Sprintf("outbox: job type %q registered twice", jobType))
	}
	r.handlers[jobType] = h
}

// Lookup returns the handler of jobType.
func (r *Registry) Lookup(jobType string) (Handler, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.handlers[jobType]
	return h, ok
}

// Types lists the registered job types, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	types := make([]string, 0, len(r.handlers))
	for t := range r.handlers {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// NotConfiguredError is what a handler returns when its integration lacks configuration: the
// attempt fails loudly and stays visible in the job's errors, instead of "succeeding".
type NotConfiguredError struct {
	Feature    string // e.g. "zoho books"
	MissingVar string // e.g. "ZOHO_REFRESH_TOKEN"
}

func (e *NotConfiguredError) Error() string {
	return e.Feature + " is not configured: set " + e.MissingVar
}

// ErrNotConfigured builds a NotConfiguredError: "zoho books is not configured: set ZOHO_REFRESH_TOKEN".
func ErrNotConfigured(feature, missingVar string) error {
	return &NotConfiguredError{Feature: feature, MissingVar: missingVar}
}

// DeferError, returned by a handler, puts its job back to pending until Until without spending
// the attempt (e.g. Zoho's daily API cap is reached). Reason is kept in last_error.
type DeferError struct {
	Until  time.Time
	Reason string
}

func (e DeferError) Error() string {
	return fmt.Sprintf("deferred until %s: %s", store.FormatTime(e.Until), e.Reason)
}

// asDeferError finds a DeferError (value or pointer) in err's chain.
func asDeferError(err error) (DeferError, bool) {
	var v DeferError
	if errors.As(err, &v) {
		return v, true
	}
	var p *DeferError
	if errors.As(err, &p) && p != nil {
		return *p, true
	}
	return DeferError{}, false
}
