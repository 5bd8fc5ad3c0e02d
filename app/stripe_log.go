package app

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Stripe's responses are full of personal data (customers' e-mails, names, phones and postal
// addresses), and stripe-go logs each response body at debug and error bodies at warn. None
// of it may reach our logs, at any level:
//
//   - a response body ("Response: %s") is never logged: only its object type, id and size;
//   - every other line has the values of personal fields (email, name, phone, address lines,
//     city, postal code, …) in JSON or form encoding, any e-mail address (also %40-encoded)
//     and anything resembling an API key replaced by [redacted].

var (
	// personalJSONField matches "key": "value" for keys that hold personal data.
	personalJSONField = regexp.MustCompile(`"(email|customer_email|receipt_email|name|phone|line1|line2|city|postal_code|state|tax_id|value|individual_name)"\s*:\s*"(?:[^"\\]|\\.)*"`)
	// personalFormField matches key=value in form-encoded text (request parameters in errors).
	personalFormField = regexp.MustCompile(`((?:^|[&?\s\[])(?:email|customer_email|receipt_email|name|phone|line1|line2|city|postal_code|state)\]?=)[^&\s"]*`)
	emailAddress      = regexp.MustCompile(`[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
)

// redactPersonal removes personal data and keys from a log or error text.
func redactPersonal(s string) string {
	s = personalJSONField.ReplaceAllString(s, `"$1":"[redacted]"`)
	s = personalFormField.ReplaceAllString(s, `${1}[redacted]`)
	s = emailAddress.ReplaceAllString(s, "[redacted e-mail]")
	return stripeKeyPattern.ReplaceAllString(s, "[redacted]")
}

// redactStripeLog formats one stripe-go log line without personal data.
func redactStripeLog(format string, v []any) string {
	if strings.HasPrefix(format, "Response: ") && len(v) == 1 {
		body := fmt.Sprint(v[0])
		var head struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		}
		_ = json.Unmarshal([]byte(body), &head)
		return fmt.Sprintf("Response: %s %s (%d bytes; body not logged)", redactPersonal(head.Object), redactPersonal(head.ID), len(body))
	}
	return redactPersonal(fmt.Sprintf(format, v...))
}
