package stomp

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// The error envelope is mapped by core/api, the same for both channels (spec
// §3.7: the error body is one shape), so a call fails with the same Kind,
// error name, details, user message, code and support id whichever channel
// carried it. STOMP has no HTTP status, so Status stays 0 and API errors are
// not retryable.

// tokenRefused reports an envelope that refuses the token itself. The real
// server's wording for an expired token over STOMP is unknown; the JS SDK
// maps ProductSecurityException to AuthenticationFailedException (spec §3.7),
// and the sandbox answers an expired token with it.
func tokenRefused(env api.Envelope) bool {
	return strings.EqualFold(env.Error, "ProductSecurityException")
}

// decodeReply turns a reply body into the result JSON (spec §4.7): status ok
// -> data (lists normalized), error keys -> *errs.Error. refused reports a
// token refusal, which the caller answers with one refresh and replay.
func decodeReply(out *outgoing, body []byte) (res json.RawMessage, err *errs.Error, refused bool) {
	m, ok := api.ParseObject(body)
	if !ok {
		e := errs.New(errs.Network, out.op, "unreadable STOMP reply: not a JSON object%s", api.Excerpt(body))
		e.Retryable = !out.mutating || out.actionID != ""
		return nil, e, false
	}
	env := api.EnvelopeOf(m)
	if env.IsError() {
		if out.list && strings.EqualFold(env.Error, "ProductNotFoundException") {
			// Java treats this as an empty result for list calls (spec §4.7).
			return json.RawMessage(`{"count":0,"data":[]}`), nil, false
		}
		return nil, env.Err(errs.API, out.op, 0), tokenRefused(env)
	}
	data, hasData := m["data"]
	if env.Status == "" && !hasData {
		// A reply without status and data is not described anywhere; the
		// tolerant reading is that the body is the answer itself.
		data = json.RawMessage(bytes.TrimSpace(body))
	}
	data = bytes.TrimSpace(data)
	if !out.list {
		if len(data) == 0 {
			return json.RawMessage("null"), nil, false
		}
		return data, nil, false
	}
	switch {
	case len(data) == 0 || string(data) == "null":
		return json.RawMessage(`{"count":0,"data":[]}`), nil, false
	case data[0] == '[':
		// Unknown whether lists ever come as a bare array; take it as one
		// page holding everything, as core/rest does.
		var items []json.RawMessage
		_ = json.Unmarshal(data, &items)
		b, _ := json.Marshal(api.Page{Count: len(items), Data: append([]json.RawMessage{}, items...)})
		return b, nil, false
	}
	norm, nerr := api.NormalizeList(data)
	if nerr != nil {
		e := errs.New(errs.Network, out.op, "unreadable STOMP reply: the list is not a JSON object")
		e.Retryable = true
		return nil, e, false
	}
	return norm, nil, false
}

// sendRefused maps an ERROR frame that names a SEND's receipt: the broker
// refused the request itself (unknown destination, user-id mismatch, ...).
// That is a configuration or protocol problem, so it is not retryable.
func sendRefused(op string, f *frame.Frame) *errs.Error {
	e := errs.New(errs.Network, op, "the broker refused the request with ERROR %q%s",
		f.Header.Get(frame.Message), api.Excerpt(f.Body))
	e.Retryable = false
	return e
}
