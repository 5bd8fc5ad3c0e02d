package app

import (
	"sync"
	"time"
)

// Checkout creation is rate-limited for anonymous callers (offer pages): each checkout asks
// Stripe for a session, and against live Stripe a flood would spend the account's API rate
// limit. Two sliding windows must both have room: one per client address
// (CHECKOUT_RATE_PER_ADDRESS a minute) and one per company (CHECKOUT_RATE_PER_COMPANY an
// hour). Counts live in memory: a restart forgets them, which costs an attacker at most one
// more window. Staff and the API token are not limited.

const (
	checkoutAddressWindow = time.Minute
	checkoutCompanyWindow = time.Hour
	// checkoutLimiterKeys bounds the keys remembered; beyond it, idle keys are dropped.
	checkoutLimiterKeys = 20000
)

// rateWindow is one sliding-window limit: at most limit events per window per key.
type rateWindow struct {
	limit  int
	window time.Duration
	hits   map[string][]time.Time
}

// recent drops hits older than the window and returns the rest.
func (w *rateWindow) recent(key string, now time.Time) []time.Time {
	hits := w.hits[key]
	i := 0
	for i < len(hits) && now.Sub(hits[i]) >= w.window {
		i++
	}
	hits = hits[i:]
	if len(hits) == 0 {
		delete(w.hits, key)
		return nil
	}
	w.hits[key] = hits
	return hits
}

// wait is how long key must wait before one more event fits, or 0.
func (w *rateWindow) wait(key string, now time.Time) time.Duration {
	hits := w.recent(key, now)
	if len(hits) < w.limit {
		return 0
	}
	return hits[len(hits)-w.limit].Add(w.window).Sub(now)
}

func (w *rateWindow) add(key string, now time.Time) {
	w.hits[key] = append(w.recent(key, now), now)
	if len(w.hits) > checkoutLimiterKeys {
		for k := range w.hits {
			w.recent(k, now)
		}
	}
}

// checkoutLimiter holds the per-address and per-company windows.
type checkoutLimiter struct {
	mu               sync.Mutex
	address, company rateWindow
	now              func() time.Time
}

func newCheckoutLimiter(perAddress, perCompany int, now func() time.Time) *checkoutLimiter {
	return &checkoutLimiter{now: now,
		address: rateWindow{limit: perAddress, window: checkoutAddressWindow, hits: map[string][]time.Time{}},
		company: rateWindow{limit: perCompany, window: checkoutCompanyWindow, hits: map[string][]time.Time{}}}
}

// take reserves one checkout for the address and the company when both windows have room and
// returns 0; otherwise it reserves nothing and returns how long to wait. A reservation is kept
// whatever the checkout's outcome, so failing attempts count too.
func (l *checkoutLimiter) take(address, company string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if w := max(l.address.wait(address, now), l.company.wait(company, now)); w > 0 {
		return w
	}
	l.address.add(address, now)
	l.company.add(company, now)
	return 0
}

// retryAfterSeconds rounds a wait up to whole seconds (at least 1) for Retry-After.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
