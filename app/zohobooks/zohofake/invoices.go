package zohofake

import (
	"fmt"
	"net/http"
	"time"
)

// listInvoices: GET /invoices with reference_number, customer_id and
// status filters (exact).
func (s *Server) listInvoices(r *http.Request, _ []string, _ []byte) result {
	q := r.URL.Query()
	list := []map[string]any{}
	for _, inv := range s.invoices {
		if v := q.Get("reference_number"); v != "" && v != inv.ReferenceNumber {
			continue
		}
		if v := q.Get("customer_id"); v != "" && v != inv.CustomerID {
			continue
		}
		if v := q.Get("status"); v != "" && v != inv.Status {
			continue
		}
		m := s.invoiceJSON(inv)
		delete(m, "line_items") // list entries carry no lines
		list = append(list, m)
	}
	return ok(http.StatusOK, "success", "invoices", list, "page_context", []any{pageContext()})
}

// createInvoice: POST /invoices. customer_id and line_items[].item_id are
// required; the invoice starts as a draft.
func (s *Server) createInvoice(r *http.Request, _ []string, body []byte) result {
	var in struct {
		CustomerID      string `json:"customer_id"`
		ReferenceNumber string `json:"reference_number"`
		Date            string `json:"date"`
		CurrencyID      string `json:"currency_id"`
		LineItems       []struct {
			ItemID      string   `json:"item_id"`
			Name        string   `json:"name"`
			Description string   `json:"description"`
			Rate        *float64 `json:"rate"`
			Quantity    *float64 `json:"quantity"`
		} `json:"line_items"`
	}
	if res, good := decodeBody(r, body, &in); !good {
		return res
	}
	if in.CustomerID == "" {
		return invalid("customer_id")
	}
	cust := s.customer(in.CustomerID)
	if cust == nil {
		return fail(http.StatusBadRequest, CodeNotFound, "Customer does not exist.")
	}
	if len(in.LineItems) == 0 {
		return invalid("line_items")
	}
	if in.Date == "" {
		in.Date = s.opts.Now().Format(time.DateOnly)
	} else if !validDate(in.Date) {
		return invalid("date")
	}
	if len(in.ReferenceNumber) > 100 {
		return invalid("reference_number")
	}
	// An invoice is in its customer's currency.
	if in.CurrencyID != "" && in.CurrencyID != cust.CurrencyID {
		return invalid("currency_id")
	}
	inv := &Invoice{
		InvoiceID:       s.nextID(),
		InvoiceNumber:   fmt.Sprintf("INV-%06d", len(s.invoices)+1),
		CustomerID:      in.CustomerID,
		ReferenceNumber: in.ReferenceNumber,
		Date:            in.Date,
		Status:          "draft",
		CurrencyID:      cust.CurrencyID,
		CurrencyCode:    cust.CurrencyCode,
	}
	for i, li := range in.LineItems {
		field := fmt.Sprintf("line_items[%d]", i)
		if li.ItemID == "" {
			return invalid(field + ".item_id")
		}
		item := s.item(li.ItemID)
		if item == nil {
			return fail(http.StatusBadRequest, CodeNotFound, "Item does not exist.")
		}
		line := LineItem{LineItemID: s.nextID(), ItemID: li.ItemID, Name: li.Name, Description: li.Description,
			Rate: item.Rate, Quantity: 1}
		if line.Name == "" {
			line.Name = item.Name
		}
		if li.Rate != nil {
			if *li.Rate < 0 {
				return invalid(field + ".rate")
			}
			line.Rate = money(*li.Rate)
		}
		if li.Quantity != nil {
			if *li.Quantity <= 0 {
				return invalid(field + ".quantity")
			}
			line.Quantity = *li.Quantity
		}
		inv.LineItems = append(inv.LineItems, line)
		inv.Total = money(inv.Total + line.Rate*line.Quantity)
	}
	inv.Balance = inv.Total
	s.invoices = append(s.invoices, inv)
	return ok(http.StatusCreated, "The invoice has been created.", "invoice", s.invoiceJSON(inv))
}

// markInvoiceSent: POST /invoices/{id}/status/sent.
func (s *Server) markInvoiceSent(_ *http.Request, seg []string, _ []byte) result {
	inv := s.invoice(seg[1])
	if inv == nil {
		return fail(http.StatusNotFound, CodeNotFound, "Invoice does not exist.")
	}
	if inv.Status == "draft" {
		inv.Status = "sent"
	}
	return ok(http.StatusOK, "Invoice status has been changed to Sent.")
}

func (s *Server) invoiceJSON(inv *Invoice) map[string]any {
	lines := []map[string]any{}
	for _, li := range inv.LineItems {
		lines = append(lines, map[string]any{
			"line_item_id": li.LineItemID,
			"item_id":      li.ItemID,
			"name":         li.Name,
			"description":  li.Description,
			"rate":         li.Rate,
			"quantity":     li.Quantity,
			"item_total":   money(li.Rate * li.Quantity),
		})
	}
	name := ""
	if c := s.customer(inv.CustomerID); c != nil {
		name = c.ContactName
	}
	return map[string]any{
		"invoice_id":       inv.InvoiceID,
		"invoice_number":   inv.InvoiceNumber,
		"customer_id":      inv.CustomerID,
		"customer_name":    name,
		"reference_number": inv.ReferenceNumber,
		"date":             inv.Date,
		"status":           inv.Status,
		"currency_id":      inv.CurrencyID,
		"currency_code":    inv.CurrencyCode,
		"total":            inv.Total,
		"balance":          inv.Balance,
		"line_items":       lines,
	}
}
