package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestUsersAreUniqueCaseInsensitivelyAndRolesChecked(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		email, role string
		want        string
	}{
		{"Ann@Example.com", RoleAdmin, ""},
		{"ann@example.com", RoleStaff, ECONFLICT},
		{"bob@example.com", "owner", EINVALID},
		{"not-an-email", RoleStaff, EINVALID},
		{"bob@example.com", RoleStaff, ""},
	} {
		err := db.Update(ctx, func(tx *Tx) error {
			_, err := tx.CreateUser(ctx, tc.email, "$2a$10$hash", tc.role)
			return err
		})
		if got := ErrorCode(err); got != tc.want {
			t.Errorf("CreateUser(%q, %q) = %v, want code %q", tc.email, tc.role, err, tc.want)
		}
	}
	u, err := db.UserByEmail(ctx, " ANN@example.COM ")
	if err != nil || u.Role != RoleAdmin || u.Email != "Ann@Example.com" {
		t.Fatalf("UserByEmail: %+v %v", u, err)
	}
	if users, _ := db.ListUsers(ctx); len(users) != 2 {
		t.Fatalf("%d users", len(users))
	}
}

func TestLastEnabledAdminCannotBeDisabledAndDisablingEndsSessions(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	var admin, staff User
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		if admin, err = tx.CreateUser(ctx, "admin@example.com", "h", RoleAdmin); err != nil {
			return err
		}
		if staff, err = tx.CreateUser(ctx, "staff@example.com", "h", RoleStaff); err != nil {
			return err
		}
		return tx.CreateSession(ctx, Session{IDHash: "abc", UserID: staff.ID, ExpiresAt: tx.Now().Add(time.Hour)})
	})
	err := db.Update(ctx, func(tx *Tx) error { _, err := tx.SetUserDisabled(ctx, admin.ID, true); return err })
	if ErrorCode(err) != ECONFLICT || !strings.Contains(ErrorMessage(err), "last enabled admin") {
		t.Fatalf("disabling the only admin: %v", err)
	}
	mustUpdate(t, db, func(tx *Tx) error { _, err := tx.SetUserDisabled(ctx, staff.ID, true); return err })
	if _, _, err := db.SessionUser(ctx, "abc"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("session of a disabled user: %v", err)
	}
	if u, _ := db.GetUser(ctx, staff.ID); !u.Disabled {
		t.Fatal("not disabled")
	}
}

func TestSessionsCarryTimesAndExpireBySweep(t *testing.T) {
	now := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	db := openTest(t, Options{Now: clock})
	ctx := context.Background()
	var u User
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		if u, err = tx.CreateUser(ctx, "ann@example.com", "h", RoleStaff); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, Session{IDHash: "old", UserID: u.ID, ExpiresAt: now.Add(12 * time.Hour),
			IP: "127.0.0.1", UserAgent: strings.Repeat("é", 300)}); err != nil {
			return err
		}
		return tx.CreateSession(ctx, Session{IDHash: "new", UserID: u.ID, ExpiresAt: now.Add(12 * time.Hour)})
	})
	s, user, err := db.SessionUser(ctx, "old")
	if err != nil || user.ID != u.ID || !s.LastSeenAt.Equal(now) || !s.ExpiresAt.Equal(now.Add(12*time.Hour)) ||
		len(s.UserAgent) > 256 || !strings.HasPrefix(s.UserAgent, "é") || user.LastLoginAt.IsZero() {
		t.Fatalf("SessionUser: %+v %+v %v", s, user, err)
	}
	now = now.Add(3 * time.Hour)
	mustUpdate(t, db, func(tx *Tx) error { return tx.TouchSession(ctx, "new") })
	var swept int64
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		swept, err = tx.DeleteExpiredSessions(ctx, now.Add(-2*time.Hour))
		return err
	})
	if swept != 1 {
		t.Fatalf("swept %d sessions, want the idle one", swept)
	}
	if _, _, err := db.SessionUser(ctx, "new"); err != nil {
		t.Fatalf("the active session was swept: %v", err)
	}
}

