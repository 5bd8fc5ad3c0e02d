package zohobooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// Zoho Books response codes the client classifies.
const (
	CodeRateLimited     = 44   // 429: per-minute limit
	CodeDailyLimit      = 45   // 429: daily API cap of the plan; pause until the daily reset
	CodeTooManyInFlight = 1070 // 429: too many concurrent requests
)

// APIError is a Books API answer with HTTP status >= 400 or a non-zero code.
// Its message comes from Zoho and is safe to show.
type APIError struct {
	HTTPStatus int
	Code       int
	Message    string
	// RetryAfter is the Retry-After header, when Zoho sent one.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("zoho books: HTTP %d, code %d: %s", e.HTTPStatus, e.Code, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// AuthError is a permanent authentication failure: the accounts server
// refused the client credentials or refresh token, or the API refused a
// freshly minted token. Retrying will not help; stop and alert.
type AuthError struct {
	Reason string
	Err    error // the API's 401, if that is how it failed
}

func (e *AuthError) Error() string {
	if e.Err != nil {
		return "zohobooks: authentication failed: " + e.Reason + ": " + e.Err.Error()
	}
	return "zohobooks: authentication failed: " + e.Reason
}

func (e *AuthError) Unwrap() error { return e.Err }

// TokenError is any other error answer of the accounts token endpoint, for
// example "Access Denied" after too many mints in 10 minutes.
type TokenError struct {
	HTTPStatus  int
	ErrorCode   string
	Description string
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("zohobooks: token endpoint: HTTP %d", e.HTTPStatus)
	if e.ErrorCode != "" {
		s += ": " + e.ErrorCode
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// IsRateLimited reports whether err is Zoho's per-minute (44) or
// concurrency (1070) limit, or a 429 with an unknown code. The daily cap is
// IsDailyLimit instead.
func IsRateLimited(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case CodeRateLimited, CodeTooManyInFlight:
		return true
	case CodeDailyLimit:
		return false
	}
	return ae.HTTPStatus == 429
}

// IsDailyLimit reports whether err is the organisation's daily API cap
// (code 45): pause until the daily reset rather than retrying soon.
func IsDailyLimit(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == CodeDailyLimit
}

// IsAuthFailure reports whether err is a permanent authentication failure
// (see AuthError).
func IsAuthFailure(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae)
}

// IsRetryable reports whether the same call may succeed later: 5xx, 429
// (check IsDailyLimit first to choose the pause), timeouts, network errors
// and a throttled token endpoint. A retried create must search first: the
// failed attempt may have been committed.
func IsRetryable(err error) bool {
	if err == nil || IsAuthFailure(err) || errors.Is(err, context.Canceled) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Code {
		case CodeRateLimited, CodeDailyLimit, CodeTooManyInFlight:
			return true
		}
		return ae.HTTPStatus == 429 || ae.HTTPStatus >= 500
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te.HTTPStatus == 429 || te.HTTPStatus >= 500 || te.ErrorCode == "Access Denied"
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true // timeouts, and connections dropped before the response
	}
	// *url.Error is itself a net.Error: look inside it, so that, say, a
	// bad certificate or URL is not retried forever.
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return true
		}
		err = ue.Err
	}
	var ne net.Error
	return errors.As(err, &ne)
}
