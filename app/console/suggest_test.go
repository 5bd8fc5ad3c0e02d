package console

import (
	"context"
	"testing"
	"time"
)

func TestSuggestionCacheServesStaleWhileRefreshing(t *testing.T) {
	e := newTestEnv(t, &fakeServices{})
	clock := e.clock
	// Three companies that bought twice, long ago: each has suggestions.
	for _, id := range []string{"A", "B", "C"} {
		e.exec(`INSERT INTO companies (company_id, company_name) VALUES (?1, 'Company ' || ?1)`, id)
		e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
			VALUES (?1, 'X', 1, 100000, 'gbp', '2019-01-01', 'S1' || ?1), (?1, 'X', 1, 100000, 'gbp', '2019-06-01', 'S2' || ?1)`, id)
	}
	c := newSuggestionCache(e.db)
	ctx := context.Background()
	first, at, err := c.get(ctx, false)
	if err != nil || len(first) == 0 {
		t.Fatalf("first get: %d %v", len(first), err)
	}
	e.exec(`DELETE FROM sales`)
	again, at2, _ := c.get(ctx, false)
	if len(again) != len(first) || !at2.Equal(at) {
		t.Fatal("a fresh result within the TTL must come from the cache")
	}
	clock.Advance(suggestionsTTL + time.Second)
	stale, _, _ := c.get(ctx, false)
	c.mu.Lock()
	refreshing := c.loading
	c.mu.Unlock()
	if len(stale) != len(first) || refreshing == nil {
		t.Fatalf("past the TTL: %d suggestions, refreshing %v; want the stale ones while a refresh runs", len(stale), refreshing != nil)
	}
	<-refreshing
	if now, _, _ := c.get(ctx, false); len(now) != 0 {
		t.Fatalf("after the refresh: %d suggestions, want none (all sales deleted)", len(now))
	}
	e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
		SELECT company_id, 'X', 1, 100000, 'gbp', '2020-01-01', 'I1' || company_id FROM companies LIMIT 1`)
	e.exec(`INSERT INTO sales (company_id, product_code, quantity, unit_amount, currency, txn_date, invoice_number)
		SELECT company_id, 'X', 1, 100000, 'gbp', '2021-01-01', 'I2' || company_id FROM companies LIMIT 1`)
	if fresh, _, _ := c.get(ctx, true); len(fresh) == 0 {
		t.Fatal("fresh=true must recompute at once")
	}
	page, more := suggestionQuery{Limit: 2}.pick(first)
	if len(page) != 2 || !more {
		t.Fatalf("pick: %d %v", len(page), more)
	}
	page, more = suggestionQuery{CompanyID: first[0].CompanyID, Limit: 50}.pick(first)
	if len(page) == 0 || more || page[0].CompanyID != first[0].CompanyID {
		t.Fatalf("pick by company: %+v", page)
	}
}
