package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/technifold/technifold/store"
)

// demoProduct is a catalogue entry of the demo data set, with its GBP price in pence.
type demoProduct struct {
	code, desc, typ, category string
	gbp                       int64
	fits                      []string // for consumables: the tools they fit
}

var demoCatalogue = []demoProduct{
	{code: "TF-TRI-CREASER", desc: "Tri-Creaser Easy-Fit creasing tool", typ: "tool", category: "Creasing", gbp: 185000},
	{code: "TF-SPINE-CREASER", desc: "Spine-Creaser for perfect binders", typ: "tool", category: "Creasing", gbp: 240000},
	{code: "TF-MICRO-PERF", desc: "Micro-Perforator", typ: "tool", category: "Perforating", gbp: 129000},
	{code: "TF-MULTI-TOOL", desc: "Multi-Tool slitting and perforating", typ: "tool", category: "Slitting", gbp: 98000},
	{code: "TF-FOLD-PLATE", desc: "Fold Plate Deluxe", typ: "tool", category: "Folding", gbp: 156000},
	{code: "CR-RIB-BLACK", desc: "Creasing rib, black (90-150 gsm)", typ: "consumable", category: "Creasing ribs", gbp: 3900, fits: []string{"TF-TRI-CREASER", "TF-SPINE-CREASER"}},
	{code: "CR-RIB-RED", desc: "Creasing rib, red (150-250 gsm)", typ: "consumable", category: "Creasing ribs", gbp: 3900, fits: []string{"TF-TRI-CREASER", "TF-SPINE-CREASER"}},
	{code: "CR-RIB-BLUE", desc: "Creasing rib, blue (250-350 gsm)", typ: "consumable", category: "Creasing ribs", gbp: 4200, fits: []string{"TF-TRI-CREASER", "TF-SPINE-CREASER"}},
	{code: "CR-RIB-YELLOW", desc: "Creasing rib, yellow (350+ gsm)", typ: "consumable", category: "Creasing ribs", gbp: 4500, fits: []string{"TF-TRI-CREASER"}},
	{code: "PF-BLADE-24", desc: "Perforating blade, 24 teeth per inch", typ: "consumable", category: "Perforating blades", gbp: 6500, fits: []string{"TF-MICRO-PERF", "TF-MULTI-TOOL"}},
	{code: "PF-BLADE-48", desc: "Perforating blade, 48 teeth per inch", typ: "consumable", category: "Perforating blades", gbp: 6900, fits: []string{"TF-MICRO-PERF", "TF-MULTI-TOOL"}},
	{code: "PF-BLADE-72", desc: "Micro-perforating blade, 72 teeth per inch", typ: "consumable", category: "Perforating blades", gbp: 7900, fits: []string{"TF-MICRO-PERF"}},
	{code: "SL-BLADE-STD", desc: "Slitting blade, standard", typ: "consumable", category: "Slitting blades", gbp: 5400, fits: []string{"TF-MULTI-TOOL"}},
	{code: "SL-GUTTER-KIT", desc: "Gutter slitting kit", typ: "consumable", category: "Slitting blades", gbp: 11900, fits: []string{"TF-MULTI-TOOL"}},
	{code: "FP-ROLLER-SET", desc: "Fold plate roller set", typ: "consumable", category: "Folding spares", gbp: 8800, fits: []string{"TF-FOLD-PLATE"}},
	{code: "PT-HUB-SET", desc: "Replacement hub set", typ: "part", category: "Spare parts", gbp: 14500},
	{code: "SV-SETUP", desc: "Remote set-up session (1 hour)", typ: "service", category: "Services", gbp: 9500},
}

// demoFX converts the GBP demo prices to the other two currencies (rounded to 50 minor units).
var demoFX = map[string]float64{"gbp": 1, "eur": 1.17, "usd": 1.27}

