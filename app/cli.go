package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/technifold/technifold/store"
)

// Env is what a command receives from the outside world; tests substitute every part.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// command is one CLI verb.
type command struct {
	name, summary string
	run           func(ctx context.Context, env Env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP server, worker and scheduler", runServe},
		{"migrate", "apply pending database migrations and exit", runMigrate},
		{"import", "import a CSV file: import {" + strings.Join(ImportKinds(), "|") + "} FILE.csv", runImport},
		{"demo", "load the demo catalogue, companies and history into the database", runDemo},
		{"outbox", "inspect and drive the outbox: outbox list|retry ID|cancel ID|run", runOutbox},
		{"stripe", "Stripe maintenance: stripe reconcile [--since T] applies missed events", runStripe},
		{"token", "mint an offer link: token mint --company C [--contact K] --offer O [--campaign X] [--ttl 72h]", runToken},
		{"restore", "restore the database from the replica: restore [--timestamp T] [--output PATH] [--force]", runRestore},
		{"backup", "check the replica: backup verify (restores it to a temporary file and compares row counts)", runBackup},
		{"healthcheck", "exit 0 when the local server's /healthz answers (for container health checks)", runHealthcheck},
		{"user", "staff accounts of the admin UI: user create --email E --role admin|staff | list | disable | enable | password", runUser},
		{"secret", "print a fresh random secret for TOKEN_SECRET, ADMIN_API_TOKEN or CRON_SECRET", runSecret},
		sqlCommand,
		{"version", "print the version", runVersion},
	}
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, env, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			}
			fmt.Fprintf(env.Stderr, "technifold %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.Stderr, "technifold: unknown command %q\n\n", args[0])
	printUsage(env.Stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: technifold <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'technifold <command> --help' for a command's flags. Every flag can also be set")
	fmt.Fprintln(w, "by its environment variable (shown in the flag's help). Secrets belong in the environment")
	fmt.Fprintln(w, "or in a file named by NAME_FILE (e.g. TOKEN_SECRET_FILE), not in flags: flags show in ps.")
}

// newFlagSet returns a flag set that prints its usage to env.Stderr. With cfg, the whole
// configuration is read from the environment, and the settings named in flags (by variable;
// DATABASE_PATH when none is named) are also flags: a verb's --help shows only what it uses.
func newFlagSet(env Env, name, usage string, cfg *Config, flags ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: technifold %s\n\n", usage)
		fs.PrintDefaults()
		if cfg != nil {
			fmt.Fprintln(env.Stderr, "\nEvery setting also comes from its environment variable (see 'technifold serve --help').")
		}
	}
	if cfg != nil {
		if len(flags) == 0 {
			flags = []string{"DATABASE_PATH"}
		}
		cfg.bind(fs, env.Getenv, flags)
	}
	return fs
}

// parseFlags parses args, turning flag errors into errUsage (the flag package printed them).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// parseAndOpen parses a command's flags, validates the configuration and opens the database.
func parseAndOpen(ctx context.Context, fs *flag.FlagSet, cfg *Config, args []string) (*store.DB, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return openDB(ctx, cfg)
}

// openDB opens the configured database.
func openDB(ctx context.Context, cfg *Config) (*store.DB, error) {
	return store.Open(ctx, cfg.DatabasePath, store.Options{})
}

func runMigrate(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "migrate", "migrate [flags]", cfg)
	db, err := parseAndOpen(ctx, fs, cfg, args)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.AppliedMigrations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "database %s is up to date: %d migrations applied (%s)\n",
		cfg.DatabasePath, len(applied), strings.Join(applied, ", "))
	return nil
}

func runImport(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "import", "import {"+strings.Join(ImportKinds(), "|")+"} FILE.csv [flags]\n\n"+
		"Validates the whole file first: on any bad row nothing is imported, and every invalid row is\n"+
		"listed with its line, column, value and reason (the first 100, and how many). Then writes it in short\n"+
		"transactions, so a running server is never held up; if interrupted, import the same file\n"+
		"again to complete it. Re-importing a file changes nothing. See the README for the columns.", cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) != 2 {
		fs.Usage()
		return errUsage
	}
	if _, ok := importSpecs[rest[0]]; !ok {
		return fmt.Errorf("unknown import kind %q (expected one of %s)", rest[0], strings.Join(ImportKinds(), ", "))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	f, err := os.Open(rest[1])
	if err != nil {
		return err
	}
	defer f.Close()
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := ImportCSV(ctx, db, rest[0], f, env.Stderr)
	if err != nil {
		return importError(rest[1], err)
	}
	fmt.Fprintf(env.Stdout, "imported %s from %s: %d rows read, %d inserted or changed\n", rest[0], rest[1], res.Rows, res.Changed)
	return nil
}

func runDemo(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "demo", "demo [flags]\n\nLoads the demo data set; running it again changes nothing.", cfg)
	db, err := parseAndOpen(ctx, fs, cfg, args)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := LoadDemo(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "demo data in %s: %d products, %d companies, %d contacts, %d sales lines, %d events; added %d orders, %d jobs, %d webhook deliveries (%d rows changed)\n",
		cfg.DatabasePath, res.Products, res.Companies, res.Contacts, res.Sales, res.Events, res.Orders, res.Jobs, res.Deliveries, res.Changed)
	return nil
}

func runOutbox(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "outbox", "outbox [flags] list|retry ID|cancel ID|run", cfg, "DATABASE_PATH", "LOG_LEVEL", "LOG_FORMAT")
	db, err := parseAndOpen(ctx, fs, cfg, args)
	if err != nil {
		return err
	}
	defer db.Close()
	logger := newLogger(cfg, env.Stderr)
	reg := &Registry{}
	if err := registerJobHandlers(reg, cfg, db, logger); err != nil {
		return err
	}
	return RunOutboxCommand(ctx, db, reg, fs.Args(), env.Stdout, env.Stderr)
}

func runVersion(_ context.Context, env Env, _ []string) error {
	fmt.Fprintln(env.Stdout, "technifold", Version)
	return nil
}

// newLogger builds the process logger: JSON in production, text in a terminal.
func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// logFeatures says at start-up which optional features are on and which are off, and why.
func logFeatures(logger *slog.Logger, cfg *Config) {
	features := cfg.Features()
	sort.SliceStable(features, func(i, j int) bool { return features[i].On() && !features[j].On() })
	for _, f := range features {
		if f.On() {
			logger.Info("feature on", "feature", f.Name)
		} else {
			logger.Warn("feature off", "feature", f.Name, "why", f.Why())
		}
	}
}
