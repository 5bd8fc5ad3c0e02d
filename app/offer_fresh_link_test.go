package app

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

var nonceAttr = regexp.MustCompile(`nonce-?[=]?"?[A-Za-z0-9_-]{22}"?`)

// freshLinkAnswer posts "Send me a fresh link" for token and returns the status and the body
// with its per-request nonce blanked, so answers can be compared byte for byte.
func (e *offerEnv) freshLinkAnswer(t *testing.T, token string) (int, string) {
	t.Helper()
	rec := e.postForm(t, "/x/fresh-link", url.Values{"t": {token}})
	return rec.Code, nonceAttr.ReplaceAllString(rec.Body.String(), "NONCE")
}

func (e *offerEnv) freshLinkJobs(t *testing.T, contact string) int {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM outbox WHERE job_type = ? AND dedupe_key LIKE ? || '%'
		AND json_extract(payload, '$.contact_id') = ?`, string(store.JobSendOfferEmail), freshLinkKeyPrefix(contact), contact)
}

func TestFreshLinkAnswersAlikeAndQueuesOnlyForSubscribedContacts(t *testing.T) {
	e := newOfferEnv(t, withSupport)
	expired := func(contact string) string {
		return e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: contact, OfferKey: "reorder", CampaignKey: "spring"}, time.Minute)
	}
	sub, unsub, pend, bounce, unknown := expired("K-SUB"), expired("K-UNSUB"), expired("K-PEND"), expired("K-BOUNCE"), expired("K-NOPE")
	moved := e.mint(t, offertoken.Claims{CompanyID: "EURO", ContactID: "K-SUB"}, time.Minute) // contact is at ACME
	companyWide := e.mint(t, offertoken.Claims{CompanyID: "ACME"}, time.Minute)
	foreign, err := offerKeyring(t, "rotate:k1=another-secret-0123456789abcdef012345").Mint(
		offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, e.clock.Now(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	current := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)
	tampered := sub[:len(sub)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(sub, "AA")]

	status, want := e.freshLinkAnswer(t, sub)
	if status != http.StatusOK || !strings.Contains(want, "Check your inbox") || !strings.Contains(want, "mailto:"+testSupportEmail) {
		t.Fatalf("expired+subscribed: %d %s", status, want)
	}
	if n := e.freshLinkJobs(t, "K-SUB"); n != 1 {
		t.Fatalf("%d fresh-link jobs for K-SUB, want 1", n)
	}
	var payload string
	if err := e.db.Read().QueryRow(`SELECT payload FROM outbox WHERE job_type = ?`, string(store.JobSendOfferEmail)).Scan(&payload); err != nil ||
		!strings.Contains(payload, `"contact_id":"K-SUB"`) || !strings.Contains(payload, `"offer_key":"reorder"`) ||
		!strings.Contains(payload, `"campaign_key":"spring"`) || !strings.Contains(payload, `"company_id":"ACME"`) {
		t.Fatalf("job payload %s (%v)", payload, err)
	}

	cases := map[string]string{
		"throttled (same hour)": sub, "unsubscribed": unsub, "pending": pend, "bounced": bounce,
		"unknown contact": unknown, "contact at another company": moved, "company-wide link": companyWide,
		"tampered": tampered, "signed with another secret": foreign, "not expired": current, "garbage": "not-a-token", "empty": "",
	}
	for name, tok := range cases {
		e.clock.Advance(time.Second)
		s, body := e.freshLinkAnswer(t, tok)
		if s != status || body != want {
			t.Errorf("%s: answer differs: %d\n%s\nwant %d\n%s", name, s, body, status, want)
		}
		if strings.Contains(body, "@acme.test") || strings.Contains(body, "Alice") {
			t.Errorf("%s: the answer reveals the contact", name)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM outbox`); n != 1 {
		t.Fatalf("%d jobs queued, want exactly 1 in the hour", n)
	}
	for _, o := range []freshLinkOutcome{freshThrottled, freshNotEligible, freshNoContact, freshBadToken, freshStillCurrent} {
		if !strings.Contains(e.logs.String(), `"outcome":"`+string(o)+`"`) {
			t.Errorf("no request ended %q (the cases do not reach their branch)", o)
		}
	}

	// After an hour the same expired link may ask again: one more job.
	e.clock.Advance(freshLinkEvery)
	if s, body := e.freshLinkAnswer(t, sub); s != status || body != want {
		t.Fatalf("second request: %d %s", s, body)
	}
	if n := e.freshLinkJobs(t, "K-SUB"); n != 2 {
		t.Fatalf("%d fresh-link jobs after an hour, want 2", n)
	}
	if strings.Contains(e.logs.String(), "alice@acme.test") || strings.Contains(e.logs.String(), sub) {
		t.Fatal("the log holds the address or the whole token")
	}
}

