package store

import "strings"

// EventName is an engagement event's name (engagement_events.event_name). The names the
// product records or recognises are declared once, below, with the label and category
// v_engagement_feed gives them; TestDeclaredEventNamesMatchTheFeedView keeps the view and this
// list in step.
type EventName string

// EventCategory groups event names for the timeline's icons and the engagement score
// (v_engagement_feed.event_category).
type EventCategory string

// The event categories.
const (
	CategoryPurchase EventCategory = "purchase"
	CategoryEmail    EventCategory = "email"
	CategoryView     EventCategory = "view"
	CategoryClick    EventCategory = "click"
	CategoryEvent    EventCategory = "event"
)

// Weight is how much an event of category c adds to a company's engagement score: buying
// says more than clicking, clicking more than viewing, viewing more than receiving an e-mail.
func (c EventCategory) Weight() int {
	switch c {
	case CategoryPurchase:
		return 5
	case CategoryClick:
		return 3
	case CategoryView:
		return 2
	case CategoryEmail, CategoryEvent:
		return 1
	}
	return 0
}

// EventCategories lists the categories (v_engagement_feed.event_category's values).
func EventCategories() []EventCategory {
	return []EventCategory{CategoryPurchase, CategoryEmail, CategoryView, CategoryClick, CategoryEvent}
}

// The declared event names.
const (
	EventCheckoutStarted       EventName = "checkout_started"
	EventCheckoutCompleted     EventName = "checkout_completed"
	EventCheckoutExpired       EventName = "checkout_expired"
	EventAsyncPaymentSucceeded EventName = "async_payment_succeeded"
	EventAsyncPaymentFailed    EventName = "async_payment_failed"
	EventPaymentSucceeded      EventName = "payment_succeeded"
	EventPaymentFailed         EventName = "payment_failed"
	EventInvoicePaid           EventName = "invoice_paid"
	EventChargeRefunded        EventName = "charge_refunded"
	EventOfferView             EventName = "offer_view"
	EventOfferEmailSent        EventName = "offer_email_sent"
	EventEmailOpened           EventName = "email_opened"
	EventEmailClicked          EventName = "email_clicked"
	EventEmailBounced          EventName = "email_bounced"
	EventEmailUnsubscribed     EventName = "email_unsubscribed"
	EventEmailResubscribed     EventName = "email_resubscribed"
	EventCampaignSent          EventName = "campaign_sent"
	EventFormSubmitted         EventName = "form_submitted"
	EventWebinarRegistered     EventName = "webinar_registered"
	EventDealCreated           EventName = "deal_created"
	EventDealWon               EventName = "deal_won"
	// Recognised by the feed's categories, not recorded by this product (yet).
	EventLinkClicked EventName = "link_clicked"
	EventPageView    EventName = "page_view"
	EventPortalVisit EventName = "portal_visit"
)

// EventSources lists where engagement events come from (engagement_events.source; its CHECK
// holds the same list).
func EventSources() []string { return []string{"stripe", "zoho", "web", "admin", "system"} }

// SourceLabel is the event's source as staff know it.
func (e FeedEvent) SourceLabel() string { return EventSourceLabel(e.Source) }

// EventSourceLabel names an event source for staff ("Zoho CRM" for zoho).
func EventSourceLabel(source string) string {
	switch source {
	case "stripe":
		return "Stripe"
	case "zoho":
		return "Zoho CRM"
	case "web":
		return "Web (offer pages, checkout)"
	case "admin":
		return "Staff (admin console)"
	case "system":
		return "System"
	}
	return source
}

// EventNameSpec is one declared event name and its properties.
type EventNameSpec struct {
	Name     EventName
	Label    string // the feed's event_description, e.g. "Opened an e-mail"
	Category EventCategory
	// Zoho is set for the event types the Zoho CRM webhook accepts (contract).
	Zoho bool
}

var eventNames = [...]EventNameSpec{
	{EventCheckoutStarted, "Started a checkout", CategoryPurchase, false},
	{EventCheckoutCompleted, "Completed a checkout", CategoryPurchase, false},
	{EventCheckoutExpired, "Checkout expired", CategoryPurchase, false},
	{EventAsyncPaymentSucceeded, "Delayed payment succeeded", CategoryPurchase, false},
	{EventAsyncPaymentFailed, "Delayed payment failed", CategoryPurchase, false},
	{EventPaymentSucceeded, "Payment succeeded", CategoryPurchase, false},
	{EventPaymentFailed, "Payment failed", CategoryPurchase, false},
	{EventInvoicePaid, "Invoice paid", CategoryPurchase, false},
	{EventChargeRefunded, "Payment refunded", CategoryPurchase, false},
	{EventOfferView, "Viewed an offer page", CategoryView, false},
	{EventOfferEmailSent, "Was sent an offer e-mail", CategoryEmail, false},
	{EventEmailOpened, "Opened an e-mail", CategoryEmail, true},
	{EventEmailClicked, "Clicked a link in an e-mail", CategoryClick, true},
	{EventEmailBounced, "E-mail bounced", CategoryEmail, true},
	{EventEmailUnsubscribed, "Unsubscribed from e-mails", CategoryEmail, true},
	{EventEmailResubscribed, "Resubscribed to e-mails", CategoryEmail, false},
	{EventCampaignSent, "Was sent a campaign", CategoryEmail, true},
	{EventFormSubmitted, "Submitted a form", CategoryEvent, true},
	{EventWebinarRegistered, "Registered for a webinar", CategoryEvent, true},
	{EventDealCreated, "Deal created", CategoryEvent, true},
	{EventDealWon, "Deal won", CategoryPurchase, true},
	{EventLinkClicked, "Clicked a link", CategoryClick, false},
	{EventPageView, "Viewed a page", CategoryView, false},
	{EventPortalVisit, "Visited the reorder portal", CategoryView, false},
}

// EventNames lists the declared event names (a fresh slice).
func EventNames() []EventNameSpec { return append([]EventNameSpec(nil), eventNames[:]...) }

// LookupEventName returns the declaration of an event name.
func LookupEventName(name string) (EventNameSpec, bool) {
	for _, e := range eventNames {
		if string(e.Name) == name {
			return e, true
		}
	}
	return EventNameSpec{}, false
}

// EventLabel is the human description of an event name, as the feed shows it: the declared
// label, else the name with spaces for underscores (the view's fallback).
func EventLabel(name string) string {
	if e, ok := LookupEventName(name); ok {
		return e.Label
	}
	return strings.ReplaceAll(name, "_", " ")
}

// ZohoEventTypes lists the event types the Zoho CRM webhook accepts, in declaration order.
func ZohoEventTypes() []string {
	var out []string
	for _, e := range eventNames {
		if e.Zoho {
			out = append(out, string(e.Name))
		}
	}
	return out
}
