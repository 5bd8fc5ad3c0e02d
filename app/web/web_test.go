package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// Every store error code maps to its status, wrapped or not; anything else is a 500.
func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{store.Errorf(store.EINVALID, "x"), http.StatusBadRequest},
		{store.Errorf(store.ENOTFOUND, "x"), http.StatusNotFound},
		{store.Errorf(store.ECONFLICT, "x"), http.StatusConflict},
		{store.Errorf(store.EUNAUTHORIZED, "x"), http.StatusUnauthorized},
		{fmt.Errorf("wrapped: %w", store.Errorf(store.EUNAVAILABLE, "x")), http.StatusServiceUnavailable},
		{&http.MaxBytesError{Limit: 1}, http.StatusRequestEntityTooLarge},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// DecodeJSON refuses other content types, trailing data and empty bodies with a 400.
func TestDecodeJSONRefusesWhatIsNotOneObject(t *testing.T) {
	for body, ctype := range map[string]string{`{"a":1} {}`: "application/json", `{"a":1}`: "text/plain", ``: ""} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		var v map[string]int
		if err := DecodeJSON(httptest.NewRecorder(), r, MaxJSONBody, &v); StatusOf(err) != http.StatusBadRequest {
			t.Errorf("%q as %q: %v", body, ctype, err)
		}
	}
}

func TestSecretEqualAndBearerToken(t *testing.T) {
	if !SecretEqual("s3cret", "s3cret") || SecretEqual("s3cret", "s3cret-longer") || SecretEqual("", "x") {
		t.Fatal("SecretEqual")
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "bearer  tok-1 ")
	if got := BearerToken(r); got != "tok-1" {
		t.Fatalf("BearerToken = %q", got)
	}
	r.Header.Set("Authorization", "Basic dG9rOg==")
	if got := BearerToken(r); got != "" {
		t.Fatalf("Basic auth read as a bearer token: %q", got)
	}
}
