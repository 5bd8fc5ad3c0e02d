package zohobooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Contact is a Zoho Books contact (we only create customers). CurrencyID and
// CurrencyCode are the contact's currency, which its invoices follow; list,
// get and create responses all carry them.
type Contact struct {
	ContactID        string          `json:"contact_id"`
	ContactName      string          `json:"contact_name"`
	CompanyName      string          `json:"company_name,omitempty"`
	ContactType      string          `json:"contact_type,omitempty"`
	Status           string          `json:"status,omitempty"`
	CurrencyID       string          `json:"currency_id,omitempty"`
	CurrencyCode     string          `json:"currency_code,omitempty"`
	PrimaryContactID string          `json:"primary_contact_id,omitempty"`
	ContactPersons   []ContactPerson `json:"contact_persons,omitempty"`
	// Email is the primary contact person's email; list responses carry it
	// at the top level, the client fills it in from ContactPersons otherwise.
	Email string `json:"email,omitempty"`
}

// ContactPerson is one person of a contact.
type ContactPerson struct {
	ContactPersonID  string `json:"contact_person_id,omitempty"`
	FirstName        string `json:"first_name,omitempty"`
	LastName         string `json:"last_name,omitempty"`
	Email            string `json:"email,omitempty"`
	IsPrimaryContact bool   `json:"is_primary_contact"`
}

// CreateCustomerInput is what CreateCustomer needs. ContactName is Zoho's
// display name and must be unique in the organisation.
type CreateCustomerInput struct {
	ContactName string
	CompanyName string
	Email       string
	FirstName   string
	LastName    string
	// CurrencyID is the Zoho currency id (not an ISO code) of the customer;
	// empty means the organisation's base currency. The contacts API takes
	// no currency code.
	CurrencyID string
}

type createContactRequest struct {
	ContactName    string          `json:"contact_name"`
	CompanyName    string          `json:"company_name,omitempty"`
	ContactType    string          `json:"contact_type"`
	CurrencyID     string          `json:"currency_id,omitempty"`
	ContactPersons []ContactPerson `json:"contact_persons,omitempty"`
}

// FindCustomerByEmail returns the customer whose primary contact person has
// this email (case-insensitive), or nil, nil when there is none.
func (c *Client) FindCustomerByEmail(ctx context.Context, email string) (*Contact, error) {
	if strings.TrimSpace(email) == "" {
		return nil, errors.New("zohobooks: find customer: empty email")
	}
	var resp struct {
		Contacts []Contact `json:"contacts"`
	}
	q := url.Values{"email": {email}, "contact_type": {"customer"}}
	if err := c.call(ctx, "GET", "/contacts", q, nil, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: find customer by email: %w", err)
	}
	for i := range resp.Contacts {
		ct := &resp.Contacts[i]
		fillEmail(ct)
		if ct.Email == "" || strings.EqualFold(ct.Email, email) {
			return ct, nil
		}
	}
	return nil, nil
}

// GetContact returns the contact with this id; a missing one is an
// *APIError (HTTP 404).
func (c *Client) GetContact(ctx context.Context, contactID string) (*Contact, error) {
	if strings.TrimSpace(contactID) == "" {
		return nil, errors.New("zohobooks: get contact: empty contact id")
	}
	var resp struct {
		Contact Contact `json:"contact"`
	}
	if err := c.call(ctx, "GET", "/contacts/"+url.PathEscape(contactID), nil, nil, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: get contact %s: %w", contactID, err)
	}
	if resp.Contact.ContactID == "" {
		return nil, fmt.Errorf("zohobooks: get contact %s: response has no contact_id", contactID)
	}
	fillEmail(&resp.Contact)
	return &resp.Contact, nil
}

// CreateCustomer creates a customer contact whose primary contact person
// carries the email.
func (c *Client) CreateCustomer(ctx context.Context, in CreateCustomerInput) (*Contact, error) {
	if strings.TrimSpace(in.ContactName) == "" {
		return nil, errors.New("zohobooks: create customer: empty contact name")
	}
	req := createContactRequest{
		ContactName: in.ContactName,
		CompanyName: in.CompanyName,
		ContactType: "customer",
		CurrencyID:  in.CurrencyID,
	}
	if in.Email != "" || in.FirstName != "" || in.LastName != "" {
		req.ContactPersons = []ContactPerson{{
			FirstName:        in.FirstName,
			LastName:         in.LastName,
			Email:            in.Email,
			IsPrimaryContact: true,
		}}
	}
	var resp struct {
		Contact Contact `json:"contact"`
	}
	if err := c.call(ctx, "POST", "/contacts", nil, req, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: create customer: %w", err)
	}
	if resp.Contact.ContactID == "" {
		return nil, errors.New("zohobooks: create customer: response has no contact_id")
	}
	fillEmail(&resp.Contact)
	return &resp.Contact, nil
}

func fillEmail(ct *Contact) {
	if ct.Email != "" {
		return
	}
	for _, p := range ct.ContactPersons {
		if p.IsPrimaryContact {
			ct.Email = p.Email
			return
		}
	}
}
