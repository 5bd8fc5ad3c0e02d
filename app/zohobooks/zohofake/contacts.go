package zohofake

import (
	"net/http"
	"strings"
)

type contactPersonJSON struct {
	ContactPersonID  string `json:"contact_person_id,omitempty"`
	FirstName        string `json:"first_name,omitempty"`
	LastName         string `json:"last_name,omitempty"`
	Email            string `json:"email,omitempty"`
	IsPrimaryContact bool   `json:"is_primary_contact"`
}

// listContacts: GET /contacts with the email, contact_type and
// contact_name filters (exact; email case-insensitive, primary person).
func (s *Server) listContacts(r *http.Request, _ []string, _ []byte) result {
	q := r.URL.Query()
	list := []map[string]any{}
	for _, c := range s.customers {
		if v := q.Get("email"); v != "" && !strings.EqualFold(v, c.Email()) {
			continue
		}
		if v := q.Get("contact_type"); v != "" && v != c.ContactType {
			continue
		}
		if v := q.Get("contact_name"); v != "" && v != c.ContactName {
			continue
		}
		m := map[string]any{
			"contact_id":    c.ContactID,
			"contact_name":  c.ContactName,
			"company_name":  c.CompanyName,
			"contact_type":  c.ContactType,
			"status":        "active",
			"currency_id":   c.CurrencyID,
			"currency_code": c.CurrencyCode,
			"email":         c.Email(),
		}
		if p := c.primary(); p != nil {
			m["first_name"], m["last_name"] = p.FirstName, p.LastName
		}
		list = append(list, m)
	}
	return ok(http.StatusOK, "success", "contacts", list, "page_context", pageContext())
}

// createContact: POST /contacts. contact_name is required and unique.
func (s *Server) createContact(r *http.Request, _ []string, body []byte) result {
	var in struct {
		ContactName    string              `json:"contact_name"`
		CompanyName    string              `json:"company_name"`
		ContactType    string              `json:"contact_type"`
		CurrencyID     string              `json:"currency_id"`
		ContactPersons []contactPersonJSON `json:"contact_persons"`
	}
	if res, good := decodeBody(r, body, &in); !good {
		return res
	}
	if strings.TrimSpace(in.ContactName) == "" {
		return invalid("contact_name")
	}
	if in.ContactType != "" && in.ContactType != "customer" && in.ContactType != "vendor" {
		return invalid("contact_type")
	}
	for _, c := range s.customers {
		if strings.EqualFold(c.ContactName, in.ContactName) {
			return fail(http.StatusBadRequest, CodeContactExists, "The contact %q already exists.", in.ContactName)
		}
	}
	cur := s.baseCurrency()
	if in.CurrencyID != "" {
		if cur = s.currency(in.CurrencyID); cur == nil {
			return invalid("currency_id")
		}
	}
	primaries := 0
	c := &Customer{
		ContactID:    s.nextID(),
		ContactName:  in.ContactName,
		CompanyName:  in.CompanyName,
		ContactType:  in.ContactType,
		CurrencyID:   cur.CurrencyID,
		CurrencyCode: cur.CurrencyCode,
	}
	if c.ContactType == "" {
		c.ContactType = "customer"
	}
	for _, p := range in.ContactPersons {
		if p.IsPrimaryContact {
			primaries++
		}
		c.ContactPersons = append(c.ContactPersons, ContactPerson{
			ContactPersonID:  s.nextID(),
			FirstName:        p.FirstName,
			LastName:         p.LastName,
			Email:            p.Email,
			IsPrimaryContact: p.IsPrimaryContact,
		})
	}
	if primaries > 1 {
		return invalid("contact_persons.is_primary_contact")
	}
	s.customers = append(s.customers, c)
	return ok(http.StatusCreated, "The contact has been created", "contact", s.contactJSON(c))
}

// getContact: GET /contacts/{contact_id}.
func (s *Server) getContact(_ *http.Request, seg []string, _ []byte) result {
	c := s.customer(seg[1])
	if c == nil {
		return fail(http.StatusNotFound, CodeNotFound, "Contact does not exist.")
	}
	return ok(http.StatusOK, "success", "contact", s.contactJSON(c))
}

func (s *Server) contactJSON(c *Customer) map[string]any {
	persons := []contactPersonJSON{}
	primaryID := ""
	for _, p := range c.ContactPersons {
		persons = append(persons, contactPersonJSON(p))
		if p.IsPrimaryContact {
			primaryID = p.ContactPersonID
		}
	}
	symbol := ""
	if cur := s.currency(c.CurrencyID); cur != nil {
		symbol = cur.CurrencySymbol
	}
	return map[string]any{
		"contact_id":         c.ContactID,
		"contact_name":       c.ContactName,
		"company_name":       c.CompanyName,
		"contact_type":       c.ContactType,
		"status":             "active",
		"currency_id":        c.CurrencyID,
		"currency_code":      c.CurrencyCode,
		"currency_symbol":    symbol,
		"primary_contact_id": primaryID,
		"contact_persons":    persons,
	}
}
