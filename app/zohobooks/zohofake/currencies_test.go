package zohofake

import (
	"strings"
	"testing"
)

func TestCurrencies(t *testing.T) {
	s := New(t, Options{})
	auth := "Zoho-oauthtoken " + accessToken(t, s)
	status, body := call(t, s, "GET", "/settings/currencies", auth, org(), "", "")
	list, _ := body["currencies"].([]any)
	if status != 200 || code(body) != 0 || len(list) != 3 {
		t.Fatalf("currencies: HTTP %d %v", status, body)
	}
	ids := map[string]string{}
	for i, v := range list {
		m := v.(map[string]any)
		cc, _ := m["currency_code"].(string)
		ids[cc], _ = m["currency_id"].(string)
		if base, _ := m["is_base_currency"].(bool); base != (i == 0) || ids[cc] == "" || m["currency_symbol"] == "" {
			t.Errorf("currency %d: %v", i, m)
		}
	}
	if ids["GBP"] == "" || ids["EUR"] == "" || ids["USD"] == "" {
		t.Fatalf("currencies %v, want GBP, EUR, USD", ids)
	}

	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		return call(t, s, "POST", path, auth, org(), "application/json", body)
	}
	// currency_id: stored and answered with its code; the base currency without one; unknown refused.
	_, c := post("/contacts", `{"contact_name":"Eva","currency_id":"`+ids["EUR"]+`"}`)
	eva := c["contact"].(map[string]any)
	if eva["currency_id"] != ids["EUR"] || eva["currency_code"] != "EUR" {
		t.Fatalf("EUR contact: %v", eva)
	}
	_, c = post("/contacts", `{"contact_name":"Bea"}`)
	if bea := c["contact"].(map[string]any); bea["currency_code"] != "GBP" || bea["currency_id"] != ids["GBP"] {
		t.Fatalf("contact without currency: %v", bea)
	}
	status, body = post("/contacts", `{"contact_name":"Cal","currency_id":"123"}`)
	if msg, _ := body["message"].(string); status != 400 || code(body) != CodeInvalidValue || !strings.Contains(msg, "currency_id") {
		t.Fatalf("unknown currency_id: HTTP %d %v", status, body)
	}
	_, g := call(t, s, "GET", "/contacts/"+eva["contact_id"].(string), auth, org(), "", "")
	if got := g["contact"].(map[string]any); got["currency_code"] != "EUR" {
		t.Fatalf("get contact: %v", g)
	}
	if status, body := call(t, s, "GET", "/contacts/404", auth, org(), "", ""); status != 404 || code(body) != CodeNotFound {
		t.Fatalf("get unknown contact: HTTP %d %v", status, body)
	}

	// Invoices follow the customer's currency; another currency_id is refused.
	_, it := post("/items", `{"name":"Book","rate":10}`)
	item := it["item"].(map[string]any)["item_id"].(string)
	_, in := post("/invoices", `{"customer_id":"`+eva["contact_id"].(string)+`","line_items":[{"item_id":"`+item+`"}]}`)
	if inv := in["invoice"].(map[string]any); inv["currency_code"] != "EUR" || inv["currency_id"] != ids["EUR"] {
		t.Fatalf("invoice: %v", in)
	}
	status, body = post("/invoices", `{"customer_id":"`+eva["contact_id"].(string)+`","currency_id":"`+ids["USD"]+`","line_items":[{"item_id":"`+item+`"}]}`)
	if status != 400 || code(body) != CodeInvalidValue {
		t.Fatalf("invoice in another currency: HTTP %d %v", status, body)
	}
	if invs := s.Invoices(); len(invs) != 1 || invs[0].CurrencyCode != "EUR" {
		t.Fatalf("invoices %+v", invs)
	}
	if cs := s.Customers(); len(cs) != 2 || cs[0].CurrencyCode != "EUR" || cs[1].CurrencyCode != "GBP" {
		t.Fatalf("customers %+v", cs)
	}
}

func TestConfiguredCurrencies(t *testing.T) {
	s := New(t, Options{Currencies: []Currency{{CurrencyCode: "usd"}, {CurrencyCode: "cad", CurrencyID: "77"}}})
	cs := s.Currencies()
	if len(cs) != 2 || cs[0].CurrencyCode != "USD" || !cs[0].IsBaseCurrency || cs[0].CurrencyID == "" ||
		cs[1].CurrencyCode != "CAD" || cs[1].CurrencyID != "77" || cs[1].IsBaseCurrency {
		t.Fatalf("currencies %+v", cs)
	}
	if c := s.AddCustomer(Customer{ContactName: "Ada"}); c.CurrencyCode != "USD" {
		t.Fatalf("seeded customer %+v, want the base currency", c)
	}
	if c := s.AddCustomer(Customer{ContactName: "Bob", CurrencyCode: "cad"}); c.CurrencyID != "77" {
		t.Fatalf("seeded customer %+v, want CAD", c)
	}
	if jpy := s.AddCurrency(Currency{CurrencyCode: "JPY"}); jpy.CurrencyID == "" || len(s.Currencies()) != 3 {
		t.Fatalf("added %+v", jpy)
	}
}
