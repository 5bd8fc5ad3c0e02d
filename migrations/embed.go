// Package migrations holds the schema as ordered NNNN_name.sql files, embedded
// into the binary so it needs nothing on disk but its database.
package migrations

import "embed"

// FS holds every migration file; store.Migrate applies them in lexical order.
//
//go:embed *.sql
var FS embed.FS
