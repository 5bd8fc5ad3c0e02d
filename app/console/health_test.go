package console

import (
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/store"
)

func healthOf(t *testing.T, parts []partHealth, name string) partHealth {
	t.Helper()
	for _, p := range parts {
		if p.Part == name {
			return p
		}
	}
	t.Fatalf("no health line for %q in %+v", name, parts)
	return partHealth{}
}

// allOn has every part configured.
func allOn() Features { return Features{} }

// allOff has no part configured, each missing what app's configuration says it needs.
func allOff() Features {
	return Features{
		Checkout:      Feature{Name: "stripe checkout", Missing: []string{"STRIPE_SECRET_KEY"}},
		StripeWebhook: Feature{Name: "stripe webhook", Missing: []string{"STRIPE_WEBHOOK_SECRET"}},
		ZohoWebhook:   Feature{Name: "zoho webhook", Missing: []string{"ZOHO_WEBHOOK_SECRET"}},
		ZohoBooks: Feature{Name: "zoho books sync", Missing: []string{"ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET",
			"ZOHO_REFRESH_TOKEN", "ZOHO_ORGANIZATION_ID"}},
		Email:       Feature{Name: "offer e-mails", Missing: []string{"SMTP_URL", "TOKEN_SECRET"}},
		Replication: Feature{Name: "replication", Missing: []string{"REPLICA_URL, LITESTREAM_CONFIG or BUCKET_NAME"}},
		OfferEmail:  Feature{Name: "offer e-mails", Missing: []string{"SMTP_URL", "TOKEN_SECRET", "MAIL_FROM"}},
	}
}

// checkoutOnly has the Stripe API key and nothing else.
func checkoutOnly() Features {
	f := allOff()
	f.Checkout.Missing = nil
	return f
}

