package app

import (
	"context"
	"encoding/json"
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
		adminRoute{method: http.MethodPost, path: "/admin/companies/:id/payment-link", role: roleStaff, handle: (*Server).handlePaymentLink},
	)
)

// paymentLinkFormFor fills the company page's form.
func (s *Server) paymentLinkFormFor(ctx context.Context, currency string) *paymentLinkForm {
	f := &paymentLinkForm{Rows: make([]int, paymentLinkRows)}
	if feat := s.cfg.Feature(FeatureCheckout); !feat.On() {
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

func (s *Server) handlePaymentLink(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ctx := r.Context()
	if err := parseAdminForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	if f := s.cfg.Feature(FeatureCheckout); !f.On() {
		s.renderStatus(w, r, http.StatusServiceUnavailable, f.Why())
		return
	}
	req := checkoutRequest{CompanyID: ps.ByName("id"), ContactID: strings.TrimSpace(r.PostForm.Get("contact_id"))}
	codes, qtys := r.PostForm["product_code"], r.PostForm["quantity"]
	for i, code := range codes {
		if strings.TrimSpace(code) == "" {
			continue
		}
		q := "1"
		if i < len(qtys) && strings.TrimSpace(qtys[i]) != "" {
			q = strings.TrimSpace(qtys[i])
		}
		req.Items = append(req.Items, checkoutItem{ProductCode: code, Quantity: json.Number(q)})
	}
	n, err := req.newOrder()
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	company, err := s.db.GetCompany(ctx, n.CompanyID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	res, err := s.stripe.startCheckout(ctx, n)
	var pe *paymentProviderError
	switch {
	case errors.As(err, &pe):
		s.renderStatus(w, r, http.StatusBadGateway, "Stripe refused the payment link: "+pe.msg)
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	lines := map[string]int64{}
	for _, l := range n.Lines {
		lines[l.ProductCode] = l.Quantity
	}
	s.audit(r, "payment_link.create", n.CompanyID, map[string]any{"order_id": res.OrderID, "contact_id": n.ContactID, "items": lines})
	s.render(w, r, http.StatusOK, pagePaymentLink, "Payment link", paymentLinkResult{CompanyID: company.ID,
		CompanyName: company.Name, ContactID: n.ContactID, OrderID: res.OrderID, URL: res.URL})
}
