package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/technifold/technifold/app/offertoken"
	"github.com/technifold/technifold/store"
	"github.com/technifold/technifold/ui"
)

// smtpTimeout bounds one SMTP conversation.
const smtpTimeout = 60 * time.Second

// smtpSettings is a parsed SMTP_URL.
type smtpSettings struct {
	host, addr  string
	implicitTLS bool // smtps://
	user, pass  string
}

// parseSMTPURL reads smtp://[user:pass@]host[:587] (STARTTLS when offered; required unless the
// host is loopback) or smtps://[user:pass@]host[:465] (TLS from the start).
func parseSMTPURL(raw string) (smtpSettings, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return smtpSettings{}, errors.New("SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	s := smtpSettings{host: u.Hostname(), implicitTLS: u.Scheme == "smtps"}
	port := u.Port()
	if port == "" {
		port = "587"
		if s.implicitTLS {
			port = "465"
		}
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	return s, nil
}

// offerMailer sends send_offer_email jobs.
type offerMailer struct {
	cfg    *Config
	db     *store.DB
	logger *slog.Logger
	keys   *offertoken.Keyring
	smtp   smtpSettings
	from   *mail.Address
	err    error       // a configuration problem; every job fails with it
	tls    *tls.Config // nil: system roots, server name from SMTP_URL
	html   *htmltemplate.Template
	text   *texttemplate.Template
}

func newOfferMailer(cfg *Config, db *store.DB, logger *slog.Logger) *offerMailer {
	m := &offerMailer{cfg: cfg, db: db, logger: logger}
	m.html = htmltemplate.Must(htmltemplate.ParseFS(ui.FS, "templates/offer_email.html"))
	m.text = texttemplate.Must(texttemplate.ParseFS(ui.FS, "templates/offer_email.txt"))
	switch {
	case cfg.SMTPURL == "":
		m.err = &NotConfiguredError{Feature: FeatureEmail, MissingVar: "SMTP_URL"}
	case strings.TrimSpace(cfg.MailFrom) == "":
		m.err = &NotConfiguredError{Feature: FeatureEmail, MissingVar: "MAIL_FROM (required with SMTP_URL)"}
	case cfg.TokenSecret == "":
		m.err = &NotConfiguredError{Feature: FeatureEmail, MissingVar: "TOKEN_SECRET"}
	}
	if m.err != nil {
		return m
	}
	var err error
	if m.smtp, err = parseSMTPURL(cfg.SMTPURL); err != nil {
		m.err = err
	} else if m.from, err = mail.ParseAddress(cfg.MailFrom); err != nil {
		m.err = fmt.Errorf("MAIL_FROM %q is not an e-mail address: %w", cfg.MailFrom, err)
	} else if m.keys, err = offertoken.ParseKeyring(cfg.TokenSecret); err != nil {
		m.err = fmt.Errorf("TOKEN_SECRET is not valid: %w", err)
	}
	return m
}

// offerEmailResult is what a send_offer_email job stores as its result.
type offerEmailResult struct {
	Sent      bool   `json:"sent"`
	Skipped   string `json:"skipped,omitempty"`
	MessageID string `json:"message_id,omitempty"`
}

// handle is the send_offer_email job handler. It re-checks consent at send time, mints a fresh
// link, sends, and records offer_email_sent. A retry after a recorded send does nothing; the
// Message-ID is fixed per job so a resend after a crash can be deduplicated by the receiver.
func (m *offerMailer) handle(ctx context.Context, job store.Job) (any, error) {
	return jobHandler(m.sendJob)(ctx, job)
}

// sendJob is handle with the payload decoded.
func (m *offerMailer) sendJob(ctx context.Context, job store.Job, p store.SendOfferEmailArgs) (any, error) {
	if m.err != nil {
		return nil, m.err
	}
	if p.ContactID == "" {
		return nil, fmt.Errorf("send_offer_email job %d: payload needs contact_id", job.ID)
	}
	eventID := "offer_email_sent:" + strconv.FormatInt(job.ID, 10)
	done, err := m.db.EventRecorded(ctx, "system", eventID)
	if err != nil {
		return nil, err
	}
	if done {
		return offerEmailResult{Sent: true, Skipped: "already sent"}, nil
	}
	k, err := m.db.GetContact(ctx, p.ContactID)
	if store.ErrorCode(err) == store.ENOTFOUND {
		return offerEmailResult{Skipped: reasonUnknownContact}, nil
	}
	if err != nil {
		return nil, err
	}
	if reason := offerIneligibility(k); reason != "" {
		return offerEmailResult{Skipped: reason}, nil
	}
	if p.CompanyID == "" {
		p.CompanyID = k.CompanyID
	}
	if k.CompanyID != p.CompanyID {
		return offerEmailResult{Skipped: "contact is no longer at company " + p.CompanyID}, nil
	}
	to, err := mail.ParseAddress(k.Email)
	if err != nil {
		return offerEmailResult{Skipped: reasonNoEmail}, nil
	}
	msg, messageID, subject, err := m.compose(ctx, job.ID, k, to, p)
	if err != nil {
		return nil, err
	}
	if err := m.send(ctx, to.Address, msg); err != nil {
		return nil, err
	}
	err = m.db.Update(ctx, func(tx *store.Tx) error {
		_, _, err := tx.InsertEvent(ctx, store.Event{Source: "system", SourceEventID: eventID, Name: store.EventOfferEmailSent,
			CompanyID: p.CompanyID, ContactID: k.ID, OfferKey: p.OfferKey, CampaignKey: p.CampaignKey,
			Meta: map[string]any{"message_id": messageID, "subject": subject, "job_id": job.ID}})
		return err
	})
	if err != nil {
		// Sent but not recorded: report it; a retry would send a second copy with the same Message-ID.
		return nil, fmt.Errorf("record offer e-mail sent to %s (message %s): %w", k.ID, messageID, err)
	}
	m.logger.InfoContext(ctx, "offer e-mail sent", "job_id", job.ID, "contact_id", k.ID, "offer_key", p.OfferKey,
		"campaign_key", p.CampaignKey)
	return offerEmailResult{Sent: true, MessageID: messageID}, nil
}

// offerEmailData is what the e-mail templates see.
type offerEmailData struct {
	FirstName, CompanyName   string
	Copy                     offerCopy
	Items                    []offerEmailItem
	OfferURL, PreferencesURL string
	Expires                  string
}

type offerEmailItem struct{ Description, Price string }

// compose builds the whole message: headers and a multipart/alternative body with a
// plain-text and an HTML part, both quoted-printable.
func (m *offerMailer) compose(ctx context.Context, jobID int64, k store.Contact, to *mail.Address, p store.SendOfferEmailArgs) (msg []byte, messageID, subject string, err error) {
	co, err := m.db.GetConsumablePayload(ctx, p.CompanyID)
	if err != nil {
		return nil, "", "", err
	}
	now := m.db.Now()
	claims := offertoken.Claims{CompanyID: p.CompanyID, ContactID: k.ID, OfferKey: p.OfferKey, CampaignKey: p.CampaignKey}
	token, err := m.keys.Mint(claims, now, offertoken.DefaultTTL)
	if err != nil {
		return nil, "", "", fmt.Errorf("mint offer link for %s: %w", k.ID, err)
	}
	base := strings.TrimRight(m.cfg.BaseURL, "/")
	cp := copyFor(p.OfferKey)
	data := offerEmailData{FirstName: cleanHeaderText(k.FirstName), CompanyName: co.CompanyName, Copy: cp,
		OfferURL: base + "/x/" + token, PreferencesURL: base + "/preferences/" + token,
		Expires: now.Add(offertoken.DefaultTTL).Format("2 January 2006, 15:04 UTC")}
	for _, it := range co.ReorderItems {
		if it.Price != nil && len(data.Items) < 3 {
			data.Items = append(data.Items, offerEmailItem{Description: it.Description, Price: formatMoney(*it.Price, co.Currency)})
		}
	}
	var textPart, htmlPart bytes.Buffer
	if err := m.text.ExecuteTemplate(&textPart, "offer_email_text", data); err != nil {
		return nil, "", "", fmt.Errorf("render offer e-mail text: %w", err)
	}
	if err := m.html.ExecuteTemplate(&htmlPart, "offer_email_html", data); err != nil {
		return nil, "", "", fmt.Errorf("render offer e-mail html: %w", err)
	}

	sum := sha256.Sum256([]byte(k.ID))
	messageID = fmt.Sprintf("<offer.%d.%s@%s>", jobID, hex.EncodeToString(sum[:6]), domainOf(m.from.Address))
	subject = cp.Subject
	rcpt := &mail.Address{Name: cleanHeaderText(k.DisplayName()), Address: to.Address}
	if rcpt.Name == to.Address {
		rcpt.Name = ""
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	header := func(name, value string) { fmt.Fprintf(&buf, "%s: %s\r\n", name, value) }
	header("From", m.from.String())
	header("To", rcpt.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	header("List-Unsubscribe", "<"+data.PreferencesURL+">")
	header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")
	for _, part := range []struct {
		ctype string
		body  []byte
	}{{"text/plain; charset=utf-8", textPart.Bytes()}, {"text/html; charset=utf-8", htmlPart.Bytes()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, "", "", err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write(part.body); err != nil {
			return nil, "", "", err
		}
		if err := qp.Close(); err != nil {
			return nil, "", "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", "", err
	}
	return buf.Bytes(), messageID, subject, nil
}

// send delivers msg to one recipient over SMTP.
func (m *offerMailer) send(ctx context.Context, to string, msg []byte) error {
	s := m.smtp
	ctx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()
	tlsCfg := m.tls
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	}
	var conn net.Conn
	var err error
	if s.implicitTLS {
		conn, err = (&tls.Dialer{Config: tlsCfg}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", s.addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP server %s: %w", s.addr, err)
	}
	defer c.Close()
	if err := m.converse(c, s, tlsCfg, to, msg); err != nil {
		return fmt.Errorf("send offer e-mail via %s: %w", s.addr, err)
	}
	return nil
}

func (m *offerMailer) converse(c *smtp.Client, s smtpSettings, tlsCfg *tls.Config, to string, msg []byte) error {
	if err := c.Hello(helloName(m.cfg.BaseURL)); err != nil {
		return err
	}
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		} else if !isLoopbackHost(s.host) {
			return errors.New("the server does not offer STARTTLS; refusing to send in the clear (use smtps:// for TLS from the start)")
		}
	}
	if s.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH but SMTP_URL has credentials")
		}
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return fmt.Errorf("auth as %s: %w", s.user, err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := io.Copy(w, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}

// isLoopbackHost reports whether host is this machine (where plain SMTP is acceptable).
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// helloName is the name sent in EHLO: BASE_URL's host.
func helloName(baseURL string) string {
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

func domainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok && d != "" {
		return d
	}
	return "localhost"
}

// cleanHeaderText drops control characters from a name bound for a header or greeting.
func cleanHeaderText(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
}
