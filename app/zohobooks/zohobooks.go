// Package zohobooks is a small client for the Zoho Books v3 API: the few
// contacts, items, invoices and customer-payments calls the sync job needs.
//
// The client authenticates with a refresh token, caches access tokens
// through a TokenCache (Zoho mints at most 10 per refresh token per 10
// minutes), paces every call through one shared rate limiter and caps the
// requests in flight. It never retries on its own except once after a 401,
// with a fresh token: 429s, 5xx and timeouts come back as errors the caller
// classifies with IsRateLimited, IsDailyLimit, IsRetryable and IsAuthFailure.
//
// Zoho has no idempotency keys. A create that failed with a retryable error
// may have been committed, so callers search (Find…) before creating again.
package zohobooks

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Defaults used when the Config leaves a field zero.
const (
	DefaultDC            = "com"
	DefaultRatePerMinute = 100
	DefaultMaxConcurrent = 3
	DefaultTimeout       = 30 * time.Second
)

// dataCentres lists the Zoho data centres by domain suffix.
var dataCentres = []string{"com", "eu", "in", "com.au", "jp", "ca", "sa"}

// Config configures a Client. ClientID, ClientSecret, RefreshToken and
// OrganizationID are required; everything else has a default.
type Config struct {
	ClientID       string // ZOHO_CLIENT_ID
	ClientSecret   string // ZOHO_CLIENT_SECRET
	RefreshToken   string // ZOHO_REFRESH_TOKEN
	OrganizationID string // ZOHO_ORGANIZATION_ID

	// DC is the data centre domain suffix: com (default), eu, in, com.au,
	// jp, ca or sa.
	DC string

	// AccountsURL overrides https://accounts.zoho.<dc> (tests).
	AccountsURL string
	// APIURL overrides the Books base URL, https://www.zohoapis.<dc>/books/v3.
	// When empty, the api_domain of a minted token takes precedence over
	// the DC default.
	APIURL string

	// HTTPClient is used for both the token endpoint and the API. Its
	// Timeout bounds each request; the default client times out after 30 s.
	HTTPClient *http.Client

	// RatePerMinute is the organisation's API limit (default 100). The
	// client paces a little below it so that no 60 s window can exceed it.
	RatePerMinute int
	// MaxConcurrent caps the requests in flight (default 3).
	MaxConcurrent int

	// TokenCache persists access tokens across restarts; nil keeps them in
	// memory only.
	TokenCache TokenCache
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
	// Logger receives warnings about the token cache (default: discard).
	Logger *slog.Logger
}

// Client calls the Zoho Books v3 API for one organisation. It is safe for
// concurrent use; all its calls share one rate limiter and one token.
type Client struct {
	orgID   string
	http    *http.Client
	tokens  *tokenSource
	limiter *limiter
	slots   chan struct{}
	now     func() time.Time

	mu       sync.Mutex
	apiBase  string // may switch to the token's api_domain, see useAPIDomain
	apiFixed bool   // Config.APIURL was set: never switch

	currencies currencyCache // see Currency
}

// New validates cfg and returns a Client. It makes no network calls.
func New(cfg Config) (*Client, error) {
	var missing []string
	for _, f := range []struct{ val, env string }{
		{cfg.ClientID, "ZOHO_CLIENT_ID"},
		{cfg.ClientSecret, "ZOHO_CLIENT_SECRET"},
		{cfg.RefreshToken, "ZOHO_REFRESH_TOKEN"},
		{cfg.OrganizationID, "ZOHO_ORGANIZATION_ID"},
	} {
		if strings.TrimSpace(f.val) == "" {
			missing = append(missing, f.env)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("zohobooks: missing configuration: %s", strings.Join(missing, ", "))
	}
	dc := cfg.DC
	if dc == "" {
		dc = DefaultDC
	}
	if !validDC(dc) {
		return nil, fmt.Errorf("zohobooks: unknown Zoho data centre %q (want one of %s)", dc, strings.Join(dataCentres, ", "))
	}
	accounts := "https://accounts.zoho." + dc
	if cfg.AccountsURL != "" {
		if err := checkBaseURL(cfg.AccountsURL); err != nil {
			return nil, fmt.Errorf("zohobooks: accounts URL: %w", err)
		}
		accounts = cfg.AccountsURL
	}
	api := "https://www.zohoapis." + dc + "/books/v3"
	if cfg.APIURL != "" {
		if err := checkBaseURL(cfg.APIURL); err != nil {
			return nil, fmt.Errorf("zohobooks: API URL: %w", err)
		}
		api = cfg.APIURL
	}
	if cfg.RatePerMinute < 0 || cfg.MaxConcurrent < 0 {
		return nil, fmt.Errorf("zohobooks: RatePerMinute and MaxConcurrent must not be negative")
	}

	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	rate := cfg.RatePerMinute
	if rate == 0 {
		rate = DefaultRatePerMinute
	}
	conc := cfg.MaxConcurrent
	if conc == 0 {
		conc = DefaultMaxConcurrent
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	c := &Client{
		orgID:    cfg.OrganizationID,
		http:     hc,
		limiter:  newLimiter(rate, time.Minute),
		slots:    make(chan struct{}, conc),
		now:      now,
		apiBase:  strings.TrimRight(api, "/"),
		apiFixed: cfg.APIURL != "",
	}
	c.currencies.lock = make(chan struct{}, 1)
	c.tokens = &tokenSource{
		conf: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint: oauth2.Endpoint{
				TokenURL:  strings.TrimRight(accounts, "/") + "/oauth/v2/token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
		},
		refreshToken: cfg.RefreshToken,
		http:         hc,
		cache:        cfg.TokenCache,
		now:          now,
		log:          log,
		onMint:       c.useAPIDomain,
		minting:      make(chan struct{}, 1),
	}
	return c, nil
}

// useAPIDomain points the client at the API host named by a freshly minted
// token, unless Config.APIURL pinned it.
func (c *Client) useAPIDomain(apiDomain string) {
	if apiDomain == "" || checkBaseURL(apiDomain) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.apiFixed {
		c.apiBase = strings.TrimRight(apiDomain, "/") + "/books/v3"
	}
}

func (c *Client) baseURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apiBase
}

func validDC(dc string) bool {
	for _, d := range dataCentres {
		if d == dc {
			return true
		}
	}
	return false
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
