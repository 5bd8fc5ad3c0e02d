// Package offertoken mints and verifies the signed, expiring tokens carried
// by offer links.
//
// The format must stay wire-compatible with links the legacy Node.js system
// already sent to customers:
//
//	token = base64url(JSON payload) + "." + base64url(HMAC-SHA256(secret, base64url payload))
//
// Both parts use unpadded base64url, the MAC covers the encoded payload
// string (not the raw JSON), and expires_at is epoch milliseconds.
package offertoken

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// DefaultTTL is how long a minted token is valid when no TTL is given.
const DefaultTTL = 72 * time.Hour

// MaxTokenLen bounds the work done on untrusted input: longer tokens are
// rejected before any decoding.
const MaxTokenLen = 4096

// Errors returned by Verify and Mint. Callers only need errors.Is; messages
// never contain the token or a secret.
var (
	ErrMalformed    = errors.New("offertoken: malformed token")
	ErrBadSignature = errors.New("offertoken: bad signature")
	ErrExpired      = errors.New("offertoken: token expired")
	ErrUnknownKey   = errors.New("offertoken: unknown key id")
	ErrNoSecret     = errors.New("offertoken: no token secret configured")
	ErrAmbiguous    = errors.New("offertoken: TOKEN_SECRET is ambiguous")
)

// Claims is what an offer token asserts.
type Claims struct {
	CompanyID   string
	ContactID   string
	OfferKey    string
	CampaignKey string
	// ExpiresAt has millisecond precision on the wire; Verify returns it in UTC.
	ExpiresAt time.Time
	// KeyID is the "kid" the token was signed under, empty for legacy tokens.
	// Mint ignores it: the keyring decides which key signs.
	KeyID string
}

// payload is the JSON written by Mint. The field order is the legacy
// system's key order, so minted tokens match it byte for byte.
type payload struct {
	CompanyID   string `json:"company_id"`
	ContactID   string `json:"contact_id,omitempty"`
	OfferKey    string `json:"offer_key,omitempty"`
	CampaignKey string `json:"campaign_key,omitempty"`
	ExpiresAt   int64  `json:"expires_at"`
	KeyID       string `json:"kid,omitempty"`
}

// maxExpiresAtMs (9999-12-31T23:59:59.999Z) keeps expiries within what
// time.Time and float64 represent exactly; nothing legitimate is later.
const maxExpiresAtMs = 253402300799999

var b64 = base64.RawURLEncoding.Strict()

// Mint signs c with the keyring's first key. If c.ExpiresAt is zero the
// token expires at now+ttl, with DefaultTTL when ttl <= 0. The expiry is
// truncated to whole milliseconds.
func (k *Keyring) Mint(c Claims, now time.Time, ttl time.Duration) (string, error) {
	sk, err := k.signingKey()
	if err != nil {
		return "", err
	}
	if c.CompanyID == "" {
		return "", errors.New("mint offer token: company id is required")
	}
	exp := c.ExpiresAt
	if exp.IsZero() {
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		exp = now.Add(ttl)
	}
	ms := exp.UnixMilli()
	if ms <= 0 || ms > maxExpiresAtMs {
		return "", fmt.Errorf("mint offer token: expiry %s out of range", exp.UTC().Format(time.RFC3339Nano))
	}
	p := payload{
		CompanyID:   c.CompanyID,
		ContactID:   c.ContactID,
		OfferKey:    c.OfferKey,
		CampaignKey: c.CampaignKey,
		ExpiresAt:   ms,
		KeyID:       sk.id,
	}
	// JSON.stringify does not escape <, > and &; encoding/json does unless told.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return "", fmt.Errorf("mint offer token: %w", err)
	}
	encoded := b64.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	token := encoded + "." + b64.EncodeToString(sign(sk.secret, encoded))
	if len(token) > MaxTokenLen {
		// Verify would reject it; fail here rather than mail a dead link.
		return "", fmt.Errorf("mint offer token: token is %d bytes, limit is %d", len(token), MaxTokenLen)
	}
	return token, nil
}

