package app

import "github.com/technifold/technifold/store"

// What a refused row on the webhook deliveries page means and what to check, per provider and
// reason code (store.Refused*).

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
	case "stripe/" + store.RefusedBadSignature:
		h.Check = "Check that STRIPE_WEBHOOK_SECRET holds this endpoint's signing secret (Stripe dashboard → Developers → " +
			"Webhooks → the endpoint → Signing secret); while rolling a secret, list both, comma-separated. If it is right, " +
			"the requests did not come from Stripe."
	case "stripe/" + store.RefusedNoSignature, "stripe/" + store.RefusedBadHeader:
		h.Check = "Stripe always sends a Stripe-Signature header: check that no proxy in front of the service drops or " +
			"rewrites it. Requests without it did not come from Stripe."
	case "stripe/" + store.RefusedStale:
		h.Check = "Check the server's clock (NTP): Stripe signs each attempt when it sends it. An old request sent again " +
			"by someone else is refused this way too."
	case "stripe/" + store.RefusedOversize:
		h.Check = "Stripe's events are far below 1 MiB; such a request did not come from Stripe."
	case "stripe/" + store.RefusedMalformed:
		h.Check = "The signature was right but the body is not an event this service reads: check the endpoint's API " +
			"version in the Stripe dashboard, and the event in Stripe's own delivery log."
	case "zoho/" + store.RefusedNoSecret, "zoho/" + store.RefusedBadSecret:
		h.Check = "Check that the Zoho CRM webhook sends the custom header X-Zoho-Secret with the value of " +
			"ZOHO_WEBHOOK_SECRET (Zoho CRM → Setup → Automation → Actions → Webhooks → the webhook's custom headers)."
	case "zoho/" + store.RefusedOversize:
		h.Check = "Zoho CRM deliveries are limited to 64 KiB: check the webhook's body template for large fields."
	case "zoho/" + store.RefusedMalformed:
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
