package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/technifold/technifold/app/display"
	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/app/zohobooks"
	"github.com/technifold/technifold/store"
	"github.com/technifold/technifold/ui"
)

// Offer links (DESIGN §5): GET /x/{token} verifies the signed link, opens an offer session
// (cookie offer_session), records an offer_view and renders the reorder page; POST
// /x/checkout is the page's no-JavaScript checkout. Preferences live in preferences.go,
// e-mails in offer_email.go, the consent rules in offer_consent.go.

const (
	offerCookie     = "offer_session"
	offerSessionTTL = 24 * time.Hour
	// offerPathRedacted is how an offer URL is recorded: the path without its token.
	offerPathRedacted = "/x/…"
)

// offerCopy is the text of one offer, chosen by offer_key.
type offerCopy struct {
	Headline, Intro, CallToAction, Subject string
}

var defaultOfferCopy = offerCopy{Headline: "Consumables for your Technifold tools",
	Intro: "Creasing ribs, blades and spares, priced for you and ready to order.", CallToAction: "Shop consumables",
	Subject: "Consumables for your Technifold tools"}

// offers are the offers staff can send or link (declared once: the suggestion rules name
// theirs, TestEverySuggestionRuleNamesADeclaredOffer), each with its copy.
var offers = [...]struct {
	key  string
	copy offerCopy
}{
	{"reorder", offerCopy{Headline: "Time to restock?", Intro: "Your usual consumables, ready to reorder in a couple of taps.",
		CallToAction: "Reorder now", Subject: "Time to restock your Technifold consumables?"}},
	{"winback", offerCopy{Headline: "We've missed you", Intro: "It has been a while. Here is everything that fits the tools you already own.",
		CallToAction: "See your consumables", Subject: "We've missed you – consumables for your Technifold tools"}},
	{"new_tool", offerCopy{Headline: "Get the most from your new tool", Intro: "These consumables fit the tool you bought from us.",
		CallToAction: "Choose consumables", Subject: "Consumables for your new Technifold tool"}},
	{"portal", defaultOfferCopy},
}

// offerKeys lists the declared offers' keys.
func offerKeys() []string {
	keys := make([]string, len(offers))
	for i, o := range offers {
		keys[i] = o.key
	}
	return keys
}

// copyFor is an offer's copy; unknown keys (links minted before an offer was retired) get the
// generic copy.
func copyFor(offerKey string) offerCopy {
	for _, o := range offers {
		if o.key == offerKey {
			return o.copy
		}
	}
	return defaultOfferCopy
}

// offerHandlers serves the offer pages. It is built once by offerRoutes.
type offerHandlers struct {
	s      *Server
	keys   *offertoken.Keyring // nil when offer links are off
	keyErr string              // why they are off, naming the variable
	pages  *template.Template
	css    template.CSS
	js     template.JS
}

// offerRoutes registers the offer, preferences and offer-sending routes and hands checkout
// the cookie reader.
func (s *Server) offerRoutes() {
	h := newOfferHandlers(s)
	s.offerSession = h.sessionFromRequest
	s.offerToken = h.tokenParty
	s.handleFunc(http.MethodGet, "/x/:token", h.handleView)
	s.handle(http.MethodPost, "/x/checkout", h.crossOriginProtection().Handler(http.HandlerFunc(h.handleCheckout)))
	s.handle(http.MethodPost, "/x/fresh-link", h.crossOriginProtection().Handler(http.HandlerFunc(h.handleFreshLink)))
	s.handleFunc(http.MethodGet, "/preferences/:token", h.handlePreferences)
	s.handleFunc(http.MethodPost, "/preferences/:token", h.handleUpdatePreferences)
	s.offers = h
}

func newOfferHandlers(s *Server) *offerHandlers {
	h := &offerHandlers{s: s}
	switch keys, err := offertoken.ParseKeyring(s.cfg.TokenSecret); {
	case s.cfg.TokenSecret == "":
		h.keyErr = "TOKEN_SECRET is not set"
	case err != nil:
		h.keyErr = "TOKEN_SECRET is not valid (" + err.Error() + ")"
	default:
		h.keys = keys
	}
	h.pages = template.Must(template.New("offer").ParseFS(ui.FS, "templates/offer_layout.html",
		"templates/offer_page.html", "templates/offer_preferences.html"))
	css, err := fs.ReadFile(ui.FS, "static/offer.css")
	if err != nil {
		panic(err) // embedded at build time
	}
	js, err := fs.ReadFile(ui.FS, "static/offer.js")
	if err != nil {
		panic(err)
	}
	// Inlined: one request on a phone, and no static route to share with the admin UI.
	h.css, h.js = template.CSS(css), template.JS(js)
	return h
}

