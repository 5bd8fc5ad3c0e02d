package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/technifold/technifold/store"
)

// crossOriginProtection refuses cross-site form posts to /x/checkout (on top of the
// SameSite=Lax session cookie); BASE_URL's origin is trusted for proxies that rewrite Host.
func (h *offerHandlers) crossOriginProtection() *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(h.s.cfg.BaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	return cop
}

// handleCheckout serves POST /x/checkout, the page's checkout without JavaScript: the form's
// items (product_code and quantity, repeatable) for the company and contact of the offer
// session, or of the link in field t on generic pages; it answers 303 to Stripe.
func (h *offerHandlers) handleCheckout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.renderMessage(w, r, http.StatusBadRequest, "", "Checkout failed", "The order form could not be read.")
		return
	}
	var in checkoutRequest
	token := r.PostForm.Get("t")
	if s, ok := h.liveSession(r); ok && token == "" {
		in.CompanyID, in.ContactID, in.OfferKey, in.CampaignKey = s.CompanyID, s.ContactID, s.OfferKey, s.CampaignKey
	}
	if token != "" {
		// Generic page: the link names the company; no contact is attached (nothing is tracked).
		claims, outcome := h.verify(ctx, token, false)
		if outcome != tokenValid {
			h.renderBadLink(w, r, outcome, "")
			return
		}
		in.CompanyID = claims.CompanyID
	}
	if in.CompanyID == "" {
		h.renderMessage(w, r, http.StatusBadRequest, "", "Your session has ended",
			"Please open the link from your e-mail again to order.")
		return
	}
	codes, qtys := r.PostForm["product_code"], r.PostForm["quantity"]
	if len(codes) != len(qtys) {
		h.renderMessage(w, r, http.StatusBadRequest, "", "Checkout failed", "Choose a quantity for every item.")
		return
	}
	for i, code := range codes {
		in.Items = append(in.Items, checkoutItem{ProductCode: code, Quantity: json.Number(strings.TrimSpace(qtys[i]))})
	}
	if wait := h.s.stripe.limiter.take(h.s.clientIP(r), in.CompanyID); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		h.renderMessage(w, r, http.StatusTooManyRequests, "", "Too many checkouts",
			"Please wait a minute and try again.")
		return
	}
	res, err := h.startCheckout(ctx, in)
	if err != nil {
		// The basket is kept: the answer lists it, can post it again, and says how else to order.
		status := statusOf(err)
		if status >= 500 {
			h.s.logger.WarnContext(ctx, "offer checkout failed", "error", err, "request_id", requestID(ctx))
			h.renderCheckoutFailed(w, r, http.StatusServiceUnavailable, "Checkout is not available",
				"We could not start the online checkout just now. Your basket is below: try again in a few minutes, or order by e-mail or phone.", in, token)
			return
		}
		h.renderCheckoutFailed(w, r, status, "Checkout failed", store.ErrorMessage(err), in, token)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, res.URL, http.StatusSeeOther)
}

// startCheckout runs the checkout of POST /api/checkout (same checks, same order, same
// Stripe session) for a form-built request.
func (h *offerHandlers) startCheckout(ctx context.Context, req checkoutRequest) (checkoutResponse, error) {
	if f := h.s.cfg.Feature(FeatureCheckout); !f.On() {
		return checkoutResponse{}, store.Errorf(store.EUNAVAILABLE, "%s", f.Why())
	}
	n, err := req.newOrder()
	if err != nil {
		return checkoutResponse{}, err
	}
	return h.s.stripe.startCheckout(ctx, n)
}
