package zohofake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mint runs the refresh-token grant with the given form values.
func mint(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.AccountsURL()+"/oauth/v2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func goodForm() url.Values {
	return url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {DefaultClientID},
		"client_secret": {DefaultClientSecret},
		"refresh_token": {DefaultRefreshToken},
	}
}

func accessToken(t *testing.T, s *Server) string {
	t.Helper()
	status, body := mint(t, s, goodForm())
	tok, _ := body["access_token"].(string)
	if status != 200 || tok == "" {
		t.Fatalf("mint: HTTP %d %v", status, body)
	}
	return tok
}

// call sends a Books request and returns status and decoded body.
func call(t *testing.T, s *Server, method, path, auth string, query url.Values, contentType, body string) (int, map[string]any) {
	t.Helper()
	u := s.APIURL() + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func org() url.Values { return url.Values{"organization_id": {DefaultOrganizationID}} }

func code(body map[string]any) int {
	f, _ := body["code"].(float64)
	return int(f)
}

func TestTokenEndpoint(t *testing.T) {
	clk := newClock()
	s := New(t, Options{Now: clk.Now})

	for _, tc := range []struct {
		name, field, value, wantErr string
	}{
		{"wrong refresh token", "refresh_token", "nope", "invalid_code"},
		{"wrong client id", "client_id", "nope", "invalid_client"},
		{"wrong client secret", "client_secret", "nope", "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := goodForm()
			form.Set(tc.field, tc.value)
			status, body := mint(t, s, form)
			if status != 200 || body["error"] != tc.wantErr {
				t.Fatalf("got HTTP %d %v, want 200 error %s", status, body, tc.wantErr)
			}
		})
	}

	status, body := mint(t, s, goodForm())
	if status != 200 || body["token_type"] != "Bearer" || body["api_domain"] != s.URL() || body["expires_in"] != 3600.0 {
		t.Fatalf("mint: HTTP %d %v", status, body)
	}
	for range 9 {
		accessToken(t, s)
	}
	status, body = mint(t, s, goodForm())
	if status != 400 || body["error"] != "Access Denied" {
		t.Fatalf("11th mint in 10 minutes: HTTP %d %v, want 400 Access Denied", status, body)
	}
	if s.TokensMinted() != 10 || s.TokenViolations() != 1 {
		t.Fatalf("minted %d, violations %d; want 10, 1", s.TokensMinted(), s.TokenViolations())
	}
	clk.Advance(10*time.Minute + time.Second)
	accessToken(t, s)
}

func TestRejectsBadCallers(t *testing.T) {
	clk := newClock()
	s := New(t, Options{Now: clk.Now})
	tok := accessToken(t, s)
	good := "Zoho-oauthtoken " + tok

	for _, tc := range []struct {
		name       string
		auth       string
		query      url.Values
		wantStatus int
		wantCode   int
	}{
		{"bearer scheme", "Bearer " + tok, org(), 401, CodeNotAuthorized},
		{"no header", "", org(), 401, CodeNotAuthorized},
		{"unknown token", "Zoho-oauthtoken 1000.forged", org(), 401, CodeNotAuthorized},
		{"missing organization_id", good, nil, 400, CodeWrongOrganization},
		{"other organization_id", good, url.Values{"organization_id": {"1"}}, 400, CodeWrongOrganization},
		{"good", good, org(), 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, s, "GET", "/contacts", tc.auth, tc.query, "", "")
			if status != tc.wantStatus || code(body) != tc.wantCode || body["message"] == "" {
				t.Fatalf("got HTTP %d %v, want %d code %d", status, body, tc.wantStatus, tc.wantCode)
			}
		})
	}

	clk.Advance(time.Hour)
	if status, body := call(t, s, "GET", "/contacts", good, org(), "", ""); status != 401 {
		t.Fatalf("expired token: HTTP %d %v, want 401", status, body)
	}
}

