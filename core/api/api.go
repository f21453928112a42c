// Package api owns the vocabulary of one secucard API call, independent of the
// channel that carries it: the operation, the addressed resource, the list query
// and the result shapes. core/call resolves a Request once into a plan, which
// the REST and STOMP channels translate into their wire form; the C API
// decodes the host's request JSON into one.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// Op is the operation of a call.
type Op string

// The operations (spec §3.2). Get with an Action is a GET of a sub-resource;
// Update and Delete may carry an Action too; Execute is a POST action.
const (
	Get     Op = "get"
	List    Op = "list"
	Create  Op = "create"
	Update  Op = "update"
	Delete  Op = "delete"
	Execute Op = "execute"
)

// Ops lists every operation in a stable order (for messages).
var Ops = []Op{Get, List, Create, Update, Delete, Execute}

// Valid reports whether o is a known operation.
func (o Op) Valid() bool {
	switch o {
	case Get, List, Create, Update, Delete, Execute:
		return true
	}
	return false
}

// Mutating reports whether the operation changes server state. Mutating calls
// carry an idempotency id (X-Action / x-action).
func (o Op) Mutating() bool {
	return o == Create || o == Update || o == Delete || o == Execute
}

// Channel selects the transport of a call.
type Channel string

// Channels. Auto (the empty value) lets the client decide (DESIGN §2).
const (
	Auto  Channel = ""
	REST  Channel = "rest"
	STOMP Channel = "stomp"
)

// Request is one call. Data is the JSON body (object, array or bare string),
// passed through unchanged.
type Request struct {
	// System is "secucard" or empty; core.ParseRequest sends requests for
	// other systems ("cardpointe") elsewhere.
	System         string          `json:"system,omitempty"`
	Resource       string          `json:"resource"`                  // "product.resource", e.g. "smart.transactions"
	Op             Op              `json:"op"`                        // get|list|create|update|delete|execute
	ID             string          `json:"id,omitempty"`              // object id, or a placeholder such as "me"
	Action         string          `json:"action,omitempty"`          // custom action, e.g. "start"
	Arg            string          `json:"arg,omitempty"`             // action argument, e.g. "demo"; "/" separates several
	AppID          string          `json:"app_id,omitempty"`          // custom app calls (general.apps callBackend)
	Query          *Query          `json:"query,omitempty"`           // list parameters
	Data           json.RawMessage `json:"data,omitempty"`            // request body
	IdempotencyKey string          `json:"idempotency_key,omitempty"` // X-Action; generated for mutating calls when empty
	Channel        Channel         `json:"channel,omitempty"`         // "rest", "stomp" or "" (auto)
	TimeoutMS      int             `json:"timeout_ms,omitempty"`      // per-call deadline; 0 = the configured default

	// Anonymous calls are sent without a bearer token. call.Resolve sets it
	// from the catalog (general.accounts create, document.uploads create);
	// hosts cannot set it through JSON.
	Anonymous bool `json:"-"`
}

// Timeout returns the per-call timeout, 0 when none was given.
func (r *Request) Timeout() time.Duration { return time.Duration(r.TimeoutMS) * time.Millisecond }

// Name is "resource.op[.action]" for logs, stats and error ops.
func (r *Request) Name() string {
	n := strings.ToLower(r.Resource) + "." + string(r.Op)
	if r.Action != "" {
		n += "." + r.Action
	}
	return n
}

// Product returns the product part of Resource ("smart").
func (r *Request) Product() string {
	p, _, _ := strings.Cut(r.Resource, ".")
	return p
}

// ResourceName returns the resource part of Resource ("transactions").
func (r *Request) ResourceName() string {
	_, n, _ := strings.Cut(r.Resource, ".")
	return n
}

// Segments returns the action argument split into path segments.
func (r *Request) Segments() []string {
	if r.Arg == "" {
		return nil
	}
	return strings.Split(r.Arg, "/")
}

// validResource reports whether s is "product.resource": two names of
// letters, digits and "_", each starting with a letter. (Checked on every
// call: a byte loop, not a regexp.)
func validResource(s string) bool {
	p, r, ok := strings.Cut(s, ".")
	return ok && validName(p) && validName(r)
}

