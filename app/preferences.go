package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// E-mail preferences: /preferences/{token}, linked from every offer page and every offer
// e-mail (List-Unsubscribe). The signed token authorises the change, so there is no login;
// RFC 8058 one-click unsubscribe POSTs List-Unsubscribe=One-Click from anywhere, every other
// change must be a same-origin POST (Sec-Fetch-Site / Origin, as for the admin pages).
//
// Expiry: an expired token (good signature) still unsubscribes — an unsubscribe link must
// keep working however old the e-mail is. Resubscribing grants consent, so it needs a token
// that has not expired.

const preferencesPathRedacted = "/preferences/…"

// preferencesPage is the preferences page's data.
type preferencesPage struct {
	pageBase
	Email, StatusText, Done        string
	CanUnsubscribe, CanResubscribe bool
	ResubscribeLabel               string
	Expired                        bool
}

var statusTexts = map[string]string{
	store.MarketingSubscribed:   "subscribed",
	store.MarketingPending:      "not subscribed (we have not asked you yet)",
	store.MarketingUnsubscribed: "unsubscribed",
	store.MarketingBounced:      "paused (e-mails to this address bounced)",
}

// preferencesContact verifies the token (accepting expiry) and loads its contact; ok is false
// once an answer has been written.
func (h *offerHandlers) preferencesContact(w http.ResponseWriter, r *http.Request, token string) (offertoken.Claims, store.Contact, bool, bool) {
	claims, outcome := h.verify(r.Context(), token, true)
	if outcome == tokenInvalid || outcome == tokenOff {
		h.renderBadLink(w, r, outcome, "")
		return claims, store.Contact{}, false, false
	}
	expired := outcome == tokenExpired
	if claims.ContactID == "" {
		h.renderMessage(w, r, http.StatusNotFound, "", "No e-mail preferences here",
			"This link is not addressed to a person, so there are no e-mail preferences to change.")
		return claims, store.Contact{}, expired, false
	}
	k, err := h.s.db.GetContact(r.Context(), claims.ContactID)
	if store.ErrorCode(err) == store.ENOTFOUND {
		h.renderBadLink(w, r, tokenInvalid, "")
		return claims, k, expired, false
	}
	if err != nil {
		h.serverError(w, r, "", err)
		return claims, k, expired, false
	}
	return claims, k, expired, true
}

// handlePreferences serves GET /preferences/{token}.
func (h *offerHandlers) handlePreferences(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	token := ps.ByName("token")
	_, k, expired, ok := h.preferencesContact(w, r, token)
	if !ok {
		return
	}
	h.renderPreferences(w, r, http.StatusOK, token, k, expired, "")
}

func (h *offerHandlers) renderPreferences(w http.ResponseWriter, r *http.Request, status int, token string, k store.Contact, expired bool, done string) {
	p := preferencesPage{pageBase: h.base("E-mail preferences", ""), Email: maskEmail(k.Email),
		StatusText: statusTexts[k.MarketingStatus], Done: done, Expired: expired,
		CanUnsubscribe: k.MarketingStatus != store.MarketingUnsubscribed,
		CanResubscribe: k.MarketingStatus != store.MarketingSubscribed && !expired, ResubscribeLabel: "Resubscribe"}
	if k.MarketingStatus == store.MarketingPending {
		p.ResubscribeLabel = "Subscribe"
	}
	if p.StatusText == "" {
		p.StatusText = k.MarketingStatus
	}
	h.render(w, r, status, "offer_preferences", p.Nonce, p)
}

// handleUpdatePreferences serves POST /preferences/{token}: the page's buttons (action =
// unsubscribe | resubscribe) and RFC 8058 one-click (List-Unsubscribe=One-Click, answered 200).
func (h *offerHandlers) handleUpdatePreferences(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	token := ps.ByName("token")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	// Mail providers send one-click as either urlencoded or multipart form data.
	if err := r.ParseMultipartForm(64 << 10); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		h.renderMessage(w, r, http.StatusBadRequest, "", "Something went wrong", "The form could not be read.")
		return
	}
	oneClick := r.PostFormValue("List-Unsubscribe") == "One-Click"
	// Only one-click unsubscribe may come from another site (a mail provider, RFC 8058);
	// subscribing and every other change must be posted from this page itself, so a page
	// elsewhere cannot grant consent in someone's name.
	if err := h.crossOriginProtection().Check(r); err != nil && !oneClick {
		h.renderMessage(w, r, http.StatusForbidden, "", "Change not made",
			"Preferences can only be changed from the preferences page itself. Open the link from your e-mail and choose there.")
		return
	}
	claims, k, expired, ok := h.preferencesContact(w, r, token)
	if !ok {
		return
	}
	action := r.PostFormValue("action")
	if oneClick {
		action = "unsubscribe"
	}
	var status, eventName, done string
	switch action {
	case "unsubscribe":
		status, eventName, done = store.MarketingUnsubscribed, string(store.EventEmailUnsubscribed), "You are unsubscribed. We will not send you offers any more."
	case "resubscribe":
		if expired {
			h.renderBadLink(w, r, tokenExpired, token)
			return
		}
		status, eventName, done = store.MarketingSubscribed, string(store.EventEmailResubscribed), "Thank you, you are subscribed again."
	default:
		h.renderMessage(w, r, http.StatusBadRequest, "", "Something went wrong", "Choose Unsubscribe or Resubscribe.")
		return
	}
	method := "form"
	if oneClick {
		method = "one-click"
	}
	if err := h.setMarketingStatus(r.Context(), claims, status, eventName, method); err != nil {
		h.serverError(w, r, "", err)
		return
	}
	h.s.logger.InfoContext(r.Context(), "marketing preference changed", "contact_id", k.ID, "status", status,
		"method", method, "token", offertoken.Redact(token))
	if oneClick {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("Unsubscribed.\n"))
		return
	}
	k.MarketingStatus = status
	h.renderPreferences(w, r, http.StatusOK, token, k, expired, done)
}

// setMarketingStatus applies a preference change and its event in one transaction; an
// unchanged status records nothing. Unsubscribing also ends the contact's offer sessions.
func (h *offerHandlers) setMarketingStatus(ctx context.Context, c offertoken.Claims, status, eventName, method string) error {
	return h.s.db.Update(ctx, func(tx *store.Tx) error {
		prev, changed, err := tx.SetMarketingStatus(ctx, c.ContactID, status)
		if err != nil || !changed {
			return err
		}
		if status == store.MarketingUnsubscribed {
			if _, err := tx.DeleteOfferSessionsOfContact(ctx, c.ContactID); err != nil {
				return err
			}
		}
		_, _, err = tx.InsertEvent(ctx, store.Event{Source: "web", Name: store.EventName(eventName),
			SourceEventID: eventName + ":" + c.ContactID + ":" + prev + ":" + strconv.FormatInt(tx.Now().UnixMilli(), 10),
			CompanyID:     c.CompanyID, ContactID: c.ContactID, OfferKey: c.OfferKey, CampaignKey: c.CampaignKey,
			URL: preferencesPathRedacted, Meta: map[string]any{"previous_status": prev, "method": method}})
		return err
	})
}

// maskEmail shows enough of an address to recognise it: a•••@example.com.
func maskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "your address"
	}
	first := []rune(local)[0]
	return string(first) + "•••@" + domain
}
