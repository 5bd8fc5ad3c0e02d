package zohobooks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
)

// memCache is a TokenCache in memory, standing in for the app's SQLite one.
type memCache struct {
	mu    sync.Mutex
	tok   *oauth2.Token
	saves int
}

func (m *memCache) LoadToken(context.Context) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tok == nil {
		return nil, nil
	}
	tok := *m.tok
	return &tok, nil
}

func (m *memCache) SaveToken(_ context.Context, tok *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	saved := *tok
	m.tok, m.saves = &saved, m.saves+1
	return nil
}

func TestCachedTokenIsSharedAcrossClients(t *testing.T) {
	clk := newClock()
	f := zohofake.New(t, zohofake.Options{Now: clk.Now})
	cache := &memCache{}
	cfg := fakeConfig(f)
	cfg.TokenCache = cache
	ctx := context.Background()

	for i := range 2 { // a restart: a second Client on the same cache
		if _, err := newClient(t, cfg).FindItemBySKU(ctx, "B1"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if f.TokensMinted() != 1 || cache.saves != 1 {
		t.Fatalf("minted %d, saved %d; want 1, 1", f.TokensMinted(), cache.saves)
	}
	tok := cache.tok
	if tok.RefreshToken != "" || tok.TokenType != "Zoho-oauthtoken" || !tok.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("cached token: type %q, refresh token set %v, expiry %v", tok.TokenType, tok.RefreshToken != "", tok.Expiry)
	}
}

func TestConcurrentCallersMintOnce(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	c := newClient(t, fakeConfig(f))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.FindItemBySKU(context.Background(), "B1")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if f.TokensMinted() != 1 {
		t.Fatalf("minted %d tokens, want 1", f.TokensMinted())
	}
}

func TestTokenRenewedAMinuteBeforeExpiry(t *testing.T) {
	clk := newClock()
	f := zohofake.New(t, zohofake.Options{Now: clk.Now})
	cfg := fakeConfig(f)
	c := newClient(t, cfg)
	ctx := context.Background()
	for _, step := range []struct {
		advance    time.Duration
		wantMinted int
	}{
		{0, 1},
		{58 * time.Minute, 1},  // still valid
		{90 * time.Second, 2},  // 59m30s: inside the last minute
		{57 * time.Minute, 2},  // the new one is still good
		{150 * time.Second, 3}, // and is renewed in turn
	} {
		clk.Advance(step.advance)
		if _, err := c.FindItemBySKU(ctx, "B1"); err != nil {
			t.Fatal(err)
		}
		if got := f.TokensMinted(); got != step.wantMinted {
			t.Fatalf("after %v: minted %d, want %d", step.advance, got, step.wantMinted)
		}
	}
}

func TestUnauthorizedRefreshesOnceAndRetries(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	c := newClient(t, fakeConfig(f))
	ctx := context.Background()
	if _, err := c.FindItemBySKU(ctx, "B1"); err != nil {
		t.Fatal(err)
	}
	f.RevokeTokens()
	if _, err := c.FindItemBySKU(ctx, "B1"); err != nil {
		t.Fatalf("call after revocation: %v", err)
	}
	var statuses []int
	for _, r := range f.Requests() {
		statuses = append(statuses, r.Status)
	}
	if f.TokensMinted() != 2 || len(statuses) != 3 || statuses[1] != 401 || statuses[2] != 200 {
		t.Fatalf("minted %d, statuses %v; want 2 and [200 401 200]", f.TokensMinted(), statuses)
	}
}

func TestRejectedCachedTokenIsNotReused(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	cache := &memCache{tok: &oauth2.Token{AccessToken: "1000.stale", TokenType: "Zoho-oauthtoken", Expiry: time.Now().Add(time.Hour)}}
	cfg := fakeConfig(f)
	cfg.TokenCache = cache
	if _, err := newClient(t, cfg).FindItemBySKU(context.Background(), "B1"); err != nil {
		t.Fatal(err)
	}
	if f.TokensMinted() != 1 || cache.tok.AccessToken == "1000.stale" {
		t.Fatalf("minted %d, cached %q", f.TokensMinted(), cache.tok.AccessToken)
	}
}

func TestUnauthorizedAfterRefreshIsAuthFailure(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	f.InjectFault(zohofake.Fault{Kind: zohofake.FaultUnauthorized, Repeat: true})
	c := newClient(t, fakeConfig(f))
	_, err := c.FindItemBySKU(context.Background(), "B1")
	if !IsAuthFailure(err) || IsRetryable(err) {
		t.Fatalf("got %v, want a permanent auth failure", err)
	}
	if f.TokensMinted() != 2 || len(f.Requests()) != 2 {
		t.Fatalf("minted %d, requests %d; want 2, 2", f.TokensMinted(), len(f.Requests()))
	}
}

func TestInvalidCredentialsAreAuthFailures(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"refresh token (invalid_code)", func(c *Config) { c.RefreshToken = "1000.revoked-refresh-secret" }},
		{"client secret (invalid_client)", func(c *Config) { c.ClientSecret = "wrong-client-secret" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fakeConfig(f)
			tc.mutate(&cfg)
			_, err := newClient(t, cfg).FindItemBySKU(context.Background(), "B1")
			if !IsAuthFailure(err) || IsRetryable(err) {
				t.Fatalf("got %v, want a permanent auth failure", err)
			}
			for _, secret := range []string{cfg.RefreshToken, cfg.ClientSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q leaks a secret", err)
				}
			}
		})
	}
	if len(f.Requests()) != 0 {
		t.Fatalf("%d API calls without a token", len(f.Requests()))
	}
}

func TestTokenEndpointThrottleIsRetryable(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	var err error
	for range 11 { // no cache: every client mints
		_, err = newClient(t, fakeConfig(f)).FindItemBySKU(context.Background(), "B1")
	}
	var te *TokenError
	if !errors.As(err, &te) || te.ErrorCode != "Access Denied" || !IsRetryable(err) || IsAuthFailure(err) {
		t.Fatalf("11th mint: %v", err)
	}
	if f.TokenViolations() != 1 {
		t.Fatalf("violations %d, want 1", f.TokenViolations())
	}
}
