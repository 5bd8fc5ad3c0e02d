package console

import (
	"net/http"
	"strings"
	"testing"
)

func TestDeviceCookieAttributes(t *testing.T) {
	for _, base := range []string{"http://localhost:8080", "https://shop.example.com"} {
		s := &Console{cfg: &Config{BaseURL: base}}
		c := s.newDeviceCookie(make([]byte, 32), "Ann@Example.com", "")
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != strings.HasPrefix(base, "https") ||
			c.MaxAge < 300*24*3600 || c.Path != "/admin/login" {
			t.Fatalf("%s: cookie %+v", base, c)
		}
	}
}
