package app

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sync"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/store"
)

// handleOrderStatus answers GET /api/orders/status?session_id=… with the order's state and
// nothing personal; the success page polls it until the webhook has marked the order paid.
func (s *Server) handleOrderStatus(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	sid := r.URL.Query().Get("session_id")
	if sid == "" || len(sid) > 255 {
		writeErrorMessage(w, http.StatusBadRequest, "session_id: required")
		return
	}
	o, err := s.db.GetOrderByCheckoutSession(r.Context(), sid)
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"order_id": o.ID, "status": string(o.Status), "payment_status": string(o.PaymentStatus)})
}

// handleCheckoutSuccess is where Stripe sends the buyer after paying. The webhook may not have
// arrived yet, so the page refreshes itself until the order is settled.
func (s *Server) handleCheckoutSuccess(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	sid := r.URL.Query().Get("session_id")
	if sid == "" || len(sid) > 255 {
		s.renderCheckoutPage(w, r, http.StatusNotFound, checkoutPage{Title: "Order not found"})
		return
	}
	o, err := s.db.GetOrderByCheckoutSession(r.Context(), sid)
	if store.ErrorCode(err) == store.ENOTFOUND {
		s.renderCheckoutPage(w, r, http.StatusNotFound, checkoutPage{Title: "Order not found"})
		return
	}
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	p := checkoutPage{Title: "Thank you for your order", Order: &o, SessionID: sid}
	switch o.Status {
	case store.OrderPaid:
		p.Message = "Your payment has been received. We will e-mail your invoice shortly."
		p.Paid = true
	case store.OrderPending:
		p.Title = "Confirming your payment"
		p.Message = "We are waiting for the payment provider to confirm your payment. This page updates by itself."
		p.Refresh = true
	default:
		p.Title = "Payment not completed"
		p.Message = "This order was not paid. No money has been taken; please contact us if you need help."
	}
	s.renderCheckoutPage(w, r, http.StatusOK, p)
}

// handleCheckoutCancel is where Stripe sends a buyer who leaves the payment page. Order ids
// are sequential, so the page shows nothing of the order but its number.
func (s *Server) handleCheckoutCancel(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	id := r.URL.Query().Get("order_id")
	if len(id) > 64 {
		id = ""
	}
	if s.keptBasketOnCancel(w, r, id) {
		return
	}
	s.renderCheckoutPage(w, r, http.StatusOK, checkoutPage{Title: "Payment not completed", CancelledID: id,
		Message: "Your payment was not completed and nothing has been charged. To try again, open the link from your e-mail again."})
}

// checkoutPage is what the checkout page template shows.
type checkoutPage struct {
	Title       string
	Message     string
	Order       *store.Order
	SessionID   string
	CancelledID string
	Refresh     bool
	Paid        bool // the order is paid: the page drops the offer page's kept basket
}

// money formats minor units with the currency, as every page does: "£1,234.50", "500 JPY".
func money(amount int64, currency string) string { return formatMoney(amount, currency) }

// checkoutTemplate is parsed on first use, not when the process starts.
var checkoutTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("checkout").Funcs(template.FuncMap{"money": money}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="3">{{end}}
<title>{{.Title}} · Technifold</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
table{width:100%;border-collapse:collapse;margin:1rem 0}td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}
td.n,th.n{text-align:right}.state{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#eef}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>{{end}}
{{with .Order}}
<p>Order <strong>{{.ID}}</strong> · <span class="state" id="order-state">{{.Status}} / {{.PaymentStatus}}</span></p>
<table>
<thead><tr><th>Item</th><th class="n">Qty</th><th class="n">Price</th><th class="n">Total</th></tr></thead>
<tbody>
{{range .Items}}<tr><td>{{.Description}} <small>({{.ProductCode}})</small></td><td class="n">{{.Quantity}}</td><td class="n">{{money .UnitAmount $.Order.Currency}}</td><td class="n">{{money .LineTotal $.Order.Currency}}</td></tr>
{{end}}</tbody>
<tfoot>
{{if .TaxAmount}}<tr><td colspan="3">Tax</td><td class="n">{{money .TaxAmount .Currency}}</td></tr>{{end}}
<tr><th colspan="3">Total</th><th class="n">{{money .TotalAmount .Currency}}</th></tr>
{{if .AmountRefunded}}<tr><td colspan="3">Refunded</td><td class="n">{{money .AmountRefunded .Currency}}</td></tr>{{end}}
</tfoot>
</table>
{{end}}
{{with .CancelledID}}<p>Order reference: <strong>{{.}}</strong></p>{{end}}
{{if .Paid}}<script>
// Paid: the offer page's kept basket (sessionStorage, this tab) is done with.
try { Object.keys(sessionStorage).forEach(function (k) { if (k.indexOf("tf-basket:") === 0) sessionStorage.removeItem(k); }); } catch (e) {}
</script>{{end}}
</main>
{{if .Refresh}}<script>
(function () {
  var url = "/api/orders/status?session_id=" + encodeURIComponent({{.SessionID}});
  function poll() {
    fetch(url, {cache: "no-store"}).then(function (r) { return r.ok ? r.json() : null; }).then(function (s) {
      if (s && s.status !== "pending") { location.reload(); } else { setTimeout(poll, 3000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 3000);
})();
</script>{{end}}
</body>
</html>
`))
})

func (s *Server) renderCheckoutPage(w http.ResponseWriter, r *http.Request, status int, p checkoutPage) {
	var buf bytes.Buffer
	if err := checkoutTemplate().Execute(&buf, p); err != nil {
		writeError(w, r, s.logger, fmt.Errorf("render checkout page: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
