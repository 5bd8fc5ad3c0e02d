package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
)

// smtpCapture is an SMTP server in the test process that keeps every message it accepts.
type smtpCapture struct {
	addr       string
	user, pass string // required AUTH PLAIN credentials; "" accepts mail without AUTH

	mu   sync.Mutex
	msgs []capturedMail
}

type capturedMail struct {
	from string
	to   []string
	data []byte
	tls  bool // the message travelled over TLS
}

func (c *smtpCapture) messages() []capturedMail {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedMail(nil), c.msgs...)
}

type smtpCaptureSession struct {
	c      *smtpCapture
	conn   *smtp.Conn
	authed bool
	m      capturedMail
}

func (s *smtpCaptureSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpCaptureSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.c.user || pass != s.c.pass {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpCaptureSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.c.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.m = capturedMail{from: from, tls: isTLS}
	return nil
}

func (s *smtpCaptureSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.to = append(s.m.to, to)
	return nil
}

func (s *smtpCaptureSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = b
	s.c.mu.Lock()
	s.c.msgs = append(s.c.msgs, s.m)
	s.c.mu.Unlock()
	return nil
}

func (s *smtpCaptureSession) Reset()        { s.m = capturedMail{} }
func (s *smtpCaptureSession) Logout() error { return nil }

// startSMTP runs a go-smtp server on 127.0.0.1:0 until the test ends. With tlsCfg it offers
// STARTTLS, or with implicit it speaks TLS from the start.
func startSMTP(t *testing.T, user, pass string, tlsCfg *tls.Config, implicit bool) *smtpCapture {
	t.Helper()
	c := &smtpCapture{user: user, pass: pass}
	srv := smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		return &smtpCaptureSession{c: c, conn: conn}, nil
	}))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit {
		ln = tls.NewListener(ln, tlsCfg)
	} else {
		srv.TLSConfig = tlsCfg
	}
	c.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return c
}

// selfSignedTLS returns a server config for 127.0.0.1 and a client config that trusts it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// mailEnv is an offer environment whose e-mails go to an SMTP server in the test.
func newMailEnv(t *testing.T, smtpURL string) *offerEnv {
	t.Helper()
	return newOfferEnv(t, func(c *Config) {
		c.SMTPURL = smtpURL
		c.MailFrom = "Technifold Offers <offers@technifold.test>"
		c.BaseURL = "https://shop.example.com"
		c.AdminAPIToken = "admin-test-token"
	})
}

