package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The domain's closed lists are declared in Go (job kinds, Stripe event types, event names,
// suggestion rules, statuses). The schema holds some of them too, in CHECK constraints and in
// the views; these tests read a migrated database file and fail when the two drift apart.

func openDeclDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "decl.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// schemaSQL is the CREATE statement of a table or view, as the migrated file holds it.
func schemaSQL(t *testing.T, db *DB, name string) string {
	t.Helper()
	var sql string
	if err := db.Read().QueryRow(`SELECT sql FROM sqlite_schema WHERE name = ?`, name).Scan(&sql); err != nil {
		t.Fatalf("schema of %s: %v", name, err)
	}
	return sql
}

// checkValues is the set of literals a table's CHECK constraints allow for column: it reads
// both "col IN ('a', 'b')" and the "col = 'a' OR col = 'b'" form migration 0008 rewrites it to.
func checkValues(t *testing.T, db *DB, table, column string) []string {
	t.Helper()
	var cols []string
	rows, err := db.Read().Query(`SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		_ = rows.Scan(&c)
		cols = append(cols, c)
	}
	rows.Close()
	if !slices.Contains(cols, column) {
		t.Fatalf("%s has no column %s (columns %v)", table, column, cols)
	}
	sql := schemaSQL(t, db, table)
	col := regexp.QuoteMeta(column)
	var out []string
	for _, m := range regexp.MustCompile(`(?:^|[^\w])`+col+`\s*=\s*'([^']*)'`).FindAllStringSubmatch(sql, -1) {
		out = append(out, m[1])
	}
	for _, m := range regexp.MustCompile(`(?:^|[^\w])`+col+`\s+IN\s*\(([^)]*)\)`).FindAllStringSubmatch(sql, -1) {
		for _, v := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
			out = append(out, v[1])
		}
	}
	if len(out) == 0 {
		t.Fatalf("no CHECK list for %s.%s in %s", table, column, sql)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func TestDeclaredStatusesMatchTheSchemaChecks(t *testing.T) {
	db := openDeclDB(t)
	for _, tc := range []struct {
		table, column string
		declared      []string
	}{
		{"orders", "status", strs(OrderStatuses())},
		{"orders", "payment_status", strs(PaymentStatuses())},
		{"outbox", "status", strs(JobStatuses())},
		{"webhook_deliveries", "status", []string{DeliveryProcessed, DeliveryDuplicate, DeliveryIgnored, DeliveryRejected, DeliveryFailed}},
		{"users", "role", []string{RoleAdmin, RoleStaff}},
		{"engagement_events", "source", EventSources()},
		{"contacts", "marketing_status", []string{MarketingSubscribed, MarketingUnsubscribed, MarketingBounced, MarketingPending}},
	} {
		got := checkValues(t, db, tc.table, tc.column)
		if want := sortedCopy(tc.declared); !slices.Equal(got, want) {
			t.Errorf("%s.%s: CHECK allows %v, Go declares %v", tc.table, tc.column, got, want)
		}
	}
}

func TestCheckValuesReadsBothForms(t *testing.T) {
	// The reader must not pass vacuously: payment_status must not be read as status.
	db := openDeclDB(t)
	if got := checkValues(t, db, "orders", "status"); slices.Contains(got, "partially_refunded") {
		t.Fatalf("orders.status read payment_status's values: %v", got)
	}
}

// snakeLiteral matches the quoted snake_case words of a view's SQL (event and rule names).
var snakeLiteral = regexp.MustCompile(`'([a-z]+(?:_[a-z]+)+)'`)

func TestDeclaredEventNamesMatchTheFeedView(t *testing.T) {
	db := openDeclDB(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	names := EventNames()
	seen := map[EventName]bool{}
	for _, e := range names {
		if seen[e.Name] {
			t.Fatalf("event name %s declared twice", e.Name)
		}
		seen[e.Name] = true
		if !slices.Contains(EventCategories(), e.Category) || e.Category.Weight() == 0 {
			t.Errorf("%s: category %q is not declared or has no weight", e.Name, e.Category)
		}
	}
	mustUpdate(t, db, func(tx *Tx) error {
		for _, e := range names {
			if _, _, err := tx.InsertEvent(ctx, Event{Source: "system", SourceEventID: "decl-" + string(e.Name),
				Name: e.Name, OccurredAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	rows, err := db.Read().Query(`SELECT DISTINCT event_name, event_description, event_category FROM v_engagement_feed`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, label, cat string
		if err := rows.Scan(&name, &label, &cat); err != nil {
			t.Fatal(err)
		}
		n++
		d, ok := LookupEventName(name)
		if !ok {
			t.Errorf("the view shows an undeclared event name %s", name)
			continue
		}
		if label != d.Label || EventLabel(name) != label {
			t.Errorf("%s: the view describes it as %q, Go as %q", name, label, d.Label)
		}
		if cat != string(d.Category) {
			t.Errorf("%s: the view files it under %q, Go under %q", name, cat, d.Category)
		}
	}
	if n != len(names) {
		t.Fatalf("the view showed %d names, %d declared", n, len(names))
	}
	// A name the view knows by itself (a new WHEN or IN entry) must be declared too.
	for _, m := range snakeLiteral.FindAllStringSubmatch(schemaSQL(t, db, "v_engagement_feed"), -1) {
		if _, ok := LookupEventName(m[1]); !ok {
			t.Errorf("v_engagement_feed names %q, which is not declared in store/event_names.go", m[1])
		}
	}
	if got := EventLabel("some_new_event"); got != "some new event" {
		t.Errorf("EventLabel fallback = %q", got)
	}
}

// ruleLiterals finds each rule of v_next_best_actions: its action_type and action_label, the
// first two literals of each SELECT of the rules CTE.
var ruleLiterals = regexp.MustCompile(`(?s)SELECT\s+s\.company_id,\s*'([a-z_]+)'(?:\s+AS\s+action_type)?,\s*'([^']*)'`)

func TestDeclaredActionTypesMatchTheView(t *testing.T) {
	db := openDeclDB(t)
	view := schemaSQL(t, db, "v_next_best_actions")
	rules := map[string]string{}
	for _, m := range ruleLiterals.FindAllStringSubmatch(view, -1) {
		rules[m[1]] = m[2]
	}
	declared := map[string]string{}
	for _, a := range ActionTypes() {
		declared[string(a.Type)] = a.Label
		if a.OfferKey == "" {
			t.Errorf("%s has no offer", a.Type)
		}
	}
	if !reflect.DeepEqual(rules, declared) {
		t.Fatalf("v_next_best_actions has rules %v; store/suggestion_actions.go declares %v", rules, declared)
	}
	// And the computed view agrees: one company that fires every rule.
	seedCompany(t, db, "D", saleSpec{daysAgo: 400, amount: 60000}, saleSpec{daysAgo: 300, amount: 60000})
	got := map[string]string{}
	rows, err := db.Read().Query(`SELECT action_type, action_label FROM v_next_best_actions WHERE company_id = 'D'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var typ, label string
		if err := rows.Scan(&typ, &label); err != nil {
			t.Fatal(err)
		}
		got[typ] = label
	}
	if !reflect.DeepEqual(got, declared) {
		t.Fatalf("the view computed %v; declared %v", got, declared)
	}
	if _, err := LookupActionType("portal"); ErrorCode(err) != EINVALID {
		t.Fatalf("an unknown action type must be an error, got %v", err)
	}
}

func TestStripeEventTypesNameTheirObject(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range StripeEventTypeDecls() {
		if err := d.Check(); err != nil {
			t.Error(err)
		}
		if seen[d.Type] {
			t.Errorf("%s declared twice", d.Type)
		}
		seen[d.Type] = true
	}
	// The trap the declaration closes: a dispute event filed as a charge event would store the
	// dispute's id as the charge id.
	for _, bad := range []StripeEventType{
		{"charge.dispute.created", StripeObjectCharge, EventChargeRefunded},
		{"charge.dispute.created", StripeObject("charge.dispute"), EventChargeRefunded},
		{"charge.refunded", StripeObjectCharge, EventName("charge_refunded_typo")},
		{"refunded", StripeObjectCharge, EventChargeRefunded},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

func TestDeclaredJobKinds(t *testing.T) {
	db := openDeclDB(t)
	ctx := context.Background()
	seen := map[JobKind]bool{}
	for _, k := range JobKinds() {
		if seen[k.Kind] {
			t.Fatalf("%s declared twice", k.Kind)
		}
		seen[k.Kind] = true
		if k.Args == nil || k.Args.JobKind() != k.Kind {
			t.Errorf("%s: payload type %T says its kind is %v", k.Kind, k.Args, k.Args)
		}
		if k.Backoff == nil || k.Backoff(1) <= 0 || k.About == "" {
			t.Errorf("%s: needs a backoff and a description", k.Kind)
		}
		// The payload type is the only one accepted: a map (the old enqueuer's habit) is refused.
		mustUpdate(t, db, func(tx *Tx) error {
			if _, _, err := tx.Enqueue(ctx, NewJob{Type: k.Kind, Payload: map[string]string{"order_id": "ORD-1"}}); ErrorCode(err) != EINVALID {
				t.Errorf("%s accepted a map payload: %v", k.Kind, err)
			}
			if _, _, err := tx.Enqueue(ctx, NewJob{Type: k.Kind}); ErrorCode(err) != EINVALID {
				t.Errorf("%s accepted no payload: %v", k.Kind, err)
			}
			id, _, err := tx.Enqueue(ctx, NewJobFor(k.Args))
			if err != nil {
				return err
			}
			var payload string
			if err := tx.QueryRowContext(ctx, `SELECT payload FROM outbox WHERE id = ?`, id).Scan(&payload); err != nil {
				return err
			}
			want, _ := json.Marshal(k.Args)
			if payload != string(want) {
				t.Errorf("%s stored %s", k.Kind, payload)
			}
			return nil
		})
	}
	if _, err := DecodeJobArgs[ZohoSyncOrderArgs](Job{JobType: string(JobZohoSyncRefund), Payload: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("decoding a refund job as an order job must fail")
	}
	if a, err := DecodeJobArgs[ZohoSyncOrderArgs](Job{JobType: string(JobZohoSyncOrder), Payload: json.RawMessage(`{"order_id":"ORD-9"}`)}); err != nil || a.OrderID != "ORD-9" {
		t.Fatalf("decode: %+v %v", a, err)
	}
}

func TestJobKindBackoffDecidesTheRetryTime(t *testing.T) {
	clk := newOutboxClock()
	db := openOutboxDB(t, clk)
	ctx := context.Background()
	id := mustEnqueue(t, db, NewJobFor(ZohoSyncOrderArgs{OrderID: "ORD-1"}))
	jobs, err := db.ClaimJobs(ctx, "w1", time.Minute, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(jobs))
	}
	if _, err := db.FailJob(ctx, id, 1, "w1", "boom"); err != nil {
		t.Fatal(err)
	}
	spec, _ := LookupJobKind(string(JobZohoSyncOrder))
	if j := mustGetJob(t, db, id); !j.ScheduledFor.Equal(clk.Now().Add(spec.Backoff(1))) {
		t.Fatalf("retry at %v, want now + %v", j.ScheduledFor, spec.Backoff(1))
	}
	if !strings.Contains(spec.About, "Zoho") {
		t.Fatalf("about: %q", spec.About)
	}
}