// Verify checks token's format, signature and expiry at now and returns its
// claims. Errors wrap ErrMalformed, ErrUnknownKey, ErrBadSignature,
// ErrExpired or ErrNoSecret. A token is still valid at its exact expires_at
// millisecond and expired one millisecond later.
func (k *Keyring) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	encoded, encodedSig, ok := strings.Cut(token, ".")
	if !ok || strings.Contains(encodedSig, ".") {
		return Claims{}, fmt.Errorf("%w: want exactly two dot-separated parts", ErrMalformed)
	}
	raw, err := decodePart(encoded)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not unpadded base64url", ErrMalformed)
	}
	sig, err := decodePart(encodedSig)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature is not unpadded base64url", ErrMalformed)
	}
	if len(sig) != sha256.Size {
		return Claims{}, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(sig), sha256.Size)
	}
	// The payload must be parsed before the MAC check because its kid picks
	// the key; the length limit above bounds that work.
	c, err := parsePayload(raw)
	if err != nil {
		return Claims{}, err
	}
	keys, err := k.verifyingKeys(c.KeyID)
	if err != nil {
		return Claims{}, err
	}
	valid := false
	for _, vk := range keys {
		// Every candidate is checked, so timing does not tell which one matched.
		if hmac.Equal(sig, sign(vk.secret, encoded)) {
			valid = true
		}
	}
	if !valid {
		return Claims{}, ErrBadSignature
	}
	if now.UnixMilli() > c.ExpiresAt.UnixMilli() {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// Redact returns a log-safe form of token: at most its first 8 characters
// and "…". Bytes outside the base64url alphabet become '?' so that garbage
// input cannot inject control characters into logs.
func Redact(token string) string {
	const keep = 8
	if len(token) <= keep {
		// Short enough that any prefix could be the whole thing.
		return "…"
	}
	var b strings.Builder
	for i := 0; i < keep; i++ {
		if isBase64URL(token[i]) {
			b.WriteByte(token[i])
		} else {
			b.WriteByte('?')
		}
	}
	b.WriteString("…")
	return b.String()
}

func sign(secret []byte, encodedPayload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(encodedPayload))
	return m.Sum(nil)
}

// decodePart accepts only canonical unpadded base64url. The decoder alone
// would skip CR/LF, so the alphabet is checked first; Strict rejects
// non-zero trailing bits, so each value has exactly one encoding.
func decodePart(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if !isBase64URL(s[i]) {
			return nil, errors.New("invalid character")
		}
	}
	return b64.DecodeString(s)
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// parsePayload decodes the JSON payload. It goes through a map of raw values
// so keys match exactly (encoding/json structs match case-insensitively,
// Node did not), unknown legacy fields are ignored, and field types are
// checked strictly.
func parsePayload(raw []byte) (Claims, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Claims{}, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	var c Claims
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"company_id", &c.CompanyID},
		{"contact_id", &c.ContactID},
		{"offer_key", &c.OfferKey},
		{"campaign_key", &c.CampaignKey},
		{"kid", &c.KeyID},
	} {
		v, ok := fields[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, f.dst) != nil {
			return Claims{}, fmt.Errorf("%w: %s is not a string", ErrMalformed, f.name)
		}
	}
	if c.CompanyID == "" {
		return Claims{}, fmt.Errorf("%w: company_id is missing", ErrMalformed)
	}
	ms, err := parseExpiresAt(fields["expires_at"])
	if err != nil {
		return Claims{}, err
	}
	c.ExpiresAt = time.UnixMilli(ms).UTC()
	return c, nil
}

// parseExpiresAt accepts any positive JSON number; a fractional value is
// truncated, which keeps "expired when now > expires_at" exact at ms level.
func parseExpiresAt(v json.RawMessage) (int64, error) {
	// A JSON number starts with '-' or a digit; strings, null, etc. do not.
	if len(v) == 0 || v[0] < '0' || v[0] > '9' {
		return 0, fmt.Errorf("%w: expires_at is not a positive number", ErrMalformed)
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxExpiresAtMs {
		return 0, fmt.Errorf("%w: expires_at is out of range", ErrMalformed)
	}
	ms := int64(f)
	if ms <= 0 {
		// 0 < f < 1 would truncate to the epoch, which is not a real expiry.
		return 0, fmt.Errorf("%w: expires_at is out of range", ErrMalformed)
	}
	return ms, nil
}
