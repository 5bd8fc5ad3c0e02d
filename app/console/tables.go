package console

import (
	"net/url"
	"strconv"
)

// Sortable, paged admin tables. A list page declares its sort keys (whitelisted; the store maps
// each to its SQL), reads ?sort=&dir=&page= with tableState, and its template draws each header
// with the "sortth" partial. Every link keeps the page's filters, so any view is a shareable URL.

// tableState is the sort and page of one list, parsed from its URL.
type tableState struct {
	Path  string
	Query url.Values // the request's query, filters included
	Key   string     // a whitelisted sort key
	Desc  bool
	Page  int // from 1
	// Size is the number of rows per page.
	Size int
	// More is set by the handler when a row exists after this page.
	More bool
}

// sortKey is one sortable column: its key and whether it sorts descending first (dates,
// amounts and scores: staff want the largest or newest first).
type sortKey struct {
	Key       string
	DescFirst bool
}

// parseTable reads sort, dir and page from q. An unknown sort key falls back to the default
// (never reaching SQL); an unreadable page is page 1.
func parseTable(path string, q url.Values, keys []sortKey, def string, size int) tableState {
	t := tableState{Path: path, Query: q, Key: def, Page: 1, Size: size}
	for _, k := range keys {
		if k.Key == def {
			t.Desc = k.DescFirst
		}
	}
	for _, k := range keys {
		if k.Key == q.Get("sort") {
			t.Key, t.Desc = k.Key, k.DescFirst
		}
	}
	switch q.Get("dir") {
	case "asc":
		t.Desc = false
	case "desc":
		t.Desc = true
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n <= 1_000_000 {
		t.Page = n
	}
	return t
}

// Offset is the number of rows before this page.
func (t tableState) Offset() int { return (t.Page - 1) * t.Size }

// Dir is "asc" or "desc".
func (t tableState) Dir() string {
	if t.Desc {
		return "desc"
	}
	return "asc"
}

func (t tableState) url(set map[string]string) string {
	q := url.Values{}
	for k, v := range t.Query {
		q[k] = v
	}
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return t.Path
	}
	return t.Path + "?" + q.Encode()
}

// PrevURL and NextURL page through the list in the same order with the same filters.
func (t tableState) PrevURL() string {
	if t.Page <= 1 {
		return ""
	}
	page := ""
	if t.Page > 2 {
		page = strconv.Itoa(t.Page - 1)
	}
	return t.url(t.keep(page))
}

// keep is the query change of a page link: the page, and the sort when the table has one.
func (t tableState) keep(page string) map[string]string {
	set := map[string]string{"page": page}
	if t.Key != "" {
		set["sort"], set["dir"] = t.Key, t.Dir()
	}
	return set
}

func (t tableState) NextURL() string {
	if !t.More {
		return ""
	}
	return t.url(t.keep(strconv.Itoa(t.Page + 1)))
}

// sortHeader is what the "sortth" partial draws: a <th scope="col"> with a link that sorts by
// the column (or flips its direction), and aria-sort on the column the table is sorted by.
type sortHeader struct {
	Label    string
	URL      string
	AriaSort string // "ascending", "descending" or "" when not sorted by this column
	Num      bool
}

// Col is the header of the column key; numeric columns are right-aligned.
func (t tableState) Col(key, label string, num bool) sortHeader {
	h := sortHeader{Label: label, Num: num}
	dir := ""
	if key == t.Key {
		h.AriaSort = "ascending"
		dir = "desc"
		if t.Desc {
			h.AriaSort, dir = "descending", "asc"
		}
	}
	// A new sort starts on page 1; its direction is the column's own first one unless flipped.
	h.URL = t.url(map[string]string{"sort": key, "dir": dir, "page": ""})
	return h
}
