package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/technifold/technifold/store"
)

// Config is the settings the console reads, filled by app from its configuration.
type Config struct {
	// BaseURL is the public address: offer links start with it, and https makes cookies Secure.
	BaseURL string
	// OnFly trusts the Fly-Client-IP header for the caller's address (web.ClientIP).
	OnFly bool
	// ZohoDC and ZohoOrganizationID link orders to their Zoho Books invoices.
	ZohoDC, ZohoOrganizationID string
	// TokenSecret signs the offer links minted on the suggestions page ("" turns them off).
	TokenSecret string
	// OfferKeys are the declared offers staff may send or link.
	OfferKeys []string
	// Features are the optional parts and what each still needs, for the dashboard's health
	// and the notes beside actions that are off.
	Features Features
}

// Features are the optional parts of the server the console reports on or depends on.
type Features struct {
	Checkout, StripeWebhook, ZohoWebhook, ZohoBooks, Email, Replication Feature
	// OfferEmail is Email plus what sending offers needs besides (MAIL_FROM).
	OfferEmail Feature
}

// Feature is an optional capability and what it still needs.
type Feature struct {
	Name    string
	Missing []string // variables that must be set to turn it on
}

// On reports whether the feature has all its configuration.
func (f Feature) On() bool { return len(f.Missing) == 0 }

// Why says what to set.
func (f Feature) Why() string {
	if f.On() {
		return ""
	}
	return f.Name + " is off: set " + strings.Join(f.Missing, ", ")
}

// Services is everything the console asks of the rest of the server; package app implements
// it with thin adapters over its worker, ingest paths, offer sending, checkout, Zoho sync,
// replicator and throttle. The console reads and writes the database itself through store.
type Services interface {
	Jobs
	Webhooks
	Offers
	Integrations
	Guard
	Importer
}

// Jobs is the outbox worker as the outbox pages and the retry API use it.
type Jobs interface {
	// JobTypes lists the registered job kinds (the outbox filter).
	JobTypes() []string
	// WakeWorker tells the worker a job became due (after a retry).
	WakeWorker()
	// RunDueJobs works through the due jobs for at most budget ("run now").
	RunDueJobs(ctx context.Context, budget time.Duration) (processed, failed int, err error)
}

// Webhooks is the webhook ingest path as the deliveries pages use it.
type Webhooks interface {
	// ReplayStripe feeds a stored Stripe delivery's body through the webhook's ingest path
	// (the signature was verified when it arrived).
	ReplayStripe(ctx context.Context, body []byte) (store.StripeOutcome, error)
	// ReplayZoho feeds a stored Zoho CRM delivery through the webhook's ingest path again
	// (its secret was checked when it arrived).
	ReplayZoho(ctx context.Context, d store.AdminDelivery) (ZohoReplay, error)
	// UnsavedRefusals are the refused webhook requests counted in memory and not yet
	// written, per provider (the health table adds them to the stored ones).
	UnsavedRefusals() map[string]store.Refusals
}

// Offers is what staff send or create for customers.
type Offers interface {
	// SendOffers queues offer e-mails (the caller checks Features.OfferEmail first).
	SendOffers(ctx context.Context, req OfferSendRequest) (OfferSendReport, error)
	// CreatePaymentLink runs the checkout for a trusted caller and returns the Stripe
	// Checkout URL; a *ProviderError when Stripe refused.
	CreatePaymentLink(ctx context.Context, req PaymentLinkRequest) (PaymentLink, error)
}

// Integrations is the state of Zoho and replication, and the actions on them.
type Integrations interface {
	// ZohoAuthAlert is the alert raised when Zoho refused our credentials, or nil.
	ZohoAuthAlert(ctx context.Context) (*ZohoAlert, error)
	// ClearZohoAuthAlert lifts it and resumes the held jobs, returning how many.
	ClearZohoAuthAlert(ctx context.Context) (resumed int64, err error)
	// ZohoPausedUntil is when the Zoho daily-limit pause ends (zero when not paused).
	ZohoPausedUntil(ctx context.Context) (time.Time, error)
	// Replicator is the running replication, or nil when it is off.
	Replicator() *store.Replicator
	// BackupVerification is the last backup verification's report, or nil when none ran.
	BackupVerification(ctx context.Context) (*store.VerifyReport, error)
}

