package app

import (
	"encoding/json"
	"strings"

	"github.com/technifold/technifold/store"
)

// Why a webhook request was refused, in the words staff read on the deliveries page (what to
// check for each kind is in admin_webhook_refusals.go). The codes (store.Refused*) label
// /metrics (technifold_webhook_refused_total) and key the per-minute aggregate rows; the texts
// name the variable to check, never its value.

// stripeSignatureRefusal is the code and the stored reason of a refused Stripe-Signature.
func stripeSignatureRefusal(err error) (code, reason string) {
	switch err {
	case errStripeNoSignature:
		return store.RefusedNoSignature, "no Stripe-Signature header"
	case errStripeBadHeader:
		return store.RefusedBadHeader, "Stripe-Signature header is malformed"
	case errStripeStale:
		return store.RefusedStale, "Stripe-Signature timestamp is more than 5 minutes from the server's clock"
	}
	return store.RefusedBadSignature, "signature does not match STRIPE_WEBHOOK_SECRET"
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

// malformedZohoReason is the stored reason of a Zoho body that cannot be read.
func malformedZohoReason(err error) string {
	msg := store.ErrorMessage(err)
	switch {
	case strings.HasPrefix(msg, "malformed JSON"):
		return "body is not valid JSON"
	case msg == "the body must be a JSON object":
		return "body is not a JSON object"
	case strings.HasPrefix(msg, "Content-Type") || strings.HasPrefix(msg, "malformed Content-Type"):
		return "body refused: " + msg
	}
	return "body is not a Zoho CRM event: " + msg
}
