package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/libsecucard/libsecucard/sandbox/catalog"
)

// DispatchRequest is one API call, independent of the channel that carried
// it. The REST handler translates HTTP onto it; a STOMP endpoint translates
// api:<verb>:<product>.<resource>[.<action>] with pid/sid/query/data.
type DispatchRequest struct {
	// Op is "get" | "list" | "add" | "update" | "delete" | "exec" (the STOMP
	// verbs). "get" without ID and Action lists. REST maps GET->get, POST->add
	// (no action) or exec (with action), PUT/PATCH->update, DELETE->delete.
	Op                    string
	Product, Resource, ID string // matched case-insensitively
	Action                string // matched case-insensitively
	Args                  []string
	// Query holds list parameters as REST sends them: count, offset, fields,
	// sort[x]=asc|desc, q, scroll_id, scroll_expire. url.Values has no order,
	// so several sort keys are also accepted in order as one
	// sort=field:asc,other:desc value (the REST handler builds that).
	Query   url.Values
	Body    json.RawMessage // request body (object, array, bare string, or empty)
	Token   string          // bearer/STOMP token ("" for anonymous)
	XAction string          // idempotency id
}

// DispatchResponse is an HTTP-like status and the JSON body (already in the
// server's JSON style).
type DispatchResponse struct {
	Status int
	Body   json.RawMessage
}

// restPath is the REST path of r under /api/v2, the path faults match.
func (r DispatchRequest) restPath() string {
	p := "/api/v2/" + r.Product + "/" + r.Resource
	for _, seg := range []string{r.ID, r.Action} {
		if seg != "" {
			p += "/" + seg
		}
	}
	return p
}

// httpMethod is the HTTP method REST uses for r's verb.
func (r DispatchRequest) httpMethod() string {
	switch strings.ToLower(r.Op) {
	case "add", "exec":
		return http.MethodPost
	case "update":
		return http.MethodPut
	case "delete":
		return http.MethodDelete
	}
	return http.MethodGet
}

// call is a resolved DispatchRequest.
type call struct {
	op     string // get | list | add | update | delete | exec
	res    *catalog.Resource
	coll   *collection
	id     string
	action string // canonical catalog spelling, "" for none
	args   []string
	query  url.Values
	body   json.RawMessage
	token  string
	client string // the token's client, or anonymousClient
}

const anonymousClient = "\x00anonymous"

func (c *call) mutating() bool {
	switch c.op {
	case "add", "update", "delete", "exec":
		return true
	}
	return false
}

// Dispatch executes one call: resolve the resource, check the token, apply
// X-Action idempotency to mutating calls, then run it. It never holds a lock
// while waiting.
func (s *Server) Dispatch(ctx context.Context, r DispatchRequest) DispatchResponse {
	c, resp, ok := s.resolve(r)
	if !ok {
		return resp
	}
	if resp, ok := s.authorize(c); !ok {
		return resp
	}
	if c.mutating() && r.XAction != "" {
		return s.idempotent(ctx, c.client, r.XAction, func() DispatchResponse { return s.execute(ctx, c) })
	}
	return s.execute(ctx, c)
}

// placeholders are legitimate id segments that name no stored object (spec §3.1).
var placeholders = map[string]bool{"me": true, "null": true, "not_set": true, "notused": true}

func (s *Server) resolve(r DispatchRequest) (*call, DispatchResponse, bool) {
	name := strings.ToLower(r.Product + "." + r.Resource)
	res, ok := catalog.Lookup(name)
	if !ok {
		msg := fmt.Sprintf("unknown resource %q", name)
		if sug := catalog.Suggest(name); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return nil, s.notFound(codeNoRoute, msg), false
	}
	c := &call{res: res, coll: s.colls[res.Name], id: r.ID, args: r.Args, query: r.Query, body: r.Body, token: r.Token}
	action := r.Action
	if action == "" && c.id != "" {
		// POST /smart/transactions/Diagnosis: the segment is an id-less action.
		if a, ok := res.Action(c.id); ok && a.NoID {
			action, c.id = a.Name, ""
		}
	}
	if action != "" {
		a, ok := res.Action(action)
		if !ok {
			return nil, s.notFound(codeNoAction, fmt.Sprintf("%s has no action %q%s", res.Name, action, knownActions(res))), false
		}
		c.action = a.Name
	}
	switch op := strings.ToLower(r.Op); op {
	case "get":
		c.op = "get"
		if c.id == "" && c.action == "" {
			c.op = "list"
		}
	case "list":
		c.op = "list"
	case "add", "create":
		c.op = "add"
		if c.action != "" {
			c.op = "exec"
		}
	case "exec", "execute":
		c.op = "exec"
		if c.action == "" {
			// Java uploads documents as "EXECUTE without id" (spec §8.2).
			c.op = "add"
		}
	case "update", "delete":
		c.op = op
		if c.id == "" && c.action == "" {
			return nil, s.notAllowed(codeBadMethod, fmt.Sprintf("%s of %s needs an id", op, res.Name)), false
		}
	default:
		return nil, s.badRequest(codeBadMethod, fmt.Sprintf("unknown operation %q (get, list, add, update, delete, exec)", r.Op)), false
	}
	if c.op == "add" && c.id != "" {
		return nil, s.notAllowed(codeBadMethod, fmt.Sprintf("creating needs no id: POST to %s/%s needs an action", res.Name, c.id)), false
	}
	return c, DispatchResponse{}, true
}

