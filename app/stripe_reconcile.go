package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/technifold/technifold/store"
)

// stripeReconcileInterval is how often Stripe's event list is checked for missed webhooks.
const stripeReconcileInterval = 15 * time.Minute

// stripeReconcileOverlap reaches back before the newest event seen, for events delivered late
// or out of order; stripeReconcileFirstWindow is the look-back when none has been seen.
const (
	stripeReconcileOverlap     = time.Hour
	stripeReconcileFirstWindow = 24 * time.Hour
)

// reconcileResult counts what a reconciliation did.
type reconcileResult struct {
	Fetched int // events Stripe listed
	New     int // of those, not delivered before
	Applied int // of the new ones, applied to an order
	Failed  int // of the new ones, not applied because of an error
}

// registerStripeReconcile adds the periodic reconciliation to sched when Stripe is configured.
// Serve calls it once the scheduler exists.
func registerStripeReconcile(sched *Scheduler, cfg *Config, db *store.DB, logger *slog.Logger) error {
	if !cfg.Feature(FeatureCheckout).On() {
		return nil
	}
	svc := newStripeService(cfg, db, logger)
	return sched.Register("stripe-reconcile", stripeReconcileInterval, func(ctx context.Context) error {
		since, err := svc.reconcileSince(ctx)
		if err != nil {
			return err
		}
		res, err := svc.reconcile(ctx, since)
		if res.New > 0 || err != nil {
			logger.Info("stripe reconciliation", "since", since, "fetched", res.Fetched, "new", res.New,
				"applied", res.Applied, "failed", res.Failed, "error", err)
		}
		return err
	})
}

// reconcileSince is the start of the next reconciliation window: an hour before the newest
// Stripe event applied, or a day ago when there is none.
func (s *stripeService) reconcileSince(ctx context.Context) (time.Time, error) {
	latest, ok, err := s.db.LatestStripeEventTime(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("find newest stripe event: %w", err)
	}
	if !ok {
		return s.now().Add(-stripeReconcileFirstWindow), nil
	}
	return latest.Add(-stripeReconcileOverlap), nil
}

// reconcile lists the events of the handled types Stripe created since `since` (GET
// /v1/events, paged) and feeds each one not delivered before, oldest first, through the
// webhook's own path without the signature step (they come from Stripe's API over TLS).
func (s *stripeService) reconcile(ctx context.Context, since time.Time) (reconcileResult, error) {
	var res reconcileResult
	if s.client == nil {
		return res, errors.New(s.cfg.Feature(FeatureCheckout).Why())
	}
	params := &stripe.EventListParams{
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()},
		Types:        stripe.StringSlice(store.StripeEventTypes()),
	}
	params.Limit = stripe.Int64(100)
	type listed struct {
		id   string
		body []byte
	}
	var events []listed
	for ev, err := range s.client.V1Events.List(ctx, params).All(ctx) {
		if err != nil {
			return res, fmt.Errorf("list stripe events: %s", stripeErrorMessage(err))
		}
		body := []byte(nil)
		if ev.LastResponse != nil && len(ev.LastResponse.RawJSON) > 0 {
			body = ev.LastResponse.RawJSON
		} else if body, err = json.Marshal(ev); err != nil {
			return res, fmt.Errorf("encode stripe event %s: %w", ev.ID, err)
		}
		events = append(events, listed{ev.ID, body})
	}
	res.Fetched = len(events)
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.id
	}
	seen, err := s.db.StripeEventsSeen(ctx, ids)
	if err != nil {
		return res, err
	}
	var errs []error
	for i := len(events) - 1; i >= 0; i-- { // Stripe lists newest first
		if seen[events[i].id] {
			continue
		}
		seen[events[i].id] = true
		res.New++
		out, err := s.ingest(ctx, events[i].body)
		switch {
		case err != nil:
			res.Failed++
			errs = append(errs, fmt.Errorf("event %s: %w", events[i].id, err))
		case out.Status == store.DeliveryProcessed && !out.Repeat:
			res.Applied++
		}
	}
	return res, errors.Join(errs...)
}

// runStripe is the `stripe` CLI verb: stripe reconcile [--since T].
func runStripe(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "stripe", "stripe reconcile [--since 2026-01-02T15:04:05Z] [flags]\n\n"+
		"Lists Stripe's events since the given time (default: an hour before the newest event seen)\n"+
		"and applies those the webhook missed, exactly as the webhook would.", cfg, "DATABASE_PATH", "STRIPE_API_BASE", "LOG_LEVEL", "LOG_FORMAT")
	sinceFlag := fs.String("since", "", "RFC 3339 time to list events from")
	sub, rest := "", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, rest = args[0], args[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if sub == "" && fs.NArg() > 0 {
		sub = fs.Arg(0)
	}
	if sub != "reconcile" {
		fs.Usage()
		return errUsage
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if f := cfg.Feature(FeatureCheckout); !f.On() {
		return errors.New(f.Why())
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := newStripeService(cfg, db, newLogger(cfg, env.Stderr))
	var since time.Time
	if *sinceFlag != "" {
		if since, err = time.Parse(time.RFC3339, *sinceFlag); err != nil {
			return fmt.Errorf("--since must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", *sinceFlag)
		}
	} else if since, err = svc.reconcileSince(ctx); err != nil {
		return err
	}
	res, err := svc.reconcile(ctx, since)
	fmt.Fprintf(env.Stdout, "stripe events since %s: %d fetched, %d new, %d applied, %d failed\n",
		since.UTC().Format(time.RFC3339), res.Fetched, res.New, res.Applied, res.Failed)
	return err
}
