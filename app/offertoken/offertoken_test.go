package offertoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The vectors below were computed with Python, independently of this
// package, and must never be regenerated from Mint. Each is the output of
//
//	python3 -c 'import hmac,hashlib,base64,json; b=lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode(); p=b(json.dumps(PAYLOAD,separators=(",",":")).encode()); print(p+"."+b(hmac.new(SECRET,p.encode(),hashlib.sha256).digest()))'
//
// with the PAYLOAD dict and SECRET bytes given on each vector.
const (
	// PAYLOAD={"company_id":"acme-gmbh","contact_id":"ct_42","offer_key":"spring-2024","campaign_key":"mail-03","expires_at":1700000000000}
	// SECRET=b"legacy-secret" (legacy format: no kid)
	vectorLegacyFull = "eyJjb21wYW55X2lkIjoiYWNtZS1nbWJoIiwiY29udGFjdF9pZCI6ImN0XzQyIiwib2ZmZXJfa2V5Ijoic3ByaW5nLTIwMjQiLCJjYW1wYWlnbl9rZXkiOiJtYWlsLTAzIiwiZXhwaXJlc19hdCI6MTcwMDAwMDAwMDAwMH0.LrZ7-nR38e1sbelK5EijJuDRHD7h3pMzTiu3y707-X0"

	// PAYLOAD={"company_id":"acme-gmbh","expires_at":1700000000000}
	// SECRET=b"legacy-secret" (legacy format: no kid). Cross-checked with
	//	P=$(printf '%s' '{"company_id":"acme-gmbh","expires_at":1700000000000}' | basenc --base64url | tr -d '=\n'); echo "$P.$(printf '%s' "$P" | openssl dgst -sha256 -hmac legacy-secret -binary | basenc --base64url | tr -d '=\n')"
	vectorLegacyMinimal = "eyJjb21wYW55X2lkIjoiYWNtZS1nbWJoIiwiZXhwaXJlc19hdCI6MTcwMDAwMDAwMDAwMH0.xDtrNkahKIC0RP8D8ZQ4ZZVYNVyaMx7gjhS6eJ94SB8"

	// PAYLOAD={"company_id":"c7","offer_key":"o?x>","expires_at":1735689600123,"kid":"k2"}
	// SECRET=b"new:secret/2" (keyring "k2:new:secret/2,k1:old"). The '>' checks
	// that Mint does not HTML-escape, as JSON.stringify does not.
	vectorRotatedK2 = "eyJjb21wYW55X2lkIjoiYzciLCJvZmZlcl9rZXkiOiJvP3g-IiwiZXhwaXJlc19hdCI6MTczNTY4OTYwMDEyMywia2lkIjoiazIifQ.IPdAdp1PUygmOeVg7Ku9YrdesO9i8jI5vkop-NPnqRY"

	// PAYLOAD={"company_id":"acme-gmbh","contact_id":"ct_42","expires_at":1700000000000,"kid":"k1"}
	// SECRET=b"old" (keyring "k1:old")
	vectorOldK1 = "eyJjb21wYW55X2lkIjoiYWNtZS1nbWJoIiwiY29udGFjdF9pZCI6ImN0XzQyIiwiZXhwaXJlc19hdCI6MTcwMDAwMDAwMDAwMCwia2lkIjoiazEifQ.5E-78Jox_Vl2r8tcrNmOfBgzWIneXTJtnVPTuhQJq2Y"
)

const testExpiryMs = 1700000000000

var (
	testExpiry = time.UnixMilli(testExpiryMs).UTC()
	testNow    = testExpiry.Add(-time.Hour)
)

