package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/store"
)

// zohoJobTypes are every job that calls Zoho: a pause or an auth alert holds them all. The
// kinds and their payloads are declared in store, whose Stripe events enqueue them.
func zohoJobTypes() []string {
	return []string{string(store.JobZohoSyncOrder), string(store.JobZohoSyncRefund)}
}

// integration_state names of the sync (the admin dashboard reads the last two).
const (
	zohoTaxItemState   = "zoho_tax_item_id"
	zohoPausedState    = "zoho_paused_until"
	zohoAuthAlertState = "zoho_auth_alert"
)

const (
	// zohoAuthRetry is how long jobs wait after an auth failure unless the alert is cleared.
	zohoAuthRetry = time.Hour
	// zohoRateRetry is the wait after a 429 (44 or 1070) that has no Retry-After.
	zohoRateRetry = time.Minute
	// zohoDailyProbe is the pause after the daily cap (45) without Retry-After: the cap resets at
	// midnight in the organisation's time zone, which we do not know, so look again hourly.
	zohoDailyProbe = time.Hour
	// zohoMintRetry is the wait after the accounts server refused a token mint (10 per 10 minutes).
	zohoMintRetry = 2 * time.Minute
)

// newZohoAuthFailures is the counter of refused credentials; the server registers it.
func newZohoAuthFailures() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "technifold_zoho_auth_failures_total",
		Help: "Zoho Books calls refused for bad credentials (invalid_code, invalid_client); the sync stops until the alert is cleared.",
	})
}

// ZohoSync runs the Zoho Books jobs. All its calls go through one Books client per process, so
// they share one rate limiter (ZOHO_RATE_PER_MINUTE) and one access token.
type ZohoSync struct {
	cfg    *Config
	db     *store.DB
	logger *slog.Logger
	// authFailures counts refused credentials (technifold_zoho_auth_failures_total).
	authFailures prometheus.Counter

	mu     sync.Mutex
	client *zohobooks.Client // built on first use; tests set it
	// customerCurrency maps a Books customer id to the currency_id it was found in, so that
	// orders of a linked company do not read the customer from Books each time.
	customerCurrency map[string]string
}

// NewZohoSync returns the sync service; it builds the Books client on first use.
func NewZohoSync(cfg *Config, db *store.DB, logger *slog.Logger) *ZohoSync {
	if logger == nil {
		logger = slog.Default()
	}
	return &ZohoSync{cfg: cfg, db: db, logger: logger, authFailures: newZohoAuthFailures()}
}

// zohoClientKey identifies a Books client: one per configuration and database in the process.
type zohoClientKey struct {
	credentials, dc, accounts, api, dbPath string
	rate                                   int
}

var zohoClients = struct {
	sync.Mutex
	m map[zohoClientKey]*zohobooks.Client
}{m: map[zohoClientKey]*zohobooks.Client{}}

// books returns the process's Books client, or a not-configured error naming what to set.
func (z *ZohoSync) books() (*zohobooks.Client, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.client != nil {
		return z.client, nil
	}
	if f := z.cfg.Feature(FeatureZohoBooks); !f.On() {
		return nil, ErrNotConfigured("zoho books", strings.Join(f.Missing, ", "))
	}
	key := zohoClientKey{credentials: z.credentialsFingerprint(), dc: z.cfg.ZohoDC, accounts: z.cfg.ZohoAccountsURL,
		api: z.cfg.ZohoBooksAPIURL, dbPath: z.db.Path(), rate: z.cfg.ZohoRatePerMinute}
	zohoClients.Lock()
	defer zohoClients.Unlock()
	c := zohoClients.m[key]
	if c == nil {
		var err error
		c, err = zohobooks.New(zohobooks.Config{
			ClientID: z.cfg.ZohoClientID, ClientSecret: z.cfg.ZohoClientSecret, RefreshToken: z.cfg.ZohoRefreshToken,
			OrganizationID: z.cfg.ZohoOrganizationID, DC: z.cfg.ZohoDC, AccountsURL: z.cfg.ZohoAccountsURL,
			APIURL: z.cfg.ZohoBooksAPIURL, RatePerMinute: z.cfg.ZohoRatePerMinute,
			TokenCache: zohoTokenCache{db: z.db}, Logger: z.logger,
		})
		if err != nil {
			return nil, err
		}
		zohoClients.m[key] = c
	}
	z.client = c
	return c, nil
}

