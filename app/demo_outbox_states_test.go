package app

import (
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// TestDemoOutboxShowsEveryStatusOnceServed: serve --demo's worker runs every job the demo
// leaves due as soon as it starts; the outbox screen still has a job in every status then,
// the pending one a Zoho sync put back by the daily-limit pause, with its note.
func TestDemoOutboxShowsEveryStatusOnceServed(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo() // and runs the due jobs, as serve's worker does at start
	for _, s := range store.JobStatuses() {
		if n := demoCount(t, e.db, `SELECT count(*) FROM outbox WHERE status = ?`, s); n == 0 {
			t.Errorf("no %s job once the worker has run", s)
		}
	}
	var lastError, scheduled string
	if err := e.db.Read().QueryRow(`SELECT last_error, scheduled_for FROM outbox WHERE status = 'pending' AND job_type = 'zoho_sync_order'`).
		Scan(&lastError, &scheduled); err != nil {
		t.Fatalf("no deferred Zoho sync: %v", err)
	}
	if !strings.Contains(lastError, "daily API limit reached") || scheduled <= store.FormatTime(e.db.Now()) {
		t.Errorf("deferred job: %q, due %s", lastError, scheduled)
	}
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	_, body := e.get(e.login("ann@example.com", testPassword), "/admin/outbox?status=pending")
	if !strings.Contains(body, "zoho_sync_order") && !strings.Contains(body, "Zoho Books sync") {
		t.Errorf("the outbox's pending list does not show the deferred sync:\n%s", body)
	}
}