// signRaw builds a token from literal JSON with its own HMAC code, so tests
// can sign payloads Mint would never produce.
func signRaw(t testing.TB, secret, payloadJSON string) string {
	t.Helper()
	p := base64.RawURLEncoding.EncodeToString([]byte(payloadJSON))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func mustKeyring(t testing.TB, cfg string) *Keyring {
	t.Helper()
	k, err := ParseKeyring(cfg)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

func TestMintMatchesVectors(t *testing.T) {
	tests := []struct {
		name    string
		keyring string
		claims  Claims // KeyID is what Verify must report; Mint ignores it
		want    string
	}{
		{
			name:    "legacy full",
			keyring: "legacy-secret",
			claims:  Claims{CompanyID: "acme-gmbh", ContactID: "ct_42", OfferKey: "spring-2024", CampaignKey: "mail-03", ExpiresAt: testExpiry},
			want:    vectorLegacyFull,
		},
		{
			name:    "legacy minimal",
			keyring: "legacy-secret",
			claims:  Claims{CompanyID: "acme-gmbh", ExpiresAt: testExpiry},
			want:    vectorLegacyMinimal,
		},
		{
			name:    "rotation signs with first kid",
			keyring: "rotate:k2=new:secret/2,k1=old",
			claims:  Claims{CompanyID: "c7", OfferKey: "o?x>", ExpiresAt: time.UnixMilli(1735689600123).UTC(), KeyID: "k2"},
			want:    vectorRotatedK2,
		},
		{
			name:    "old key",
			keyring: "rotate:k1=old",
			claims:  Claims{CompanyID: "acme-gmbh", ContactID: "ct_42", ExpiresAt: testExpiry, KeyID: "k1"},
			want:    vectorOldK1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustKeyring(t, tt.keyring)
			minted := tt.claims
			minted.KeyID = "ignored"
			got, err := k.Mint(minted, testNow, time.Minute)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			if got != tt.want {
				t.Errorf("Mint =\n%s\nwant\n%s", got, tt.want)
			}
			claims, err := k.Verify(tt.want, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims != tt.claims {
				t.Errorf("Verify = %+v, want %+v", claims, tt.claims)
			}
		})
	}
}

func TestMintExpiry(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name     string
		expires  time.Time
		ttl      time.Duration
		wantExpr time.Time
	}{
		{name: "zero ttl uses default", wantExpr: now.Add(DefaultTTL).Truncate(time.Millisecond)},
		{name: "negative ttl uses default", ttl: -time.Second, wantExpr: now.Add(DefaultTTL).Truncate(time.Millisecond)},
		{name: "explicit ttl", ttl: 90 * time.Minute, wantExpr: now.Add(90 * time.Minute).Truncate(time.Millisecond)},
		{name: "explicit expiry wins over ttl", expires: testExpiry.Add(999 * time.Microsecond), ttl: time.Hour, wantExpr: testExpiry},
	}
	k := mustKeyring(t, "legacy-secret")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := k.Mint(Claims{CompanyID: "c", ExpiresAt: tt.expires}, now, tt.ttl)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			var p map[string]any
			raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("payload: %v", err)
			}
			if got, want := p["expires_at"], float64(tt.wantExpr.UnixMilli()); got != want {
				t.Errorf("expires_at = %v, want %v", got, want)
			}
			if _, ok := p["kid"]; ok {
				t.Errorf("legacy keyring wrote a kid: %s", raw)
			}
		})
	}
}

func TestMintRejects(t *testing.T) {
	k := mustKeyring(t, "legacy-secret")
	tests := []struct {
		name   string
		claims Claims
	}{
		{name: "missing company", claims: Claims{ExpiresAt: testExpiry}},
		{name: "expiry before epoch", claims: Claims{CompanyID: "c", ExpiresAt: time.UnixMilli(-5)}},
		{name: "expiry after year 9999", claims: Claims{CompanyID: "c", ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "too long", claims: Claims{CompanyID: strings.Repeat("x", MaxTokenLen), ExpiresAt: testExpiry}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if token, err := k.Mint(tt.claims, testNow, 0); err == nil {
				t.Errorf("Mint = %s, want error", Redact(token))
			}
		})
	}
}

