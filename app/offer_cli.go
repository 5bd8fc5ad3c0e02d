package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/technifold/technifold/app/offertoken"
)

// runToken is `technifold token mint --company C [--contact K] --offer O [--campaign X]
// [--ttl 72h]`: it prints an offer link signed with TOKEN_SECRET.
func runToken(ctx context.Context, env Env, args []string) error {
	usage := "token mint --company C [--contact K] --offer O [--campaign X] [--ttl 72h] [flags]\n\n" +
		"Prints an offer link (BASE_URL/x/TOKEN) signed with TOKEN_SECRET. Offers: " + strings.Join(offerKeys(), ", ") + "."
	if len(args) == 0 || args[0] != "mint" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			newFlagSet(env, "token", usage, nil).Usage()
			return nil
		}
		fmt.Fprintf(env.Stderr, "Usage: technifold %s\n", usage)
		return errUsage
	}
	cfg := &Config{}
	fs := newFlagSet(env, "token mint", usage, cfg, "DATABASE_PATH", "BASE_URL", "TOKEN_SECRET")
	company := fs.String("company", "", "company id the link is for (required)")
	contact := fs.String("contact", "", "contact id the link is for")
	offer := fs.String("offer", "", "offer key, one of "+strings.Join(offerKeys(), ", ")+" (required)")
	campaign := fs.String("campaign", "", "campaign key")
	ttl := fs.Duration("ttl", offertoken.DefaultTTL, "how long the link works")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(*company) == "":
		return errors.New("--company is required")
	case strings.TrimSpace(*offer) == "":
		return errors.New("--offer is required (one of " + strings.Join(offerKeys(), ", ") + ")")
	case !slices.Contains(offerKeys(), *offer):
		return fmt.Errorf("--offer %q is not an offer; use one of %s", *offer, strings.Join(offerKeys(), ", "))
	case *ttl <= 0:
		return errors.New("--ttl must be a positive duration such as 72h")
	case len(fs.Args()) > 0:
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.TokenSecret == "" {
		// A database started with `serve --demo` signs with the demo secret it keeps.
		if v, _, ok, _ := db.GetState(ctx, "demo_token_secret"); ok {
			cfg.TokenSecret = v
			fmt.Fprintln(env.Stderr, "note: TOKEN_SECRET is not set; signing with this demo database's generated secret")
		}
	}
	if cfg.TokenSecret == "" {
		return errors.New("TOKEN_SECRET is not set: offer links are signed with it (TOKEN_SECRET=$(technifold secret), or rotate:k2=SECRET,k1=SECRET for rotation)")
	}
	if err := cfg.CheckTokenSecret(); err != nil {
		return err
	}
	keys, err := offertoken.ParseKeyring(cfg.TokenSecret)
	if err != nil {
		return fmt.Errorf("TOKEN_SECRET is not valid: %w", err)
	}
	co, err := db.GetCompany(ctx, *company)
	if err != nil {
		return withSubject(fmt.Sprintf("company %q", *company), err)
	}
	if *contact != "" {
		k, err := db.GetContact(ctx, *contact)
		if err != nil {
			return withSubject(fmt.Sprintf("contact %q", *contact), err)
		}
		if k.CompanyID != co.ID {
			return fmt.Errorf("contact %q belongs to company %q, not %q", k.ID, k.CompanyID, co.ID)
		}
		if !mayPersonalise(k.MarketingStatus) {
			fmt.Fprintf(env.Stderr, "note: contact %s is %s; the link will show generic content\n", k.ID, k.MarketingStatus)
		}
	}
	now := time.Now()
	token, err := keys.Mint(offertoken.Claims{CompanyID: co.ID, ContactID: *contact, OfferKey: *offer, CampaignKey: *campaign}, now, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, strings.TrimRight(cfg.BaseURL, "/")+"/x/"+token)
	return nil
}
