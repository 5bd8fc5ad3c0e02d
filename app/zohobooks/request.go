package zohobooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// maxResponseBytes bounds how much of a response body is read.
const maxResponseBytes = 8 << 20

// envelope is the part every Books response shares.
type envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// call sends one API request and decodes a successful response into out.
// path is relative to the Books base URL ("/invoices"); body, if not nil,
// is sent as JSON. On a 401 it retries once with a freshly minted token.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}

	// Take an in-flight slot before a rate token, so that requests queued
	// behind slow ones do not bank tokens and then burst.
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.slots }()

	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return err
		}
		if err := c.limiter.Wait(ctx); err != nil {
			return err
		}
		err = c.send(ctx, tok, method, path, query, payload, out)
		var ae *APIError
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusUnauthorized {
			return err
		}
		if attempt > 1 {
			return &AuthError{Reason: "the API refused a freshly minted access token", Err: ae}
		}
		c.tokens.Invalidate(tok.AccessToken)
	}
}

// send performs one HTTP round trip.
func (c *Client) send(ctx context.Context, tok *oauth2.Token, method, path string, query url.Values, payload []byte, out any) error {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("organization_id", c.orgID)
	u := c.baseURL() + path + "?" + q.Encode()

	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	tok.SetAuthHeader(req) // "Zoho-oauthtoken <token>": see cleanToken
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		// Keep emails and references from the query out of error logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = c.baseURL() + path
		}
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}

	var env envelope
	if jerr := json.Unmarshal(raw, &env); jerr != nil {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode >= 400 {
			return &APIError{HTTPStatus: resp.StatusCode, Code: -1,
				Message: "non-JSON error response (" + ct + ")", RetryAfter: c.retryAfter(resp)}
		}
		return fmt.Errorf("decode response (HTTP %d, %s): %w", resp.StatusCode, ct, jerr)
	}
	if resp.StatusCode >= 400 || env.Code != 0 {
		return &APIError{HTTPStatus: resp.StatusCode, Code: env.Code, Message: env.Message, RetryAfter: c.retryAfter(resp)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func (c *Client) retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(c.now()); d > 0 {
			return d
		}
	}
	return 0
}
