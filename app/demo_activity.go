package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/technifold/technifold/store"
)

// The demo's activity: a few weeks of a shop that is running. Orders in every state reachable
// from checkout (pending, paid, partly and fully refunded, failed, expired) in three
// currencies, outbox jobs in every status with their error histories, and Stripe and Zoho
// webhook deliveries including refused ones, so every admin screen has rows and retry and
// replay can be tried. Everything goes through the code the live service runs: orders through
// the store calls checkout makes, Stripe events signed as Stripe signs them and posted to the
// webhook handler (through the router, with httptest), Zoho events to the Zoho webhook handler,
// job histories by claiming and failing jobs with the store's worker calls, each step at its
// own moment in the past (store.WithTime). Ids, event ids and dedupe keys are fixed and each
// step is skipped when what it makes is already there, so loading again changes nothing.

// demoWorker is the worker id the demo's job attempts are claimed under.
const demoWorker = "demo-worker"

// demoSMTPRefused is what a send to an unreachable mail server fails with.
const demoSMTPRefused = "connect to SMTP server smtp.mail.example:587: dial tcp 198.51.100.25:587: connect: connection refused"

// demoOrder is one scripted checkout and what Stripe says about it afterwards.
type demoOrder struct {
	n        int    // fixed number: cs_demo_NN, evt_demo_NN_*
	currency string // picks a company with this currency
	pick     int    // which company of that currency
	lines    []store.OrderLine
	created  time.Duration // before the activity's time
	outcome  string        // paid, refund_part, refund_full, failed, async_failed, expired, pending, replay
	refundAt time.Duration // refunds: before the activity's time
}

// demoOrders are the scripted orders, oldest first.
var demoOrders = []demoOrder{
	{n: 1, currency: "gbp", pick: 0, created: 26 * 24 * time.Hour, outcome: "paid",
		lines: demoLines("CR-RIB-BLACK", 4, "CR-RIB-RED", 2)},
	{n: 2, currency: "eur", pick: 0, created: 21 * 24 * time.Hour, outcome: "expired",
		lines: demoLines("PF-BLADE-48", 2)},
	{n: 3, currency: "eur", pick: 1, created: 18 * 24 * time.Hour, outcome: "paid",
		lines: demoLines("PF-BLADE-24", 3, "PT-HUB-SET", 1)},
	{n: 4, currency: "gbp", pick: 1, created: 14 * 24 * time.Hour, outcome: "refund_part", refundAt: 12 * 24 * time.Hour,
		lines: demoLines("CR-RIB-BLUE", 5, "CR-RIB-YELLOW", 2)},
	{n: 5, currency: "usd", pick: 0, created: 9 * 24 * time.Hour, outcome: "paid",
		lines: demoLines("SL-BLADE-STD", 6)},
	{n: 6, currency: "eur", pick: 2, created: 6 * 24 * time.Hour, outcome: "refund_full", refundAt: 5 * 24 * time.Hour,
		lines: demoLines("FP-ROLLER-SET", 1)},
	{n: 7, currency: "usd", pick: 1, created: 4 * 24 * time.Hour, outcome: "async_failed",
		lines: demoLines("SV-SETUP", 2)},
	{n: 8, currency: "gbp", pick: 2, created: 3 * 24 * time.Hour, outcome: "failed",
		lines: demoLines("PF-BLADE-72", 2, "SL-GUTTER-KIT", 1)},
	{n: 9, currency: "usd", pick: 2, created: 2 * 24 * time.Hour, outcome: "paid",
		lines: demoLines("CR-RIB-BLACK", 10)},
	{n: 10, currency: "gbp", pick: 3, created: 3 * time.Hour, outcome: "replay",
		lines: demoLines("CR-RIB-RED", 3)},
	{n: 11, currency: "eur", pick: 3, created: 30 * time.Minute, outcome: "paid", // its Zoho sync has failed 3 times
		lines: demoLines("PF-BLADE-48", 4)},
	{n: 12, currency: "gbp", pick: 4, created: 6 * time.Minute, outcome: "paid", // its Zoho sync is running
		lines: demoLines("CR-RIB-BLACK", 2, "CR-RIB-BLUE", 2)},
	{n: 13, currency: "usd", pick: 3, created: 40 * time.Minute, outcome: "pending",
		lines: demoLines("PF-BLADE-24", 1)},
}

