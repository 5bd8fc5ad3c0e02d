package zohobooks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CurrencyRefreshInterval is the least time between two fetches of the
// currency list caused by a code that was not in it (see Currency).
const CurrencyRefreshInterval = time.Minute

// Currency is one currency enabled in the organisation (GET
// /settings/currencies). CurrencyID is what contacts and invoices take.
type Currency struct {
	CurrencyID     string `json:"currency_id"`
	CurrencyCode   string `json:"currency_code"`
	CurrencyName   string `json:"currency_name,omitempty"`
	CurrencySymbol string `json:"currency_symbol,omitempty"`
	IsBaseCurrency bool   `json:"is_base_currency"`
}

// CurrencyNotEnabledError is returned by Currency and CurrencyID for an ISO
// code the organisation has not enabled. It is permanent until someone
// enables the currency in Zoho Books (Settings → Currencies).
type CurrencyNotEnabledError struct {
	Code    string   // upper-case ISO code asked for
	Enabled []string // upper-case codes the organisation has
}

func (e *CurrencyNotEnabledError) Error() string {
	return fmt.Sprintf("zohobooks: currency %s is not enabled in the organisation (enabled: %s): enable %s in Zoho Books → Settings → Currencies",
		e.Code, strings.Join(e.Enabled, ", "), e.Code)
}

// currencyCache is the client's copy of the currency list.
type currencyCache struct {
	lock    chan struct{} // held while reading or fetching, so that one caller fetches
	list    []Currency
	fetched time.Time // zero: never fetched
}

// ListCurrencies returns the currencies enabled in the organisation, the
// base currency among them. It always calls Zoho; Currency caches.
func (c *Client) ListCurrencies(ctx context.Context) ([]Currency, error) {
	var resp struct {
		Currencies []Currency `json:"currencies"`
	}
	if err := c.call(ctx, "GET", "/settings/currencies", nil, nil, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: list currencies: %w", err)
	}
	return resp.Currencies, nil
}

// Currency returns the organisation's currency with this ISO code
// (case-insensitive). The list is fetched on first use and kept for the
// life of the client; a code not in it causes one more fetch (at most one
// per CurrencyRefreshInterval), in case the currency was enabled since. A
// code still missing is a *CurrencyNotEnabledError.
func (c *Client) Currency(ctx context.Context, code string) (Currency, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		return Currency{}, fmt.Errorf("zohobooks: currency: empty code")
	}
	select {
	case c.currencies.lock <- struct{}{}:
	case <-ctx.Done():
		return Currency{}, ctx.Err()
	}
	defer func() { <-c.currencies.lock }()

	fresh := false
	if c.currencies.fetched.IsZero() {
		if err := c.fetchCurrencies(ctx); err != nil {
			return Currency{}, err
		}
		fresh = true
	}
	if cur, ok := c.cachedCurrency(code); ok {
		return cur, nil
	}
	if !fresh && c.now().Sub(c.currencies.fetched) >= CurrencyRefreshInterval {
		if err := c.fetchCurrencies(ctx); err != nil {
			return Currency{}, err
		}
		if cur, ok := c.cachedCurrency(code); ok {
			return cur, nil
		}
	}
	enabled := make([]string, 0, len(c.currencies.list))
	for _, cur := range c.currencies.list {
		enabled = append(enabled, strings.ToUpper(cur.CurrencyCode))
	}
	slices.Sort(enabled)
	return Currency{}, &CurrencyNotEnabledError{Code: code, Enabled: enabled}
}

// CurrencyID resolves an ISO code (case-insensitive) to the organisation's
// currency_id, as Currency does.
func (c *Client) CurrencyID(ctx context.Context, code string) (string, error) {
	cur, err := c.Currency(ctx, code)
	return cur.CurrencyID, err
}

// fetchCurrencies refreshes the cache; c.currencies.lock is held.
func (c *Client) fetchCurrencies(ctx context.Context) error {
	list, err := c.ListCurrencies(ctx)
	if err != nil {
		return err
	}
	c.currencies.list, c.currencies.fetched = list, c.now()
	return nil
}

// cachedCurrency looks code (upper-case) up in the cache; c.currencies.lock is held.
func (c *Client) cachedCurrency(code string) (Currency, bool) {
	for _, cur := range c.currencies.list {
		if strings.EqualFold(cur.CurrencyCode, code) && cur.CurrencyID != "" {
			return cur, true
		}
	}
	return Currency{}, false
}
