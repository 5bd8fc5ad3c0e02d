package store

import (
	"context"
	"testing"
	"time"
)

// offerClock is a settable clock for offer tests.
type offerClock struct{ t time.Time }

func (c *offerClock) now() time.Time { return c.t }

func seedOfferCatalogue(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, c := range []Company{{ID: "C1", Name: "Acme Print", Currency: "gbp"}, {ID: "C2", Name: "Empty Ltd"}} {
			if _, err := tx.UpsertCompany(ctx, c); err != nil {
				return err
			}
		}
		for _, k := range []Contact{
			{ID: "K1", CompanyID: "C1", Email: "a@acme.test", FullName: "Alice A", MarketingStatus: MarketingSubscribed},
			{ID: "K2", CompanyID: "C1", Email: "b@acme.test", FullName: "Bob B", MarketingStatus: MarketingUnsubscribed},
		} {
			if _, err := tx.UpsertContact(ctx, k); err != nil {
				return err
			}
		}
		for _, p := range []Product{
			{Code: "RIB", Description: "Rib", Type: "consumable", Category: "Ribs", Active: true},
			{Code: "HUB", Description: "Hub", Type: "part", Category: "Parts", Active: true},
			{Code: "TOOL", Description: "Tool", Type: "tool", Category: "Tools", Active: true},
			{Code: "OLD", Description: "Old", Type: "consumable", Category: "Ribs", Active: false},
		} {
			if _, err := tx.UpsertProduct(ctx, p); err != nil {
				return err
			}
		}
		_, err := tx.UpsertPrice(ctx, Price{ProductCode: "RIB", Currency: "gbp", UnitAmount: 3900})
		return err
	})
}

