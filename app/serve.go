package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/technifold/technifold/store"
)

// shutdownTimeout bounds a graceful stop: requests in flight, running jobs, the final sync.
const shutdownTimeout = 30 * time.Second

func runServe(ctx context.Context, env Env, args []string) error {
	cfg := &Config{}
	fs := newFlagSet(env, "serve", "serve [flags]\n\nRuns the HTTP server, the outbox worker and the scheduler until SIGINT/SIGTERM.\n"+
		"Secrets belong in the environment or in NAME_FILE files, not in flags (flags show in ps).", nil)
	cfg.BindFlags(fs, env.Getenv) // every setting is a flag of serve
	demo := fs.Bool("demo", false, "load the demo data set into an empty database first")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, env.Stderr)
	return Serve(ctx, cfg, ServeOptions{Demo: *demo, Logger: logger, Stdout: env.Stdout})
}

// ServeOptions are the parts of a serve run that are not configuration.
type ServeOptions struct {
	Demo     bool
	Logger   *slog.Logger
	Stdout   interface{ Write([]byte) (int, error) }
	Listener net.Listener      // optional; cfg.Addr otherwise
	Ready    func(addr string) // called once the server listens (tests)
}

// Serve runs the whole service until ctx ends, then shuts down in the order of DESIGN §7:
// HTTP, then worker and scheduler, then the database pools, then Litestream (final sync).
func Serve(ctx context.Context, cfg *Config, opts ServeOptions) error {
	if err := cfg.CheckSecrets(); err != nil {
		return err
	}
	logger := opts.Logger
	repl, err := prepareReplication(ctx, cfg, logger) // restores a missing database first
	if err != nil {
		return err
	}
	defer closeReplication(ctx, repl, logger) // last: after the pools close (DESIGN §7)
	db, err := store.Open(ctx, cfg.DatabasePath, store.Options{})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	logger.Info("database open", "path", cfg.DatabasePath)
	if err := openReplication(ctx, repl); err != nil {
		return err
	}
	if opts.Demo {
		if err := loadDemoIfEmpty(ctx, db, logger); err != nil {
			return err
		}
		if err := useDemoTokenSecret(ctx, db, cfg, logger); err != nil {
			return err
		}
	}
	if err := BootstrapAdmin(ctx, db, cfg, opts.Demo, func(format string, args ...any) {
		if opts.Stdout != nil {
			fmt.Fprintf(opts.Stdout, format, args...)
		} else {
			logger.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)))
		}
	}); err != nil {
		return err
	}
	srv, err := NewServer(cfg, db, logger)
	if err != nil {
		return err
	}
	if err := srv.attachReplication(repl); err != nil {
		return err
	}
	logFeatures(logger, cfg)
	addr, err := srv.Start(ctx, opts.Listener)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	logger.Info("listening", "addr", addr.String(), "base_url", cfg.BaseURL, "version", Version)
	if opts.Stdout != nil {
		fmt.Fprintf(opts.Stdout, "technifold is running on http://%s (health: /healthz)\n", displayAddr(addr))
	}
	if opts.Ready != nil {
		opts.Ready(addr.String())
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		logger.Warn("shutdown", "error", err)
	}
	logger.Info("stopped")
	return nil
}

func loadDemoIfEmpty(ctx context.Context, db *store.DB, logger *slog.Logger) error {
	counts, err := db.CountRows(ctx)
	if err != nil {
		return err
	}
	if counts["companies"] > 0 || counts["products"] > 0 {
		logger.Info("demo data not loaded: the database already has data", "companies", counts["companies"])
		return nil
	}
	res, err := LoadDemo(ctx, db)
	if err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}
	logger.Info("demo data loaded", "companies", res.Companies, "contacts", res.Contacts, "sales", res.Sales)
	return nil
}

// useDemoTokenSecret lets a demo show offer links without configuration: when TOKEN_SECRET is
// unset, a random secret is generated once and kept in the database, so links minted in the
// demo keep working across restarts. Production sets TOKEN_SECRET.
func useDemoTokenSecret(ctx context.Context, db *store.DB, cfg *Config, logger *slog.Logger) error {
	if cfg.TokenSecret != "" {
		return nil
	}
	var secret string
	err := db.Update(ctx, func(tx *store.Tx) error {
		v, ok, err := tx.GetState(ctx, "demo_token_secret")
		if err != nil || ok {
			secret = v
			return err
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		secret = hex.EncodeToString(b[:])
		return tx.SetState(ctx, "demo_token_secret", secret)
	})
	if err != nil {
		return fmt.Errorf("demo token secret: %w", err)
	}
	cfg.TokenSecret = secret
	logger.Warn("offer links use a generated demo secret kept in the database; set TOKEN_SECRET in production")
	return nil
}

// displayAddr turns a wildcard listen address into one a person can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
