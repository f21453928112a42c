package sandbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// The q query language (spec §3.3, successor javadoc):
//
//	expr    = or
//	or      = and { OR and }
//	and     = unary { [AND] unary }     adjacent terms are ANDed (Lucene's default operator is OR;
//	                                    AND is the reading that never widens a POS lookup)
//	unary   = NOT unary | primary
//	primary = "(" expr ")" | field ":" value | value
//	value   = word | "quoted phrase" | "[" bound TO bound "]" | "(" expr ")"
//
// AND, OR, NOT and TO are case-insensitive. Words may use * and ? wildcards.
// A value without a field matches any field. Matching is case-insensitive; a
// word matches a whole field value or one of its space-separated words, a
// phrase matches a substring. Ranges are inclusive, numeric when both bounds
// are numbers, lexical otherwise; * is an open bound. There is no escaping.

type qnode interface {
	match(obj map[string]any) bool
}

type qAnd struct{ l, r qnode }
type qOr struct{ l, r qnode }
type qNot struct{ e qnode }
type qTerm struct {
	path   []string // nil: any field
	value  string
	phrase bool
}
type qRange struct {
	path   []string
	lo, hi string // "*" = open
}

func (n qAnd) match(o map[string]any) bool { return n.l.match(o) && n.r.match(o) }
func (n qOr) match(o map[string]any) bool  { return n.l.match(o) || n.r.match(o) }
func (n qNot) match(o map[string]any) bool { return !n.e.match(o) }

func (n qTerm) match(o map[string]any) bool {
	for _, v := range fieldValues(o, n.path) {
		if termMatches(v, n.value, n.phrase) {
			return true
		}
	}
	return false
}

func (n qRange) match(o map[string]any) bool {
	for _, v := range fieldValues(o, n.path) {
		if rangeMatches(v, n.lo, n.hi) {
			return true
		}
	}
	return false
}

// fieldValues returns the scalars at path, or every scalar for a nil path.
func fieldValues(o map[string]any, path []string) []any {
	if path != nil {
		return valuesAt(o, path)
	}
	var out []any
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		case object:
			walk(map[string]any(t))
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

func termMatches(v any, pattern string, phrase bool) bool {
	if v == nil {
		return false
	}
	if _, isMap := v.(map[string]any); isMap {
		return false
	}
	text := strings.ToLower(scalarText(v))
	p := strings.ToLower(pattern)
	if phrase {
		return strings.Contains(text, p)
	}
	if n, ok := v.(json.Number); ok && !strings.ContainsAny(p, "*?") {
		if pf, err := strconv.ParseFloat(p, 64); err == nil {
			nf, err := n.Float64()
			return err == nil && nf == pf
		}
	}
	if glob(p, text) {
		return true
	}
	for _, word := range strings.Fields(text) {
		if glob(p, word) {
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
	text := strings.ToLower(scalarText(v))
	return (lo == "*" || text >= strings.ToLower(lo)) && (hi == "*" || text <= strings.ToLower(hi))
}

// glob matches * (any run) and ? (one character) against s.
func glob(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(t) {
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

// Tokens.
type qtokKind int

const (
	tEOF qtokKind = iota
	tLParen
	tRParen
	tLBracket
	tRBracket
	tWord
	tPhrase
	tAnd
	tOr
	tNot
)

type qtok struct {
	kind qtokKind
	text string // word or phrase text
	pos  int    // 1-based character position, for messages
}

func (t qtok) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the query"
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	case tLBracket:
		return `"["`
	case tRBracket:
		return `"]"`
	case tPhrase:
		return fmt.Sprintf("%q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func tokenize(q string) ([]qtok, error) {
	var toks []qtok
	rs := []rune(q)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			toks = append(toks, qtok{kind: tLParen, pos: i + 1})
			i++
		case c == ')':
			toks = append(toks, qtok{kind: tRParen, pos: i + 1})
			i++
		case c == '[':
			toks = append(toks, qtok{kind: tLBracket, pos: i + 1})
			i++
		case c == ']':
			toks = append(toks, qtok{kind: tRBracket, pos: i + 1})
			i++
		case c == '"':
			start := i
			i++
			var b strings.Builder
			for i < len(rs) && rs[i] != '"' {
				b.WriteRune(rs[i])
				i++
			}
			if i >= len(rs) {
				return nil, fmt.Errorf("syntax error at position %d: unterminated quoted phrase", start+1)
			}
			i++
			toks = append(toks, qtok{kind: tPhrase, text: b.String(), pos: start + 1})
		default:
			start := i
			for i < len(rs) && !unicode.IsSpace(rs[i]) && !strings.ContainsRune(`()[]"`, rs[i]) {
				i++
			}
			w := string(rs[start:i])
			kind := tWord
			switch strings.ToUpper(w) {
			case "AND", "&&":
				kind = tAnd
			case "OR", "||":
				kind = tOr
			case "NOT":
				kind = tNot
			}
			toks = append(toks, qtok{kind: kind, text: w, pos: start + 1})
		}
	}
	return append(toks, qtok{kind: tEOF, pos: len(rs) + 1}), nil
}

type qparser struct {
	toks []qtok
	i    int
}

func (p *qparser) peek() qtok { return p.toks[p.i] }
func (p *qparser) next() qtok {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *qparser) errorf(t qtok, format string, args ...any) error {
	return fmt.Errorf("syntax error at position %d: %s", t.pos, fmt.Sprintf(format, args...))
}

// parseQuery parses q; an empty q is no filter (nil).
func parseQuery(q string) (qnode, error) {
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &qparser{toks: toks}
	n, err := p.or(nil)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "unexpected %s", t.describe())
	}
	return n, nil
}

func (p *qparser) or(field []string) (qnode, error) {
	l, err := p.and(field)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		r, err := p.and(field)
		if err != nil {
			return nil, err
		}
		l = qOr{l, r}
	}
	return l, nil
}

