// Package migrations holds qrpay's schema as numbered, forward-only SQL files per dialect
// (postgres/ and sqlite/), embedded in the binary. store applies them with goose; a file that has
// shipped is never edited: a change is a new file.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migration files of a dialect ("postgres" or "sqlite").
func FS(dialect string) (fs.FS, error) {
	return fs.Sub(files, dialect)
}
