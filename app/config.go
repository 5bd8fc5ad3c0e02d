package app

import (
	"flag"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration, read from the environment with a flag override for each.
type Config struct {
	Addr         string
	DatabasePath string
	BaseURL      string

	StripeSecretKey     string
	StripeWebhookSecret string // comma-separated for rotation
	StripeAPIBase       string
	// Checkout options: shipping countries (comma list), automatic tax, promotion codes.
	StripeShippingCountries   string
	StripeAutomaticTax        string
	StripeAllowPromotionCodes string
	// Anonymous checkouts allowed per client address a minute and per company an hour.
	CheckoutRatePerAddress int
	CheckoutRatePerCompany int

	ZohoWebhookSecret    string
	ZohoClientID         string
	ZohoClientSecret     string
	ZohoRefreshToken     string
	ZohoOrganizationID   string
	ZohoDC               string
	ZohoAccountsURL      string
	ZohoBooksAPIURL      string
	ZohoDepositAccountID string
	ZohoRatePerMinute    int

	CronSecret    string
	TokenSecret   string
	AdminAPIToken string
	AdminEmail    string
	AdminPassword string

	SMTPURL  string
	MailFrom string

	// SupportEmail and SupportPhone are how customers reorder when online checkout is off or
	// fails (offer pages); either may be empty.
	SupportEmail string
	SupportPhone string

	ReplicaURL       string
	LitestreamConfig string
	// bucketReplicaURL is the replica built from the secrets `fly storage create` sets
	// (BUCKET_NAME, AWS_ENDPOINT_URL_S3, AWS_REGION); used when neither of the above is set.
	bucketReplicaURL string

	LogLevel  string
	LogFormat string

	JobRetention         time.Duration
	WebhookBodyRetention time.Duration
	WorkerConcurrency    int

	// OnFly is set when the process runs on a Fly.io machine (FLY_APP_NAME is set), whose edge
	// proxy puts the caller's address in Fly-Client-IP.
	OnFly bool

	envErrs []string // environment values that did not parse
}

// setting describes one configuration value: its variable, flag, default and meaning.
type setting struct {
	env, flag, def, usage string
	secret                bool
	str                   *string
	dur                   *time.Duration
	num                   *int
}

func (c *Config) settings() []setting {
	return []setting{
		{env: "ADDR", flag: "addr", def: ":8080", usage: "HTTP listen address", str: &c.Addr},
		{env: "DATABASE_PATH", flag: "database-path", def: "data/technifold.db", usage: "SQLite database file", str: &c.DatabasePath},
		{env: "BASE_URL", flag: "base-url", def: "http://localhost:8080", usage: "public URL of this server (links, cookies)", str: &c.BaseURL},
		{env: "STRIPE_SECRET_KEY", flag: "stripe-secret-key", usage: "Stripe API key (checkout, reconciliation)", secret: true, str: &c.StripeSecretKey},
		{env: "STRIPE_WEBHOOK_SECRET", flag: "stripe-webhook-secret", usage: "Stripe webhook signing secrets, comma-separated", secret: true, str: &c.StripeWebhookSecret},
		{env: "STRIPE_API_BASE", flag: "stripe-api-base", usage: "Stripe API base URL (stripe-mock in tests)", str: &c.StripeAPIBase},
		{env: "STRIPE_SHIPPING_COUNTRIES", flag: "stripe-shipping-countries", usage: "countries Checkout collects shipping addresses for, comma-separated (GB,IE); empty: none", str: &c.StripeShippingCountries},
		{env: "STRIPE_AUTOMATIC_TAX", flag: "stripe-automatic-tax", def: "false", usage: "let Stripe Tax compute tax at checkout (true/false)", str: &c.StripeAutomaticTax},
		{env: "STRIPE_ALLOW_PROMOTION_CODES", flag: "stripe-allow-promotion-codes", def: "false", usage: "accept Stripe promotion codes at checkout (true/false)", str: &c.StripeAllowPromotionCodes},
		{env: "CHECKOUT_RATE_PER_ADDRESS", flag: "checkout-rate-per-address", def: "10", usage: "checkouts an anonymous caller may start per address per minute", num: &c.CheckoutRatePerAddress},
		{env: "CHECKOUT_RATE_PER_COMPANY", flag: "checkout-rate-per-company", def: "30", usage: "checkouts anonymous callers may start per company per hour", num: &c.CheckoutRatePerCompany},
		{env: "ZOHO_WEBHOOK_SECRET", flag: "zoho-webhook-secret", usage: "shared secret of the Zoho CRM webhook (X-Zoho-Secret)", secret: true, str: &c.ZohoWebhookSecret},
		{env: "ZOHO_CLIENT_ID", flag: "zoho-client-id", usage: "Zoho OAuth client id", str: &c.ZohoClientID},
		{env: "ZOHO_CLIENT_SECRET", flag: "zoho-client-secret", usage: "Zoho OAuth client secret", secret: true, str: &c.ZohoClientSecret},
		{env: "ZOHO_REFRESH_TOKEN", flag: "zoho-refresh-token", usage: "Zoho OAuth refresh token", secret: true, str: &c.ZohoRefreshToken},
		{env: "ZOHO_ORGANIZATION_ID", flag: "zoho-organization-id", usage: "Zoho Books organization id", str: &c.ZohoOrganizationID},
		{env: "ZOHO_DC", flag: "zoho-dc", def: "com", usage: "Zoho data centre: com, eu, in, com.au, jp, ca, sa", str: &c.ZohoDC},
		{env: "ZOHO_ACCOUNTS_URL", flag: "zoho-accounts-url", usage: "override of the Zoho accounts server base", str: &c.ZohoAccountsURL},
		{env: "ZOHO_BOOKS_API_URL", flag: "zoho-books-api-url", usage: "override of the Zoho Books API base", str: &c.ZohoBooksAPIURL},
		{env: "ZOHO_DEPOSIT_ACCOUNT_ID", flag: "zoho-deposit-account-id", usage: "Books account for payments and refunds", str: &c.ZohoDepositAccountID},
		{env: "ZOHO_RATE_PER_MINUTE", flag: "zoho-rate-per-minute", def: "100", usage: "Zoho API calls per minute", num: &c.ZohoRatePerMinute},
		{env: "CRON_SECRET", flag: "cron-secret", usage: "secret for POST /api/outbox/run", secret: true, str: &c.CronSecret},
		{env: "TOKEN_SECRET", flag: "token-secret", usage: "offer-link signing secret, or rotate:k2=SECRET,k1=SECRET for rotation (the first signs)", secret: true, str: &c.TokenSecret},
		{env: "ADMIN_API_TOKEN", flag: "admin-api-token", usage: "bearer token for /api/admin/*", secret: true, str: &c.AdminAPIToken},
		{env: "ADMIN_EMAIL", flag: "admin-email", usage: "first admin's e-mail (created when no user exists)", str: &c.AdminEmail},
		{env: "ADMIN_PASSWORD", flag: "admin-password", usage: "first admin's password", secret: true, str: &c.AdminPassword},
		{env: "SMTP_URL", flag: "smtp-url", usage: "smtp://user:pass@host:587 for offer e-mails", secret: true, str: &c.SMTPURL},
		{env: "MAIL_FROM", flag: "mail-from", usage: "From address of offer e-mails", str: &c.MailFrom},
		{env: "SUPPORT_EMAIL", flag: "support-email", usage: "e-mail address offer pages show for reordering when checkout is off or fails", str: &c.SupportEmail},
		{env: "SUPPORT_PHONE", flag: "support-phone", usage: "phone number offer pages show for reordering when checkout is off or fails", str: &c.SupportPhone},
		{env: "REPLICA_URL", flag: "replica-url", usage: "Litestream replica: s3://bucket/path?endpoint=… or file:///path", str: &c.ReplicaURL},
		{env: "LITESTREAM_CONFIG", flag: "litestream-config", usage: "path of a litestream.yml", str: &c.LitestreamConfig},
		{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "debug, info, warn or error", str: &c.LogLevel},
		{env: "LOG_FORMAT", flag: "log-format", usage: "json or text (default: text in a terminal, else json)", str: &c.LogFormat},
		{env: "JOB_RETENTION", flag: "job-retention", def: "720h", usage: "how long completed outbox jobs are kept", dur: &c.JobRetention},
		{env: "WEBHOOK_BODY_RETENTION", flag: "webhook-body-retention", def: "720h", usage: "how long raw webhook bodies are kept, and a Stripe refund waits for its order", dur: &c.WebhookBodyRetention},
		{env: "WORKER_CONCURRENCY", flag: "worker-concurrency", def: "2", usage: "outbox worker pool size", num: &c.WorkerConcurrency},
	}
}

// BindFlags registers a flag for every setting on fs, defaulting to the environment's value.
// getenv is os.Getenv outside tests.
func (c *Config) BindFlags(fs *flag.FlagSet, getenv func(string) string) {
	c.bind(fs, getenv, nil)
}

// bind reads every setting from the environment (or, for a secret, from the file its _FILE
// variable names) and registers flags on fs for the settings named in flags, or for all when
// flags is nil. A verb shows only the flags it uses; the environment applies to all.
func (c *Config) bind(fs *flag.FlagSet, getenv func(string) string, flags []string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c.OnFly = getenv("FLY_APP_NAME") != ""
	c.bucketReplicaURL = bucketReplicaURL(getenv)
	for _, s := range c.settings() {
		v := getenv(s.env)
		if s.secret {
			v = c.secretFromFile(s.env, v, getenv)
		}
		if v == "" {
			v = s.def
		}
		if flags != nil && !slices.Contains(flags, s.env) {
			c.apply(s, v)
			continue
		}
		usage := s.usage + " (" + s.env + ")"
		if s.secret {
			usage = s.usage + " (" + s.env + " or " + s.env + "_FILE; a flag shows in ps, prefer the environment)"
		}
		switch {
		case s.str != nil && s.secret:
			// The environment's value is applied without being the flag's default, so --help
			// never prints a secret.
			fs.StringVar(s.str, s.flag, "", usage)
			*s.str = v
		case s.str != nil:
			fs.StringVar(s.str, s.flag, v, usage)
		default:
			// Applied before the flag is defined, so --help shows the value in force.
			c.apply(s, v)
			if s.dur != nil {
				fs.Var(&durationValue{p: s.dur, env: s.env}, s.flag, usage)
			} else {
				fs.Var(&intValue{p: s.num, env: s.env}, s.flag, usage)
			}
		}
	}
}

// apply sets a setting's value from text, recording a value that does not parse.
func (c *Config) apply(s setting, v string) {
	var err error
	switch {
	case s.str != nil:
		*s.str = v
	case s.dur != nil:
		err = (&durationValue{p: s.dur, env: s.env}).Set(v)
	case s.num != nil:
		err = (&intValue{p: s.num, env: s.env}).Set(v)
	}
	if err != nil {
		c.envErrs = append(c.envErrs, err.Error())
	}
}

// secretFromFile returns the content of the file NAME_FILE names when NAME itself is unset
// (trailing newlines dropped), so secrets can come from mounted files instead of the
// environment or flags.
func (c *Config) secretFromFile(name, v string, getenv func(string) string) string {
	path := getenv(name + "_FILE")
	if path == "" {
		return v
	}
	if v != "" {
		c.envErrs = append(c.envErrs, "set "+name+" or "+name+"_FILE, not both")
		return v
	}
	b, err := os.ReadFile(path)
	if err != nil {
		c.envErrs = append(c.envErrs, name+"_FILE: "+err.Error())
		return ""
	}
	v = strings.TrimRight(string(b), "\r\n")
	if v == "" {
		c.envErrs = append(c.envErrs, name+"_FILE: "+path+" is empty")
	}
	return v
}

// LoadConfig reads the environment only (for commands that take no flags).
func LoadConfig(getenv func(string) string) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	c.BindFlags(fs, getenv)
	return c, c.Validate()
}