func TestMintRoundTrip(t *testing.T) {
	k := mustKeyring(t, "rotate:k2=new,k1=old")
	want := Claims{
		CompanyID:   "Müller & Söhne <GmbH>",
		ContactID:   "ct \"quoted\" \\ /",
		OfferKey:    "line\nbreak\u2028",
		CampaignKey: "😀",
		ExpiresAt:   testExpiry,
		KeyID:       "k2",
	}
	token, err := k.Mint(want, testNow, 0)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	got, err := k.Verify(token, testNow)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got != want {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
}

func TestVerifyExpiry(t *testing.T) {
	k := mustKeyring(t, "legacy-secret")
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{name: "long before", now: testExpiry.Add(-72 * time.Hour)},
		{name: "one ms before", now: testExpiry.Add(-time.Millisecond)},
		{name: "exactly at expires_at", now: testExpiry},
		{name: "within the expiry millisecond", now: testExpiry.Add(999 * time.Microsecond)},
		{name: "one ms after", now: testExpiry.Add(time.Millisecond), wantErr: ErrExpired},
		{name: "long after", now: testExpiry.Add(24 * time.Hour), wantErr: ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Verify(vectorLegacyMinimal, tt.now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// flip replaces the byte at i with a different base64url character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestVerifyRejects(t *testing.T) {
	const secret = "legacy-secret"
	k := mustKeyring(t, secret)
	payload, sig, _ := strings.Cut(vectorLegacyMinimal, ".")
	payloadFull, sigFull, _ := strings.Cut(vectorLegacyFull, ".")
	sigBytes, _ := base64.RawURLEncoding.DecodeString(sig)
	exp := `,"expires_at":1700000000000}`

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "empty", token: "", wantErr: ErrMalformed},
		{name: "only a dot", token: ".", wantErr: ErrMalformed},
		{name: "no dot", token: payload + sig, wantErr: ErrMalformed},
		{name: "second dot", token: vectorLegacyMinimal + ".", wantErr: ErrMalformed},
		{name: "three parts", token: payload + "." + payload + "." + sig, wantErr: ErrMalformed},
		{name: "empty payload", token: "." + sig, wantErr: ErrMalformed},
		{name: "empty signature", token: payload + ".", wantErr: ErrMalformed},
		{name: "padded payload", token: payload + "=." + sig, wantErr: ErrMalformed},
		{name: "padded signature", token: vectorLegacyMinimal + "=", wantErr: ErrMalformed},
		{name: "standard base64 char", token: payload + "." + strings.Replace(sig, "_", "/", 1) + "+", wantErr: ErrMalformed},
		{name: "newline in payload", token: payload[:10] + "\n" + payload[10:] + "." + sig, wantErr: ErrMalformed},
		{name: "space in signature", token: payload + "." + sig[:5] + " " + sig[5:], wantErr: ErrMalformed},
		{name: "non-ASCII", token: payload + "é." + sig, wantErr: ErrMalformed},
		{name: "non-canonical signature trailing bits", token: payload + "." + sig[:len(sig)-1] + "9", wantErr: ErrMalformed},
		{name: "signature too short", token: payload + "." + base64.RawURLEncoding.EncodeToString(sigBytes[:31]), wantErr: ErrMalformed},
		{name: "signature too long", token: payload + "." + base64.RawURLEncoding.EncodeToString(append(sigBytes, 0)), wantErr: ErrMalformed},
		{name: "too long", token: payload + "." + sig + strings.Repeat("A", MaxTokenLen), wantErr: ErrMalformed},
		// "YWNtZS1nbWJo" encodes "acme-gmbh"; "YWNtZS1nbWJp" is "acme-gmbi".
		{name: "flipped payload char", token: strings.Replace(payload, "YWNtZS1nbWJo", "YWNtZS1nbWJp", 1) + "." + sig, wantErr: ErrBadSignature},
		{name: "flipped signature char", token: payload + "." + flip(sig, 0), wantErr: ErrBadSignature},
		{name: "swapped payloads", token: payloadFull + "." + sig, wantErr: ErrBadSignature},
		{name: "swapped signatures", token: payload + "." + sigFull, wantErr: ErrBadSignature},
		{name: "re-encoded payload, old signature", token: base64.RawURLEncoding.EncodeToString([]byte(`{"company_id":"evil"`+exp)) + "." + sig, wantErr: ErrBadSignature},
		{name: "wrong secret", token: signRaw(t, "other", `{"company_id":"acme-gmbh"`+exp), wantErr: ErrBadSignature},
		// Correctly signed payloads with bad content: only the content is wrong.
		{name: "signed non-JSON", token: signRaw(t, secret, "hello world"), wantErr: ErrMalformed},
		{name: "signed JSON array", token: signRaw(t, secret, `[{"company_id":"c","expires_at":1700000000000}]`), wantErr: ErrMalformed},
		{name: "signed JSON null", token: signRaw(t, secret, `null`), wantErr: ErrMalformed},
		{name: "signed JSON string", token: signRaw(t, secret, `"c"`), wantErr: ErrMalformed},
		{name: "trailing garbage after object", token: signRaw(t, secret, `{"company_id":"c"`+exp+`x`), wantErr: ErrMalformed},
		{name: "missing company_id", token: signRaw(t, secret, `{"contact_id":"c"`+exp), wantErr: ErrMalformed},
		{name: "empty company_id", token: signRaw(t, secret, `{"company_id":""`+exp), wantErr: ErrMalformed},
		{name: "null company_id", token: signRaw(t, secret, `{"company_id":null`+exp), wantErr: ErrMalformed},
		{name: "numeric company_id", token: signRaw(t, secret, `{"company_id":7`+exp), wantErr: ErrMalformed},
		{name: "company_id in other case", token: signRaw(t, secret, `{"Company_ID":"c"`+exp), wantErr: ErrMalformed},
		{name: "numeric offer_key", token: signRaw(t, secret, `{"company_id":"c","offer_key":1`+exp), wantErr: ErrMalformed},
		{name: "numeric kid", token: signRaw(t, secret, `{"company_id":"c","kid":1`+exp), wantErr: ErrMalformed},
		{name: "expires_at as string", token: signRaw(t, secret, `{"company_id":"c","expires_at":"1700000000000"}`), wantErr: ErrMalformed},
		{name: "expires_at missing", token: signRaw(t, secret, `{"company_id":"c"}`), wantErr: ErrMalformed},
		{name: "expires_at null", token: signRaw(t, secret, `{"company_id":"c","expires_at":null}`), wantErr: ErrMalformed},
		{name: "expires_at bool", token: signRaw(t, secret, `{"company_id":"c","expires_at":true}`), wantErr: ErrMalformed},
		{name: "expires_at zero", token: signRaw(t, secret, `{"company_id":"c","expires_at":0}`), wantErr: ErrMalformed},
		{name: "expires_at below one ms", token: signRaw(t, secret, `{"company_id":"c","expires_at":0.5}`), wantErr: ErrMalformed},
		{name: "expires_at negative", token: signRaw(t, secret, `{"company_id":"c","expires_at":-1}`), wantErr: ErrMalformed},
		{name: "expires_at huge", token: signRaw(t, secret, `{"company_id":"c","expires_at":1e400}`), wantErr: ErrMalformed},
		{name: "expires_at after year 9999", token: signRaw(t, secret, `{"company_id":"c","expires_at":253402300800000}`), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := k.Verify(tt.token, testNow)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v (claims %+v)", err, tt.wantErr, claims)
			}
			if claims != (Claims{}) {
				t.Errorf("Verify returned claims %+v with an error", claims)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || (len(tt.token) > 8 && strings.Contains(msg, tt.token)) {
				t.Errorf("error message %q leaks the secret or token", msg)
			}
		})
	}
}

