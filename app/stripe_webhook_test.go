package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// stripeFixtureDir holds the shared Stripe event fixtures (shared/ sits beside the repository).
var stripeFixtureDir = filepath.Join("..", "..", "shared", "fixtures", "stripe")

// stripeFixtureEvent loads a fixture event and rewrites it for the test: "@type" sets the event
// type, every other key is a dotted path under data.object ("metadata.order_id").
func stripeFixtureEvent(t testing.TB, fixture, eventID string, set map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(stripeFixtureDir, fixture+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"] = eventID
	obj := ev["data"].(map[string]any)["object"].(map[string]any)
	for path, v := range set {
		if path == "@type" {
			ev["type"] = v
			continue
		}
		parts := strings.Split(path, ".")
		m := obj
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signStripe builds a Stripe-Signature header as Stripe does.
func signStripe(secret string, at time.Time, body []byte) string {
	return fmt.Sprintf("t=%d,v1=%s", at.Unix(), stripeSignature(secret, at.Unix(), body))
}

func stripeSignature(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func (e *stripeTestEnv) postWebhook(t testing.TB, body []byte, signature string) (int, string) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if signature != "" {
		h.Set("Stripe-Signature", signature)
	}
	status, b := e.do(t, http.MethodPost, "/api/stripe/webhook", body, h)
	return status, string(b)
}

// postSigned delivers body signed with the current secret and checks the status.
func (e *stripeTestEnv) postSigned(t testing.TB, body []byte, want int) string {
	t.Helper()
	status, b := e.postWebhook(t, body, signStripe(stripeTestSecrets[0], time.Now(), body))
	if status != want {
		t.Fatalf("webhook answered %d %s, want %d", status, b, want)
	}
	return b
}

// placeStripeOrder creates a pending order directly in the store (no Stripe call):
// TOOL-1 ×1 and BLADE-1 ×2 for ACME/K1, 129998 gbp.
func placeStripeOrder(t testing.TB, db *store.DB) store.Order {
	t.Helper()
	var o store.Order
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		o, err = tx.CreateOrder(context.Background(), store.NewOrder{CompanyID: "ACME", ContactID: "K1", Lines: []store.OrderLine{
			{Ref: "items[0]", ProductCode: "TOOL-1", Quantity: 1}, {Ref: "items[1]", ProductCode: "BLADE-1", Quantity: 2}}})
		if err != nil {
			return err
		}
		return tx.SetCheckoutSession(context.Background(), o.ID, "cs_"+o.ID, "https://checkout.example/"+o.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// completedEvent is checkout.session.completed for o, paid, with tax 1000 on top of our total.
func completedEvent(t testing.TB, o store.Order, eventID, pi string) []byte {
	return stripeFixtureEvent(t, "checkout.session.completed", eventID, map[string]any{
		"id": "cs_" + o.ID, "metadata.order_id": o.ID, "client_reference_id": o.ID, "payment_intent": pi,
		"invoice": "in_" + o.ID, "currency": o.Currency, "amount_subtotal": o.TotalAmount,
		"amount_total": o.TotalAmount + 1000, "total_details.amount_tax": 1000})
}

func refundEvent(t testing.TB, eventID, pi, charge string, amount, refunded int64) []byte {
	return stripeFixtureEvent(t, "charge.refunded", eventID, map[string]any{"id": charge, "payment_intent": pi,
		"currency": "gbp", "amount": amount, "amount_captured": amount, "amount_refunded": refunded, "refunded": refunded >= amount})
}

// businessSnapshot is everything a webhook may change apart from rejected-delivery rows.
func (e *stripeTestEnv) businessSnapshot(t testing.TB) string {
	t.Helper()
	var parts []string
	for _, q := range []string{
		`SELECT group_concat(order_id || ':' || status || ':' || payment_status || ':' || amount_refunded, ',') FROM orders`,
		`SELECT count(*) FROM sales`, `SELECT count(*) FROM engagement_events`, `SELECT count(*) FROM outbox`,
		`SELECT count(*) FROM order_refunds`, `SELECT count(*) FROM stripe_parked_events`,
		`SELECT count(*) FROM webhook_deliveries WHERE status <> 'rejected'`,
	} {
		var v *string
		if err := e.db.Read().QueryRow(q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != nil {
			parts = append(parts, *v)
		}
	}
	return strings.Join(parts, "|")
}

func TestStripeWebhookCompletion(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	o := placeStripeOrder(t, env.db)
	body := completedEvent(t, o, "evt_done_1", "pi_done_1")
	if got := env.postSigned(t, body, http.StatusOK); strings.TrimSpace(got) != `{"received":true}` {
		t.Fatalf("answer %s", got)
	}
	got, _ := env.db.GetOrder(context.Background(), o.ID)
	if got.Status != store.OrderPaid || got.PaymentStatus != store.PaymentPaid || got.TotalAmount != o.TotalAmount+1000 ||
		got.TaxAmount != 1000 || got.StripePaymentIntentID != "pi_done_1" || got.StripeInvoiceID != "in_"+o.ID ||
		got.StripeCustomerID != "cus_RkT2mQ8vLx3NcP" || got.PaidAt != "2026-11-07T11:53:05.000Z" {
		t.Fatalf("order %+v", got)
	}
	if n := env.count(t, `SELECT count(*) FROM sales WHERE invoice_number = ? AND order_id = ? AND source = 'stripe' AND txn_date = '2026-11-07'`, o.ID, o.ID); n != 2 {
		t.Fatalf("%d sales rows", n)
	}
	if n := env.count(t, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_order' AND dedupe_key = ?`, "zoho_sync_order:"+o.ID); n != 1 {
		t.Fatalf("%d sync jobs", n)
	}
	if n := env.count(t, `SELECT count(*) FROM engagement_events WHERE source = 'stripe' AND source_event_id = 'evt_done_1'
		AND event_name = 'checkout_completed' AND company_id = 'ACME'`); n != 1 {
		t.Fatal("no checkout_completed event")
	}
	// Stripe delivers again: 200, no effect but the attempt count.
	before := env.businessSnapshot(t)
	env.postSigned(t, body, http.StatusOK)
	if after := env.businessSnapshot(t); after != before {
		t.Fatalf("repeat changed %s → %s", before, after)
	}
	if n := env.count(t, `SELECT attempts FROM webhook_deliveries WHERE event_id = 'evt_done_1' AND status = 'processed' AND body IS NOT NULL`); n != 2 {
		t.Fatalf("attempts %d", n)
	}
}

func TestStripeWebhookEventTypes(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	ctx := context.Background()
	type want struct {
		status   store.OrderStatus
		payment  store.PaymentStatus
		refunded int64
		event    string
	}
	tests := []struct {
		name  string
		setup []func(t testing.TB, o store.Order) []byte // delivered first
		event func(t testing.TB, o store.Order) []byte
		want  want
	}{
		{"payment intent succeeded pays a pending order",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "payment_intent.succeeded", "evt_pi_"+o.ID, map[string]any{"id": "pi_" + o.ID,
					"metadata.order_id": o.ID, "currency": "gbp", "amount": o.TotalAmount, "amount_received": o.TotalAmount})
			},
			want{store.OrderPaid, store.PaymentPaid, 0, "payment_succeeded"}},
		{"payment failed fails a pending order",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "payment_intent.payment_failed", "evt_pf_"+o.ID, map[string]any{"id": "pi_" + o.ID,
					"metadata.order_id": o.ID, "currency": "gbp"})
			},
			want{store.OrderFailed, store.PaymentUnpaid, 0, "payment_failed"}},
		{"payment failed never un-pays",
			[]func(t testing.TB, o store.Order) []byte{func(t testing.TB, o store.Order) []byte { return completedEvent(t, o, "evt_c_"+o.ID, "pi_"+o.ID) }},
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "payment_intent.payment_failed", "evt_pf_"+o.ID, map[string]any{"id": "pi_" + o.ID,
					"metadata.order_id": o.ID, "currency": "gbp"})
			},
			want{store.OrderPaid, store.PaymentPaid, 0, "payment_failed"}},
		{"invoice paid stores the invoice",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "invoice.paid", "evt_in_"+o.ID, map[string]any{"id": "in_x_" + o.ID,
					"metadata.order_id": o.ID, "currency": "gbp"})
			},
			want{store.OrderPending, store.PaymentUnpaid, 0, "invoice_paid"}},
		{"partial refund",
			[]func(t testing.TB, o store.Order) []byte{func(t testing.TB, o store.Order) []byte { return completedEvent(t, o, "evt_c_"+o.ID, "pi_"+o.ID) }},
			func(t testing.TB, o store.Order) []byte {
				return refundEvent(t, "evt_r_"+o.ID, "pi_"+o.ID, "ch_"+o.ID, o.TotalAmount+1000, 2499)
			},
			want{store.OrderPaid, store.PaymentPartiallyRefunded, 2499, "charge_refunded"}},
		{"full refund",
			[]func(t testing.TB, o store.Order) []byte{func(t testing.TB, o store.Order) []byte { return completedEvent(t, o, "evt_c_"+o.ID, "pi_"+o.ID) }},
			func(t testing.TB, o store.Order) []byte {
				return refundEvent(t, "evt_r_"+o.ID, "pi_"+o.ID, "ch_"+o.ID, o.TotalAmount+1000, o.TotalAmount+1000)
			},
			want{store.OrderPaid, store.PaymentRefunded, 130998, "charge_refunded"}},
		{"async payment succeeded",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "checkout.session.completed", "evt_as_"+o.ID, map[string]any{"@type": "checkout.session.async_payment_succeeded", "invoice": "in_" + o.ID,
					"id": "cs_" + o.ID, "metadata": map[string]any{}, "client_reference_id": o.ID, "currency": "gbp", "payment_intent": "pi_" + o.ID})
			},
			want{store.OrderPaid, store.PaymentPaid, 0, "async_payment_succeeded"}},
		{"async payment failed",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "checkout.session.completed", "evt_af_"+o.ID, map[string]any{"@type": "checkout.session.async_payment_failed",
					"id": "cs_" + o.ID, "metadata": map[string]any{}, "client_reference_id": nil, "payment_status": "unpaid", "currency": "gbp",
					"payment_intent": nil, "invoice": nil})
			},
			want{store.OrderFailed, store.PaymentUnpaid, 0, "async_payment_failed"}},
		{"session expired",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "checkout.session.completed", "evt_ex_"+o.ID, map[string]any{"@type": "checkout.session.expired", "invoice": "in_" + o.ID,
					"id": "cs_" + o.ID, "metadata.order_id": o.ID, "payment_status": "unpaid", "status": "expired", "payment_intent": nil})
			},
			want{store.OrderExpired, store.PaymentUnpaid, 0, "checkout_expired"}},
		{"unpaid completion only records ids",
			nil,
			func(t testing.TB, o store.Order) []byte {
				return stripeFixtureEvent(t, "checkout.session.completed", "evt_cu_"+o.ID, map[string]any{"invoice": "in_" + o.ID, "id": "cs_" + o.ID,
					"metadata.order_id": o.ID, "payment_status": "unpaid", "payment_intent": "pi_" + o.ID, "currency": "gbp"})
			},
			want{store.OrderPending, store.PaymentUnpaid, 0, "checkout_completed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := placeStripeOrder(t, env.db)
			for _, f := range tt.setup {
				env.postSigned(t, f(t, o), http.StatusOK)
			}
			body := tt.event(t, o)
			env.postSigned(t, body, http.StatusOK)
			got, err := env.db.GetOrder(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want.status || got.PaymentStatus != tt.want.payment || got.AmountRefunded != tt.want.refunded {
				t.Fatalf("order %s/%s refunded %d, want %+v", got.Status, got.PaymentStatus, got.AmountRefunded, tt.want)
			}
			var ev struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(body, &ev)
			var name, meta string
			if err := env.db.Read().QueryRow(`SELECT event_name, meta FROM engagement_events WHERE source = 'stripe' AND source_event_id = ?`, ev.ID).Scan(&name, &meta); err != nil || name != tt.want.event {
				t.Fatalf("event %q (%v), want %q", name, err, tt.want.event)
			}
			switch tt.want.event {
			case "payment_failed":
				if !strings.Contains(meta, `"decline_code":"insufficient_funds"`) || !strings.Contains(meta, `"code":"card_declined"`) {
					t.Fatalf("payment_failed meta %s", meta)
				}
			case "invoice_paid":
				if got.StripeInvoiceID != "in_x_"+o.ID {
					t.Fatalf("invoice id %q", got.StripeInvoiceID)
				}
			case "charge_refunded":
				if n := env.count(t, `SELECT count(*) FROM outbox WHERE job_type = 'zoho_sync_refund' AND order_id = ?
					AND dedupe_key = ? AND json_extract(payload, '$.refund_amount') = ?`, o.ID,
					fmt.Sprintf("zoho_sync_refund:ch_%s:%d", o.ID, tt.want.refunded), tt.want.refunded); n != 1 {
					t.Fatalf("%d refund jobs", n)
				}
			}
		})
	}
	t.Run("unknown type and unknown order are recorded", func(t *testing.T) {
		before := env.businessSnapshot(t)
		unknown := []byte(`{"id":"evt_unknown_type","object":"event","api_version":"2099-01-01.future","type":"customer.created","created":1794052385,"data":{"object":{"id":"cus_1","object":"customer","brand_new_field":[1,2,3]}}}`)
		env.postSigned(t, unknown, http.StatusOK)
		// The fixture as it is belongs to an order of another system.
		raw, _ := os.ReadFile(filepath.Join(stripeFixtureDir, "checkout.session.completed.json"))
		env.postSigned(t, raw, http.StatusOK)
		if n := env.count(t, `SELECT count(*) FROM webhook_deliveries WHERE status = 'ignored' AND event_id IN ('evt_unknown_type', 'evt_1QxR7sL2bN4kTq8c0aJ3mVdE')`); n != 2 {
			t.Fatalf("%d ignored deliveries", n)
		}
		after := env.businessSnapshot(t)
		if strings.Split(before, "|")[0] != strings.Split(after, "|")[0] || env.count(t, `SELECT count(*) FROM engagement_events WHERE source_event_id IN ('evt_unknown_type', 'evt_1QxR7sL2bN4kTq8c0aJ3mVdE')`) != 0 {
			t.Fatalf("ignored events changed business rows: %s → %s", before, after)
		}
	})
}

