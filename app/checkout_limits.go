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
)

// checkoutLimiter holds the per-address and per-company windows: the sign-in throttle's
// sliding windows (auth_throttle.go), one per window length, reserved together under mu.
type checkoutLimiter struct {
	mu               sync.Mutex
	address, company *guessThrottle
	perAddress       int
	perCompany       int
	now              func() time.Time
}

func newCheckoutLimiter(perAddress, perCompany int, now func() time.Time) *checkoutLimiter {
	return &checkoutLimiter{now: now, perAddress: perAddress, perCompany: perCompany,
		address: newGuessThrottle(checkoutAddressWindow), company: newGuessThrottle(checkoutCompanyWindow)}
}

// take reserves one checkout for the address and the company when both windows have room and
// returns 0; otherwise it reserves nothing and returns how long to wait. A reservation is kept
// whatever the checkout's outcome, so failing attempts count too.
func (l *checkoutLimiter) take(address, company string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	byAddress, wait := l.address.reserve(now, attemptLimit{key: "checkout-address:" + address, limit: l.perAddress})
	if byAddress == nil {
		return wait
	}
	if byCompany, wait := l.company.reserve(now, attemptLimit{key: "checkout-company:" + company, limit: l.perCompany}); byCompany == nil {
		byAddress.release()
		return wait
	}
	return 0
}

// retryAfterSeconds rounds a wait up to whole seconds (at least 1) for Retry-After.
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