// TestVerifyRejectsEveryFlip changes each character of a valid token in
// turn; no single change may be accepted.
func TestVerifyRejectsEveryFlip(t *testing.T) {
	k := mustKeyring(t, "legacy-secret")
	for i := range len(vectorLegacyFull) {
		if vectorLegacyFull[i] == '.' {
			continue
		}
		token := flip(vectorLegacyFull, i)
		_, err := k.Verify(token, testNow)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Errorf("flip at %d: Verify error = %v, want ErrMalformed or ErrBadSignature", i, err)
		}
	}
}

func TestVerifyAcceptsLegacyVariants(t *testing.T) {
	const secret = "legacy-secret"
	k := mustKeyring(t, secret)
	tests := []struct {
		name    string
		payload string
		want    Claims
	}{
		{
			name:    "unknown extra fields",
			payload: `{"company_id":"c","expires_at":1700000000000,"v":2,"meta":{"a":[1,2]},"offer":null}`,
			want:    Claims{CompanyID: "c", ExpiresAt: testExpiry},
		},
		{
			name:    "whitespace and other key order",
			payload: "{ \"expires_at\" : 1700000000000 ,\n \"company_id\" : \"c\", \"contact_id\": null }",
			want:    Claims{CompanyID: "c", ExpiresAt: testExpiry},
		},
		{
			name:    "fractional expires_at truncates",
			payload: `{"company_id":"c","expires_at":1700000000000.9}`,
			want:    Claims{CompanyID: "c", ExpiresAt: testExpiry},
		},
		{
			name:    "exponent expires_at",
			payload: `{"company_id":"c","expires_at":1.7e12}`,
			want:    Claims{CompanyID: "c", ExpiresAt: testExpiry},
		},
		{
			name:    "empty kid means legacy",
			payload: `{"company_id":"c","expires_at":1700000000000,"kid":""}`,
			want:    Claims{CompanyID: "c", ExpiresAt: testExpiry},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Verify(signRaw(t, secret, tt.payload), testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	mintWith := func(t *testing.T, cfg string) string {
		t.Helper()
		token, err := mustKeyring(t, cfg).Mint(Claims{CompanyID: "c", ExpiresAt: testExpiry}, testNow, 0)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		return token
	}
	tests := []struct {
		name    string
		token   string
		keyring string
		wantKID string
		wantErr error
	}{
		{name: "old k1 token after rotation to k2", token: mintWith(t, "rotate:k1=old"), keyring: "rotate:k2=new,k1=old", wantKID: "k1"},
		{name: "old k1 vector after rotation to k2", token: vectorOldK1, keyring: "rotate:k2=new,k1=old", wantKID: "k1"},
		{name: "new k2 token", token: mintWith(t, "rotate:k2=new,k1=old"), keyring: "rotate:k2=new,k1=old", wantKID: "k2"},
		{name: "k2 token before k2 is known", token: mintWith(t, "rotate:k2=new,k1=old"), keyring: "rotate:k1=old", wantErr: ErrUnknownKey},
		{name: "k1 token after k1 is retired", token: vectorOldK1, keyring: "rotate:k2=new", wantErr: ErrUnknownKey},
		{name: "legacy token against first secret", token: vectorLegacyMinimal, keyring: "rotate:k1=legacy-secret,k0=other"},
		{name: "legacy token when legacy secret is not first", token: vectorLegacyMinimal, keyring: "rotate:k2=new,k1=legacy-secret", wantErr: ErrBadSignature},
		{name: "legacy token against a key marked legacy", token: vectorLegacyMinimal, keyring: "rotate:k2=new,legacy=legacy-secret"},
		{name: "legacy token against one of two legacy keys", token: vectorLegacyMinimal, keyring: "rotate:k3=new,legacy-a=other,legacy-b=legacy-secret"},
		{name: "legacy token not accepted by the current key when legacy keys exist", token: signRaw(t, "new", `{"company_id":"c","expires_at":1700000000000}`), keyring: "rotate:k2=new,legacy=legacy-secret", wantErr: ErrBadSignature},
		{name: "legacy token after the legacy key is retired", token: vectorLegacyMinimal, keyring: "rotate:k2=new,legacy=other", wantErr: ErrBadSignature},
		{name: "token naming the legacy kid", token: signRaw(t, "legacy-secret", `{"company_id":"c","expires_at":1700000000000,"kid":"legacy"}`), keyring: "rotate:k2=new,legacy=legacy-secret", wantKID: "legacy"},
		{name: "kid token against legacy keyring", token: vectorOldK1, keyring: "old", wantErr: ErrUnknownKey},
		{name: "unknown kid", token: signRaw(t, "new", `{"company_id":"c","expires_at":1700000000000,"kid":"k9"}`), keyring: "rotate:k2=new,k1=old", wantErr: ErrUnknownKey},
		{name: "signed with k1, payload claims k2", token: signRaw(t, "old", `{"company_id":"c","expires_at":1700000000000,"kid":"k2"}`), keyring: "rotate:k2=new,k1=old", wantErr: ErrBadSignature},
		{name: "signed with k2, payload claims k1", token: signRaw(t, "new", `{"company_id":"c","expires_at":1700000000000,"kid":"k1"}`), keyring: "rotate:k2=new,k1=old", wantErr: ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := mustKeyring(t, tt.keyring).Verify(tt.token, testNow)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims.KeyID != tt.wantKID {
				t.Errorf("KeyID = %q, want %q", claims.KeyID, tt.wantKID)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{name: "token", token: vectorLegacyMinimal, want: "eyJjb21w…"},
		{name: "empty", token: "", want: "…"},
		{name: "eight chars is never shown whole", token: "abcdefgh", want: "…"},
		{name: "nine chars", token: "abcdefghi", want: "abcdefgh…"},
		{name: "control and non-ASCII bytes", token: "a\nb\x1bcé.-_xyz", want: "a?b?c???…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.token); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.token, got, tt.want)
			}
		})
	}
}
