package console

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/store"
)

// "Create payment link" on the company page: staff taking an order by phone pick products,
// quantities and (optionally) the contact, and get the Stripe Checkout URL to copy and send.
// It runs the same checkout as POST /api/checkout for a trusted caller (no rate limit), and
// is audited as payment_link.create.

// paymentLinkRows is how many product lines the form offers.
const paymentLinkRows = 5

// paymentLinkForm is the form's data on the company page.
type paymentLinkForm struct {
	Rows     []int
	Products []store.OfferItem // suggestions for the product code fields
	Note     string            // why the action is unavailable, when it is
}

// paymentLinkResult is the page shown after a link was created.
type paymentLinkResult struct {
	CompanyID, CompanyName, ContactID string
	OrderID, URL                      string
}

// The payment-link result page and the company page's action (staff may create payment links).
var (
	pagePaymentLink = declarePage(adminPage{key: pageKey{"payment_link"}})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodPost, path: "/admin/companies/:id/payment-link", role: roleStaff, handle: (*Console).handlePaymentLink},
	)
)

// paymentLinkFormFor fills the company page's form.
func (s *Console) paymentLinkFormFor(ctx context.Context, currency string) *paymentLinkForm {
	f := &paymentLinkForm{Rows: make([]int, paymentLinkRows)}
	if feat := s.cfg.Features.Checkout; !feat.On() {
		f.Note = "Payment links are not available: " + feat.Why() + "."
		return f
	}
	if items, err := s.db.ListCatalogue(ctx, currency); err == nil {
		for _, it := range items {
			if it.Price != nil {
				f.Products = append(f.Products, it)
			}
		}
	}
	return f
}

func (s *Console) handlePaymentLink(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ctx := r.Context()
	if err := parseAdminForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	if f := s.cfg.Features.Checkout; !f.On() {
		s.renderStatus(w, r, http.StatusServiceUnavailable, f.Why())
		return
	}
	req := PaymentLinkRequest{CompanyID: ps.ByName("id"), ContactID: strings.TrimSpace(r.PostForm.Get("contact_id"))}
	codes, qtys := r.PostForm["product_code"], r.PostForm["quantity"]
	for i, code := range codes {
		if strings.TrimSpace(code) == "" {
			continue
		}
		q := "1"
		if i < len(qtys) && strings.TrimSpace(qtys[i]) != "" {
			q = strings.TrimSpace(qtys[i])
		}
		req.Items = append(req.Items, PaymentLinkItem{ProductCode: code, Quantity: q})
	}
	res, err := s.svc.CreatePaymentLink(ctx, req)
	var pe *ProviderError
	switch {
	case errors.As(err, &pe):
		s.renderStatus(w, r, http.StatusBadGateway, "Stripe refused the payment link: "+pe.Message)
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	s.audit(r, "payment_link.create", res.CompanyID, map[string]any{"order_id": res.OrderID, "contact_id": res.ContactID, "items": res.Quantities})
	s.render(w, r, http.StatusOK, pagePaymentLink, "Payment link", paymentLinkResult{CompanyID: res.CompanyID,
		CompanyName: res.CompanyName, ContactID: res.ContactID, OrderID: res.OrderID, URL: res.URL})
}