// tokenOutcome is the result of checking a link's token.
type tokenOutcome int

const (
	tokenValid tokenOutcome = iota
	tokenExpired
	tokenInvalid // malformed, tampered or signed with an unknown key
	tokenOff     // TOKEN_SECRET missing or unusable
)

// verify checks token now. With allowExpired, an expired token whose signature is good
// still yields its claims (outcome tokenExpired): unsubscribe links must keep working.
func (h *offerHandlers) verify(ctx context.Context, token string, allowExpired bool) (offertoken.Claims, tokenOutcome) {
	if h.keys == nil {
		return offertoken.Claims{}, tokenOff
	}
	now := h.s.db.Now()
	claims, err := h.keys.Verify(token, now)
	if errors.Is(err, offertoken.ErrExpired) && allowExpired {
		// expires_at is always after the epoch (offertoken rejects others), so checking at the
		// epoch verifies format and signature while accepting any expiry.
		if claims, err = h.keys.Verify(token, time.UnixMilli(0)); err == nil {
			return claims, tokenExpired
		}
	}
	switch {
	case err == nil:
		return claims, tokenValid
	case errors.Is(err, offertoken.ErrExpired):
		h.s.logger.InfoContext(ctx, "offer link expired", "token", offertoken.Redact(token))
		return offertoken.Claims{}, tokenExpired
	case errors.Is(err, offertoken.ErrNoSecret):
		return offertoken.Claims{}, tokenOff
	}
	h.s.logger.InfoContext(ctx, "offer link rejected", "token", offertoken.Redact(token), "reason", err.Error())
	return offertoken.Claims{}, tokenInvalid
}

// pageBase is what every offer page's layout needs.
type pageBase struct {
	Title          string
	PreferencesURL string
	Nonce          string
	CSS            template.CSS
}

// offerMessagePage is a page that only says something (bad link, feature off, checkout trouble).
type offerMessagePage struct {
	pageBase
	Heading    string
	Paragraphs []string
	// FreshLinkToken, on the expired-link page, is posted back by "Send me a fresh link".
	FreshLinkToken string
	// Support, when set, is how to get in touch (bad-link and fresh-link pages).
	Support *offerSupport
}

func (h *offerHandlers) base(title, token string) pageBase {
	b := pageBase{Title: title, Nonce: newNonce(), CSS: h.css}
	if token != "" {
		b.PreferencesURL = "/preferences/" + token
	}
	return b
}

