// Package zohofake is an in-memory Zoho Books test double: one httptest
// server that plays both the accounts token endpoint and the Books v3 API,
// and enforces their contract the way real Zoho does — the
// Zoho-oauthtoken header, organization_id on every call, the required
// fields of each request, the per-minute rate limit, the concurrency
// limit, and no more than 10 token mints per refresh token per 10 minutes.
//
// Tests inspect the books (Customers, Invoices, …), the request log and the
// counters, and inject faults (500, 429, timeouts, a create whose response
// is lost) with InjectFault.
package zohofake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Credentials the fake accepts unless Options say otherwise.
const (
	DefaultClientID       = "1000.FAKECLIENTID"
	DefaultClientSecret   = "fake-client-secret"
	DefaultRefreshToken   = "1000.fake-refresh-token"
	DefaultOrganizationID = "10234695"
)

// Zoho codes the fake answers with. 0 is success.
const (
	CodeInternalError     = 1    // HTTP 500
	CodeInvalidValue      = 4    // HTTP 400: missing or malformed field
	CodeInvalidURL        = 5    // HTTP 404: no such endpoint
	CodeMethodNotAllowed  = 37   // HTTP 405
	CodeRateLimited       = 44   // HTTP 429: per-minute limit
	CodeDailyLimit        = 45   // HTTP 429: daily cap
	CodeNotAuthorized     = 57   // HTTP 401: missing, non-Zoho or unknown/expired token
	CodeItemExists        = 1001 // HTTP 400: duplicate item name
	CodeNotFound          = 1002 // HTTP 404 (path) or 400 (body): unknown id
	CodeTooManyInFlight   = 1070 // HTTP 429: concurrency limit
	CodeContactExists     = 3062 // HTTP 400: duplicate contact name
	CodeWrongOrganization = 6041 // HTTP 400: missing or foreign organization_id
)

const booksPrefix = "/books/v3"

// Options configure a Server. The zero value is a realistic default.
type Options struct {
	ClientID, ClientSecret, RefreshToken, OrganizationID string

	// Now is the clock for the rate window, mint window and token expiry.
	Now func() time.Time

	// RateLimit is the number of Books calls allowed per RateWindow
	// (default 100 per minute); negative disables the limit.
	RateLimit  int
	RateWindow time.Duration
	// MaxConcurrent is the number of Books calls allowed in flight
	// (default 5); negative disables the limit.
	MaxConcurrent int
	// TokenTTL is the life of minted access tokens (default 1 h).
	TokenTTL time.Duration
	// APIDomain is the api_domain of token responses (default the server's
	// own URL, so a client following it lands here).
	APIDomain string
	// AllowAppliedRefunds lets a refund exceed the unapplied amount of a
	// payment. Zoho refunds only the excess of a customer payment.
	AllowAppliedRefunds bool
	// Currencies are the organisation's enabled currencies (GET
	// /settings/currencies); empty means DefaultCurrencies (base GBP, EUR,
	// USD). Empty ids are assigned; the first is the base currency unless
	// one says it is.
	Currencies []Currency
}

// Request is one Books API call as the fake saw it.
type Request struct {
	Method string
	Path   string // full path, e.g. /books/v3/invoices
	Query  url.Values
	Time   time.Time
	Status int // 0 when no response was sent (dropped, or the client left)
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	srv     *httptest.Server
	closing chan struct{}

	inflight atomic.Int64

	mu          sync.Mutex
	tokens      map[string]time.Time // access token → expiry
	mintTimes   []time.Time          // recent mints of the refresh token
	minted      int
	violations  int
	window      []time.Time // accepted Books calls in the current rate window
	sent429     int
	faults      []*faultState
	faultsFired int
	requests    []Request
	seq         int64
	books
}

// New starts a fake and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.RefreshToken == "" {
		opts.RefreshToken = DefaultRefreshToken
	}
	if opts.OrganizationID == "" {
		opts.OrganizationID = DefaultOrganizationID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 100
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = time.Minute
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 5
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	s := &Server{
		opts:    opts,
		closing: make(chan struct{}),
		tokens:  map[string]time.Time{},
		seq:     460000000010000,
	}
	s.seedCurrencies(opts.Currencies)
	s.opts.Currencies = nil // Currencies() tells the live list
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/v2/token", s.serveToken)
	mux.HandleFunc(booksPrefix+"/", s.serveBooks)
	s.srv = httptest.NewServer(mux)
	if s.opts.APIDomain == "" {
		s.opts.APIDomain = s.srv.URL
	}
	t.Cleanup(s.Close)
	return s
}

// Close releases held requests and stops the server. Tests need not call
// it: New registers it as a cleanup.
func (s *Server) Close() {
	select {
	case <-s.closing:
		return
	default:
		close(s.closing)
	}
	s.srv.Close()
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// AccountsURL is the accounts server base; the token endpoint is
// AccountsURL()+"/oauth/v2/token".
func (s *Server) AccountsURL() string { return s.srv.URL }

// APIURL is the Books API base, URL()+"/books/v3".
func (s *Server) APIURL() string { return s.srv.URL + booksPrefix }

// Options returns the effective options, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// HTTPClient returns a client for the server (no timeout).
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// TokensMinted counts the access tokens minted.
func (s *Server) TokensMinted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted
}

