package store

// EventLabel names a delivery's event for staff: the label of the engagement event it records
// ("Completed a checkout" for checkout.session.completed, "Opened an e-mail" for a Zoho
// email_opened), "Other Stripe event" for a type the service does not act on, and "" when
// the delivery has no type (a refused request).
func (d AdminDelivery) EventLabel() string {
	if d.EventType == "" {
		return ""
	}
	if d.Provider == "stripe" {
		for _, t := range stripeEventTypes {
			if t.Type == d.EventType {
				return EventLabel(string(t.Event))
			}
		}
		return "Other Stripe event"
	}
	return EventLabel(d.EventType)
}
