// Command technifold runs a small company's e-commerce and engagement middleware: Stripe
// checkout and webhooks, Zoho CRM and Books, offer links, an engagement timeline and the staff
// admin UI, all on one SQLite file. Run `technifold --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/technifold/technifold/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], app.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
