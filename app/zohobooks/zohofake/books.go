package zohofake

import (
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Customer is a contact of type customer. CurrencyID is its currency (the
// base currency unless created with another); CurrencyCode is that
// currency's ISO code.
type Customer struct {
	ContactID      string
	ContactName    string
	CompanyName    string
	ContactType    string
	CurrencyID     string
	CurrencyCode   string
	ContactPersons []ContactPerson
}

// Email is the primary contact person's email.
func (c Customer) Email() string {
	if p := c.primary(); p != nil {
		return p.Email
	}
	return ""
}

func (c Customer) primary() *ContactPerson {
	for i := range c.ContactPersons {
		if c.ContactPersons[i].IsPrimaryContact {
			return &c.ContactPersons[i]
		}
	}
	return nil
}

// ContactPerson is a person of a contact.
type ContactPerson struct {
	ContactPersonID  string
	FirstName        string
	LastName         string
	Email            string
	IsPrimaryContact bool
}

// Item is an item of the catalogue.
type Item struct {
	ItemID      string
	Name        string
	SKU         string
	Description string
	ProductType string
	Rate        float64
}

// Invoice is an invoice; Status goes draft → sent → partially_paid/paid.
type Invoice struct {
	InvoiceID       string
	InvoiceNumber   string
	CustomerID      string
	ReferenceNumber string
	Date            string
	Status          string
	CurrencyID      string // the customer's currency
	CurrencyCode    string
	LineItems       []LineItem
	Total           float64
	Balance         float64
}

// LineItem is one invoice line.
type LineItem struct {
	LineItemID  string
	ItemID      string
	Name        string
	Description string
	Rate        float64
	Quantity    float64
}

// Payment is a customer payment.
type Payment struct {
	PaymentID       string
	PaymentNumber   string
	CustomerID      string
	PaymentMode     string
	Date            string
	ReferenceNumber string
	AccountID       string
	Description     string
	Amount          float64
	AmountRefunded  float64
	Invoices        []AppliedInvoice
}

// AppliedInvoice is the part of a payment applied to an invoice.
type AppliedInvoice struct {
	InvoiceID     string
	AmountApplied float64
}

// Refund is a refund of a customer payment.
type Refund struct {
	PaymentRefundID string
	PaymentID       string
	Date            string
	RefundMode      string
	ReferenceNumber string
	FromAccountID   string
	Description     string
	Amount          float64
}

// books is the in-memory organisation, kept in creation order.
type books struct {
	currencies []*Currency
	customers  []*Customer
	items      []*Item
	invoices   []*Invoice
	payments   []*Payment
	refunds    []*Refund
}

func findByID[T any](list []*T, id func(*T) string, want string) *T {
	for _, v := range list {
		if id(v) == want {
			return v
		}
	}
	return nil
}

func (b *books) customer(id string) *Customer {
	return findByID(b.customers, func(c *Customer) string { return c.ContactID }, id)
}

func (b *books) item(id string) *Item {
	return findByID(b.items, func(i *Item) string { return i.ItemID }, id)
}

func (b *books) invoice(id string) *Invoice {
	return findByID(b.invoices, func(i *Invoice) string { return i.InvoiceID }, id)
}

func (b *books) payment(id string) *Payment {
	return findByID(b.payments, func(p *Payment) string { return p.PaymentID }, id)
}

// Customers returns a copy of the customers, oldest first.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyAll(s.customers, func(c Customer) Customer {
		c.ContactPersons = slices.Clone(c.ContactPersons)
		return c
	})
}

// Items returns a copy of the items, oldest first.
func (s *Server) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyAll(s.items, func(i Item) Item { return i })
}

// Invoices returns a copy of the invoices, oldest first.
func (s *Server) Invoices() []Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyAll(s.invoices, func(i Invoice) Invoice {
		i.LineItems = slices.Clone(i.LineItems)
		return i
	})
}

// Payments returns a copy of the customer payments, oldest first.
func (s *Server) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyAll(s.payments, func(p Payment) Payment {
		p.Invoices = slices.Clone(p.Invoices)
		return p
	})
}

// Refunds returns a copy of the payment refunds, oldest first.
func (s *Server) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyAll(s.refunds, func(r Refund) Refund { return r })
}