// runJobs works through the due outbox jobs and returns the send_offer_email jobs' rows.
func (e *offerEnv) runJobs(t *testing.T) {
	t.Helper()
	if _, _, err := e.srv.Worker().RunDue(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

func (e *offerEnv) jobResult(t *testing.T, id int64) (status store.JobStatus, result, lastError string) {
	t.Helper()
	var res, lastErr *string
	if err := e.db.Read().QueryRow(`SELECT status, result, last_error FROM outbox WHERE id = ?`, id).Scan(&status, &res, &lastErr); err != nil {
		t.Fatal(err)
	}
	if res != nil {
		result = *res
	}
	if lastErr != nil {
		lastError = *lastErr
	}
	return status, result, lastError
}

func TestSendOffersReportsEveryContact(t *testing.T) {
	e := newOfferEnv(t, nil)
	ctx := context.Background()
	req := OfferSendRequest{CompanyIDs: []string{"ACME", "NIPPON", "NOPE"}, ContactIDs: []string{"K-EURO", "K-SUB", "K-NOPE"},
		OfferKey: "reorder", CampaignKey: "spring"}
	rep, err := SendOffers(ctx, e.db, req)
	if err != nil {
		t.Fatal(err)
	}
	eligible := map[string]OfferRecipient{}
	for _, r := range rep.Eligible {
		eligible[r.ContactID] = r
	}
	if len(rep.Eligible) != 2 || eligible["K-SUB"].JobID == 0 || eligible["K-EURO"].JobID == 0 || rep.Queued != 2 {
		t.Fatalf("eligible %+v queued %d", rep.Eligible, rep.Queued)
	}
	reasons := map[string]string{}
	for _, r := range rep.Ineligible {
		reasons[r.ContactID+"|"+r.CompanyID] = r.Reason
	}
	want := map[string]string{
		"K-PEND|ACME": "pending (no consent)", "K-UNSUB|ACME": "unsubscribed", "K-BOUNCE|ACME": "bounced",
		"K-NOPE|": "unknown contact", "|NOPE": "unknown company", "|NIPPON": "company has no contacts",
	}
	if len(reasons) != len(want) {
		t.Fatalf("ineligible %+v", rep.Ineligible)
	}
	for k, v := range want {
		if reasons[k] != v {
			t.Errorf("reason of %s = %q, want %q", k, reasons[k], v)
		}
	}
	var key, payload string
	if err := e.db.Read().QueryRow(`SELECT dedupe_key, payload FROM outbox WHERE id = ?`, eligible["K-SUB"].JobID).Scan(&key, &payload); err != nil {
		t.Fatal(err)
	}
	var p store.SendOfferEmailArgs
	if err := json.Unmarshal([]byte(payload), &p); err != nil || key != "send_offer_email:K-SUB:spring:reorder" ||
		p != (store.SendOfferEmailArgs{ContactID: "K-SUB", CompanyID: "ACME", OfferKey: "reorder", CampaignKey: "spring"}) {
		t.Fatalf("job %s %s", key, payload)
	}

	// Asking again queues nothing new.
	again, err := SendOffers(ctx, e.db, req)
	if err != nil || again.Queued != 0 || len(again.Eligible) != 2 || !again.Eligible[0].AlreadyQueued {
		t.Fatalf("second send %+v %v", again, err)
	}
	for _, bad := range []OfferSendRequest{{CompanyIDs: []string{"ACME"}}, {OfferKey: "reorder"}} {
		if _, err := SendOffers(ctx, e.db, bad); store.ErrorCode(err) != store.EINVALID {
			t.Errorf("SendOffers(%+v) = %v, want invalid", bad, err)
		}
	}
}

func TestOfferEmailIsSentOverSMTP(t *testing.T) {
	mx := startSMTP(t, "mailer", "p@ss:word", nil, false)
	e := newMailEnv(t, "smtp://mailer:p%40ss%3Aword@"+mx.addr)

	// Queue through the admin API, as the admin UI does.
	body := `{"contact_ids":["K-SUB","K-UNSUB"],"offer_key":"reorder","campaign_key":"spring"}`
	rec := e.do(t, http.MethodPost, "/api/admin/offers/send", strings.NewReader(body),
		http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer admin-test-token"}})
	var rep OfferSendReport
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rec.Code != http.StatusOK || len(rep.Eligible) != 1 ||
		len(rep.Ineligible) != 1 || rep.Ineligible[0].Reason != "unsubscribed" {
		t.Fatalf("send: %d %s", rec.Code, rec.Body.String())
	}
	e.runJobs(t)
	if status, result, lastErr := e.jobResult(t, rep.Eligible[0].JobID); status != store.JobCompleted || !strings.Contains(result, `"sent":true`) {
		t.Fatalf("job %s %s %s", status, result, lastErr)
	}
	msgs := mx.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	got := msgs[0]
	if got.from != "offers@technifold.test" || len(got.to) != 1 || got.to[0] != "alice@acme.test" {
		t.Fatalf("envelope from %s to %v", got.from, got.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	from, _ := mail.ParseAddress(h.Get("From"))
	to, _ := mail.ParseAddress(h.Get("To"))
	if from == nil || from.Address != "offers@technifold.test" || from.Name != "Technifold Offers" ||
		to == nil || to.Address != "alice@acme.test" || to.Name != "Alice Archer" {
		t.Fatalf("From %q To %q", h.Get("From"), h.Get("To"))
	}
	if subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); subj != "Time to restock your Technifold consumables?" {
		t.Errorf("Subject %q", subj)
	}
	if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", h.Get("List-Unsubscribe-Post"))
	}
	if _, err := mail.ParseDate(h.Get("Date")); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if !regexp.MustCompile(`^<offer\.\d+\.[0-9a-f]+@technifold\.test>$`).MatchString(h.Get("Message-ID")) {
		t.Errorf("Message-ID %q", h.Get("Message-ID"))
	}
	unsub := regexp.MustCompile(`^<https://shop\.example\.com/preferences/([A-Za-z0-9_.-]+)>$`).FindStringSubmatch(h.Get("List-Unsubscribe"))
	if unsub == nil {
		t.Fatalf("List-Unsubscribe %q", h.Get("List-Unsubscribe"))
	}

	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by the reader
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(b)
	}
	text, html := parts["text/plain"], parts["text/html"]
	if text == "" || html == "" {
		t.Fatalf("parts %v", parts)
	}
	link := regexp.MustCompile(`https://shop\.example\.com/x/([A-Za-z0-9_.-]+)`)
	m := link.FindStringSubmatch(text)
	if m == nil || !strings.Contains(html, `href="`+m[0]+`"`) {
		t.Fatalf("offer link missing: text %q", text)
	}
	if m[1] != unsub[1] {
		t.Error("the offer and unsubscribe links carry different tokens")
	}
	claims, err := e.keys.Verify(m[1], e.clock.Now())
	if err != nil || claims.CompanyID != "ACME" || claims.ContactID != "K-SUB" || claims.OfferKey != "reorder" ||
		claims.CampaignKey != "spring" || !claims.ExpiresAt.Equal(e.clock.Now().Add(offertoken.DefaultTTL)) {
		t.Fatalf("token claims %+v %v", claims, err)
	}
	for _, want := range []string{"Hi Alice", "Time to restock?", "Creasing rib, black: £39.00", "/preferences/" + m[1]} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q", want)
		}
	}
	if !strings.Contains(html, "Creasing rib, black") || !strings.Contains(html, "Unsubscribe") {
		t.Errorf("html part: %s", html)
	}
	// The link opens the personalised page.
	if page := e.get(t, "/x/"+m[1]).Body.String(); !strings.Contains(page, "Acme Print Ltd") {
		t.Error("the mailed link does not open the offer page")
	}

	var evMeta string
	if err := e.db.Read().QueryRow(`SELECT meta FROM engagement_events WHERE event_name = 'offer_email_sent'
		AND contact_id = 'K-SUB' AND offer_key = 'reorder' AND campaign_key = 'spring' AND source = 'system'`).Scan(&evMeta); err != nil {
		t.Fatalf("offer_email_sent event: %v", err)
	}
	var evm map[string]any
	if err := json.Unmarshal([]byte(evMeta), &evm); err != nil || evm["message_id"] != h.Get("Message-ID") {
		t.Errorf("event meta %s", evMeta)
	}
	if strings.Contains(e.logs.String(), m[1]) || strings.Contains(e.logs.String(), "p@ss:word") {
		t.Error("a token or the SMTP password reached the log")
	}

	// A second attempt of the same job sends nothing more.
	job := store.Job{ID: rep.Eligible[0].JobID, Payload: json.RawMessage(`{"contact_id":"K-SUB","company_id":"ACME","offer_key":"reorder","campaign_key":"spring"}`)}
	res, err := newOfferMailer(e.cfg, e.db, e.srv.logger).handle(context.Background(), job)
	if err != nil || res.(offerEmailResult).Skipped != "already sent" || len(mx.messages()) != 1 {
		t.Fatalf("retry: %+v %v, %d messages", res, err, len(mx.messages()))
	}
}

