package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/technifold/technifold/store"
)

// maxJSONBody caps request bodies of the JSON API.
const maxJSONBody = 1 << 20

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErrorMessage answers {"error": msg} with status.
func writeErrorMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// statusOf maps an application error code to its HTTP status: the one place that does so.
func statusOf(err error) int {
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

// writeError answers with the error's status and its caller-safe message; internal errors are
// logged with their detail and answered generically.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status := statusOf(err)
	msg := store.ErrorMessage(err)
	switch {
	case status == http.StatusRequestEntityTooLarge:
		msg = "request body too large"
	case status >= 500:
		logger.ErrorContext(r.Context(), "request failed", "error", err, "request_id", requestID(r.Context()))
		if status == http.StatusInternalServerError {
			msg = "internal error"
		}
	}
	writeErrorMessage(w, status, msg)
}

// invalidf is a shortcut for a 400 with a message naming the bad input.
func invalidf(format string, args ...any) error {
	return store.Errorf(store.EINVALID, format, args...)
}

// decodeJSONBody reads a JSON object body of at most limit bytes into v, rejecting unknown
// content types, trailing data and oversized bodies with coded errors.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return invalidf("Content-Type must be application/json")
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
			return invalidf("request body is empty")
		}
		return invalidf("malformed JSON: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidf("malformed JSON: unexpected data after the object")
	}
	return nil
}

// jsonErrorText describes a decode error without echoing large parts of the input.
func jsonErrorText(err error) string {
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
