package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/stripe/stripe-go/v85"

	"github.com/technifold/technifold/app/console"
	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// maxCheckoutBody caps POST /api/checkout bodies.
const maxCheckoutBody = 64 << 10

// stripeCallTimeout bounds one call to the Stripe API (retries included).
const stripeCallTimeout = 30 * time.Second

// stripeNetworkRetries is how often stripe-go retries a failed call (with the same
// Idempotency-Key); tests lower it.
var stripeNetworkRetries int64 = 2

// stripeService is the app's side of Stripe: the API client, the webhook secrets and the
// checkout options, all from configuration.
type stripeService struct {
	cfg     *Config
	db      *store.DB
	logger  *slog.Logger
	client  *stripe.Client // nil when STRIPE_SECRET_KEY is not set
	secrets []string       // webhook signing secrets; empty when STRIPE_WEBHOOK_SECRET is not set
	opts    checkoutOptions
	limiter *checkoutLimiter // anonymous checkouts per address and per company
	optsErr error            // a checkout option that did not parse; checkout answers 503 with it
	now     func() time.Time

	prepMu   sync.Mutex
	prepared *store.StripeStatements // prepared on first use, outside any transaction
	prepErr  time.Time               // when preparing last failed (retried after a minute)
}

// checkoutOptions are the configurable parts of a Checkout Session.
type checkoutOptions struct {
	shippingCountries   []string
	automaticTax        bool
	allowPromotionCodes bool
}

func newStripeService(cfg *Config, db *store.DB, logger *slog.Logger) *stripeService {
	s := &stripeService{cfg: cfg, db: db, logger: logger, now: time.Now}
	for _, sec := range strings.Split(cfg.StripeWebhookSecret, ",") {
		if sec = strings.TrimSpace(sec); sec != "" {
			s.secrets = append(s.secrets, sec)
		}
	}
	perAddress, perCompany := cfg.CheckoutRatePerAddress, cfg.CheckoutRatePerCompany
	if perAddress <= 0 {
		perAddress = 10
	}
	if perCompany <= 0 {
		perCompany = 30
	}
	s.limiter = newCheckoutLimiter(perAddress, perCompany, db.Now)
	s.opts, s.optsErr = parseCheckoutOptions(cfg)
	if s.optsErr != nil {
		logger.Warn("stripe checkout options", "error", s.optsErr)
	}
	if cfg.StripeSecretKey != "" {
		bc := &stripe.BackendConfig{
			HTTPClient:        &http.Client{Timeout: stripeCallTimeout},
			LeveledLogger:     stripeLogger{logger},
			MaxNetworkRetries: stripe.Int64(stripeNetworkRetries),
		}
		if cfg.StripeAPIBase != "" {
			bc.URL = stripe.String(strings.TrimRight(cfg.StripeAPIBase, "/"))
		}
		s.client = stripe.NewClient(cfg.StripeSecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))
	}
	return s
}

func parseCheckoutOptions(cfg *Config) (checkoutOptions, error) {
	var o checkoutOptions
	var errs []error
	for _, c := range strings.Split(cfg.StripeShippingCountries, ",") {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			errs = append(errs, fmt.Errorf("STRIPE_SHIPPING_COUNTRIES: %q is not a two-letter country code", c))
			continue
		}
		o.shippingCountries = append(o.shippingCountries, c)
	}
	for _, b := range []struct {
		env, val string
		dst      *bool
	}{{"STRIPE_AUTOMATIC_TAX", cfg.StripeAutomaticTax, &o.automaticTax},
		{"STRIPE_ALLOW_PROMOTION_CODES", cfg.StripeAllowPromotionCodes, &o.allowPromotionCodes}} {
		if strings.TrimSpace(b.val) == "" {
			continue
		}
		v, err := strconv.ParseBool(strings.TrimSpace(b.val))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s must be true or false, got %q", b.env, b.val))
		}
		*b.dst = v
	}
	return o, errors.Join(errs...)
}

// stripeRoutes registers the checkout, its pages and the Stripe webhook.
func (s *Server) stripeRoutes() {
	if s.stripe == nil {
		s.stripe = newStripeService(s.cfg, s.db, s.logger)
	}
	s.handleFunc(http.MethodPost, "/api/checkout", s.handleCheckout)
	s.handleFunc(http.MethodGet, "/api/orders/status", s.handleOrderStatus)
	s.handleFunc(http.MethodGet, "/checkout/success", s.handleCheckoutSuccess)
	s.handleFunc(http.MethodGet, "/checkout/cancel", s.handleCheckoutCancel)
	s.handleFunc(http.MethodPost, "/api/stripe/webhook", s.handleStripeWebhook)
}

