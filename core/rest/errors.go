package rest

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

// envelope is the secucard error body (spec §3.7). OAuth-style bodies
// ({error, error_description}) parse too, as they do in the Java SDK.
type envelope struct {
	Status           string          `json:"status"`
	Error            string          `json:"error"`
	ErrorDetails     string          `json:"error_details"`
	ErrorUser        string          `json:"error_user"`
	ErrorDescription string          `json:"error_description"`
	Code             json.RawMessage `json:"code"` // string or number on the wire
	SupportID        string          `json:"supportId"`
}

// parseEnvelope returns the envelope when body is a JSON object naming an
// error; ok is false for anything else (HTML error pages, empty bodies).
func parseEnvelope(body []byte) (envelope, bool) {
	var env envelope
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return env, false
	}
	// Fields of unexpected types (a numeric supportId, say) must not hide the
	// rest of the envelope, so decode leniently field by field.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return env, false
	}
	env.Status = jsonText(m["status"])
	env.Error = jsonText(m["error"])
	env.ErrorDetails = jsonText(m["error_details"])
	env.ErrorUser = jsonText(m["error_user"])
	env.ErrorDescription = jsonText(m["error_description"])
	env.Code = m["code"]
	env.SupportID = jsonText(m["supportId"])
	if env.SupportID == "" {
		env.SupportID = jsonText(m["support_id"])
	}
	ok := env.Error != "" || env.ErrorDetails != "" || strings.EqualFold(env.Status, "error")
	return env, ok
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

// apiError maps a non-2xx answer to *errs.Error (spec §3.7). The HTTP
// statuses the real server uses for API errors are unknown (no SDK lists
// them), so the envelope, not the status, supplies the meaning.
func apiError(op string, status int, body []byte) *errs.Error {
	env, ok := parseEnvelope(body)
	if !ok {
		e := errs.New(errs.API, op, "the API answered HTTP %d %s without an error body%s",
			status, http.StatusText(status), excerpt(body))
		e.Status = status
		return e
	}
	return envelopeError(errs.API, op, status, env)
}

// envelopeError fills an error of kind from a parsed envelope.
func envelopeError(kind errs.Kind, op string, status int, env envelope) *errs.Error {
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
		msg = fmt.Sprintf("the API answered HTTP %d with %s", status, name)
	}
	e := errs.New(kind, op, "%s", msg)
	e.Status = status
	e.ErrorName = env.Error
	e.Details = redact.String(details)
	e.UserMessage = redact.String(env.ErrorUser)
	e.Code = redact.String(jsonText(env.Code))
	e.SupportID = env.SupportID
	return e
}

// excerpt is a short, single-line, redacted piece of a body for messages, so
// a proxy's error page is recognisable without dumping it.
func excerpt(body []byte) string {
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
