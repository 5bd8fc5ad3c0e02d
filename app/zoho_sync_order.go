package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/store"
)

// Zoho Books codes the order sync answers to.
const (
	zohoCodeItemExists    = 1001 // an item with that name exists
	zohoCodeContactExists = 3062 // a contact with that name exists
)

// zohoTaxSKU is the Books item that carries the tax Stripe collected, as one invoice line.
const zohoTaxSKU = "STRIPE-TAX"

// zohoOrderResult is the result of a zoho_sync_order job.
type zohoOrderResult struct {
	OrderID    string            `json:"order_id"`
	CustomerID string            `json:"zoho_customer_id"`
	ItemIDs    map[string]string `json:"zoho_item_ids"`
	InvoiceID  string            `json:"zoho_invoice_id"`
	PaymentID  string            `json:"zoho_payment_id,omitempty"`
}

// SyncOrder is the zoho_sync_order handler: it records a paid order in Zoho Books as a customer
// (one per company), items, an invoice marked sent and a customer payment. Every step searches
// before it creates and stores the id before the next step, so a retry after a crash, a timeout
// or a lost response resumes where the last attempt stopped and never creates a record twice.
func (z *ZohoSync) SyncOrder(ctx context.Context, job store.Job) (any, error) {
	return jobHandler(z.syncOrderJob)(ctx, job)
}

// syncOrderJob is SyncOrder with the payload decoded.
func (z *ZohoSync) syncOrderJob(ctx context.Context, job store.Job, p store.ZohoSyncOrderArgs) (any, error) {
	if p.OrderID == "" {
		if p.OrderID = job.OrderID; p.OrderID == "" {
			return nil, fmt.Errorf("zoho_sync_order: payload needs an order_id")
		}
	}
	c, err := z.start(ctx)
	if err != nil {
		return nil, err
	}
	res, err := z.syncOrder(ctx, c, p.OrderID)
	if err != nil {
		return nil, z.settle(ctx, job.JobType, err)
	}
	return res, nil
}

func (z *ZohoSync) syncOrder(ctx context.Context, c *zohobooks.Client, orderID string) (zohoOrderResult, error) {
	res := zohoOrderResult{OrderID: orderID, ItemIDs: map[string]string{}}
	o, err := z.db.GetZohoOrder(ctx, orderID)
	if err != nil {
		return res, fmt.Errorf("load order %s: %w", orderID, err)
	}
	if o.Status != "paid" {
		return res, fmt.Errorf("order %s is %s, not paid: only paid orders go to zoho books", o.ID, o.Status)
	}
	if len(o.Items) == 0 {
		return res, fmt.Errorf("order %s has no items", o.ID)
	}
	for _, it := range o.Items {
		res.ItemIDs[it.ProductCode] = it.ZohoItemID
	}
	if o.ZohoPaymentID != "" && o.ZohoInvoiceID != "" && o.ZohoCustomerID != "" {
		res.CustomerID, res.InvoiceID, res.PaymentID = o.ZohoCustomerID, o.ZohoInvoiceID, o.ZohoPaymentID
		return res, nil // done by an earlier attempt
	}
	if res.CustomerID, err = z.ensureCustomer(ctx, c, o); err != nil {
		return res, err
	}
	for i, it := range o.Items {
		if it.ZohoItemID == "" {
			if it.ZohoItemID, err = z.ensureItem(ctx, c, it, o.Currency); err != nil {
				return res, err
			}
			o.Items[i].ZohoItemID, res.ItemIDs[it.ProductCode] = it.ZohoItemID, it.ZohoItemID
		}
	}
	inv, err := z.ensureInvoice(ctx, c, o, res.CustomerID)
	if err != nil {
		return res, err
	}
	res.InvoiceID = inv.InvoiceID
	res.PaymentID, err = z.ensurePayment(ctx, c, o, res.CustomerID, inv)
	return res, err
}