// checkoutRequest is the body of POST /api/checkout.
type checkoutRequest struct {
	CompanyID   string         `json:"company_id"`
	ContactID   string         `json:"contact_id"`
	Items       []checkoutItem `json:"items"`
	OfferKey    string         `json:"offer_key"`
	CampaignKey string         `json:"campaign_key"`
	Currency    string         `json:"currency"`
	// Token is an offer link's token: an anonymous caller's alternative to the offer_session
	// cookie.
	Token string `json:"token"`
}

type checkoutItem struct {
	ProductCode string      `json:"product_code"`
	Quantity    json.Number `json:"quantity"`
}

// checkoutResponse is the answer of POST /api/checkout.
type checkoutResponse struct {
	URL       string `json:"url"`
	SessionID string `json:"session_id"`
	OrderID   string `json:"order_id"`
}

// handleCheckout serves POST /api/checkout. Who names the company and contact depends on the
// caller (see checkoutParty); anonymous checkouts are rate-limited per address and company.
func (s *Server) handleCheckout(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if f := s.cfg.Feature(FeatureCheckout); !f.On() {
		writeErrorMessage(w, http.StatusServiceUnavailable, f.Why())
		return
	}
	if s.stripe.optsErr != nil {
		writeErrorMessage(w, http.StatusServiceUnavailable, FeatureCheckout+" is misconfigured: "+s.stripe.optsErr.Error())
		return
	}
	var req checkoutRequest
	if err := decodeJSONBody(w, r, maxCheckoutBody, &req); err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	// A bearer token goes through the same per-address guessing throttle as /api/admin/*
	// (401 when wrong, 429 past the limit), so this route is no second oracle for it.
	viaToken := false
	if tok := web.BearerToken(r); tok != "" {
		if !s.checkGuessedSecret(w, r, "api-token", tok, s.cfg.AdminAPIToken, "invalid API token") {
			return
		}
		viaToken = true
	}
	trusted, err := s.checkoutParty(r, &req, viaToken)
	var refused *checkoutRefusal
	switch {
	case errors.As(err, &refused):
		writeErrorMessage(w, refused.status, refused.msg)
		return
	case err != nil:
		writeError(w, r, s.logger, err)
		return
	}
	n, err := req.newOrder()
	if err != nil {
		writeError(w, r, s.logger, err)
		return
	}
	if !trusted {
		if wait := s.stripe.limiter.take(s.clientIP(r), n.CompanyID); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			writeErrorMessage(w, http.StatusTooManyRequests, "too many checkouts; try again in a minute")
			return
		}
	}
	res, err := s.stripe.startCheckout(r.Context(), n)
	var pe *paymentProviderError
	switch {
	case errors.As(err, &pe):
		writeErrorMessage(w, http.StatusBadGateway, "payment provider error: "+pe.msg)
	case err != nil:
		writeError(w, r, s.logger, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// checkoutRefusal is a checkout refused for who is asking (403).
type checkoutRefusal struct {
	status int
	msg    string
}

func (e *checkoutRefusal) Error() string { return e.msg }

// offerParty is who an offer session or offer link speaks for.
type offerParty struct {
	CompanyID, ContactID, OfferKey, CampaignKey string
}

// checkoutParty decides who the checkout is for and reports whether the caller is trusted.
//
//   - Authorization: Bearer ADMIN_API_TOKEN (viaToken: checked by the caller), or a signed-in
//     staff session (same-origin requests only), is trusted: company_id and contact_id come
//     from the body. A trusted request naming no company falls back to the rules below.
//   - Anyone else checks out only with an offer link: the "token" field, else the
//     offer_session cookie of /x/{token}. Company and contact come from it; ids in the body
//     must be empty or the same, else the request gets the uniform unknown-party error.
//     Without either, 403.
func (s *Server) checkoutParty(r *http.Request, req *checkoutRequest, viaToken bool) (trusted bool, err error) {
	if viaToken {
		trusted = true
	} else if c, cerr := r.Cookie(console.SessionCookie); cerr == nil && c.Value != "" {
		staff, err := s.staffSession(r)
		if err != nil {
			return false, err
		}
		if staff {
			if err := s.console.CheckOrigin(r); err != nil {
				return false, &checkoutRefusal{status: http.StatusForbidden, msg: "cross-origin request refused"}
			}
			trusted = true
		}
	}
	if trusted && strings.TrimSpace(req.CompanyID) != "" {
		return true, nil
	}
	var party offerParty
	ok := false
	switch {
	case req.Token != "":
		if s.offerToken != nil {
			party, ok = s.offerToken(r.Context(), req.Token)
		}
		if !ok {
			return trusted, &checkoutRefusal{status: http.StatusForbidden, msg: "invalid or expired offer link"}
		}
	case s.offerSession != nil:
		party.CompanyID, party.ContactID, ok = s.offerSession(r)
	}
	if !ok {
		return trusted, &checkoutRefusal{status: http.StatusForbidden, msg: "checkout needs an offer link: open the link from your e-mail"}
	}
	if (req.CompanyID != "" && req.CompanyID != party.CompanyID) || (req.ContactID != "" && req.ContactID != party.ContactID) {
		return trusted, invalidf("%s", store.ErrUnknownParty)
	}
	req.CompanyID, req.ContactID = party.CompanyID, party.ContactID
	if party.OfferKey != "" {
		req.OfferKey = party.OfferKey
	}
	if party.CampaignKey != "" {
		req.CampaignKey = party.CampaignKey
	}
	return trusted, nil
}

var currencyCode = regexp.MustCompile(`^[a-z]{3}$`)

// newOrder checks the request's shape and merges repeated product codes (summing their
// quantities); the catalogue checks happen in store.CreateOrder.
func (req checkoutRequest) newOrder() (store.NewOrder, error) {
	n := store.NewOrder{CompanyID: strings.TrimSpace(req.CompanyID), ContactID: strings.TrimSpace(req.ContactID),
		OfferKey: strings.TrimSpace(req.OfferKey), CampaignKey: strings.TrimSpace(req.CampaignKey),
		Currency: strings.ToLower(strings.TrimSpace(req.Currency))}
	switch {
	case n.CompanyID == "":
		return n, invalidf("company_id: required")
	case len(n.CompanyID) > 64:
		return n, invalidf("company_id: too long")
	case len(n.ContactID) > 64:
		return n, invalidf("contact_id: too long")
	case len(n.OfferKey) > 100:
		return n, invalidf("offer_key: too long")
	case len(n.CampaignKey) > 100:
		return n, invalidf("campaign_key: too long")
	case n.Currency != "" && !currencyCode.MatchString(n.Currency):
		return n, invalidf("currency: must be a three-letter ISO code such as gbp")
	case len(req.Items) == 0:
		return n, invalidf("items: at least one item is required")
	case len(req.Items) > store.MaxOrderLines:
		return n, invalidf("items: at most %d items are allowed", store.MaxOrderLines)
	}
	index := map[string]int{} // product code → its line in n.Lines
	for i, it := range req.Items {
		ref := fmt.Sprintf("items[%d]", i)
		code := strings.TrimSpace(it.ProductCode)
		if code == "" {
			return n, invalidf("%s: product_code is required", ref)
		}
		if len(code) > 64 {
			return n, invalidf("%s: product_code is too long", ref)
		}
		q, err := strconv.ParseInt(it.Quantity.String(), 10, 64)
		if err != nil || q < 1 || q > store.MaxLineQuantity {
			return n, invalidf("%s: quantity must be a whole number between 1 and %d", ref, store.MaxLineQuantity)
		}
		if j, ok := index[code]; ok {
			n.Lines[j].Quantity += q
			if n.Lines[j].Quantity > store.MaxLineQuantity {
				return n, invalidf("%s: quantity of %q adds up to %d, more than %d", ref, code, n.Lines[j].Quantity, store.MaxLineQuantity)
			}
			continue
		}
		index[code] = len(n.Lines)
		n.Lines = append(n.Lines, store.OrderLine{Ref: ref, ProductCode: code, Quantity: q})
	}
	return n, nil
}

// paymentProviderError is a failure of Stripe's; msg is safe to show (no keys, no internals).
type paymentProviderError struct {
	msg string
	err error
}

func (e *paymentProviderError) Error() string { return "stripe: " + e.msg }
func (e *paymentProviderError) Unwrap() error { return e.err }

// startCheckout creates the order (with its items and checkout_started event) in one
// transaction, then its Stripe Checkout Session outside any transaction, then stores the
// session on the order. A Stripe failure marks the order failed.
func (s *stripeService) startCheckout(ctx context.Context, n store.NewOrder) (checkoutResponse, error) {
	var o store.Order
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		o, err = tx.CreateOrder(ctx, n)
		return err
	})
	if err != nil {
		return checkoutResponse{}, err
	}
	// The order exists now: finish the job even if the buyer's connection drops.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stripeCallTimeout)
	defer cancel()
	params := s.sessionParams(o)
	params.Context = ctx
	sess, err := s.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		pe := &paymentProviderError{msg: stripeErrorMessage(err), err: err}
		s.logger.Warn("stripe checkout session failed", "order_id", o.ID, "error", pe.msg)
		if ferr := s.db.Update(ctx, func(tx *store.Tx) error { return tx.FailCheckout(ctx, o.ID, pe.Error()) }); ferr != nil {
			s.logger.Error("mark order failed", "order_id", o.ID, "error", ferr)
		}
		return checkoutResponse{}, pe
	}
	err = s.db.Update(ctx, func(tx *store.Tx) error { return tx.SetCheckoutSession(ctx, o.ID, sess.ID, sess.URL) })
	if err != nil {
		return checkoutResponse{}, fmt.Errorf("store checkout session of order %s: %w", o.ID, err)
	}
	return checkoutResponse{URL: sess.URL, SessionID: sess.ID, OrderID: o.ID}, nil
}