func TestComputeHealthPerPart(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	hourAgo := now.Add(-time.Hour)
	insync := &store.ReplicationStatus{Enabled: true, Running: true, InSync: true}
	on := allOn()
	off := allOff()
	cases := []struct {
		name   string
		part   string
		in     healthInputs
		state  healthState
		detail string // substring
		since  time.Time
	}{
		{"stripe off", "Stripe", healthInputs{Features: off}, healthOff, "STRIPE_SECRET_KEY", time.Time{}},
		{"stripe ok", "Stripe", healthInputs{Features: on, Replication: insync}, healthOK, "configured", time.Time{}},
		{"stripe refused", "Stripe", healthInputs{Features: on, Refused: map[string]store.Refusals{"stripe": {N: 3, First: hourAgo}}},
			healthProblem, "3 refused webhook requests", hourAgo},
		{"stripe checkout without webhook", "Stripe", healthInputs{Features: checkoutOnly()},
			healthProblem, "STRIPE_WEBHOOK_SECRET", time.Time{}},
		{"zoho crm off", "Zoho CRM", healthInputs{Features: off}, healthOff, "ZOHO_WEBHOOK_SECRET", time.Time{}},
		{"zoho crm ok", "Zoho CRM", healthInputs{Features: on, Refused: map[string]store.Refusals{"stripe": {N: 1, First: hourAgo}}}, healthOK, "", time.Time{}},
		{"zoho crm refused", "Zoho CRM", healthInputs{Features: on, Refused: map[string]store.Refusals{"zoho": {N: 1, First: hourAgo}}},
			healthProblem, "1 refused webhook request", hourAgo},
		{"zoho books off", "Zoho Books", healthInputs{Features: off}, healthOff, "ZOHO_CLIENT_ID", time.Time{}},
		{"zoho books ok despite mail jobs", "Zoho Books", healthInputs{Features: on, JobProblems: []store.JobProblem{
			{Kind: string(store.JobSendOfferEmail), Status: store.JobDead, N: 2, Since: hourAgo}}}, healthOK, "", time.Time{}},
		{"zoho books dead jobs", "Zoho Books", healthInputs{Features: on, JobProblems: []store.JobProblem{
			{Kind: string(store.JobZohoSyncOrder), Status: store.JobDead, N: 2, Since: hourAgo},
			{Kind: string(store.JobZohoSyncRefund), Status: store.JobFailed, N: 1, Since: now.Add(-2 * time.Hour)}}},
			healthProblem, "2 dead jobs, 1 failed job", now.Add(-2 * time.Hour)},
		{"zoho books auth", "Zoho Books", healthInputs{Features: on, ZohoAuth: &ZohoAlert{Message: "invalid_client", At: hourAgo}},
			healthProblem, "invalid_client", hourAgo},
		{"email off", "E-mail", healthInputs{Features: off}, healthOff, "SMTP_URL", time.Time{}},
		{"email ok", "E-mail", healthInputs{Features: on}, healthOK, "", time.Time{}},
		{"email failed", "E-mail", healthInputs{Features: on, JobProblems: []store.JobProblem{
			{Kind: string(store.JobSendOfferEmail), Status: store.JobFailed, N: 1, Since: hourAgo}}}, healthProblem, "1 failed job", hourAgo},
		{"replication off", "Replication and backups", healthInputs{Features: off}, healthOff, "REPLICA_URL", time.Time{}},
		{"replication off, verification failed", "Replication and backups", healthInputs{Features: off,
			BackupVerify: &store.VerifyReport{At: hourAgo, Detail: "integrity check failed"}}, healthProblem, "Backup verification failed: integrity check failed. Off: set REPLICA_URL", hourAgo},
		{"replication configured, not running", "Replication and backups", healthInputs{Features: on}, healthProblem, "configured but not running", time.Time{}},
		{"replication ok", "Replication and backups", healthInputs{Features: on, Replication: insync,
			BackupVerify: &store.VerifyReport{At: hourAgo, OK: true}}, healthOK, "Backup verified 60 minutes ago", time.Time{}},
		{"replication lag", "Replication and backups", healthInputs{Features: on,
			Replication: &store.ReplicationStatus{Enabled: true, Lag: 10 * time.Minute}}, healthProblem, "10m0s behind", now.Add(-10 * time.Minute)},
		{"replication error", "Replication and backups", healthInputs{Features: on,
			Replication: &store.ReplicationStatus{Enabled: true, InSync: true, LastError: "s3: denied", LastErrorAt: hourAgo.Add(30 * time.Minute)}},
			healthProblem, "s3: denied", hourAgo.Add(30 * time.Minute)},
		{"outbox ok", "Outbox", healthInputs{Features: off}, healthOK, "", time.Time{}},
		{"outbox problem", "Outbox", healthInputs{Features: off, JobProblems: []store.JobProblem{
			{Kind: "anything", Status: store.JobDead, N: 1, Since: hourAgo}}}, healthProblem, "1 dead job", hourAgo},
		{"webhooks off", "Webhooks", healthInputs{Features: off}, healthOff, "STRIPE_WEBHOOK_SECRET", time.Time{}},
		{"webhooks off yet refused", "Webhooks", healthInputs{Features: off, Refused: map[string]store.Refusals{"zoho": {N: 4, First: hourAgo}}},
			healthProblem, "4 refused webhook requests in the last 24 hours. Off: set STRIPE_WEBHOOK_SECRET", hourAgo},
		{"zoho crm off yet refused", "Zoho CRM", healthInputs{Features: off, Refused: map[string]store.Refusals{"zoho": {N: 4, First: hourAgo}}},
			healthProblem, "Off: set ZOHO_WEBHOOK_SECRET", hourAgo},
		{"zoho books off yet auth alert", "Zoho Books", healthInputs{Features: off, ZohoAuth: &ZohoAlert{Message: "invalid_client", At: hourAgo}},
			healthProblem, "Zoho refused our credentials (invalid_client)", hourAgo},
		{"webhooks ok", "Webhooks", healthInputs{Features: on}, healthOK, "", time.Time{}},
		{"webhooks refused", "Webhooks", healthInputs{Features: on, Refused: map[string]store.Refusals{
			"stripe": {N: 2, First: hourAgo}, "zoho": {N: 1, First: hourAgo.Add(-time.Hour)}}}, healthProblem, "3 refused", hourAgo.Add(-time.Hour)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := healthOf(t, computeHealth(c.in, now), c.part)
			if h.State != c.state || !strings.Contains(h.Detail, c.detail) || !h.Since.Equal(c.since) {
				t.Errorf("%s = %+v; want state %s, detail containing %q, since %v", c.part, h, c.state, c.detail, c.since)
			}
		})
	}
}

func TestHealthBannerGreenOnlyWhenEveryConfiguredPartIsOK(t *testing.T) {
	now := time.Now()
	all := computeHealth(healthInputs{Features: allOn(), Replication: &store.ReplicationStatus{InSync: true}}, now)
	if b := bannerFor(all); !b.OK || len(b.Off) != 0 {
		t.Errorf("everything on and ok: banner %+v", b)
	}
	offOnly := computeHealth(healthInputs{Features: allOff()}, now)
	if b := bannerFor(offOnly); !b.OK || len(b.Off) != 6 {
		t.Errorf("everything off: banner %+v, want green listing 6 parts off", b)
	}
	bad := computeHealth(healthInputs{Features: allOff(), JobProblems: []store.JobProblem{{Kind: "x", Status: store.JobFailed, N: 1}}}, now)
	if b := bannerFor(bad); b.OK || len(b.Problems) != 1 || b.Problems[0] != "Outbox" {
		t.Errorf("a failed job: banner %+v", b)
	}
}
