package console

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/technifold/technifold/store"
)

// The dashboard's health: one line per part (Stripe, Zoho CRM, Zoho Books, e-mail,
// replication and backups, outbox, webhooks), each ok, off (with the variable that turns it
// on) or problem (with what and since when). computeHealth is pure: it reads healthInputs,
// which gatherHealth fills from the configuration and the store.

type healthState string

const (
	healthOK      healthState = "ok"
	healthOff     healthState = "off"
	healthProblem healthState = "problem"
)

// partHealth is one part's line on the dashboard.
type partHealth struct {
	Part   string
	State  healthState
	Detail string // ok: a short fact; off: what to set; problem: what is wrong
	Since  time.Time
	Link   string
}

// replicationLagLimit is how far the replica may fall behind before it is a problem.
const replicationLagLimit = 5 * time.Minute

// healthInputs is everything the health computation reads.
type healthInputs struct {
	Features     Features
	JobProblems  []store.JobProblem
	Refused      map[string]store.Refusals // provider → refused webhook requests in the last 24 h
	ZohoAuth     *ZohoAlert
	ZohoPaused   time.Time
	Replication  *store.ReplicationStatus // nil when replication is off
	BackupVerify *store.VerifyReport      // nil when never verified
}

// jobProblem sums the failed and dead jobs of kinds (all kinds when none), with the oldest.
func (in healthInputs) jobProblem(kinds ...store.JobKind) (failed, dead int, since time.Time) {
	for _, p := range in.JobProblems {
		match := len(kinds) == 0
		for _, k := range kinds {
			match = match || p.Kind == string(k)
		}
		if !match {
			continue
		}
		if p.Status == store.JobDead {
			dead += p.N
		} else {
			failed += p.N
		}
		if since.IsZero() || (!p.Since.IsZero() && p.Since.Before(since)) {
			since = p.Since
		}
	}
	return failed, dead, since
}

// problemJobsLink lists the dead jobs when there are any, else the failed ones.
func problemJobsLink(dead int) string {
	if dead > 0 {
		return "/admin/outbox?status=dead"
	}
	return "/admin/outbox?status=failed"
}

