package sandbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/product"
)

// DispatchRequest is one API call independent of its channel. Op uses the
// STOMP verbs: "get" | "list" | "add" | "update" | "delete" | "exec". REST
// maps GET->get, POST->add (no action) or exec (with action), PUT->update,
// DELETE->delete. "get" without ID and Action is a list, "exec" without
// Action a create (document.uploads is executed without an id).
type DispatchRequest struct {
	Op                            string
	Product, Resource, ID, Action string
	Args                          []string
	// Query holds list parameters as REST sends them (count, offset, fields,
	// sort[x], q, scroll_id, scroll_expire, ...). Sort priority: a "sort" value
	// "a:asc,b:desc" keeps its order; several sort[x] keys sort by field name.
	Query    url.Values
	Body     json.RawMessage // object, array, bare string, or empty
	Token    string          // bearer / STOMP token, "" for anonymous
	XAction  string          // idempotency id
	Language string          // Accept-Language; "de" gives German error_user texts
}

// DispatchResponse is an HTTP-like status and a JSON body in the real
// server's encoding (EncodeJSON).
type DispatchResponse struct {
	Status int
	Body   json.RawMessage
}

type opKind int

const (
	opList opKind = iota
	opGet
	opCreate
	opUpdate
	opDelete
	opAction
)

// call is a dispatched request after resolution and authentication.
type call struct {
	ctx    context.Context
	res    *product.Resource
	verb   string // the STOMP verb of the request, lower case
	kind   opKind
	id     string
	action product.Action // opAction only
	args   []string
	query  url.Values
	raw    json.RawMessage
	body   any // raw decoded with UseNumber; nil when empty
	client string
}

// actionHandler implements an action with behaviour of its own. ownLookup
// handlers resolve their id themselves (cancelTrx takes a receipt number).
type actionHandler struct {
	fn        func(s *Server, c *call) (any, *apiError)
	ownLookup bool
}

// actionHandlers maps "product.resource.action" (lower case) to behaviour.
// Catalog actions without an entry answer {"result": true}.
var actionHandlers = map[string]actionHandler{}

// Dispatch executes one call. It is safe for concurrent use and never holds a
// lock while it waits (simulated terminal steps, duplicate X-Action).
func (s *Server) Dispatch(ctx context.Context, r DispatchRequest) DispatchResponse {
	c, aerr := s.resolve(ctx, r)
	if aerr != nil {
		return s.errorResponse(aerr, r.Language)
	}
	run := func() (resp DispatchResponse) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Errorf("internal error in %s: %v", c.res.Name, p)
				resp = s.errorResponse(&apiError{http.StatusInternalServerError, "ProductInternalException",
					"internal sandbox error", "An internal error occurred.", "Ein interner Fehler ist aufgetreten."}, r.Language)
			}
		}()
		v, aerr := s.execute(c)
		if aerr != nil {
			return s.errorResponse(aerr, r.Language)
		}
		return DispatchResponse{Status: http.StatusOK, Body: mustEncode(v)}
	}
	if r.XAction != "" && c.mutating() {
		return s.idempotent(ctx, c.client, r.XAction, r.Language, run)
	}
	return run()
}

func (c *call) mutating() bool {
	switch c.kind {
	case opCreate, opUpdate, opDelete:
		return true
	case opAction:
		return c.verb != "get" // a GET of an action (oldFormat) changes nothing
	}
	return false
}

func (s *Server) errorResponse(e *apiError, lang string) DispatchResponse {
	return DispatchResponse{Status: e.status, Body: e.envelope(lang, s.supportID())}
}