func validName(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// validSegment reports whether s can be one path segment: not empty, no "/",
// "?", "#", space or control character (bytes 0x00-0x1f); other bytes,
// UTF-8 or not, are escaped in the URL.
func validSegment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= 0x1f, c == ' ', c == '/', c == '?', c == '#':
			return false
		}
	}
	return true
}

// maxSegment bounds ids, actions and args: long enough for any real id or
// receipt number, short enough that a mistake is not sent as a URL.
const maxSegment = 256

// Validate checks the request's shape and names the first bad field. It does
// not check the catalog (the client does, so unknown resources can be allowed
// by configuration).
func (r *Request) Validate() error {
	if r.System != "" && r.System != "secucard" {
		return errs.Invalid("system", `must be "secucard" (or absent) for a secucard API call, got %q`, r.System)
	}
	if r.Resource == "" {
		return errs.Invalid("resource", `is required, e.g. "smart.transactions"`)
	}
	if !validResource(r.Resource) {
		return errs.Invalid("resource", `must be "product.resource" (letters, digits, "_"), got %q`, r.Resource)
	}
	if r.Op == "" {
		return errs.Invalid("op", "is required: one of %s", opList())
	}
	if !r.Op.Valid() {
		return errs.Invalid("op", "must be one of %s, got %q", opList(), string(r.Op))
	}
	for _, f := range []struct{ name, v string }{{"id", r.ID}, {"action", r.Action}, {"app_id", r.AppID}} {
		if f.v == "" {
			continue
		}
		if len(f.v) > maxSegment {
			return errs.Invalid(f.name, "is longer than %d characters", maxSegment)
		}
		if !validSegment(f.v) {
			return errs.Invalid(f.name, `must not contain "/", "?", "#", spaces or control characters, got %q`, f.v)
		}
	}
	if r.Arg != "" {
		if len(r.Arg) > maxSegment {
			return errs.Invalid("arg", "is longer than %d characters", maxSegment)
		}
		for _, s := range r.Segments() {
			if !validSegment(s) {
				return errs.Invalid("arg", `has an empty segment or one with "?", "#", spaces or control characters: %q`, r.Arg)
			}
		}
	}
	switch r.Op {
	case Get, Update:
		if r.ID == "" && r.Action == "" {
			return errs.Invalid("id", "is required for op %q", string(r.Op))
		}
	case Delete:
		if r.ID == "" {
			return errs.Invalid("id", "is required for op \"delete\"")
		}
	case Execute:
		if r.Action == "" && r.AppID == "" {
			return errs.Invalid("action", "is required for op \"execute\"")
		}
	case List:
		if r.ID != "" || r.Action != "" {
			return errs.Invalid("id", `must be empty for op "list"; use op "get" for one object`)
		}
	}
	if r.Arg != "" && r.Action == "" {
		return errs.Invalid("arg", "needs an action")
	}
	if r.Query != nil && r.Op != List {
		return errs.Invalid("query", `is only allowed for op "list"`)
	}
	if r.Query != nil {
		if err := r.Query.Validate(); err != nil {
			return err
		}
	}
	if len(r.Data) > 0 && !json.Valid(r.Data) {
		return errs.Invalid("data", "is not valid JSON")
	}
	switch r.Channel {
	case Auto, REST, STOMP:
	default:
		return errs.Invalid("channel", `must be "rest", "stomp" or empty, got %q`, string(r.Channel))
	}
	if r.TimeoutMS < 0 {
		return errs.Invalid("timeout_ms", "must not be negative")
	}
	if len(r.IdempotencyKey) > 128 {
		return errs.Invalid("idempotency_key", "is longer than 128 characters")
	}
	return nil
}