// ensureCustomer finds or creates the company's Books customer and stores it at once. Books
// invoices a customer in the customer's currency, so the customer must be in the order's
// currency: a new one is created in it, and an existing one in another currency fails the job
// rather than booking the order in the wrong currency.
func (z *ZohoSync) ensureCustomer(ctx context.Context, c *zohobooks.Client, o store.ZohoOrder) (string, error) {
	cur, err := c.Currency(ctx, o.Currency)
	var ne *zohobooks.CurrencyNotEnabledError
	if errors.As(err, &ne) {
		return "", fmt.Errorf("order %s is in %s, which Zoho Books does not have (enabled: %s): enable %s in Zoho Books → Settings → Currencies",
			o.ID, ne.Code, strings.Join(ne.Enabled, ", "), ne.Code)
	}
	if err != nil {
		return "", err
	}
	if o.ZohoCustomerID != "" {
		return o.ZohoCustomerID, z.checkCustomerCurrency(ctx, c, o, cur, o.ZohoCustomerID, nil)
	}
	save := func(customerID, contactID, personID string) (string, error) {
		return customerID, z.db.Update(ctx, func(tx *store.Tx) error {
			return tx.SaveZohoCustomer(ctx, o.ID, o.CompanyID, customerID, contactID, personID)
		})
	}
	saveChecked := func(ct *zohobooks.Contact, customerID string) (string, error) {
		if err := z.checkCustomerCurrency(ctx, c, o, cur, customerID, ct); err != nil {
			return "", err
		}
		return save(customerID, "", "")
	}
	if o.Company.ZohoCustomerID != "" {
		return saveChecked(nil, o.Company.ZohoCustomerID)
	}
	unlock, err := zohoLocks.lock(ctx, "customer:"+o.CompanyID)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another job of the same company may have linked the customer while this one waited.
	if co, err := z.db.GetCompany(ctx, o.CompanyID); err != nil {
		return "", err
	} else if co.ZohoCustomerID != "" {
		return saveChecked(nil, co.ZohoCustomerID)
	}
	buyer, err := z.buyer(ctx, o)
	if err != nil {
		return "", err
	}
	found, err := c.FindCustomerByEmail(ctx, buyer.Email)
	if err != nil {
		return "", err
	}
	if found != nil {
		return saveChecked(found, found.ContactID)
	}
	first, last := buyer.FirstName, buyer.LastName
	if first == "" && last == "" {
		first, last, _ = strings.Cut(buyer.FullName, " ")
	}
	created, err := c.CreateCustomer(ctx, zohobooks.CreateCustomerInput{ContactName: o.Company.Name,
		CompanyName: o.Company.Name, Email: buyer.Email, FirstName: first, LastName: last, CurrencyID: cur.CurrencyID})
	if zohoCode(err) == zohoCodeContactExists {
		return z.adoptCustomer(ctx, c, o, buyer.Email, saveChecked)
	}
	if err != nil {
		return "", fmt.Errorf("create zoho customer for company %s: %w", o.CompanyID, err)
	}
	personID := created.PrimaryContactID
	for _, p := range created.ContactPersons {
		if strings.EqualFold(p.Email, buyer.Email) && p.ContactPersonID != "" {
			personID = p.ContactPersonID
		}
	}
	z.logger.Info("zoho customer created", "company_id", o.CompanyID, "zoho_customer_id", created.ContactID,
		"currency", cur.CurrencyCode)
	if _, err := save(created.ContactID, buyer.ID, personID); err != nil {
		return "", err
	}
	// Check what Zoho made of it (and remember it, so later orders cost no call).
	return created.ContactID, z.checkCustomerCurrency(ctx, c, o, cur, created.ContactID, created)
}