func TestRejectsInvalidBodies(t *testing.T) {
	s := New(t, Options{AllowAppliedRefunds: false})
	auth := "Zoho-oauthtoken " + accessToken(t, s)
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		return call(t, s, "POST", path, auth, org(), "application/json", body)
	}

	// Seed a customer, an item, a draft invoice and a payment to refer to.
	_, c := post("/contacts", `{"contact_name":"Ada","contact_type":"customer","contact_persons":[{"email":"ada@example.com","is_primary_contact":true}]}`)
	cust := c["contact"].(map[string]any)["contact_id"].(string)
	_, it := post("/items", `{"name":"Book","sku":"B1","rate":10}`)
	item := it["item"].(map[string]any)["item_id"].(string)
	_, in := post("/invoices", `{"customer_id":"`+cust+`","line_items":[{"item_id":"`+item+`","rate":10,"quantity":1}]}`)
	draft := in["invoice"].(map[string]any)["invoice_id"].(string)

	for _, tc := range []struct {
		name, path, body string
		wantCode         int
		wantField        string
	}{
		{"contact without name", "/contacts", `{"contact_type":"customer"}`, CodeInvalidValue, "contact_name"},
		{"duplicate contact", "/contacts", `{"contact_name":"Ada"}`, CodeContactExists, ""},
		{"item without rate", "/items", `{"name":"Pen"}`, CodeInvalidValue, "rate"},
		{"invoice without customer", "/invoices", `{"line_items":[{"item_id":"` + item + `"}]}`, CodeInvalidValue, "customer_id"},
		{"invoice without lines", "/invoices", `{"customer_id":"` + cust + `"}`, CodeInvalidValue, "line_items"},
		{"line without item_id", "/invoices", `{"customer_id":"` + cust + `","line_items":[{"name":"x","rate":1}]}`, CodeInvalidValue, "line_items[0].item_id"},
		{"invoice bad date", "/invoices", `{"customer_id":"` + cust + `","date":"05/06/2026","line_items":[{"item_id":"` + item + `"}]}`, CodeInvalidValue, "date"},
		{"amount as string", "/customerpayments", `{"customer_id":"` + cust + `","payment_mode":"creditcard","amount":"10","date":"2026-03-01","invoices":[]}`, CodeInvalidValue, "amount"},
		{"payment without mode", "/customerpayments", `{"customer_id":"` + cust + `","amount":10,"date":"2026-03-01","invoices":[{"invoice_id":"` + draft + `","amount_applied":10}]}`, CodeInvalidValue, "payment_mode"},
		{"payment without date", "/customerpayments", `{"customer_id":"` + cust + `","payment_mode":"creditcard","amount":10,"invoices":[{"invoice_id":"` + draft + `","amount_applied":10}]}`, CodeInvalidValue, "date"},
		{"applied without amount", "/customerpayments", `{"customer_id":"` + cust + `","payment_mode":"creditcard","amount":10,"date":"2026-03-01","invoices":[{"invoice_id":"` + draft + `"}]}`, CodeInvalidValue, "invoices[0].amount_applied"},
		{"payment on a draft", "/customerpayments", `{"customer_id":"` + cust + `","payment_mode":"creditcard","amount":10,"date":"2026-03-01","invoices":[{"invoice_id":"` + draft + `","amount_applied":10}]}`, CodeInvalidValue, "draft"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.path, tc.body)
			msg, _ := body["message"].(string)
			if status != 400 || code(body) != tc.wantCode || !strings.Contains(msg, tc.wantField) {
				t.Fatalf("got HTTP %d %v, want 400 code %d naming %q", status, body, tc.wantCode, tc.wantField)
			}
		})
	}

	t.Run("form body", func(t *testing.T) {
		status, body := call(t, s, "POST", "/contacts", auth, org(), "application/x-www-form-urlencoded", "contact_name=Bob")
		if status != 400 || code(body) != CodeInvalidValue {
			t.Fatalf("got HTTP %d %v", status, body)
		}
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		if status, body := call(t, s, "GET", "/estimates", auth, org(), "", ""); status != 404 || code(body) != CodeInvalidURL {
			t.Fatalf("got HTTP %d %v", status, body)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		if status, body := call(t, s, "DELETE", "/contacts", auth, org(), "", ""); status != 405 || code(body) != CodeMethodNotAllowed {
			t.Fatalf("got HTTP %d %v", status, body)
		}
	})
	if n := len(s.Customers()); n != 1 {
		t.Fatalf("%d customers after rejected creates, want 1", n)
	}
}