// Validate checks values that are set; missing optional features are reported by Features.
func (c *Config) Validate() error {
	problems := append([]string(nil), c.envErrs...)
	if c.DatabasePath == "" {
		problems = append(problems, "DATABASE_PATH must not be empty")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "BASE_URL must be an absolute http(s) URL, e.g. https://shop.example.com")
		}
	}
	if c.ZohoDC != "" && !validZohoDC[c.ZohoDC] {
		problems = append(problems, "ZOHO_DC must be one of com, eu, in, com.au, jp, ca, sa")
	}
	if c.ZohoRatePerMinute <= 0 {
		problems = append(problems, "ZOHO_RATE_PER_MINUTE must be a positive number")
	}
	if c.CheckoutRatePerAddress <= 0 || c.CheckoutRatePerCompany <= 0 {
		problems = append(problems, "CHECKOUT_RATE_PER_ADDRESS and CHECKOUT_RATE_PER_COMPANY must be positive numbers")
	}
	if c.WorkerConcurrency <= 0 || c.WorkerConcurrency > 64 {
		problems = append(problems, "WORKER_CONCURRENCY must be between 1 and 64")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, "LOG_LEVEL must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		problems = append(problems, "LOG_FORMAT must be json or text")
	}
	if c.SupportEmail != "" && !validSupportEmail(c.SupportEmail) {
		problems = append(problems, "SUPPORT_EMAIL must be a plain e-mail address, e.g. orders@example.com")
	}
	if c.SupportPhone != "" && !validSupportPhone(c.SupportPhone) {
		problems = append(problems, "SUPPORT_PHONE must be a phone number of digits, spaces and + ( ) - . (at most 40 characters)")
	}
	if c.ReplicaURL != "" && c.LitestreamConfig != "" {
		problems = append(problems, "set REPLICA_URL or LITESTREAM_CONFIG, not both")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// validSupportEmail accepts a bare address (no display name): it goes into a mailto: link.
func validSupportEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == strings.TrimSpace(s) && len(s) <= 254
}

