package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The companies list sorted by an aggregate (last activity, last purchase, 12-month revenue,
// engagement score) must rank all companies to show one page: at production scale (10,000
// companies, 1,000,000 events, 300,000 sales lines) that is 0.1–1 s of work, too slow for every
// page view. The ranking of all companies per (key, direction) is kept in memory for
// rankTTL and refreshed in the background once stale, so a page is a slice of it. The
// values shown in each row are always computed live for the page; only the order may be up to
// rankTTL old. A search (?q=) narrows the set enough to rank it live instead. This costs the
// write path nothing, which a summary table maintained on every event would not.

// rankTTL is how long a ranking is served before a refresh starts.
const rankTTL = time.Minute

// rankedKeys are the companies list's sort keys computed from other tables.
var rankedKeys = map[string]bool{"last_activity": true, "last_purchase": true, "revenue_12m": true, "score": true}

type companyRanking struct {
	ids        []string
	at         time.Time
	refreshing bool
}

type companyRanks struct {
	mu sync.Mutex
	m  map[string]*companyRanking // by key + " " + direction
}

// companyPage returns the ids of one page of companies in the order of key.
func (db *DB) companyPage(ctx context.Context, key, expr string, desc bool, w where, limit, offset int) ([]string, error) {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	// Companies without a value sort last either way; company_id breaks ties so pages are stable.
	// Name and id are never NULL: without the IS NULL term their indexes serve the order.
	order := ` ORDER BY (` + expr + `) IS NULL, ` + expr + dir + `, c.company_id`
	if key == "name" || key == "id" {
		order = ` ORDER BY ` + expr + dir + `, c.company_id`
	}
	if !rankedKeys[key] || len(w.conds) > 0 {
		return db.companyIDs(ctx, `SELECT c.company_id FROM companies c`+w.sql()+order+` LIMIT ? OFFSET ?`,
			append(w.args, limit, offset)...)
	}
	ids, err := db.ranks.get(ctx, key+dir, func(ctx context.Context) ([]string, error) {
		return db.companyIDs(ctx, `SELECT c.company_id FROM companies c`+order)
	})
	if err != nil {
		return nil, err
	}
	if offset >= len(ids) {
		return nil, nil
	}
	return ids[offset:min(len(ids), offset+limit)], nil
}

func (db *DB) companyIDs(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("rank companies: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// get returns the cached ranking of name, computing it now when there is none and in the
// background when it is stale (one refresh at a time per ranking).
func (r *companyRanks) get(ctx context.Context, name string, compute func(context.Context) ([]string, error)) ([]string, error) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]*companyRanking{}
	}
	cur := r.m[name]
	if cur != nil && (time.Since(cur.at) < rankTTL || cur.refreshing) {
		ids := cur.ids
		r.mu.Unlock()
		return ids, nil
	}
	if cur != nil { // stale: serve it, refresh behind
		cur.refreshing = true
		ids := cur.ids
		r.mu.Unlock()
		go func() {
			fresh, err := compute(context.Background())
			r.mu.Lock()
			defer r.mu.Unlock()
			cur.refreshing = false
			if err == nil {
				r.m[name] = &companyRanking{ids: fresh, at: time.Now()}
			}
		}()
		return ids, nil
	}
	r.mu.Unlock()
	ids, err := compute(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.m[name] = &companyRanking{ids: ids, at: time.Now()}
	r.mu.Unlock()
	return ids, nil
}
