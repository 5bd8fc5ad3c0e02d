package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// fakeServices stands in for the server: it takes one API token, never throttles, and fails
// every action that reaches outside the console.
type fakeServices struct {
	token string
	// checked and imported count the importer's calls; every file checks as valid sales.
	checked, imported int
}

func (f *fakeServices) JobTypes() []string { return nil }
func (f *fakeServices) WakeWorker()        {}
func (f *fakeServices) RunDueJobs(context.Context, time.Duration) (int, int, error) {
	return 0, 0, nil
}
func (f *fakeServices) ReplayStripe(context.Context, []byte) (store.StripeOutcome, error) {
	return store.StripeOutcome{}, store.Errorf(store.EUNAVAILABLE, "no ingest in console tests")
}
func (f *fakeServices) ReplayZoho(context.Context, store.AdminDelivery) (ZohoReplay, error) {
	return ZohoReplay{}, store.Errorf(store.EUNAVAILABLE, "no ingest in console tests")
}
func (f *fakeServices) ImportKinds() []ImportKind {
	return []ImportKind{{Name: "sales", Required: []string{"company_id", "product_code"}}}
}
func (f *fakeServices) CheckCSV(_ context.Context, kind string, data []byte) (*ImportCheck, error) {
	f.checked++
	rows := bytes.Count(data, []byte("\n")) - 1
	return &ImportCheck{Kind: kind, Rows: rows, Valid: rows}, nil
}
func (f *fakeServices) ImportCSV(_ context.Context, _ string, data []byte) (ImportResult, error) {
	f.imported++
	rows := bytes.Count(data, []byte("\n")) - 1
	return ImportResult{Rows: rows, Changed: rows, Committed: rows}, nil
}
func (f *fakeServices) UnsavedRefusals() map[string]store.Refusals { return nil }
func (f *fakeServices) SendOffers(context.Context, OfferSendRequest) (OfferSendReport, error) {
	return OfferSendReport{}, store.Errorf(store.EUNAVAILABLE, "no offers in console tests")
}
func (f *fakeServices) CreatePaymentLink(context.Context, PaymentLinkRequest) (PaymentLink, error) {
	return PaymentLink{}, store.Errorf(store.EUNAVAILABLE, "no checkout in console tests")
}
func (f *fakeServices) ZohoAuthAlert(context.Context) (*ZohoAlert, error)  { return nil, nil }
func (f *fakeServices) ClearZohoAuthAlert(context.Context) (int64, error)  { return 0, nil }
func (f *fakeServices) ZohoPausedUntil(context.Context) (time.Time, error) { return time.Time{}, nil }
func (f *fakeServices) Replicator() *store.Replicator                      { return nil }
func (f *fakeServices) BackupVerification(context.Context) (*store.VerifyReport, error) {
	return nil, nil
}
func (f *fakeServices) CheckAPIToken(w http.ResponseWriter, _ *http.Request, token string) bool {
	if f.token == "" || !web.SecretEqual(token, f.token) {
		web.ErrorMessage(w, http.StatusUnauthorized, "invalid API token")
		return false
	}
	return true
}
func (f *fakeServices) ReserveSignIn(string, string, string) (func(), time.Duration) {
	return func() {}, 0
}
func (f *fakeServices) ForgetSignInDevice(string, string) {}
func (f *fakeServices) VerifyPassword(_ context.Context, compare func() bool) (bool, error) {
	return compare(), nil
}

// testClock is a settable clock for the store.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testEnv is a console on a real database file, behind a router on a loopback httptest server.
type testEnv struct {
	t     testing.TB
	db    *store.DB
	c     *Console
	url   string
	clock *testClock
}

const testPassword = "correct horse battery"

// newTestEnv opens a fresh database under t.TempDir() and serves the console's routes, plus
// extra routes declared by the test.
func newTestEnv(t testing.TB, svc Services, extra ...adminRoute) *testEnv {
	t.Helper()
	clock := &testClock{t: time.Now().UTC()}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "console.db"), store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := New(Config{}, db, svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	router := httprouter.New()
	for _, rt := range c.Routes() {
		router.Handler(rt.Method, rt.Path, rt.Handler)
	}
	for _, rt := range extra {
		router.Handler(rt.method, rt.path, c.guard(rt))
	}
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, db: db, c: c, url: srv.URL, clock: clock}
}

func (e *testEnv) addUser(email, role string) {
	e.t.Helper()
	if _, _, err := CreateUser(context.Background(), e.db, email, role, testPassword, store.AuditEntry{Actor: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

// exec runs a statement in a write transaction.
func (e *testEnv) exec(query string, args ...any) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// login signs in through the form and returns a client carrying the session.
func (e *testEnv) login(email string) *http.Client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := e.post(c, "/admin/login", url.Values{"email": {email}, "password": {testPassword}}, "application/x-www-form-urlencoded")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d", email, resp.StatusCode)
	}
	return c
}

// post sends a same-origin POST.
func (e *testEnv) post(c *http.Client, path string, form url.Values, ctype string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", e.url)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}