func TestStripeWebhookSecretRotation(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	o := placeStripeOrder(t, env.db)
	now := time.Now()
	body := completedEvent(t, o, "evt_rot_1", "pi_rot_1")
	// Signed with the older secret only.
	if status, b := env.postWebhook(t, body, signStripe(stripeTestSecrets[1], now, body)); status != http.StatusOK {
		t.Fatalf("second secret: %d %s", status, b)
	}
	// Two v1 entries, of which only the second is valid (Stripe rolling a secret).
	body2 := stripeFixtureEvent(t, "invoice.paid", "evt_rot_2", map[string]any{"metadata.order_id": o.ID})
	header := fmt.Sprintf("t=%d,v1=%s,v0=%s,v1=%s", now.Unix(), stripeSignature("whsec_unknown", now.Unix(), body2),
		strings.Repeat("ab", 32), stripeSignature(stripeTestSecrets[0], now.Unix(), body2))
	if status, b := env.postWebhook(t, body2, header); status != http.StatusOK {
		t.Fatalf("two v1 entries: %d %s", status, b)
	}
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries WHERE status = 'processed'`); n != 2 {
		t.Fatalf("%d processed deliveries", n)
	}
}

func TestStripeWebhookRejections(t *testing.T) {
	env := newStripeTestEnv(t, nil)
	o := placeStripeOrder(t, env.db)
	body := completedEvent(t, o, "evt_rej", "pi_rej")
	now := time.Now()
	huge := make([]byte, maxStripeWebhookBody+1)
	copy(huge, `{"id":"evt_huge","type":"checkout.session.completed","data":{"object":{}},"pad":"`)
	for i := 80; i < len(huge)-2; i++ {
		huge[i] = 'x'
	}
	copy(huge[len(huge)-2:], `"}`)
	malformed := []byte(`{"id":"evt_bad","type":"checkout.session.completed","data":`)
	noObject := []byte(`{"id":"evt_bad2","type":"charge.refunded","data":{"object":"ch_1"}}`)
	tests := []struct {
		name   string
		body   []byte
		header string
		status int
		reject bool // counted as a refused request
	}{
		{"invalid signature", body, signStripe("whsec_wrong", now, body), http.StatusBadRequest, true},
		{"missing header", body, "", http.StatusBadRequest, true},
		{"garbage header", body, "hello", http.StatusBadRequest, true},
		{"signature of another body", body, signStripe(stripeTestSecrets[0], now, []byte(`{}`)), http.StatusBadRequest, true},
		{"stale timestamp", body, signStripe(stripeTestSecrets[0], now.Add(-301*time.Second), body), http.StatusBadRequest, true},
		{"future timestamp", body, signStripe(stripeTestSecrets[0], now.Add(10*time.Minute), body), http.StatusBadRequest, true},
		{"body over 1 MiB", huge, signStripe(stripeTestSecrets[0], now, huge), http.StatusRequestEntityTooLarge, true},
		{"malformed JSON", malformed, signStripe(stripeTestSecrets[0], now, malformed), http.StatusBadRequest, true},
		{"object not an object", noObject, signStripe(stripeTestSecrets[0], now, noObject), http.StatusBadRequest, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.businessSnapshot(t)
			unsaved := env.srv.refusals.unsavedCount()
			_, writes, _ := env.db.CommitStats()
			status, b := env.postWebhook(t, tt.body, tt.header)
			if status != tt.status || !strings.Contains(b, `"error"`) {
				t.Fatalf("%d %s, want %d", status, b, tt.status)
			}
			if after := env.businessSnapshot(t); after != before {
				t.Fatalf("business rows changed: %s → %s", before, after)
			}
			// Refused: counted in memory, no write of its own.
			if _, w, _ := env.db.CommitStats(); w != writes {
				t.Fatalf("a refused request cost %d write(s)", w-writes)
			}
			if got := env.srv.refusals.unsavedCount(); tt.reject != (got == unsaved+1) {
				t.Fatalf("refusals counted %d → %d", unsaved, got)
			}
		})
	}
	// The once-a-minute flush writes them as one aggregate row (all in this minute or two).
	if n := env.count(t, `SELECT count(*) FROM webhook_deliveries WHERE status = 'rejected'`); n != 0 {
		t.Fatalf("%d rejected rows before the flush", n)
	}
	if err := env.srv.refusals.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := env.count(t, `SELECT COALESCE(sum(attempts), 0) FROM webhook_deliveries WHERE status = 'rejected' AND body IS NULL
		AND provider = 'stripe'`); n != len(tests) || env.srv.refusals.unsavedCount() != 0 {
		t.Fatalf("flushed %d refusals, want %d", n, len(tests))
	}
	// One row per reason code and minute (all in this minute or two): six kinds of refusal here.
	if rows, codes := env.count(t, `SELECT count(*) FROM webhook_deliveries WHERE status = 'rejected'`),
		env.count(t, `SELECT count(DISTINCT substr(event_id, 27)) FROM webhook_deliveries WHERE status = 'rejected'`); codes != 6 || rows > 2*codes {
		t.Fatalf("%d aggregate rows of %d reason codes for one run, want 6 codes", rows, codes)
	}
	for _, reason := range []string{"signature does not match STRIPE_WEBHOOK_SECRET", "no Stripe-Signature header",
		"Stripe-Signature header is malformed", "Stripe-Signature timestamp is more than 5 minutes from the server's clock",
		"body is larger than 1 MiB", "body is not %"} { // malformed: the last of its minute, JSON or event
		if n := env.count(t, `SELECT count(*) FROM webhook_deliveries WHERE status = 'rejected' AND error LIKE ?`, reason); n == 0 {
			t.Errorf("no refusal with reason %q", reason)
		}
	}
	// /metrics shows them by reason.
	_, metrics := env.do(t, http.MethodGet, "/metrics", nil, nil)
	for _, want := range []string{`technifold_webhook_refused_total{provider="stripe",reason="bad_signature"} 2`,
		`technifold_webhook_refused_total{provider="stripe",reason="stale"} 2`,
		`technifold_webhook_refused_total{provider="stripe",reason="oversize"} 1`,
		`technifold_webhook_refused_total{provider="stripe",reason="malformed"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The genuine delivery is still accepted afterwards.
	env.postSigned(t, body, http.StatusOK)
}

func TestStripeWebhookUnconfigured(t *testing.T) {
	env := newStripeTestEnv(t, func(c *Config) { c.StripeWebhookSecret = " , " })
	status, b := env.postWebhook(t, []byte(`{}`), "t=1,v1=00")
	if status != http.StatusServiceUnavailable || !strings.Contains(b, "STRIPE_WEBHOOK_SECRET") {
		t.Fatalf("%d %s", status, b)
	}
}

func TestVerifyStripeSignature(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Now() // stripe-go checks the tolerance against the wall clock
	good := stripeSignature("s2", now.Unix(), body)
	tests := []struct {
		name, header string
		want         error
	}{
		{"valid", fmt.Sprintf("t=%d,v1=%s", now.Unix(), good), nil},
		{"valid with spaces and other schemes", fmt.Sprintf(" t=%d , v0=zz , v1=%s ", now.Unix(), good), nil},
		{"second of several v1", fmt.Sprintf("t=%d,v1=%s,v1=%s", now.Unix(), strings.Repeat("0", 64), good), nil},
		{"signed a minute ahead", fmt.Sprintf("t=%d,v1=%s", now.Unix()+60, stripeSignature("s1", now.Unix()+60, body)), nil},
		{"signed ten minutes ahead", fmt.Sprintf("t=%d,v1=%s", now.Unix()+600, stripeSignature("s1", now.Unix()+600, body)), errStripeStale},
		{"empty", "", errStripeNoSignature},
		{"blank", "  ", errStripeNoSignature},
		{"oversize", "t=1,v1=" + strings.Repeat("0", 9<<10), errStripeBadHeader},
		{"no timestamp", "v1=" + good, errStripeStale},
		{"not a pair", fmt.Sprintf("t=%d,v1,v1=%s", now.Unix(), good), errStripeBadHeader},
		{"bad timestamp", fmt.Sprintf("t=x%d,v1=%s", now.Unix(), good), errStripeBadHeader},
		{"negative timestamp", fmt.Sprintf("t=-%d,v1=%s", now.Unix(), good), errStripeStale},
		{"no v1", fmt.Sprintf("t=%d", now.Unix()), errStripeBadSignature},
		{"bad hex", fmt.Sprintf("t=%d,v1=%sg", now.Unix(), good[:63]), errStripeBadSignature},
		{"wrong", fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("1", 64)), errStripeBadSignature},
		{"other timestamp", fmt.Sprintf("t=%d,v1=%s", now.Unix()+1, good), errStripeBadSignature},
		{"other secret", fmt.Sprintf("t=%d,v1=%s", now.Unix(), stripeSignature("s3", now.Unix(), body)), errStripeBadSignature},
		{"stale", fmt.Sprintf("t=%d,v1=%s", now.Unix()-310, stripeSignature("s1", now.Unix()-310, body)), errStripeStale},
		{"within tolerance", fmt.Sprintf("t=%d,v1=%s", now.Unix()-290, stripeSignature("s1", now.Unix()-290, body)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyStripeSignature(tt.header, body, []string{"s1", "s2"}, stripeSignatureTolerance); err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseStripeEventFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		check   func(e store.StripeEvent) bool
	}{
		{"checkout.session.completed", func(e store.StripeEvent) bool {
			return e.OrderID == "ord_01JBK7Q9ZP" && e.SessionID != "" && e.PaymentIntentID == "pi_3QxR7pL2bN4kTq8c1Hs6Yw2K" &&
				e.InvoiceID == "in_1QxR7rL2bN4kTq8cW9pZ4sHb" && e.PaymentStatus == "paid" && *e.AmountTotal == 5497 && *e.AmountTax == 0
		}},
		{"payment_intent.succeeded", func(e store.StripeEvent) bool {
			return e.OrderID == "ord_01JBK7Q9ZP" && e.PaymentIntentID == "pi_3QxR7pL2bN4kTq8c1Hs6Yw2K" && e.Amount == 5497
		}},
		{"payment_intent.payment_failed", func(e store.StripeEvent) bool {
			return e.OrderID == "ord_01JBM2W4TX" && e.DeclineCode == "insufficient_funds" && e.FailureCode == "card_declined" &&
				e.FailureMessage == "Your card has insufficient funds."
		}},
		{"invoice.paid", func(e store.StripeEvent) bool {
			return e.OrderID == "ord_01JBK7Q9ZP" && e.InvoiceID == "in_1QxR7rL2bN4kTq8cW9pZ4sHb" && e.Amount == 5497
		}},
		{"charge.refunded", func(e store.StripeEvent) bool {
			return e.OrderID == "" && e.ChargeID == "ch_3QxR7pL2bN4kTq8c1Vb5Rq0P" && e.PaymentIntentID == "pi_3QxR7pL2bN4kTq8c1Hs6Yw2K" &&
				e.AmountRefunded == 1999 && !e.Refunded && e.Currency == "usd"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(stripeFixtureDir, tt.fixture+".json"))
			if err != nil {
				t.Fatal(err)
			}
			e, err := parseStripeEvent(raw)
			if err != nil {
				t.Fatal(err)
			}
			if e.Type != tt.fixture || e.Created.IsZero() || !tt.check(e) {
				t.Fatalf("parsed %+v", e)
			}
		})
	}
}
