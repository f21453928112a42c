package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/sandbox/query"
)

// defaultPageSize: every recorded list page without an explicit count holds
// 10 items (spec §3.3).
const defaultPageSize = 10

// Limits of list parameters (the real service's are unknown): far above
// what a client sends, far below what could hurt the sandbox.
const (
	maxSortKeys  = 16
	maxFields    = 256
	maxScrolls   = 1000           // open scrolls; the oldest go first
	maxScrollTTL = 24 * time.Hour // scroll_expire
)

// listBody is the list envelope. Data is null when empty, as recorded
// (spec §3.6), so clients must normalize.
type listBody struct {
	Count    int    `json:"count"`
	Data     []any  `json:"data"`
	ScrollID string `json:"scroll_id,omitempty"`
}

// scroll is a started scrollable list: a snapshot of the matching objects.
type scroll struct {
	items   []object
	pos     int
	count   int
	fields  []string
	ttl     time.Duration
	expires time.Time
}

type sortKeyDir struct {
	path []string
	desc bool
	name string
}

// list answers get-without-id. Parameters the sandbox does not interpret
// (preset, geo[...], expand, meta) are accepted and ignored.
func (s *Server) list(c *call) DispatchResponse {
	q := c.query
	if q == nil {
		q = url.Values{}
	}
	if id := q.Get("scroll_id"); id != "" {
		return s.nextScrollPage(id, q)
	}
	count, resp, ok := s.intParam(q, "count", defaultPageSize)
	if !ok {
		return resp
	}
	offset, resp, ok := s.intParam(q, "offset", 0)
	if !ok {
		return resp
	}
	filter, err := query.Parse(q.Get("q"), query.DefaultLimits)
	if err != nil {
		return s.badRequest(codeBadQuery, "q: "+err.Error())
	}
	keys, resp, ok := s.sortKeys(q)
	if !ok {
		return resp
	}
	fields := splitFields(strings.Join(q["fields"], ","))
	if len(fields) > maxFields {
		return s.badRequest(codeBadQuery, fmt.Sprintf("fields names more than the limit of %d fields", maxFields))
	}

	// Matched outside the lock: a costly q slows only its own request.
	s.mu.Lock()
	all := make([]object, 0, len(c.coll.order))
	for _, id := range c.coll.order {
		all = append(all, cloneObject(c.coll.items[id]))
	}
	s.mu.Unlock()
	items := all
	if filter != nil {
		items = nil
		budget := query.Budget{Steps: s.querySteps}
		for _, o := range all {
			if filter.Match(o, &budget) {
				items = append(items, o)
			}
			if budget.Exceeded {
				return s.badRequest(codeBadQuery, fmt.Sprintf("q: matching needs more than the limit of %d steps; use fewer wildcards", s.querySteps))
			}
		}
	}
	sortObjects(items, keys)

	if exp := q.Get("scroll_expire"); exp != "" {
		ttl, err := parseScrollExpire(exp)
		if err != nil {
			return s.badRequest(codeBadQuery, "scroll_expire: "+err.Error())
		}
		sc := &scroll{items: items, pos: min(offset, len(items)), count: count, fields: fields, ttl: ttl}
		id := randomHex(20)
		page := sc.next(s.now())
		s.mu.Lock()
		s.pruneScrollsLocked()
		s.scrolls[id] = sc
		s.mu.Unlock()
		return s.reply(listBody{Count: len(items), Data: project(page, fields), ScrollID: id})
	}
	lo := min(offset, len(items))
	hi := min(lo+count, len(items))
	return s.reply(listBody{Count: len(items), Data: project(items[lo:hi], fields)})
}

func (sc *scroll) next(now time.Time) []object {
	lo := sc.pos
	hi := min(lo+sc.count, len(sc.items))
	sc.pos = hi
	sc.expires = now.Add(sc.ttl)
	return sc.items[lo:hi]
}

// nextScrollPage continues a scroll; an exhausted scroll answers empty pages
// until it expires (the PHP guide loops until an empty page, spec §3.3).
func (s *Server) nextScrollPage(id string, q url.Values) DispatchResponse {
	s.mu.Lock()
	sc, ok := s.scrolls[id]
	now := s.now()
	if ok && !now.Before(sc.expires) {
		delete(s.scrolls, id)
		ok = false
	}
	if !ok {
		s.mu.Unlock()
		// 400, not 404: Java treats ProductNotFoundException on a list as an
		// empty result and would silently stop paging.
		return s.envelope(http.StatusBadRequest, excFormat, codeNoScroll,
			"scroll_id is unknown or expired; start a new scroll with scroll_expire", "The list has expired. Please reload it.")
	}
	if exp := q.Get("scroll_expire"); exp != "" {
		if ttl, err := parseScrollExpire(exp); err == nil {
			sc.ttl = ttl
		}
	}
	if n, err := strconv.Atoi(q.Get("count")); err == nil && n >= 0 {
		sc.count = n
	}
	page := sc.next(now)
	body := listBody{Count: len(sc.items), Data: project(page, sc.fields), ScrollID: id}
	s.mu.Unlock()
	return s.reply(body)
}

// pruneScrollsLocked forgets expired scrolls and, beyond maxScrolls open
// ones, those that expire first.
func (s *Server) pruneScrollsLocked() {
	now := s.now()
	for id, sc := range s.scrolls {
		if !now.Before(sc.expires) {
			delete(s.scrolls, id)
		}
	}
	for len(s.scrolls) >= maxScrolls {
		first := ""
		for id, sc := range s.scrolls {
			if first == "" || sc.expires.Before(s.scrolls[first].expires) {
				first = id
			}
		}
		delete(s.scrolls, first)
	}
}

