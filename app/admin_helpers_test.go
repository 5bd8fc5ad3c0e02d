package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// testClock is a settable clock for the store (sessions, throttling, relative times).
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

// adminEnv is a running server for admin tests: the real router and worker on a loopback port.
type adminEnv struct {
	t     testing.TB
	cfg   *Config
	db    *store.DB
	srv   *Server
	url   string
	clock *testClock // nil when the store runs on the real clock
}

type adminEnvOptions struct {
	clock     *testClock
	configure func(*Config)
	before    func(*Server) // e.g. register job handlers before the worker starts
}

// newAdminEnv opens a fresh database and starts a server on 127.0.0.1 for the test.
func newAdminEnv(t testing.TB, o adminEnvOptions) *adminEnv {
	t.Helper()
	cfg := testConfig(t)
	if o.configure != nil {
		o.configure(cfg)
	}
	return startAdminEnv(t, cfg, cfg.DatabasePath, o)
}

func startAdminEnv(t testing.TB, cfg *Config, dbPath string, o adminEnvOptions) *adminEnv {
	t.Helper()
	opts := store.Options{}
	if o.clock != nil {
		opts.Now = o.clock.Now
	}
	db, err := store.Open(context.Background(), dbPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Listen first: the server reads BASE_URL when it is built (the console's cookies, links
	// and CSRF origin).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg.BaseURL = base
	srv, err := NewServer(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		ln.Close()
		db.Close()
		t.Fatal(err)
	}
	if o.before != nil {
		o.before(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := srv.Start(ctx, ln)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		db.Close()
	})
	if got := "http://" + addr.String(); got != base {
		t.Fatalf("listening on %s, not %s", got, base)
	}
	return &adminEnv{t: t, cfg: cfg, db: db, srv: srv, url: base, clock: o.clock}
}

// loadDemo loads the demo data set with the env's worker stopped: the demo makes its job
// histories by claiming jobs itself, which needs an outbox no other worker is taking from.
// Then the jobs the demo leaves due run once, as serve's worker runs them at start (the Zoho
// syncs fail: Zoho is not configured), before the worker starts again, so no test races them.
func (e *adminEnv) loadDemo() DemoResult {
	e.t.Helper()
	ctx := context.Background()
	if err := e.srv.Worker().Stop(ctx); err != nil {
		e.t.Fatal(err)
	}
	res, err := LoadDemo(ctx, e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.srv.Worker().RunDue(ctx, 30*time.Second); err != nil {
		e.t.Fatal(err)
	}
	e.srv.Worker().Start(ctx)
	return res
}

// addUser creates an account directly.
func (e *adminEnv) addUser(email, role, password string) store.User {
	e.t.Helper()
	u, _, err := CreateUser(context.Background(), e.db, email, role, password, store.AuditEntry{Actor: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// client returns an HTTP client with its own cookie jar that does not follow redirects.
func (e *adminEnv) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login signs in through the form and returns the signed-in client.
func (e *adminEnv) login(email, password string) *http.Client {
	e.t.Helper()
	c := e.client()
	resp := e.postForm(c, "/admin/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d: %s", email, resp.StatusCode, readBody(resp))
	}
	resp.Body.Close()
	return c
}

// postForm posts a form as a same-origin browser would (Sec-Fetch-Site: same-origin).
func (e *adminEnv) postForm(c *http.Client, path string, form url.Values) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", e.url)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// get fetches a path and returns the status and body.
func (e *adminEnv) get(c *http.Client, path string) (int, string) {
	e.t.Helper()
	resp, err := c.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, readBody(resp)
}

func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// exec runs SQL in a write transaction (test seeding).
func (e *adminEnv) exec(query string, args ...any) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// auditActions lists the audit log's actions, newest first.
func (e *adminEnv) auditActions() []string {
	e.t.Helper()
	entries, err := e.db.ListAudit(context.Background(), store.AuditFilter{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range entries {
		out = append(out, a.Action)
	}
	return out
}