// checkCustomerCurrency fails unless Books customer customerID is in the order's currency cur.
// ct is what a search or create returned of the customer, if anything; without it the
// customer is read from Books, once per process (a customer with invoices keeps its currency).
func (z *ZohoSync) checkCustomerCurrency(ctx context.Context, c *zohobooks.Client, o store.ZohoOrder, cur zohobooks.Currency,
	customerID string, ct *zohobooks.Contact) error {
	if ct == nil || (ct.CurrencyID == "" && ct.CurrencyCode == "") {
		if z.customerCurrencyIs(customerID, cur.CurrencyID) {
			return nil
		}
		var err error
		if ct, err = c.GetContact(ctx, customerID); err != nil {
			return fmt.Errorf("read zoho customer %s of company %s to check its currency: %w", customerID, o.CompanyID, err)
		}
	}
	var same bool
	switch {
	case ct.CurrencyID != "":
		same = ct.CurrencyID == cur.CurrencyID
	case ct.CurrencyCode != "":
		same = strings.EqualFold(ct.CurrencyCode, cur.CurrencyCode)
	default:
		return fmt.Errorf("zoho books customer %s (%s) has no currency: cannot tell whether order %s in %s may be booked to it",
			customerID, ct.ContactName, o.ID, cur.CurrencyCode)
	}
	if same {
		z.rememberCustomerCurrency(customerID, cur.CurrencyID)
		return nil
	}
	has := strings.ToUpper(ct.CurrencyCode)
	if has == "" {
		has = "currency " + ct.CurrencyID
	}
	return fmt.Errorf("zoho books customer %s (%s) is in %s but order %s is in %s: Books invoices a customer in its own "+
		"currency, so the order would be booked in the wrong currency; create a %s customer for it in Zoho Books and set it "+
		"as the order's zoho_customer_id, or book the order by hand", customerID, ct.ContactName, has, o.ID,
		cur.CurrencyCode, cur.CurrencyCode)
}

// customerCurrencyIs reports whether customerID was seen in currency currencyID.
func (z *ZohoSync) customerCurrencyIs(customerID, currencyID string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	id, ok := z.customerCurrency[customerID]
	return ok && id == currencyID
}

func (z *ZohoSync) rememberCustomerCurrency(customerID, currencyID string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.customerCurrency == nil {
		z.customerCurrency = map[string]string{}
	}
	z.customerCurrency[customerID] = currencyID
}

// adoptCustomer handles a customer named after the company that already exists, made for
// another of its contacts: it is found by that contact's e-mail.
func (z *ZohoSync) adoptCustomer(ctx context.Context, c *zohobooks.Client, o store.ZohoOrder, tried string,
	saveChecked func(ct *zohobooks.Contact, customerID string) (string, error)) (string, error) {
	contacts, err := z.db.ListContacts(ctx, o.CompanyID)
	if err != nil {
		return "", err
	}
	for _, k := range contacts {
		if strings.EqualFold(k.Email, tried) {
			continue
		}
		found, err := c.FindCustomerByEmail(ctx, k.Email)
		if err != nil {
			return "", err
		}
		if found != nil {
			return saveChecked(found, found.ContactID)
		}
	}
	return "", fmt.Errorf("a zoho books customer named %q exists but its e-mail is none of company %s's contacts: "+
		"link it by setting companies.zoho_customer_id", o.Company.Name, o.CompanyID)
}

// buyer is the contact the Books customer is found by: the order's, else the company's first.
func (z *ZohoSync) buyer(ctx context.Context, o store.ZohoOrder) (store.Contact, error) {
	if o.Contact != nil && o.Contact.Email != "" {
		return *o.Contact, nil
	}
	contacts, err := z.db.ListContacts(ctx, o.CompanyID)
	if err != nil {
		return store.Contact{}, err
	}
	if len(contacts) == 0 {
		return store.Contact{}, fmt.Errorf("order %s: company %s has no contact with an e-mail to find or create its zoho customer by",
			o.ID, o.CompanyID)
	}
	return contacts[0], nil
}

// ensureItem finds (by SKU = product code) or creates the product's Books item and stores it.
func (z *ZohoSync) ensureItem(ctx context.Context, c *zohobooks.Client, it store.ZohoOrderItem, currency string) (string, error) {
	unlock, err := zohoLocks.lock(ctx, "item:"+it.ProductCode)
	if err != nil {
		return "", err
	}
	defer unlock()
	if id, err := z.db.ZohoItemID(ctx, it.ProductCode); err != nil || id != "" {
		return id, err
	}
	productType := "goods"
	if it.ProductType == "service" {
		productType = "service"
	}
	id, err := z.findOrCreateItem(ctx, c, zohobooks.Item{Name: zohoItemName(it.Description, it.ProductCode),
		SKU: it.ProductCode, Rate: zohobooks.MinorToMajor(it.UnitAmount, currency), Description: it.Description,
		ProductType: productType})
	if err != nil {
		return "", err
	}
	return id, z.db.Update(ctx, func(tx *store.Tx) error { return tx.SaveZohoItem(ctx, it.ProductCode, id) })
}