func opList() string {
	s := make([]string, len(Ops))
	for i, o := range Ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// ParseRequest decodes the host's request JSON strictly and validates it.
func ParseRequest(b []byte) (*Request, error) {
	var r Request
	if err := strictjson.Decode(b, &r, "request"); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// SortField is one sort criterion.
type SortField struct {
	Field string `json:"field"`
	Order string `json:"order"` // "asc" or "desc"
}

// Geo is the geo filter of a list query.
type Geo struct {
	Field    string `json:"field,omitempty"`
	Lat      string `json:"lat,omitempty"`
	Lon      string `json:"lon,omitempty"`
	Distance string `json:"distance,omitempty"`
}

// Query holds list parameters (spec §3.3). Count nil means "server default".
type Query struct {
	Count        *int        `json:"count,omitempty"`
	Offset       int         `json:"offset,omitempty"`
	Fields       []string    `json:"fields,omitempty"`
	Sort         []SortField `json:"sort,omitempty"`
	Q            string      `json:"q,omitempty"`
	ScrollID     string      `json:"scroll_id,omitempty"`
	ScrollExpire string      `json:"scroll_expire,omitempty"`
	Preset       string      `json:"preset,omitempty"`
	Geo          *Geo        `json:"geo,omitempty"`
}

// UnmarshalJSON accepts the friendly host forms as well as the canonical one:
// fields as an array or a comma-separated string; sort as an ordered object
// {"created":"desc"}, an array of {field, order}, or a "field:order,..." string.
func (q *Query) UnmarshalJSON(b []byte) error {
	type plain struct {
		Count        json.RawMessage `json:"count"`
		Offset       json.RawMessage `json:"offset"`
		Fields       json.RawMessage `json:"fields"`
		Sort         json.RawMessage `json:"sort"`
		Q            *string         `json:"q"`
		ScrollID     *string         `json:"scroll_id"`
		ScrollExpire *string         `json:"scroll_expire"`
		Preset       *string         `json:"preset"`
		Geo          *Geo            `json:"geo"`
	}
	var p plain
	// The one strict decoder: "query" must be an object, its keys are named
	// "query.<key>" with JSON types ("query.geo: must be an object, got a
	// string"); the friendly forms of count, fields and sort are read below.
	if err := strictjson.DecodeAt(b, &p, "query", "query"); err != nil {
		if e := errs.As(err); e.Field != "query" && strings.Contains(e.Message, "is not a known key") {
			e.Message += " (query parameters: count, offset, fields, sort, q, scroll_id, scroll_expire, preset, geo)"
		}
		return err
	}
	*q = Query{}
	if len(p.Count) > 0 && string(p.Count) != "null" {
		n, err := strconv.Atoi(string(p.Count))
		if err != nil {
			return errs.Invalid("query.count", "must be a whole number")
		}
		q.Count = &n
	}
	if len(p.Offset) > 0 && string(p.Offset) != "null" {
		n, err := strconv.Atoi(string(p.Offset))
		if err != nil {
			return errs.Invalid("query.offset", "must be a whole number")
		}
		q.Offset = n
	}
	if len(p.Fields) > 0 && string(p.Fields) != "null" {
		var s string
		var a []string
		switch {
		case json.Unmarshal(p.Fields, &a) == nil:
			q.Fields = a
		case json.Unmarshal(p.Fields, &s) == nil:
			for _, f := range strings.Split(s, ",") {
				if f = strings.TrimSpace(f); f != "" {
					q.Fields = append(q.Fields, f)
				}
			}
		default:
			return errs.Invalid("query.fields", "must be an array of names or a comma-separated string")
		}
	}
	if len(p.Sort) > 0 && string(p.Sort) != "null" {
		s, err := parseSort(p.Sort)
		if err != nil {
			return err
		}
		q.Sort = s
	}
	for _, v := range []struct {
		dst *string
		src *string
	}{{&q.Q, p.Q}, {&q.ScrollID, p.ScrollID}, {&q.ScrollExpire, p.ScrollExpire}, {&q.Preset, p.Preset}} {
		if v.src != nil {
			*v.dst = *v.src
		}
	}
	q.Geo = p.Geo
	return nil
}

func parseSort(raw json.RawMessage) ([]SortField, error) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '[':
		var a []SortField
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, errs.Invalid("query.sort", "must be an array of {\"field\",\"order\"} objects")
		}
		return a, nil
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		var out []SortField
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			f, o, _ := strings.Cut(part, ":")
			if o == "" {
				o = "asc"
			}
			out = append(out, SortField{Field: strings.TrimSpace(f), Order: strings.TrimSpace(o)})
		}
		return out, nil
	case '{':
		// Keep the object's key order: it is the sort priority.
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, errs.Invalid("query.sort", "is not a valid object")
		}
		var out []SortField
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, errs.Invalid("query.sort", "is not a valid object")
			}
			var order string
			if err := dec.Decode(&order); err != nil {
				return nil, errs.Invalid("query.sort."+fmt.Sprint(kt), `must be "asc" or "desc"`)
			}
			out = append(out, SortField{Field: fmt.Sprint(kt), Order: order})
		}
		return out, nil
	}
	return nil, errs.Invalid("query.sort", `must be an object {"field":"asc|desc"}, an array or a "field:order" string`)
}

