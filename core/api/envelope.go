package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/redact"
)

// Envelope is the secucard error body (spec §3.7). It is the same on REST and
// STOMP, so both channels map it here and a call fails with the same Kind,
// error name, details, user message, code and support id whichever channel
// carried it. OAuth-style bodies ({error, error_description}) parse too, as
// they do in the Java SDK.
type Envelope struct {
	Status           string
	Error            string
	ErrorDetails     string
	ErrorUser        string
	ErrorDescription string
	Code             string // string or number on the wire
	SupportID        string
}

// ParseObject decodes a body that must be a JSON object into its members; ok
// is false for anything else (HTML error pages, empty bodies, arrays).
func ParseObject(body []byte) (map[string]json.RawMessage, bool) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	return m, true
}

// EnvelopeOf reads the envelope members of a decoded object. Members of
// unexpected types (a numeric supportId, say) must not hide the rest, so each
// is read leniently on its own.
func EnvelopeOf(m map[string]json.RawMessage) Envelope {
	env := Envelope{
		Status:           JSONText(m["status"]),
		Error:            JSONText(m["error"]),
		ErrorDetails:     JSONText(m["error_details"]),
		ErrorUser:        JSONText(m["error_user"]),
		ErrorDescription: JSONText(m["error_description"]),
		Code:             JSONText(m["code"]),
		SupportID:        JSONText(m["supportId"]),
	}
	if env.SupportID == "" {
		env.SupportID = JSONText(m["support_id"])
	}
	return env
}

// NamesError reports whether the body names an error at all.
func (env Envelope) NamesError() bool {
	return env.Error != "" || env.ErrorDetails != "" || env.ErrorDescription != "" || strings.EqualFold(env.Status, "error")
}

// IsError reports whether a reply is an error: a status other than "ok", or
// error keys without a status (spec §4.7: Java compares status to "ok").
func (env Envelope) IsError() bool {
	if env.Status != "" {
		return !strings.EqualFold(env.Status, "ok")
	}
	return env.NamesError()
}

// Err builds the typed error. httpStatus is 0 for STOMP, which has none.
func (env Envelope) Err(kind errs.Kind, op string, httpStatus int) *errs.Error {
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
		if httpStatus > 0 {
			msg = fmt.Sprintf("the API answered HTTP %d with %s", httpStatus, name)
		} else {
			msg = fmt.Sprintf("the API answered with %s", name)
		}
	}
	e := errs.New(kind, op, "%s", msg)
	e.Status = httpStatus
	// Every field is the server's text: all of them pass the redactor.
	e.ErrorName = redact.String(env.Error)
	e.Details = redact.String(details)
	e.UserMessage = redact.String(env.ErrorUser)
	e.Code = redact.String(env.Code)
	e.SupportID = redact.String(env.SupportID)
	return e
}

// HTTPError maps a non-2xx answer to *errs.Error (spec §3.7). The HTTP
// statuses the real server uses for API errors are unknown (no SDK lists
// them), so the envelope, not the status, supplies the meaning.
func HTTPError(op string, httpStatus int, body []byte) *errs.Error {
	if m, ok := ParseObject(body); ok {
		if env := EnvelopeOf(m); env.NamesError() {
			return env.Err(errs.API, op, httpStatus)
		}
	}
	e := errs.New(errs.API, op, "the API answered HTTP %d %s without an error body%s",
		httpStatus, http.StatusText(httpStatus), Excerpt(body))
	e.Status = httpStatus
	return e
}

// JSONText renders a JSON scalar as text: strings unquoted, numbers and
// booleans as written, null, objects and arrays as "".
func JSONText(raw json.RawMessage) string {
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

// Excerpt is a short, single-line, redacted piece of a body for messages, so a
// proxy's error page or a broken frame is recognisable without dumping it.
func Excerpt(body []byte) string {
	const max = 120
	s := strings.TrimSpace(string(body))
	if s == "" || !utf8.ValidString(s) {
		return ""
	}
	// Redact before cutting, so a cut cannot leave half a secret unmasked.
	s = redact.String(strings.Join(strings.Fields(s), " "))
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "…"
	}
	return ": " + strconv.Quote(s)
}