var (
	demoPrefixes = []string{"Acme", "Northside", "Riverside", "Harbour", "Summit", "Blackfriars", "Kingfisher",
		"Pennine", "Lakeland", "Meridian", "Orchard", "Sterling", "Thames", "Beacon", "Crown", "Falcon", "Granite",
		"Highland", "Ironbridge", "Juniper", "Keystone", "Lighthouse", "Millstone", "Nordic", "Oakwood"}
	demoSuffixes   = []string{"Print", "Finishing", "Press", "Graphics", "Bindery"}
	demoCountries  = []struct{ code, currency string }{{"GB", "gbp"}, {"GB", "gbp"}, {"GB", "gbp"}, {"IE", "eur"}, {"DE", "eur"}, {"FR", "eur"}, {"NL", "eur"}, {"US", "usd"}, {"US", "usd"}}
	demoFirstNames = []string{"Alice", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Katie", "Liam", "Maya", "Noah", "Olivia", "Priya"}
	demoLastNames  = []string{"Adams", "Baker", "Clarke", "Dubois", "Evans", "Fischer", "Green", "Hughes", "Iqbal", "Jensen", "Khan", "Lewis", "Murphy", "Novak"}
	demoStatuses   = []string{"subscribed", "subscribed", "subscribed", "subscribed", "pending", "unsubscribed", "bounced"}
)

// DemoResult says what LoadDemo wrote.
type DemoResult struct {
	Companies, Contacts, Products, Sales, Events int
	Changed                                      int
	Anchor                                       string
}

// LoadDemo loads the demo data set: a catalogue of tools, consumables and the map between
// them with prices in GBP, EUR and USD, 50 companies with contacts of mixed consent and two
// years of purchase history shaped so that each suggestion rule fires for some companies. The
// data are generated from a fixed seed and anchored on the day of the first load (kept in
// integration_state), so running it again changes nothing.
func LoadDemo(ctx context.Context, db *store.DB) (DemoResult, error) {
	var res DemoResult
	err := db.Update(ctx, func(tx *store.Tx) error {
		res = DemoResult{}
		anchorText, ok, err := tx.GetState(ctx, "demo_anchor")
		if err != nil {
			return err
		}
		if !ok {
			anchorText = tx.Now().Format("2006-01-02")
			if err := tx.SetState(ctx, "demo_anchor", anchorText); err != nil {
				return err
			}
		}
		anchor, err := time.Parse("2006-01-02", anchorText)
		if err != nil {
			return fmt.Errorf("demo anchor %q: %w", anchorText, err)
		}
		res.Anchor = anchorText
		return writeDemo(ctx, tx, anchor, &res)
	})
	return res, err
}

func writeDemo(ctx context.Context, tx *store.Tx, anchor time.Time, res *DemoResult) error {
	count := func(changed bool, err error) error {
		if changed {
			res.Changed++
		}
		return err
	}
	for _, p := range demoCatalogue {
		res.Products++
		if err := count(tx.UpsertProduct(ctx, store.Product{Code: p.code, Description: p.desc, Type: p.typ, Category: p.category, Active: true})); err != nil {
			return err
		}
		for _, cur := range []string{"gbp", "eur", "usd"} {
			amount := int64(float64(p.gbp)*demoFX[cur]/50+0.5) * 50
			if err := count(tx.UpsertPrice(ctx, store.Price{ProductCode: p.code, Currency: cur, UnitAmount: amount})); err != nil {
				return err
			}
		}
	}
	for _, p := range demoCatalogue {
		for _, tool := range p.fits {
			if err := count(tx.UpsertToolConsumable(ctx, tool, p.code)); err != nil {
				return err
			}
		}
	}
	rng := rand.New(rand.NewPCG(20250120, 42))
	for i := range 50 {
		if err := writeDemoCompany(ctx, tx, rng, i, anchor, res, count); err != nil {
			return err
		}
	}
	return nil
}

// demoProfile shapes a company's history so each suggestion rule has companies to fire on.
type demoProfile int

const (
	profileRegular  demoProfile = iota // orders on a steady cadence up to recently
	profileLapsed                      // a steady cadence that stopped 70-140 days ago → reorder_reminder
	profileDormant                     // a big spender silent for 7-14 months → engagement_needed
	profileNewcomer                    // one order only
	profileProspect                    // no orders at all
)

func writeDemoCompany(ctx context.Context, tx *store.Tx, rng *rand.Rand, i int, anchor time.Time, res *DemoResult,
	count func(bool, error) error) error {
	country := demoCountries[rng.IntN(len(demoCountries))]
	c := store.Company{
		ID:       fmt.Sprintf("COMPANY%03d", 101+i),
		Name:     demoPrefixes[i%len(demoPrefixes)] + " " + demoSuffixes[(i/len(demoPrefixes)+i)%len(demoSuffixes)],
		Type:     []string{"printer", "print finisher", "in-plant", "bindery"}[rng.IntN(4)],
		Country:  country.code,
		Category: []string{"commercial", "digital", "packaging", "book"}[rng.IntN(4)],
		Currency: country.currency,
	}
	res.Companies++
	if err := count(tx.UpsertCompany(ctx, c)); err != nil {
		return err
	}
	var contacts []store.Contact
	for j := range 1 + rng.IntN(3) {
		first, last := demoFirstNames[rng.IntN(len(demoFirstNames))], demoLastNames[rng.IntN(len(demoLastNames))]
		k := store.Contact{
			ID: fmt.Sprintf("CONTACT%03d%d", 101+i, j+1), CompanyID: c.ID,
			Email:     fmt.Sprintf("%s.%s.%d@%s.example", strings.ToLower(first), strings.ToLower(last), j+1, strings.ToLower(demoPrefixes[i%len(demoPrefixes)])),
			FirstName: first, LastName: last, FullName: first + " " + last,
			MarketingStatus: demoStatuses[rng.IntN(len(demoStatuses))],
		}
		if j == 0 && i%7 != 6 {
			k.MarketingStatus = "subscribed" // most companies have one reachable buyer
		}
		if k.MarketingStatus == "subscribed" {
			k.GDPRConsentAt = store.FormatTime(anchor.AddDate(-2, 0, rng.IntN(300)))
		}
		res.Contacts++
		if err := count(tx.UpsertContact(ctx, k)); err != nil {
			return err
		}
		contacts = append(contacts, k)
	}

	profile := []demoProfile{profileRegular, profileRegular, profileLapsed, profileDormant, profileRegular,
		profileLapsed, profileNewcomer, profileRegular, profileDormant, profileProspect}[i%10]
	if profile == profileProspect {
		return nil
	}
	tools := demoToolsFor(rng)
	cadence := 25 + rng.IntN(40) // days between consumable orders
	start := anchor.AddDate(-2, 0, rng.IntN(60))
	stop := anchor.AddDate(0, 0, -rng.IntN(cadence/2+1))
	switch profile {
	case profileLapsed:
		cadence = 25 + rng.IntN(15)
		stop = anchor.AddDate(0, 0, -(70 + rng.IntN(70)))
	case profileDormant:
		stop = anchor.AddDate(0, 0, -(210 + rng.IntN(210)))
	case profileNewcomer:
		start = anchor.AddDate(0, 0, -(10 + rng.IntN(40)))
		stop = start
	}
	n := 0
	sale := func(date time.Time, product string, qty int64) error {
		p := demoProductByCode(product)
		amount := int64(float64(p.gbp)*demoFX[c.Currency]/50+0.5) * 50
		res.Sales++
		return count(tx.UpsertSale(ctx, store.Sale{CompanyID: c.ID, ProductCode: product, Quantity: qty, UnitAmount: amount,
			Currency: c.Currency, TxnDate: date.Format("2006-01-02"), InvoiceNumber: fmt.Sprintf("INV-%s-%03d", c.ID, n), Source: "demo"}))
	}
	// The first order buys the tools; later ones buy what fits them.
	n++
	for _, t := range tools {
		if err := sale(start, t, 1); err != nil {
			return err
		}
	}
	fits := demoConsumablesFor(tools)
	for d := start.AddDate(0, 0, cadence); !d.After(stop); d = d.AddDate(0, 0, cadence+rng.IntN(7)-3) {
		n++
		lines := 1 + rng.IntN(3)
		for k := range min(lines, len(fits)) { // distinct products per order: (invoice, product) is the key
			if err := sale(d, fits[(n+k)%len(fits)], int64(1+rng.IntN(6))); err != nil {
				return err
			}
		}
	}
	return writeDemoEvents(ctx, tx, rng, c, contacts, profile, anchor, res)
}

// writeDemoEvents adds recent engagement: regular customers view offers and open e-mails
// (some recently, so the portal invite does not fire for everyone); dormant ones stay silent.
func writeDemoEvents(ctx context.Context, tx *store.Tx, rng *rand.Rand, c store.Company, contacts []store.Contact,
	profile demoProfile, anchor time.Time, res *DemoResult) error {
	if profile == profileDormant {
		return nil
	}
	names := []store.EventName{store.EventEmailOpened, store.EventEmailClicked, store.EventOfferView, store.EventCampaignSent, store.EventFormSubmitted}
	for j := range 2 + rng.IntN(6) {
		k := contacts[rng.IntN(len(contacts))]
		if k.MarketingStatus == "unsubscribed" || k.MarketingStatus == "bounced" {
			continue
		}
		name := names[rng.IntN(len(names))]
		source := "zoho"
		if name == store.EventOfferView {
			source = "web"
		}
		e := store.Event{Source: source, SourceEventID: fmt.Sprintf("demo-%s-%d", c.ID, j), Name: name,
			CompanyID: c.ID, ContactID: k.ID, CampaignKey: "spring-reorder",
			OccurredAt: anchor.Add(-time.Duration(rng.IntN(60*24)) * time.Hour).Add(time.Duration(rng.IntN(3600)) * time.Second)}
		if name == store.EventOfferView {
			e.OfferKey = "reorder"
			e.URL = "/x/…"
		}
		res.Events++
		if _, inserted, err := tx.InsertEvent(ctx, e); err != nil {
			return err
		} else if inserted {
			res.Changed++
		}
	}
	return nil
}

func demoToolsFor(rng *rand.Rand) []string {
	var tools []string
	for _, p := range demoCatalogue {
		if p.typ == "tool" && (len(tools) == 0 || rng.IntN(4) == 0) && rng.IntN(2) == 0 {
			tools = append(tools, p.code)
		}
	}
	if len(tools) == 0 {
		tools = []string{"TF-TRI-CREASER"}
	}
	return tools
}

func demoConsumablesFor(tools []string) []string {
	var out []string
	for _, p := range demoCatalogue {
		for _, f := range p.fits {
			for _, t := range tools {
				if f == t && (len(out) == 0 || out[len(out)-1] != p.code) {
					out = append(out, p.code)
				}
			}
		}
	}
	return append(out, "PT-HUB-SET")
}

func demoProductByCode(code string) demoProduct {
	for _, p := range demoCatalogue {
		if p.code == code {
			return p
		}
	}
	panic("demo product " + code + " is not in the catalogue")
}
