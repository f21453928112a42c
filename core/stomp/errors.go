package stomp

import (
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// Replies are read by call.Decode, the same reading REST answers get (spec
// §3.7: the error body is one shape), so a call fails with the same Kind,
// error name, details, user message, code and support id, and is repeated
// or not by the same rule, whichever channel carried it.

// sendRefused maps an ERROR frame that names a SEND's receipt: the broker
// refused the request itself (unknown destination, user-id mismatch, ...).
// That is a configuration or protocol problem; nothing reached the server.
func sendRefused(op string, f *frame.Frame) *errs.Error {
	return errs.New(errs.Network, op, "the broker refused the request with ERROR %q%s",
		f.Header.Get(frame.Message), api.Excerpt(f.Body))
}