func copyAll[T any](list []*T, clone func(T) T) []T {
	out := make([]T, len(list))
	for i, v := range list {
		out[i] = clone(*v)
	}
	return out
}

// AddCustomer seeds a customer, as if created earlier; empty ids are
// assigned. Its currency is CurrencyID, else the one of CurrencyCode, else
// the base currency; an unknown one panics. It returns the stored customer.
func (s *Server) AddCustomer(c Customer) Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ContactID == "" {
		c.ContactID = s.nextID()
	}
	cur := s.baseCurrency()
	switch {
	case c.CurrencyID != "":
		cur = s.currency(c.CurrencyID)
	case c.CurrencyCode != "":
		cur = s.currencyByCode(c.CurrencyCode)
	}
	if cur == nil {
		panic(fmt.Sprintf("zohofake: AddCustomer: currency %q/%q is not enabled", c.CurrencyID, c.CurrencyCode))
	}
	c.CurrencyID, c.CurrencyCode = cur.CurrencyID, cur.CurrencyCode
	if c.ContactType == "" {
		c.ContactType = "customer"
	}
	c.ContactPersons = slices.Clone(c.ContactPersons)
	for i := range c.ContactPersons {
		if c.ContactPersons[i].ContactPersonID == "" {
			c.ContactPersons[i].ContactPersonID = s.nextID()
		}
	}
	s.customers = append(s.customers, &c)
	return c
}

// AddItem seeds an item; an empty id is assigned.
func (s *Server) AddItem(it Item) Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.ItemID == "" {
		it.ItemID = s.nextID()
	}
	s.items = append(s.items, &it)
	return it
}

// route dispatches a Books call that passed every check. s.mu is held.
func (s *Server) route(r *http.Request, rel string, body []byte) result {
	seg := strings.Split(strings.Trim(rel, "/"), "/")
	type handler func(*http.Request, []string, []byte) result
	var get, post handler
	switch {
	case len(seg) == 1 && seg[0] == "contacts":
		get, post = s.listContacts, s.createContact
	case len(seg) == 2 && seg[0] == "contacts":
		get = s.getContact
	case len(seg) == 2 && seg[0] == "settings" && seg[1] == "currencies":
		get = s.listCurrencies
	case len(seg) == 1 && seg[0] == "items":
		get, post = s.listItems, s.createItem
	case len(seg) == 1 && seg[0] == "invoices":
		get, post = s.listInvoices, s.createInvoice
	case len(seg) == 4 && seg[0] == "invoices" && seg[2] == "status" && seg[3] == "sent":
		post = s.markInvoiceSent
	case len(seg) == 1 && seg[0] == "customerpayments":
		get, post = s.listPayments, s.createPayment
	case len(seg) == 3 && seg[0] == "customerpayments" && seg[2] == "refunds":
		get, post = s.listRefunds, s.createRefund
	default:
		return fail(http.StatusNotFound, CodeInvalidURL, "Invalid URL Passed")
	}
	switch {
	case r.Method == http.MethodGet && get != nil:
		return get(r, seg, body)
	case r.Method == http.MethodPost && post != nil:
		return post(r, seg, body)
	}
	return fail(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		"The HTTP method %s is not allowed for the requested resource", r.Method)
}

// decodeBody decodes a JSON request body; Zoho's v3 API takes
// application/json.
func decodeBody(r *http.Request, body []byte, dst any) (result, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return fail(http.StatusBadRequest, CodeInvalidValue,
			"Invalid value passed for JSONString: the body must be application/json"), false
	}
	if err := json.Unmarshal(body, dst); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			return invalid(te.Field), false
		}
		return invalid("JSONString"), false
	}
	return result{}, true
}

// validDate checks Zoho's yyyy-mm-dd format.
func validDate(d string) bool {
	_, err := time.Parse(time.DateOnly, d)
	return err == nil
}

// money rounds away float noise so that amounts print as entered.
func money(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// epsilon tolerates float noise when comparing amounts.
const epsilon = 1e-6

func pageContext() map[string]any {
	return map[string]any{"page": 1, "per_page": 200, "has_more_page": false}
}