// Guard is the server's throttle on guessable secrets, which the sign-in form shares with the
// API token, the cron secret and checkout's bearer token.
type Guard interface {
	// CheckAPIToken checks an ADMIN_API_TOKEN bearer token under the per-address throttle.
	// When it returns false it has answered (401 or 429).
	CheckAPIToken(w http.ResponseWriter, r *http.Request, token string) bool
	// ReserveSignIn takes a slot in the sign-in windows of the address and of the account
	// (or of the device that holds the account's device cookie). When a window is full it
	// returns a nil release and how long to wait.
	ReserveSignIn(email, ip, device string) (release func(), wait time.Duration)
	// ForgetSignInDevice clears a device's window after a sign-in from it succeeded.
	ForgetSignInDevice(email, device string)
	// VerifyPassword runs compare in one of the bounded password-verification slots; when
	// none frees in time it returns a *BusyError.
	VerifyPassword(ctx context.Context, compare func() bool) (bool, error)
}

// BusyError is a refusal for want of capacity: the caller may retry after RetryAfter.
type BusyError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *BusyError) Error() string { return e.Err.Error() }
func (e *BusyError) Unwrap() error { return e.Err }

// ZohoReplay is what replaying a Zoho CRM delivery did.
type ZohoReplay struct {
	EventID int64 // the engagement event recorded (0 for a repeat)
	Repeat  bool  // already applied: nothing changed
}

// ZohoAlert is the alert the Zoho sync raises when Zoho refuses its credentials.
type ZohoAlert struct {
	Message string
	At      time.Time
}

// OfferSendRequest asks for offer e-mails to the contacts of some companies and/or to some
// contacts (the body of POST /api/admin/offers/send).
type OfferSendRequest struct {
	CompanyIDs  []string `json:"company_ids"`
	ContactIDs  []string `json:"contact_ids"`
	OfferKey    string   `json:"offer_key"`
	CampaignKey string   `json:"campaign_key"`
}

// OfferRecipient is one line of an OfferSendReport.
type OfferRecipient struct {
	ContactID string `json:"contact_id,omitempty"`
	CompanyID string `json:"company_id,omitempty"`
	Email     string `json:"email,omitempty"`
	Name      string `json:"name,omitempty"`
	// Reason says why the contact gets nothing (ineligible only).
	Reason string `json:"reason,omitempty"`
	// JobID is the send_offer_email job (eligible only); AlreadyQueued is true when the same
	// contact, campaign and offer had been queued before, so nothing new was added.
	JobID         int64 `json:"job_id,omitempty"`
	AlreadyQueued bool  `json:"already_queued,omitempty"`
}

// OfferSendReport says who will be sent the offer and who will not, and why.
type OfferSendReport struct {
	OfferKey    string           `json:"offer_key"`
	CampaignKey string           `json:"campaign_key,omitempty"`
	Eligible    []OfferRecipient `json:"eligible"`
	Ineligible  []OfferRecipient `json:"ineligible"`
	Queued      int              `json:"queued"` // jobs added by this call
}

// PaymentLinkRequest is the company page's "Create payment link" form.
type PaymentLinkRequest struct {
	CompanyID, ContactID string
	Items                []PaymentLinkItem
}

// PaymentLinkItem is one product line as typed (the quantity is checked by the checkout).
type PaymentLinkItem struct {
	ProductCode, Quantity string
}

// PaymentLink is a created Stripe Checkout link and the order behind it.
type PaymentLink struct {
	CompanyID, CompanyName, ContactID string
	OrderID, URL                      string
	// Quantities are the ordered quantities by product code (the audit entry's items).
	Quantities map[string]int64
}

// ProviderError is a payment provider's refusal, with its message safe to show.
type ProviderError struct{ Message string }

func (e *ProviderError) Error() string { return "payment provider error: " + e.Message }
