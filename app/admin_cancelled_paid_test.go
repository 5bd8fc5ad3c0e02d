package app

import (
	"net/http"
	"strings"
	"testing"

	"github.com/technifold/technifold/store"
)

// TestDashboardRaisesCancelledOrdersThatWerePaid: a cancelled order Stripe reported paid (the
// store keeps it cancelled with its note) is raised on the dashboard, linked to the cancelled
// orders, where the note says what to do; once refunded it is no longer raised.
func TestDashboardRaisesCancelledOrdersThatWerePaid(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.exec(`INSERT INTO companies (company_id, company_name, created_at, updated_at) VALUES ('ACME', 'Acme', ?1, ?1)`, store.FormatTime(e.db.Now()))
	now := store.FormatTime(e.db.Now())
	e.exec(`INSERT INTO orders (order_id, company_id, status, payment_status, currency, subtotal, total_amount, failure_reason, paid_at, created_at, updated_at)
		VALUES ('ORD-X', 'ACME', 'cancelled', 'paid', 'gbp', 100, 100, ?, ?, ?, ?)`, store.CancelledButPaid, now, now, now)
	e.addUser("ann@example.com", store.RoleStaff, testPassword)
	c := e.login("ann@example.com", testPassword)
	_, body := e.get(c, "/admin")
	if !strings.Contains(body, "1 cancelled order was paid: refund the payment in Stripe, or take the order back.") ||
		!strings.Contains(body, `<a href="/admin/orders?status=cancelled">Show</a>`) {
		t.Fatalf("dashboard does not raise the paid cancelled order:\n%s", body)
	}
	status, body := e.get(c, "/admin/orders?status=cancelled")
	if status != http.StatusOK || !strings.Contains(body, "ORD-X") || !strings.Contains(body, store.CancelledButPaid) {
		t.Fatalf("cancelled orders list (%d) lacks the note:\n%s", status, body)
	}
	e.exec(`UPDATE orders SET payment_status = 'refunded', failure_reason = ? WHERE order_id = 'ORD-X'`, store.CancelledPaidRefunded)
	if _, body = e.get(c, "/admin"); strings.Contains(body, "cancelled order was paid") {
		t.Error("a refunded cancelled order is still raised")
	}
}
