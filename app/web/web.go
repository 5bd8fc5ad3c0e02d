// Package web is the HTTP plumbing the app and its admin console share: JSON answers, the one
// mapping from store error codes to HTTP statuses, JSON request bodies, request ids and the
// caller's address. It knows nothing of the database beyond store's error codes.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/technifold/technifold/store"
)

// MaxJSONBody caps request bodies of the JSON API.
const MaxJSONBody = 1 << 20

// JSON answers with v as JSON.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrorMessage answers {"error": msg} with status.
func ErrorMessage(w http.ResponseWriter, status int, msg string) {
	JSON(w, status, map[string]string{"error": msg})
}

// StatusOf maps an application error code to its HTTP status: the one place that does so.
func StatusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	switch store.ErrorCode(err) {
	case store.EINVALID:
		return http.StatusBadRequest
	case store.ENOTFOUND:
		return http.StatusNotFound
	case store.ECONFLICT:
		return http.StatusConflict
	case store.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case store.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error answers with the error's status and its caller-safe message; internal errors are
// logged with their detail and answered generically.
func Error(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := StatusOf(err)
	msg := store.ErrorMessage(err)
	switch {
	case status == http.StatusRequestEntityTooLarge:
		msg = "request body too large"
	case status >= 500:
		logger.ErrorContext(r.Context(), "request failed", "error", err, "request_id", RequestID(r.Context()))
		if status == http.StatusInternalServerError {
			msg = "internal error"
		}
	}
	ErrorMessage(w, status, msg)
}

// Invalidf is a shortcut for a 400 with a message naming the bad input.
func Invalidf(format string, args ...any) error {
	return store.Errorf(store.EINVALID, format, args...)
}

// DecodeJSON reads a JSON object body of at most limit bytes into v, rejecting unknown
// content types, trailing data and oversized bodies with coded errors.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return Invalidf("Content-Type must be application/json")
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return Invalidf("request body is empty")
		}
		return Invalidf("malformed JSON: %s", JSONErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Invalidf("malformed JSON: unexpected data after the object")
	}
	return nil
}

// JSONErrorText describes a decode error without echoing large parts of the input.
func JSONErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, te.Type.String())
		}
		return "expected a JSON object"
	}
	return "could not parse the body"
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request's id (set by the app's middleware).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request's id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ClientIP is the address a request came from. On Fly.io (onFly) the edge proxy sets
// Fly-Client-IP (behind it every connection comes from the proxy, so one shared address would
// let anyone lock out all sign-ins); anywhere else that header is whatever the caller chose to
// send, so only the connection's address counts.
func ClientIP(r *http.Request, onFly bool) string {
	if onFly {
		if ip := net.ParseIP(strings.TrimSpace(r.Header.Get("Fly-Client-IP"))); ip != nil {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// SecretEqual compares two secrets in constant time, whatever their lengths.
func SecretEqual(a, b string) bool {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}

// BearerToken returns the token of an "Authorization: Bearer …" header, or "".
func BearerToken(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// SecureCookies reports whether cookies get the Secure flag: when the public URL is https.
func SecureCookies(baseURL string) bool {
	u, err := url.Parse(baseURL)
	return err == nil && u.Scheme == "https"
}
