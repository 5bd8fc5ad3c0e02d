package store

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// StripeObject is the type of object a Stripe event carries in data.object (the object's own
// "object" field). It decides which of StripeEvent's ids the object's id is: a charge's id is a
// charge id, a dispute's is not, whatever its event type starts with.
type StripeObject string

// The Stripe objects whose events we apply.
const (
	StripeObjectCheckoutSession StripeObject = "checkout.session"
	StripeObjectPaymentIntent   StripeObject = "payment_intent"
	StripeObjectInvoice         StripeObject = "invoice"
	StripeObjectCharge          StripeObject = "charge"
)

// Stripe event types that change an order.
const (
	StripeCheckoutCompleted     = "checkout.session.completed"
	StripeAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded"
	StripeAsyncPaymentFailed    = "checkout.session.async_payment_failed"
	StripeCheckoutExpired       = "checkout.session.expired"
	StripePaymentSucceeded      = "payment_intent.succeeded"
	StripePaymentFailed         = "payment_intent.payment_failed"
	StripeInvoicePaid           = "invoice.paid"
	StripeChargeRefunded        = "charge.refunded"
)

// StripeEventType is one declared Stripe event type: the object it carries (so which id it
// fills) and the engagement event it records. TestStripeEventTypesNameTheirObject checks that
// each type's resource is its object (so "charge.dispute.created", whose object is a dispute,
// cannot be declared as a charge event).
type StripeEventType struct {
	Type   string
	Object StripeObject
	Event  EventName
}

var stripeEventTypes = [...]StripeEventType{
	{StripeCheckoutCompleted, StripeObjectCheckoutSession, EventCheckoutCompleted},
	{StripeAsyncPaymentSucceeded, StripeObjectCheckoutSession, EventAsyncPaymentSucceeded},
	{StripeAsyncPaymentFailed, StripeObjectCheckoutSession, EventAsyncPaymentFailed},
	{StripeCheckoutExpired, StripeObjectCheckoutSession, EventCheckoutExpired},
	{StripePaymentSucceeded, StripeObjectPaymentIntent, EventPaymentSucceeded},
	{StripePaymentFailed, StripeObjectPaymentIntent, EventPaymentFailed},
	{StripeInvoicePaid, StripeObjectInvoice, EventInvoicePaid},
	{StripeChargeRefunded, StripeObjectCharge, EventChargeRefunded},
}

// stripeObjects are the objects whose events we can apply: each has a parser in the app.
var stripeObjects = [...]StripeObject{StripeObjectCheckoutSession, StripeObjectPaymentIntent, StripeObjectInvoice, StripeObjectCharge}

// StripeObjects lists the objects whose events we can apply.
func StripeObjects() []StripeObject { return slices.Clone(stripeObjects[:]) }

// Check reports what is wrong with a declaration: Stripe names an event type after the
// resource it carries plus an action ("charge.refunded" carries a charge,
// "charge.dispute.created" a dispute, whose "object" field says "dispute"), so the type
// without its action must be the declared object (or end with it, for a nested resource),
// one we can parse, and the engagement event must be declared.
func (d StripeEventType) Check() error {
	i := strings.LastIndexByte(d.Type, '.')
	if i <= 0 {
		return fmt.Errorf("stripe event type %q: want <resource>.<action>", d.Type)
	}
	resource := d.Type[:i]
	if resource != string(d.Object) && resource[strings.LastIndexByte(resource, '.')+1:] != string(d.Object) {
		return fmt.Errorf("stripe event type %s carries a %s, not a %s: its id would be filed as a %s id",
			d.Type, resource, d.Object, d.Object)
	}
	if !slices.Contains(stripeObjects[:], d.Object) {
		return fmt.Errorf("stripe event type %s: no parser for %s objects", d.Type, d.Object)
	}
	if _, ok := LookupEventName(string(d.Event)); !ok {
		return fmt.Errorf("stripe event type %s records %q, which is not a declared event name", d.Type, d.Event)
	}
	return nil
}

// StripeEventTypeDecls lists the declarations (a fresh slice).
func StripeEventTypeDecls() []StripeEventType { return slices.Clone(stripeEventTypes[:]) }

// StripeEventTypes lists the Stripe event types ApplyStripeEvent acts on, sorted.
func StripeEventTypes() []string {
	out := make([]string, 0, len(stripeEventTypes))
	for _, t := range stripeEventTypes {
		out = append(out, t.Type)
	}
	sort.Strings(out)
	return out
}

// LookupStripeEventType returns the declaration of Stripe event type t.
func LookupStripeEventType(t string) (StripeEventType, bool) {
	for _, d := range stripeEventTypes {
		if d.Type == t {
			return d, true
		}
	}
	return StripeEventType{}, false
}

// IsHandledStripeEvent reports whether ApplyStripeEvent changes orders for events of type t.
func IsHandledStripeEvent(t string) bool {
	_, ok := LookupStripeEventType(t)
	return ok
}

// stripeEventName is the engagement event a handled Stripe event type records.
func stripeEventName(t string) EventName {
	d, _ := LookupStripeEventType(t)
	return d.Event
}