// parseScrollExpire reads Elasticsearch-style durations ("30s", "5m", "1h",
// "1d") and Go durations.
func parseScrollExpire(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	if err != nil && strings.HasSuffix(v, "d") {
		if n, aerr := strconv.Atoi(strings.TrimSuffix(v, "d")); aerr == nil && n > 0 && n <= 365 {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	switch {
	case err != nil || d <= 0:
		return 0, fmt.Errorf("must be a positive duration such as 30s, 5m or 1h, got %q", v)
	case d > maxScrollTTL:
		return 0, fmt.Errorf("%s is more than the limit of %s", v, maxScrollTTL)
	}
	return d, nil
}

func (s *Server) intParam(q url.Values, name string, def int) (int, DispatchResponse, bool) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, DispatchResponse{}, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s.badRequest(codeBadQuery, fmt.Sprintf("%s must be a non-negative integer, got %q", name, v)), false
	}
	// count=0 is taken literally (only the total comes back); the real
	// server's reading is unknown.
	return n, DispatchResponse{}, true
}

// sortKeys reads sort=a:asc,b:desc (ordered) and sort[a]=asc keys (url.Values
// has no order: several of those sort by field name).
func (s *Server) sortKeys(q url.Values) ([]sortKeyDir, DispatchResponse, bool) {
	var pairs [][2]string
	for _, v := range q["sort"] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			f, d, _ := strings.Cut(part, ":")
			pairs = append(pairs, [2]string{f, d})
		}
	}
	var bracketed []string
	for k := range q {
		if f, ok := sortKey(k); ok {
			bracketed = append(bracketed, f)
		}
	}
	sort.Strings(bracketed)
	for _, f := range bracketed {
		pairs = append(pairs, [2]string{f, q.Get("sort[" + f + "]")})
	}
	if len(pairs) > maxSortKeys {
		return nil, s.badRequest(codeBadQuery, fmt.Sprintf("sort names more than the limit of %d fields", maxSortKeys)), false
	}
	var out []sortKeyDir
	for _, p := range pairs {
		f, d := strings.TrimSpace(p[0]), strings.ToLower(strings.TrimSpace(p[1]))
		if f == "" {
			return nil, s.badRequest(codeBadQuery, "sort needs a field name"), false
		}
		switch d {
		case "", "asc":
			out = append(out, sortKeyDir{path: strings.Split(f, "."), name: f})
		case "desc":
			out = append(out, sortKeyDir{path: strings.Split(f, "."), desc: true, name: f})
		default:
			return nil, s.badRequest(codeBadQuery, fmt.Sprintf("sort[%s] must be asc or desc, got %q", f, p[1])), false
		}
	}
	return out, DispatchResponse{}, true
}

// sortObjects sorts stably; objects missing a field come last either way.
func sortObjects(items []object, keys []sortKeyDir) {
	if len(keys) == 0 {
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		for _, k := range keys {
			a, aok := firstValue(items[i], k.path)
			b, bok := firstValue(items[j], k.path)
			switch {
			case !aok && !bok:
				continue
			case !aok:
				return false
			case !bok:
				return true
			}
			c := compareValues(a, b)
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

// compareValues orders numbers numerically, then everything else as text.
func compareValues(a, b any) int {
	fa, aNum := numberOf(a)
	fb, bNum := numberOf(b)
	if aNum && bNum {
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	}
	if aNum != bNum { // numbers before text
		if aNum {
			return -1
		}
		return 1
	}
	return strings.Compare(strings.ToLower(query.Text(a)), strings.ToLower(query.Text(b)))
}

func numberOf(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// firstValue returns the first scalar at path (arrays on the way: first
// element that has it).
func firstValue(o object, path []string) (any, bool) {
	vals := query.Values(map[string]any(o), path)
	if len(vals) == 0 {
		return nil, false
	}
	return vals[0], true
}

func splitFields(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// project keeps only the named fields (nested as a.b). "object" and "id" are
// always kept: a client needs the id to address the object and the object
// name to type it; whether the real server keeps them is unknown.
func project(items []object, fields []string) []any {
	if len(items) == 0 {
		return nil
	}
	out := make([]any, len(items))
	for i, o := range items {
		if len(fields) == 0 {
			out[i] = o
			continue
		}
		paths := [][]string{{"object"}, {"id"}}
		for _, f := range fields {
			paths = append(paths, strings.Split(f, "."))
		}
		out[i] = object(projectMap(o, paths))
	}
	return out
}

func projectMap(m map[string]any, paths [][]string) map[string]any {
	groups := map[string][][]string{}
	whole := map[string]bool{}
	for _, p := range paths {
		if len(p) == 1 {
			whole[p[0]] = true
		} else {
			groups[p[0]] = append(groups[p[0]], p[1:])
		}
	}
	out := map[string]any{}
	for k, v := range m {
		if whole[k] {
			out[k] = v
			continue
		}
		sub, ok := groups[k]
		if !ok {
			continue
		}
		switch t := v.(type) {
		case map[string]any:
			out[k] = projectMap(t, sub)
		case []any:
			a := make([]any, 0, len(t))
			for _, e := range t {
				if em, ok := e.(map[string]any); ok {
					a = append(a, projectMap(em, sub))
				}
			}
			out[k] = a
		}
	}
	return out
}