// sessionParams builds the Checkout Session for o: our prices, the order id wherever Stripe
// will carry it back (session, PaymentIntent, invoice), and one Idempotency-Key per order.
func (s *stripeService) sessionParams(o store.Order) *stripe.CheckoutSessionCreateParams {
	meta := func() map[string]string { return map[string]string{"order_id": o.ID} }
	base := strings.TrimRight(s.cfg.BaseURL, "/")
	p := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(o.ID),
		Metadata:          meta(),
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: meta()},
		InvoiceCreation: &stripe.CheckoutSessionCreateInvoiceCreationParams{Enabled: stripe.Bool(true),
			InvoiceData: &stripe.CheckoutSessionCreateInvoiceCreationInvoiceDataParams{Metadata: meta()}},
		BillingAddressCollection: stripe.String("required"),
		// Our prices are in the order's currency and refunds are booked in it: no conversion.
		AdaptivePricing: &stripe.CheckoutSessionCreateAdaptivePricingParams{Enabled: stripe.Bool(false)},
		SuccessURL:      stripe.String(base + "/checkout/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:       stripe.String(base + "/checkout/cancel?order_id=" + url.QueryEscape(o.ID)),
	}
	if o.ContactEmail != "" {
		p.CustomerEmail = stripe.String(o.ContactEmail)
	}
	for _, it := range o.Items {
		li := &stripe.CheckoutSessionCreateLineItemParams{Quantity: stripe.Int64(it.Quantity)}
		if it.StripePriceID != "" {
			li.Price = stripe.String(it.StripePriceID)
		} else {
			li.PriceData = &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:   stripe.String(o.Currency),
				UnitAmount: stripe.Int64(it.UnitAmount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{
					Name: stripe.String(it.Description), Metadata: map[string]string{"product_code": it.ProductCode}},
			}
		}
		p.LineItems = append(p.LineItems, li)
	}
	if len(s.opts.shippingCountries) > 0 {
		p.ShippingAddressCollection = &stripe.CheckoutSessionCreateShippingAddressCollectionParams{
			AllowedCountries: stripe.StringSlice(s.opts.shippingCountries)}
	}
	if s.opts.automaticTax {
		p.AutomaticTax = &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)}
	}
	if s.opts.allowPromotionCodes {
		p.AllowPromotionCodes = stripe.Bool(true)
	}
	p.SetIdempotencyKey("checkout-" + o.ID)
	return p
}

