package sandbox

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// defaultPageSize: every recorded list page without an explicit count holds
// 10 items (spec §3.3).
const defaultPageSize = 10

type sortKey struct {
	path []string
	desc bool
}

// listParams are the list parameters of one request (spec §3.3). preset,
// geo[...], expand and meta are accepted and ignored.
type listParams struct {
	count, offset int
	fields        [][]string
	sort          []sortKey
	q             qnode
	scrollID      string
	scrollExpire  time.Duration // > 0 starts (or extends) a scroll
}

type scroll struct {
	resource string
	ids      []string // the matching objects, sorted, when the scroll began
	pos      int
	total    int
	count    int
	fields   [][]string
	expire   time.Duration
	expires  time.Time
}

func parseListParams(v url.Values) (*listParams, *apiError) {
	p := &listParams{count: defaultPageSize, q: qAll{}}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"count", &p.count}, {"offset", &p.offset}} {
		raw := strings.TrimSpace(v.Get(f.name))
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return nil, errFormat("%s must be a non-negative integer, got %s", f.name, quote(raw))
		}
		*f.dst = n
	}
	p.fields = parseFields(v["fields"])
	keys, aerr := parseSortParams(v)
	if aerr != nil {
		return nil, aerr
	}
	p.sort = keys
	if q := v.Get("q"); q != "" {
		n, err := parseQuery(q)
		if err != nil {
			return nil, errFormat("q: %v", err)
		}
		p.q = n
	}
	p.scrollID = v.Get("scroll_id")
	if raw := strings.TrimSpace(v.Get("scroll_expire")); raw != "" {
		d, ok := parseExpire(raw)
		if !ok {
			return nil, errFormat("scroll_expire must be a duration such as \"5m\" or \"30s\", got %s", quote(raw))
		}
		p.scrollExpire = d
	}
	return p, nil
}

func parseFields(values []string) [][]string {
	var out [][]string
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, strings.Split(f, "."))
			}
		}
	}
	return out
}

// parseSortParams reads "sort=field:order,..." (successor SDK; the REST
// handler also folds the legacy sort[field] keys into it in request order)
// and any remaining sort[field]=order keys, which url.Values cannot order, by
// field name.
func parseSortParams(v url.Values) ([]sortKey, *apiError) {
	var keys []sortKey
	add := func(field, order string) *apiError {
		field = strings.TrimSpace(field)
		switch strings.ToLower(strings.TrimSpace(order)) {
		case "", "asc":
			keys = append(keys, sortKey{path: strings.Split(field, ".")})
		case "desc":
			keys = append(keys, sortKey{path: strings.Split(field, "."), desc: true})
		default:
			return errFormat("sort[%s] must be \"asc\" or \"desc\", got %s", field, quote(order))
		}
		if field == "" {
			return errFormat("sort has an empty field name")
		}
		return nil
	}
	for _, s := range v["sort"] {
		for _, part := range strings.Split(s, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			f, o, _ := strings.Cut(part, ":")
			if e := add(f, o); e != nil {
				return nil, e
			}
		}
	}
	var bracketed []string
	for k := range v {
		if strings.HasPrefix(k, "sort[") && strings.HasSuffix(k, "]") {
			bracketed = append(bracketed, k)
		}
	}
	sort.Strings(bracketed)
	for _, k := range bracketed {
		if e := add(k[len("sort["):len(k)-1], v.Get(k)); e != nil {
			return nil, e
		}
	}
	return keys, nil
}

// parseExpire reads "5m", "30s", "1h30m", "2d" or bare seconds.
func parseExpire(s string) (time.Duration, bool) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second, true
	}
	if strings.HasSuffix(s, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, true
		}
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

// list answers a list request: {"count": total, "data": [...] | null,
// "scroll_id"?}. data is null when empty, as recorded from the real server
// (spec §3.6), so clients normalize it.
func (s *Server) list(resource string, v url.Values) (any, *apiError) {
	p, aerr := parseListParams(v)
	if aerr != nil {
		return nil, aerr
	}
	if p.scrollID != "" {
		return s.continueScroll(resource, p)
	}
	s.mu.Lock()
	objs := s.collection(resource).all()
	s.mu.Unlock()

	matched := objs[:0]
	for _, o := range objs {
		if p.q.match(o) {
			matched = append(matched, o)
		}
	}
	sortObjects(matched, p.sort)
	total := len(matched)

	if p.scrollExpire > 0 {
		// A scroll starts at the beginning: clients suppress offset (spec §3.3).
		if p.count == 0 {
			p.count = defaultPageSize // a scroll of empty pages would never end
		}
		ids := make([]string, len(matched))
		for i, o := range matched {
			ids[i], _ = o["id"].(string)
		}
		sc := &scroll{resource: resource, ids: ids, pos: min(p.count, len(ids)), total: total, count: p.count,
			fields: p.fields, expire: p.scrollExpire, expires: time.Now().Add(p.scrollExpire)}
		id := s.randFrom(lowerAlnum, 40)
		s.mu.Lock()
		s.purgeScrollsLocked(time.Now())
		s.scrolls[id] = sc
		s.mu.Unlock()
		return listBody(total, project(matched[:sc.pos], p.fields), id), nil
	}
	start := min(p.offset, total)
	end := min(start+p.count, total)
	return listBody(total, project(matched[start:end], p.fields), ""), nil
}

