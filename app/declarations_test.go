package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

// Every job kind store declares (and store's Stripe events enqueue) has a handler in the
// registry the server and the CLI build.
func TestEveryDeclaredJobKindHasAHandler(t *testing.T) {
	db := openOutboxTestDB(t, time.Now)
	reg := &Registry{}
	if err := registerJobHandlers(reg, testConfig(t), db, quietLogger()); err != nil {
		t.Fatal(err)
	}
	for _, k := range store.JobKinds() {
		if _, ok := reg.Lookup(string(k.Kind)); !ok {
			t.Errorf("declared job kind %s has no handler", k.Kind)
		}
	}
	if got, want := len(reg.Types()), len(store.JobKinds()); got != want {
		t.Errorf("%d handlers for %d declared kinds: %v", got, want, reg.Types())
	}
}

// The hazard of issue 14: the app filing the order sync under another name used to leave every
// app test green while each paid order's job died with "no handler". Now the start-up check
// refuses such a registry, and NewServer with it.
func TestAJobKindFiledUnderAnotherNameRefusesToStart(t *testing.T) {
	db := openOutboxTestDB(t, time.Now)
	zoho := NewZohoSync(testConfig(t), db, quietLogger())
	reg := &Registry{}
	reg.Register("zoho_sync_orders", zoho.SyncOrder) // the rename, on the app side only
	registerJob(reg, zoho.syncRefundJob)
	registerJob(reg, newOfferMailer(testConfig(t), db, quietLogger()).sendJob)
	err := reg.CheckDeclared()
	if err == nil || !strings.Contains(err.Error(), "zoho_sync_order") {
		t.Fatalf("CheckDeclared = %v, want the missing zoho_sync_order named", err)
	}
	// The registry registerJobHandlers builds cannot be short of a kind either: its kinds come
	// from the payload types.
	if err := registerJobHandlers(&Registry{}, testConfig(t), db, quietLogger()); err != nil {
		t.Fatal(err)
	}
}

// A handler decodes the payload type the enqueuer used: the job store enqueues for a paid
// order reaches SyncOrder with its order id (it fails later, for want of Zoho configuration).
func TestJobHandlersReadTheDeclaredPayload(t *testing.T) {
	db := openOutboxTestDB(t, time.Now)
	zoho := NewZohoSync(testConfig(t), db, quietLogger())
	job := store.Job{JobType: string(store.JobZohoSyncOrder), Payload: []byte(`{"order_id":"ORD-000042"}`)}
	if _, err := zoho.SyncOrder(context.Background(), job); err == nil || strings.Contains(err.Error(), "payload") {
		t.Fatalf("SyncOrder with a valid payload: %v", err)
	}
	job.JobType = string(store.JobZohoSyncRefund)
	if _, err := zoho.SyncOrder(context.Background(), job); err == nil || !strings.Contains(err.Error(), "not zoho_sync_order") {
		t.Fatalf("SyncOrder of a refund job: %v", err)
	}
}

// The hazard of issue 14: an event of a type the declaration files under one object but that
// carries another is refused, never filed under the wrong id.
func TestStripeEventCarryingAnotherObjectIsRefused(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"charge.refunded","created":1700000000,
		"data":{"object":{"id":"dp_1","object":"dispute","charge":"ch_1","amount":500}}}`)
	if _, err := parseStripeEvent(body); store.ErrorCode(err) != store.EINVALID || !strings.Contains(err.Error(), "dispute") {
		t.Fatalf("parse: %v", err)
	}
	// Every declared type parses a minimal object of its declared kind.
	for _, d := range store.StripeEventTypeDecls() {
		body := []byte(`{"id":"evt_2","type":"` + d.Type + `","created":1700000000,"data":{"object":{"id":"x_1","object":"` + string(d.Object) + `"}}}`)
		if _, err := parseStripeEvent(body); err != nil {
			t.Errorf("%s: %v", d.Type, err)
		}
	}
}

func TestEverySuggestionRuleNamesADeclaredOffer(t *testing.T) {
	for _, a := range store.ActionTypes() {
		if !slices.Contains(offerKeys(), a.OfferKey) {
			t.Errorf("suggestion rule %s answers with offer %q, which app/offers.go does not declare (%v)", a.Type, a.OfferKey, offerKeys())
		}
	}
	if copyFor("reorder") == defaultOfferCopy || copyFor("retired") != defaultOfferCopy {
		t.Fatal("copyFor")
	}
}