// resolve finds the resource, operation and action, checks the token and
// decodes the body.
func (s *Server) resolve(ctx context.Context, r DispatchRequest) (*call, *apiError) {
	name := strings.ToLower(r.Product + "." + r.Resource)
	res, known := product.Lookup(name)
	c := &call{ctx: ctx, res: res, verb: strings.ToLower(r.Op), id: r.ID, args: r.Args, query: r.Query, raw: r.Body}
	if c.query == nil {
		c.query = url.Values{}
	}
	kind, aerr := opKindOf(r.Op, r.ID, r.Action)
	if aerr != nil {
		return nil, aerr
	}
	c.kind = kind

	anonymous := known && kind == opCreate && res.IsAnonymous(api.Create)
	if info, ok := s.TokenInfo(r.Token); ok {
		c.client = info.ClientID
	} else if !anonymous {
		// Authentication before resource lookup: an unauthenticated caller
		// learns nothing about which resources exist.
		if r.Token == "" {
			return nil, errSecurity("no access token was given (Authorization: Bearer <token>)")
		}
		return nil, errSecurity("the access token is invalid or expired")
	}
	if !known {
		msg := "product.resource " + quote(name) + " does not exist"
		if sug := product.Suggest(name); sug != "" {
			msg += "; did you mean " + quote(sug) + "?"
		}
		return nil, errNotFound("%s", msg)
	}
	if kind == opAction {
		a, ok := res.Action(r.Action)
		if !ok {
			return nil, errNotFound("action %s does not exist on %s", quote(r.Action), res.Name)
		}
		c.action = a
		if a.NoID {
			c.id = "" // the successor SDK scopes these by device id; ignored here
		} else if c.id == "" {
			return nil, errFormat("action %s of %s needs an id", a.Name, res.Name)
		}
	}
	if (kind == opGet || kind == opUpdate || kind == opDelete) && c.id == "" {
		return nil, errFormat("an id is required to %s a %s object", opVerb(kind), res.Name)
	}
	body, err := decodeJSON(r.Body)
	if err != nil {
		return nil, errFormat("the request body is not valid JSON: %v", err)
	}
	c.body = body
	return c, nil
}

func opKindOf(op, id, action string) (opKind, *apiError) {
	switch strings.ToLower(op) {
	case "get":
		switch {
		case action != "":
			return opAction, nil
		case id == "":
			return opList, nil
		}
		return opGet, nil
	case "list":
		return opList, nil
	case "add", "create":
		if action != "" {
			return opAction, nil
		}
		return opCreate, nil
	case "update":
		if action != "" {
			return opAction, nil
		}
		return opUpdate, nil
	case "delete":
		if action != "" {
			return opAction, nil
		}
		return opDelete, nil
	case "exec", "execute":
		switch {
		case action != "":
			return opAction, nil
		case id != "":
			return 0, errFormat("an action is required to execute on an object")
		}
		return opCreate, nil
	}
	return 0, errFormat("unknown operation %s (get, list, add, update, delete, exec)", quote(op))
}

func opVerb(k opKind) string {
	switch k {
	case opGet:
		return "get"
	case opUpdate:
		return "update"
	case opDelete:
		return "delete"
	}
	return "use"
}

// execute runs a resolved call and returns the value to encode.
func (s *Server) execute(c *call) (any, *apiError) {
	switch c.kind {
	case opList:
		return s.list(c.res.Name, c.query)
	case opGet:
		o, ok := s.find(c.res.Name, c.id)
		if !ok {
			return nil, errNotFound("%s %s does not exist", c.res.Name, quote(c.id))
		}
		if f := parseFields(c.query["fields"]); len(f) > 0 {
			return projectOne(o, f), nil
		}
		return o, nil
	case opCreate:
		return s.create(c)
	case opUpdate:
		return s.update(c)
	case opDelete:
		return s.delete(c)
	}
	return s.runAction(c)
}

func (s *Server) runAction(c *call) (any, *apiError) {
	h, special := actionHandlers[strings.ToLower(c.res.Name+"."+c.action.Name)]
	// general.apps ids name apps configured server-side (custom app calls),
	// which the sandbox cannot know; any app id answers.
	needsObject := c.id != "" && !isPlaceholder(c.id) && c.res.Name != "general.apps" && !(special && h.ownLookup)
	if needsObject {
		if _, ok := s.find(c.res.Name, c.id); !ok {
			return nil, errNotFound("%s %s does not exist", c.res.Name, quote(c.id))
		}
	}
	if special {
		return h.fn(s, c)
	}
	return map[string]any{"result": true}, nil
}

// bodyObject returns the body as an object; an empty body is an empty object.
func (c *call) bodyObject() (object, *apiError) {
	switch b := c.body.(type) {
	case nil:
		return object{}, nil
	case map[string]any:
		return b, nil
	}
	return nil, errFormat("the request body must be a JSON object")
}

// createHooks and updateHooks let a resource validate and complete objects
// (smart.transactions). They run with s.mu held, so they must only use
// *Locked helpers and do no I/O; update hooks see the stored object and the
// merged result.
var (
	createHooks = map[string]func(s *Server, o object) *apiError{}
	updateHooks = map[string]func(s *Server, old, merged object) *apiError{}
)

