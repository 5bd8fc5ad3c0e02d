package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/technifold/technifold/store"
)

// maxStripeWebhookBody caps webhook bodies; Stripe's events are far smaller.
const maxStripeWebhookBody = 1 << 20

// stripeSignatureTolerance is how far a signature's timestamp may be from now.
const stripeSignatureTolerance = 300 * time.Second

// Reasons a Stripe-Signature header is refused. Their texts are the 400 answers.
var (
	errStripeNoSignature  = errors.New("missing Stripe-Signature header")
	errStripeBadHeader    = errors.New("malformed Stripe-Signature header")
	errStripeBadSignature = errors.New("no valid signature in Stripe-Signature header")
	errStripeStale        = errors.New("Stripe-Signature timestamp is outside the tolerance")
)

func (s *Server) handleStripeWebhook(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if len(s.stripe.secrets) == 0 {
		writeErrorMessage(w, http.StatusServiceUnavailable, FeatureStripeWebhook+" is off: set STRIPE_WEBHOOK_SECRET")
		return
	}
	body, err := readWebhookBody(w, r, maxStripeWebhookBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.refusals.note(r.Context(), "stripe", store.RefusedOversize, "body is larger than 1 MiB")
			writeErrorMessage(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		writeErrorMessage(w, http.StatusBadRequest, "could not read the request body")
		return
	}
	err = verifyStripeSignature(r.Header.Get("Stripe-Signature"), body, s.stripe.secrets, stripeSignatureTolerance)
	if err != nil {
		code, reason := stripeSignatureRefusal(err)
		s.refusals.note(r.Context(), "stripe", code, reason)
		writeErrorMessage(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := s.stripe.ingest(r.Context(), body); err != nil {
		if store.ErrorCode(err) == store.EINVALID {
			s.refusals.note(r.Context(), "stripe", store.RefusedMalformed, malformedBodyReason(body, err, "a Stripe event"))
		}
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"received": true})
}

// readWebhookBody reads a request body of at most limit bytes in one allocation when the client
// declared its length (Stripe does): refused requests should cost as little as possible.
func readWebhookBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, limit)
	if n := r.ContentLength; n > 0 && n <= limit {
		// net/http's body reader ends after Content-Length bytes.
		buf := make([]byte, n)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(rd)
}

// ingest applies one trusted Stripe event (a verified webhook body, or an event fetched from
// Stripe by reconciliation) in a single transaction: delivery, engagement event, order state
// and jobs. It is the only way Stripe events reach the database.
func (s *stripeService) ingest(ctx context.Context, body []byte) (store.StripeOutcome, error) {
	ev, err := parseStripeEvent(body)
	if err != nil {
		return store.StripeOutcome{}, err
	}
	ps := s.statements(ctx)
	var out store.StripeOutcome
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.ApplyStripeEvent(ctx, ps, ev)
		return err
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "apply stripe event", "event_id", ev.ID, "type", ev.Type, "error", err)
		if store.ErrorCode(err) != store.EINVALID && ctx.Err() == nil {
			msg := store.ErrorMessage(err)
			if ferr := s.db.Update(ctx, func(tx *store.Tx) error { return tx.RecordStripeFailure(ctx, ev, msg) }); ferr != nil {
				s.logger.WarnContext(ctx, "record failed stripe delivery", "event_id", ev.ID, "error", ferr)
			}
		}
		return out, err
	}
	switch {
	case out.Repeat:
		s.logger.DebugContext(ctx, "stripe event repeated", "event_id", ev.ID, "type", ev.Type)
	case out.Status == store.DeliveryIgnored && store.IsHandledStripeEvent(ev.Type):
		s.logger.WarnContext(ctx, "stripe event matches no order", "event_id", ev.ID, "type", ev.Type, "note", out.Note)
	default:
		s.logger.InfoContext(ctx, "stripe event", "event_id", ev.ID, "type", ev.Type, "status", out.Status, "order_id", out.OrderID)
	}
	return out, nil
}

// statements returns the store's prepared Stripe statements, preparing them on first use.
// It must run outside any transaction (it needs the writer's connection); without them (a
// failed prepare) events still apply, preparing per transaction.
func (s *stripeService) statements(ctx context.Context) *store.StripeStatements {
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.prepared != nil || time.Since(s.prepErr) < time.Minute {
		return s.prepared
	}
	ps, err := s.db.PrepareStripeStatements(ctx)
	if err != nil {
		s.prepErr = time.Now()
		s.logger.WarnContext(ctx, "prepare stripe statements", "error", err)
		return nil
	}
	s.prepared = ps
	return ps
}