func TestRefundsOnlyTheExcess(t *testing.T) {
	for _, allow := range []bool{false, true} {
		s := New(t, Options{AllowAppliedRefunds: allow})
		cust := s.AddCustomer(Customer{ContactName: "Ada"})
		item := s.AddItem(Item{Name: "Book", Rate: 10})
		auth := "Zoho-oauthtoken " + accessToken(t, s)
		post := func(path, body string) (int, map[string]any) {
			t.Helper()
			return call(t, s, "POST", path, auth, org(), "application/json", body)
		}
		_, in := post("/invoices", `{"customer_id":"`+cust.ContactID+`","line_items":[{"item_id":"`+item.ItemID+`","quantity":2}]}`)
		inv := in["invoice"].(map[string]any)["invoice_id"].(string)
		if status, body := post("/invoices/"+inv+"/status/sent", ""); status != 200 {
			t.Fatalf("mark sent: %d %v", status, body)
		}
		// 25 paid, 20 applied: 5 is excess.
		_, p := post("/customerpayments", `{"customer_id":"`+cust.ContactID+`","payment_mode":"creditcard","amount":25,"date":"2026-03-01","invoices":[{"invoice_id":"`+inv+`","amount_applied":20}]}`)
		pay := p["payment"].(map[string]any)["payment_id"].(string)
		if got := s.Invoices()[0]; got.Status != "paid" || got.Balance != 0 {
			t.Fatalf("invoice after payment: %+v", got)
		}

		if status, body := post("/customerpayments/"+pay+"/refunds", `{"date":"2026-03-02","amount":5,"refund_mode":"creditcard"}`); status != 400 || !strings.Contains(body["message"].(string), "from_account_id") {
			t.Fatalf("refund without from_account_id: %d %v", status, body)
		}
		status, body := post("/customerpayments/"+pay+"/refunds", `{"date":"2026-03-02","amount":10,"from_account_id":"acc"}`)
		if wantOK := allow; (status == 200) != wantOK {
			t.Fatalf("allow=%v: refund of 10 with 5 unapplied: HTTP %d %v", allow, status, body)
		}
		if status, body := post("/customerpayments/"+pay+"/refunds", `{"date":"2026-03-02","amount":5,"from_account_id":"acc"}`); status != 200 {
			t.Fatalf("allow=%v: refund of the excess: HTTP %d %v", allow, status, body)
		}
	}
}

