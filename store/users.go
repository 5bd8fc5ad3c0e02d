package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Staff roles (users.role). Admins also manage users; staff use everything else.
const (
	RoleAdmin = "admin"
	RoleStaff = "staff"
)

// ValidRole reports whether role is one the users table accepts.
func ValidRole(role string) bool { return role == RoleAdmin || role == RoleStaff }

// User is a staff account of the admin UI.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	Disabled     bool      `json:"disabled"`
	LastLoginAt  time.Time `json:"last_login_at,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	PasswordHash string    `json:"-"`
}

const userColumns = `id, email, password_hash, role, disabled, last_login_at, created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var disabled int
	var lastLogin sql.NullString
	var created string
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &disabled, &lastLogin, &created); err != nil {
		return User{}, err
	}
	u.Disabled = disabled != 0
	if lastLogin.Valid {
		u.LastLoginAt, _ = ParseTime(lastLogin.String)
	}
	u.CreatedAt, _ = ParseTime(created)
	return u, nil
}

// CreateUser adds a staff account; ECONFLICT when the e-mail is taken (case-insensitively).
func (tx *Tx) CreateUser(ctx context.Context, email, passwordHash, role string) (User, error) {
	email = strings.TrimSpace(email)
	if !strings.Contains(email, "@") || len(email) > 254 {
		return User{}, Errorf(EINVALID, "a user needs a valid e-mail address")
	}
	if !ValidRole(role) {
		return User{}, Errorf(EINVALID, "role must be admin or staff, not %q", role)
	}
	if passwordHash == "" {
		return User{}, Errorf(EINVALID, "a user needs a password")
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO users (email, password_hash, role, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?4)`, email, passwordHash, role, tx.NowText())
	if ErrorCode(err) == ECONFLICT {
		return User{}, Errorf(ECONFLICT, "a user with e-mail %s already exists", email)
	}
	if err != nil {
		return User{}, err
	}
	id, err := res.LastInsertId()
	return User{ID: id, Email: email, Role: role, CreatedAt: tx.now, PasswordHash: passwordHash}, err
}

// CountUsers counts staff accounts, disabled ones included.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CountUsers counts staff accounts inside a write transaction.
func (tx *Tx) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, translate(err)
}

// UserByEmail finds an account by e-mail (case-insensitive); ENOTFOUND when there is none.
func (db *DB) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`,
		strings.TrimSpace(email)))
	if IsNoRows(err) {
		return User{}, Errorf(ENOTFOUND, "no user with that e-mail")
	}
	return u, err
}

// GetUser reads one account.
func (db *DB) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if IsNoRows(err) {
		return User{}, Errorf(ENOTFOUND, "user %d not found", id)
	}
	return u, err
}

// ListUsers lists every account, by e-mail.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// SetUserDisabled disables or re-enables an account. Disabling also ends its sessions, and the
// last enabled admin cannot be disabled (nobody could manage users any more).
func (tx *Tx) SetUserDisabled(ctx context.Context, id int64, disabled bool) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if IsNoRows(err) {
		return User{}, Errorf(ENOTFOUND, "user %d not found", id)
	}
	if err != nil {
		return User{}, translate(err)
	}
	if disabled && u.Role == RoleAdmin && !u.Disabled {
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0`).
			Scan(&admins); err != nil {
			return User{}, translate(err)
		}
		if admins <= 1 {
			return User{}, Errorf(ECONFLICT, "%s is the last enabled admin and cannot be disabled", u.Email)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ?2, updated_at = ?3 WHERE id = ?1`,
		id, boolInt(disabled), tx.NowText()); err != nil {
		return User{}, err
	}
	if disabled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return User{}, err
		}
	}
	u.Disabled = disabled
	return u, nil
}

