package stomp

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
)

// outgoing is a request translated to its STOMP form, independent of the
// connection (token) it will be sent on.
type outgoing struct {
	op          string // for errors and logs: "smart.transactions.execute.start"
	routingKey  string // api:exec:smart.transactions.start or app:<action>
	appID       string
	body        []byte
	actionID    string // x-action; "" for none
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

// translate builds the STOMP request for a resolved plan (spec §4.3–4.5):
// the action is already in the catalog's spelling, the query normalised and
// the x-action id chosen.
func (c *Channel) translate(p *call.Plan) (*outgoing, error) {
	req := p.Request
	out := &outgoing{op: p.Name, actionID: p.Safety.Key, correlation: c.cfg.NewID()}
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
		// Lower-case product.resource as the Java SDK sends it (the server
		// matches case-insensitively, spec §9.1).
		key := req.Resource
		if req.Action != "" {
			key += "." + req.Action
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
	return out, nil
}

// encodeQuery renders a normalised list query (call.Resolve applied the
// scroll rules of spec §3.3) as the query object of spec §4.5: fields as a
// JSON array, sort as an object field->order in priority order.
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
	if q.Count != nil {
		key("count")
		b.WriteString(strconv.Itoa(*q.Count))
	}
	if q.Offset > 0 {
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
			ob, _ := json.Marshal(s.Order)
			b.Write(fb)
			b.WriteByte(':')
			b.Write(ob)
		}
		b.WriteByte('}')
	}
	if q.Q != "" {
		str("q", q.Q)
	}
	if q.Preset != "" {
		str("preset", q.Preset)
	}
	if g := q.Geo; g != nil {
		key("geo")
		gb, _ := json.Marshal(g)
		b.Write(gb)
	}
	if q.ScrollExpire != "" {
		str("scroll_expire", q.ScrollExpire)
	}
	if q.ScrollID != "" {
		str("scroll_id", q.ScrollID)
	}
	b.WriteByte('}')
	return b.Bytes()
}