// credentialsFingerprint identifies the configured Zoho credentials without revealing them, so
// an auth alert raised for old credentials does not hold back new ones after a restart.
func (z *ZohoSync) credentialsFingerprint() string {
	h := sha256.Sum256([]byte(strings.Join([]string{z.cfg.ZohoClientID, z.cfg.ZohoClientSecret,
		z.cfg.ZohoRefreshToken, z.cfg.ZohoOrganizationID}, "\x00")))
	return hex.EncodeToString(h[:8])
}

// ZohoAuthAlert is the alert the sync raises when Zoho refuses its credentials.
type ZohoAuthAlert struct {
	Message     string    `json:"message"`
	At          time.Time `json:"at"`
	JobType     string    `json:"job_type,omitempty"`
	Credentials string    `json:"credentials"` // fingerprint of the refused credentials
}

// GetZohoAuthAlert returns the current auth alert, or nil.
func GetZohoAuthAlert(ctx context.Context, db *store.DB) (*ZohoAuthAlert, error) {
	v, _, ok, err := db.GetState(ctx, zohoAuthAlertState)
	if err != nil || !ok {
		return nil, err
	}
	var a ZohoAuthAlert
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return nil, fmt.Errorf("decode %s: %w", zohoAuthAlertState, err)
	}
	return &a, nil
}

// ClearZohoAuthAlert lifts the auth alert after an admin fixed the credentials, and makes the
// Zoho jobs it held back due now. It returns how many jobs it resumed.
func ClearZohoAuthAlert(ctx context.Context, db *store.DB) (resumed int64, err error) {
	err = db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteState(ctx, zohoAuthAlertState); err != nil {
			return err
		}
		resumed, err = tx.ResumeDeferredJobs(ctx, zohoJobTypes()...)
		return err
	})
	return resumed, err
}

// ZohoPausedUntil returns when the daily-cap pause ends (zero when not paused).
func ZohoPausedUntil(ctx context.Context, db *store.DB) (time.Time, error) {
	v, _, ok, err := db.GetState(ctx, zohoPausedState)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := store.ParseTime(v)
	if err != nil || !db.Now().Before(t) {
		return time.Time{}, err
	}
	return t, nil
}

// zohoPauseReason is the note a Zoho job deferred by the daily-cap pause carries.
func zohoPauseReason(until time.Time) string {
	return "zoho books daily API limit reached: every zoho job waits until " + store.FormatTime(until)
}

// start runs before every Zoho job, without calling Zoho: it defers the job while the daily-cap
// pause or an auth alert holds, and returns the client otherwise.
func (z *ZohoSync) start(ctx context.Context) (*zohobooks.Client, error) {
	until, err := ZohoPausedUntil(ctx, z.db)
	if err != nil {
		return nil, err
	}
	if !until.IsZero() {
		return nil, DeferError{Until: until, Reason: zohoPauseReason(until)}
	}
	alert, err := GetZohoAuthAlert(ctx, z.db)
	if err != nil {
		return nil, err
	}
	if alert != nil {
		if alert.Credentials == z.credentialsFingerprint() {
			return nil, DeferError{Until: z.db.Now().Add(zohoAuthRetry),
				Reason: "zoho books refused the credentials (" + alert.Message + "): fix them and clear the alert"}
		}
		z.logger.Info("zoho credentials changed since the auth alert: clearing it and resuming the sync")
		if _, err := ClearZohoAuthAlert(ctx, z.db); err != nil {
			return nil, err
		}
	}
	return z.books()
}

