// Package event owns the one event envelope delivered to hosts and the
// per-client dispatcher that delivers it.
//
// Every source - STOMP pushes, webhook bodies handed in by the host, connection
// state changes, auth progress - becomes an Event and goes through one
// Dispatcher: a bounded queue drained by a single goroutine, so events reach the
// host in order, never from a network reader, and never while a lock is held.
package event

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
	"github.com/libsecucard/libsecucard/core/redact"
)

// Kinds of events.
const (
	KindPush       = "push"       // pushed by secucard (STOMP) or handed in from a webhook
	KindConnection = "connection" // STOMP connection state changed
	KindAuth       = "auth"       // authentication progress (device codes, ok, failed, ...)
	KindDropped    = "dropped"    // the queue overflowed; Count older events were discarded
	KindError      = "error"      // a background failure the host should know about
)

// Connection states.
const (
	Connected    = "connected"
	Disconnected = "disconnected"
	Reconnecting = "reconnecting"
)

// Event is the envelope. Fields are set per kind; empty fields are omitted from
// the JSON, so each kind has the shape documented in include/secucard.h.
type Event struct {
	Kind string `json:"kind"`

	// push
	ID      string          `json:"id,omitempty"`
	Target  string          `json:"target,omitempty"`
	Type    string          `json:"type,omitempty"`
	Created string          `json:"created,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`

	// connection and auth
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Resync marks "connected" after a reconnect: pushes sent while the
	// connection was down are lost (delivery is at most once), so the host
	// should re-read what it watches.
	Resync bool `json:"resync,omitempty"`

	// auth
	Grant           string `json:"grant,omitempty"`
	UserCode        string `json:"user_code,omitempty"`
	VerificationURL string `json:"verification_url,omitempty"`
	ExpiresIn       int    `json:"expires_in,omitempty"`
	Interval        int    `json:"interval,omitempty"`

	// dropped
	Count int `json:"count,omitempty"`

	// auth failures and background errors
	Error *errs.Error `json:"error,omitempty"`
}

// JSON encodes the event for the host.
func (e Event) JSON() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		// Only a Data that is not valid JSON can fail; deliver the event without it
		// rather than losing it.
		e.Data = nil
		b, _ = json.Marshal(e)
	}
	return b
}

// Redacted returns e with every text passed through r, the client's redactor:
// an event is emitted bytes like a log line. Data is redacted as JSON, so it
// stays valid JSON.
func (e Event) Redacted(r *redact.Redactor) Event {
	for _, f := range []*string{&e.ID, &e.Target, &e.Type, &e.Created, &e.State, &e.Reason, &e.Grant, &e.VerificationURL} {
		*f = r.String(*f)
	}
	if len(e.Data) > 0 {
		e.Data = r.JSON(e.Data)
	}
	if e.Error != nil {
		e.Error = errs.Redact(e.Error, r)
	}
	return e
}

// Push event objects as the server sends them: "event.pushs" over STOMP,
// "event.pushes" to webhooks (spec §5.1). Both are accepted from either source.
var pushObjects = map[string]bool{"event.pushs": true, "event.pushes": true}

// ParsePush turns a push body (STOMP MESSAGE without correlation-id, or a
// webhook body) into a push Event. STOMP and webhook input yield identical
// envelopes because both come through here.
func ParsePush(body []byte) (Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return Event{}, errs.Invalid("event", "is empty")
	}
	if body[0] != '{' {
		return Event{}, errs.Invalid("event", "must be a JSON object")
	}
	if err := strictjson.CheckUTF8(body, "event", ""); err != nil {
		return Event{}, err
	}
	var raw struct {
		Object  string          `json:"object"`
		ID      json.RawMessage `json:"id"`
		Created string          `json:"created"`
		Target  string          `json:"target"`
		Type    string          `json:"type"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Event{}, errs.Invalid("event", "is not valid JSON: %s", err.Error())
	}
	if raw.Object != "" && !pushObjects[strings.ToLower(raw.Object)] {
		return Event{}, errs.Invalid("object", `must be "event.pushes" or "event.pushs", got %q`, raw.Object)
	}
	if raw.Target == "" {
		return Event{}, errs.Invalid("target", `is required (the "product.resource" the event is about)`)
	}
	if raw.Type == "" {
		return Event{}, errs.Invalid("type", `is required (e.g. "changed", "display")`)
	}
	e := Event{
		Kind:    KindPush,
		ID:      jsonScalar(raw.ID),
		Created: raw.Created,
		Target:  strings.ToLower(raw.Target),
		Type:    raw.Type,
		Data:    raw.Data,
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("null")
	}
	return e, nil
}

// jsonScalar renders a JSON string or number as text (ids are strings, but a
// tolerant reader accepts numbers).
func jsonScalar(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// Stub is an {object, id} reference as "changed" events carry them.
type Stub struct {
	Object string `json:"object"`
	ID     string `json:"id"`
}

// Stubs returns the {object,id} references of a push event's data when the
// data consists of nothing else (one stub or an array of stubs); ok is false
// when the data holds anything richer, so full objects are never replaced.
func (e Event) Stubs() ([]Stub, bool) {
	d := bytes.TrimSpace(e.Data)
	if len(d) == 0 {
		return nil, false
	}
	var items []json.RawMessage
	switch d[0] {
	case '[':
		if json.Unmarshal(d, &items) != nil || len(items) == 0 {
			return nil, false
		}
	case '{':
		items = []json.RawMessage{d}
	default:
		return nil, false
	}
	out := make([]Stub, 0, len(items))
	for _, it := range items {
		var m map[string]json.RawMessage
		if json.Unmarshal(it, &m) != nil || len(m) != 2 {
			return nil, false
		}
		var s Stub
		if json.Unmarshal(m["object"], &s.Object) != nil || json.Unmarshal(m["id"], &s.ID) != nil || s.Object == "" || s.ID == "" {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// Connection builds a connection-state event.
func Connection(state, reason string) Event {
	return Event{Kind: KindConnection, State: state, Reason: reason}
}

// Reconnected builds the "connected" event after a reconnect, which asks the
// host to resync.
func Reconnected() Event {
	return Event{Kind: KindConnection, State: Connected, Resync: true}
}

// Background builds an error event for a failure no caller is waiting for.
func Background(err error) Event {
	return Event{Kind: KindError, Error: errs.As(err)}
}