// continueScroll returns the next page of a scroll; past the end it returns
// an empty page (the PHP guide loops until one comes back).
func (s *Server) continueScroll(resource string, p *listParams) (any, *apiError) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeScrollsLocked(now)
	sc := s.scrolls[p.scrollID]
	if sc == nil || sc.resource != resource {
		// 400, not 404: Java reads ProductNotFoundException on a list as
		// "empty result" (spec §4.7), which would hide the lost scroll.
		return nil, errFormat("scroll_id is unknown or expired")
	}
	if p.scrollExpire > 0 {
		sc.expire = p.scrollExpire
	}
	sc.expires = now.Add(sc.expire)
	end := min(sc.pos+sc.count, len(sc.ids))
	page := make([]object, 0, end-sc.pos)
	coll := s.collection(resource)
	for _, id := range sc.ids[sc.pos:end] {
		if o, ok := coll.byID[id]; ok { // deleted since the scroll began: skipped
			page = append(page, cloneObject(o))
		}
	}
	sc.pos = end
	return listBody(sc.total, project(page, sc.fields), p.scrollID), nil
}

func (s *Server) purgeScrollsLocked(now time.Time) {
	for id, sc := range s.scrolls {
		if now.After(sc.expires) {
			delete(s.scrolls, id)
		}
	}
}

func listBody(total int, page []object, scrollID string) map[string]any {
	body := map[string]any{"count": total, "data": nil}
	if len(page) > 0 {
		body["data"] = page
	}
	if scrollID != "" {
		body["scroll_id"] = scrollID
	}
	return body
}

// sortObjects sorts stably (ties keep creation order). Missing values sort
// last in either direction; numbers compare numerically and before strings.
func sortObjects(objs []object, keys []sortKey) {
	if len(keys) == 0 {
		return
	}
	sort.SliceStable(objs, func(i, j int) bool {
		for _, k := range keys {
			c := compareValues(firstScalar(objs[i], k.path), firstScalar(objs[j], k.path), k.desc)
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func firstScalar(o object, path []string) any {
	for _, v := range lookupPath(map[string]any(o), path) {
		if _, ok := scalarString(v); ok {
			return v
		}
	}
	return nil
}

// compareValues orders a before b (<0) for the given direction.
func compareValues(a, b any, desc bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	c := 0
	an, aNum := number(a)
	bn, bNum := number(b)
	aNum, bNum = aNum && isNumeric(a), bNum && isNumeric(b)
	switch {
	case aNum && bNum:
		switch {
		case an < bn:
			c = -1
		case an > bn:
			c = 1
		}
	case aNum:
		c = -1
	case bNum:
		c = 1
	default:
		as, _ := scalarString(a)
		bs, _ := scalarString(b)
		c = strings.Compare(strings.ToLower(as), strings.ToLower(bs))
	}
	if desc {
		c = -c
	}
	return c
}

// project keeps only the requested fields (nested a.b allowed). object and
// id are always kept so a client can still tell what it got; the spec says
// only "all other fields are filtered out" (spec §3.3).
func project(objs []object, fields [][]string) []object {
	if len(fields) == 0 {
		return objs
	}
	out := make([]object, len(objs))
	for i, o := range objs {
		out[i] = projectOne(o, fields)
	}
	return out
}

func projectOne(o object, fields [][]string) object {
	p := object{}
	for _, k := range []string{"object", "id"} {
		if v, ok := o[k]; ok {
			p[k] = v
		}
	}
	for _, f := range fields {
		copyPath(o, p, f)
	}
	return p
}

func copyPath(src, dst map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	switch t := v.(type) {
	case map[string]any:
		sub, _ := dst[path[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
		}
		copyPath(t, sub, path[1:])
		dst[path[0]] = sub
	case []any:
		arr, _ := dst[path[0]].([]any)
		if len(arr) != len(t) {
			arr = make([]any, len(t))
		}
		for i, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			sub, _ := arr[i].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
			}
			copyPath(m, sub, path[1:])
			arr[i] = sub
		}
		dst[path[0]] = arr
	}
}
