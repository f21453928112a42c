// Package query is the q language of list calls (spec §3.3, from the
// successor SDK's javadoc):
//
//	expr    = or
//	or      = and { OR and }
//	and     = unary { [AND] unary }     adjacent terms are ANDed (Lucene's default operator is OR;
//	                                    AND is the reading that never widens a POS lookup)
//	unary   = NOT unary | primary
//	primary = "(" expr ")" | field ":" value | value
//	value   = word | "quoted phrase" | "[" bound TO bound "]" | "(" expr ")"
//
// AND, OR, NOT and TO are case-insensitive (&& and || too). Words may use *
// and ? wildcards. A value without a field matches any field. Matching is
// case-insensitive; a word matches a whole field value or one of its
// space-separated words, a phrase matches a substring. Ranges are
// inclusive, numeric when both bounds are numbers, lexical otherwise; * is
// an open bound. There is no escaping.
//
// The real service's limits are unknown. A sandbox must not fall over on
// hostile input, so a query is bounded (Limits) and so is the work of
// matching it (Budget); either answers with an error naming the limit.
package query

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Query is a parsed q. The zero value is not usable; Parse returns nil for
// an empty q (no filter).
type Query struct {
	root node
}

// String renders the query canonically: AND and OR written out, chains
// flattened, parentheses only where precedence needs them (so never deeper
// than the query as written), the field spelled out on every term. Parsing
// it gives a query with the same String.
func (q *Query) String() string { return q.root.String() }

// Budget bounds the work of matching one request's objects. Every
// character comparison of a wildcard match and every value a term looks at
// costs one step.
type Budget struct {
	Steps    int  // steps left
	Exceeded bool // set once Steps ran out; Match then answers false
}

// DefaultSteps is the matching work one list request may do: well above
// any sensible query over the sandbox's few thousand objects, well below a
// second of CPU.
const DefaultSteps = 20_000_000

func (b *Budget) spend(n int) bool {
	if b.Exceeded {
		return false
	}
	b.Steps -= n
	if b.Steps < 0 {
		b.Exceeded = true
		return false
	}
	return true
}

// Match reports whether obj satisfies q. Once b is exceeded it answers
// false; the caller checks b.Exceeded and refuses the request.
func (q *Query) Match(obj map[string]any, b *Budget) bool {
	return q.root.match(obj, b) && !b.Exceeded
}

type node interface {
	match(obj map[string]any, b *Budget) bool
	String() string
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ e node }
type termNode struct {
	path   []string // nil: any field
	value  string
	phrase bool
}
type rangeNode struct {
	path           []string
	lo, hi         string // "*" = open
	loQuot, hiQuot bool   // written as phrases
}

func (n andNode) match(o map[string]any, b *Budget) bool { return n.l.match(o, b) && n.r.match(o, b) }
func (n orNode) match(o map[string]any, b *Budget) bool  { return n.l.match(o, b) || n.r.match(o, b) }
func (n notNode) match(o map[string]any, b *Budget) bool { return !n.e.match(o, b) && !b.Exceeded }

func (n termNode) match(o map[string]any, b *Budget) bool {
	for _, v := range fieldValues(o, n.path) {
		if !b.spend(1) {
			return false
		}
		if termMatches(v, n.value, n.phrase, b) {
			return true
		}
	}
	return false
}

func (n rangeNode) match(o map[string]any, b *Budget) bool {
	for _, v := range fieldValues(o, n.path) {
		if !b.spend(1) {
			return false
		}
		if rangeMatches(v, n.lo, n.hi) {
			return true
		}
	}
	return false
}

func (n andNode) String() string {
	var parts []string
	for _, op := range flatten(n) {
		if _, isOr := op.(orNode); isOr {
			parts = append(parts, "("+op.String()+")")
		} else {
			parts = append(parts, op.String())
		}
	}
	return strings.Join(parts, " AND ")
}

func (n orNode) String() string {
	var parts []string
	for _, op := range flatten(n) {
		parts = append(parts, op.String())
	}
	return strings.Join(parts, " OR ")
}

func (n notNode) String() string {
	switch n.e.(type) {
	case andNode, orNode:
		return "NOT (" + n.e.String() + ")"
	}
	return "NOT " + n.e.String()
}

