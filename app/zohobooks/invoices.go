package zohobooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Invoice is a Zoho Books invoice. Status is draft, sent, paid,
// partially_paid, overdue, void, unpaid or viewed.
type Invoice struct {
	InvoiceID       string     `json:"invoice_id"`
	InvoiceNumber   string     `json:"invoice_number,omitempty"`
	CustomerID      string     `json:"customer_id"`
	ReferenceNumber string     `json:"reference_number,omitempty"`
	Date            string     `json:"date,omitempty"`
	Status          string     `json:"status,omitempty"`
	CurrencyCode    string     `json:"currency_code,omitempty"`
	Total           float64    `json:"total"`
	Balance         float64    `json:"balance"`
	LineItems       []LineItem `json:"line_items,omitempty"`
}

// UnmarshalJSON accepts total and balance as numbers or, as the OpenAPI
// file types them, strings.
func (inv *Invoice) UnmarshalJSON(b []byte) error {
	type plain Invoice
	var w struct {
		*plain
		Total   json.Number `json:"total"`
		Balance json.Number `json:"balance"`
	}
	w.plain = (*plain)(inv)
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var err error
	if inv.Total, err = numberOrZero(w.Total); err != nil {
		return err
	}
	inv.Balance, err = numberOrZero(w.Balance)
	return err
}

func numberOrZero(n json.Number) (float64, error) {
	if n == "" {
		return 0, nil
	}
	return n.Float64()
}

// LineItem is one invoice line. ItemID is required by Zoho.
type LineItem struct {
	LineItemID  string  `json:"line_item_id,omitempty"`
	ItemID      string  `json:"item_id"`
	Name        string  `json:"name,omitempty"`
	Description string  `json:"description,omitempty"`
	Rate        float64 `json:"rate"`
	Quantity    float64 `json:"quantity"`
}

// CreateInvoiceInput is what CreateInvoice needs. Date is yyyy-mm-dd.
type CreateInvoiceInput struct {
	CustomerID      string
	ReferenceNumber string
	Date            string
	// CurrencyID is the Zoho currency id (not an ISO code); empty means the
	// customer's currency. The invoices API takes no currency code.
	CurrencyID string
	LineItems  []LineItem
}

type createInvoiceRequest struct {
	CustomerID      string     `json:"customer_id"`
	ReferenceNumber string     `json:"reference_number,omitempty"`
	Date            string     `json:"date,omitempty"`
	CurrencyID      string     `json:"currency_id,omitempty"`
	LineItems       []LineItem `json:"line_items"`
}

// FindInvoiceByReference returns the invoice with this reference number,
// or nil, nil.
func (c *Client) FindInvoiceByReference(ctx context.Context, ref string) (*Invoice, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, errors.New("zohobooks: find invoice: empty reference number")
	}
	var resp struct {
		Invoices []Invoice `json:"invoices"`
	}
	if err := c.call(ctx, "GET", "/invoices", url.Values{"reference_number": {ref}}, nil, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: find invoice %q: %w", ref, err)
	}
	for i := range resp.Invoices {
		if inv := &resp.Invoices[i]; inv.ReferenceNumber == "" || inv.ReferenceNumber == ref {
			return inv, nil
		}
	}
	return nil, nil
}

// CreateInvoice creates a draft invoice; see MarkInvoiceSent.
func (c *Client) CreateInvoice(ctx context.Context, in CreateInvoiceInput) (*Invoice, error) {
	if in.CustomerID == "" || len(in.LineItems) == 0 {
		return nil, errors.New("zohobooks: create invoice: customer and line items are required")
	}
	for i, li := range in.LineItems {
		if li.ItemID == "" {
			return nil, fmt.Errorf("zohobooks: create invoice %q: line item %d has no item_id", in.ReferenceNumber, i)
		}
	}
	if err := checkDate(in.Date, false); err != nil {
		return nil, fmt.Errorf("zohobooks: create invoice %q: %w", in.ReferenceNumber, err)
	}
	req := createInvoiceRequest{
		CustomerID:      in.CustomerID,
		ReferenceNumber: in.ReferenceNumber,
		Date:            in.Date,
		CurrencyID:      in.CurrencyID,
		LineItems:       in.LineItems,
	}
	var resp struct {
		Invoice Invoice `json:"invoice"`
	}
	if err := c.call(ctx, "POST", "/invoices", nil, req, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: create invoice %q: %w", in.ReferenceNumber, err)
	}
	if resp.Invoice.InvoiceID == "" {
		return nil, errors.New("zohobooks: create invoice: response has no invoice_id")
	}
	return &resp.Invoice, nil
}

// MarkInvoiceSent moves a draft invoice to sent, which Zoho requires before
// a payment is recorded against it.
func (c *Client) MarkInvoiceSent(ctx context.Context, invoiceID string) error {
	if invoiceID == "" {
		return errors.New("zohobooks: mark invoice sent: empty invoice id")
	}
	if err := c.call(ctx, "POST", "/invoices/"+url.PathEscape(invoiceID)+"/status/sent", nil, nil, nil); err != nil {
		return fmt.Errorf("zohobooks: mark invoice %s sent: %w", invoiceID, err)
	}
	return nil
}

// checkDate checks Zoho's yyyy-mm-dd date format.
func checkDate(date string, required bool) error {
	if date == "" && !required {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return fmt.Errorf("date %q is not yyyy-mm-dd", date)
	}
	return nil
}
