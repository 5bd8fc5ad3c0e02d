package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/store"
)

// The console's settings and formats as the server's tests use them (app/console).
const (
	adminCookie     = console.SessionCookie
	deviceCookie    = console.DeviceCookie
	sessionIdle     = console.SessionIdle
	sessionAbsolute = console.SessionAbsolute
	setupTTL        = console.SetupTTL
	demoAdminEmail  = console.DemoAdminEmail
	// setupState is the integration_state row of the one-time setup token (console/session.go).
	setupState = "admin_setup_token"
	// purchasesPageSize is how many purchase lines a company page shows (console/engagement.go).
	purchasesPageSize = 25
	// importHoldTTL is how long an import preview can be confirmed (console/import.go).
	importHoldTTL = 30 * time.Minute
	// maxImportUpload is the largest file the import page takes (console/import.go).
	maxImportUpload = 8 << 20
	// denyImport is what staff are told about the import (console/import.go).
	denyImport = "Only admins can import CSV files."
)

// The console's functions the tests use.
var (
	CreateUser       = console.CreateUser
	CreateSetupToken = console.CreateSetupToken
	jobLabel         = console.JobLabel
	auditLabel       = console.AuditLabel
)

// newSecret returns 32 random bytes as unpadded base64url, like a session id.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashSecret is the form the console stores a session id in (SHA-256, hex).
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// absoluteTime is the console's absolute time format.
func absoluteTime(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// passwordSignsIn reports whether email and password would sign in (console's authenticate):
// the account exists, is enabled and has that password.
func passwordSignsIn(ctx context.Context, db *store.DB, email, password string) bool {
	u, err := db.UserByEmail(ctx, email)
	return err == nil && !u.Disabled && bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil
}

// routeDeny is what a caller below a declared admin route's role is told.
func routeDeny(method, path string) string {
	for _, rt := range console.DeclaredRoutes() {
		if rt.Method == method && rt.Path == path {
			return rt.Deny
		}
	}
	return ""
}