func (z *ZohoSync) findOrCreateItem(ctx context.Context, c *zohobooks.Client, item zohobooks.Item) (string, error) {
	found, err := c.FindItemBySKU(ctx, item.SKU)
	if err != nil {
		return "", err
	}
	if found != nil {
		return found.ItemID, nil
	}
	created, err := c.CreateItem(ctx, item)
	if zohoCode(err) == zohoCodeItemExists {
		found, ferr := c.FindItemBySKU(ctx, item.SKU)
		if ferr != nil {
			return "", ferr
		}
		if found != nil {
			return found.ItemID, nil
		}
		return "", fmt.Errorf("a zoho books item named %q exists without SKU %s: give it that SKU in Zoho Books", item.Name, item.SKU)
	}
	if err != nil {
		return "", fmt.Errorf("create zoho item %s: %w", item.SKU, err)
	}
	z.logger.Info("zoho item created", "sku", item.SKU, "zoho_item_id", created.ItemID)
	return created.ItemID, nil
}

// zohoItemName is a Books item name: unique (it carries the code) and within Zoho's 100 characters.
func zohoItemName(description, code string) string {
	suffix := " (" + code + ")"
	room := 100 - utf8.RuneCountInString(suffix)
	if utf8.RuneCountInString(description) > room {
		description = string([]rune(description)[:max(room, 0)])
	}
	return strings.TrimSpace(description + suffix)
}

// taxItem returns the Books item of the tax line, found or created once and kept in
// integration_state.
func (z *ZohoSync) taxItem(ctx context.Context, c *zohobooks.Client) (string, error) {
	unlock, err := zohoLocks.lock(ctx, "item:"+zohoTaxSKU)
	if err != nil {
		return "", err
	}
	defer unlock()
	if id, _, ok, err := z.db.GetState(ctx, zohoTaxItemState); err != nil || ok {
		return id, err
	}
	id, err := z.findOrCreateItem(ctx, c, zohobooks.Item{Name: "Tax collected by Stripe", SKU: zohoTaxSKU,
		ProductType: "service", Description: "Sales tax or VAT Stripe collected at checkout"})
	if err != nil {
		return "", err
	}
	return id, z.db.Update(ctx, func(tx *store.Tx) error { return tx.SetState(ctx, zohoTaxItemState, id) })
}

