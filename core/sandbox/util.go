package sandbox

import (
	"fmt"
	"strings"

	"github.com/libsecucard/libsecucard/core/product"
)

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// placeholderIDs are id segments that name no stored object (spec §3.1, §9.1).
var placeholderIDs = map[string]bool{"me": true, "null": true, "not_set": true, "notused": true}

func isPlaceholder(id string) bool { return placeholderIDs[strings.ToLower(id)] }

// mustLookup finds a resource the sandbox itself names.
func mustLookup(name string) *product.Resource {
	r, ok := product.Lookup(name)
	if !ok {
		panic("sandbox: resource " + name + " is missing from the catalog")
	}
	return r
}
