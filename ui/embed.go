// Package ui holds the HTML templates and static assets of the pages the server renders,
// embedded so the binary needs nothing on disk but its database.
package ui

import "embed"

// FS holds templates/ and static/.
//
//go:embed templates static
var FS embed.FS