// SetUserPassword replaces an account's password hash and ends its sessions.
func (tx *Tx) SetUserPassword(ctx context.Context, id int64, passwordHash string) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1`,
		id, passwordHash, tx.NowText())
	if n, _ := changed(res, err); !n && err == nil {
		return Errorf(ENOTFOUND, "user %d not found", id)
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
	return err
}

// Session is a signed-in browser. Only a SHA-256 of the session id is stored, so a copy of the
// database does not hand out live sessions.
type Session struct {
	IDHash     string
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry, fixed at login
	IP         string
	UserAgent  string
}

// CreateSession records a new session and the account's last login time.
func (tx *Tx) CreateSession(ctx context.Context, s Session) error {
	now := tx.NowText()
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
		VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)`, s.IDHash, s.UserID, now, FormatTime(s.ExpiresAt),
		nullStr(s.IP), nullStr(clipUserAgent(s.UserAgent, 256))); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = ?2 WHERE id = ?1`, s.UserID, now)
	return err
}

// SessionUser reads a session and its account; ENOTFOUND when the session does not exist.
// Expiry is the caller's policy: it gets both times.
func (db *DB) SessionUser(ctx context.Context, idHash string) (Session, User, error) {
	var s Session
	var created, seen, expires string
	var ip, ua sql.NullString
	var u User
	var disabled int
	var lastLogin sql.NullString
	var userCreated string
	err := db.read.QueryRowContext(ctx, `SELECT s.id_hash, s.user_id, s.created_at, s.last_seen_at, s.expires_at,
			s.ip, s.user_agent, u.id, u.email, u.password_hash, u.role, u.disabled, u.last_login_at, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`, idHash).
		Scan(&s.IDHash, &s.UserID, &created, &seen, &expires, &ip, &ua,
			&u.ID, &u.Email, &u.PasswordHash, &u.Role, &disabled, &lastLogin, &userCreated)
	if IsNoRows(err) {
		return Session{}, User{}, Errorf(ENOTFOUND, "no such session")
	}
	if err != nil {
		return Session{}, User{}, err
	}
	s.CreatedAt, _ = ParseTime(created)
	s.LastSeenAt, _ = ParseTime(seen)
	s.ExpiresAt, _ = ParseTime(expires)
	s.IP, s.UserAgent = ip.String, ua.String
	u.Disabled = disabled != 0
	if lastLogin.Valid {
		u.LastLoginAt, _ = ParseTime(lastLogin.String)
	}
	u.CreatedAt, _ = ParseTime(userCreated)
	return s, u, nil
}

// TouchSession moves a session's idle clock to now.
func (tx *Tx) TouchSession(ctx context.Context, idHash string) error {
	_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1`, idHash, tx.NowText())
	return err
}

// DeleteSession ends a session (logout, or found expired).
func (tx *Tx) DeleteSession(ctx context.Context, idHash string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return err
}

// DeleteExpiredSessions removes sessions past their absolute expiry or idle since idleBefore.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context, idleBefore time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2`,
		tx.NowText(), FormatTime(idleBefore))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AuditEntry is one recorded admin action.
type AuditEntry struct {
	ID        int64           `json:"id"`
	UserID    int64           `json:"user_id,omitempty"`
	Actor     string          `json:"actor"`  // the user's e-mail, "api-token" or "cli"
	Action    string          `json:"action"` // e.g. outbox.retry, user.create, login.failed
	Target    string          `json:"target,omitempty"`
	Detail    json.RawMessage `json:"detail"`
	IP        string          `json:"ip,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// InsertAudit records an admin action; detail is any JSON-encodable value (nil for none).
func (tx *Tx) InsertAudit(ctx context.Context, e AuditEntry, detail any) error {
	if e.Actor == "" || e.Action == "" {
		return Errorf(EINVALID, "an audit entry needs an actor and an action")
	}
	body := "{}"
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return Errorf(EINVALID, "audit detail is not JSON-encodable")
		}
		body = string(b)
	}
	var uid any
	if e.UserID != 0 {
		uid = e.UserID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (user_id, actor, action, target, detail, ip, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, uid, e.Actor, e.Action, nullStr(e.Target), body, nullStr(e.IP), tx.NowText())
	return err
}

// AuditFilter selects audit entries. Empty fields match everything.
type AuditFilter struct {
	Actor    string
	Action   string   // exact, or a prefix ending in "." (e.g. "outbox.")
	BeforeID int64    // keyset paging
	Sort     ListSort // by AuditSortKeys; newest first when empty
	Limit    int      // 100 when zero, at most 500
}

// ListAudit lists audit entries newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	var where []string
	var args []any
	if f.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			where = append(where, "substr(action, 1, ?) = ?")
			args = append(args, len(f.Action), f.Action)
		} else {
			where = append(where, "action = ?")
			args = append(args, f.Action)
		}
	}
	if f.BeforeID > 0 {
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	q := `SELECT id, user_id, actor, action, target, detail, ip, created_at FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	sort := f.Sort
	if sort.Key == "" {
		sort.Desc = true
	}
	order, err := sort.orderBy(AuditSortKeys, "id", "id")
	if err != nil {
		return nil, err
	}
	q += order + " LIMIT ? OFFSET ?"
	args = append(args, limit, max(sort.Offset, 0))
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var uid sql.NullInt64
		var target, ip sql.NullString
		var detail, created string
		if err := rows.Scan(&e.ID, &uid, &e.Actor, &e.Action, &target, &detail, &ip, &created); err != nil {
			return nil, err
		}
		e.UserID, e.Target, e.IP, e.Detail = uid.Int64, target.String, ip.String, json.RawMessage(detail)
		e.CreatedAt, _ = ParseTime(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// clipUserAgent cuts s to at most n bytes, on a rune boundary.
func clipUserAgent(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
