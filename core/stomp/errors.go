package stomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/redact"
)

// The reply envelope and its mapping mirror core/rest (spec §3.7: the error
// body is the same on both channels), so a call fails with the same Kind,
// error name, details, user message, code and support id whichever channel
// carried it; a test in this package holds the two side by side. STOMP has
// no HTTP status, so Status stays 0 and API errors are not retryable.

// envelope is the §3.7 error body; OAuth-style {error, error_description}
// parses too.
type envelope struct {
	Status           string
	Error            string
	ErrorDetails     string
	ErrorUser        string
	ErrorDescription string
	Code             json.RawMessage
	SupportID        string
}

// parseReply splits a reply body into its members. ok is false when the body
// is not a JSON object.
func parseReply(body []byte) (map[string]json.RawMessage, bool) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}

func envelopeOf(m map[string]json.RawMessage) envelope {
	env := envelope{
		Status:           jsonText(m["status"]),
		Error:            jsonText(m["error"]),
		ErrorDetails:     jsonText(m["error_details"]),
		ErrorUser:        jsonText(m["error_user"]),
		ErrorDescription: jsonText(m["error_description"]),
		Code:             m["code"],
		SupportID:        jsonText(m["supportId"]),
	}
	if env.SupportID == "" {
		env.SupportID = jsonText(m["support_id"])
	}
	return env
}

// isError reports whether the envelope names an error: a status other than
// ok, or error keys without a status.
func (env envelope) isError() bool {
	if env.Status != "" {
		return !strings.EqualFold(env.Status, "ok")
	}
	return env.Error != "" || env.ErrorDetails != ""
}

// jsonText renders a JSON scalar as text: strings unquoted, numbers and bools
// as written, null and objects as "".
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	case '{', '[', 'n':
		return ""
	}
	return string(raw)
}

// envelopeError fills an API error from an envelope, field for field as
// core/rest does.
func envelopeError(op string, env envelope) *errs.Error {
	details := env.ErrorDetails
	if details == "" {
		details = env.ErrorDescription
	}
	msg := details
	if msg == "" {
		name := env.Error
		if name == "" {
			name = "an error"
		}
		msg = fmt.Sprintf("the API answered with %s", name)
	}
	e := errs.New(errs.API, op, "%s", msg)
	e.ErrorName = env.Error
	e.Details = redact.String(details)
	e.UserMessage = redact.String(env.ErrorUser)
	e.Code = redact.String(jsonText(env.Code))
	e.SupportID = env.SupportID
	e.Retryable = false
	return e
}

// tokenRefused reports an envelope that refuses the token itself. The real
// server's wording for an expired token over STOMP is unknown; the JS SDK
// maps ProductSecurityException to AuthenticationFailedException (spec §3.7),
// and the sandbox answers an expired token with it.
func (env envelope) tokenRefused() bool {
	return strings.EqualFold(env.Error, "ProductSecurityException")
}

// decodeReply turns a reply body into the result JSON (spec §4.7): status ok
// -> data (lists normalized), error keys -> *errs.Error. refused reports a
// token refusal, which the caller answers with one refresh and replay.
func decodeReply(out *outgoing, body []byte) (res json.RawMessage, err *errs.Error, refused bool) {
	m, ok := parseReply(body)
	if !ok {
		e := errs.New(errs.Network, out.op, "unreadable STOMP reply: not a JSON object%s", bodyExcerpt(body))
		e.Retryable = !out.mutating || out.actionID != ""
		return nil, e, false
	}
	env := envelopeOf(m)
	if env.isError() {
		if out.list && strings.EqualFold(env.Error, "ProductNotFoundException") {
			// Java treats this as an empty result for list calls (spec §4.7).
			return json.RawMessage(`{"count":0,"data":[]}`), nil, false
		}
		return nil, envelopeError(out.op, env), env.tokenRefused()
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
		f.Header.Get(frame.Message), bodyExcerpt(f.Body))
	e.Retryable = false
	return e
}
