package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/technifold/technifold/store"
)

// A browser that has signed in to an account carries a long-lived device cookie for it: a
// random device id and an HMAC binding it to the account's e-mail, under a key kept in the
// database. Sign-ins from that browser count against an allowance of their own, so a stranger
// who exhausts the account's anonymous allowance cannot lock its owner out. The cookie grants
// nothing else: the password is still checked, and the per-address limit still applies.

const (
	deviceCookie    = "tf_device"
	deviceCookieAge = 365 * 24 * time.Hour
	deviceKeyState  = "admin_device_key" // integration_state row holding the HMAC key (hex)
)

// deviceKeyring caches the device-cookie key once read from or written to the database.
type deviceKeyring struct {
	mu  sync.Mutex
	key []byte
}

func (d *deviceKeyring) cached() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.key
}

func (d *deviceKeyring) remember(key []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.key = key
}

// deviceKey returns the key, or nil when none was created yet. It only reads.
func (s *Console) deviceKey(ctx context.Context) []byte {
	if key := s.devices.cached(); key != nil {
		return key
	}
	v, _, ok, err := s.db.GetState(ctx, deviceKeyState)
	if err != nil || !ok {
		return nil
	}
	key, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(key) < 32 {
		return nil
	}
	s.devices.remember(key)
	return key
}

// ensureDeviceKey returns the key inside tx, creating it on the first successful sign-in.
func ensureDeviceKey(ctx context.Context, tx *store.Tx) ([]byte, error) {
	v, ok, err := tx.GetState(ctx, deviceKeyState)
	if err != nil {
		return nil, err
	}
	if ok {
		if key, err := base64.RawURLEncoding.DecodeString(v); err == nil && len(key) >= 32 {
			return key, nil
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, tx.SetState(ctx, deviceKeyState, base64.RawURLEncoding.EncodeToString(key))
}

// deviceMAC binds a device id to an account.
func deviceMAC(key []byte, email, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tf_device\x00" + normalizeEmail(email) + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// deviceFor returns the device id of the request's device cookie when it is valid for email,
// or "" (no cookie, another account's, tampered, or no key yet).
func (s *Console) deviceFor(r *http.Request, email string) string {
	c, err := r.Cookie(deviceCookie)
	if err != nil || len(c.Value) > 128 {
		return ""
	}
	id, mac, ok := strings.Cut(c.Value, ".")
	if !ok || len(id) != 22 {
		return ""
	}
	key := s.deviceKey(r.Context())
	if key == nil || !hmac.Equal([]byte(mac), []byte(deviceMAC(key, email, id))) {
		return ""
	}
	return id
}

// newDeviceCookie builds the cookie for a browser that just signed in as email, keeping its
// device id when it had one.
func (s *Console) newDeviceCookie(key []byte, email, id string) *http.Cookie {
	if id == "" {
		id = newSecret()[:22]
	}
	return &http.Cookie{Name: deviceCookie, Value: id + "." + deviceMAC(key, email, id), Path: "/admin/login",
		MaxAge: int(deviceCookieAge / time.Second), HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode}
}
