package app

import (
	"context"
	"maps"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/technifold/technifold/app/web"
	"github.com/technifold/technifold/store"
)

// errBusy answers a sign-in that waited too long for a password-verification slot.
var errBusy = store.Errorf(store.EUNAVAILABLE, "the server is busy checking sign-ins; try again in a few seconds")

// Guessing a secret — a password on the sign-in form, the ADMIN_API_TOKEN, the CRON_SECRET — is
// throttled by sliding windows of attempts per key (address, account, device). An attempt takes
// its slot BEFORE the secret is checked, so a parallel burst cannot pass the check together: at
// most limit checks per key per window fail, whatever the concurrency; a success gives its slot
// back. Counts live in memory, so a throttled request costs no durable write; a restart forgets
// them, which bounds a lock-out and costs an attacker at most one more window.

const (
	guessWindow = 15 * time.Minute
	// signInsPerAddress bounds failed sign-ins from one address, whatever the accounts.
	signInsPerAddress = 20
	// signInsPerAccount bounds failed sign-ins to one account from browsers without its device
	// cookie; each browser that holds one has the same allowance of its own.
	signInsPerAccount = 5
	// tokenGuessesPerAddress bounds wrong bearer tokens and cron secrets from one address.
	tokenGuessesPerAddress = 20
	// verifyQueueWait is how long a sign-in waits for a free password-verification slot.
	verifyQueueWait = 10 * time.Second
)

// attemptLimit is one window an attempt must find room in.
type attemptLimit struct {
	key   string
	limit int
}

// guessThrottle holds the windows. It is safe for concurrent use.
type guessThrottle struct {
	mu       sync.Mutex
	window   time.Duration
	attempts map[string][]time.Time // slots taken per key, oldest first
	refused  map[string]int64       // attempts refused, by window kind (the key before ':')
}

func newGuessThrottle(window time.Duration) *guessThrottle {
	return &guessThrottle{window: window, attempts: map[string][]time.Time{}, refused: map[string]int64{}}
}

// attempt is a reservation: slots taken in one or more windows at one instant.
type attempt struct {
	t    *guessThrottle
	keys []string
	at   time.Time
}

// reserve takes one slot in every window, or none: when any window is full it returns nil and
// how long until that window frees a slot.
func (t *guessThrottle) reserve(now time.Time, limits ...attemptLimit) (*attempt, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	full, wait := false, time.Duration(0)
	for _, l := range limits {
		if taken := t.recent(l.key, now); len(taken) >= l.limit {
			full = true
			wait = max(wait, taken[len(taken)-l.limit].Add(t.window).Sub(now))
			kind, _, _ := strings.Cut(l.key, ":")
			t.refused[kind]++
		}
	}
	if full {
		return nil, max(wait, time.Second)
	}
	a := &attempt{t: t, at: now}
	for _, l := range limits {
		t.attempts[l.key] = append(t.attempts[l.key], now)
		a.keys = append(a.keys, l.key)
	}
	if len(t.attempts) > 10000 { // bound memory under a spray of addresses
		for key := range t.attempts {
			t.recent(key, now)
		}
	}
	return a, 0
}

// release gives the attempt's slots back: the secret was right, or it was never checked.
func (a *attempt) release() {
	if a == nil {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, key := range a.keys {
		taken := a.t.attempts[key]
		for i := len(taken) - 1; i >= 0; i-- {
			if taken[i].Equal(a.at) {
				taken = append(taken[:i], taken[i+1:]...)
				break
			}
		}
		if len(taken) == 0 {
			delete(a.t.attempts, key)
		} else {
			a.t.attempts[key] = taken
		}
	}
	a.keys = nil
}

// forget clears a key's window (a device that just signed in starts afresh).
func (t *guessThrottle) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.attempts, key)
}

// recent drops slots older than the window and returns the rest. Callers hold mu.
func (t *guessThrottle) recent(key string, now time.Time) []time.Time {
	taken := t.attempts[key]
	i := 0
	for i < len(taken) && now.Sub(taken[i]) >= t.window {
		i++
	}
	taken = taken[i:]
	if len(taken) == 0 {
		delete(t.attempts, key)
		return nil
	}
	t.attempts[key] = taken
	return taken
}