func TestOfferEmailRechecksConsentWhenSending(t *testing.T) {
	mx := startSMTP(t, "", "", nil, false)
	e := newMailEnv(t, "smtp://"+mx.addr)
	rep, err := SendOffers(context.Background(), e.db, OfferSendRequest{ContactIDs: []string{"K-SUB"}, OfferKey: "winback"})
	if err != nil || len(rep.Eligible) != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	tok := e.mint(t, offertoken.Claims{CompanyID: "ACME", ContactID: "K-SUB"}, time.Hour)
	if rec := e.postForm(t, "/preferences/"+tok, map[string][]string{"List-Unsubscribe": {"One-Click"}}); rec.Code != http.StatusOK {
		t.Fatal(rec.Code)
	}
	e.runJobs(t)
	status, result, _ := e.jobResult(t, rep.Eligible[0].JobID)
	if status != store.JobCompleted || !strings.Contains(result, `"skipped":"unsubscribed"`) || len(mx.messages()) != 0 {
		t.Fatalf("job %s %s, %d messages", status, result, len(mx.messages()))
	}
	if n := e.count(t, `SELECT count(*) FROM engagement_events WHERE event_name = 'offer_email_sent'`); n != 0 {
		t.Fatalf("%d offer_email_sent events", n)
	}
}

