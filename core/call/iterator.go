package call

import (
	"context"
	"encoding/json"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// Iterator pages through a list over any api.Doer (the client, whatever
// channel carries the pages). It lives with the plan because paging is the
// query's business: each page is a request of its own, resolved like any
// other (so the scroll rules apply once, in Resolve).
// Offset paging is the default; a query with ScrollExpire pages by scroll id
// (spec §3.3): the first call carries scroll_expire and the normal
// parameters, later calls only the scroll_id the server returned. Iteration
// stops at the server's total count, at an empty page, or at the first error.
//
//	it := call.NewIterator(client, &api.Request{Resource: "smart.transactions", Op: api.List})
//	for it.Next(ctx) { use(it.Item()) }
//	if err := it.Err(); err != nil { ... }
type Iterator struct {
	d     api.Doer
	req   api.Request // template; Query is replaced per page
	query api.Query   // the caller's query

	page     []json.RawMessage
	pos      int // index of the next item in page
	item     json.RawMessage
	seen     int // items delivered from all pages
	total    int
	started  bool
	done     bool
	scrollID string
	err      error
}

// NewIterator returns an iterator over the list req describes. req is copied;
// its Op must be api.List.
func NewIterator(d api.Doer, req *api.Request) *Iterator {
	it := &Iterator{d: d}
	switch {
	case d == nil:
		it.err = errs.Invalid("doer", "is required")
	case req == nil:
		it.err = errs.Invalid("request", "is required")
	case req.Op != api.List:
		it.err = errs.Invalid("op", `must be "list" to iterate, got %q`, string(req.Op))
	default:
		it.req = *req
		if req.Query != nil {
			it.query = *req.Query
		}
	}
	if it.err != nil {
		it.done = true
	}
	return it
}

// Next advances to the next item, fetching a page when needed. It returns
// false when the list is exhausted or an error occurred (see Err).
func (it *Iterator) Next(ctx context.Context) bool {
	for it.pos >= len(it.page) {
		if it.done || it.err != nil {
			it.item = nil
			return false
		}
		if err := it.fetch(ctx); err != nil {
			it.err = errs.As(err)
			it.item = nil
			return false
		}
	}
	it.item = it.page[it.pos]
	it.pos++
	it.seen++
	return true
}

func (it *Iterator) scrolling() bool { return it.query.ScrollExpire != "" || it.query.ScrollID != "" }

func (it *Iterator) fetch(ctx context.Context) error {
	q := it.query
	switch {
	case it.scrolling() && it.started:
		q = api.Query{ScrollID: it.scrollID}
	case !it.scrolling():
		q.Offset = it.query.Offset + it.seen
	}
	req := it.req
	req.Query = &q
	raw, err := it.d.Do(ctx, &req)
	if err != nil {
		return err
	}
	var p api.Page
	if err := json.Unmarshal(raw, &p); err != nil {
		// The page arrived and is not a list: not retryable (the zero value).
		return errs.Wrap(errs.Network, req.Name(), err, "unreadable list page: %v", err)
	}
	if !it.started {
		it.total = p.Count
		it.started = true
	}
	it.page, it.pos = p.Data, 0
	switch {
	case len(p.Data) == 0:
		it.done = true
	case it.scrolling():
		if p.ScrollID == "" {
			it.done = true // nothing to continue with
		}
		it.scrollID = p.ScrollID
		if it.seen+len(p.Data) >= it.total {
			it.done = true
		}
	default:
		if it.query.Offset+it.seen+len(p.Data) >= it.total {
			it.done = true
		}
	}
	return nil
}

// Item returns the current item (valid after Next returned true).
func (it *Iterator) Item() json.RawMessage { return it.item }

// Total returns the server's count of matching objects, known after the
// first page (0 before).
func (it *Iterator) Total() int { return it.total }

// Err returns the error that stopped the iteration, nil at a normal end.
func (it *Iterator) Err() error { return it.err }
