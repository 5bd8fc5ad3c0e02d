package app

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClientIPTrustsFlyHeaderOnlyOnFly: off Fly.io a caller could send any Fly-Client-IP and
// pick its own sign-in throttle bucket, so only Fly's own edge is believed.
func TestClientIPTrustsFlyHeaderOnlyOnFly(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/admin/login", nil)
	r.RemoteAddr = "192.0.2.10:5123"
	r.Header.Set("Fly-Client-IP", "203.0.113.7")
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "192.0.2.10"},
		{map[string]string{"FLY_APP_NAME": "technifold"}, "203.0.113.7"},
	} {
		cfg := &Config{}
		cfg.BindFlags(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return tt.env[k] })
		s := &Server{cfg: cfg}
		if got := s.clientIP(r); got != tt.want {
			t.Errorf("env %v: clientIP %q, want %q", tt.env, got, tt.want)
		}
	}
	r.Header.Set("Fly-Client-IP", "not an address")
	if got := (&Server{cfg: &Config{OnFly: true}}).clientIP(r); got != "192.0.2.10" {
		t.Errorf("a malformed Fly-Client-IP gave %q", got)
	}
}
