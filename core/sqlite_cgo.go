//go:build cgo

package core

import (
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
	"github.com/libsecucard/libsecucard/core/store/sqlite"
)

// openSQLite opens the sealed SQLite token store (store.type "sqlite").
// SQLite needs cgo, so this file is the only way core reaches it: without
// cgo, sqlite_nocgo.go takes its place and core still builds (DESIGN §1).
func openSQLite(path string, key []byte, log *logging.Logger) (store.Store, error) {
	return sqlite.OpenSealed(path, key, log)
}
