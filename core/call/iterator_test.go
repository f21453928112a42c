package call

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// pager is a fake list endpoint over n items with ids it0..itN-1. It serves
// offset paging and scroll paging, reporting count as the total (or
// claimTotal when set, to mimic a server whose count is off).
type pager struct {
	n, claimTotal int
	failAt        int // 1-based call that fails, 0 = never
	calls         []api.Query
}

func (p *pager) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	q := api.Query{}
	if req.Query != nil {
		q = *req.Query
	}
	p.calls = append(p.calls, q)
	if len(p.calls) == p.failAt {
		return nil, errs.New(errs.Network, req.Name(), "network error: connection reset")
	}
	size := 10
	if q.Count != nil {
		size = *q.Count
	}
	start, scrollID := q.Offset, ""
	switch {
	case q.ScrollID != "":
		start, _ = strconv.Atoi(strings.TrimPrefix(q.ScrollID, "pos-"))
		scrollID = fmt.Sprintf("pos-%d", start+size)
	case q.ScrollExpire != "":
		start = 0 // scroll_expire suppresses offset
		scrollID = fmt.Sprintf("pos-%d", start+size)
	}
	page := api.Page{Count: p.n, Data: []json.RawMessage{}, ScrollID: scrollID}
	if p.claimTotal > 0 {
		page.Count = p.claimTotal
	}
	for i := start; i < start+size && i < p.n; i++ {
		page.Data = append(page.Data, json.RawMessage(fmt.Sprintf(`{"id":"it%d"}`, i)))
	}
	return json.Marshal(page)
}

func drain(t *testing.T, it *Iterator) []string {
	t.Helper()
	var ids []string
	for it.Next(context.Background()) {
		var v struct{ ID string }
		require.NoError(t, json.Unmarshal(it.Item(), &v))
		ids = append(ids, v.ID)
	}
	return ids
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("it%d", i))
	}
	return out
}

func TestIteratorOffsetPaging(t *testing.T) {
	p := &pager{n: 25}
	it := NewIterator(p, &api.Request{Resource: "smart.transactions", Op: api.List, Query: &api.Query{Q: "status:ok"}})
	assert.Equal(t, 0, it.Total(), "unknown before the first page")
	assert.Equal(t, ids(0, 25), drain(t, it))
	require.NoError(t, it.Err())
	assert.Equal(t, 25, it.Total())
	require.Len(t, p.calls, 3, "stops at the total without asking for an empty page")
	for i, q := range p.calls {
		assert.Equal(t, i*10, q.Offset)
		assert.Equal(t, "status:ok", q.Q, "filters go with every page")
	}
	assert.False(t, it.Next(context.Background()), "stays exhausted")
}

func TestIteratorStartsAtCallersOffset(t *testing.T) {
	p := &pager{n: 25}
	it := NewIterator(p, &api.Request{Resource: "smart.transactions", Op: api.List, Query: &api.Query{Offset: 5, Count: intp(10)}})
	assert.Equal(t, ids(5, 25), drain(t, it))
	require.NoError(t, it.Err())
	require.Len(t, p.calls, 2)
	assert.Equal(t, []int{5, 15}, []int{p.calls[0].Offset, p.calls[1].Offset})
}

func TestIteratorScrollPaging(t *testing.T) {
	p := &pager{n: 23}
	it := NewIterator(p, &api.Request{Resource: "smart.transactions", Op: api.List,
		Query: &api.Query{ScrollExpire: "5m", Count: intp(10), Sort: []api.SortField{{Field: "id", Order: "asc"}}}})
	assert.Equal(t, ids(0, 23), drain(t, it))
	require.NoError(t, it.Err())
	assert.Equal(t, 23, it.Total())
	require.Len(t, p.calls, 3)
	assert.Equal(t, "5m", p.calls[0].ScrollExpire, "the first call starts the scroll")
	assert.Equal(t, []api.SortField{{Field: "id", Order: "asc"}}, p.calls[0].Sort)
	assert.Equal(t, api.Query{ScrollID: "pos-10"}, p.calls[1], "later calls carry only the scroll id")
	assert.Equal(t, api.Query{ScrollID: "pos-20"}, p.calls[2])
}

func TestIteratorStopsAtEmptyPage(t *testing.T) {
	for _, scroll := range []bool{false, true} {
		t.Run(fmt.Sprintf("scroll=%v", scroll), func(t *testing.T) {
			p := &pager{n: 12, claimTotal: 1000} // the server overstates its count
			q := &api.Query{}
			if scroll {
				q.ScrollExpire = "1m"
			}
			it := NewIterator(p, &api.Request{Resource: "smart.idents", Op: api.List, Query: q})
			assert.Equal(t, ids(0, 12), drain(t, it))
			require.NoError(t, it.Err())
			assert.Len(t, p.calls, 3, "two pages with items, then an empty page ends it")
		})
	}
}

func TestIteratorStopsAtError(t *testing.T) {
	p := &pager{n: 30, failAt: 2}
	it := NewIterator(p, &api.Request{Resource: "smart.transactions", Op: api.List})
	assert.Equal(t, ids(0, 10), drain(t, it), "the first page is delivered")
	e := asErr(t, it.Err())
	assert.Equal(t, errs.Network, e.Kind)
	assert.Nil(t, it.Item())
	assert.False(t, it.Next(context.Background()))
	assert.Len(t, p.calls, 2, "no call after the error")
}

func TestIteratorRejectsNonList(t *testing.T) {
	it := NewIterator(&pager{}, &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"})
	assert.False(t, it.Next(context.Background()))
	e := asErr(t, it.Err())
	assert.Equal(t, errs.InvalidArgument, e.Kind)
	assert.Equal(t, "op", e.Field)
}
