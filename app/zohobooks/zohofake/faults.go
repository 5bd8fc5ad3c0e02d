package zohofake

import (
	"net/http"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to the call it matches.
type FaultKind int

const (
	// FaultInternalError answers HTTP 500 {"code":1,"message":"Internal error"}.
	FaultInternalError FaultKind = iota + 1
	// FaultRateLimit answers HTTP 429 with Fault.Code (44 by default, or
	// 45 or 1070) and a Retry-After header when Fault.RetryAfter is set.
	FaultRateLimit
	// FaultUnauthorized answers HTTP 401 with code 57, whatever the token.
	FaultUnauthorized
	// FaultTimeout holds the call for Fault.Delay (default one minute) or
	// until the client gives up, then handles it normally.
	FaultTimeout
	// FaultCommitThenDrop handles the call — a create is committed — then
	// closes the connection without a response.
	FaultCommitThenDrop
)

// Fault matches Books calls by method and path prefix and breaks one of
// them (or, with Repeat, every one from the Nth on).
type Fault struct {
	Kind FaultKind
	// Method matches the HTTP method; empty matches any.
	Method string
	// Path is a prefix of the path under /books/v3, e.g. "/invoices"
	// (which also matches "/invoices/123/status/sent"). Empty matches all.
	Path string
	// Nth fires on the Nth matching call after injection (default 1).
	Nth int
	// Repeat keeps firing on every matching call from the Nth on.
	Repeat bool

	Code       int           // FaultRateLimit: 44, 45 or 1070
	RetryAfter time.Duration // FaultRateLimit: Retry-After header
	Delay      time.Duration // FaultTimeout
}

type faultState struct {
	Fault
	seen int
	done bool
}

// InjectFault adds a fault. Faults are checked in injection order after
// the auth and organisation checks; the first that fires wins.
func (s *Server) InjectFault(f Fault) {
	f.Path = strings.TrimPrefix(f.Path, booksPrefix)
	if f.Nth < 1 {
		f.Nth = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// FaultsFired counts the faults that fired.
func (s *Server) FaultsFired() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faultsFired
}

// fireFault returns the fault that fires on this call, if any.
func (s *Server) fireFault(method, rel string) *Fault {
	for _, f := range s.faults {
		if f.done || (f.Method != "" && !strings.EqualFold(f.Method, method)) || !strings.HasPrefix(rel, f.Path) {
			continue
		}
		f.seen++
		if f.seen < f.Nth {
			continue
		}
		if !f.Repeat {
			f.done = true
		}
		s.faultsFired++
		fault := f.Fault
		return &fault
	}
	return nil
}

// result is the answer of the faults that answer at once.
func (f *Fault) result() result {
	switch f.Kind {
	case FaultRateLimit:
		code := f.Code
		if code == 0 {
			code = CodeRateLimited
		}
		msg := "You have made too many requests continuously. Please try again after some time."
		switch code {
		case CodeDailyLimit:
			msg = "You have reached the maximum number of API calls allowed per day for your organization."
		case CodeTooManyInFlight:
			msg = "You have exceeded the maximum number of concurrent requests allowed. Please try again later."
		}
		res := fail(http.StatusTooManyRequests, code, "%s", msg)
		res.retryAfter = f.RetryAfter
		return res
	case FaultUnauthorized:
		return fail(http.StatusUnauthorized, CodeNotAuthorized, "You are not authorized to perform this operation")
	}
	return fail(http.StatusInternalServerError, CodeInternalError, "Internal error")
}