// render writes a page with the headers every offer page carries: never cached, never indexed,
// and no Referer (the URL holds the token) when a buyer follows a link or goes to Stripe.
func (h *offerHandlers) render(w http.ResponseWriter, r *http.Request, status int, name string, nonce string, data any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.s.logger.ErrorContext(r.Context(), "render offer page", "template", name, "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("Something went wrong. Please try again later.")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Robots-Tag", "noindex, nofollow")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+
		"'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderMessage answers with a short message page.
func (h *offerHandlers) renderMessage(w http.ResponseWriter, r *http.Request, status int, token, heading string, paragraphs ...string) {
	p := offerMessagePage{pageBase: h.base(heading, token), Heading: heading, Paragraphs: paragraphs}
	h.render(w, r, status, "offer_message", p.Nonce, p)
}

// renderBadLink answers for a link that cannot be used, without saying why (DESIGN §5).
func (h *offerHandlers) renderBadLink(w http.ResponseWriter, r *http.Request, outcome tokenOutcome, token string) {
	switch outcome {
	case tokenOff:
		h.renderMessage(w, r, http.StatusServiceUnavailable, "", "Offer links are not available",
			"Offer links are switched off on this server: "+h.keyErr+".")
		return
	case tokenExpired:
		// The signature was good, so its preferences page still works (to unsubscribe), and
		// the visitor may ask for a fresh link (offer_fresh_link.go).
		p := offerMessagePage{pageBase: h.base("Invalid or Expired Link", token), Heading: "Invalid or Expired Link",
			Paragraphs: []string{"This link has expired or is no longer valid.",
				"We can e-mail you a fresh link, or use the link in a more recent e-mail from us, or get in touch and we will help."},
			FreshLinkToken: token, Support: h.contactSupport()}
		h.render(w, r, http.StatusGone, "offer_message", p.Nonce, p)
		return
	}
	p := offerMessagePage{pageBase: h.base("Invalid or Expired Link", ""), Heading: "Invalid or Expired Link",
		Paragraphs: []string{"This link has expired or is no longer valid.",
			"Please use the link in a more recent e-mail from us, or get in touch and we will help."},
		Support: h.contactSupport()}
	h.render(w, r, http.StatusNotFound, "offer_message", p.Nonce, p)
}

// handleView serves GET /x/{token}.
func (h *offerHandlers) handleView(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ctx := r.Context()
	token := ps.ByName("token")
	claims, outcome := h.verify(ctx, token, false)
	if outcome != tokenValid {
		h.renderBadLink(w, r, outcome, token)
		return
	}
	company, err := h.s.db.GetCompany(ctx, claims.CompanyID)
	if store.ErrorCode(err) == store.ENOTFOUND {
		h.s.logger.InfoContext(ctx, "offer link for unknown company", "token", offertoken.Redact(token))
		h.renderBadLink(w, r, tokenInvalid, token)
		return
	}
	if err != nil {
		h.serverError(w, r, token, err)
		return
	}
	contact, personal, err := h.audience(ctx, claims)
	if err != nil {
		h.serverError(w, r, token, err)
		return
	}
	preview := h.staffPreview(r)
	if !personal {
		h.renderGeneric(w, r, token, company, claims, preview)
		return
	}
	// A staff preview opens no session and records no offer_view: it is not a customer visit.
	sess := store.OfferSession{CompanyID: claims.CompanyID, ContactID: claims.ContactID,
		OfferKey: claims.OfferKey, CampaignKey: claims.CampaignKey}
	if !preview {
		if sess, err = h.openSession(ctx, w, r, claims); err != nil {
			h.serverError(w, r, token, err)
			return
		}
	}
	payload, err := h.s.db.GetConsumablePayload(ctx, company.ID)
	if err != nil {
		h.serverError(w, r, token, err)
		return
	}
	page := h.personalPage(token, company, contact, sess, payload)
	page.setPreview(preview)
	page.setCheckout(h.checkoutOn(), h.support(reorderSubject(company.Name), nil))
	h.render(w, r, http.StatusOK, "offer_page", page.Nonce, page)
}

// staffPreview reports whether a visit is a staff member's preview: the request carries a
// valid admin session (the admin's Preview button adds ?preview=1, but the parameter alone
// proves nothing, so a customer's visit with it is still recorded).
func (h *offerHandlers) staffPreview(r *http.Request) bool {
	staff, err := h.s.staffSession(r)
	if err != nil {
		h.s.logger.WarnContext(r.Context(), "offer page: staff session check failed", "error", err)
		return false
	}
	return staff
}

func (h *offerHandlers) serverError(w http.ResponseWriter, r *http.Request, token string, err error) {
	h.s.logger.ErrorContext(r.Context(), "offer page failed", "token", offertoken.Redact(token), "error", err,
		"request_id", requestID(r.Context()))
	h.renderMessage(w, r, http.StatusInternalServerError, token, "Something went wrong",
		"We could not show this page just now. Please try again in a minute.")
}

// audience loads the link's contact and decides whether the page may be personalised. A
// company-wide link (no contact) names no person and is personalised for the company; an
// unknown contact, or one now at another company, gets generic content.
func (h *offerHandlers) audience(ctx context.Context, c offertoken.Claims) (store.Contact, bool, error) {
	if c.ContactID == "" {
		return store.Contact{}, true, nil
	}
	k, err := h.s.db.GetContact(ctx, c.ContactID)
	if store.ErrorCode(err) == store.ENOTFOUND {
		return store.Contact{}, false, nil
	}
	if err != nil {
		return store.Contact{}, false, err
	}
	return k, k.CompanyID == c.CompanyID && mayPersonalise(k.MarketingStatus), nil
}

// openSession reuses the visitor's offer session when it is for the same link, or opens a new
// one, and records the offer_view in the same transaction; the cookie is set once it commits.
// Reloads are separate views; two requests in the same second of one session are one.
func (h *offerHandlers) openSession(ctx context.Context, w http.ResponseWriter, r *http.Request, c offertoken.Claims) (store.OfferSession, error) {
	var id string
	if ck, err := r.Cookie(offerCookie); err == nil {
		if s, err := h.s.db.GetOfferSession(ctx, ck.Value); err == nil && s.CompanyID == c.CompanyID &&
			s.ContactID == c.ContactID && s.OfferKey == c.OfferKey && s.CampaignKey == c.CampaignKey {
			id = ck.Value
		}
	}
	reuse := id != ""
	if !reuse {
		id = newSessionID()
	}
	var sess store.OfferSession
	err := h.s.db.Update(ctx, func(tx *store.Tx) error {
		sess = store.OfferSession{Ref: store.OfferSessionRef(id), CompanyID: c.CompanyID, ContactID: c.ContactID,
			OfferKey: c.OfferKey, CampaignKey: c.CampaignKey}
		if !reuse {
			var err error
			if sess, err = tx.CreateOfferSession(ctx, id, sess, offerSessionTTL); err != nil {
				return err
			}
		}
		_, _, err := tx.InsertEvent(ctx, store.Event{Source: "web", Name: store.EventOfferView,
			SourceEventID: "offer_view:" + sess.Ref + ":" + strconv.FormatInt(tx.Now().Unix(), 10),
			CompanyID:     c.CompanyID, ContactID: c.ContactID, OfferKey: c.OfferKey, CampaignKey: c.CampaignKey,
			SessionID: sess.Ref, URL: offerPathRedacted, Meta: viewMeta(r.URL.Query())})
		return err
	})
	if err != nil {
		return sess, err
	}
	http.SetCookie(w, h.sessionCookie(id, int(offerSessionTTL/time.Second)))
	return sess, nil
}

// viewMeta keeps the UTM parameters of the visit under meta.utm.
func viewMeta(q url.Values) map[string]any {
	utm := map[string]string{}
	for _, k := range []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			if len(v) > 200 {
				v = v[:200]
			}
			utm[k] = v
		}
	}
	if len(utm) == 0 {
		return nil
	}
	return map[string]any{"utm": utm}
}

