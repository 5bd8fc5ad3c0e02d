package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodSecret = "0123456789abcdefghijklmnopqrstuvwxyz-ABCDEF" // 43 bytes

func TestServeRefusesWeakSecrets(t *testing.T) {
	tests := []struct {
		name, variable, value string
		want                  []string
	}{
		{"short TOKEN_SECRET", "TOKEN_SECRET", "short-token-secret", []string{"TOKEN_SECRET is 18 bytes", "technifold secret"}},
		{"short key in a rotation list", "TOKEN_SECRET", "rotate:k2=" + goodSecret + ",k1=short-old-one", []string{`TOKEN_SECRET key "k1" is 13 bytes`}},
		{"old ambiguous list form", "TOKEN_SECRET", "k2:" + goodSecret + ",k1:" + goodSecret, []string{"TOKEN_SECRET", "rotate:k2=SECRET,k1=SECRET", "k2, k1"}},
		{"short ADMIN_API_TOKEN", "ADMIN_API_TOKEN", "api-token-123", []string{"ADMIN_API_TOKEN is 13 bytes", "technifold secret"}},
		{"short CRON_SECRET", "CRON_SECRET", "s3cret", []string{"CRON_SECRET is 6 bytes", "technifold secret"}},
		{"Stripe secret without whsec_", "STRIPE_WEBHOOK_SECRET", "whsec_good," + goodSecret, []string{"STRIPE_WEBHOOK_SECRET entry 2", "whsec_", "stripe listen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "t.db")
			var out, errOut bytes.Buffer
			env := map[string]string{"DATABASE_PATH": dbPath, tt.variable: tt.value}
			code := Main(context.Background(), []string{"serve"}, Env{Stdout: &out, Stderr: &errOut,
				Getenv: func(k string) string { return env[k] }})
			msg := errOut.String()
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, part := range strings.FieldsFunc(tt.value, func(r rune) bool { return r == ',' || r == ':' || r == '=' }) {
				if len(part) > 6 && strings.Contains(msg, part) {
					t.Errorf("error prints the secret %q: %s", part, msg)
				}
			}
			if _, err := os.Stat(dbPath); err == nil {
				t.Error("the database was created: serve must refuse before doing anything")
			}
		})
	}
}

func TestStrongSecretsPass(t *testing.T) {
	cfg := &Config{TokenSecret: "rotate:k2=" + goodSecret + ",legacy=" + goodSecret + "x", AdminAPIToken: goodSecret,
		CronSecret: goodSecret, StripeWebhookSecret: "whsec_new, whsec_old"}
	if err := cfg.CheckSecrets(); err != nil {
		t.Fatal(err)
	}
	if err := (&Config{}).CheckSecrets(); err != nil {
		t.Fatalf("unset secrets (features off) must pass: %v", err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	env := map[string]string{"DATABASE_PATH": filepath.Join(dir, "t.db")}
	names := []string{"TOKEN_SECRET", "ADMIN_API_TOKEN", "CRON_SECRET", "STRIPE_WEBHOOK_SECRET", "STRIPE_SECRET_KEY",
		"ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN", "ZOHO_WEBHOOK_SECRET", "SMTP_URL", "ADMIN_PASSWORD"}
	for _, name := range names {
		path := filepath.Join(dir, strings.ToLower(name))
		files[name] = "value-of-" + name
		if err := os.WriteFile(path, []byte(files[name]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env[name+"_FILE"] = path
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"TOKEN_SECRET": cfg.TokenSecret, "ADMIN_API_TOKEN": cfg.AdminAPIToken, "CRON_SECRET": cfg.CronSecret,
		"STRIPE_WEBHOOK_SECRET": cfg.StripeWebhookSecret, "STRIPE_SECRET_KEY": cfg.StripeSecretKey,
		"ZOHO_CLIENT_SECRET": cfg.ZohoClientSecret, "ZOHO_REFRESH_TOKEN": cfg.ZohoRefreshToken,
		"ZOHO_WEBHOOK_SECRET": cfg.ZohoWebhookSecret, "SMTP_URL": cfg.SMTPURL, "ADMIN_PASSWORD": cfg.AdminPassword}
	for _, name := range names {
		if got[name] != files[name] {
			t.Errorf("%s = %q, want %q (trailing newline dropped)", name, got[name], files[name])
		}
	}

	bad := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"both set", map[string]string{"CRON_SECRET": goodSecret, "CRON_SECRET_FILE": env["CRON_SECRET_FILE"]}, "set CRON_SECRET or CRON_SECRET_FILE, not both"},
		{"missing file", map[string]string{"TOKEN_SECRET_FILE": filepath.Join(dir, "nope")}, "TOKEN_SECRET_FILE"},
	}
	for _, b := range bad {
		if _, err := LoadConfig(func(k string) string { return b.env[k] }); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want %q", b.name, err, b.want)
		}
	}
}

func TestSecretVerb(t *testing.T) {
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"secret"}, args...), Env{Stdout: &out, Stderr: &errOut,
			Getenv: func(string) string { return "" }})
		return code, strings.TrimSpace(out.String())
	}
	code, a := run()
	_, b := run()
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if code != 0 || err != nil || len(raw) != 32 || a == b {
		t.Fatalf("secret: exit %d, %q (%d bytes, %v); second %q", code, a, len(raw), err, b)
	}
	if err := (&Config{CronSecret: a, AdminAPIToken: a, TokenSecret: a}).CheckSecrets(); err != nil {
		t.Fatalf("a generated secret must pass the checks: %v", err)
	}
	if code, out := run("--bytes", "64"); code != 0 || len(out) != 86 {
		t.Fatalf("--bytes 64: exit %d, %d characters", code, len(out))
	}
	if code, _ := run("--bytes", "16"); code != 2 {
		t.Fatalf("--bytes 16 must be refused: exit %d", code)
	}
}

