package zohobooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenCache persists access tokens so that a restart, or a second Client
// for the same refresh token, reuses a valid token instead of minting one:
// Zoho allows only 10 access tokens per refresh token per 10 minutes.
//
// Saved tokens carry AccessToken, TokenType and Expiry only, never the
// refresh token. LoadToken returns (nil, nil) when nothing is stored.
type TokenCache interface {
	LoadToken(ctx context.Context) (*oauth2.Token, error)
	SaveToken(ctx context.Context, tok *oauth2.Token) error
}

const (
	// tokenType makes oauth2.Token.SetAuthHeader write Zoho's scheme.
	tokenType = "Zoho-oauthtoken"
	// expiryMargin retires a token this long before Zoho would.
	expiryMargin = time.Minute
	// defaultTokenLife applies when the token response has no expires_in.
	defaultTokenLife = time.Hour
)

// tokenSource hands out the current access token and mints a new one, one
// mint at a time, when there is none, it is about to expire or the API
// rejected it.
type tokenSource struct {
	conf         oauth2.Config
	refreshToken string
	http         *http.Client
	cache        TokenCache
	now          func() time.Time
	log          *slog.Logger
	onMint       func(apiDomain string)

	minting chan struct{} // holds one value while a caller loads or mints

	mu       sync.Mutex
	tok      *oauth2.Token
	rejected string // access token the API answered 401 to
}

// Token returns a usable access token, from memory, the cache or a mint.
func (s *tokenSource) Token(ctx context.Context) (*oauth2.Token, error) {
	if tok := s.current(); tok != nil {
		return tok, nil
	}
	select {
	case s.minting <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.minting }()

	// Another caller may have finished a mint while this one waited.
	if tok := s.current(); tok != nil {
		return tok, nil
	}
	if s.cache != nil {
		tok, err := s.cache.LoadToken(ctx)
		switch {
		case err != nil:
			s.log.Warn("zohobooks: load cached access token", "err", err)
		case s.usable(tok):
			tok = cleanToken(tok.AccessToken, tok.Expiry)
			s.set(tok)
			return tok, nil
		}
	}
	tok, apiDomain, err := s.mint(ctx)
	if err != nil {
		return nil, err
	}
	s.set(tok)
	if s.onMint != nil {
		s.onMint(apiDomain)
	}
	if s.cache != nil {
		if err := s.cache.SaveToken(ctx, tok); err != nil {
			s.log.Warn("zohobooks: save access token to cache", "err", err)
		}
	}
	return tok, nil
}

// Invalidate forgets accessToken after the API refused it, so the next
// Token call mints a new one even if the cache still holds it.
func (s *tokenSource) Invalidate(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = accessToken
	if s.tok != nil && s.tok.AccessToken == accessToken {
		s.tok = nil
	}
}

func (s *tokenSource) current() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usableLocked(s.tok) {
		return s.tok
	}
	return nil
}

func (s *tokenSource) set(tok *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = tok
}

func (s *tokenSource) usable(tok *oauth2.Token) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usableLocked(tok)
}

func (s *tokenSource) usableLocked(tok *oauth2.Token) bool {
	return tok != nil && tok.AccessToken != "" && tok.AccessToken != s.rejected &&
		!tok.Expiry.IsZero() && s.now().Before(tok.Expiry.Add(-expiryMargin))
}

// mint runs the refresh-token grant. It returns the token and the
// api_domain the accounts server named, if any.
func (s *tokenSource) mint(ctx context.Context) (*oauth2.Token, string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.http)
	// A token without an access token makes x/oauth2 refresh immediately.
	raw, err := s.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: s.refreshToken}).Token()
	if err != nil {
		return nil, "", tokenEndpointError(err)
	}
	// Compute expiry on our clock: x/oauth2 uses the wall clock.
	life := defaultTokenLife
	if raw.ExpiresIn > 0 {
		life = time.Duration(raw.ExpiresIn) * time.Second
	}
	apiDomain, _ := raw.Extra("api_domain").(string)
	return cleanToken(raw.AccessToken, s.now().Add(life)), apiDomain, nil
}

// cleanToken builds the token we keep and cache: no refresh token (x/oauth2
// copies it into refreshed tokens) and Zoho's header scheme.
func cleanToken(access string, expiry time.Time) *oauth2.Token {
	return &oauth2.Token{AccessToken: access, TokenType: tokenType, Expiry: expiry}
}

// tokenEndpointError turns an x/oauth2 failure into an *AuthError for the
// permanent cases, a *TokenError for other answers of the accounts server,
// and keeps transport errors (retryable) as they are.
func tokenEndpointError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("zohobooks: refresh access token: %w", err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	switch re.ErrorCode {
	case "invalid_code", "invalid_client", "invalid_client_secret":
		return &AuthError{Reason: "the accounts server rejected the credentials (" + re.ErrorCode + ")"}
	}
	return &TokenError{HTTPStatus: status, ErrorCode: re.ErrorCode, Description: re.ErrorDescription}
}
