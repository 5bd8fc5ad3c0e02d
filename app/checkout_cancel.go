package app

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/technifold/technifold/store"
)

// A buyer who leaves Stripe's payment page comes back to /checkout/cancel. When the browser
// still holds the offer session of the order's company, the page is the offer's "basket kept"
// page: the order's items, a "Try again" button that checks them out again, and the other ways
// to order. Anyone else (order ids are sequential) sees only the order number.

// keptBasketOnCancel renders the kept basket for the buyer of order id and reports whether it
// did.
func (s *Server) keptBasketOnCancel(w http.ResponseWriter, r *http.Request, id string) bool {
	if s.offers == nil || id == "" {
		return false
	}
	sess, ok := s.offers.liveSession(r)
	if !ok {
		return false
	}
	o, err := s.db.GetOrder(r.Context(), id)
	if err != nil || o.CompanyID != sess.CompanyID || o.Status == store.OrderPaid || len(o.Items) == 0 {
		return false
	}
	in := checkoutRequest{CompanyID: o.CompanyID}
	for _, it := range o.Items {
		in.Items = append(in.Items, checkoutItem{ProductCode: it.ProductCode, Quantity: json.Number(strconv.FormatInt(it.Quantity, 10))})
	}
	s.offers.renderCheckoutFailed(w, r, http.StatusOK, "Payment not completed",
		"Your payment was not completed and nothing has been charged. Your basket is below: try again, or order by e-mail or phone.", in, "")
	return true
}