func knownActions(res *catalog.Resource) string {
	if len(res.Actions) == 0 {
		return "; it has none"
	}
	return "; known: " + strings.Join(res.ActionNames(), ", ")
}

// authorize checks the token. Anonymous calls (the catalog's
// anonymous-create and anonymous actions, spec §3.4) pass without one; a
// stale token on them is ignored rather than refused, which is the tolerant
// reading of an unknown server behaviour.
func (s *Server) authorize(c *call) (DispatchResponse, bool) {
	anonymous := c.op == "add" && c.res.AnonymousCreate
	if a, ok := c.res.Action(c.action); ok && c.action != "" {
		anonymous = a.Anonymous
	}
	if c.token == "" {
		if anonymous {
			c.client = anonymousClient
			return DispatchResponse{}, true
		}
		return s.envelope(http.StatusUnauthorized, excSecurity, codeNoToken,
			"no access token: send the header Authorization: Bearer <access_token>",
			"Please log in again."), false
	}
	client, ok := s.tokenClient(c.token)
	if !ok {
		if anonymous {
			c.client = anonymousClient
			return DispatchResponse{}, true
		}
		return s.envelope(http.StatusUnauthorized, excSecurity, codeBadToken,
			"the access token is invalid or expired", "Please log in again."), false
	}
	c.client = client
	return DispatchResponse{}, true
}

func (s *Server) execute(ctx context.Context, c *call) DispatchResponse {
	switch c.res.Name {
	case "smart.transactions":
		if resp, ok := s.smartTransactions(ctx, c); ok {
			return resp
		}
	case "loyalty.merchantcards":
		if resp, ok := s.merchantCards(c); ok {
			return resp
		}
	case "smart.idents":
		if resp, ok := s.smartIdents(c); ok {
			return resp
		}
	case "general.accounts":
		if c.action == "passwordreset" {
			// Spec §6.1: {origin} -> {livetime:int}; the value is invented.
			return DispatchResponse{Status: http.StatusOK, Body: mustJSON(map[string]int{"livetime": 3600})}
		}
	}
	switch {
	case c.op == "list":
		return s.list(c)
	case c.action != "":
		return s.genericAction(c)
	case c.op == "get":
		return s.get(c)
	case c.op == "add":
		return s.create(c, nil)
	case c.op == "update":
		return s.update(c, nil)
	case c.op == "delete":
		return s.remove(c)
	}
	return s.badRequest(codeBadMethod, "unsupported operation")
}

// genericAction answers catalog actions that have no special behaviour.
func (s *Server) genericAction(c *call) DispatchResponse {
	if c.id != "" && !placeholders[strings.ToLower(c.id)] {
		s.mu.Lock()
		_, ok := s.lookupLocked(c.coll, c.id)
		s.mu.Unlock()
		if !ok {
			return s.notFound(codeNoObject, fmt.Sprintf("%s %q does not exist", c.res.Name, c.id))
		}
	}
	return okResult(true)
}

func okResult(v bool) DispatchResponse {
	return DispatchResponse{Status: http.StatusOK, Body: mustJSON(map[string]bool{"result": v})}
}

func (s *Server) reply(v any) DispatchResponse {
	return DispatchResponse{Status: http.StatusOK, Body: mustJSON(v)}
}

func (s *Server) get(c *call) DispatchResponse {
	s.mu.Lock()
	obj, ok := s.lookupLocked(c.coll, c.id)
	if ok {
		obj = cloneObject(obj)
	}
	s.mu.Unlock()
	if !ok {
		return s.notFound(codeNoObject, fmt.Sprintf("%s %q does not exist", c.res.Name, c.id))
	}
	return s.reply(obj)
}

// bodyObject decodes a create/update body. A JSON string holding an object
// is decoded too (.NET sends data as a JSON string, spec §4.5); any other
// bare string (Java's "smart.transactions") means "no data".
func (s *Server) bodyObject(raw json.RawMessage) (map[string]any, DispatchResponse, bool) {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return map[string]any{}, DispatchResponse{}, true
	}
	v, err := decodeValue(raw)
	if err != nil {
		return nil, s.badRequest(codeBadBody, "the body is not valid JSON: "+err.Error()), false
	}
	switch t := v.(type) {
	case nil:
		return map[string]any{}, DispatchResponse{}, true
	case map[string]any:
		return t, DispatchResponse{}, true
	case string:
		if inner, err := decodeValue([]byte(t)); err == nil {
			if m, ok := inner.(map[string]any); ok {
				return m, DispatchResponse{}, true
			}
		}
		return map[string]any{}, DispatchResponse{}, true
	}
	return nil, s.badRequest(codeBadBody, "the body must be a JSON object, got "+jsonType(v)), false
}

