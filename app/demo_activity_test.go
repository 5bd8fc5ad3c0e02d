package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// demoCount runs a count query on the demo database.
func demoCount(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestDemoHasEveryStateOfOrdersJobsAndDeliveries: after one load, the admin's orders, outbox
// and webhook screens have rows in every state the product can reach, made by the real code.
func TestDemoHasEveryStateOfOrdersJobsAndDeliveries(t *testing.T) {
	db := openTestDB(t)
	res, err := LoadDemo(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != len(demoOrders) || res.Jobs == 0 || res.Deliveries == 0 {
		t.Fatalf("first load %+v", res)
	}
	now := db.Now()

	t.Run("orders", func(t *testing.T) {
		for _, s := range store.OrderStatuses() {
			if s == store.OrderCancelled {
				continue // declared, but nothing in the product sets it, so the demo cannot show it
			}
			if demoCount(t, db, `SELECT count(*) FROM orders WHERE status = ?`, s) == 0 {
				t.Errorf("no %s order", s)
			}
		}
		for _, s := range store.PaymentStatuses() {
			if demoCount(t, db, `SELECT count(*) FROM orders WHERE payment_status = ?`, s) == 0 {
				t.Errorf("no order with payment status %s", s)
			}
		}
		if n := demoCount(t, db, `SELECT count(DISTINCT currency) FROM orders`); n != 3 {
			t.Errorf("orders in %d currencies, want 3", n)
		}
		if n := demoCount(t, db, `SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.order_id)`); n != 0 {
			t.Errorf("%d orders without items", n)
		}
		// Paid through the Stripe path: sales rows appended, engagement events recorded.
		if n := demoCount(t, db, `SELECT count(*) FROM orders o WHERE status = 'paid' AND NOT EXISTS
				(SELECT 1 FROM sales s WHERE s.order_id = o.order_id AND s.source = 'stripe')`); n != 0 {
			t.Errorf("%d paid orders without their sales rows", n)
		}
		if n := demoCount(t, db, `SELECT count(*) FROM order_refunds`); n != 2 {
			t.Errorf("%d refunds booked, want 2", n)
		}
		var reason string
		if err := db.Read().QueryRow(`SELECT failure_reason FROM orders WHERE failure_reason LIKE '%insufficient funds%'`).Scan(&reason); err != nil {
			t.Errorf("no order failed with the card's decline: %v", err)
		}
	})

	t.Run("jobs", func(t *testing.T) {
		for _, s := range store.JobStatuses() {
			if demoCount(t, db, `SELECT count(*) FROM outbox WHERE status = ?`, s) == 0 {
				t.Errorf("no %s job", s)
			}
		}
		jobs, err := db.ListJobs(context.Background(), store.JobFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, j := range jobs {
			switch j.Status {
			case store.JobFailed:
				seen["failed"] = true
				if j.Attempts != 3 || len(j.Errors) != 3 || !j.ScheduledFor.After(now) {
					t.Errorf("failed job %d: %d attempts, %d errors, next at %s", j.ID, j.Attempts, len(j.Errors), j.ScheduledFor)
				}
				for _, e := range j.Errors {
					if !strings.Contains(e.Error, "zoho books is not configured: set ZOHO_CLIENT_ID") {
						t.Errorf("failed job %d: error %q is not the Zoho handler's", j.ID, e.Error)
					}
				}
				// The retries follow the store's schedule: 5 then 10 minutes after each failure.
				if len(j.Errors) == 3 {
					if d := j.Errors[1].At.Sub(j.Errors[0].At); d < store.RetryDelay(1) || d > store.RetryDelay(1)+time.Minute {
						t.Errorf("second attempt %s after the first", d)
					}
				}
			case store.JobDead:
				seen["dead"] = true
				if j.Attempts != j.MaxAttempts || len(j.Errors) != j.MaxAttempts || !strings.Contains(j.LastError, "connection refused") {
					t.Errorf("dead job %d: %d/%d attempts, %d errors, last %q", j.ID, j.Attempts, j.MaxAttempts, len(j.Errors), j.LastError)
				}
			case store.JobProcessing:
				if j.LockedBy != demoWorker || !j.LockedUntil.After(now) {
					t.Errorf("processing job %d: locked by %q until %s", j.ID, j.LockedBy, j.LockedUntil)
				}
			case store.JobCompleted:
				if len(j.Result) == 0 || j.CompletedAt.IsZero() {
					t.Errorf("completed job %d: result %s at %s", j.ID, j.Result, j.CompletedAt)
				}
			case store.JobCancelled:
				if len(j.Errors) == 0 {
					t.Errorf("cancelled job %d has no failed attempt", j.ID)
				}
			}
		}
		if !seen["failed"] || !seen["dead"] {
			t.Errorf("statuses seen %v", seen)
		}
	})

	t.Run("deliveries", func(t *testing.T) {
		for _, c := range []struct{ provider, status string }{
			{"stripe", "processed"}, {"stripe", "ignored"}, {"stripe", "failed"}, {"stripe", "rejected"},
			{"zoho", "processed"}, {"zoho", "failed"}, {"zoho", "rejected"},
		} {
			if demoCount(t, db, `SELECT count(*) FROM webhook_deliveries WHERE provider = ? AND status = ?`, c.provider, c.status) == 0 {
				t.Errorf("no %s delivery %s", c.provider, c.status)
			}
		}
		// Accepted deliveries went through the handlers: their engagement events are there.
		if n := demoCount(t, db, `SELECT count(*) FROM engagement_events WHERE source = 'stripe'`); n < 10 {
			t.Errorf("%d Stripe engagement events", n)
		}
		if n := demoCount(t, db, `SELECT count(*) FROM engagement_events WHERE source = 'zoho' AND source_event_id LIKE 'zoho-demo-%'`); n != len(demoZohoEvents) {
			t.Errorf("%d Zoho webhook events, want %d", n, len(demoZohoEvents))
		}
		// The failed deliveries keep their bodies, so they can be replayed.
		for _, p := range []string{"stripe", "zoho"} {
			if n := demoCount(t, db, `SELECT count(*) FROM webhook_deliveries WHERE provider = ? AND status = 'failed' AND body IS NOT NULL`, p); n == 0 {
				t.Errorf("no replayable failed %s delivery", p)
			}
			// Refused for two different reasons (signature or secret, and body), each on its own row.
			if n := demoCount(t, db, `SELECT count(DISTINCT error) FROM webhook_deliveries WHERE provider = ? AND status = 'rejected'`, p); n < 2 {
				t.Errorf("%s refusals with %d reason(s), want 2", p, n)
			}
		}
	})

	t.Run("spread over weeks", func(t *testing.T) {
		for _, c := range []struct {
			table, column string
		}{{"orders", "created_at"}, {"webhook_deliveries", "received_at"}, {"outbox", "created_at"}} {
			var last24, last7, last30 int
			if err := db.Read().QueryRow(fmt.Sprintf(`SELECT
					count(*) FILTER (WHERE %[2]s >= ?1),
					count(*) FILTER (WHERE %[2]s < ?1 AND %[2]s >= ?2),
					count(*) FILTER (WHERE %[2]s < ?2 AND %[2]s >= ?3) FROM %[1]s`, c.table, c.column),
				store.FormatTime(now.Add(-24*time.Hour)), store.FormatTime(now.Add(-7*24*time.Hour)),
				store.FormatTime(now.Add(-30*24*time.Hour))).Scan(&last24, &last7, &last30); err != nil {
				t.Fatal(err)
			}
			if last24 == 0 || last7 == 0 || last30 == 0 {
				t.Errorf("%s.%s: %d in the last 24 h, %d more in 7 d, %d more in 30 d", c.table, c.column, last24, last7, last30)
			}
			var future int
			if err := db.Read().QueryRow(fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s > ?`, c.table, c.column),
				store.FormatTime(now)).Scan(&future); err != nil || future != 0 {
				t.Errorf("%s.%s: %d in the future %v", c.table, c.column, future, err)
			}
		}
	})
}

// tableFingerprints hashes every row of every table, so a test sees any change at all.
func tableFingerprints(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	rows, err := db.Read().Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, table := range tables {
		r, err := db.Read().Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		h := sha256.New()
		n := 0
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%v\n", vals)
			n++
		}
		r.Close()
		out[table] = fmt.Sprintf("%d rows %s", n, hex.EncodeToString(h.Sum(nil))[:16])
	}
	return out
}

// TestDemoSecondLoadChangesNothing: a second load writes no row of any table, orders, jobs and
// deliveries included.
func TestDemoSecondLoadChangesNothing(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	if _, err := LoadDemo(ctx, db); err != nil {
		t.Fatal(err)
	}
	before := tableFingerprints(t, db)
	second, err := LoadDemo(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if second.Changed != 0 || second.Orders != 0 || second.Jobs != 0 || second.Deliveries != 0 {
		t.Errorf("second load reports %+v", second)
	}
	after := tableFingerprints(t, db)
	for table, fp := range before {
		if after[table] != fp {
			t.Errorf("%s changed on the second load: %s → %s", table, fp, after[table])
		}
	}
	if len(after) != len(before) || len(before) < 10 {
		t.Errorf("tables %d → %d", len(before), len(after))
	}
}

// TestDemoAdminScreensListRowsAndTryRetryAndReplay: signed in after a demo load, the orders,
// outbox and webhook deliveries pages list the demo's rows, and the failed delivery and the
// dead job can be replayed and retried from them.
func TestDemoAdminScreensListRowsAndTryRetryAndReplay(t *testing.T) {
	e := newAdminEnv(t, adminEnvOptions{})
	e.loadDemo()
	e.addUser("ops@example.com", store.RoleAdmin, "correct horse battery staple")
	c := e.login("ops@example.com", "correct horse battery staple")
	var replayOrder string
	if err := e.db.Read().QueryRow(`SELECT order_id FROM orders WHERE stripe_checkout_session_id = 'cs_demo_10'`).Scan(&replayOrder); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		path string
		want []string
	}{
		{"/admin", []string{`<svg class="chart"`, "Checkouts completed"}}, // the 30-day revenue chart has paid orders
		{"/admin/orders", []string{replayOrder, "ORD-000001", "refunded", "expired", "failed"}},
		{"/admin/outbox", []string{"zoho_sync_order", "send_offer_email", "dead", "processing", "cancelled"}},
		{"/admin/webhooks", []string{"evt_demo_01_completed", "checkout.session.completed", ">refused</span>"}},
		{"/admin/webhooks?provider=zoho", []string{"zoho-demo-1", "email_opened", "zoho-demo-8", "no contact with that e-mail"}},
		{"/admin/webhooks?status=refused", []string{"signature does not match STRIPE_WEBHOOK_SECRET",
			"X-Zoho-Secret does not match ZOHO_WEBHOOK_SECRET", "body is not valid JSON"}},
	} {
		code, body := e.get(c, p.path)
		if code != http.StatusOK {
			t.Errorf("%s: %d", p.path, code)
			continue
		}
		for _, w := range p.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s does not show %q", p.path, w)
			}
		}
		if strings.Contains(body, "No paid orders in the last 30 days") {
			t.Errorf("%s: no paid orders in the last 30 days", p.path)
		}
	}

	// Replay the failed delivery: its order gets paid.
	var delivery int64
	if err := e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE event_id = 'evt_demo_10_completed'`).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	resp := e.postForm(c, fmt.Sprintf("/admin/webhooks/%d/replay", delivery), url.Values{})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replay: %d", resp.StatusCode)
	}
	if o, err := e.db.GetOrder(context.Background(), replayOrder); err != nil || o.Status != store.OrderPaid {
		t.Fatalf("after replay order %s is %s (%v)", replayOrder, o.Status, err)
	}

	// Replay the failed Zoho delivery (its contact has been imported since): it applies.
	if err := e.db.Read().QueryRow(`SELECT id FROM webhook_deliveries WHERE event_id = ?`, demoZohoFailed.id).Scan(&delivery); err != nil {
		t.Fatal(err)
	}
	resp = e.postForm(c, fmt.Sprintf("/admin/webhooks/%d/replay", delivery), url.Values{})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("zoho replay: %d", resp.StatusCode)
	}
	if n := demoCount(t, e.db, `SELECT count(*) FROM engagement_events WHERE source_event_id = ? AND contact_id = ?`,
		demoZohoFailed.id, demoZohoFailed.contactID); n != 1 {
		t.Fatalf("after the Zoho replay: %d engagement events", n)
	}

	// Retry the dead job: it is due again with its attempts back and its history kept.
	var dead int64
	if err := e.db.Read().QueryRow(`SELECT id FROM outbox WHERE status = 'dead' ORDER BY id LIMIT 1`).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	resp = e.postForm(c, fmt.Sprintf("/admin/jobs/%d/retry", dead), url.Values{})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", resp.StatusCode)
	}
	var errs int
	var status store.JobStatus
	if err := e.db.Read().QueryRow(`SELECT status, json_array_length(errors) FROM outbox WHERE id = ?`, dead).Scan(&status, &errs); err != nil {
		t.Fatal(err)
	}
	if status == store.JobDead || errs < 5 {
		t.Fatalf("after retry job %d is %s with %d errors", dead, status, errs)
	}
}

// BenchmarkLoadDemo is the demo's load into an empty database, as `serve --demo` does at start.
func BenchmarkLoadDemo(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		db, err := store.Open(context.Background(), b.TempDir()+"/demo.db", store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := LoadDemo(context.Background(), db); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}