func startsUnary(k qtokKind) bool {
	return k == tNot || k == tLParen || k == tWord || k == tPhrase || k == tLBracket
}

func (p *qparser) and(field []string) (qnode, error) {
	l, err := p.unary(field)
	if err != nil {
		return nil, err
	}
	for {
		switch t := p.peek(); {
		case t.kind == tAnd:
			p.next()
		case startsUnary(t.kind):
			// implicit AND between adjacent terms
		default:
			return l, nil
		}
		r, err := p.unary(field)
		if err != nil {
			return nil, err
		}
		l = qAnd{l, r}
	}
}

func (p *qparser) unary(field []string) (qnode, error) {
	if p.peek().kind == tNot {
		p.next()
		e, err := p.unary(field)
		if err != nil {
			return nil, err
		}
		return qNot{e}, nil
	}
	return p.primary(field)
}

func (p *qparser) primary(field []string) (qnode, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		return p.group(field)
	case tPhrase:
		return qTerm{path: field, value: t.text, phrase: true}, nil
	case tLBracket:
		if field == nil {
			return nil, p.errorf(t, "a range needs a field, e.g. amount:[10 TO 20]")
		}
		return p.rangeRest(field, t)
	case tWord:
		name, value, hasField := strings.Cut(t.text, ":")
		if !hasField {
			return p.word(field, t)
		}
		if name == "" {
			return nil, p.errorf(t, "missing field name before \":\"")
		}
		path := strings.Split(name, ".")
		for _, seg := range path {
			if seg == "" {
				return nil, p.errorf(t, "empty segment in field name %q", name)
			}
		}
		if value != "" {
			return qTerm{path: path, value: value}, nil
		}
		switch v := p.next(); v.kind {
		case tPhrase:
			return qTerm{path: path, value: v.text, phrase: true}, nil
		case tLBracket:
			return p.rangeRest(path, v)
		case tLParen:
			return p.group(path)
		default:
			return nil, p.errorf(v, "expected a value after %q, found %s", t.text, v.describe())
		}
	case tEOF:
		return nil, p.errorf(t, "expected a term, found the end of the query")
	}
	return nil, p.errorf(t, "expected a term, found %s", t.describe())
}

func (p *qparser) word(field []string, t qtok) (qnode, error) {
	return qTerm{path: field, value: t.text}, nil
}

func (p *qparser) group(field []string) (qnode, error) {
	e, err := p.or(field)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRParen {
		return nil, p.errorf(t, "expected \")\", found %s", t.describe())
	}
	return e, nil
}

// rangeRest parses "lo TO hi]" after "[".
func (p *qparser) rangeRest(path []string, open qtok) (qnode, error) {
	bound := func() (string, error) {
		t := p.next()
		if t.kind == tWord || t.kind == tPhrase {
			return t.text, nil
		}
		return "", p.errorf(t, "expected a range bound, found %s", t.describe())
	}
	lo, err := bound()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tWord || !strings.EqualFold(t.text, "TO") {
		return nil, p.errorf(t, "expected TO in the range opened at position %d, found %s", open.pos, t.describe())
	}
	hi, err := bound()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRBracket {
		return nil, p.errorf(t, "expected \"]\" to close the range opened at position %d, found %s", open.pos, t.describe())
	}
	return qRange{path: path, lo: lo, hi: hi}, nil
}
