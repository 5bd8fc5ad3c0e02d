package app

import (
	"bufio"
	"context"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/technifold/technifold/store"
)

// rawSMTP is a minimal plain SMTP server (loopback, no TLS, no AUTH) that calls onQuit when
// QUIT arrives, before answering it; with dropQuit it then closes without answering.
type rawSMTP struct {
	addr      string
	onQuit    func()
	dropQuit  bool
	rcptReply string // instead of 250 OK

	mu       sync.Mutex
	accepted int
}

func startRawSMTP(t *testing.T, onQuit func(), dropQuit bool) *rawSMTP {
	t.Helper()
	s := &rawSMTP{onQuit: onQuit, dropQuit: dropQuit}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *rawSMTP) serve(conn net.Conn) {
	defer conn.Close()
	r := textproto.NewReader(bufio.NewReader(conn))
	reply := func(line string) { _, _ = conn.Write([]byte(line + "\r\n")) }
	reply("220 mx.test ESMTP")
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "EHLO", "HELO":
			reply("250-mx.test")
			reply("250 8BITMIME")
		case "RCPT":
			if s.rcptReply != "" {
				reply(s.rcptReply)
				continue
			}
			reply("250 OK")
		case "MAIL", "RSET", "NOOP":
			reply("250 OK")
		case "DATA":
			reply("354 go ahead")
			if _, err := r.ReadDotBytes(); err != nil {
				return
			}
			s.mu.Lock()
			s.accepted++
			s.mu.Unlock()
			reply("250 queued")
		case "QUIT":
			s.onQuit()
			if s.dropQuit {
				return
			}
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// The send is recorded as soon as the server accepted the message: before QUIT. A QUIT that
// is never answered does not turn an accepted message into a failed job (which would send it
// again).
func TestOfferEmailRecordedBeforeQuit(t *testing.T) {
	for _, drop := range []bool{false, true} {
		var e *offerEnv
		var mu sync.Mutex
		var atQuit []int
		mx := startRawSMTP(t, func() {
			mu.Lock()
			defer mu.Unlock()
			n := -1
			_ = e.db.Read().QueryRow(`SELECT count(*) FROM engagement_events WHERE event_name = 'offer_email_sent'`).Scan(&n)
			atQuit = append(atQuit, n)
		}, drop)
		e = newMailEnv(t, "smtp://"+mx.addr)
		rep, err := SendOffers(context.Background(), e.db, OfferSendRequest{ContactIDs: []string{"K-SUB"}, OfferKey: "reorder"})
		if err != nil || len(rep.Eligible) != 1 {
			t.Fatalf("%+v %v", rep, err)
		}
		e.runJobs(t)
		status, result, lastErr := e.jobResult(t, rep.Eligible[0].JobID)
		if status != store.JobCompleted || !strings.Contains(result, `"sent":true`) {
			t.Fatalf("drop QUIT %v: job %s %s %s", drop, status, result, lastErr)
		}
		mu.Lock()
		if len(atQuit) != 1 || atQuit[0] != 1 || mx.accepted != 1 {
			t.Fatalf("drop QUIT %v: offer_email_sent rows when QUIT arrived: %v; messages %d", drop, atQuit, mx.accepted)
		}
		mu.Unlock()
	}
}

// An SMTP refusal quoting the recipient fails the job without the address in its error (which
// the worker logs and keeps).
func TestOfferEmailErrorHasNoAddress(t *testing.T) {
	mx := startRawSMTP(t, func() {}, false)
	mx.rcptReply = "550 5.1.1 <alice@acme.test>: Recipient address rejected: user unknown"
	e := newMailEnv(t, "smtp://"+mx.addr)
	rep, err := SendOffers(context.Background(), e.db, OfferSendRequest{ContactIDs: []string{"K-SUB"}, OfferKey: "reorder"})
	if err != nil || len(rep.Eligible) != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
	e.runJobs(t)
	status, _, lastErr := e.jobResult(t, rep.Eligible[0].JobID)
	if status != store.JobFailed || !strings.Contains(lastErr, "550") || !strings.Contains(lastErr, "5.1.1") || !strings.Contains(lastErr, "user unknown") ||
		strings.Contains(lastErr, "alice") {
		t.Fatalf("job %s, error %q", status, lastErr)
	}
	if strings.Contains(e.logs.String(), "alice@") {
		t.Fatal("the log holds the recipient's address")
	}
}