// ensureInvoice finds (by reference_number = order id) or creates the order's invoice, stores
// it, and marks it sent unless it already is.
func (z *ZohoSync) ensureInvoice(ctx context.Context, c *zohobooks.Client, o store.ZohoOrder, customerID string) (*zohobooks.Invoice, error) {
	inv, err := c.FindInvoiceByReference(ctx, o.ID) // also when the id is stored: it tells the status
	if err != nil {
		return nil, err
	}
	if inv == nil && o.ZohoInvoiceID != "" {
		return nil, fmt.Errorf("zoho invoice %s of order %s is not found by its reference number", o.ZohoInvoiceID, o.ID)
	}
	if inv == nil {
		lines := make([]zohobooks.LineItem, 0, len(o.Items)+1)
		for _, it := range o.Items {
			lines = append(lines, zohobooks.LineItem{ItemID: it.ZohoItemID, Name: it.Description,
				Rate: zohobooks.MinorToMajor(it.UnitAmount, o.Currency), Quantity: float64(it.Quantity)})
		}
		if o.TaxAmount > 0 {
			taxID, err := z.taxItem(ctx, c)
			if err != nil {
				return nil, err
			}
			lines = append(lines, zohobooks.LineItem{ItemID: taxID, Name: "Tax",
				Rate: zohobooks.MinorToMajor(o.TaxAmount, o.Currency), Quantity: 1})
		}
		if inv, err = c.CreateInvoice(ctx, zohobooks.CreateInvoiceInput{CustomerID: customerID,
			ReferenceNumber: o.ID, Date: z.paidDate(o), LineItems: lines}); err != nil {
			return nil, fmt.Errorf("create zoho invoice for order %s: %w", o.ID, err)
		}
		z.logger.Info("zoho invoice created", "order_id", o.ID, "zoho_invoice_id", inv.InvoiceID)
	}
	if inv.InvoiceID != o.ZohoInvoiceID {
		if err := z.db.Update(ctx, func(tx *store.Tx) error { return tx.SaveZohoInvoice(ctx, o.ID, inv.InvoiceID) }); err != nil {
			return nil, err
		}
	}
	if inv.CurrencyCode != "" && !strings.EqualFold(inv.CurrencyCode, o.Currency) {
		return nil, fmt.Errorf("zoho invoice %s of order %s is in %s but the order is in %s: resolve it in Zoho Books "+
			"(void it and give the order a customer in %s)", inv.InvoiceID, o.ID, strings.ToUpper(inv.CurrencyCode),
			strings.ToUpper(o.Currency), strings.ToUpper(o.Currency))
	}
	switch inv.Status {
	case "void":
		return nil, fmt.Errorf("zoho invoice %s of order %s is void: resolve it in Zoho Books", inv.InvoiceID, o.ID)
	case "draft", "":
		if err := c.MarkInvoiceSent(ctx, inv.InvoiceID); err != nil {
			return nil, err
		}
		inv.Status = "sent"
	}
	return inv, nil
}

// ensurePayment finds (by reference = the Stripe PaymentIntent, else the order id) or records
// the customer payment applied to the invoice, and stores it.
func (z *ZohoSync) ensurePayment(ctx context.Context, c *zohobooks.Client, o store.ZohoOrder, customerID string, inv *zohobooks.Invoice) (string, error) {
	if o.TotalAmount <= 0 {
		return "", nil // nothing was paid
	}
	ref := o.StripePaymentIntentID
	if ref == "" {
		ref = o.ID
	}
	p, err := c.FindPaymentByReference(ctx, ref)
	if err != nil {
		return "", err
	}
	if p == nil {
		amount := zohobooks.MinorToMajor(o.TotalAmount, o.Currency)
		applied := min(amount, inv.Balance)
		if applied <= 0 {
			return "", fmt.Errorf("zoho invoice %s of order %s has no balance left but no payment %s exists: resolve it in Zoho Books",
				inv.InvoiceID, o.ID, ref)
		}
		if p, err = c.CreatePayment(ctx, zohobooks.CreatePaymentInput{CustomerID: customerID, PaymentMode: "creditcard",
			Amount: amount, Date: z.paidDate(o), ReferenceNumber: ref, AccountID: z.cfg.ZohoDepositAccountID,
			Description: "Stripe payment of order " + o.ID,
			Invoices:    []zohobooks.AppliedInvoice{{InvoiceID: inv.InvoiceID, AmountApplied: applied}}}); err != nil {
			return "", fmt.Errorf("record zoho payment for order %s: %w", o.ID, err)
		}
		z.logger.Info("zoho payment recorded", "order_id", o.ID, "zoho_payment_id", p.PaymentID)
	}
	return p.PaymentID, z.db.Update(ctx, func(tx *store.Tx) error { return tx.SaveZohoPayment(ctx, o.ID, p.PaymentID) })
}

// paidDate is the order's payment day (UTC), the invoice and payment date in Books.
func (z *ZohoSync) paidDate(o store.ZohoOrder) string {
	t := o.PaidAt
	if t.IsZero() {
		t = z.db.Now()
	}
	return t.UTC().Format(time.DateOnly)
}

// zohoCode is the Books code of an API error, or 0.
func zohoCode(err error) int {
	var ae *zohobooks.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}
