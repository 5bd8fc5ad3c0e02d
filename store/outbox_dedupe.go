package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LatestJobCreatedWithKeyPrefix returns when the newest job whose dedupe key starts with prefix
// was created, and false when there is none. It walks the dedupe key's unique index, so callers
// throttle durably ("at most one such job an hour") by giving their jobs keys that share a
// prefix. The prefix must end in ':' (the range stops before ';', the next byte).
func (tx *Tx) LatestJobCreatedWithKeyPrefix(ctx context.Context, prefix string) (time.Time, bool, error) {
	if prefix == "" || prefix[len(prefix)-1] != ':' {
		return time.Time{}, false, Errorf(EINVALID, "dedupe key prefix must end in ':'")
	}
	end := prefix[:len(prefix)-1] + ";"
	var created sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT max(created_at) FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ?`,
		prefix, end).Scan(&created)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("latest job with key %s…: %w", prefix, translate(err))
	}
	if !created.Valid {
		return time.Time{}, false, nil
	}
	t, err := ParseTime(created.String)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("latest job with key %s…: %w", prefix, err)
	}
	return t, true, nil
}
