package store

// Server-side sorting of the admin lists. Each list declares its sort keys and their SQL here,
// next to its query; a key from a URL only selects one of these expressions, so no input ever
// reaches an ORDER BY. Ties are broken by the list's unique key in the same direction, so every
// page of a sorted list is stable.

// ListSort is a sort key, a direction and an offset for a list.
type ListSort struct {
	Key    string // "" is the list's default
	Desc   bool
	Offset int // rows skipped (page-number paging of a sorted list)
}

// orderBy builds the ORDER BY clause of s from the list's keys; unknown keys are EINVALID.
func (s ListSort) orderBy(keys map[string]string, def, tiebreak string) (string, error) {
	key := s.Key
	if key == "" {
		key = def
	}
	expr, ok := keys[key]
	if !ok {
		return "", Errorf(EINVALID, "unknown sort key %q", key)
	}
	dir := " ASC"
	if s.Desc {
		dir = " DESC"
	}
	if expr == tiebreak {
		return " ORDER BY " + expr + dir, nil
	}
	// Rows without a value sort last in either direction.
	return " ORDER BY (" + expr + ") IS NULL, " + expr + dir + ", " + tiebreak + dir, nil
}

// OrderSortKeys are the orders list's sortable columns.
var OrderSortKeys = map[string]string{
	"created":  "o.created_at",
	"paid_at":  "o.paid_at",
	"total":    "o.total_amount",
	"status":   "o.status",
	"customer": "c.company_name COLLATE NOCASE",
	"order":    "o.order_id",
}

// JobSortKeys are the outbox list's sortable columns.
var JobSortKeys = map[string]string{
	"id":        "id",
	"type":      "job_type",
	"status":    "status",
	"attempts":  "attempts",
	"scheduled": "scheduled_for",
	"updated":   "updated_at",
}

// DeliverySortKeys are the webhook deliveries list's sortable columns.
var DeliverySortKeys = map[string]string{
	"id":       "id",
	"provider": "provider",
	"type":     "event_type",
	"status":   "status",
	"received": "COALESCE(last_received_at, received_at)",
	"attempts": "attempts",
}

// AuditSortKeys are the audit log's sortable columns.
var AuditSortKeys = map[string]string{
	"id":     "id",
	"actor":  "actor",
	"action": "action",
	"target": "target",
}
