package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// JobKind is an outbox job type (outbox.job_type). The kinds the product runs are declared
// once, below, each with its payload type and retry schedule; the app registers one handler
// per declared kind and refuses to start a worker without one (app.Registry.CheckDeclared).
type JobKind string

// The declared job kinds.
const (
	JobZohoSyncOrder  JobKind = "zoho_sync_order"
	JobZohoSyncRefund JobKind = "zoho_sync_refund"
	JobSendOfferEmail JobKind = "send_offer_email"
)

// JobArgs is a job's payload. Each declared kind has exactly one payload type, used both by
// the code that enqueues the job and by its handler (DecodeJobArgs).
type JobArgs interface {
	JobKind() JobKind
}

// ZohoSyncOrderArgs is the payload of zoho_sync_order: record a paid order in Zoho Books.
type ZohoSyncOrderArgs struct {
	OrderID string `json:"order_id"`
}

// ZohoSyncRefundArgs is the payload of zoho_sync_refund: one Stripe refund state of a charge
// (the cumulative amount refunded) to book against the order's Books payment.
type ZohoSyncRefundArgs struct {
	OrderID             string `json:"order_id"`
	ChargeID            string `json:"charge_id"`
	AmountRefundedTotal int64  `json:"amount_refunded_total"`
	RefundAmount        int64  `json:"refund_amount"`
	Currency            string `json:"currency"`
}

// SendOfferEmailArgs is the payload of send_offer_email: one offer e-mail to one contact.
type SendOfferEmailArgs struct {
	ContactID   string `json:"contact_id"`
	CompanyID   string `json:"company_id"`
	OfferKey    string `json:"offer_key,omitempty"`
	CampaignKey string `json:"campaign_key,omitempty"`
}

// JobKind implements JobArgs.
func (ZohoSyncOrderArgs) JobKind() JobKind { return JobZohoSyncOrder }

// JobKind implements JobArgs.
func (ZohoSyncRefundArgs) JobKind() JobKind { return JobZohoSyncRefund }

// JobKind implements JobArgs.
func (SendOfferEmailArgs) JobKind() JobKind { return JobSendOfferEmail }

// JobKindSpec is one declared job kind and its properties.
type JobKindSpec struct {
	Kind JobKind
	// Args is the zero value of the kind's payload type.
	Args JobArgs
	// Backoff is the wait after failed attempt number n (1-based).
	Backoff func(attempt int) time.Duration
	// About says what the job does, for listings and the README.
	About string
}

// jobKinds is the declaration: one row per kind.
var jobKinds = [...]JobKindSpec{
	{Kind: JobZohoSyncOrder, Args: ZohoSyncOrderArgs{}, Backoff: RetryDelay,
		About: "customer, items, invoice, mark sent and payment of a paid order in Zoho Books"},
	{Kind: JobZohoSyncRefund, Args: ZohoSyncRefundArgs{}, Backoff: RetryDelay,
		About: "a Stripe refund booked against the order's Zoho Books payment"},
	{Kind: JobSendOfferEmail, Args: SendOfferEmailArgs{}, Backoff: RetryDelay,
		About: "one offer e-mail to one contact, consent re-checked at send time"},
}

// JobKinds lists the declared job kinds (a fresh slice; callers may keep it).
func JobKinds() []JobKindSpec { return append([]JobKindSpec(nil), jobKinds[:]...) }

// LookupJobKind returns the declaration of a job type.
func LookupJobKind(jobType string) (JobKindSpec, bool) {
	for _, k := range jobKinds {
		if string(k.Kind) == jobType {
			return k, true
		}
	}
	return JobKindSpec{}, false
}

// retryDelayFor is the wait after failed attempt number attempt of a job of jobType: its
// kind's schedule, or the default one for undeclared types (tests, operators' own jobs).
func retryDelayFor(jobType string, attempt int) time.Duration {
	if k, ok := LookupJobKind(jobType); ok && k.Backoff != nil {
		return k.Backoff(attempt)
	}
	return RetryDelay(attempt)
}

// checkJobPayload refuses a payload of the wrong type for a declared kind, so no enqueuer can
// send a map where the handler expects a struct.
func checkJobPayload(j NewJob) error {
	k, ok := LookupJobKind(string(j.Type))
	if !ok {
		return nil
	}
	want := reflect.TypeOf(k.Args)
	got := reflect.TypeOf(j.Payload)
	if got != nil && got.Kind() == reflect.Pointer {
		got = got.Elem()
	}
	if got != want {
		return Errorf(EINVALID, "payload of %s job must be a %s, not %v", j.Type, want, got)
	}
	return nil
}

// NewJobFor describes a job of args' kind carrying args; set the other fields on the result.
func NewJobFor(args JobArgs) NewJob { return NewJob{Type: args.JobKind(), Payload: args} }

// DecodeJobArgs reads job's payload as its kind's payload type A. A job of another kind, or a
// payload that is not A's JSON, is an error.
func DecodeJobArgs[A JobArgs](job Job) (A, error) {
	var a A
	if job.JobType != "" && job.JobType != string(a.JobKind()) {
		return a, fmt.Errorf("job %d is a %s job, not %s", job.ID, job.JobType, a.JobKind())
	}
	if err := json.Unmarshal(job.Payload, &a); err != nil {
		return a, fmt.Errorf("%s job %d: malformed payload: %w", a.JobKind(), job.ID, err)
	}
	return a, nil
}
