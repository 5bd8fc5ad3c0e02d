package app

import (
	"context"
	"net/http"
	"testing"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
	"github.com/technifold/technifold/store"
)

// addContact adds another contact of a company (e-mail k@company.example, as seedPaidOrder's).
func (e *zohoEnv) addContact(t *testing.T, company, contact string) {
	t.Helper()
	ctx := context.Background()
	if err := e.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO contacts (contact_id, company_id, email, first_name, last_name)
			VALUES (?1, ?2, lower(?1) || '@' || lower(?2) || '.example', 'Sam', ?1)`, contact, company)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A Books customer named after the company already exists, made for another of its contacts:
// Books refuses a second one of that name (3062), and the sync adopts the existing customer,
// found by that contact's e-mail, instead of failing or creating a duplicate.
func TestZohoSyncAdoptsTheCustomerOfAnotherContact(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	ctx := context.Background()
	existing := e.fake.AddCustomer(zohofake.Customer{ContactName: "Company CO1", CompanyName: "Company CO1",
		ContactPersons: []zohofake.ContactPerson{{Email: "k2@co1.example", IsPrimaryContact: true}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000070", company: "CO1", contact: "K1",
		lines: []zohoLine{{code: "C1", qty: 2, unit: 1250}}})
	e.addContact(t, "CO1", "K2")

	e.runToCompletion(t, zohoOrderJob("ORD-000070"))
	if cs := e.fake.Customers(); len(cs) != 1 || cs[0].ContactID != existing.ContactID {
		t.Fatalf("customers %+v, want only the existing %s", cs, existing.ContactID)
	}
	if n := zohoCalls(e.fake, http.MethodPost, "/contacts"); n != 1 {
		t.Fatalf("%d customer creations tried, want the one Books refused", n)
	}
	invs := e.fake.Invoices()
	if len(invs) != 1 || invs[0].CustomerID != existing.ContactID || invs[0].ReferenceNumber != "ORD-000070" {
		t.Fatalf("invoices %+v", invs)
	}
	o, err := e.db.GetZohoOrder(ctx, "ORD-000070")
	if err != nil {
		t.Fatal(err)
	}
	if o.ZohoCustomerID != existing.ContactID || o.Company.ZohoCustomerID != existing.ContactID {
		t.Fatalf("stored customer: order %q, company %q; want %s", o.ZohoCustomerID, o.Company.ZohoCustomerID, existing.ContactID)
	}
}

// A customer of the company's name whose e-mail is none of its contacts' is someone else's:
// the job fails saying how to link it, and nothing is booked or linked.
func TestZohoSyncRefusesACustomerOfTheSameNameItCannotTell(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	ctx := context.Background()
	e.fake.AddCustomer(zohofake.Customer{ContactName: "Company CO3",
		ContactPersons: []zohofake.ContactPerson{{Email: "someone@elsewhere.example", IsPrimaryContact: true}}})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000071", company: "CO3", contact: "K1",
		lines: []zohoLine{{code: "C1", qty: 1, unit: 500}}})
	e.expectSyncFails(t, "ORD-000071", `a zoho books customer named "Company CO3" exists`,
		"none of company CO3's contacts", "companies.zoho_customer_id")
	if len(e.fake.Customers()) != 1 || len(e.fake.Invoices()) != 0 || len(e.fake.Items()) != 0 {
		t.Fatalf("booked: %d customers, %d invoices, %d items", len(e.fake.Customers()), len(e.fake.Invoices()), len(e.fake.Items()))
	}
	if o, _ := e.db.GetZohoOrder(ctx, "ORD-000071"); o.ZohoCustomerID != "" || o.Company.ZohoCustomerID != "" {
		t.Fatalf("linked to a stranger: order %q, company %q", o.ZohoCustomerID, o.Company.ZohoCustomerID)
	}
}

// An item already in Books: under our SKU but another name, it is used as it is; under our
// name without the SKU, the job fails saying to give it the SKU, and creates no duplicate.
func TestZohoSyncItemsThatAlreadyExist(t *testing.T) {
	e := newZohoEnv(t, zohoEnvOptions{})
	ctx := context.Background()
	legacy := e.fake.AddItem(zohofake.Item{Name: "Legacy crease blades", SKU: "C1", Rate: 12.5, ProductType: "goods"})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000072", company: "CO1", contact: "K1",
		lines: []zohoLine{{code: "C1", qty: 3, unit: 1250}}})
	e.runToCompletion(t, zohoOrderJob("ORD-000072"))
	if items := e.fake.Items(); len(items) != 1 || items[0].ItemID != legacy.ItemID || items[0].Name != "Legacy crease blades" {
		t.Fatalf("items %+v, want only the existing one, untouched", items)
	}
	if n := zohoCalls(e.fake, http.MethodPost, "/items"); n != 0 {
		t.Fatalf("%d item creations", n)
	}
	invs := e.fake.Invoices()
	if len(invs) != 1 || len(invs[0].LineItems) != 1 || invs[0].LineItems[0].ItemID != legacy.ItemID {
		t.Fatalf("invoice lines %+v", invs)
	}
	if id, err := e.db.ZohoItemID(ctx, "C1"); err != nil || id != legacy.ItemID {
		t.Fatalf("stored item id %q %v", id, err)
	}

	// "Product C2 (C2)" is the name the sync gives C2; an item of that name without a SKU.
	e.fake.AddItem(zohofake.Item{Name: "Product C2 (C2)", Rate: 5})
	e.seedPaidOrder(t, zohoOrderSeed{order: "ORD-000073", company: "CO1", contact: "K1",
		lines: []zohoLine{{code: "C2", qty: 1, unit: 500}}})
	e.expectSyncFails(t, "ORD-000073", `a zoho books item named "Product C2 (C2)" exists without SKU C2`, "give it that SKU")
	if n := len(e.fake.Items()); n != 2 {
		t.Fatalf("%d items, want the two that were there", n)
	}
	if n := len(e.fake.Invoices()); n != 1 {
		t.Fatalf("%d invoices: the failed order was booked", n)
	}
	if id, _ := e.db.ZohoItemID(ctx, "C2"); id != "" {
		t.Fatalf("C2 linked to %s", id)
	}
}