func demoLines(codeQty ...any) []store.OrderLine {
	var out []store.OrderLine
	for i := 0; i+1 < len(codeQty); i += 2 {
		out = append(out, store.OrderLine{Ref: fmt.Sprintf("items[%d]", i/2), ProductCode: codeQty[i].(string),
			Quantity: int64(codeQty[i+1].(int))})
	}
	return out
}

func (o demoOrder) session() string { return fmt.Sprintf("cs_demo_%02d", o.n) }
func (o demoOrder) intent() string  { return fmt.Sprintf("pi_demo_%02d", o.n) }
func (o demoOrder) charge() string  { return fmt.Sprintf("ch_demo_%02d", o.n) }
func (o demoOrder) event(kind string) string {
	return fmt.Sprintf("evt_demo_%02d_%s", o.n, kind)
}

// demoActivity loads the activity; at is the moment it is laid out before (the first load's).
type demoActivity struct {
	db     *store.DB
	srv    *Server
	at     time.Time
	secret string // the Stripe webhook signing secret
	zoho   string // the Zoho webhook secret
	res    *DemoResult
}

// loadDemoActivity adds the activity to a database that has the demo catalogue and companies.
func loadDemoActivity(ctx context.Context, db *store.DB, res *DemoResult) error {
	var at time.Time
	var stripeSecret, zohoSecret string
	err := db.Update(ctx, func(tx *store.Tx) error {
		v, ok, err := tx.GetState(ctx, "demo_activity_at")
		if err != nil {
			return err
		}
		if !ok {
			v = tx.NowText()
			if err := tx.SetState(ctx, "demo_activity_at", v); err != nil {
				return err
			}
		}
		if at, err = store.ParseTime(v); err != nil {
			return fmt.Errorf("demo activity time %q: %w", v, err)
		}
		if stripeSecret, err = demoSecret(ctx, tx, "demo_stripe_webhook_secret", "whsec_"); err != nil {
			return err
		}
		zohoSecret, err = demoSecret(ctx, tx, "demo_zoho_webhook_secret", "")
		return err
	})
	if err != nil {
		return fmt.Errorf("demo activity: %w", err)
	}
	cfg, err := LoadConfig(func(k string) string {
		switch k {
		case "DATABASE_PATH":
			return db.Path()
		case "STRIPE_WEBHOOK_SECRET":
			return stripeSecret
		case "ZOHO_WEBHOOK_SECRET":
			return zohoSecret
		}
		return ""
	})
	if err != nil {
		return err
	}
	srv, err := NewServer(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	a := &demoActivity{db: db, srv: srv, at: at, secret: stripeSecret, zoho: zohoSecret, res: res}
	err = a.load(ctx)
	// Shutdown writes what the server counted in memory (the refused deliveries).
	return errors.Join(err, srv.Shutdown(ctx))
}

// demoSecret returns the named secret kept in integration_state, generating it on first use.
func demoSecret(ctx context.Context, tx *store.Tx, name, prefix string) (string, error) {
	v, ok, err := tx.GetState(ctx, name)
	if err != nil || ok {
		return v, err
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	v = prefix + hex.EncodeToString(b[:])
	return v, tx.SetState(ctx, name, v)
}

func (a *demoActivity) load(ctx context.Context) error {
	orders, err := a.placeOrders(ctx)
	if err != nil {
		return err
	}
	if err := a.runJobs(ctx, orders); err != nil {
		return err
	}
	if err := a.stripeEvents(ctx, orders); err != nil {
		return err
	}
	if err := a.zohoEvents(ctx); err != nil {
		return err
	}
	if err := a.zohoFailedDelivery(ctx); err != nil { // demo_webhooks.go
		return err
	}
	if err := a.refusedDeliveries(ctx); err != nil {
		return err
	}
	return a.malformedDeliveries(ctx)
}

// placeOrders creates the scripted orders as checkout does (CreateOrder, then the Checkout
// Session's id), each at its own time, and returns them by number.
func (a *demoActivity) placeOrders(ctx context.Context) (map[int]store.Order, error) {
	companies := map[string][]string{}
	rows, err := a.db.Read().QueryContext(ctx, `SELECT company_id, currency FROM companies
		WHERE company_id LIKE 'COMPANY%' ORDER BY company_id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, cur string
		if err := rows.Scan(&id, &cur); err != nil {
			rows.Close()
			return nil, err
		}
		companies[cur] = append(companies[cur], id)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	out := map[int]store.Order{}
	for _, d := range demoOrders {
		o, err := a.db.GetOrderByCheckoutSession(ctx, d.session())
		if err == nil {
			out[d.n] = o
			continue
		}
		if store.ErrorCode(err) != store.ENOTFOUND {
			return nil, err
		}
		ids := companies[d.currency]
		if len(ids) == 0 {
			return nil, fmt.Errorf("demo: no company pays in %s", d.currency)
		}
		company := ids[d.pick%len(ids)]
		err = a.db.Update(store.WithTime(ctx, a.at.Add(-d.created)), func(tx *store.Tx) error {
			var err error
			o, err = tx.CreateOrder(ctx, store.NewOrder{CompanyID: company, ContactID: demoContactOf(company),
				OfferKey: "reorder", CampaignKey: "spring-reorder", Lines: d.lines})
			if err != nil {
				return err
			}
			a.res.Changed += 2 + len(o.Items) // order, checkout_started event, items
			return tx.SetCheckoutSession(ctx, o.ID, d.session(), "")
		})
		if err != nil {
			return nil, fmt.Errorf("demo order %d: %w", d.n, err)
		}
		out[d.n] = o
		a.res.Orders++
	}
	return out, nil
}

// demoContactOf is a company's first demo contact (every demo company has one).
func demoContactOf(companyID string) string {
	return "CONTACT" + companyID[len("COMPANY"):] + "1"
}

// demoJob is one scripted job history: failures in order, then how it ends.
type demoJob struct {
	start time.Duration // first attempt, before the activity's time
	fails []string      // "" takes the error the real handler returns
	end   string        // complete, hold (processing), cancel, defer (pending), "" (failed or dead after the fails)
}

// runJobs makes the outbox's histories. Each job is enqueued the way the product enqueues it
// and then claimed and failed (or completed) with the worker's store calls, at the times a
// worker would have: so errors[], attempts and the retry schedule are the store's own.
func (a *demoActivity) runJobs(ctx context.Context, orders map[int]store.Order) error {
	// An offer e-mail that went out (completed).
	if err := a.offerJob(ctx, "COMPANY101", 12*24*time.Hour, demoJob{start: 12*24*time.Hour - time.Minute, end: "complete"}); err != nil {
		return err
	}
	// An offer e-mail the mail server kept refusing: dead after its five attempts.
	if err := a.offerJob(ctx, "COMPANY104", 8*24*time.Hour, demoJob{start: 8*24*time.Hour - time.Minute,
		fails: []string{demoSMTPRefused, demoSMTPRefused,
			"SMTP server smtp.mail.example:587: 421 4.7.0 Too many connections from your host, try again later",
			demoSMTPRefused, demoSMTPRefused}}); err != nil {
		return err
	}
	// An offer e-mail that failed once and that staff then cancelled.
	if err := a.offerJob(ctx, "COMPANY109", 4*24*time.Hour, demoJob{start: 4*24*time.Hour - time.Minute,
		fails: []string{demoSMTPRefused}, end: "cancel"}); err != nil {
		return err
	}
	// The Zoho Books sync of a recent order: Zoho is not configured, three attempts so far,
	// the next one due shortly (failed).
	o := orders[11]
	if err := a.syncJob(ctx, o, demoJob{start: 25 * time.Minute, fails: []string{"", "", ""}}); err != nil {
		return err
	}
	// The sync of the latest order, claimed a minute ago and still running (processing).
	if err := a.syncJob(ctx, orders[12], demoJob{start: 2 * time.Minute, end: "hold"}); err != nil {
		return err
	}
	// The sync of an order paid two days ago, put back by Zoho's daily API limit until
	// tomorrow (pending, with the pause's note): stays pending while the worker runs.
	return a.syncJob(ctx, orders[9], demoJob{start: 2*24*time.Hour - 5*time.Minute, end: "defer"})
}

// offerJob queues an offer e-mail to a company's first contact as the admin's "send offer"
// does (SendOffers), queued at queued before the activity's time, then plays script.
func (a *demoActivity) offerJob(ctx context.Context, companyID string, queued time.Duration, script demoJob) error {
	contact := demoContactOf(companyID)
	rep, err := SendOffers(store.WithTime(ctx, a.at.Add(-queued)), a.db, OfferSendRequest{ContactIDs: []string{contact},
		OfferKey: "reorder", CampaignKey: "spring-reorder"})
	if err != nil {
		return fmt.Errorf("demo offer e-mail to %s: %w", contact, err)
	}
	if len(rep.Eligible) != 1 {
		return fmt.Errorf("demo offer e-mail to %s: the contact cannot be sent offers (%v)", contact, rep.Ineligible)
	}
	if rep.Eligible[0].AlreadyQueued {
		return nil
	}
	a.res.Changed++
	a.res.Jobs++
	return a.play(ctx, rep.Eligible[0].JobID, script)
}

// syncJob queues an order's Zoho Books sync as paying it does (same type, payload and dedupe
// key; the payment's own enqueue later finds it there), then plays script.
func (a *demoActivity) syncJob(ctx context.Context, o store.Order, script demoJob) error {
	var id int64
	var created bool
	err := a.db.Update(store.WithTime(ctx, a.at.Add(-script.start)), func(tx *store.Tx) error {
		var err error
		job := store.NewJobFor(store.ZohoSyncOrderArgs{OrderID: o.ID})
		job.DedupeKey, job.CompanyID, job.OrderID = string(store.JobZohoSyncOrder)+":"+o.ID, o.CompanyID, o.ID
		id, created, err = tx.Enqueue(ctx, job)
		return err
	})
	if err != nil || !created {
		return err
	}
	a.res.Changed++
	a.res.Jobs++
	return a.play(ctx, id, script)
}

// play runs a job's scripted attempts: each claimed at its time (the first at script.start
// before the activity's time, each retry when the store scheduled it) and failed with its
// error; then completes, holds or cancels it.
func (a *demoActivity) play(ctx context.Context, id int64, script demoJob) error {
	at := a.at.Add(-script.start)
	for _, msg := range script.fails {
		j, err := a.claim(ctx, id, at, time.Minute)
		if err != nil {
			return err
		}
		if msg == "" {
			msg = a.handlerError(ctx, j)
		}
		at = at.Add(3 * time.Second)
		status, err := a.db.FailJob(store.WithTime(ctx, at), id, j.Attempts, demoWorker, msg)
		if err != nil {
			return fmt.Errorf("demo job %d: %w", id, err)
		}
		if status == store.JobDead {
			return nil
		}
		next, err := a.db.GetJob(ctx, id) // the retry is due when the store scheduled it
		if err != nil {
			return err
		}
		at = next.ScheduledFor
	}
	switch script.end {
	case "complete":
		j, err := a.claim(ctx, id, at, time.Minute)
		if err != nil {
			return err
		}
		return a.completeOfferEmail(ctx, j, at.Add(2*time.Second))
	case "defer":
		// Claimed, then put back by the Zoho pause as the worker does with a DeferError.
		j, err := a.claim(ctx, id, at, time.Minute)
		if err != nil {
			return err
		}
		until := a.at.Add(20 * time.Hour)
		return a.db.DeferJob(store.WithTime(ctx, at.Add(time.Second)), id, j.Attempts, demoWorker, until, zohoPauseReason(until))
	case "hold":
		// Claimed with the worker's usual lease from the activity's time, so it reads as running.
		_, err := a.claim(ctx, id, at, 15*time.Minute+script.start)
		return err
	case "cancel":
		return a.db.CancelJob(store.WithTime(ctx, at.Add(-time.Minute)), id)
	}
	return nil
}

// claim claims job id at time at through the worker's ClaimJobs. It first checks that id is
// the only job due then, so no other job is claimed (the demo adds its histories to an outbox
// nobody else is working on).
func (a *demoActivity) claim(ctx context.Context, id int64, at time.Time, lease time.Duration) (store.Job, error) {
	var other int64
	err := a.db.Read().QueryRowContext(ctx, `SELECT id FROM outbox WHERE id <> ?1 AND (
			(status IN ('pending', 'failed') AND scheduled_for <= ?2) OR (status = 'processing' AND locked_until < ?2))
		LIMIT 1`, id, store.FormatTime(at)).Scan(&other)
	switch {
	case err == nil:
		return store.Job{}, fmt.Errorf("demo: job %d is due in the outbox; load the demo into a database whose outbox is idle", other)
	case !errors.Is(err, sql.ErrNoRows):
		return store.Job{}, err
	}
	jobs, err := a.db.ClaimJobs(store.WithTime(ctx, at), demoWorker, lease, 1)
	if err != nil {
		return store.Job{}, err
	}
	if len(jobs) != 1 || jobs[0].ID != id {
		return store.Job{}, fmt.Errorf("demo: job %d was taken by another worker; load the demo while no server runs on this database", id)
	}
	return jobs[0], nil
}

// handlerError runs the job's real handler (the demo's server has no Zoho or e-mail
// configuration) and returns the error it fails with.
func (a *demoActivity) handlerError(ctx context.Context, j store.Job) string {
	if h, ok := a.srv.Jobs().Lookup(j.JobType); ok {
		if _, err := h(ctx, j); err != nil {
			return err.Error()
		}
	}
	return "zoho books is not configured"
}

// completeOfferEmail finishes an offer e-mail job as the mailer does after a send: the
// offer_email_sent event, then the job completed with its result. (The demo has no mail
// server; this stands for an e-mail that went out.)
func (a *demoActivity) completeOfferEmail(ctx context.Context, j store.Job, at time.Time) error {
	p, err := store.DecodeJobArgs[store.SendOfferEmailArgs](j)
	if err != nil {
		return err
	}
	messageID := fmt.Sprintf("<offer-%d.demo@technifold.invalid>", j.ID)
	ctx = store.WithTime(ctx, at)
	err = a.db.Update(ctx, func(tx *store.Tx) error {
		_, _, err := tx.InsertEvent(ctx, store.Event{Source: "system", SourceEventID: "offer_email_sent:" + strconv.FormatInt(j.ID, 10),
			Name: store.EventOfferEmailSent, CompanyID: p.CompanyID, ContactID: p.ContactID, OfferKey: p.OfferKey, CampaignKey: p.CampaignKey,
			Meta: map[string]any{"message_id": messageID, "subject": "Time to restock?", "job_id": j.ID}})
		return err
	})
	if err != nil {
		return err
	}
	a.res.Changed++
	return a.db.CompleteJob(ctx, j.ID, j.Attempts, demoWorker, offerEmailResult{Sent: true, MessageID: messageID})
}

// stripeEvent is one scripted Stripe event.
type stripeEvent struct {
	id, typ string
	at      time.Time
	object  map[string]any
}

// stripeEvents posts what Stripe sends about each order to the webhook, signed with the
// demo's webhook secret. Events already delivered are not sent again (a repeat would count
// an attempt).
func (a *demoActivity) stripeEvents(ctx context.Context, orders map[int]store.Order) error {
	var evs []stripeEvent
	var failed []stripeEvent
	for _, d := range demoOrders {
		o := orders[d.n]
		created := a.at.Add(-d.created)
		session := func(status, payment string) map[string]any {
			return map[string]any{"id": d.session(), "object": "checkout.session", "client_reference_id": o.ID,
				"metadata": map[string]string{"order_id": o.ID}, "mode": "payment", "status": status, "payment_status": payment,
				"currency": o.Currency, "amount_total": o.TotalAmount, "amount_subtotal": o.Subtotal,
				"total_details":  map[string]any{"amount_tax": 0, "amount_discount": 0, "amount_shipping": 0},
				"payment_intent": d.intent(), "customer": "cus_demo_" + o.CompanyID}
		}
		intent := func(status string) map[string]any {
			return map[string]any{"id": d.intent(), "object": "payment_intent", "amount": o.TotalAmount,
				"amount_received": o.TotalAmount, "currency": o.Currency, "status": status,
				"metadata": map[string]string{"order_id": o.ID}, "customer": "cus_demo_" + o.CompanyID}
		}
		paid := created.Add(3 * time.Minute)
		switch d.outcome {
		case "paid", "refund_part", "refund_full":
			evs = append(evs, stripeEvent{d.event("completed"), store.StripeCheckoutCompleted, paid, session("complete", "paid")},
				stripeEvent{d.event("pi_succeeded"), store.StripePaymentSucceeded, paid.Add(2 * time.Second), intent("succeeded")})
		case "replay":
			// Applying its completion failed (the database was busy): the delivery is kept as
			// failed and the order waits, until Stripe's retry or staff's replay applies it.
			failed = append(failed, stripeEvent{d.event("completed"), store.StripeCheckoutCompleted, paid, session("complete", "paid")})
		case "failed":
			pi := intent("requires_payment_method")
			pi["amount_received"] = 0
			pi["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined",
				"decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}
			evs = append(evs, stripeEvent{d.event("pi_failed"), store.StripePaymentFailed, created.Add(4 * time.Minute), pi})
		case "async_failed":
			evs = append(evs, stripeEvent{d.event("completed"), store.StripeCheckoutCompleted, created.Add(5 * time.Minute), session("complete", "unpaid")},
				stripeEvent{d.event("async_failed"), store.StripeAsyncPaymentFailed, created.Add(3 * 24 * time.Hour), session("complete", "unpaid")})
		case "expired":
			s := session("expired", "unpaid")
			s["payment_intent"] = nil
			evs = append(evs, stripeEvent{d.event("expired"), store.StripeCheckoutExpired, created.Add(24 * time.Hour), s})
		}
		if d.outcome == "refund_part" || d.outcome == "refund_full" {
			refunded := o.TotalAmount
			if d.outcome == "refund_part" {
				refunded = o.Items[0].UnitAmount // one unit of the first line came back
			}
			evs = append(evs, stripeEvent{d.event("refunded"), store.StripeChargeRefunded, a.at.Add(-d.refundAt),
				map[string]any{"id": d.charge(), "object": "charge", "amount": o.TotalAmount, "amount_refunded": refunded,
					"refunded": refunded == o.TotalAmount, "currency": o.Currency, "payment_intent": d.intent(),
					"customer": "cus_demo_" + o.CompanyID}})
		}
	}
	// An event type the service does not act on: recorded as ignored.
	evs = append(evs, stripeEvent{"evt_demo_customer_updated", "customer.updated", a.at.Add(-11 * 24 * time.Hour),
		map[string]any{"id": "cus_demo_" + orders[1].CompanyID, "object": "customer"}})
	ids := make([]string, 0, len(evs)+len(failed))
	for _, e := range append(evs, failed...) {
		ids = append(ids, e.id)
	}
	seen, err := a.db.StripeEventsSeen(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if seen[e.id] {
			continue
		}
		body := stripeEventBody(e)
		code, answer := a.post(ctx, e.at, "/api/stripe/webhook", body, map[string]string{
			"Stripe-Signature": stripeSignatureHeader(a.secret, time.Now(), body)})
		if code != http.StatusOK {
			return fmt.Errorf("demo stripe event %s: %d %s", e.id, code, answer)
		}
		a.res.Deliveries++
		a.res.Changed++
	}
	for _, e := range failed {
		var n int
		if err := a.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'stripe' AND event_id = ?`,
			e.id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		ev, err := parseStripeEvent(stripeEventBody(e))
		if err != nil {
			return err
		}
		// What ingest records when applying a verified event fails.
		err = a.db.Update(store.WithTime(ctx, e.at), func(tx *store.Tx) error {
			return tx.RecordStripeFailure(ctx, ev, "database is locked (5) (SQLITE_BUSY)")
		})
		if err != nil {
			return err
		}
		a.res.Deliveries++
		a.res.Changed++
	}
	return nil
}

// stripeEventBody is the JSON Stripe posts for e.
func stripeEventBody(e stripeEvent) []byte {
	b, _ := json.Marshal(map[string]any{"id": e.id, "object": "event", "api_version": "2025-03-31.basil",
		"created": e.at.Unix(), "livemode": false, "pending_webhooks": 1, "type": e.typ,
		"request": map[string]any{"id": nil, "idempotency_key": nil}, "data": map[string]any{"object": e.object}})
	return b
}

// stripeSignatureHeader signs body as Stripe does: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>").
func stripeSignatureHeader(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one request to the demo's server as if it arrived at time at.
func (a *demoActivity) post(ctx context.Context, at time.Time, path string, body []byte, header map[string]string) (int, string) {
	req := httptest.NewRequestWithContext(store.WithTime(ctx, at), http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// demoZohoEvents are the Zoho CRM deliveries: engagement from the spring campaign.
var demoZohoEvents = []struct {
	id   string
	typ  store.EventName
	pick int // demo company number (COMPANY1NN)
	ago  time.Duration
	url  string
}{
	{"zoho-demo-1", store.EventCampaignSent, 102, 16 * 24 * time.Hour, ""},
	{"zoho-demo-2", store.EventEmailOpened, 102, 15 * 24 * time.Hour, ""},
	{"zoho-demo-3", store.EventEmailClicked, 102, 15*24*time.Hour - 2*time.Minute, "https://technifold.example/offers/reorder"},
	{"zoho-demo-4", store.EventWebinarRegistered, 105, 7 * 24 * time.Hour, ""},
	{"zoho-demo-5", store.EventFormSubmitted, 108, 2 * 24 * time.Hour, ""},
	{"zoho-demo-6", store.EventEmailOpened, 111, 5 * time.Hour, ""},
	{"zoho-demo-7", store.EventDealWon, 105, 90 * time.Minute, ""},
}

// zohoEvents posts the Zoho CRM deliveries to the Zoho webhook with the demo's secret.
func (a *demoActivity) zohoEvents(ctx context.Context) error {
	for _, e := range demoZohoEvents {
		var n int
		if err := a.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE provider = 'zoho' AND event_id = ?`,
			e.id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		at := a.at.Add(-e.ago)
		fields := map[string]any{"event_type": e.typ, "event_id": e.id, "contact_id": demoContactOf(fmt.Sprintf("COMPANY%d", e.pick)),
			"campaign_key": "spring-reorder", "occurred_at": at.Format(time.RFC3339)}
		if e.url != "" {
			fields["url"] = e.url
		}
		body, _ := json.Marshal(fields)
		code, answer := a.post(ctx, at.Add(4*time.Second), "/api/zoho/webhook", body, map[string]string{"X-Zoho-Secret": a.zoho})
		if code != http.StatusOK {
			return fmt.Errorf("demo zoho event %s: %d %s", e.id, code, answer)
		}
		a.res.Deliveries++
		a.res.Changed += 2 // delivery, engagement event
	}
	return nil
}

// refusedDeliveries sends each webhook a request it must refuse: a Stripe event signed with
// another secret, a Zoho delivery with a wrong secret. Nothing of them is trusted; the server
// records them as refused. Sent once (state demo_refused_sent): a refusal keeps no id.
func (a *demoActivity) refusedDeliveries(ctx context.Context) error {
	err := a.db.Update(ctx, func(tx *store.Tx) error {
		if _, ok, err := tx.GetState(ctx, "demo_refused_sent"); err != nil || ok {
			if ok {
				err = errDemoDone
			}
			return err
		}
		return tx.SetState(ctx, "demo_refused_sent", "yes")
	})
	if errors.Is(err, errDemoDone) {
		return nil
	}
	if err != nil {
		return err
	}
	at := a.at.Add(-2 * time.Hour)
	body := stripeEventBody(stripeEvent{"evt_demo_forged", store.StripeCheckoutCompleted, at,
		map[string]any{"id": "cs_demo_forged", "object": "checkout.session", "payment_status": "paid"}})
	if code, _ := a.post(ctx, at, "/api/stripe/webhook", body, map[string]string{
		"Stripe-Signature": stripeSignatureHeader("whsec_not_the_endpoint_secret", time.Now(), body)}); code != http.StatusBadRequest {
		return fmt.Errorf("demo: a Stripe event signed with the wrong secret got %d", code)
	}
	zbody, _ := json.Marshal(map[string]string{"event_type": "email_opened", "event_id": "zoho-demo-forged",
		"email": "someone@example.com"})
	if code, _ := a.post(ctx, at.Add(time.Minute), "/api/zoho/webhook", zbody, map[string]string{
		"X-Zoho-Secret": "not-the-secret"}); code != http.StatusUnauthorized {
		return fmt.Errorf("demo: a Zoho delivery with the wrong secret got %d", code)
	}
	a.res.Deliveries += 2
	a.res.Changed += 3 // the marker and the refusal rows
	return nil
}

var errDemoDone = errors.New("already done")