// flatten lists the operands of a chain of the same operator.
func flatten(n node) []node {
	switch t := n.(type) {
	case andNode:
		if _, ok := t.l.(andNode); ok {
			return append(flatten(t.l), flattenSame(t.r, t)...)
		}
		return append([]node{t.l}, flattenSame(t.r, t)...)
	case orNode:
		if _, ok := t.l.(orNode); ok {
			return append(flatten(t.l), flattenSame(t.r, t)...)
		}
		return append([]node{t.l}, flattenSame(t.r, t)...)
	}
	return []node{n}
}

// flattenSame flattens n when it is the same operator as parent.
func flattenSame(n, parent node) []node {
	switch parent.(type) {
	case andNode:
		if _, ok := n.(andNode); ok {
			return flatten(n)
		}
	case orNode:
		if _, ok := n.(orNode); ok {
			return flatten(n)
		}
	}
	return []node{n}
}

func (n termNode) String() string {
	return fieldPrefix(n.path) + quoteIf(n.value, n.phrase)
}

func (n rangeNode) String() string {
	return fieldPrefix(n.path) + "[" + quoteIf(n.lo, n.loQuot) + " TO " + quoteIf(n.hi, n.hiQuot) + "]"
}

func fieldPrefix(path []string) string {
	if path == nil {
		return ""
	}
	return strings.Join(path, ".") + ":"
}

func quoteIf(s string, quoted bool) string {
	if quoted {
		return `"` + s + `"`
	}
	return s
}

// fieldValues returns the scalars at path, or every scalar for a nil path.
func fieldValues(o map[string]any, path []string) []any {
	if path != nil {
		return Values(o, path)
	}
	var out []any
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		default:
			out = append(out, v)
		}
	}
	walk(o)
	return out
}

func termMatches(v any, pattern string, phrase bool, b *Budget) bool {
	if v == nil {
		return false
	}
	if _, isMap := v.(map[string]any); isMap {
		return false
	}
	text := strings.ToLower(Text(v))
	p := strings.ToLower(pattern)
	if !b.spend(len(text)) {
		return false
	}
	if phrase {
		return strings.Contains(text, p)
	}
	if n, ok := v.(json.Number); ok && !strings.ContainsAny(p, "*?") {
		if pf, err := strconv.ParseFloat(p, 64); err == nil {
			nf, err := n.Float64()
			return err == nil && nf == pf
		}
	}
	if glob(p, text, b) {
		return true
	}
	for _, word := range strings.Fields(text) {
		if glob(p, word, b) {
			return true
		}
	}
	return false
}

func rangeMatches(v any, lo, hi string) bool {
	if v == nil {
		return false
	}
	loNum, loErr := strconv.ParseFloat(lo, 64)
	hiNum, hiErr := strconv.ParseFloat(hi, 64)
	numeric := (lo == "*" || loErr == nil) && (hi == "*" || hiErr == nil) && !(lo == "*" && hi == "*")
	if numeric {
		var f float64
		switch t := v.(type) {
		case json.Number:
			x, err := t.Float64()
			if err != nil {
				return false
			}
			f = x
		case string:
			x, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return false
			}
			f = x
		default:
			return false
		}
		return (lo == "*" || f >= loNum) && (hi == "*" || f <= hiNum)
	}
	text := strings.ToLower(Text(v))
	return (lo == "*" || text >= strings.ToLower(lo)) && (hi == "*" || text <= strings.ToLower(hi))
}

// glob matches * (any run) and ? (one character) against s. With
// backtracking over a long text a pattern of many stars is quadratic; every
// 1024 steps cost as much of b, which turns that into an error.
func glob(pattern, s string, b *Budget) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0
	for n := 1; ti < len(t); n++ {
		if n%1024 == 0 && !b.spend(1024) {
			return false
		}
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Values collects every value at path in v, descending into arrays on the
// way (idents.type matches any ident's type). A key that is not there
// exactly is looked up case-insensitively: a query written as merchantref
// should still find merchantRef.
func Values(v any, path []string) []any {
	if len(path) == 0 {
		if a, ok := v.([]any); ok {
			var out []any
			for _, e := range a {
				out = append(out, Values(e, nil)...)
			}
			return out
		}
		return []any{v}
	}
	switch t := v.(type) {
	case map[string]any:
		next, ok := t[path[0]]
		if !ok {
			for k, e := range t {
				if strings.EqualFold(k, path[0]) {
					next, ok = e, true
					break
				}
			}
		}
		if !ok {
			return nil
		}
		return Values(next, path[1:])
	case []any:
		var out []any
		for _, e := range t {
			out = append(out, Values(e, path)...)
		}
		return out
	}
	return nil
}

// Text renders a scalar as the text queries and sorting compare.
func Text(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
