package core

import (
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// decodeConfig decodes the host's config JSON with the one strict decoder
// requests and credentials use too: every error names the key as the host
// wrote it, with its section ("timeouts.bogus_ms"), says which JSON type was
// expected in the host's terms, refuses text that is not UTF-8, and never
// repeats a value (a secret typed into the wrong key must not come back in
// an error or a log).
func decodeConfig(b []byte, c *Config) error {
	return strictjson.Decode(b, c, "config")
}