// refusals returns the number of refused attempts by window kind.
func (t *guessThrottle) refusals() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.refused)
}

// authCollector exposes the throttle's refusals and the password verifications on /metrics.
type authCollector struct {
	throttle          *guessThrottle
	refused, verified *prometheus.Desc
}

func newAuthCollector(t *guessThrottle) *authCollector {
	return &authCollector{throttle: t,
		refused: prometheus.NewDesc("technifold_auth_throttled_total",
			"Attempts to guess a password or secret refused with 429, by the window that was full.", []string{"window"}, nil),
		verified: prometheus.NewDesc("technifold_password_verifications_total",
			"Password hash comparisons made by sign-ins.", nil, nil)}
}

func (c *authCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.refused
	ch <- c.verified
}

func (c *authCollector) Collect(ch chan<- prometheus.Metric) {
	for window, n := range c.throttle.refusals() {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n), window)
	}
	ch <- prometheus.MustNewConstMetric(c.verified, prometheus.CounterValue, float64(passwordVerifications.checks.Load()))
}

// setRetryAfter sets the Retry-After header (whole seconds, rounded up).
func setRetryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}

// passwordVerifier runs password hash comparisons under a process-wide limit sized to the
// cores, so a burst of sign-ins queues instead of starving every other request of CPU.
type passwordVerifier struct {
	slots chan struct{}
	// checks counts comparisons made (the dummy one for unknown e-mails included); tests and
	// the report of a burst read it.
	checks atomic.Int64
}

// passwordVerifications is the process-wide verifier every sign-in goes through.
var passwordVerifications = newPasswordVerifier()

func newPasswordVerifier() *passwordVerifier {
	return &passwordVerifier{slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
}

// verify runs compare once a slot is free; it gives up when ctx ends or after verifyQueueWait.
func (v *passwordVerifier) verify(ctx context.Context, compare func() bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, verifyQueueWait)
	defer cancel()
	select {
	case v.slots <- struct{}{}:
	case <-ctx.Done():
		return false, errBusy
	}
	defer func() { <-v.slots }()
	v.checks.Add(1)
	return compare(), nil
}

// checkGuessedSecret compares a caller's secret with want under the per-address throttle: past
// the limit it answers 429 with Retry-After without comparing; a wrong secret keeps its slot and
// gets 401; a right one gives the slot back and returns true.
func (s *Server) checkGuessedSecret(w http.ResponseWriter, r *http.Request, kind, got, want, wrong string) bool {
	att, wait := s.guesses.reserve(s.db.Now(),
		attemptLimit{key: kind + "-address:" + s.clientIP(r), limit: tokenGuessesPerAddress})
	if att == nil {
		setRetryAfter(w, wait)
		writeErrorMessage(w, http.StatusTooManyRequests, "too many wrong secrets from this address; retry later")
		return false
	}
	if want == "" || got == "" || !web.SecretEqual(got, want) {
		writeErrorMessage(w, http.StatusUnauthorized, wrong)
		return false
	}
	att.release()
	return true
}

// guardCronSecret puts POST /api/outbox/run's secret check under the same throttle; with no
// CRON_SECRET configured the handler answers 503 itself.
func (s *Server) guardCronSecret(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.CronSecret != "" && !s.checkGuessedSecret(w, r, "cron-secret", cronSecretFrom(r), s.cfg.CronSecret, "unauthorized") {
			return
		}
		h.ServeHTTP(w, r)
	})
}

// signInLimits are the windows a sign-in attempt must find room in: its address's, and the
// account's anonymous allowance or, from a browser with the account's device cookie, that
// device's own.
func signInLimits(email, ip, device string) []attemptLimit {
	email = strings.ToLower(strings.TrimSpace(email))
	account := attemptLimit{key: "signin-account:" + email, limit: signInsPerAccount}
	if device != "" {
		account.key = "signin-device:" + email + "\x00" + device
	}
	return []attemptLimit{{key: "signin-address:" + ip, limit: signInsPerAddress}, account}
}
