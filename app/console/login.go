package console

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// maxFormBody caps admin form posts.
const maxFormBody = 64 << 10

// parseAdminForm reads a form post of bounded size.
func parseAdminForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return web.Invalidf("could not read the form")
	}
	return nil
}

type loginPage struct {
	Email, Next, Message string
}

func (p loginPage) errorText() string { return p.Message }

func (s *Console) handleLoginForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if p, err := s.sessionFromRequest(r); err == nil && p != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, pageLogin, "Sign in", loginPage{Next: r.URL.Query().Get("next")})
}

// handleLogin reserves the attempt's slots in the sign-in windows (the server's Guard), then checks
// the password: beyond a limit the answer is 429 with nothing verified or written. A success
// gives the slots back, starts a new session (the old one, if any, ends) audited in the same
// transaction, and renews the browser's device cookie; a failure keeps its slots and is audited.
func (s *Console) handleLogin(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := parseAdminForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if len(email) > 254 {
		email = email[:254]
	}
	password, next := r.PostForm.Get("password"), r.PostForm.Get("next")
	ip := s.clientIP(r)
	page := loginPage{Email: email, Next: next}
	device := s.deviceFor(r, email)
	release, wait := s.svc.ReserveSignIn(email, ip, device)
	if release == nil {
		setRetryAfter(w, wait)
		page.Message = "Too many failed sign-in attempts. Wait " + strconv.Itoa(int(math.Ceil(wait.Minutes()))) +
			" minute(s) and try again, or ask an admin to check your account."
		s.render(w, r, http.StatusTooManyRequests, pageLogin, "Sign in", page)
		return
	}
	user, err := s.authenticate(ctx, email, password)
	if store.ErrorCode(err) == store.EUNAUTHORIZED {
		// The failure keeps its slots, so failures are audited at most once per slot.
		entry := store.AuditEntry{Actor: email, Action: "login.failed", IP: ip}
		if entry.Actor == "" {
			entry.Actor = "anonymous"
		}
		if err := s.db.Update(ctx, func(tx *store.Tx) error { return tx.InsertAudit(ctx, entry, nil) }); err != nil {
			s.logger.Error("audit failed login", "error", err)
		}
		page.Message = "Wrong e-mail or password."
		s.render(w, r, http.StatusUnauthorized, pageLogin, "Sign in", page)
		return
	}
	release() // a success, or a password never checked
	if err != nil {
		var busy *BusyError
		if errors.As(err, &busy) {
			setRetryAfter(w, busy.RetryAfter)
		}
		s.renderError(w, r, err)
		return
	}
	if device != "" {
		s.svc.ForgetSignInDevice(email, device)
	}
	var cookie *http.Cookie
	var deviceKey []byte
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		if old, err := r.Cookie(adminCookie); err == nil && old.Value != "" {
			if err := tx.DeleteSession(ctx, hashSecret(old.Value)); err != nil {
				return err
			}
		}
		// Sign-ins are rare, so they sweep everyone's expired sessions on the way.
		if _, err := tx.DeleteExpiredSessions(ctx, tx.Now().Add(-sessionIdle)); err != nil {
			return err
		}
		var err error
		if deviceKey, err = ensureDeviceKey(ctx, tx); err != nil {
			return err
		}
		if cookie, err = s.startSession(ctx, tx, r, user); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, store.AuditEntry{UserID: user.ID, Actor: user.Email, Action: "login", IP: ip}, nil)
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.devices.remember(deviceKey)
	s.suggestions.warm() // computed in the background while the first page loads
	http.SetCookie(w, cookie)
	http.SetCookie(w, s.newDeviceCookie(deviceKey, user.Email, device))
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (s *Console) handleLogout(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	ctx := r.Context()
	p := principalFrom(ctx)
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteSession(ctx, p.SessionHash); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, s.auditEntry(r, "logout", ""), nil)
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	http.SetCookie(w, s.adminCookie("", -1))
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

type setupPage struct {
	Token, Email, Message string
}

func (p setupPage) errorText() string { return p.Message }

const setupInvalid = "This setup link is invalid, used or expired. Restart the server to print a new one, or create an admin with 'technifold user create'."

func (s *Console) handleSetupForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	token := r.URL.Query().Get("token")
	if n, err := s.db.CountUsers(r.Context()); err != nil || n > 0 || !s.validSetupToken(r.Context(), token) {
		s.renderStatus(w, r, http.StatusGone, setupInvalid)
		return
	}
	s.render(w, r, http.StatusOK, pageSetup, "Create the first admin", setupPage{Token: token})
}

// handleSetup creates the first admin from the one-time link, consuming the token in the same
// transaction, and signs them in.
func (s *Console) handleSetup(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := parseAdminForm(w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	ctx := r.Context()
	f := r.PostForm
	page := setupPage{Token: f.Get("token"), Email: strings.TrimSpace(f.Get("email"))}
	if f.Get("password") != f.Get("confirm") {
		page.Message = "The two passwords differ."
		s.render(w, r, http.StatusBadRequest, pageSetup, "Create the first admin", page)
		return
	}
	hash, err := HashPassword(f.Get("password"))
	if err != nil {
		page.Message = store.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, pageSetup, "Create the first admin", page)
		return
	}
	var cookie *http.Cookie
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		if err := consumeSetupToken(ctx, tx, page.Token); err != nil {
			return err
		}
		user, err := tx.CreateUser(ctx, page.Email, hash, store.RoleAdmin)
		if err != nil {
			return err
		}
		if err := tx.InsertAudit(ctx, store.AuditEntry{UserID: user.ID, Actor: user.Email, Action: "user.setup",
			Target: user.Email, IP: s.clientIP(r)}, map[string]string{"role": store.RoleAdmin}); err != nil {
			return err
		}
		cookie, err = s.startSession(ctx, tx, r, user)
		return err
	})
	switch store.ErrorCode(err) {
	case "":
	case store.EINVALID:
		page.Message = store.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, pageSetup, "Create the first admin", page)
		return
	case store.EUNAUTHORIZED, store.ECONFLICT:
		s.renderStatus(w, r, http.StatusGone, setupInvalid)
		return
	default:
		s.renderError(w, r, err)
		return
	}
	http.SetCookie(w, cookie)
	s.redirectNotice(w, r, "/admin", "Welcome! Your admin account is ready.")
}

// Sign-in and first-admin setup are public; signing out needs a session.
var (
	pageLogin = declarePage(adminPage{key: pageKey{"login"}})
	pageSetup = declarePage(adminPage{key: pageKey{"setup"}})

	_ = declareAdminRoutes(
		adminRoute{method: http.MethodGet, path: "/admin/login", role: rolePublic, handle: (*Console).handleLoginForm},
		adminRoute{method: http.MethodPost, path: "/admin/login", role: rolePublic, handle: (*Console).handleLogin},
		adminRoute{method: http.MethodGet, path: "/admin/setup", role: rolePublic, handle: (*Console).handleSetupForm},
		adminRoute{method: http.MethodPost, path: "/admin/setup", role: rolePublic, handle: (*Console).handleSetup},
		adminRoute{method: http.MethodPost, path: "/admin/logout", role: roleStaff, handle: (*Console).handleLogout},
	)
)