func TestOfferSessionLifecycle(t *testing.T) {
	clock := &offerClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	db := openTest(t, Options{Now: clock.now})
	ctx := context.Background()
	seedOfferCatalogue(t, db)

	var created OfferSession
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		created, err = tx.CreateOfferSession(ctx, "secret-id", OfferSession{CompanyID: "C1", ContactID: "K1",
			OfferKey: "reorder", CampaignKey: "spring"}, time.Hour)
		return err
	})
	got, err := db.GetOfferSession(ctx, "secret-id")
	if err != nil {
		t.Fatal(err)
	}
	if got.CompanyID != "C1" || got.ContactID != "K1" || got.OfferKey != "reorder" || got.CampaignKey != "spring" ||
		got.Ref != created.Ref || got.Ref != OfferSessionRef("secret-id") || !got.ExpiresAt.Equal(clock.t.Add(time.Hour)) {
		t.Fatalf("session %+v, created %+v", got, created)
	}
	var stored int
	if err := db.Read().QueryRow(`SELECT count(*) FROM offer_sessions WHERE id_hash = 'secret-id'`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("the raw session id must never be stored (%d, %v)", stored, err)
	}
	if _, err := db.GetOfferSession(ctx, "other"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("unknown session: %v", err)
	}

	clock.t = clock.t.Add(time.Hour + time.Millisecond)
	if _, err := db.GetOfferSession(ctx, "secret-id"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("expired session: %v", err)
	}
	if n, err := db.DeleteExpiredOfferSessions(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredOfferSessions = %d, %v", n, err)
	}

	// Opening a session drops the expired ones.
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.CreateOfferSession(ctx, "short", OfferSession{CompanyID: "C1"}, time.Minute)
		return err
	})
	clock.t = clock.t.Add(2 * time.Minute)
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := tx.CreateOfferSession(ctx, "next", OfferSession{CompanyID: "C1"}, time.Minute)
		return err
	})
	var n int
	if err := db.Read().QueryRow(`SELECT count(*) FROM offer_sessions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d sessions after an expired one (%v)", n, err)
	}
}

func TestDeleteOfferSessionsOfContact(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	seedOfferCatalogue(t, db)
	mustUpdate(t, db, func(tx *Tx) error {
		for id, contact := range map[string]string{"s1": "K1", "s2": "K1", "s3": "K2"} {
			if _, err := tx.CreateOfferSession(ctx, id, OfferSession{CompanyID: "C1", ContactID: contact}, time.Hour); err != nil {
				return err
			}
		}
		n, err := tx.DeleteOfferSessionsOfContact(ctx, "K1")
		if err == nil && n != 2 {
			t.Errorf("deleted %d sessions, want 2", n)
		}
		return err
	})
	if _, err := db.GetOfferSession(ctx, "s3"); err != nil {
		t.Fatalf("another contact's session survives: %v", err)
	}
}

func TestSetMarketingStatus(t *testing.T) {
	clock := &offerClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	db := openTest(t, Options{Now: clock.now})
	ctx := context.Background()
	seedOfferCatalogue(t, db)
	tests := []struct {
		contact, status, wantPrev string
		wantChanged               bool
		wantCode                  string
	}{
		{"K1", MarketingUnsubscribed, MarketingSubscribed, true, ""},
		{"K1", MarketingUnsubscribed, MarketingUnsubscribed, false, ""},
		{"K2", MarketingSubscribed, MarketingUnsubscribed, true, ""},
		{"K1", "opted_out", MarketingUnsubscribed, false, ""},
		{"K1", "nonsense", "", false, EINVALID},
		{"NOPE", MarketingSubscribed, "", false, ENOTFOUND},
	}
	for _, tt := range tests {
		var prev string
		var changed bool
		err := db.Update(ctx, func(tx *Tx) error {
			var err error
			prev, changed, err = tx.SetMarketingStatus(ctx, tt.contact, tt.status)
			return err
		})
		if ErrorCode(err) != tt.wantCode || prev != tt.wantPrev || changed != tt.wantChanged {
			t.Errorf("SetMarketingStatus(%s, %s) = %q, %v, %v", tt.contact, tt.status, prev, changed, err)
		}
	}
	k2, err := db.GetContact(ctx, "K2")
	if err != nil {
		t.Fatal(err)
	}
	if k2.MarketingStatus != MarketingSubscribed || k2.GDPRConsentAt != FormatTime(clock.t) {
		t.Fatalf("resubscribed contact %+v", k2)
	}
}

func TestListCatalogueAndPayload(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	seedOfferCatalogue(t, db)
	items, err := db.ListCatalogue(ctx, "gbp")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].ProductCode != "HUB" || items[0].Price != nil ||
		items[1].ProductCode != "RIB" || items[1].Price == nil || *items[1].Price != 3900 {
		t.Fatalf("catalogue %+v", items)
	}
	p, err := db.GetConsumablePayload(ctx, "C2")
	if err != nil || p.CompanyName != "Empty Ltd" || p.Currency != "gbp" || len(p.ReorderItems) != 0 || len(p.ByToolTabs) != 0 {
		t.Fatalf("payload %+v %v", p, err)
	}
	if _, err := db.GetConsumablePayload(ctx, "NOPE"); ErrorCode(err) != ENOTFOUND {
		t.Fatalf("unknown company: %v", err)
	}
}

func TestFindOfferAudience(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	seedOfferCatalogue(t, db)
	a, err := db.FindOfferAudience(ctx, []string{"C1", "C2", "C9", "C1", " "}, []string{"K2", "K9"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range a.Contacts {
		ids = append(ids, k.ID)
	}
	if len(ids) != 2 || ids[0] != "K1" || ids[1] != "K2" {
		t.Fatalf("contacts %v", ids)
	}
	if len(a.UnknownCompanies) != 1 || a.UnknownCompanies[0] != "C9" || len(a.EmptyCompanies) != 1 ||
		a.EmptyCompanies[0] != "C2" || len(a.UnknownContacts) != 1 || a.UnknownContacts[0] != "K9" {
		t.Fatalf("audience %+v", a)
	}
}