// sessionCookie is the offer_session cookie; maxAge < 0 deletes it.
func (h *offerHandlers) sessionCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: offerCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(strings.ToLower(h.s.cfg.BaseURL), "https://")}
}

// sessionFromRequest is Server.offerSession: the company and contact of the request's live
// offer session, for checkout.
func (h *offerHandlers) sessionFromRequest(r *http.Request) (company, contact string, ok bool) {
	s, ok := h.liveSession(r)
	return s.CompanyID, s.ContactID, ok
}

// tokenParty is Server.offerToken: whom a valid, unexpired offer link speaks for, for
// POST /api/checkout with a "token". Its contact is attached only when the link's page would
// be personalised for them (same rule as GET /x/{token}); otherwise the company alone.
func (h *offerHandlers) tokenParty(ctx context.Context, token string) (offerParty, bool) {
	claims, outcome := h.verify(ctx, token, false)
	if outcome != tokenValid {
		return offerParty{}, false
	}
	p := offerParty{CompanyID: claims.CompanyID, OfferKey: claims.OfferKey, CampaignKey: claims.CampaignKey}
	if claims.ContactID != "" {
		if _, personal, err := h.audience(ctx, claims); err == nil && personal {
			p.ContactID = claims.ContactID
		}
	}
	return p, true
}

// liveSession loads the request's offer session. A contact who may no longer be personalised
// (unsubscribed or bounced since) is dropped from it: checkout then names the company only.
func (h *offerHandlers) liveSession(r *http.Request) (store.OfferSession, bool) {
	ck, err := r.Cookie(offerCookie)
	if err != nil || ck.Value == "" {
		return store.OfferSession{}, false
	}
	s, err := h.s.db.GetOfferSession(r.Context(), ck.Value)
	if err != nil {
		return store.OfferSession{}, false
	}
	if s.ContactID != "" {
		if k, err := h.s.db.GetContact(r.Context(), s.ContactID); err != nil || !mayPersonalise(k.MarketingStatus) {
			s.ContactID = ""
		}
	}
	return s, true
}

// offerPage is the reorder page's data.
type offerPage struct {
	pageBase
	Copy                   offerCopy
	CompanyName, FirstName string
	Currency               string
	Exponent               int
	OfferKey, CampaignKey  string
	Token                  string // generic pages only: their forms check out with the link
	Reorder                []offerItemView
	Tools                  []offerToolView
	Catalogue              []offerCategoryView
	JS                     template.JS
	// Preview is a staff member's visit: a banner says so and buying is switched off.
	Preview bool
	// CheckoutOff: online checkout is not configured, so the page shows how to reorder by
	// e-mail or phone (Support) instead of buy buttons (offer_fallback.go). Support is also
	// shown when a checkout attempt fails.
	CheckoutOff bool
	Support     offerSupport
}

