package call

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/product"
)

// Plan is one request resolved once. Transports read it and never change it
// (Run sets Deadline before the first attempt).
type Plan struct {
	// Name is what the call is called in errors, logs and stats:
	// "smart.transactions.execute.start", "oauth.token".
	Name string
	// Request is the secucard request as resolved: resource in lower case,
	// the action in the catalog's spelling, the default body filled in, the
	// app id applied, Anonymous set from the catalog, the query normalised
	// (the scroll rules applied). nil for plans of other endpoints.
	Request *api.Request
	Safety  Safety
	Policy  Policy
	// Deadline ends every attempt and every wait; zero means none.
	Deadline time.Time
	// LookUp: when the outcome is unknown, the object (Request.Resource,
	// Request.ID) is read once and a final state is returned instead of the
	// error (a payment start whose answer was lost).
	LookUp bool
	// Payment: the request charges money (a start); an answer that says
	// the payment was not made is a Declined error, not a success.
	Payment bool
}

// Settings are what resolving a secucard request needs from the config.
type Settings struct {
	// AllowUnknown lets resources through that the catalog does not know.
	AllowUnknown bool
	// AppID is the default app id of general.apps execute calls.
	AppID string
	// Idempotency adds a generated key to every mutating call that has none.
	Idempotency bool
	// NewKey generates idempotency keys; nil: 32 random hex characters.
	NewKey func() string
	Policy Policy
}

// Resolve validates req against its shape and the catalog and resolves it
// into a plan. req is not modified.
func (s *Settings) Resolve(req *api.Request) (*Plan, error) {
	if req == nil {
		return nil, errs.Invalid("request", "is required")
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	r := *req
	r.Resource = strings.ToLower(r.Resource)
	res, known := product.Lookup(r.Resource)
	if !known && !s.AllowUnknown {
		hint := ""
		if sug := product.Suggest(r.Resource); sug != "" {
			hint = fmt.Sprintf("; did you mean %q?", sug)
		}
		return nil, errs.Invalid("resource", "%q is not a known resource%s (set allow_unknown_resources to call it anyway)", req.Resource, hint)
	}
	var action product.Action
	if known {
		r.Anonymous = res.AnonymousCall(r.Op, r.Action)
		if r.Action != "" {
			if a, ok := res.ActionFor(r.Action, r.Op); ok {
				action = a
				r.Action = a.Name // the Java SDK's spelling; the server matches case-insensitively
			}
		}
		if len(r.Data) == 0 {
			r.Data = product.DefaultData(r.Resource, r.Action, r.Op)
		}
	}
	if r.Op == api.Execute && r.AppID == "" && r.Resource == "general.apps" && r.ID == "" && s.AppID != "" {
		r.ID = s.AppID
	}
	r.Query = normalQuery(r.Query)

	p := &Plan{Name: r.Name(), Request: &r, Policy: s.Policy}
	if r.Op.Mutating() {
		key := r.IdempotencyKey
		if key == "" && s.Idempotency {
			key = s.newKey()
		}
		r.IdempotencyKey = key
		p.Safety = Safety{
			Mutating: true,
			// HTTP defines a PUT and a DELETE of an object as idempotent
			// (RFC 9110 §9.2.2); an action under them may do anything.
			Idempotent: (r.Op == api.Update || r.Op == api.Delete) && r.Action == "",
			Key:        key,
			KeyDedupes: key != "" && !action.Payment,
		}
		p.LookUp = action.Payment && r.ID != ""
		p.Payment = action.Payment
	}
	return p, nil
}

func (s *Settings) newKey() string {
	if s.NewKey != nil {
		return s.NewKey()
	}
	return RandomID()
}

// RandomID returns 32 random hex characters (idempotency keys, correlation
// ids).
func RandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// normalQuery applies the scroll rules of spec §3.3 once, for both channels:
// with scroll_id only scroll_id (+ scroll_expire) and q/preset/geo are sent;
// with scroll_expire the offset is suppressed. The caller's query is copied.
func normalQuery(q *api.Query) *api.Query {
	if q == nil {
		return nil
	}
	n := *q
	n.Fields = append([]string(nil), q.Fields...)
	n.Sort = make([]api.SortField, len(q.Sort))
	for i, s := range q.Sort {
		n.Sort[i] = api.SortField{Field: s.Field, Order: strings.ToLower(s.Order)}
	}
	if q.Geo != nil {
		g := *q.Geo
		n.Geo = &g
		if g == (api.Geo{}) {
			n.Geo = nil
		}
	}
	if n.ScrollID != "" {
		n.Count, n.Offset, n.Fields, n.Sort = nil, 0, nil, nil
	}
	if n.ScrollExpire != "" {
		n.Offset = 0
	}
	if len(n.Sort) == 0 {
		n.Sort = nil
	}
	if len(n.Fields) == 0 {
		n.Fields = nil
	}
	return &n
}