func TestFreshLinkThrottleIsPerContactAndDurable(t *testing.T) {
	e := newOfferEnv(t, nil)
	sub := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	other := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "winback", CampaignKey: "autumn"}, time.Minute)
	e.clock.Advance(time.Hour)
	e.freshLinkAnswer(t, sub)
	// Another link of the same contact, and a new server over the same database: still throttled.
	e.clock.Advance(59 * time.Minute)
	srv, err := NewServer(e.cfg, e.db, e.srv.logger)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.freshLinkAnswer(t, other)
	if n := e.freshLinkJobs(t, "K-SUB"); n != 1 {
		t.Fatalf("%d jobs within the hour", n)
	}
	// Another contact is not held back by K-SUB's request.
	err = e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.ExecContext(context.Background(), `UPDATE contacts SET marketing_status = 'subscribed' WHERE contact_id = 'K-PEND'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pend := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-PEND"}, time.Minute)
	e.clock.Advance(2 * time.Minute)
	e.freshLinkAnswer(t, pend)
	if n := e.freshLinkJobs(t, "K-PEND"); n != 1 {
		t.Fatalf("%d jobs for K-PEND", n)
	}
}

func TestFreshLinkRefusesCrossSitePosts(t *testing.T) {
	e := newOfferEnv(t, nil)
	sub := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	e.clock.Advance(time.Hour)
	rec := e.do(t, http.MethodPost, "/x/fresh-link", strings.NewReader(url.Values{"t": {sub}}.Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.test"}})
	if rec.Code != http.StatusForbidden || e.count(t, `SELECT count(*) FROM outbox`) != 0 {
		t.Fatalf("cross-site post: %d, %d jobs", rec.Code, e.count(t, `SELECT count(*) FROM outbox`))
	}
}

func TestExpiredPageOffersAFreshLink(t *testing.T) {
	e := newOfferEnv(t, nil)
	sub := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	unsub := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-UNSUB"}, time.Minute)
	e.clock.Advance(time.Hour)
	for _, tok := range []string{sub, unsub} { // the same page whoever the contact is
		rec := e.get(t, "/x/"+tok)
		if rec.Code != http.StatusGone || !strings.Contains(rec.Body.String(), `<form method="post" action="/x/fresh-link" id="fresh-link"><input type="hidden" name="t" value="`+tok+`">`) ||
			!strings.Contains(rec.Body.String(), "Send me a fresh link") {
			t.Fatalf("expired page: %d %s", rec.Code, rec.Body.String())
		}
	}
	// A tampered link proves nothing: no form.
	if rec := e.get(t, "/x/"+sub+"x"); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "fresh-link") {
		t.Fatalf("tampered link: %d %s", rec.Code, rec.Body.String())
	}
}

// Without SMTP_URL the request is still answered alike and the job is queued; it then fails
// loudly in the outbox (naming SMTP_URL), like every offer e-mail, and can be retried once
// e-mail is configured.
func TestFreshLinkWithoutEmailQueuesAJobThatFailsLoudly(t *testing.T) {
	e := newOfferEnv(t, nil)
	sub := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Minute)
	e.clock.Advance(time.Hour)
	if s, body := e.freshLinkAnswer(t, sub); s != http.StatusOK || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("answer %d %s", s, body)
	}
	var id int64
	if err := e.db.Read().QueryRow(`SELECT id FROM outbox`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	e.runJobs(t)
	if status, _, lastErr := e.jobResult(t, id); status != store.JobFailed || !strings.Contains(lastErr, "SMTP_URL") {
		t.Fatalf("job %s: %s", status, lastErr)
	}
}

func TestFreshLinkIsSentOverSMTP(t *testing.T) {
	mx := startSMTP(t, "", "", nil, false)
	e := newMailEnv(t, "smtp://"+mx.addr)
	sub := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB", OfferKey: "reorder"}, time.Minute)
	e.clock.Advance(time.Hour)
	e.freshLinkAnswer(t, sub)
	e.runJobs(t)
	msgs := mx.messages()
	if len(msgs) != 1 || msgs[0].to[0] != "alice@acme.test" {
		t.Fatalf("%d messages", len(msgs))
	}
	link := regexp.MustCompile(`https://shop\.example\.com/x/([A-Za-z0-9_.-]+)`).FindStringSubmatch(strings.ReplaceAll(string(msgs[0].data), "=\r\n", ""))
	if link == nil {
		t.Fatal("no offer link in the e-mail")
	}
	if rec := e.get(t, "/x/"+link[1]); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Hi Alice") {
		t.Fatalf("the fresh link: %d", rec.Code)
	}
}
