// Package migrations holds the schema: ordered NNNN_name.sql files (table changes, applied once)
// and views/R__name.sql files (one view each, re-created whenever the file changes), embedded
// into the binary so it needs nothing on disk but its database.
package migrations

import "embed"

// FS holds every migration file; store.Migrate applies the NNNN_*.sql files in lexical order,
// then the views/R__*.sql files whose content changed since they were last applied.
//
//go:embed *.sql views/*.sql
var FS embed.FS
