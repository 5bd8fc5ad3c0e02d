package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// A CLI error is one statement: what was not found is named once, not prefixed with itself
// (`company "NOPE": company "NOPE" not found`).
func TestCLIErrorsNameTheSubjectOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "technifold.db")
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	env := map[string]string{"DATABASE_PATH": path, "TOKEN_SECRET": strings.Repeat("s", 40), "LOG_FORMAT": "text"}
	cases := []struct {
		args []string
		want string // the whole last line of stderr
		once string // appears exactly once
	}{
		{[]string{"token", "mint", "--company", "NOPE", "--offer", "reorder"},
			`technifold token: company "NOPE" not found`, `"NOPE"`},
		{[]string{"outbox", "retry", "77"}, `technifold outbox: job 77 not found`, "77"},
		{[]string{"outbox", "cancel", "78"}, `technifold outbox: job 78 not found`, "78"},
		{[]string{"outbox", "retry"}, `technifold outbox: retry: missing job ID`, "outbox"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, env, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		last := lines[len(lines)-1]
		if code == 0 || last != tc.want {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, last, tc.want)
		}
		if n := strings.Count(last, tc.once); n != 1 {
			t.Errorf("%v: %q names %s %d times", tc.args, last, tc.once, n)
		}
	}
	// Errors without a caller-safe message still say what was being done.
	if err := withSubject("retry job 5", context.DeadlineExceeded); err == nil || !strings.HasPrefix(err.Error(), "retry job 5: ") {
		t.Errorf("withSubject on a bare error: %v", err)
	}
	nf := store.Errorf(store.ENOTFOUND, "job %d not found", 5)
	if err := withSubject("retry job 5", nf); err.Error() != "job 5 not found" {
		t.Errorf("withSubject on a self-describing error: %v", err)
	}
}
