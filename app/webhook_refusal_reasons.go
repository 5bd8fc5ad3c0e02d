package app

import (
	"encoding/json"
	"strings"

	"github.com/technifold/technifold/store"
)

// Why a webhook request was refused, in the words staff read on the deliveries page, and what
// to check for each kind. The codes label /metrics (technifold_webhook_refused_total) and key
// the per-minute aggregate rows; the texts name the variable to check, never its value.

// Refusal codes. A short fixed list: a flood of one kind stays one row a minute.
const (
	refusedNoSignature  = "no_signature"
	refusedBadHeader    = "bad_header"
	refusedBadSignature = "bad_signature"
	refusedStale        = "stale"
	refusedOversize     = "oversize"
	refusedMalformed    = "malformed"
	refusedNoSecret     = "no_secret"
	refusedBadSecret    = "bad_secret"
)

// stripeSignatureRefusal is the code and the stored reason of a refused Stripe-Signature.
func stripeSignatureRefusal(err error) (code, reason string) {
	switch err {
	case errStripeNoSignature:
		return refusedNoSignature, "no Stripe-Signature header"
	case errStripeBadHeader:
		return refusedBadHeader, "Stripe-Signature header is malformed"
	case errStripeStale:
		return refusedStale, "Stripe-Signature timestamp is more than 5 minutes from the server's clock"
	}
	return refusedBadSignature, "signature does not match STRIPE_WEBHOOK_SECRET"
}

// malformedBodyReason is the stored reason of a trusted body that cannot be read: "body is not
// valid JSON" when it is not JSON at all, else what is wrong with it.
func malformedBodyReason(body []byte, err error, what string) string {
	if !json.Valid(body) {
		return "body is not valid JSON"
	}
	msg := store.ErrorMessage(err)
	for _, p := range []string{"malformed event: ", "malformed JSON: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return "body is not " + what + ": " + msg
}

// refusalHelp says what a refused row means and what to check, for the delivery page.
type refusalHelp struct {
	Code  string
	Check string // what to check, naming the variable or setting (never its value)
}

// refusalMeaning is the sentence the delivery page gives every refused row.
const refusalMeaning = "Refused means the request was turned away before it was trusted: nothing in it was applied " +
	"or kept except this count and the reason, so it cannot be replayed. Refusals are counted per provider, minute " +
	"and reason; the count is written within a minute."

// Meaning is what "refused" means, the same for every reason.
func (refusalHelp) Meaning() string { return refusalMeaning }

// explainRefusal is the help for a refused row (zero for other rows).
func explainRefusal(d store.AdminDelivery) refusalHelp {
	if !d.Refused() {
		return refusalHelp{}
	}
	code := d.RefusalCode()
	h := refusalHelp{Code: code}
	switch d.Provider + "/" + code {
	case "stripe/" + refusedBadSignature:
		h.Check = "Check that STRIPE_WEBHOOK_SECRET holds this endpoint's signing secret (Stripe dashboard → Developers → " +
			"Webhooks → the endpoint → Signing secret); while rolling a secret, list both, comma-separated. If it is right, " +
			"the requests did not come from Stripe."
	case "stripe/" + refusedNoSignature, "stripe/" + refusedBadHeader:
		h.Check = "Stripe always sends a Stripe-Signature header: check that no proxy in front of the service drops or " +
			"rewrites it. Requests without it did not come from Stripe."
	case "stripe/" + refusedStale:
		h.Check = "Check the server's clock (NTP): Stripe signs each attempt when it sends it. An old request sent again " +
			"by someone else is refused this way too."
	case "stripe/" + refusedOversize:
		h.Check = "Stripe's events are far below 1 MiB; such a request did not come from Stripe."
	case "stripe/" + refusedMalformed:
		h.Check = "The signature was right but the body is not an event this service reads: check the endpoint's API " +
			"version in the Stripe dashboard, and the event in Stripe's own delivery log."
	case "zoho/" + refusedNoSecret, "zoho/" + refusedBadSecret:
		h.Check = "Check that the Zoho CRM webhook sends the custom header X-Zoho-Secret with the value of " +
			"ZOHO_WEBHOOK_SECRET (Zoho CRM → Setup → Automation → Actions → Webhooks → the webhook's custom headers)."
	case "zoho/" + refusedOversize:
		h.Check = "Zoho CRM deliveries are limited to 64 KiB: check the webhook's body template for large fields."
	case "zoho/" + refusedMalformed:
		h.Check = "Check the webhook's body in Zoho CRM (Setup → Automation → Actions → Webhooks): it must post " +
			"event_type and email or contact_id, as JSON (Content-Type application/json) or form fields."
	default:
		h.Check = "Check the webhook's secret (" + webhookSecretVar(d.Provider) + ") and the sender's configuration."
	}
	return h
}

// webhookSecretVar names the variable holding a provider's webhook secret.
func webhookSecretVar(provider string) string {
	if provider == "zoho" {
		return "ZOHO_WEBHOOK_SECRET"
	}
	return "STRIPE_WEBHOOK_SECRET"
}
