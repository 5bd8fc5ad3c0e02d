package zohobooks

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
)

func TestRateLimitClassification(t *testing.T) {
	for _, tc := range []struct {
		code               int
		retryAfter         time.Duration
		rateLimited, daily bool
	}{
		{zohofake.CodeRateLimited, 30 * time.Second, true, false},
		{zohofake.CodeDailyLimit, 2 * time.Hour, false, true},
		{zohofake.CodeTooManyInFlight, 0, true, false},
		{9999, 5 * time.Second, true, false}, // 429 with an unknown code
	} {
		f := zohofake.New(t, zohofake.Options{})
		f.InjectFault(zohofake.Fault{Kind: zohofake.FaultRateLimit, Code: tc.code, RetryAfter: tc.retryAfter})
		_, err := newClient(t, fakeConfig(f)).FindInvoiceByReference(context.Background(), "ORD-1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != 429 || ae.Code != tc.code || ae.RetryAfter != tc.retryAfter {
			t.Fatalf("code %d: got %#v", tc.code, err)
		}
		if IsRateLimited(err) != tc.rateLimited || IsDailyLimit(err) != tc.daily || !IsRetryable(err) || IsAuthFailure(err) {
			t.Errorf("code %d: rate limited %v, daily %v, retryable %v", tc.code, IsRateLimited(err), IsDailyLimit(err), IsRetryable(err))
		}
		if len(f.Requests()) != 1 {
			t.Errorf("code %d: %d requests, want 1 (no retry on 429)", tc.code, len(f.Requests()))
		}
	}
}

func TestServerErrorIsRetryable(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	f.InjectFault(zohofake.Fault{Kind: zohofake.FaultInternalError, Method: "POST", Path: "/contacts"})
	c := newClient(t, fakeConfig(f))
	_, err := c.CreateCustomer(context.Background(), CreateCustomerInput{ContactName: "Ada"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 500 || ae.Code != 1 || !IsRetryable(err) || IsRateLimited(err) {
		t.Fatalf("got %v, want a retryable 500", err)
	}
	if len(f.Requests()) != 1 || len(f.Customers()) != 0 {
		t.Fatalf("%d requests, %d customers; want 1, 0", len(f.Requests()), len(f.Customers()))
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	f.InjectFault(zohofake.Fault{Kind: zohofake.FaultTimeout, Path: "/items", Repeat: true})
	cfg := fakeConfig(f)
	cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond}
	c := newClient(t, cfg)
	if _, err := c.FindItemBySKU(context.Background(), "B1"); !IsRetryable(err) {
		t.Fatalf("client timeout: got %v, want retryable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.FindItemBySKU(ctx, "B1"); !IsRetryable(err) {
		t.Fatalf("context deadline: got %v, want retryable", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.FindItemBySKU(ctx, "B1"); err == nil || IsRetryable(err) {
		t.Fatalf("canceled: got %v, want a non-retryable error", err)
	}
}

// A create whose response is lost is retryable, and searching first finds
// it: retrying blindly would duplicate the invoice.
func TestLostCreateResponseIsFoundBySearch(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	cust := f.AddCustomer(zohofake.Customer{ContactName: "Ada"})
	item := f.AddItem(zohofake.Item{Name: "Book", SKU: "B1", Rate: 5})
	f.InjectFault(zohofake.Fault{Kind: zohofake.FaultCommitThenDrop, Method: "POST", Path: "/invoices"})
	c := newClient(t, fakeConfig(f))
	ctx := context.Background()

	in := CreateInvoiceInput{CustomerID: cust.ContactID, ReferenceNumber: "ORD-7", Date: "2026-03-01",
		LineItems: []LineItem{{ItemID: item.ItemID, Rate: 5, Quantity: 1}}}
	if _, err := c.CreateInvoice(ctx, in); !IsRetryable(err) {
		t.Fatalf("dropped create: got %v, want retryable", err)
	}
	found, err := c.FindInvoiceByReference(ctx, "ORD-7")
	if err != nil || found == nil {
		t.Fatalf("search after lost response: %+v, %v", found, err)
	}
	if n := len(f.Invoices()); n != 1 {
		t.Fatalf("%d invoices, want 1", n)
	}
}

func TestAPIErrorMessage(t *testing.T) {
	err := &APIError{HTTPStatus: 429, Code: 44, Message: "slow down", RetryAfter: 30 * time.Second}
	if got, want := err.Error(), "zoho books: HTTP 429, code 44: slow down (retry after 30s)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestNetworkErrorsAreRetryable(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	dead := zohofake.New(t, zohofake.Options{})
	dead.Close()
	ctx := context.Background()

	cfg := fakeConfig(f)
	cfg.APIURL = dead.APIURL()
	_, err := newClient(t, cfg).FindCustomerByEmail(ctx, "ada@example.com")
	if !IsRetryable(err) || IsAuthFailure(err) {
		t.Fatalf("API down: got %v, want retryable", err)
	}
	if strings.Contains(err.Error(), "ada@example.com") {
		t.Fatalf("error %q carries the query", err)
	}

	cfg = fakeConfig(f)
	cfg.AccountsURL = dead.AccountsURL()
	if _, err := newClient(t, cfg).FindItemBySKU(ctx, "B1"); !IsRetryable(err) || IsAuthFailure(err) {
		t.Fatalf("accounts server down: got %v, want retryable", err)
	}
}
