package console

import (
	"context"
	"sync"
	"time"

	"github.com/technifold/technifold/store"
)

// suggestionsTTL is how old the suggestions shown may be before a refresh starts. The rules
// count whole days, so a few minutes of staleness changes nothing a person would notice.
const suggestionsTTL = 2 * time.Minute

// suggestionsLoadTimeout bounds one computation of the view.
const suggestionsLoadTimeout = 30 * time.Second

// suggestionCache holds the whole of v_next_best_actions. Computing the view aggregates all
// purchase history (hundreds of milliseconds at 10,000 companies) whatever the filter, so it is
// computed at most once per TTL and pages filter the result in memory. A stale result is
// served while a fresh one is computed in the background; only the first request after start
// (or one asking for fresh results) waits.
type suggestionCache struct {
	db *store.DB

	mu      sync.Mutex
	items   []store.Suggestion
	at      time.Time
	err     error
	loading chan struct{} // closed when the running load ends; nil when none runs
}

func newSuggestionCache(db *store.DB) *suggestionCache { return &suggestionCache{db: db} }

// startLocked begins a load in the background. Callers hold mu.
func (c *suggestionCache) startLocked() chan struct{} {
	done := make(chan struct{})
	c.loading = done
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), suggestionsLoadTimeout)
		defer cancel()
		at := c.db.Now()
		items, err := c.db.AllSuggestions(ctx)
		c.mu.Lock()
		if err == nil {
			c.items, c.at = items, at
		}
		c.err, c.loading = err, nil
		c.mu.Unlock()
		close(done)
	}()
	return done
}

// warm starts a load unless one ran or runs.
func (c *suggestionCache) warm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil && c.loading == nil {
		c.startLocked()
	}
}

// peek returns the suggestions computed so far without waiting (ok is false when there are
// none yet), starting a computation when there are none or they are stale.
func (c *suggestionCache) peek() (items []store.Suggestion, at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loading == nil && (c.items == nil || c.db.Now().Sub(c.at) >= suggestionsTTL) {
		c.startLocked()
	}
	return c.items, c.at, c.items != nil
}

// get returns every suggestion and when they were computed. Without a result yet it waits for
// one; fresh waits for a computation that starts after the call.
func (c *suggestionCache) get(ctx context.Context, fresh bool) ([]store.Suggestion, time.Time, error) {
	c.mu.Lock()
	if c.items != nil && !fresh {
		if c.db.Now().Sub(c.at) >= suggestionsTTL && c.loading == nil {
			c.startLocked()
		}
		items, at := c.items, c.at
		c.mu.Unlock()
		return items, at, nil
	}
	started := false
	for {
		wait := c.loading
		if wait == nil {
			wait, started = c.startLocked(), true
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
		c.mu.Lock()
		// A load that was already running may predate what a fresh caller wants to see.
		if started || !fresh {
			break
		}
	}
	defer c.mu.Unlock()
	if c.err != nil || c.items == nil {
		return nil, time.Time{}, c.err
	}
	return c.items, c.at, nil
}

// suggestionQuery filters and pages the cached suggestions.
type suggestionQuery struct {
	CompanyID  string
	ActionType string
	Offset     int
	Limit      int
}

// pick applies q to all (in view order) and reports whether more follow the page.
func (q suggestionQuery) pick(all []store.Suggestion) (page []store.Suggestion, more bool) {
	page = []store.Suggestion{}
	skipped := 0
	for _, s := range all {
		if (q.CompanyID != "" && s.CompanyID != q.CompanyID) || (q.ActionType != "" && s.ActionType != q.ActionType) {
			continue
		}
		if skipped < q.Offset {
			skipped++
			continue
		}
		if len(page) == q.Limit {
			return page, true
		}
		page = append(page, s)
	}
	return page, false
}
