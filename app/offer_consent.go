package app

import (
	"strings"

	"github.com/technifold/technifold/store"
)

// The two consent decisions of the offer flows. Every page, job and report asks these two
// functions and nothing else, so the rules live in one place (DESIGN §5).

// mayPersonalise reports whether a contact with marketing status may see content built from
// their purchase history and name, and be tracked (offer_view events, offer sessions).
// Subscribed and pending contacts may; unsubscribed and bounced ones see generic content and
// are not tracked. An unknown status (e.g. "" for a contact we could not load) may not.
func mayPersonalise(status string) bool {
	switch status {
	case store.MarketingSubscribed, store.MarketingPending:
		return true
	}
	return false
}

// maySendMarketing reports whether a contact with marketing status may be sent marketing
// e-mail: only with explicit consent (subscribed). Pending means no consent yet.
func maySendMarketing(status string) bool { return status == store.MarketingSubscribed }

// Reasons a contact is left out of an offer send (OfferSendReport).
const (
	reasonUnsubscribed   = "unsubscribed"
	reasonBounced        = "bounced"
	reasonPending        = "pending (no consent)"
	reasonNoEmail        = "no e-mail address"
	reasonNoCompany      = "no company"
	reasonUnknownStatus  = "unknown marketing status"
	reasonUnknownContact = "unknown contact"
	reasonUnknownCompany = "unknown company"
	reasonNoContacts     = "company has no contacts"
)

// offerIneligibility says why contact k may not be sent an offer e-mail, or "" when it may.
func offerIneligibility(k store.Contact) string {
	if !maySendMarketing(k.MarketingStatus) {
		switch k.MarketingStatus {
		case store.MarketingUnsubscribed:
			return reasonUnsubscribed
		case store.MarketingBounced:
			return reasonBounced
		case store.MarketingPending:
			return reasonPending
		}
		return reasonUnknownStatus
	}
	if e := strings.TrimSpace(k.Email); e == "" || !strings.Contains(e, "@") {
		return reasonNoEmail
	}
	if k.CompanyID == "" {
		// An offer link names a company; without one there is no page to link to.
		return reasonNoCompany
	}
	return ""
}
