package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/technifold/technifold/app/web"

	"github.com/technifold/technifold/store"
)

// Staff sign-in: bcrypt password hashes, server-side sessions in SQLite (only a SHA-256 of the
// session id is stored), idle and absolute expiry, and throttling of failed sign-ins.

const (
	adminCookie = "tf_admin"
	// sessionIdle ends a session nobody used for this long; sessionAbsolute ends any session.
	sessionIdle     = 2 * time.Hour
	sessionAbsolute = 12 * time.Hour
	// sessionTouchEvery limits the idle-clock writes to one per session per minute.
	sessionTouchEvery = time.Minute

	minPasswordLen = 10
	maxPasswordLen = 72 // bcrypt ignores anything longer, so refuse it rather than mislead

	// setupState is the integration_state row holding the hashed one-time setup token.
	setupState = "admin_setup_token"
	setupTTL   = time.Hour

	demoAdminEmail = "admin@demo.local"
)

// newSecret returns 32 random bytes as unpadded base64url: session ids, setup tokens, passwords.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// GeneratePassword returns a random password of 22 characters (128 bits).
func GeneratePassword() string { return newSecret()[:22] }

// hashSecret is the form a session id or setup token is stored in.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HashPassword checks the password policy and returns its bcrypt hash.
func HashPassword(pw string) (string, error) {
	if len(pw) < minPasswordLen {
		return "", web.Invalidf("the password must have at least %d characters", minPasswordLen)
	}
	if len(pw) > maxPasswordLen {
		return "", web.Invalidf("the password must have at most %d bytes", maxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when the e-mail is unknown, so a wrong e-mail takes as long
// as a wrong password and sign-in does not reveal which accounts exist. It is computed on the
// first sign-in, not at start-up: CLI verbs never pay for it.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a real password"), bcrypt.DefaultCost)
	return h
})

// principal is who is making an admin request.
type principal struct {
	User        store.User
	SessionHash string // empty for the API token
	ViaToken    bool
}

// Actor names the principal in the audit log.
func (p *principal) Actor() string {
	if p.ViaToken {
		return "api-token"
	}
	return p.User.Email
}

// IsAdmin reports whether the principal may manage users.
func (p *principal) IsAdmin() bool { return p.ViaToken || p.User.Role == store.RoleAdmin }

type principalKey struct{}

// principalFrom returns the authenticated principal of an admin request, or nil.
func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// sessionFromRequest resolves the tf_admin cookie to a live session, sliding its idle clock.
// It returns nil when there is no valid session; expired sessions are deleted.
func (s *Console) sessionFromRequest(r *http.Request) (*principal, error) {
	c, err := r.Cookie(adminCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, nil
	}
	hash := hashSecret(c.Value)
	ctx := r.Context()
	sess, user, err := s.db.SessionUser(ctx, hash)
	if store.ErrorCode(err) == store.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.db.Now()
	if user.Disabled || !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= sessionIdle {
		err := s.db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, hash) })
		return nil, err
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.db.Update(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, hash) }); err != nil {
			return nil, err
		}
	}
	return &principal{User: user, SessionHash: hash}, nil
}

// startSession creates a session for user inside tx and returns the cookie that carries it.
// A new id is minted at every sign-in, so a session id planted before sign-in is worthless.
func (s *Console) startSession(ctx context.Context, tx *store.Tx, r *http.Request, user store.User) (*http.Cookie, error) {
	id := newSecret()
	err := tx.CreateSession(ctx, store.Session{IDHash: hashSecret(id), UserID: user.ID,
		ExpiresAt: tx.Now().Add(sessionAbsolute), IP: s.clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		return nil, err
	}
	return s.adminCookie(id, int(sessionAbsolute/time.Second)), nil
}

// adminCookie builds the session cookie; maxAge < 0 deletes it.
func (s *Console) adminCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: adminCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode}
}

// secureCookies reports whether cookies get the Secure flag: when the public URL is https.
func (s *Console) secureCookies() bool { return web.SecureCookies(s.cfg.BaseURL) }

// authenticate checks an e-mail and password; the error is the same for an unknown e-mail,
// a wrong password and a disabled account. The hash comparison waits for a verification slot.
func (s *Console) authenticate(ctx context.Context, email, password string) (store.User, error) {
	bad := store.Errorf(store.EUNAUTHORIZED, "wrong e-mail or password")
	user, err := s.db.UserByEmail(ctx, email)
	hash, known := []byte(user.PasswordHash), err == nil
	if store.ErrorCode(err) == store.ENOTFOUND {
		hash = dummyHash()
	} else if err != nil {
		return store.User{}, err
	}
	ok, err := s.svc.VerifyPassword(ctx, func() bool {
		return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	})
	switch {
	case err != nil:
		return store.User{}, err
	case !ok || !known || user.Disabled:
		return store.User{}, bad
	}
	return user, nil
}