func jobsText(failed, dead int) string {
	var parts []string
	if dead > 0 {
		parts = append(parts, plural(dead, "dead job", "dead jobs"))
	}
	if failed > 0 {
		parts = append(parts, plural(failed, "failed job", "failed jobs")+" waiting to retry")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func offText(f Feature) string { return "Off: set " + strings.Join(f.Missing, ", ") + "." }

// problems collects a part's problems; the earliest since wins.
type problems struct {
	texts []string
	since time.Time
	link  string
}

func (p *problems) add(text string, since time.Time, link string) {
	p.texts = append(p.texts, text)
	if p.since.IsZero() || (!since.IsZero() && since.Before(p.since)) {
		p.since = since
	}
	if p.link == "" {
		p.link = link
	}
}

func (p problems) part(name, okText string) partHealth {
	if len(p.texts) == 0 {
		return partHealth{Part: name, State: healthOK, Detail: okText}
	}
	d := strings.Join(p.texts, "; ") + "."
	return partHealth{Part: name, State: healthProblem, Detail: strings.ToUpper(d[:1]) + d[1:], Since: p.since, Link: p.link}
}

// offOr is a part that is off, unless it has problems all the same (refused webhook requests
// while its secret is unset, say): then it is a problem, and still says what turns it on.
func (p problems) offOr(name, off string) partHealth {
	if len(p.texts) == 0 {
		return partHealth{Part: name, State: healthOff, Detail: off}
	}
	h := p.part(name, "")
	h.Detail += " " + off
	return h
}

// computeHealth states each part's health.
func computeHealth(in healthInputs, now time.Time) []partHealth {
	var out []partHealth
	refusedText := func(r store.Refusals) string {
		return plural(r.N, "refused webhook request", "refused webhook requests") + " in the last 24 hours"
	}

	// Stripe: checkout (the API key) and its webhook.
	checkout, hook := in.Features.Checkout, in.Features.StripeWebhook
	switch {
	case !checkout.On() && !hook.On():
		var p problems
		if r := in.Refused["stripe"]; r.N > 0 {
			p.add(refusedText(r), r.First, "/admin/webhooks?provider=stripe&status=rejected")
		}
		out = append(out, p.offOr("Stripe", offText(Feature{Missing: append(slices.Clone(checkout.Missing), hook.Missing...)})))
	default:
		var p problems
		if checkout.On() && !hook.On() {
			p.add("checkout is on but payments are never confirmed without the webhook: set "+strings.Join(hook.Missing, ", "), time.Time{}, "")
		}
		if r := in.Refused["stripe"]; r.N > 0 {
			p.add(refusedText(r), r.First, "/admin/webhooks?provider=stripe&status=rejected")
		}
		ok := "Checkout and webhook configured."
		if !checkout.On() {
			ok = "Webhook configured; checkout off (set " + strings.Join(checkout.Missing, ", ") + ")."
		}
		out = append(out, p.part("Stripe", ok))
	}

	// Zoho CRM: the inbound webhook.
	{
		var p problems
		if r := in.Refused["zoho"]; r.N > 0 {
			p.add(refusedText(r), r.First, "/admin/webhooks?provider=zoho&status=rejected")
		}
		if f := in.Features.ZohoWebhook; !f.On() {
			out = append(out, p.offOr("Zoho CRM", offText(f)))
		} else {
			out = append(out, p.part("Zoho CRM", "Webhook configured."))
		}
	}

	// Zoho Books: the sync jobs.
	{
		var p problems
		if in.ZohoAuth != nil {
			p.add("Zoho refused our credentials ("+in.ZohoAuth.Message+"); Zoho jobs are held", in.ZohoAuth.At, "")
		}
		if in.ZohoPaused.After(now) {
			p.add("daily API limit reached: Zoho jobs wait until "+absoluteTime(in.ZohoPaused), time.Time{}, "")
		}
		if failed, dead, since := in.jobProblem(store.JobZohoSyncOrder, store.JobZohoSyncRefund); failed+dead > 0 {
			p.add(jobsText(failed, dead), since, problemJobsLink(dead))
		}
		if f := in.Features.ZohoBooks; !f.On() {
			out = append(out, p.offOr("Zoho Books", offText(f)))
		} else {
			out = append(out, p.part("Zoho Books", "Syncing."))
		}
	}

	// E-mail: offer e-mails.
	{
		var p problems
		if failed, dead, since := in.jobProblem(store.JobSendOfferEmail); failed+dead > 0 {
			p.add(jobsText(failed, dead), since, "/admin/outbox?type="+string(store.JobSendOfferEmail)+"&status="+map[bool]string{true: "dead", false: "failed"}[dead > 0])
		}
		if f := in.Features.Email; !f.On() {
			out = append(out, p.offOr("E-mail", offText(f)))
		} else {
			out = append(out, p.part("E-mail", "Sending."))
		}
	}

	// Replication and the last backup verification.
	{
		var p problems
		if v := in.BackupVerify; v != nil && !v.OK {
			p.add("backup verification failed: "+v.Detail, v.At, "")
		}
		if f := in.Features.Replication; in.Replication == nil && f.On() {
			p.add("replication is configured but not running in this process", time.Time{}, "")
			out = append(out, p.part("Replication and backups", ""))
		} else if in.Replication == nil {
			out = append(out, p.offOr("Replication and backups", offText(f)))
		} else {
			r := in.Replication
			if r.LastError != "" && now.Sub(r.LastErrorAt) < time.Hour {
				p.add("replication error: "+r.LastError, r.LastErrorAt, "")
			}
			if r.Lag > replicationLagLimit {
				p.add("the replica is "+r.Lag.Round(time.Second).String()+" behind", now.Add(-r.Lag), "")
			}
			ok := "Replica in sync."
			if !r.InSync {
				ok = "Replica " + r.Lag.Round(time.Second).String() + " behind."
			}
			if v := in.BackupVerify; v != nil && v.OK {
				ok += " Backup verified " + relativeTime(v.At, now) + "."
			} else if v == nil {
				ok += " Backup not verified yet."
			}
			out = append(out, p.part("Replication and backups", ok))
		}
	}

	// Outbox: every job kind.
	{
		var p problems
		if failed, dead, since := in.jobProblem(); failed+dead > 0 {
			p.add(jobsText(failed, dead), since, problemJobsLink(dead))
		}
		out = append(out, p.part("Outbox", "No failed or dead jobs."))
	}

	// Webhooks: every provider's refusals.
	{
		var p problems
		total := store.Refusals{}
		for _, r := range in.Refused {
			total.N += r.N
			if total.First.IsZero() || r.First.Before(total.First) {
				total.First = r.First
			}
		}
		if total.N > 0 {
			p.add(refusedText(total), total.First, "/admin/webhooks?status=rejected")
		}
		if !hook.On() && !in.Features.ZohoWebhook.On() {
			out = append(out, p.offOr("Webhooks", "Off: set STRIPE_WEBHOOK_SECRET or ZOHO_WEBHOOK_SECRET."))
		} else {
			out = append(out, p.part("Webhooks", "No refused requests in the last 24 hours."))
		}
	}
	return out
}

// healthBanner sums the parts up: green only when every configured part is ok.
type healthBanner struct {
	OK       bool
	Kind     string // the banner partial's kind: notice (green) or error
	Text     string
	Problems []string
	Off      []string
}

func bannerFor(parts []partHealth) healthBanner {
	b := healthBanner{OK: true}
	for _, p := range parts {
		switch p.State {
		case healthProblem:
			b.OK = false
			b.Problems = append(b.Problems, p.Part)
		case healthOff:
			b.Off = append(b.Off, p.Part)
		}
	}
	b.Kind, b.Text = "notice", "Every configured part is healthy."
	if !b.OK {
		b.Kind, b.Text = "error", "Problems: "+strings.Join(b.Problems, ", ")+"."
	}
	if len(b.Off) > 0 {
		b.Text += " Off: " + strings.Join(b.Off, ", ") + "."
	}
	return b
}

// gatherHealth reads the health inputs from the configuration and the store.
func (s *Console) gatherHealth(ctx context.Context, now time.Time, repl *store.ReplicationStatus) (healthInputs, error) {
	in := healthInputs{Features: s.cfg.Features, Replication: repl}
	var err error
	if in.JobProblems, err = s.db.JobProblems(ctx); err != nil {
		return in, err
	}
	// Refused webhook requests: the per-minute rows already written, plus those counted in
	// memory and not flushed yet (Services.UnsavedRefusals).
	if in.Refused, err = s.db.WebhookRefusals(ctx, now.Add(-24*time.Hour)); err != nil {
		return in, err
	}
	for provider, r := range s.svc.UnsavedRefusals() {
		agg := in.Refused[provider]
		if agg.N == 0 || r.First.Before(agg.First) {
			agg.First = r.First
		}
		agg.N += r.N
		if in.Refused == nil {
			in.Refused = map[string]store.Refusals{}
		}
		in.Refused[provider] = agg
	}
	if in.ZohoAuth, err = s.svc.ZohoAuthAlert(ctx); err != nil {
		return in, err
	}
	if until, err := s.svc.ZohoPausedUntil(ctx); err == nil {
		in.ZohoPaused = until
	}
	if in.BackupVerify, err = s.svc.BackupVerification(ctx); err != nil {
		return in, err
	}
	return in, nil
}