// TokenViolations counts mints refused for exceeding 10 per refresh token
// per 10 minutes.
func (s *Server) TokenViolations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.violations
}

// RateLimited counts the 429 responses sent, injected ones included.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent429
}

// RevokeTokens invalidates every access token minted so far, as if they
// had expired or been revoked.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Requests returns the Books API calls received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		out[i] = r
	}
	return out
}

// result is a Books answer before it is written: status and JSON body.
type result struct {
	status     int
	body       map[string]any
	retryAfter time.Duration
}

func ok(status int, message string, kv ...any) result {
	body := map[string]any{"code": 0, "message": message}
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i].(string)] = kv[i+1]
	}
	return result{status: status, body: body}
}

func fail(status, code int, format string, args ...any) result {
	return result{status: status, body: map[string]any{"code": code, "message": fmt.Sprintf(format, args...)}}
}

func invalid(field string) result {
	return fail(http.StatusBadRequest, CodeInvalidValue, "Invalid value passed for %s", field)
}

// serveBooks runs every Books call through the checks real Zoho applies,
// then the injected faults, the rate limit and the endpoint.
func (s *Server) serveBooks(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	idx := s.record(r)
	status := s.handleBooks(w, r, body)
	s.mu.Lock()
	s.requests[idx].Status = status
	s.mu.Unlock()
}

func (s *Server) handleBooks(w http.ResponseWriter, r *http.Request, body []byte) int {
	rel := strings.TrimPrefix(r.URL.Path, booksPrefix)
	inflight := s.inflight.Add(1)
	defer s.inflight.Add(-1)

	s.mu.Lock()
	if res, bad := s.checkCaller(r, inflight); bad {
		s.mu.Unlock()
		return s.write(w, res)
	}
	f := s.fireFault(r.Method, rel)
	s.mu.Unlock()

	drop := false
	if f != nil {
		switch f.Kind {
		case FaultTimeout:
			if !s.hold(r, f.Delay) {
				return 0
			}
		case FaultCommitThenDrop:
			drop = true
		default:
			return s.write(w, f.result())
		}
	}

	s.mu.Lock()
	res, limited := s.checkRate()
	if !limited {
		res = s.route(r, rel, body)
	}
	s.mu.Unlock()
	if drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return 0
			}
		}
	}
	return s.write(w, res)
}

// checkCaller applies the auth, organisation and concurrency checks.
func (s *Server) checkCaller(r *http.Request, inflight int64) (result, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	exp, known := s.tokens[tok]
	if scheme != "Zoho-oauthtoken" || !known || !s.opts.Now().Before(exp) {
		return fail(http.StatusUnauthorized, CodeNotAuthorized, "You are not authorized to perform this operation"), true
	}
	if org := r.URL.Query().Get("organization_id"); org != s.opts.OrganizationID {
		return fail(http.StatusBadRequest, CodeWrongOrganization,
			"This user is not associated with the CompanyID/CompanyName:%s.", org), true
	}
	if s.opts.MaxConcurrent > 0 && inflight > int64(s.opts.MaxConcurrent) {
		return fail(http.StatusTooManyRequests, CodeTooManyInFlight,
			"You have exceeded the maximum number of concurrent requests allowed. Please try again later."), true
	}
	return result{}, false
}

// checkRate enforces the sliding rate window; accepted calls enter it.
func (s *Server) checkRate() (result, bool) {
	if s.opts.RateLimit < 0 {
		return result{}, false
	}
	now := s.opts.Now()
	cut := 0
	for cut < len(s.window) && !s.window[cut].After(now.Add(-s.opts.RateWindow)) {
		cut++
	}
	s.window = s.window[cut:]
	if len(s.window) >= s.opts.RateLimit {
		res := fail(http.StatusTooManyRequests, CodeRateLimited,
			"You have made too many requests continuously. Please try again after some time.")
		res.retryAfter = s.window[0].Add(s.opts.RateWindow).Sub(now)
		return res, true
	}
	s.window = append(s.window, now)
	return result{}, false
}

// hold keeps a request waiting for d (or until the client leaves or the
// server closes). It reports whether the client is still there.
func (s *Server) hold(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		d = time.Minute
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.closing:
	}
	return false
}

func (s *Server) write(w http.ResponseWriter, res result) int {
	if res.status == http.StatusTooManyRequests {
		s.mu.Lock()
		s.sent429++
		s.mu.Unlock()
	}
	if res.retryAfter > 0 {
		secs := int((res.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(res.body)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(res.status)
	_, _ = w.Write(buf.Bytes())
	return res.status
}

func (s *Server) record(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Time:   s.opts.Now(),
	})
	return len(s.requests) - 1
}

// nextID returns a Zoho-looking numeric id.
func (s *Server) nextID() string {
	s.seq++
	return strconv.FormatInt(s.seq, 10)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
