package zohofake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// listPayments: GET /customerpayments with reference_number and
// customer_id filters (exact). The list key follows the OpenAPI file.
func (s *Server) listPayments(r *http.Request, _ []string, _ []byte) result {
	q := r.URL.Query()
	list := []map[string]any{}
	for _, p := range s.payments {
		if v := q.Get("reference_number"); v != "" && v != p.ReferenceNumber {
			continue
		}
		if v := q.Get("customer_id"); v != "" && v != p.CustomerID {
			continue
		}
		list = append(list, map[string]any{
			"payment_id":       p.PaymentID,
			"payment_number":   p.PaymentNumber,
			"customer_id":      p.CustomerID,
			"reference_number": p.ReferenceNumber,
			"date":             p.Date,
			"payment_mode":     p.PaymentMode,
			"amount":           p.Amount,
		})
	}
	return ok(http.StatusOK, "success", "customer_payments", list, "page_context", pageContext())
}

// createPayment: POST /customerpayments. customer_id, payment_mode, amount,
// date and invoices[].invoice_id/amount_applied are required; the invoices
// must be the customer's, sent (not draft), and not overpaid.
func (s *Server) createPayment(r *http.Request, _ []string, body []byte) result {
	var in struct {
		CustomerID      string   `json:"customer_id"`
		PaymentMode     string   `json:"payment_mode"`
		Amount          *float64 `json:"amount"`
		Date            string   `json:"date"`
		ReferenceNumber string   `json:"reference_number"`
		AccountID       string   `json:"account_id"`
		Description     string   `json:"description"`
		Invoices        []struct {
			InvoiceID     string   `json:"invoice_id"`
			AmountApplied *float64 `json:"amount_applied"`
		} `json:"invoices"`
	}
	if res, good := decodeBody(r, body, &in); !good {
		return res
	}
	switch {
	case in.CustomerID == "":
		return invalid("customer_id")
	case strings.TrimSpace(in.PaymentMode) == "":
		return invalid("payment_mode")
	case in.Amount == nil || *in.Amount <= 0:
		return invalid("amount")
	case !validDate(in.Date):
		return invalid("date")
	case len(in.Invoices) == 0:
		return invalid("invoices")
	case len(in.ReferenceNumber) > 100:
		return invalid("reference_number")
	}
	if s.customer(in.CustomerID) == nil {
		return fail(http.StatusBadRequest, CodeNotFound, "Customer does not exist.")
	}
	p := &Payment{
		PaymentMode:     in.PaymentMode,
		CustomerID:      in.CustomerID,
		Date:            in.Date,
		ReferenceNumber: in.ReferenceNumber,
		AccountID:       in.AccountID,
		Description:     in.Description,
		Amount:          money(*in.Amount),
	}
	applied := 0.0
	var targets []*Invoice
	for i, a := range in.Invoices {
		field := fmt.Sprintf("invoices[%d]", i)
		if a.InvoiceID == "" {
			return invalid(field + ".invoice_id")
		}
		if a.AmountApplied == nil || *a.AmountApplied <= 0 {
			return invalid(field + ".amount_applied")
		}
		inv := s.invoice(a.InvoiceID)
		switch {
		case inv == nil:
			return fail(http.StatusBadRequest, CodeNotFound, "Invoice does not exist.")
		case inv.CustomerID != in.CustomerID:
			return fail(http.StatusBadRequest, CodeInvalidValue,
				"Invalid value passed for %s.invoice_id: the invoice belongs to another customer", field)
		case inv.Status == "draft":
			return fail(http.StatusBadRequest, CodeInvalidValue,
				"Invalid value passed for %s.invoice_id: %s is a draft; mark it as sent before recording a payment", field, inv.InvoiceNumber)
		case *a.AmountApplied > inv.Balance+epsilon:
			return fail(http.StatusBadRequest, CodeInvalidValue,
				"Invalid value passed for %s.amount_applied: it exceeds the balance of %s", field, inv.InvoiceNumber)
		}
		applied += *a.AmountApplied
		targets = append(targets, inv)
		p.Invoices = append(p.Invoices, AppliedInvoice{InvoiceID: a.InvoiceID, AmountApplied: money(*a.AmountApplied)})
	}
	if applied > p.Amount+epsilon {
		return fail(http.StatusBadRequest, CodeInvalidValue,
			"Invalid value passed for amount: the amount applied to invoices exceeds the payment amount")
	}
	for i, inv := range targets {
		inv.Balance = money(inv.Balance - p.Invoices[i].AmountApplied)
		if inv.Balance <= epsilon {
			inv.Balance, inv.Status = 0, "paid"
		} else {
			inv.Status = "partially_paid"
		}
	}
	p.PaymentID = s.nextID()
	p.PaymentNumber = strconv.Itoa(len(s.payments) + 1)
	s.payments = append(s.payments, p)
	return ok(http.StatusCreated, "The payment has been created.", "payment", s.paymentJSON(p))
}