// verifyStripeSignature checks a Stripe-Signature header ("t=<unix>,v1=<hex>[,v1=<hex>…]")
// with stripe-go's webhook.ValidatePayloadWithTolerance, once per configured secret
// (rotation): some v1 must be HMAC-SHA256(secret, "<t>.<body>") and t no older than
// tolerance. Several v1 entries appear while Stripe rolls a secret. Only the signature is
// checked here: the body is decoded once, by parseStripeEvent, and its api_version is not
// checked (ValidatePayload* never does; ConstructEvent would), so events of every API version
// are accepted as before.
//
// Before calling the library the header is bounded (8 KiB) and spaces are removed, which
// keeps accepting the "t=…, v1=…" form our own parser took. After it, a timestamp more than
// tolerance in the future is refused as stale, as before (stripe-go checks only the past).
func verifyStripeSignature(header string, body []byte, secrets []string, tolerance time.Duration) error {
	if strings.TrimSpace(header) == "" {
		return errStripeNoSignature
	}
	if len(header) > 8<<10 {
		return errStripeBadHeader
	}
	if strings.ContainsAny(header, " \t") {
		header = strings.NewReplacer(" ", "", "\t", "").Replace(header)
	}
	for _, secret := range secrets {
		err := webhook.ValidatePayloadWithTolerance(body, header, secret, tolerance)
		switch {
		case err == nil:
			if signatureTime(header).Sub(time.Now()) > tolerance {
				return errStripeStale
			}
			return nil
		case errors.Is(err, webhook.ErrTooOld): // checked before the signature, the same for every secret
			return errStripeStale
		case errors.Is(err, webhook.ErrInvalidHeader):
			return errStripeBadHeader
		case errors.Is(err, webhook.ErrNotSigned):
			return errStripeNoSignature
		}
	}
	return errStripeBadSignature
}

// signatureTime is the timestamp stripe-go verified a header with: its last "t=" entry.
func signatureTime(header string) time.Time {
	var ts int64
	for part := range strings.SplitSeq(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			ts, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return time.Unix(ts, 0)
}

// stripeEventJSON is the part of a Stripe event envelope we read; unknown fields, and the
// api_version, are ignored so events of any API version are accepted.
type stripeEventJSON struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// stripeObjectJSON holds the fields we use of the objects the handled events carry
// (checkout.session, payment_intent, invoice, charge).
type stripeObjectJSON struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Metadata          map[string]string `json:"metadata"`
	ClientReferenceID string            `json:"client_reference_id"`
	PaymentStatus     string            `json:"payment_status"`
	Currency          string            `json:"currency"`
	AmountTotal       *int64            `json:"amount_total"`
	AmountSubtotal    *int64            `json:"amount_subtotal"`
	TotalDetails      *struct {
		AmountTax *int64 `json:"amount_tax"`
	} `json:"total_details"`
	PaymentIntent    stripeRef `json:"payment_intent"`
	Customer         stripeRef `json:"customer"`
	Invoice          stripeRef `json:"invoice"`
	Amount           int64     `json:"amount"`
	AmountReceived   int64     `json:"amount_received"`
	AmountPaid       int64     `json:"amount_paid"`
	AmountRefunded   int64     `json:"amount_refunded"`
	Refunded         bool      `json:"refunded"`
	LastPaymentError *struct {
		Code        string `json:"code"`
		DeclineCode string `json:"decline_code"`
		Message     string `json:"message"`
	} `json:"last_payment_error"`
}

// stripeRef is a reference to another Stripe object: its id, null, or the expanded object.
type stripeRef string

func (r *stripeRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*r = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		err := json.Unmarshal(b, &s)
		*r = stripeRef(s)
		return err
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return errors.New("expected an id or an object")
	}
	*r = stripeRef(obj.ID)
	return nil
}

// stripeTypedEventJSON is a Stripe event read in one pass, its object typed.
type stripeTypedEventJSON struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object *stripeObjectJSON `json:"object"`
	} `json:"data"`
}