// settle turns Zoho's limits and auth failures into deferrals that spend no attempt; any other
// error fails the attempt (the outbox retries it with backoff).
func (z *ZohoSync) settle(ctx context.Context, jobType string, err error) error {
	now := z.db.Now()
	var ae *zohobooks.APIError
	retryAfter := time.Duration(0)
	if errors.As(err, &ae) {
		retryAfter = ae.RetryAfter
	}
	switch {
	case zohobooks.IsAuthFailure(err):
		z.raiseAuthAlert(ctx, jobType, err)
		return DeferError{Until: now.Add(zohoAuthRetry), Reason: "zoho books authentication failed: " + err.Error()}
	case zohobooks.IsDailyLimit(err):
		until := now.Add(orDefault(retryAfter, zohoDailyProbe))
		if perr := z.pause(ctx, until); perr != nil {
			return errors.Join(err, perr)
		}
		z.logger.Warn("zoho books daily API limit reached: pausing every zoho job", "until", until, "job_type", jobType)
		return DeferError{Until: until, Reason: "zoho books daily API limit reached: " + err.Error()}
	case zohobooks.IsRateLimited(err):
		return DeferError{Until: now.Add(orDefault(retryAfter, zohoRateRetry)), Reason: "zoho books rate limit: " + err.Error()}
	case mintThrottled(err):
		return DeferError{Until: now.Add(zohoMintRetry), Reason: "zoho accounts server throttles token mints: " + err.Error()}
	}
	return err
}

// mintThrottled reports the accounts server refusing a mint for the 10-per-10-minutes limit.
func mintThrottled(err error) bool {
	var te *zohobooks.TokenError
	return errors.As(err, &te) && (te.HTTPStatus == http.StatusTooManyRequests || te.ErrorCode == "Access Denied")
}

// orDefault returns d when positive, else def.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// pause records the daily-cap pause; a later end never shortens one already recorded.
func (z *ZohoSync) pause(ctx context.Context, until time.Time) error {
	return z.db.Update(ctx, func(tx *store.Tx) error {
		v, ok, err := tx.GetState(ctx, zohoPausedState)
		if err != nil {
			return err
		}
		if ok {
			if cur, err := store.ParseTime(v); err == nil && cur.After(until) {
				return nil
			}
		}
		return tx.SetState(ctx, zohoPausedState, store.FormatTime(until))
	})
}

// raiseAuthAlert records the alert for the admin dashboard, logs it and counts it.
func (z *ZohoSync) raiseAuthAlert(ctx context.Context, jobType string, cause error) {
	z.authFailures.Inc()
	z.logger.Error("zoho books refused the credentials: the sync is stopped until an admin fixes them and clears the alert",
		"error", cause, "job_type", jobType)
	a := ZohoAuthAlert{Message: cause.Error(), At: z.db.Now(), JobType: jobType, Credentials: z.credentialsFingerprint()}
	b, _ := json.Marshal(a)
	if err := z.db.Update(ctx, func(tx *store.Tx) error { return tx.SetState(ctx, zohoAuthAlertState, string(b)) }); err != nil {
		z.logger.Error("record zoho auth alert", "error", err)
	}
}

// zohoLocks serialises, within the process, the find-or-create of one Books record, so two jobs
// of the same company (or product) never both create it.
var zohoLocks keyedLocks

type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	ch   chan struct{}
	refs int
}

// lock takes key's lock, or gives up when ctx ends; the returned func releases it.
func (k *keyedLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	drop := func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}

// SyncRefund is the zoho_sync_refund handler: it books one Stripe refund state (charge +
// cumulative amount) as a refund of the order's Books payment, once.
//
// Zoho refunds only the unapplied part of a customer payment; a payment applied in full to its
// invoice may need a credit note instead, which this does not create.
func (z *ZohoSync) SyncRefund(ctx context.Context, job store.Job) (any, error) {
	return jobHandler(z.syncRefundJob)(ctx, job)
}