func TestOfferEmailOverTLS(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	for _, tt := range []struct {
		name     string
		implicit bool
		scheme   string
	}{{"starttls", false, "smtp"}, {"implicit tls", true, "smtps"}} {
		t.Run(tt.name, func(t *testing.T) {
			mx := startSMTP(t, "u", "p", serverTLS, tt.implicit)
			e := newMailEnv(t, tt.scheme+"://u:p@"+mx.addr)
			m := newOfferMailer(e.cfg, e.db, e.srv.logger)
			m.tls = clientTLS
			if _, err := SendOffers(context.Background(), e.db, OfferSendRequest{ContactIDs: []string{"K-SUB"}, OfferKey: "reorder"}); err != nil {
				t.Fatal(err)
			}
			jobs, err := e.db.ClaimJobs(context.Background(), "test", time.Minute, 10)
			if err != nil || len(jobs) != 1 {
				t.Fatalf("claim %d %v", len(jobs), err)
			}
			if _, err := m.handle(context.Background(), jobs[0]); err != nil {
				t.Fatal(err)
			}
			if msgs := mx.messages(); len(msgs) != 1 || !msgs[0].tls {
				t.Fatalf("messages %d (tls %v)", len(msgs), len(msgs) == 1 && msgs[0].tls)
			}
		})
	}
}

func TestOfferEmailConfiguration(t *testing.T) {
	tests := []struct {
		name, smtpURL, from string
		want                string
	}{
		{"no smtp url", "", "offers@x.test", "SMTP_URL"},
		{"no mail from", "smtp://127.0.0.1:2525", "", "MAIL_FROM"},
		{"bad smtp url", "http://mail.x.test", "offers@x.test", "SMTP_URL must look like"},
		{"bad mail from", "smtp://127.0.0.1:2525", "not an address", "MAIL_FROM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newOfferEnv(t, func(c *Config) { c.SMTPURL, c.MailFrom, c.AdminAPIToken = tt.smtpURL, tt.from, "tok" })
			_, err := newOfferMailer(e.cfg, e.db, e.srv.logger).handle(context.Background(),
				store.Job{ID: 1, Payload: json.RawMessage(`{"contact_id":"K-SUB","company_id":"ACME"}`)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("handle error %v, want it to name %s", err, tt.want)
			}
			if tt.smtpURL == "" || tt.from == "" {
				rec := e.do(t, http.MethodPost, "/api/admin/offers/send", strings.NewReader(`{"company_ids":["ACME"],"offer_key":"reorder"}`),
					http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer tok"}})
				if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), tt.want) {
					t.Fatalf("admin send: %d %s", rec.Code, rec.Body.String())
				}
			}
		})
	}
	// Without SMTP_URL the job type still exists and fails loudly.
	e := newOfferEnv(t, nil)
	if _, ok := e.srv.Jobs().Lookup(string(store.JobSendOfferEmail)); !ok {
		t.Fatal("send_offer_email is not registered")
	}
}

func TestOfferEmailRefusesPlainSMTPToRemoteHosts(t *testing.T) {
	mx := startSMTP(t, "", "", nil, false)
	e := newMailEnv(t, "smtp://"+mx.addr)
	m := newOfferMailer(e.cfg, e.db, e.srv.logger)
	// Pretend the loopback server is a remote host: without STARTTLS nothing is sent.
	m.smtp.host = "mail.example.com"
	err := m.send(context.Background(), "alice@acme.test", []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || len(mx.messages()) != 0 {
		t.Fatalf("plain send to a remote host: %v", err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		in                   string
		addr, user, pass     string
		implicitTLS, wantErr bool
	}{
		{in: "smtp://user:pa%40ss@mail.example.com:587", addr: "mail.example.com:587", user: "user", pass: "pa@ss"},
		{in: "smtp://mail.example.com", addr: "mail.example.com:587"},
		{in: "smtps://u:p@mail.example.com", addr: "mail.example.com:465", user: "u", pass: "p", implicitTLS: true},
		{in: "smtp://[::1]:2525", addr: "[::1]:2525"},
		{in: "http://mail.example.com", wantErr: true},
		{in: "smtp://", wantErr: true},
		{in: "mail.example.com:25", wantErr: true},
	}
	for _, tt := range tests {
		s, err := parseSMTPURL(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSMTPURL(%q) error %v", tt.in, err)
			continue
		}
		if err == nil && (s.addr != tt.addr || s.user != tt.user || s.pass != tt.pass || s.implicitTLS != tt.implicitTLS) {
			t.Errorf("parseSMTPURL(%q) = %+v", tt.in, s)
		}
		if err != nil && strings.Contains(err.Error(), "pa%40ss") {
			t.Errorf("error leaks the password")
		}
	}
}
