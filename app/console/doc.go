// Package console is the staff admin console: the server-rendered pages under /admin/ (sign-in
// and first-admin setup, dashboard and health, timeline, suggestions, companies, orders,
// outbox and jobs, webhook deliveries, users, audit log, payment links) and the JSON API
// under /api/admin/, with their route table and roles, sessions, device cookies and audit
// entries.
//
// It depends on store (every read, and the writes it makes with their audit entries in one
// transaction), ui (templates and static files), the stand-alone sub-packages web, display,
// offertoken and zohobooks, and httprouter. Whatever it asks of the rest of the server —
// waking the worker, replaying a webhook through the ingest path, queueing offer e-mails,
// creating a Stripe payment link, the state of Zoho and replication, the throttle on
// guessable secrets — goes through the Services interface (services.go), which package app
// implements with thin adapters; the settings it reads are in Config. It never imports app.
//
// App builds one Console with New, registers its Routes, answers unknown /admin URLs with
// ServeMiss, and asks Authenticate whether a request carries a staff session (checkout and
// offer previews trust staff).
package console
