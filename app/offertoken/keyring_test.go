package offertoken

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseKeyring(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error // nil means success; errAny means any error
		// wantString is Keyring.String, which names the kids in order.
		wantString string
		// signKID and signSecret are what the first key must sign with.
		signKID, signSecret string
	}{
		{name: "plain legacy secret", in: "legacy-secret", wantString: "offertoken.Keyring(legacy secret)", signSecret: "legacy-secret"},
		{name: "rotation list", in: "rotate:k2=new,k1=old", wantString: "offertoken.Keyring(k2,k1)", signKID: "k2", signSecret: "new"},
		{name: "rotation list on lines with spaces", in: "rotate:\n  k2=new\n  k1=old\n", wantString: "offertoken.Keyring(k2,k1)", signKID: "k2", signSecret: "new"},
		{name: "single kid entry", in: "rotate:k1=old", wantString: "offertoken.Keyring(k1)", signKID: "k1", signSecret: "old"},
		{name: "secret holding ':' and '=' in a list", in: "rotate:key_A-1=a:b==", wantString: "offertoken.Keyring(key_A-1)", signKID: "key_A-1", signSecret: "a:b=="},
		{name: "plain secret with a colon is never split", in: "my key:se:cret", wantString: "offertoken.Keyring(legacy secret)", signSecret: "my key:se:cret"},
		{name: "kid with dot is plain", in: "k.1:secret", wantString: "offertoken.Keyring(legacy secret)", signSecret: "k.1:secret"},
		{name: "empty kid is plain", in: ":secret", wantString: "offertoken.Keyring(legacy secret)", signSecret: ":secret"},
		{name: "plain secret with '='", in: "k2=new,k1=old", wantString: "offertoken.Keyring(legacy secret)", signSecret: "k2=new,k1=old"},
		{name: "prefix not at the start is plain", in: "x rotate:k1=a", wantString: "offertoken.Keyring(legacy secret)", signSecret: "x rotate:k1=a"},
		{name: "old list form is refused", in: "k2:new,k1:old", wantErr: ErrAmbiguous},
		{name: "plain secret shaped like the old list is refused", in: "prod:Xy7-secret", wantErr: ErrAmbiguous},
		{name: "empty", in: "", wantErr: ErrNoSecret},
		{name: "empty list", in: "rotate:", wantErr: ErrNoSecret},
		{name: "list entry with empty secret", in: "rotate:k2=new,k1=", wantErr: ErrNoSecret},
		{name: "list entry without '='", in: "rotate:k2=new,k1:old", wantErr: errAny},
		{name: "list entry with a bad kid", in: "rotate:k.2=new", wantErr: errAny},
		{name: "list secret with a space", in: "rotate:k2=new secret", wantErr: errAny},
		{name: "duplicate kid", in: "rotate:k1=a,k1=b", wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring(tt.in)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("ParseKeyring(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyring(%q): %v", tt.in, err)
			}
			if got := k.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
			claims := Claims{CompanyID: "c1", ExpiresAt: testExpiry}
			got, err := k.Mint(claims, testNow, 0)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			payloadJSON := `{"company_id":"c1","expires_at":1700000000000}`
			if tt.signKID != "" {
				payloadJSON = `{"company_id":"c1","expires_at":1700000000000,"kid":"` + tt.signKID + `"}`
			}
			if want := signRaw(t, tt.signSecret, payloadJSON); got != want {
				t.Errorf("Mint = %s, want %s", got, want)
			}
		})
	}
}

// errAny marks a test case that only needs some error.
var errAny = errors.New("any error")

func TestKeyringNeverPrintsSecrets(t *testing.T) {
	for _, cfg := range []string{"legacy-secret-value", "rotate:k2=new-secret-value,k1=old-secret-value"} {
		k := mustKeyring(t, cfg)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(verb, k)
			if strings.Contains(out, "secret-value") {
				t.Errorf("Sprintf(%q, keyring) = %q leaks a secret", verb, out)
			}
		}
	}
}

func TestEmptyKeyring(t *testing.T) {
	for name, k := range map[string]*Keyring{"nil": nil, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Mint(Claims{CompanyID: "c"}, testNow, 0); !errors.Is(err, ErrNoSecret) {
				t.Errorf("Mint error = %v, want ErrNoSecret", err)
			}
			if _, err := k.Verify(vectorLegacyMinimal, testNow); !errors.Is(err, ErrNoSecret) {
				t.Errorf("Verify error = %v, want ErrNoSecret", err)
			}
		})
	}
}

// TestLinksFromTheOldListFormKeepVerifying checks that links minted while TOKEN_SECRET used
// the old "kid:secret,…" form (and legacy kid-less links) verify once the same keys are
// written in the rotate: form.
func TestLinksFromTheOldListFormKeepVerifying(t *testing.T) {
	tests := []struct{ name, token, keyring, wantKID string }{
		{"k2 link minted under k2:new:secret/2,k1:old", vectorRotatedK2, "rotate:k2=new:secret/2,k1=old", "k2"},
		{"k1 link minted under k1:old", vectorOldK1, "rotate:k2=new:secret/2,k1=old", "k1"},
		{"legacy link, plain secret", vectorLegacyFull, "legacy-secret", ""},
		{"legacy link after rotating away from it", vectorLegacyFull, "rotate:k3=newest,legacy=legacy-secret", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := mustKeyring(t, tt.keyring).Verify(tt.token, time.UnixMilli(1690000000000))
			if err != nil || claims.KeyID != tt.wantKID {
				t.Fatalf("Verify = %+v, %v; want kid %q", claims, err, tt.wantKID)
			}
		})
	}
}