func TestHelpSaysSecretsBelongInTheEnvironment(t *testing.T) {
	var out, errOut bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	Main(context.Background(), []string{"--help"}, env)
	Main(context.Background(), []string{"serve", "--help"}, env)
	help := out.String() + errOut.String()
	for _, want := range []string{"TOKEN_SECRET_FILE", "not in flags", "CRON_SECRET or CRON_SECRET_FILE; a flag shows in ps"} {
		if !strings.Contains(help, want) {
			t.Errorf("help does not say %q", want)
		}
	}
}

func TestVerbHelpShowsItsOwnFlagsWithTrueDefaults(t *testing.T) {
	help := func(args ...string) string {
		var out, errOut bytes.Buffer
		env := Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		if code := Main(context.Background(), append(args, "--help"), env); code != 0 {
			t.Fatalf("%v --help: exit %d", args, code)
		}
		return out.String() + errOut.String()
	}
	mint := help("token", "mint")
	for _, want := range []string{"-company", "-offer", "-ttl", "(default 72h0m0s)", "-token-secret", "-base-url",
		"reorder, winback, new_tool, portal"} {
		if !strings.Contains(mint, want) {
			t.Errorf("token mint --help lacks %q", want)
		}
	}
	for _, unwanted := range []string{"-stripe-secret-key", "-zoho", "-job-retention", "-worker-concurrency", "-addr", "(default 0s)", "(default 0)"} {
		if strings.Contains(mint, unwanted) {
			t.Errorf("token mint --help shows %q, a flag it does not use", unwanted)
		}
	}
	serve := help("serve")
	for _, want := range []string{"-job-retention", "(default 720h0m0s)", "outbox worker pool size (WORKER_CONCURRENCY) (default 2)", "-stripe-secret-key"} {
		if !strings.Contains(serve, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	if migrate := help("migrate"); !strings.Contains(migrate, "-database-path") || strings.Contains(migrate, "-stripe") {
		t.Errorf("migrate --help: %s", migrate)
	}
}

func TestTokenMintRefusesUnknownOffers(t *testing.T) {
	var out, errOut bytes.Buffer
	env := map[string]string{"DATABASE_PATH": filepath.Join(t.TempDir(), "t.db"), "TOKEN_SECRET": goodSecret}
	code := Main(context.Background(), []string{"token", "mint", "--company", "ACME", "--offer", "bogus"},
		Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	if code != 1 || out.Len() > 0 || !strings.Contains(errOut.String(), `--offer "bogus" is not an offer; use one of reorder, winback, new_tool, portal`) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