func TestAuditLogFiltersAndPages(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		for i, a := range []string{"login", "outbox.retry", "outbox.cancel", "user.create", "outbox.retry"} {
			actor := "ann@example.com"
			if i%2 == 1 {
				actor = "api-token"
			}
			if err := tx.InsertAudit(ctx, AuditEntry{Actor: actor, Action: a, Target: "job:1"}, map[string]int{"n": i}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := db.Update(ctx, func(tx *Tx) error { return tx.InsertAudit(ctx, AuditEntry{Action: "x"}, nil) }); ErrorCode(err) != EINVALID {
		t.Fatalf("audit without actor: %v", err)
	}
	for _, tc := range []struct {
		f    AuditFilter
		want int
	}{
		{AuditFilter{}, 5},
		{AuditFilter{Action: "outbox."}, 3},
		{AuditFilter{Action: "outbox.retry"}, 2},
		{AuditFilter{Actor: "api-token"}, 2},
		{AuditFilter{Limit: 2}, 2},
	} {
		got, err := db.ListAudit(ctx, tc.f)
		if err != nil || len(got) != tc.want {
			t.Errorf("ListAudit(%+v) = %d entries, %v; want %d", tc.f, len(got), err, tc.want)
		}
	}
	first, _ := db.ListAudit(ctx, AuditFilter{Limit: 2})
	rest, _ := db.ListAudit(ctx, AuditFilter{BeforeID: first[1].ID})
	if len(rest) != 3 || rest[0].ID >= first[1].ID || string(rest[2].Detail) != `{"n":0}` {
		t.Fatalf("second page: %+v", rest)
	}
}

// SetUserPassword replaces the hash and ends that account's sessions, and only that account's.
func TestSetUserPasswordEndsOnlyThatUsersSessions(t *testing.T) {
	now := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	var ann, bob User
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		if ann, err = tx.CreateUser(ctx, "ann@example.com", "old-hash", RoleAdmin); err != nil {
			return err
		}
		if bob, err = tx.CreateUser(ctx, "bob@example.com", "bob-hash", RoleStaff); err != nil {
			return err
		}
		for _, s := range []Session{{IDHash: "ann-1", UserID: ann.ID}, {IDHash: "ann-2", UserID: ann.ID}, {IDHash: "bob-1", UserID: bob.ID}} {
			s.ExpiresAt = tx.Now().Add(time.Hour)
			if err := tx.CreateSession(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	now = now.Add(time.Minute)
	mustUpdate(t, db, func(tx *Tx) error { return tx.SetUserPassword(ctx, ann.ID, "new-hash") })
	for _, id := range []string{"ann-1", "ann-2"} {
		if _, _, err := db.SessionUser(ctx, id); ErrorCode(err) != ENOTFOUND {
			t.Fatalf("session %s after the password change: %v", id, err)
		}
	}
	if _, u, err := db.SessionUser(ctx, "bob-1"); err != nil || u.ID != bob.ID {
		t.Fatalf("another user's session: %+v %v", u, err)
	}
	got, err := db.UserByEmail(ctx, "ann@example.com")
	if err != nil || got.PasswordHash != "new-hash" {
		t.Fatalf("user after the change: %+v %v", got, err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM users WHERE id = ? AND updated_at = ?`, ann.ID, FormatTime(now)); n != 1 {
		t.Fatal("updated_at not stamped with the transaction's time")
	}
	err = db.Update(ctx, func(tx *Tx) error { return tx.SetUserPassword(ctx, 424242, "x") })
	if ErrorCode(err) != ENOTFOUND {
		t.Fatalf("unknown user: %v", err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM sessions`); n != 1 {
		t.Fatalf("%d sessions left, want bob's", n)
	}
}
