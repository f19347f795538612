// Package migrations holds the SQL schema as goose migrations, embedded in the
// binary so every replica migrates itself on start.
package migrations

import "embed"

// FS holds the numbered *.sql migrations.
//
//go:embed *.sql
var FS embed.FS
