package zohofake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Currency is a currency enabled in the organisation. Contacts take its
// CurrencyID; a contact's invoices are in the contact's currency.
type Currency struct {
	CurrencyID     string
	CurrencyCode   string // upper-case ISO code
	CurrencyName   string
	CurrencySymbol string
	IsBaseCurrency bool
}

// DefaultCurrencies are the organisation's currencies unless
// Options.Currencies says otherwise: base GBP, plus EUR and USD.
func DefaultCurrencies() []Currency {
	return []Currency{
		{CurrencyID: "460000000000097", CurrencyCode: "GBP", CurrencyName: "GBP- Pound Sterling", CurrencySymbol: "£", IsBaseCurrency: true},
		{CurrencyID: "460000000000098", CurrencyCode: "EUR", CurrencyName: "EUR- Euro", CurrencySymbol: "€"},
		{CurrencyID: "460000000000099", CurrencyCode: "USD", CurrencyName: "USD- US Dollar", CurrencySymbol: "$"},
	}
}

// currencySeq numbers the currencies seeded without an id.
const currencySeq = 460000000000100

// seedCurrencies installs the configured currencies: ids assigned, codes
// upper-cased, the first one base when none is.
func (s *Server) seedCurrencies(list []Currency) {
	if len(list) == 0 {
		list = DefaultCurrencies()
	}
	base := false
	for _, c := range list {
		base = base || c.IsBaseCurrency
	}
	for i, c := range list {
		if i == 0 && !base {
			c.IsBaseCurrency = true
		}
		s.addCurrency(c)
	}
}

// addCurrency stores c; s.mu is held or the server is not yet shared.
func (s *Server) addCurrency(c Currency) Currency {
	c.CurrencyCode = strings.ToUpper(c.CurrencyCode)
	if c.CurrencyID == "" {
		c.CurrencyID = strconv.Itoa(currencySeq + len(s.currencies))
	}
	if c.CurrencyName == "" {
		c.CurrencyName = c.CurrencyCode
	}
	if c.CurrencySymbol == "" {
		c.CurrencySymbol = c.CurrencyCode
	}
	if c.IsBaseCurrency {
		for _, o := range s.currencies {
			o.IsBaseCurrency = false
		}
	}
	s.currencies = append(s.currencies, &c)
	return c
}

// AddCurrency enables a currency, as an admin would in Settings →
// Currencies; an empty id is assigned. It returns the stored currency.
func (s *Server) AddCurrency(c Currency) Currency {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.CurrencyCode == "" || s.currencyByCode(c.CurrencyCode) != nil {
		panic(fmt.Sprintf("zohofake: AddCurrency: empty or duplicate currency code %q", c.CurrencyCode))
	}
	return s.addCurrency(c)
}

// Currencies returns the organisation's currencies, base first as seeded.
func (s *Server) Currencies() []Currency {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyAll(s.currencies, func(c Currency) Currency { return c })
}

func (b *books) currency(id string) *Currency {
	return findByID(b.currencies, func(c *Currency) string { return c.CurrencyID }, id)
}

func (b *books) currencyByCode(code string) *Currency {
	for _, c := range b.currencies {
		if strings.EqualFold(c.CurrencyCode, code) {
			return c
		}
	}
	return nil
}

func (b *books) baseCurrency() *Currency {
	for _, c := range b.currencies {
		if c.IsBaseCurrency {
			return c
		}
	}
	return nil
}

// currencyCode is the ISO code of a currency id ("" when unknown).
func (b *books) currencyCode(id string) string {
	if c := b.currency(id); c != nil {
		return c.CurrencyCode
	}
	return ""
}

// listCurrencies: GET /settings/currencies.
func (s *Server) listCurrencies(_ *http.Request, _ []string, _ []byte) result {
	list := []map[string]any{}
	for _, c := range s.currencies {
		list = append(list, currencyJSON(c))
	}
	return ok(http.StatusOK, "success", "currencies", list)
}

func currencyJSON(c *Currency) map[string]any {
	return map[string]any{
		"currency_id":      c.CurrencyID,
		"currency_code":    c.CurrencyCode,
		"currency_name":    c.CurrencyName,
		"currency_symbol":  c.CurrencySymbol,
		"is_base_currency": c.IsBaseCurrency,
	}
}