// validSupportPhone accepts what people write as phone numbers and nothing that could break
// out of a tel: link.
func validSupportPhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +()-.", r):
		default:
			return false
		}
	}
	return digits >= 3 && len(s) <= 40
}

var validZohoDC = map[string]bool{"com": true, "eu": true, "in": true, "com.au": true, "jp": true, "ca": true, "sa": true}

// Feature is an optional capability and what it still needs.
type Feature struct {
	Name    string
	Missing []string // variables that must be set to turn it on
}

// On reports whether the feature has all its configuration.
func (f Feature) On() bool { return len(f.Missing) == 0 }

// Why says what to set, for start-up logs and 503 answers.
func (f Feature) Why() string {
	if f.On() {
		return ""
	}
	return f.Name + " is off: set " + strings.Join(f.Missing, ", ")
}

func need(name string, pairs ...string) Feature {
	f := Feature{Name: name}
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			f.Missing = append(f.Missing, pairs[i])
		}
	}
	return f
}

// Feature names used across the app.
const (
	FeatureCheckout      = "stripe checkout"
	FeatureStripeWebhook = "stripe webhook"
	FeatureZohoWebhook   = "zoho webhook"
	FeatureZohoBooks     = "zoho books sync"
	FeatureOutboxRun     = "outbox run endpoint"
	FeatureOffers        = "offer links"
	FeatureEmail         = "offer e-mails"
	FeatureAdminAPIToken = "admin API token"
	FeatureReplication   = "replication"
)

