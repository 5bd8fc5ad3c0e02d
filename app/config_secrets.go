package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/technifold/technifold/app/offertoken"
)

// Secrets that guard something must be hard to guess: the server refuses to start with a
// TOKEN_SECRET, ADMIN_API_TOKEN or CRON_SECRET shorter than minSecretLen bytes, or a Stripe
// webhook secret that is not one Stripe issued. Each error names the variable and says how
// to make a good value; none prints the value.

const minSecretLen = 32

// secretHint is the command that prints a good secret.
const secretHint = "generate one with: technifold secret"

// CheckSecrets reports every configured secret that is too weak to serve with.
func (c *Config) CheckSecrets() error {
	problems := c.tokenSecretProblems()
	for _, s := range []struct{ name, value string }{{"ADMIN_API_TOKEN", c.AdminAPIToken}, {"CRON_SECRET", c.CronSecret}} {
		if s.value != "" && len(s.value) < minSecretLen {
			problems = append(problems, tooShort(s.name, len(s.value)))
		}
	}
	for i, sec := range strings.Split(c.StripeWebhookSecret, ",") {
		if sec = strings.TrimSpace(sec); sec != "" && !strings.HasPrefix(sec, "whsec_") {
			problems = append(problems, fmt.Sprintf("STRIPE_WEBHOOK_SECRET entry %d does not start with whsec_: copy the "+
				"endpoint's signing secret from the Stripe dashboard (Developers → Webhooks), or run: stripe listen --print-secret", i+1))
		}
	}
	return secretsError(problems)
}

// CheckTokenSecret is CheckSecrets for TOKEN_SECRET alone (token mint).
func (c *Config) CheckTokenSecret() error { return secretsError(c.tokenSecretProblems()) }

func secretsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New("unsafe secrets: " + strings.Join(problems, "; "))
}

func tooShort(name string, n int) string {
	return fmt.Sprintf("%s is %d bytes; it must have at least %d (%s)", name, n, minSecretLen, secretHint)
}

// tokenSecretProblems checks TOKEN_SECRET's syntax and the length of every key in it.
func (c *Config) tokenSecretProblems() []string {
	if c.TokenSecret == "" {
		return nil
	}
	keys, err := offertoken.ParseKeyring(c.TokenSecret)
	if err != nil {
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "offertoken: "), "parse token keyring: ")
		if !errors.Is(err, offertoken.ErrAmbiguous) {
			msg = "TOKEN_SECRET is not valid: " + msg
		}
		return []string{msg}
	}
	var problems []string
	ids, lengths := keys.Secrets()
	for i, n := range lengths {
		switch {
		case n >= minSecretLen:
		case ids[i] == "":
			problems = append(problems, tooShort("TOKEN_SECRET", n))
		default:
			problems = append(problems, tooShort(fmt.Sprintf("TOKEN_SECRET key %q", ids[i]), n))
		}
	}
	return problems
}

// newRandomSecret returns n random bytes as unpadded base64url.
func newRandomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// runSecret is `technifold secret [--bytes 32]`: it prints a fresh random secret.
func runSecret(_ context.Context, env Env, args []string) error {
	fs := newFlagSet(env, "secret", "secret [--bytes 32]\n\n"+
		"Prints a fresh random secret (unpadded base64url) for TOKEN_SECRET, ADMIN_API_TOKEN or CRON_SECRET,\n"+
		"e.g. fly secrets set CRON_SECRET=$(technifold secret). Put secrets in the environment or in a file\n"+
		"named by NAME_FILE, not in flags (flags show in ps).", nil)
	n := fs.Int("bytes", minSecretLen, "random bytes in the secret (at least 32)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < minSecretLen || *n > 1024 || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	fmt.Fprintln(env.Stdout, newRandomSecret(*n))
	return nil
}
