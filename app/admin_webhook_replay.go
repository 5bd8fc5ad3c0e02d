package app

import (
	"context"
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strings"

	"github.com/technifold/technifold/store"
)

// replayDelivery feeds a stored delivery's body through its provider's webhook code path again,
// after the point where the signature or secret was checked (the body was trusted when it
// arrived). A delivery already applied counts as a repeat and changes nothing; a failed one is
// applied. It returns the notice for staff and the audit entry's detail.
func (s *Server) replayDelivery(ctx context.Context, d store.AdminDelivery) (string, map[string]any, error) {
	if d.Provider == "zoho" {
		return s.replayZohoDelivery(ctx, d)
	}
	out, err := s.stripe.ingest(ctx, []byte(d.Body))
	detail := map[string]any{"event_id": d.EventID, "event_type": d.EventType, "ok": err == nil,
		"status": out.Status, "repeat": out.Repeat, "order_id": out.OrderID}
	msg := fmt.Sprintf("Replayed %s (%s): %s.", d.EventID, d.EventType, out.Status)
	switch {
	case out.Repeat:
		msg = fmt.Sprintf("Replayed %s: it had already been applied (%s), so nothing changed.", d.EventID, out.Status)
	case out.OrderID != "":
		msg = fmt.Sprintf("Replayed %s (%s): %s, order %s.", d.EventID, d.EventType, out.Status, out.OrderID)
	}
	if out.Note != "" {
		msg += " " + out.Note
	}
	return msg, detail, err
}

// replayZohoDelivery replays a Zoho CRM delivery (replayZoho) and words the outcome.
func (s *Server) replayZohoDelivery(ctx context.Context, d store.AdminDelivery) (string, map[string]any, error) {
	out, err := s.replayZoho(ctx, d)
	status := store.DeliveryProcessed
	if out.Repeat {
		status = store.DeliveryDuplicate
	}
	detail := map[string]any{"provider": "zoho", "event_id": d.EventID, "event_type": d.EventType, "ok": err == nil,
		"repeat": out.Repeat}
	if err != nil {
		return "", detail, err
	}
	detail["status"] = status
	if out.Repeat {
		return fmt.Sprintf("Replayed %s: it had already been applied, so nothing changed.", d.EventID), detail, nil
	}
	detail["engagement_event_id"] = out.EventID
	return fmt.Sprintf("Replayed %s (%s): applied, engagement event #%d recorded.", d.EventID,
		store.EventLabel(d.EventType), out.EventID), detail, nil
}

// deliveryBodyText is a stored body for reading: JSON indented, form fields (as Zoho CRM may
// post them) one "name = value" per line, decoded.
func deliveryBodyText(d store.AdminDelivery) string {
	if d.Provider == "zoho" {
		if mt, _, _ := mime.ParseMediaType(zohoStoredContentType(d)); mt == "application/x-www-form-urlencoded" {
			if vals, err := url.ParseQuery(d.Body); err == nil {
				var lines []string
				for k, vs := range vals {
					for _, v := range vs {
						lines = append(lines, k+" = "+v)
					}
				}
				sort.Strings(lines)
				return strings.Join(lines, "\n")
			}
		}
	}
	return prettyJSON(d.Body)
}