func TestFaultsFire(t *testing.T) {
	s := New(t, Options{})
	auth := "Zoho-oauthtoken " + accessToken(t, s)
	get := func() (int, map[string]any) { return call(t, s, "GET", "/invoices", auth, org(), "", "") }

	s.InjectFault(Fault{Kind: FaultInternalError, Method: "GET", Path: "/invoices", Nth: 2})
	if status, _ := get(); status != 200 {
		t.Fatalf("first call: HTTP %d, want 200 (fault is for the 2nd)", status)
	}
	if status, body := get(); status != 500 || code(body) != CodeInternalError {
		t.Fatalf("second call: HTTP %d %v, want 500", status, body)
	}
	if status, _ := get(); status != 200 {
		t.Fatalf("third call: HTTP %d, want 200 (faults fire once)", status)
	}

	s.InjectFault(Fault{Kind: FaultRateLimit, Code: CodeDailyLimit, RetryAfter: 90 * time.Second, Repeat: true, Path: "/books/v3/invoices"})
	for range 2 {
		req, _ := http.NewRequest("GET", s.APIURL()+"/invoices?"+org().Encode(), nil)
		req.Header.Set("Authorization", auth)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "90" {
			t.Fatalf("HTTP %d Retry-After %q, want 429 and 90", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if s.FaultsFired() != 3 || s.RateLimited() != 2 {
		t.Fatalf("fired %d, 429s %d; want 3, 2", s.FaultsFired(), s.RateLimited())
	}
}

func TestCommitThenDrop(t *testing.T) {
	s := New(t, Options{})
	auth := "Zoho-oauthtoken " + accessToken(t, s)
	s.InjectFault(Fault{Kind: FaultCommitThenDrop, Method: "POST", Path: "/contacts"})

	req, _ := http.NewRequest("POST", s.APIURL()+"/contacts?"+org().Encode(), strings.NewReader(`{"contact_name":"Ada"}`))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got HTTP %d, want a dropped connection", resp.StatusCode)
	}
	if got := s.Customers(); len(got) != 1 || got[0].ContactName != "Ada" {
		t.Fatalf("customers %+v, want Ada committed", got)
	}
	if reqs := s.Requests(); reqs[len(reqs)-1].Status != 0 {
		t.Fatalf("dropped request recorded with status %d", reqs[len(reqs)-1].Status)
	}
}

func TestTimeoutFault(t *testing.T) {
	s := New(t, Options{})
	auth := "Zoho-oauthtoken " + accessToken(t, s)
	s.InjectFault(Fault{Kind: FaultTimeout, Path: "/items"})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.APIURL()+"/items?"+org().Encode(), nil)
	req.Header.Set("Authorization", auth)
	resp, err := s.HTTPClient().Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
}

func TestRateLimitWindow(t *testing.T) {
	clk := newClock()
	s := New(t, Options{Now: clk.Now, RateLimit: 3})
	auth := "Zoho-oauthtoken " + accessToken(t, s)
	for i := range 3 {
		if status, _ := call(t, s, "GET", "/items", auth, org(), "", ""); status != 200 {
			t.Fatalf("call %d: HTTP %d", i, status)
		}
		clk.Advance(10 * time.Second)
	}
	status, body := call(t, s, "GET", "/items", auth, org(), "", "")
	if status != 429 || code(body) != CodeRateLimited {
		t.Fatalf("4th call in a minute: HTTP %d %v, want 429 code 44", status, body)
	}
	clk.Advance(31 * time.Second) // the first call leaves the window
	if status, _ := call(t, s, "GET", "/items", auth, org(), "", ""); status != 200 {
		t.Fatalf("after the window slid: HTTP %d", status)
	}
	if s.RateLimited() != 1 {
		t.Fatalf("RateLimited() = %d, want 1", s.RateLimited())
	}
}

func TestQueriesFilter(t *testing.T) {
	s := New(t, Options{})
	s.AddCustomer(Customer{ContactName: "Ada", ContactPersons: []ContactPerson{{Email: "Ada@Example.com", IsPrimaryContact: true}}})
	s.AddCustomer(Customer{ContactName: "Bob", ContactPersons: []ContactPerson{{Email: "bob@example.com", IsPrimaryContact: true}}})
	s.AddItem(Item{Name: "Book", SKU: "B1", Rate: 1})
	auth := "Zoho-oauthtoken " + accessToken(t, s)

	q := org()
	q.Set("email", "ada@example.com")
	q.Set("contact_type", "customer")
	_, body := call(t, s, "GET", "/contacts", auth, q, "", "")
	list := body["contacts"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["contact_name"] != "Ada" {
		t.Fatalf("contacts by email: %v", list)
	}
	q = org()
	q.Set("sku", "B2")
	if _, body := call(t, s, "GET", "/items", auth, q, "", ""); len(body["items"].([]any)) != 0 {
		t.Fatalf("items by unknown sku: %v", body)
	}
}
