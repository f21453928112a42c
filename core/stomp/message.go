package stomp

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/product"
)

// outgoing is a request translated to its STOMP form, independent of the
// connection (token) it will be sent on.
type outgoing struct {
	op          string // for errors and logs: "smart.transactions.execute.start"
	routingKey  string // api:exec:smart.transactions.start or app:<action>
	appID       string
	body        []byte
	actionID    string // x-action; "" for none
	list        bool
	mutating    bool
	correlation string
}

// verb maps an operation to its routing-key verb (spec §4.3).
func verb(op api.Op) string {
	switch op {
	case api.Create:
		return "add"
	case api.Update:
		return "update"
	case api.Delete:
		return "delete"
	case api.Execute:
		return "exec"
	}
	return "get" // Get and List
}

// translate builds the STOMP request for req (spec §4.3–4.5). req must be
// valid.
func (c *Channel) translate(req *api.Request) (*outgoing, error) {
	out := &outgoing{op: req.Name(), list: req.Op == api.List, mutating: req.Op.Mutating()}
	var msg struct {
		PID   string          `json:"pid,omitempty"`
		SID   string          `json:"sid,omitempty"`
		Query json.RawMessage `json:"query,omitempty"`
		Data  json.RawMessage `json:"data,omitempty"`
	}
	if req.AppID != "" {
		// Custom app calls: app:<action> with an app-id header (Java
		// AppDestination, JS, iOS).
		if req.Action == "" {
			return nil, errs.Invalid("action", "is required for a custom app call over STOMP (the destination is app:<action>)")
		}
		if req.ID != "" {
			return nil, errs.Invalid("id", "must be empty for a custom app call (app_id is the object)")
		}
		out.routingKey = "app:" + req.Action
		out.appID = req.AppID
		msg.SID = req.Arg
	} else {
		// Lower-case product.resource as the Java SDK sends it; the action in
		// the catalog's spelling (the server matches case-insensitively,
		// spec §9.1).
		key := strings.ToLower(req.Resource)
		if req.Action != "" {
			key += "." + canonicalAction(req.Resource, req.Action)
		}
		out.routingKey = "api:" + verb(req.Op) + ":" + key
		msg.PID = req.ID
		msg.SID = req.Arg
	}
	if req.Op == api.List && req.Query != nil {
		msg.Query = encodeQuery(req.Query)
	}
	if len(req.Data) > 0 {
		msg.Data = req.Data
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, errs.Invalid("data", "cannot be sent: %v", err)
	}
	out.body = body
	if out.mutating {
		out.actionID = req.IdempotencyKey
		if out.actionID == "" && c.cfg.Idempotency {
			out.actionID = c.cfg.NewID()
		}
	}
	out.correlation = c.cfg.NewID()
	return out, nil
}

// canonicalAction returns the catalog's spelling of an action, or the action
// as given when the catalog does not know it.
func canonicalAction(resource, action string) string {
	if r, ok := product.Lookup(resource); ok {
		if a, ok := r.Action(action); ok {
			return a.Name
		}
	}
	return action
}

// encodeQuery renders the list query object of spec §4.5: fields as a JSON
// array, sort as an object field->order in priority order. The scroll rules
// are REST's (spec §3.3): with scroll_id only scroll_id (+ scroll_expire) and
// q/preset/geo are sent; with scroll_expire the offset is suppressed.
func encodeQuery(q *api.Query) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
	}
	str := func(k, v string) {
		key(k)
		vb, _ := json.Marshal(v)
		b.Write(vb)
	}
	scrolling := q.ScrollID != ""
	if !scrolling {
		if q.Count != nil {
			key("count")
			b.WriteString(strconv.Itoa(*q.Count))
		}
		if q.Offset > 0 && q.ScrollExpire == "" {
			key("offset")
			b.WriteString(strconv.Itoa(q.Offset))
		}
		if len(q.Fields) > 0 {
			key("fields")
			fb, _ := json.Marshal(q.Fields)
			b.Write(fb)
		}
		if len(q.Sort) > 0 {
			key("sort")
			b.WriteByte('{')
			for i, s := range q.Sort {
				if i > 0 {
					b.WriteByte(',')
				}
				fb, _ := json.Marshal(s.Field)
				ob, _ := json.Marshal(strings.ToLower(s.Order))
				b.Write(fb)
				b.WriteByte(':')
				b.Write(ob)
			}
			b.WriteByte('}')
		}
	}
	if q.Q != "" {
		str("q", q.Q)
	}
	if q.Preset != "" {
		str("preset", q.Preset)
	}
	if g := q.Geo; g != nil && *g != (api.Geo{}) {
		key("geo")
		gb, _ := json.Marshal(g)
		b.Write(gb)
	}
	if q.ScrollExpire != "" {
		str("scroll_expire", q.ScrollExpire)
	}
	if scrolling {
		str("scroll_id", q.ScrollID)
	}
	b.WriteByte('}')
	return b.Bytes()
}
