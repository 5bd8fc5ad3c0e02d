package app

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/technifold/technifold/store"
)

// Customers never hit a dead end (issue 13 §4): when online checkout is off (no
// STRIPE_SECRET_KEY) the offer page shows how to reorder another way instead of buy buttons,
// and when a checkout attempt fails the basket is kept and the same way out is shown. The way
// out is SUPPORT_EMAIL and SUPPORT_PHONE; without them, replying to the e-mail.

// offerSupport is how a customer reaches the sales team, for the page templates.
type offerSupport struct {
	Email, Phone string
	Mailto       string       // mailto: link with a subject (and the basket, when known)
	Tel          template.URL // tel: link; validSupportPhone keeps it to digits and + ( ) - .
}

// support builds the page's contact block; subject and lines prefill the e-mail.
func (h *offerHandlers) support(subject string, lines []string) offerSupport {
	s := offerSupport{Email: strings.TrimSpace(h.s.cfg.SupportEmail), Phone: strings.TrimSpace(h.s.cfg.SupportPhone)}
	if s.Email != "" {
		s.Mailto = mailtoLink(s.Email, subject, lines)
	}
	if s.Phone != "" && validSupportPhone(s.Phone) {
		dial := s.Phone
		if strings.HasPrefix(dial, "+") {
			dial = strings.Replace(dial, "(0)", "", 1) // "+44 (0)20 …": the trunk 0 is not dialled from abroad
		}
		tel := strings.Map(func(r rune) rune {
			if r == '+' || (r >= '0' && r <= '9') {
				return r
			}
			return -1
		}, dial)
		s.Tel = template.URL("tel:" + tel)
	}
	return s
}

// contactSupport is the support contact for message pages, or nil when none is configured
// (those pages then keep their own wording).
func (h *offerHandlers) contactSupport() *offerSupport {
	s := h.support("Offer link", nil)
	if s.Email == "" && s.Tel == "" {
		return nil
	}
	return &s
}

// mailtoLink is a mailto: URL with a subject and a body of one line per item (RFC 6068:
// percent-encoded, spaces as %20, line breaks as %0D%0A).
func mailtoLink(to, subject string, lines []string) string {
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	q := "subject=" + enc(subject)
	if len(lines) > 0 {
		q += "&body=" + enc("Hello, I would like to order:\r\n"+strings.Join(lines, "\r\n")+"\r\n")
	}
	return "mailto:" + to + "?" + q
}

// reorderSubject is the subject of a reorder e-mail from an offer page.
func reorderSubject(companyName string) string {
	if companyName == "" {
		return "Reorder"
	}
	return "Reorder for " + companyName
}

// checkoutOn reports whether online checkout can be offered at all.
func (h *offerHandlers) checkoutOn() bool {
	return h.s.cfg.Feature(FeatureCheckout).On() && h.s.stripe != nil && h.s.stripe.optsErr == nil
}

// offerCheckoutFailedPage is the no-JavaScript answer to a checkout that could not start: the
// basket as it was posted, a "Try again" form carrying it, and the way out.
type offerCheckoutFailedPage struct {
	pageBase
	Heading, Message string
	Items            []offerBasketLine
	Total            string
	Token            string // generic pages check out with the link
	Support          offerSupport
}

// offerBasketLine is one line of a kept basket.
type offerBasketLine struct {
	Code, Description string
	Quantity          string
	LineTotal         string // "" when the price is unknown
}

// renderCheckoutFailed answers a failed no-JS checkout with the basket kept.
func (h *offerHandlers) renderCheckoutFailed(w http.ResponseWriter, r *http.Request, status int, heading, message string, in checkoutRequest, token string) {
	p := offerCheckoutFailedPage{pageBase: h.base(heading, ""), Heading: heading, Message: message, Token: token}
	co, err := h.s.db.GetCompany(r.Context(), in.CompanyID)
	if err != nil {
		co = store.Company{Currency: "gbp"}
	}
	prices := h.catalogue(r.Context(), co.Currency)
	var total int64
	var mail []string
	for _, it := range in.Items {
		line := offerBasketLine{Code: it.ProductCode, Description: it.ProductCode, Quantity: it.Quantity.String()}
		if c, ok := prices[it.ProductCode]; ok {
			line.Description = c.Description
			if q, err := strconv.ParseInt(line.Quantity, 10, 64); err == nil && c.Price != nil && q > 0 && q <= 999 {
				line.LineTotal = formatMoney(q**c.Price, co.Currency)
				total += q * *c.Price
			}
		}
		p.Items = append(p.Items, line)
		mail = append(mail, line.Quantity+" × "+line.Description+" ("+line.Code+")")
	}
	if total > 0 {
		p.Total = formatMoney(total, co.Currency)
	}
	p.Support = h.support(reorderSubject(co.Name), mail)
	h.render(w, r, status, "offer_checkout_failed", p.Nonce, p)
}

// catalogue maps product codes to their descriptions and prices in currency; empty on error
// (the page then shows codes only).
func (h *offerHandlers) catalogue(ctx context.Context, currency string) map[string]store.OfferItem {
	out := map[string]store.OfferItem{}
	items, err := h.s.db.ListCatalogue(ctx, currency)
	if err != nil {
		h.s.logger.WarnContext(ctx, "offer checkout: catalogue for the kept basket", "error", err)
		return out
	}
	for _, it := range items {
		out[it.ProductCode] = it
	}
	return out
}