// syncRefundJob is SyncRefund with the payload decoded.
func (z *ZohoSync) syncRefundJob(ctx context.Context, job store.Job, p store.ZohoSyncRefundArgs) (any, error) {
	total, amount := p.AmountRefundedTotal, p.RefundAmount
	if p.OrderID == "" || p.ChargeID == "" || total < amount || amount <= 0 || p.Currency == "" {
		return nil, fmt.Errorf("zoho_sync_refund: payload needs order_id, charge_id, amount_refunded_total, a positive refund_amount and currency")
	}
	c, err := z.start(ctx)
	if err != nil {
		return nil, err
	}
	if z.cfg.ZohoDepositAccountID == "" {
		return nil, ErrNotConfigured("zoho books refunds", "ZOHO_DEPOSIT_ACCOUNT_ID (the Books account refunds are paid from)")
	}
	res, err := z.bookRefund(ctx, c, p, total, amount)
	if err != nil {
		return nil, z.settle(ctx, job.JobType, err)
	}
	return res, nil
}

type zohoRefundResult struct {
	OrderID       string `json:"order_id"`
	Reference     string `json:"reference"`
	ZohoPaymentID string `json:"zoho_payment_id"`
	ZohoRefundID  string `json:"zoho_refund_id"`
}

func (z *ZohoSync) bookRefund(ctx context.Context, c *zohobooks.Client, p store.ZohoSyncRefundArgs, total, amount int64) (zohoRefundResult, error) {
	ref := fmt.Sprintf("refund:%s:%d", p.ChargeID, total)
	res := zohoRefundResult{OrderID: p.OrderID, Reference: ref}
	if done, ok, err := z.db.GetZohoRefund(ctx, ref); err != nil || ok {
		res.ZohoPaymentID, res.ZohoRefundID = done.ZohoPaymentID, done.ZohoRefundID
		return res, err
	}
	o, err := z.db.GetZohoOrder(ctx, p.OrderID)
	if err != nil {
		return res, fmt.Errorf("load order %s: %w", p.OrderID, err)
	}
	if o.ZohoPaymentID == "" {
		return res, fmt.Errorf("waiting for zoho_sync_order: order %s has no zoho books payment yet", o.ID)
	}
	if !strings.EqualFold(p.Currency, o.Currency) {
		return res, fmt.Errorf("refund %s is in %s but order %s is in %s", ref, p.Currency, o.ID, o.Currency)
	}
	res.ZohoPaymentID = o.ZohoPaymentID
	// Search before creating: an earlier attempt may have booked it and lost the answer.
	refunds, err := c.ListPaymentRefunds(ctx, o.ZohoPaymentID)
	if err != nil {
		return res, err
	}
	for _, r := range refunds {
		if r.ReferenceNumber == ref {
			res.ZohoRefundID = r.PaymentRefundID
		}
	}
	if res.ZohoRefundID == "" {
		r, err := c.CreatePaymentRefund(ctx, o.ZohoPaymentID, zohobooks.RefundInput{
			Date: z.db.Now().Format(time.DateOnly), RefundMode: "creditcard", ReferenceNumber: ref,
			Amount: zohobooks.MinorToMajor(amount, o.Currency), FromAccountID: z.cfg.ZohoDepositAccountID,
			Description: fmt.Sprintf("Stripe refund on charge %s of order %s", p.ChargeID, o.ID),
		})
		if err != nil {
			return res, fmt.Errorf("book refund %s of order %s: %w", ref, o.ID, err)
		}
		res.ZohoRefundID = r.PaymentRefundID
		z.logger.Info("zoho refund booked", "order_id", o.ID, "reference", ref, "zoho_refund_id", r.PaymentRefundID)
	}
	err = z.db.Update(ctx, func(tx *store.Tx) error {
		return tx.SaveZohoRefund(ctx, store.ZohoRefund{Reference: ref, OrderID: o.ID, ChargeID: p.ChargeID,
			AmountRefundedTotal: total, RefundAmount: amount, Currency: o.Currency,
			ZohoPaymentID: o.ZohoPaymentID, ZohoRefundID: res.ZohoRefundID})
	})
	return res, err
}
