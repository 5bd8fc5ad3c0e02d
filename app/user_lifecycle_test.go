package app

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// runCLI runs one technifold command in-process against the env's database file.
func (e *adminEnv) runCLI(stdin string, args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "DATABASE_PATH" {
			return e.cfg.DatabasePath
		}
		return ""
	}}
	code = Main(context.Background(), args, env)
	return code, out.String(), errb.String()
}

// signInStatus posts the login form and returns its status (303 signed in, else refused).
func (e *adminEnv) signInStatus(email, password string) int {
	e.t.Helper()
	resp := e.postForm(e.client(), "/admin/login", url.Values{"email": {email}, "password": {password}})
	resp.Body.Close()
	return resp.StatusCode
}

// `user password` sets a new password (read from standard input, or generated and printed
// once), ends the user's sessions at once, and is audited; the old password stops working.
func TestUserPasswordCommandEndsSessions(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("boss@example.com", store.RoleAdmin, testPassword)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	sam := e.login("sam@example.com", testPassword)
	boss := e.login("boss@example.com", testPassword)
	if status, _ := e.get(sam, "/admin"); status != http.StatusOK {
		t.Fatalf("signed-in staff: %d", status)
	}

	code, out, errOut := e.runCLI("a brand new password\n", "user", "password", "--email", "SAM@example.com")
	if code != 0 || !strings.Contains(out, "password of sam@example.com changed; their sessions have ended") {
		t.Fatalf("user password: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "a brand new password") || strings.Contains(out, "password:") {
		t.Fatalf("a password read from stdin must not be printed: %s", out)
	}
	if status, _ := e.get(sam, "/admin"); status != http.StatusSeeOther {
		t.Fatalf("sam's session outlived the password change: %d", status)
	}
	if status, _ := e.get(boss, "/admin"); status != http.StatusOK {
		t.Fatalf("another user's session ended: %d", status)
	}
	if st := e.signInStatus("sam@example.com", testPassword); st == http.StatusSeeOther {
		t.Fatal("the old password still signs in")
	}
	e.login("sam@example.com", "a brand new password")

	// Nothing piped: a generated password, printed once, that signs in.
	code, out, _ = e.runCLI("", "user", "password", "--email", "sam@example.com")
	i := strings.Index(out, "password: ")
	if code != 0 || i < 0 {
		t.Fatalf("generated password: exit %d\n%s", code, out)
	}
	e.login("sam@example.com", strings.Fields(out[i+len("password: "):])[0])

	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"short\n", []string{"user", "password", "--email", "sam@example.com"}, 1, "at least 10"},
		{"a long enough password\n", []string{"user", "password", "--email", "nobody@example.com"}, 1, "no user with that e-mail"},
		{"", []string{"user", "password"}, 1, "--email is required"},
	} {
		if code, _, errOut := e.runCLI(tc.stdin, tc.args...); code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
	entries, err := e.db.ListAudit(context.Background(), store.AuditFilter{Actor: "cli", Action: "user.password"})
	if err != nil || len(entries) != 2 || entries[0].Target != "sam@example.com" {
		t.Fatalf("audit: %+v %v", entries, err)
	}
}

// `user enable` and the admin's "enable user" action give a disabled account its sign-in back,
// audited; staff cannot do it, and an unknown id is a 404.
func TestUserEnableByCommandAndAdminAction(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.addUser("boss@example.com", store.RoleAdmin, testPassword)
	e.addUser("sam@example.com", store.RoleStaff, testPassword)
	e.addUser("kim@example.com", store.RoleStaff, testPassword)
	boss := e.login("boss@example.com", testPassword)
	kim := e.login("kim@example.com", testPassword)
	sam := e.mustUser("sam@example.com")
	path := "/admin/users/" + strconv.FormatInt(sam.ID, 10)

	// The command line.
	if code, out, errOut := e.runCLI("", "user", "disable", "--email", "sam@example.com"); code != 0 || !strings.Contains(out, "is disabled") {
		t.Fatalf("disable: %d %s %s", code, out, errOut)
	}
	if st := e.signInStatus("sam@example.com", testPassword); st == http.StatusSeeOther {
		t.Fatal("a disabled user signed in")
	}
	if code, out, errOut := e.runCLI("", "user", "enable", "--email", "sam@example.com"); code != 0 || !strings.Contains(out, "sam@example.com is enabled") {
		t.Fatalf("enable: %d %s %s", code, out, errOut)
	}
	if e.mustUser("sam@example.com").Disabled {
		t.Fatal("still disabled after user enable")
	}
	e.login("sam@example.com", testPassword)
	if code, _, errOut := e.runCLI("", "user", "enable", "--email", "ghost@example.com"); code != 1 || !strings.Contains(errOut, "no user with that e-mail") {
		t.Fatalf("enable unknown: %d %s", code, errOut)
	}
	if code, out, _ := e.runCLI("", "user", "list"); code != 0 || !strings.Contains(out, "sam@example.com") || strings.Contains(out, "disabled") {
		t.Fatalf("list after enable: %s", out)
	}

	// The admin UI.
	if resp := e.postForm(boss, path+"/disable", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp := e.postForm(kim, path+"/enable", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("staff enabling a user: %d", resp.StatusCode)
	}
	if !e.mustUser("sam@example.com").Disabled {
		t.Fatal("staff enabled a user")
	}
	resp := e.postForm(boss, path+"/enable", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") == "" {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	if e.mustUser("sam@example.com").Disabled {
		t.Fatal("still disabled after the admin enabled the account")
	}
	if _, body := e.get(boss, resp.Header.Get("Location")); !strings.Contains(body, "sam@example.com is enabled") {
		t.Fatalf("no notice after enabling: %s", body)
	}
	e.login("sam@example.com", testPassword)
	if resp := e.postForm(boss, "/admin/users/999999/enable", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("enable unknown id: %d", resp.StatusCode)
	}

	var cli, ui int
	entries, _ := e.db.ListAudit(context.Background(), store.AuditFilter{Action: "user.enable", Limit: 50})
	for _, a := range entries {
		if a.Target != "sam@example.com" {
			t.Fatalf("audit target %+v", a)
		}
		switch a.Actor {
		case "cli":
			cli++
		case "boss@example.com":
			ui++
		}
	}
	if cli != 1 || ui != 1 {
		t.Fatalf("user.enable audit entries: cli %d, admin %d (%+v)", cli, ui, entries)
	}
}