// create stores the body as a new object. check, when set, validates the
// complete object before it is stored; it runs under s.mu.
func (s *Server) create(c *call, check func(object) (DispatchResponse, bool)) DispatchResponse {
	body, resp, ok := s.bodyObject(c.body)
	if !ok {
		return resp
	}
	obj := object(body)
	delete(obj, "id")
	delete(obj, "updated")
	obj["object"] = c.res.Name
	obj["created"] = s.stamp(s.now())
	if c.res.Name == "general.accounts" {
		delete(obj, "password") // write-only (spec §7.7)
	}
	s.mu.Lock()
	if check != nil {
		if resp, ok := check(obj); !ok {
			s.mu.Unlock()
			return resp
		}
	}
	id := s.newIDLocked(c.coll)
	obj["id"] = id
	c.coll.put(id, obj)
	out := cloneObject(obj)
	s.mu.Unlock()
	// 200 rather than 201: no SDK expects 201 and PHP only special-cases
	// 202/204 (spec §3.6).
	return s.reply(out)
}

// update merges the body's top-level keys into the object. check sees the
// merged object and may refuse it (state rules, field types); it runs under
// s.mu.
func (s *Server) update(c *call, check func(old, merged object) (DispatchResponse, bool)) DispatchResponse {
	body, resp, ok := s.bodyObject(c.body)
	if !ok {
		return resp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.lookupLocked(c.coll, c.id)
	if !ok {
		return s.notFound(codeNoObject, fmt.Sprintf("%s %q does not exist", c.res.Name, c.id))
	}
	merged := cloneObject(old)
	for k, v := range body {
		switch k {
		case "object", "id", "created", "updated":
			continue
		}
		if c.res.Name == "general.accounts" && k == "password" {
			continue
		}
		merged[k] = v
	}
	merged["updated"] = s.stamp(s.now())
	if check != nil {
		if resp, ok := check(old, merged); !ok {
			return resp
		}
	}
	c.coll.put(merged["id"].(string), merged)
	return s.reply(cloneObject(merged))
}

// remove deletes the object and answers an array holding it: the successor
// SDK's DELETE returns an array (spec §3.6), the only recorded evidence.
func (s *Server) remove(c *call) DispatchResponse {
	s.mu.Lock()
	obj, ok := s.lookupLocked(c.coll, c.id)
	if ok {
		c.coll.remove(obj["id"].(string))
	}
	s.mu.Unlock()
	if !ok {
		return s.notFound(codeNoObject, fmt.Sprintf("%s %q does not exist", c.res.Name, c.id))
	}
	return s.reply([]any{obj})
}

// collection holds the objects of one resource in creation order.
type collection struct {
	res   *catalog.Resource
	items map[string]object
	order []string
	seq   int    // numbering of lower-case prefixes (smi_4, sls_100001)
	me    string // the object "me" names, if any
}

func newCollection(res *catalog.Resource) *collection {
	return &collection{res: res, items: map[string]object{}}
}

func (c *collection) put(id string, o object) {
	if _, ok := c.items[id]; !ok {
		c.order = append(c.order, id)
	}
	c.items[id] = o
}

func (c *collection) remove(id string) {
	delete(c.items, id)
	for i, x := range c.order {
		if x == id {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
}

// lookupLocked finds an object by id, "me", or for loyalty.cards by card
// number (loyalty/cards/<cardnumber>/assignUser/me, spec §6.1).
func (s *Server) lookupLocked(c *collection, id string) (object, bool) {
	if o, ok := c.items[id]; ok {
		return o, true
	}
	if strings.EqualFold(id, "me") && c.me != "" {
		o, ok := c.items[c.me]
		return o, ok
	}
	if c.res.Name == "loyalty.cards" {
		for _, oid := range c.order {
			if o := c.items[oid]; o["cardnumber"] == id {
				return o, true
			}
		}
	}
	return nil, false
}

// newIDLocked makes an id: the catalog prefix plus 30 upper-case
// alphanumerics (34 characters, spec §7), or a running number for the
// recorded lower-case exceptions (smi_1, sls_<digits>).
func (s *Server) newIDLocked(c *collection) string {
	prefix := c.res.IDPrefix
	if prefix != "" && prefix[0] >= 'a' && prefix[0] <= 'z' {
		for {
			c.seq++
			id := prefix + strconv.Itoa(c.seq)
			if _, taken := c.items[id]; !taken {
				return id
			}
		}
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for {
		b := make([]byte, 30)
		for i := range b {
			b[i] = alphabet[s.rng.IntN(len(alphabet))]
		}
		id := prefix + string(b)
		if _, taken := c.items[id]; !taken {
			return id
		}
	}
}
