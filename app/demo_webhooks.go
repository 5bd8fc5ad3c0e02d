package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/technifold/technifold/store"
)

// More of the demo's webhook deliveries (demo_activity.go has the rest): a Zoho CRM delivery
// that failed because its contact was not imported yet (imported since, so staff can replay
// it), and a malformed body for each provider beside the wrong signature and secret, so the
// refused rows show two reasons each. Sent through the webhook handlers like the others.

// demoZohoFailed is the Zoho CRM delivery that arrives before its contact exists.
var demoZohoFailed = struct {
	id, email, contactID, companyID string
	ago                             time.Duration
}{"zoho-demo-8", "sam.reed@new-buyer.example", "CONTACT1039", "COMPANY103", 26 * time.Hour}

// zohoFailedDelivery posts demoZohoFailed as Zoho CRM does (form fields), which fails (no
// such contact) and is kept as failed with its body; then the contact is imported, as staff
// would, so replaying the delivery applies it. Skipped once the delivery is there.
func (a *demoActivity) zohoFailedDelivery(ctx context.Context) error {
	d := demoZohoFailed
	var n int
	if err := a.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'zoho' AND event_id = ?`,
		d.id).Scan(&n); err != nil || n > 0 {
		return err
	}
	at := a.at.Add(-d.ago)
	body := url.Values{"event_type": {string(store.EventFormSubmitted)}, "event_id": {d.id}, "email": {d.email},
		"campaign_key": {"spring-reorder"}, "occurred_at": {at.UTC().Format(time.DateTime)}, "metadata.form": {"Request a quote"}}.Encode()
	code, answer := a.post(ctx, at.Add(3*time.Second), "/api/zoho/webhook", []byte(body), map[string]string{
		"X-Zoho-Secret": a.zoho, "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
	if code != http.StatusNotFound {
		return fmt.Errorf("demo zoho delivery %s for a contact not imported yet: %d %s", d.id, code, answer)
	}
	err := a.db.Update(store.WithTime(ctx, at.Add(2*time.Hour)), func(tx *store.Tx) error {
		_, err := tx.UpsertContact(ctx, store.Contact{ID: d.contactID, CompanyID: d.companyID, Email: d.email,
			FirstName: "Sam", LastName: "Reed", FullName: "Sam Reed", MarketingStatus: store.MarketingPending})
		return err
	})
	if err != nil {
		return fmt.Errorf("demo contact %s: %w", d.contactID, err)
	}
	a.res.Deliveries++
	a.res.Changed += 2 // the failed delivery, the contact
	return nil
}

// malformedDeliveries sends each webhook a trusted request whose body cannot be read: a
// Stripe body signed with the endpoint's secret but cut short, a Zoho body with the right
// secret that is not JSON. Both are refused for their body. Sent once (state
// demo_malformed_sent): a refusal keeps no id.
func (a *demoActivity) malformedDeliveries(ctx context.Context) error {
	err := a.db.Update(ctx, func(tx *store.Tx) error {
		if _, ok, err := tx.GetState(ctx, "demo_malformed_sent"); err != nil || ok {
			if ok {
				err = errDemoDone
			}
			return err
		}
		return tx.SetState(ctx, "demo_malformed_sent", "yes")
	})
	if errors.Is(err, errDemoDone) {
		return nil
	}
	if err != nil {
		return err
	}
	at := a.at.Add(-2 * time.Hour)
	full := stripeEventBody(stripeEvent{"evt_demo_cut_short", "customer.updated", at, map[string]any{"id": "cus_demo_x", "object": "customer"}})
	body := full[:len(full)/2]
	if code, _ := a.post(ctx, at, "/api/stripe/webhook", body, map[string]string{
		"Stripe-Signature": stripeSignatureHeader(a.secret, time.Now(), body)}); code != http.StatusBadRequest {
		return fmt.Errorf("demo: a signed Stripe body cut short got %d", code)
	}
	if code, _ := a.post(ctx, at.Add(time.Minute), "/api/zoho/webhook", []byte(`{"event_type": "email_opened", "email": `),
		map[string]string{"X-Zoho-Secret": a.zoho}); code != http.StatusBadRequest {
		return fmt.Errorf("demo: a malformed Zoho body got %d", code)
	}
	a.res.Deliveries += 2
	a.res.Changed += 3 // the marker and the refusal rows
	return nil
}
