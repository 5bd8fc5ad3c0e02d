package zohobooks

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/technifold/technifold/app/zohobooks/zohofake"
)

// TestLimiterStaysUnderZohoLimit fires a burst of 150 calls at a fake that
// allows 100 per window. Time is scaled down: the window is one second and
// the client's limiter is built for 100 per second, the same arithmetic as
// 100 per minute.
func TestLimiterStaysUnderZohoLimit(t *testing.T) {
	// Zoho's window is a minute; a 2 s window keeps the test short while leaving scheduling
	// jitter on a busy machine small next to the window.
	f := zohofake.New(t, zohofake.Options{RateLimit: 100, RateWindow: 2 * time.Second})
	c := newClient(t, fakeConfig(f))
	c.limiter = newLimiter(100, 2*time.Second)

	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 10 {
		wg.Go(func() {
			for range 15 {
				if _, err := c.FindItemBySKU(context.Background(), "B1"); err != nil {
					failed.Add(1)
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if f.RateLimited() != 0 || failed.Load() != 0 || len(f.Requests()) != 150 {
		t.Fatalf("429s %d, failures %d, requests %d; want 0, 0, 150", f.RateLimited(), failed.Load(), len(f.Requests()))
	}
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	l := newLimiter(1, time.Hour)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
}

func TestLimiterBudget(t *testing.T) {
	for _, limit := range []int{1, 5, 20, 100, 1000} {
		l := newLimiter(limit, time.Minute)
		// Most requests any one-minute window can see: the burst plus one
		// minute of refill.
		if got := int(l.burst) + int(time.Minute/l.interval); got >= limit && limit > 1 {
			t.Errorf("limit %d: a window may hold %d requests", limit, got)
		}
		if l.burst > 3 {
			t.Errorf("limit %d: burst %v", limit, l.burst)
		}
	}
}

// concurrencyMeter counts requests in flight at the transport.
type concurrencyMeter struct {
	now, max atomic.Int32
}

func (m *concurrencyMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	n := m.now.Add(1)
	defer m.now.Add(-1)
	for {
		old := m.max.Load()
		if n <= old || m.max.CompareAndSwap(old, n) {
			break
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestConcurrencyCap(t *testing.T) {
	f := zohofake.New(t, zohofake.Options{})
	meter := &concurrencyMeter{}
	cfg := fakeConfig(f)
	cfg.HTTPClient = &http.Client{Transport: meter}
	c := newClient(t, cfg)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := c.FindItemBySKU(context.Background(), "B1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := meter.max.Load(); got > DefaultMaxConcurrent {
		t.Fatalf("%d requests in flight, want at most %d", got, DefaultMaxConcurrent)
	}
}