// dropNulls removes null members: Java sends every unset field as null
// (spec §3.5), which must neither be stored nor erase stored values.
func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if x == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(x)
		}
	case []any:
		for i, x := range t {
			t[i] = dropNulls(x)
		}
	}
	return v
}

func (s *Server) create(c *call) (any, *apiError) {
	o, aerr := c.bodyObject()
	if aerr != nil {
		return nil, aerr
	}
	o = dropNulls(o).(map[string]any)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if hook := createHooks[c.res.Name]; hook != nil {
		if aerr := hook(s, o); aerr != nil {
			return nil, aerr
		}
	}
	o["object"] = c.res.Name
	o["id"] = s.newIDLocked(c.res)
	o["created"] = timestamp(now)
	s.collection(c.res.Name).put(o)
	return cloneObject(o), nil
}

// update merges the body's top-level keys into the object.
func (s *Server) update(c *call) (any, *apiError) {
	patch, aerr := c.bodyObject()
	if aerr != nil {
		return nil, aerr
	}
	patch = dropNulls(patch).(map[string]any)
	for _, k := range []string{"object", "id", "created", "updated"} {
		delete(patch, k)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.findLocked(c.res.Name, c.id)
	if !ok {
		return nil, errNotFound("%s %s does not exist", c.res.Name, quote(c.id))
	}
	merged := cloneObject(old)
	for k, v := range patch {
		merged[k] = v
	}
	if hook := updateHooks[c.res.Name]; hook != nil {
		if aerr := hook(s, old, merged); aerr != nil {
			return nil, aerr
		}
	}
	merged["updated"] = timestamp(now)
	s.collection(c.res.Name).put(merged)
	return cloneObject(merged), nil
}

// delete removes the object and answers it inside an array, as the successor
// API documents for DELETE (spec §3.6); the legacy SDKs never read the answer.
func (s *Server) delete(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.findLocked(c.res.Name, c.id)
	if !ok {
		return nil, errNotFound("%s %s does not exist", c.res.Name, quote(c.id))
	}
	s.collection(c.res.Name).remove(o["id"].(string))
	return []any{cloneObject(o)}, nil
}

// collection returns the resource's objects, creating the set on first use.
// Callers hold s.mu.
func (s *Server) collection(name string) *collection {
	c := s.colls[name]
	if c == nil {
		c = newCollection()
		s.colls[name] = c
	}
	return c
}

// find returns a copy of an object by id or alias.
func (s *Server) find(resource, id string) (object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.findLocked(resource, id)
	return cloneObject(o), ok
}

// findLocked resolves an id: the object id itself; "me" as the first object
// (the caller's own account, merchant, contract...); a card number for
// loyalty.cards and loyalty.merchantcards (paths carry card numbers, spec §6).
func (s *Server) findLocked(resource, id string) (object, bool) {
	coll := s.collection(resource)
	if o, ok := coll.byID[id]; ok {
		return o, true
	}
	if strings.EqualFold(id, "me") && len(coll.order) > 0 {
		return coll.byID[coll.order[0]], true
	}
	var cardPath []string
	switch resource {
	case "loyalty.cards":
		cardPath = []string{"cardnumber"}
	case "loyalty.merchantcards":
		cardPath = []string{"card", "cardnumber"}
	default:
		return nil, false
	}
	for _, oid := range coll.order {
		o := coll.byID[oid]
		for _, v := range lookupPath(map[string]any(o), cardPath) {
			if str, _ := v.(string); str == id {
				return o, true
			}
		}
	}
	return nil, false
}

// newIDLocked makes an id for a new object: the catalog prefix plus 30
// upper-case alphanumerics; the recorded lower-case exceptions count up
// instead (smi_4 for smart.idents, sls_<digits> for loyalty.sales; spec §7).
// Callers hold s.mu.
func (s *Server) newIDLocked(res *product.Resource) string {
	if res.IDPrefix != strings.ToUpper(res.IDPrefix) {
		s.idSeq[res.Name]++
		n := s.idSeq[res.Name]
		if res.IDPrefix == "sls_" {
			n += 1000000
		}
		return res.IDPrefix + strconv.Itoa(n)
	}
	return res.IDPrefix + s.randFrom(upperAlnum, idRandomLen)
}