var stripeKeyPattern = regexp.MustCompile(`\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+`)

// stripeErrorMessage says what went wrong with a Stripe call in words safe to show a buyer:
// Stripe's own message (with anything resembling a key removed) or a generic one.
func stripeErrorMessage(err error) string {
	var se *stripe.Error
	if errors.As(err, &se) && se.Msg != "" {
		return redactPersonal(stripeKeyPattern.ReplaceAllString(se.Msg, "[redacted]"))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Stripe did not answer in time"
	}
	return "could not reach Stripe"
}

// stripeLogger routes stripe-go's log lines to slog; its request chatter goes to debug. Every
// line is redacted first (stripe_log.go): no response body, e-mail address, name, phone,
// postal address or API key reaches the log at any level.
type stripeLogger struct{ l *slog.Logger }

func (s stripeLogger) Debugf(format string, v ...any) {
	s.l.Debug(redactStripeLog(format, v), "component", "stripe")
}
func (s stripeLogger) Infof(format string, v ...any) {
	s.l.Debug(redactStripeLog(format, v), "component", "stripe")
}
func (s stripeLogger) Warnf(format string, v ...any) {
	s.l.Warn(redactStripeLog(format, v), "component", "stripe")
}
func (s stripeLogger) Errorf(format string, v ...any) {
	s.l.Warn(redactStripeLog(format, v), "component", "stripe")
}
