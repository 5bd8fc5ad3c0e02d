package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/technifold/technifold/store"
)

// zohoTokenState is the integration_state row holding the current Zoho access token.
const zohoTokenState = "zoho_access_token"

// zohoTokenCache keeps the Zoho access token in integration_state, so a restart reuses a valid
// token instead of minting one (Zoho allows 10 mints per refresh token per 10 minutes). The
// token is a secret: it is never logged, and errors never quote it.
type zohoTokenCache struct{ db *store.DB }

type cachedZohoToken struct {
	AccessToken string    `json:"access_token"`
	Expiry      time.Time `json:"expiry"`
	TokenType   string    `json:"token_type"`
}

// LoadToken returns the stored token, or nil, nil when there is none. The client checks expiry.
func (c zohoTokenCache) LoadToken(ctx context.Context) (*oauth2.Token, error) {
	v, _, ok, err := c.db.GetState(ctx, zohoTokenState)
	if err != nil || !ok {
		return nil, err
	}
	var t cachedZohoToken
	if err := json.Unmarshal([]byte(v), &t); err != nil {
		return nil, fmt.Errorf("decode cached zoho token: malformed JSON") // the value is secret: no detail
	}
	if t.AccessToken == "" {
		return nil, nil
	}
	return &oauth2.Token{AccessToken: t.AccessToken, Expiry: t.Expiry, TokenType: t.TokenType}, nil
}

// SaveToken stores tok's access token, type and expiry (never a refresh token).
func (c zohoTokenCache) SaveToken(ctx context.Context, tok *oauth2.Token) error {
	if tok == nil || tok.AccessToken == "" {
		return nil
	}
	b, err := json.Marshal(cachedZohoToken{AccessToken: tok.AccessToken, Expiry: tok.Expiry.UTC(), TokenType: tok.TokenType})
	if err != nil {
		return err
	}
	return c.db.Update(ctx, func(tx *store.Tx) error { return tx.SetState(ctx, zohoTokenState, string(b)) })
}