// Features lists every optional capability with what it is missing.
func (c *Config) Features() []Feature {
	repl := c.replicaURL()
	if repl == "" {
		repl = c.LitestreamConfig
	}
	return []Feature{
		need(FeatureCheckout, "STRIPE_SECRET_KEY", c.StripeSecretKey),
		need(FeatureStripeWebhook, "STRIPE_WEBHOOK_SECRET", c.StripeWebhookSecret),
		need(FeatureZohoWebhook, "ZOHO_WEBHOOK_SECRET", c.ZohoWebhookSecret),
		need(FeatureZohoBooks, "ZOHO_CLIENT_ID", c.ZohoClientID, "ZOHO_CLIENT_SECRET", c.ZohoClientSecret,
			"ZOHO_REFRESH_TOKEN", c.ZohoRefreshToken, "ZOHO_ORGANIZATION_ID", c.ZohoOrganizationID),
		need(FeatureOutboxRun, "CRON_SECRET", c.CronSecret),
		need(FeatureOffers, "TOKEN_SECRET", c.TokenSecret),
		need(FeatureEmail, "SMTP_URL", c.SMTPURL, "TOKEN_SECRET", c.TokenSecret),
		need(FeatureAdminAPIToken, "ADMIN_API_TOKEN", c.AdminAPIToken),
		need(FeatureReplication, "REPLICA_URL, LITESTREAM_CONFIG or BUCKET_NAME", repl),
	}
}

// Feature returns the named feature's state.
func (c *Config) Feature(name string) Feature {
	for _, f := range c.Features() {
		if f.Name == name {
			return f
		}
	}
	return Feature{Name: name, Missing: []string{"(unknown feature)"}}
}

type durationValue struct {
	p   *time.Duration
	env string
}

func (d *durationValue) String() string {
	if d.p == nil {
		return ""
	}
	return d.p.String()
}

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("%s must be a positive duration like 720h, got %q", d.env, s)
	}
	*d.p = v
	return nil
}

type intValue struct {
	p   *int
	env string
}

func (i *intValue) String() string {
	if i.p == nil {
		return ""
	}
	return fmt.Sprint(*i.p)
}

func (i *intValue) Set(s string) error {
	var v int
	if _, err := fmt.Sscan(s, &v); err != nil {
		return fmt.Errorf("%s must be a whole number, got %q", i.env, s)
	}
	*i.p = v
	return nil
}
