package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/store"
)

// The staff admin console lives in package console (app/console). This file wires it in: the
// settings it reads, taken from ours, and the console.Services it calls, as thin adapters over
// the server's worker, ingest paths, offer sending, checkout, Zoho sync, replicator and
// throttle.

// backupVerifyState is the integration_state row holding the last backup verification.
const backupVerifyState = "backup_verify"

// newConsole builds the console for the server.
func (s *Server) newConsole() (*console.Console, error) {
	cfg := s.cfg
	feature := func(name string) console.Feature {
		f := cfg.Feature(name)
		return console.Feature{Name: f.Name, Missing: f.Missing}
	}
	offerEmail := offerEmailFeature(cfg)
	ccfg := console.Config{BaseURL: cfg.BaseURL, OnFly: cfg.OnFly, ZohoDC: cfg.ZohoDC,
		ZohoOrganizationID: cfg.ZohoOrganizationID, TokenSecret: cfg.TokenSecret, OfferKeys: offerKeys(),
		Features: console.Features{Checkout: feature(FeatureCheckout), StripeWebhook: feature(FeatureStripeWebhook),
			ZohoWebhook: feature(FeatureZohoWebhook), ZohoBooks: feature(FeatureZohoBooks), Email: feature(FeatureEmail),
			Replication: feature(FeatureReplication),
			OfferEmail:  console.Feature{Name: offerEmail.Name, Missing: offerEmail.Missing}}}
	return console.New(ccfg, s.db, &consoleServices{db: s.db, jobs: s.jobs, worker: s.worker,
		refusals: s.refusals, guesses: s.guesses,
		replicator: func() *store.Replicator { return s.replicator },
		ingest:     func(ctx context.Context, body []byte) (store.StripeOutcome, error) { return s.stripe.ingest(ctx, body) },
		replayZoho: s.replayZoho,
		startCheckout: func(ctx context.Context, n store.NewOrder) (checkoutResponse, error) {
			return s.stripe.startCheckout(ctx, n)
		},
		checkAPIToken: func(w http.ResponseWriter, r *http.Request, token string) bool {
			return s.checkGuessedSecret(w, r, "api-token", token, s.cfg.AdminAPIToken, "invalid API token")
		},
	}, s.logger)
}

// consoleRoutes registers the console's routes.
func (s *Server) consoleRoutes() {
	for _, rt := range s.console.Routes() {
		s.handle(rt.Method, rt.Path, rt.Handler)
	}
}

// staffSession reports whether the request carries a live staff session.
func (s *Server) staffSession(r *http.Request) (bool, error) {
	u, err := s.console.Authenticate(r)
	return u != nil, err
}

// consoleServices is the server as the console's Services. It holds the parts it adapts, and
// functions for those that reach the Stripe client: a *Server (or *stripeService) in a value
// converted to an interface would keep every exported method of the Stripe client in the
// binary (+8.5 MB; see console/routes.go).
type consoleServices struct {
	db            *store.DB
	jobs          *Registry
	worker        *Worker
	refusals      *webhookRefusals
	guesses       *guessThrottle
	replicator    func() *store.Replicator
	ingest        func(ctx context.Context, body []byte) (store.StripeOutcome, error)
	replayZoho    func(ctx context.Context, d store.AdminDelivery) (zohoOutcome, error)
	startCheckout func(ctx context.Context, n store.NewOrder) (checkoutResponse, error)
	checkAPIToken func(w http.ResponseWriter, r *http.Request, token string) bool
}

func (c *consoleServices) JobTypes() []string { return c.jobs.Types() }

func (c *consoleServices) WakeWorker() { c.worker.Nudge() }

func (c *consoleServices) RunDueJobs(ctx context.Context, budget time.Duration) (int, int, error) {
	return c.worker.RunDue(ctx, budget)
}

func (c *consoleServices) ReplayStripe(ctx context.Context, body []byte) (store.StripeOutcome, error) {
	return c.ingest(ctx, body)
}

func (c *consoleServices) ReplayZoho(ctx context.Context, d store.AdminDelivery) (console.ZohoReplay, error) {
	out, err := c.replayZoho(ctx, d)
	return console.ZohoReplay{EventID: out.EventID, Repeat: out.Repeat}, err
}

func (c *consoleServices) UnsavedRefusals() map[string]store.Refusals {
	return c.refusals.unsavedByProvider()
}

func (c *consoleServices) SendOffers(ctx context.Context, req OfferSendRequest) (OfferSendReport, error) {
	return SendOffers(ctx, c.db, req)
}

