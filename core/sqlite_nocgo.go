//go:build !cgo

package core

import (
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
)

// openSQLite reports that this build has no SQLite: it was built without
// cgo (CGO_ENABLED=0), which the rest of core does not need.
func openSQLite(string, []byte, *logging.Logger) (store.Store, error) {
	return nil, errs.Invalid("store.type", `"sqlite" needs a library built with cgo (CGO_ENABLED=1); `+
		`use "memory" or "callback", or hand your own store to core.WithStore`)
}