// Validate checks query values and names the first bad one.
func (q *Query) Validate() error {
	if q.Count != nil && *q.Count < 0 {
		return errs.Invalid("query.count", "must not be negative")
	}
	if q.Offset < 0 {
		return errs.Invalid("query.offset", "must not be negative")
	}
	for i, s := range q.Sort {
		if s.Field == "" {
			return errs.Invalid(fmt.Sprintf("query.sort[%d].field", i), "is required")
		}
		switch strings.ToLower(s.Order) {
		case "asc", "desc":
			q.Sort[i].Order = strings.ToLower(s.Order)
		default:
			return errs.Invalid("query.sort."+s.Field, `must be "asc" or "desc", got %q`, s.Order)
		}
	}
	for _, f := range q.Fields {
		if strings.TrimSpace(f) == "" {
			return errs.Invalid("query.fields", "must not contain empty names")
		}
	}
	return nil
}

// Page is a page of a list result (spec §3.6). Count is the total number of
// matching objects on the server, not the size of Data.
type Page struct {
	Count    int               `json:"count"`
	Data     []json.RawMessage `json:"data"`
	ScrollID string            `json:"scroll_id,omitempty"`
}

// NormalizeList turns a raw list answer into canonical JSON: data is always an
// array ("data": null and a missing data become []), count is a number, unknown
// top-level keys are kept.
func NormalizeList(raw json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("list answer is not a JSON object")
	}
	if d, ok := m["data"]; !ok || string(bytes.TrimSpace(d)) == "null" {
		m["data"] = json.RawMessage("[]")
	}
	if c, ok := m["count"]; !ok || string(c) == "null" {
		var d []json.RawMessage
		_ = json.Unmarshal(m["data"], &d)
		m["count"] = json.RawMessage(strconv.Itoa(len(d)))
	} else if len(c) > 0 && c[0] == '"' { // tolerate a count sent as a string
		var s string
		_ = json.Unmarshal(c, &s)
		if n, err := strconv.Atoi(s); err == nil {
			m["count"] = json.RawMessage(strconv.Itoa(n))
		}
	}
	return marshalSorted(m)
}

// marshalSorted encodes a map with sorted keys (encoding/json already sorts map
// keys; this exists to keep that guarantee explicit at call sites).
func marshalSorted(m map[string]json.RawMessage) (json.RawMessage, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ResultBool interprets a {"result": ...} answer the way the legacy SDKs did
// (Java parses it leniently): true for JSON true or the string "true".
func ResultBool(raw json.RawMessage) (bool, error) {
	var m struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, fmt.Errorf("answer is not a {\"result\": ...} object")
	}
	s := strings.Trim(strings.ToLower(string(bytes.TrimSpace(m.Result))), `"`)
	return s == "true" || s == "1", nil
}

// Doer executes a request on some channel and returns the answer's JSON: the
// object for get/create/update/execute, a normalized List for list, and the
// JSON literal null for an answer without body (202/204).
type Doer interface {
	Do(ctx context.Context, req *Request) (json.RawMessage, error)
}

// DoerFunc adapts a function to Doer.
type DoerFunc func(ctx context.Context, req *Request) (json.RawMessage, error)

// Do implements Doer.
func (f DoerFunc) Do(ctx context.Context, req *Request) (json.RawMessage, error) { return f(ctx, req) }