// setupToken is the stored form of the one-time first-admin link.
type setupToken struct {
	Hash      string    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateSetupToken stores a new one-time setup token (hashed) valid for an hour and returns
// it. It replaces any earlier one. Only useful while no user exists.
func CreateSetupToken(ctx context.Context, db *store.DB) (string, error) {
	token := newSecret()
	err := db.Update(ctx, func(tx *store.Tx) error {
		b, _ := json.Marshal(setupToken{Hash: hashSecret(token), ExpiresAt: tx.Now().Add(setupTTL)})
		return tx.SetState(ctx, setupState, string(b))
	})
	return token, err
}

// consumeSetupToken checks token inside tx and deletes it (single use). It fails once any user
// exists, so a leaked link is useless after setup.
func consumeSetupToken(ctx context.Context, tx *store.Tx, token string) error {
	invalid := store.Errorf(store.EUNAUTHORIZED, "this setup link is invalid, used or expired; restart the server for a new one")
	raw, ok, err := tx.GetState(ctx, setupState)
	if err != nil {
		return err
	}
	if !ok || token == "" {
		return invalid
	}
	var st setupToken
	if json.Unmarshal([]byte(raw), &st) != nil || !tx.Now().Before(st.ExpiresAt) ||
		!adminSecretEqual(st.Hash, hashSecret(token)) {
		return invalid
	}
	if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
		if err == nil {
			err = store.Errorf(store.ECONFLICT, "an admin already exists; sign in instead")
		}
		return err
	}
	return tx.DeleteState(ctx, setupState)
}

// validSetupToken reports (without consuming it) whether token would be accepted now.
func (s *Console) validSetupToken(ctx context.Context, token string) bool {
	raw, _, ok, err := s.db.GetState(ctx, setupState)
	if err != nil || !ok || token == "" {
		return false
	}
	var st setupToken
	return json.Unmarshal([]byte(raw), &st) == nil && s.db.Now().Before(st.ExpiresAt) &&
		adminSecretEqual(st.Hash, hashSecret(token))
}

// CreateUser hashes password (generating one when empty) and adds the account, recording the
// action in the audit log in the same transaction. It returns the password it used.
func CreateUser(ctx context.Context, db *store.DB, email, role, password string, by store.AuditEntry) (store.User, string, error) {
	generated := password == ""
	if generated {
		password = GeneratePassword()
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, "", err
	}
	var user store.User
	err = db.Update(ctx, func(tx *store.Tx) error {
		var err error
		if user, err = tx.CreateUser(ctx, email, hash, role); err != nil {
			return err
		}
		by.Action, by.Target = "user.create", user.Email
		return tx.InsertAudit(ctx, by, map[string]any{"role": role, "generated_password": generated})
	})
	return user, password, err
}

// BootstrapConfig is what BootstrapAdmin reads: ADMIN_EMAIL, ADMIN_PASSWORD and BASE_URL.
type BootstrapConfig struct {
	AdminEmail, AdminPassword, BaseURL string
}

// BootstrapAdmin makes sure a fresh installation can be signed into. When users exist it only
// says where to sign in and how to set a new password. Otherwise it creates the admin from ADMIN_EMAIL/ADMIN_PASSWORD, or the demo admin
// (demo), or prints a one-time setup link. Whatever it prints goes to out once.
func BootstrapAdmin(ctx context.Context, db *store.DB, cfg BootstrapConfig, demo bool, out func(format string, args ...any)) error {
	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		// The password was shown once; every later start says how to set a new one.
		login := strings.TrimRight(cfg.BaseURL, "/") + "/admin/login"
		if _, err := db.UserByEmail(ctx, demoAdminEmail); demo && err == nil {
			out("demo admin: sign in at %s as %s; to set a new password: technifold user password --email %s\n",
				login, demoAdminEmail, demoAdminEmail)
		} else {
			out("sign in at %s; to set a new password: technifold user password --email EMAIL (technifold user list shows them)\n", login)
		}
		return nil
	}
	by := store.AuditEntry{Actor: "system"}
	switch {
	case cfg.AdminEmail != "" && cfg.AdminPassword != "":
		if _, _, err := CreateUser(ctx, db, cfg.AdminEmail, store.RoleAdmin, cfg.AdminPassword, by); err != nil {
			return fmt.Errorf("create the first admin from ADMIN_EMAIL: %w", err)
		}
		out("admin user %s created from ADMIN_EMAIL/ADMIN_PASSWORD; sign in at %s/admin/login\n",
			cfg.AdminEmail, strings.TrimRight(cfg.BaseURL, "/"))
	case demo:
		_, pw, err := CreateUser(ctx, db, demoAdminEmail, store.RoleAdmin, "", by)
		if err != nil {
			return fmt.Errorf("create the demo admin: %w", err)
		}
		out("demo admin created: sign in at %s/admin/login as %s with password %s (shown once; "+
			"to set a new one: technifold user password --email %s)\n",
			strings.TrimRight(cfg.BaseURL, "/"), demoAdminEmail, pw, demoAdminEmail)
	default:
		token, err := CreateSetupToken(ctx, db)
		if err != nil {
			return fmt.Errorf("create the setup link: %w", err)
		}
		out("no admin user exists yet: open %s/admin/setup?token=%s within %s to create one (single use)\n",
			strings.TrimRight(cfg.BaseURL, "/"), token, setupTTL)
	}
	return nil
}