// CreatePaymentLink runs the checkout of POST /api/checkout for a trusted caller (no rate limit).
func (c *consoleServices) CreatePaymentLink(ctx context.Context, req console.PaymentLinkRequest) (console.PaymentLink, error) {
	creq := checkoutRequest{CompanyID: req.CompanyID, ContactID: req.ContactID}
	for _, it := range req.Items {
		creq.Items = append(creq.Items, checkoutItem{ProductCode: it.ProductCode, Quantity: json.Number(it.Quantity)})
	}
	n, err := creq.newOrder()
	if err != nil {
		return console.PaymentLink{}, err
	}
	company, err := c.db.GetCompany(ctx, n.CompanyID)
	if err != nil {
		return console.PaymentLink{}, err
	}
	res, err := c.startCheckout(ctx, n)
	if pe := (*paymentProviderError)(nil); errors.As(err, &pe) {
		return console.PaymentLink{}, &console.ProviderError{Message: pe.msg}
	} else if err != nil {
		return console.PaymentLink{}, err
	}
	lines := map[string]int64{}
	for _, l := range n.Lines {
		lines[l.ProductCode] = l.Quantity
	}
	return console.PaymentLink{CompanyID: company.ID, CompanyName: company.Name, ContactID: n.ContactID,
		OrderID: res.OrderID, URL: res.URL, Quantities: lines}, nil
}

func (c *consoleServices) ZohoAuthAlert(ctx context.Context) (*console.ZohoAlert, error) {
	a, err := GetZohoAuthAlert(ctx, c.db)
	if a == nil || err != nil {
		return nil, err
	}
	return &console.ZohoAlert{Message: a.Message, At: a.At}, nil
}

func (c *consoleServices) ClearZohoAuthAlert(ctx context.Context) (int64, error) {
	return ClearZohoAuthAlert(ctx, c.db)
}

func (c *consoleServices) ZohoPausedUntil(ctx context.Context) (time.Time, error) {
	return ZohoPausedUntil(ctx, c.db)
}

func (c *consoleServices) Replicator() *store.Replicator { return c.replicator() }

// BackupVerification reads the last verification's report (RunBackupVerify writes it).
func (c *consoleServices) BackupVerification(ctx context.Context) (*store.VerifyReport, error) {
	raw, at, ok, err := c.db.GetState(ctx, backupVerifyState)
	if err != nil || !ok {
		return nil, err
	}
	var v store.VerifyReport
	if json.Unmarshal([]byte(raw), &v) != nil {
		v = store.VerifyReport{Detail: "the stored result is unreadable"}
	}
	if v.At.IsZero() {
		v.At = at
	}
	return &v, nil
}

func (c *consoleServices) CheckAPIToken(w http.ResponseWriter, r *http.Request, token string) bool {
	return c.checkAPIToken(w, r, token)
}

func (c *consoleServices) ReserveSignIn(email, ip, device string) (func(), time.Duration) {
	att, wait := c.guesses.reserve(c.db.Now(), signInLimits(email, ip, device)...)
	if att == nil {
		return nil, wait
	}
	return att.release, 0
}

func (c *consoleServices) ForgetSignInDevice(email, device string) {
	c.guesses.forget(signInLimits(email, "", device)[1].key)
}

func (c *consoleServices) VerifyPassword(ctx context.Context, compare func() bool) (bool, error) {
	ok, err := passwordVerifications.verify(ctx, compare)
	if err == errBusy {
		return false, &console.BusyError{Err: err, RetryAfter: verifyQueueWait / 2}
	}
	return ok, err
}

// BootstrapAdmin makes sure a fresh installation can be signed into (console.BootstrapAdmin):
// from ADMIN_EMAIL/ADMIN_PASSWORD, the demo admin, or a one-time setup link.
func BootstrapAdmin(ctx context.Context, db *store.DB, cfg *Config, demo bool, out func(format string, args ...any)) error {
	return console.BootstrapAdmin(ctx, db, console.BootstrapConfig{AdminEmail: cfg.AdminEmail,
		AdminPassword: cfg.AdminPassword, BaseURL: cfg.BaseURL}, demo, out)
}

func (c *consoleServices) ImportKinds() []console.ImportKind {
	var out []console.ImportKind
	for _, k := range ImportKinds() {
		req, opt := ImportColumns(k)
		out = append(out, console.ImportKind{Name: k, Required: req, Optional: opt})
	}
	return out
}

// CheckCSV checks an uploaded file as `technifold import` does (ValidateCSV).
func (c *consoleServices) CheckCSV(ctx context.Context, kind string, data []byte) (*console.ImportCheck, error) {
	check, err := ValidateCSV(ctx, c.db, kind, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out := &console.ImportCheck{Kind: check.Kind, Rows: check.Rows, Valid: check.Valid, Invalid: check.Invalid,
		Header: check.Header}
	for _, p := range check.Problems {
		out.Problems = append(out.Problems, console.ImportProblem{Line: p.Line, Column: p.Column, Value: p.Value, Reason: p.Reason})
	}
	for _, s := range check.Sample {
		out.Sample = append(out.Sample, console.ImportSample{Line: s.Line, Values: s.Values})
	}
	return out, nil
}

// ImportCSV imports an uploaded file as `technifold import` does (same checks, same chunks).
func (c *consoleServices) ImportCSV(ctx context.Context, kind string, data []byte) (console.ImportResult, error) {
	res, err := ImportCSVWith(ctx, c.db, kind, bytes.NewReader(data), ImportOptions{})
	out := console.ImportResult{Rows: res.Rows, Changed: res.Changed, Committed: res.Committed}
	if part := (*ImportInterrupted)(nil); errors.As(err, &part) {
		return out, &console.ImportInterrupted{Committed: part.Committed, Rows: part.Rows, Err: part.Err}
	}
	return out, err
}