func (s *Server) paymentJSON(p *Payment) map[string]any {
	invs := []map[string]any{}
	for _, a := range p.Invoices {
		m := map[string]any{"invoice_id": a.InvoiceID, "amount_applied": a.AmountApplied}
		if inv := s.invoice(a.InvoiceID); inv != nil {
			m["invoice_number"], m["date"], m["invoice_amount"], m["balance_amount"] =
				inv.InvoiceNumber, inv.Date, inv.Total, inv.Balance
		}
		invs = append(invs, m)
	}
	name := ""
	if c := s.customer(p.CustomerID); c != nil {
		name = c.ContactName
	}
	return map[string]any{
		"payment_id":       p.PaymentID,
		"payment_number":   p.PaymentNumber,
		"payment_mode":     p.PaymentMode,
		"amount":           p.Amount,
		"amount_refunded":  p.AmountRefunded,
		"date":             p.Date,
		"status":           "success",
		"reference_number": p.ReferenceNumber,
		"description":      p.Description,
		"customer_id":      p.CustomerID,
		"customer_name":    name,
		"invoices":         invs,
	}
}

// listRefunds: GET /customerpayments/{id}/refunds.
func (s *Server) listRefunds(_ *http.Request, seg []string, _ []byte) result {
	p := s.payment(seg[1])
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "Payment does not exist.")
	}
	list := []map[string]any{}
	for _, rf := range s.refunds {
		if rf.PaymentID != p.PaymentID {
			continue
		}
		list = append(list, map[string]any{
			"payment_refund_id": rf.PaymentRefundID,
			"payment_id":        rf.PaymentID,
			"date":              rf.Date,
			"refund_mode":       rf.RefundMode,
			"reference_number":  rf.ReferenceNumber,
			"payment_number":    p.PaymentNumber,
			"amount_bcy":        rf.Amount,
			"amount_fcy":        rf.Amount,
		})
	}
	return ok(http.StatusOK, "The list of refunds of the customer is displayed successfully.",
		"payment_refunds", list, "page_context", pageContext())
}

// createRefund: POST /customerpayments/{id}/refunds. date, amount and
// from_account_id are required; the amount may not exceed the payment's
// unapplied remainder unless Options.AllowAppliedRefunds.
func (s *Server) createRefund(r *http.Request, seg []string, body []byte) result {
	p := s.payment(seg[1])
	if p == nil {
		return fail(http.StatusNotFound, CodeNotFound, "Payment does not exist.")
	}
	var in struct {
		Date            string   `json:"date"`
		RefundMode      string   `json:"refund_mode"`
		ReferenceNumber string   `json:"reference_number"`
		Amount          *float64 `json:"amount"`
		FromAccountID   string   `json:"from_account_id"`
		Description     string   `json:"description"`
	}
	if res, good := decodeBody(r, body, &in); !good {
		return res
	}
	switch {
	case !validDate(in.Date):
		return invalid("date")
	case in.Amount == nil || *in.Amount <= 0:
		return invalid("amount")
	case in.FromAccountID == "":
		return invalid("from_account_id")
	}
	limit := p.Amount - p.AmountRefunded
	if !s.opts.AllowAppliedRefunds {
		for _, a := range p.Invoices {
			limit -= a.AmountApplied
		}
	}
	if *in.Amount > limit+epsilon {
		return fail(http.StatusBadRequest, CodeInvalidValue,
			"Invalid value passed for amount: the refund exceeds the payment's refundable amount (%.2f)", money(limit))
	}
	rf := &Refund{
		PaymentRefundID: s.nextID(),
		PaymentID:       p.PaymentID,
		Date:            in.Date,
		RefundMode:      in.RefundMode,
		ReferenceNumber: in.ReferenceNumber,
		FromAccountID:   in.FromAccountID,
		Description:     in.Description,
		Amount:          money(*in.Amount),
	}
	p.AmountRefunded = money(p.AmountRefunded + rf.Amount)
	s.refunds = append(s.refunds, rf)
	return ok(http.StatusOK, "The refund information for this payment has been saved.", "payment_refunds", []map[string]any{{
		"payment_refund_id": rf.PaymentRefundID,
		"payment_id":        rf.PaymentID,
		"date":              rf.Date,
		"refund_mode":       rf.RefundMode,
		"reference_number":  rf.ReferenceNumber,
		"amount":            rf.Amount,
		"description":       rf.Description,
	}})
}