// setPreview marks the page and its items as a staff preview.
func (p *offerPage) setPreview(on bool) {
	if on {
		p.Preview = true
		p.eachItem(func(it *offerItemView) { it.Preview = true })
	}
}

// setCheckout says whether online checkout is on, and how else to reorder.
func (p *offerPage) setCheckout(on bool, support offerSupport) {
	p.Support = support
	if !on {
		p.CheckoutOff = true
		p.eachItem(func(it *offerItemView) { it.NoCheckout = true })
	}
}

func (p *offerPage) eachItem(fn func(*offerItemView)) {
	mark := func(items []offerItemView) {
		for i := range items {
			fn(&items[i])
		}
	}
	mark(p.Reorder)
	for i := range p.Tools {
		mark(p.Tools[i].Consumables)
	}
	for i := range p.Catalogue {
		mark(p.Catalogue[i].Items)
	}
}

type offerItemView struct {
	Code, Description, Category, LastPurchase string
	Price                                     string // formatted
	Amount                                    int64  // minor units
	Buyable                                   bool
	Quantity                                  int64
	Token                                     string
	Preview                                   bool // staff preview: the buy button is disabled
	NoCheckout                                bool // checkout is off: price only, no buy form
}

type offerToolView struct {
	Code, Description string
	Consumables       []offerItemView
}

type offerCategoryView struct {
	Name  string
	Items []offerItemView
}

func itemView(it store.OfferItem, currency, token string) offerItemView {
	v := offerItemView{Code: it.ProductCode, Description: it.Description, Category: it.Category,
		LastPurchase: customerDate(it.LastPurchase), Quantity: min(max(it.LastQuantity, 1), 999), Token: token}
	if it.Price != nil {
		v.Amount, v.Buyable, v.Price = *it.Price, true, formatMoney(*it.Price, currency)
	}
	return v
}

func (h *offerHandlers) personalPage(token string, co store.Company, k store.Contact, s store.OfferSession, p store.ConsumablePayload) offerPage {
	cp := copyFor(s.OfferKey)
	page := offerPage{pageBase: h.base(cp.Headline, token), Copy: cp, CompanyName: co.Name, FirstName: k.FirstName,
		Currency: p.Currency, Exponent: zohobooks.CurrencyExponent(p.Currency), OfferKey: s.OfferKey, CampaignKey: s.CampaignKey, JS: h.js}
	for _, it := range p.ReorderItems {
		page.Reorder = append(page.Reorder, itemView(it, p.Currency, ""))
	}
	for _, t := range p.ByToolTabs {
		tv := offerToolView{Code: t.ToolCode, Description: t.ToolDescription}
		for _, it := range t.Consumables {
			tv.Consumables = append(tv.Consumables, itemView(it, p.Currency, ""))
		}
		page.Tools = append(page.Tools, tv)
	}
	return page
}

// renderGeneric shows the catalogue without anything learnt about the visitor, records
// nothing, and drops any offer session cookie the browser still has.
func (h *offerHandlers) renderGeneric(w http.ResponseWriter, r *http.Request, token string, co store.Company, c offertoken.Claims, preview bool) {
	items, err := h.s.db.ListCatalogue(r.Context(), co.Currency)
	if err != nil {
		h.serverError(w, r, token, err)
		return
	}
	if _, err := r.Cookie(offerCookie); err == nil && !preview {
		http.SetCookie(w, h.sessionCookie("", -1))
	}
	cp := copyFor("")
	page := offerPage{pageBase: h.base(cp.Headline, token), Copy: cp, Currency: co.Currency,
		Exponent: zohobooks.CurrencyExponent(co.Currency), Token: token, JS: h.js}
	for _, it := range items {
		n := len(page.Catalogue)
		if n == 0 || page.Catalogue[n-1].Name != it.Category {
			page.Catalogue = append(page.Catalogue, offerCategoryView{Name: it.Category})
			n++
		}
		page.Catalogue[n-1].Items = append(page.Catalogue[n-1].Items, itemView(it, co.Currency, token))
	}
	page.setPreview(preview)
	page.setCheckout(h.checkoutOn(), h.support(reorderSubject(""), nil))
	h.render(w, r, http.StatusOK, "offer_page", page.Nonce, page)
}

// newSessionID returns a random, unguessable session id for the cookie.
func newSessionID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// customerDate shows a YYYY-MM-DD date the way every page does ("16 Nov 2026"); anything
// else is shown as it is.
func customerDate(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return day
	}
	return t.Format(display.DateFormat)
}