// parseStripeEvent reads a Stripe event into what the store acts on. Bad input is an
// EINVALID error; events of types we do not handle need only an id and a type.
//
// A well-formed event of a handled type is decoded in one pass; anything else (an error, a
// missing object, a type we do not handle) goes through parseStripeEventSlow, which reads the
// envelope first and decides what is wrong. Decoding is a third of the handler's CPU time.
func parseStripeEvent(body []byte) (store.StripeEvent, error) {
	var ev stripeTypedEventJSON
	if err := json.Unmarshal(body, &ev); err != nil || ev.Data.Object == nil || !store.IsHandledStripeEvent(ev.Type) {
		return parseStripeEventSlow(body)
	}
	if ev.ID == "" || ev.Type == "" || len(ev.ID) > 255 || len(ev.Type) > 255 {
		return store.StripeEvent{}, invalidf("malformed event: id and type are required")
	}
	e := store.StripeEvent{ID: ev.ID, Type: ev.Type, Body: string(body)}
	if ev.Created > 0 && ev.Created < 1<<40 {
		e.Created = time.Unix(ev.Created, 0).UTC()
	}
	return stripeEventFromObject(e, ev.Data.Object)
}

// parseStripeEventSlow reads the envelope, then the object of a handled type.
func parseStripeEventSlow(body []byte) (store.StripeEvent, error) {
	var env stripeEventJSON
	if err := json.Unmarshal(body, &env); err != nil {
		return store.StripeEvent{}, invalidf("malformed event: %s", jsonErrorText(err))
	}
	if env.ID == "" || env.Type == "" || len(env.ID) > 255 || len(env.Type) > 255 {
		return store.StripeEvent{}, invalidf("malformed event: id and type are required")
	}
	e := store.StripeEvent{ID: env.ID, Type: env.Type, Body: string(body)}
	if env.Created > 0 && env.Created < 1<<40 {
		e.Created = time.Unix(env.Created, 0).UTC()
	}
	if !store.IsHandledStripeEvent(e.Type) {
		return e, nil
	}
	var obj stripeObjectJSON
	if len(env.Data.Object) == 0 || env.Data.Object[0] != '{' {
		return e, invalidf("malformed event: data.object must be an object")
	}
	if err := json.Unmarshal(env.Data.Object, &obj); err != nil {
		return e, invalidf("malformed event: data.object: %s", jsonErrorText(err))
	}
	return stripeEventFromObject(e, &obj)
}

// stripeEventFromObject fills e (id, type and time set) from its event's object.
func stripeEventFromObject(e store.StripeEvent, obj *stripeObjectJSON) (store.StripeEvent, error) {
	if obj.ID == "" {
		return e, invalidf("malformed event: data.object.id is required")
	}
	decl, ok := store.LookupStripeEventType(e.Type)
	if !ok {
		return e, fmt.Errorf("no declaration for stripe event type %s", e.Type)
	}
	// The declaration says which object the type carries, so which id its id is; an event
	// carrying another object is refused rather than filed under the wrong id.
	if obj.Object != "" && obj.Object != string(decl.Object) {
		return e, invalidf("malformed event: %s carries a %s, not a %s", e.Type, truncateRunes(obj.Object, 64), decl.Object)
	}
	e.OrderID = obj.Metadata["order_id"]
	e.CustomerID = string(obj.Customer)
	e.Currency = strings.ToLower(obj.Currency)
	switch decl.Object {
	case store.StripeObjectCheckoutSession:
		if e.OrderID == "" {
			e.OrderID = obj.ClientReferenceID
		}
		e.SessionID, e.PaymentIntentID, e.InvoiceID = obj.ID, string(obj.PaymentIntent), string(obj.Invoice)
		e.PaymentStatus = obj.PaymentStatus
		e.AmountTotal, e.AmountSubtotal = obj.AmountTotal, obj.AmountSubtotal
		if obj.TotalDetails != nil {
			e.AmountTax = obj.TotalDetails.AmountTax
		}
		if obj.AmountTotal != nil {
			e.Amount = *obj.AmountTotal
		}
	case store.StripeObjectPaymentIntent:
		e.PaymentIntentID, e.Amount = obj.ID, obj.Amount
		if obj.AmountReceived > 0 {
			e.Amount = obj.AmountReceived
		}
		if pe := obj.LastPaymentError; pe != nil {
			e.FailureCode, e.DeclineCode, e.FailureMessage = pe.Code, pe.DeclineCode, pe.Message
		}
	case store.StripeObjectInvoice:
		e.InvoiceID, e.Amount = obj.ID, obj.AmountPaid
	case store.StripeObjectCharge:
		e.ChargeID, e.PaymentIntentID, e.Amount = obj.ID, string(obj.PaymentIntent), obj.Amount
		e.AmountRefunded, e.Refunded = obj.AmountRefunded, obj.Refunded
	default:
		return e, fmt.Errorf("no parser for stripe object %s (event type %s)", decl.Object, e.Type)
	}
	if e.Amount < 0 || e.AmountRefunded < 0 {
		return e, invalidf("malformed event: negative amount")
	}
	return e, nil
}
