package zohobooks

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket shared by all calls of a Client. It starts full
// with a small burst and refills at a rate chosen so that no window of one
// period holds more than limit requests: burst + sustained <= limit - 1, the
// spare request absorbing timer jitter.
type limiter struct {
	interval time.Duration // time to earn one token
	burst    float64

	mu     sync.Mutex
	tokens float64 // negative while callers hold reservations
	last   time.Time
}

func newLimiter(limit int, period time.Duration) *limiter {
	burst := min(3, max(1, limit/20))
	sustained := max(1, limit-burst-1)
	return &limiter{
		interval: period / time.Duration(sustained),
		burst:    float64(burst),
		tokens:   float64(burst),
		last:     time.Now(),
	}
}

// Wait blocks until the caller may send one request or ctx is done.
func (l *limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.last))/float64(l.interval))
	l.last = now
	l.tokens--
	wait := time.Duration(-l.tokens * float64(l.interval))
	l.mu.Unlock()
	if wait <= 0 {
		return nil
	}

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Give the reservation back; later waiters keep their (now
		// slightly pessimistic) slots.
		l.mu.Lock()
		l.tokens++
		l.mu.Unlock()
		return ctx.Err()
	}
}
