package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits bound a query. The real service's are unknown; these are far above
// any query a till sends and far below what could hurt the sandbox.
type Limits struct {
	MaxLen     int // characters of q
	MaxDepth   int // nesting of parentheses, NOT and field groups
	MaxTerms   int // terms and ranges
	MaxTermLen int // characters of one word, phrase or range bound
}

// DefaultLimits are the sandbox's limits.
var DefaultLimits = Limits{MaxLen: 4096, MaxDepth: 32, MaxTerms: 128, MaxTermLen: 256}

// Error is a refused q. Limit names the limit it broke ("" for a syntax
// error); Pos is the 1-based character position, 0 when the whole query is
// at fault.
type Error struct {
	Pos   int
	Limit string
	Msg   string
}

func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("syntax error at position %d: %s", e.Pos, e.Msg)
	}
	return e.Msg
}

// Parse parses q within lim; an empty q is no filter (nil, nil).
func Parse(q string, lim Limits) (*Query, error) {
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	// Counted in characters; the byte length bounds the work of counting.
	if len(q) > 4*lim.MaxLen || utf8.RuneCountInString(q) > lim.MaxLen {
		return nil, &Error{Limit: "length", Msg: fmt.Sprintf("q is longer than the limit of %d characters", lim.MaxLen)}
	}
	toks, err := tokenize(q, lim)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, lim: lim}
	n, err := p.or(nil)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errorf(t, "unexpected %s", t.describe())
	}
	return &Query{root: n}, nil
}

type tokKind int

const (
	tEOF tokKind = iota
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

type token struct {
	kind tokKind
	text string // word or phrase text
	pos  int    // 1-based character position, for messages
}

func (t token) describe() string {
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
	}
	return fmt.Sprintf("%q", t.text)
}

func tokenize(q string, lim Limits) ([]token, error) {
	var toks []token
	rs := []rune(q)
	long := func(pos int) error {
		return &Error{Pos: pos, Limit: "term length", Msg: fmt.Sprintf("a term is longer than the limit of %d characters", lim.MaxTermLen)}
	}
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			toks = append(toks, token{kind: tLParen, pos: i + 1})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, pos: i + 1})
			i++
		case c == '[':
			toks = append(toks, token{kind: tLBracket, pos: i + 1})
			i++
		case c == ']':
			toks = append(toks, token{kind: tRBracket, pos: i + 1})
			i++
		case c == '"':
			start := i
			i++
			for i < len(rs) && rs[i] != '"' {
				i++
			}
			if i >= len(rs) {
				return nil, &Error{Pos: start + 1, Msg: "unterminated quoted phrase"}
			}
			if i-start-1 > lim.MaxTermLen {
				return nil, long(start + 1)
			}
			toks = append(toks, token{kind: tPhrase, text: string(rs[start+1 : i]), pos: start + 1})
			i++
		default:
			start := i
			for i < len(rs) && !unicode.IsSpace(rs[i]) && !strings.ContainsRune(`()[]"`, rs[i]) {
				i++
			}
			if i-start > lim.MaxTermLen {
				return nil, long(start + 1)
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
			toks = append(toks, token{kind: kind, text: w, pos: start + 1})
		}
	}
	return append(toks, token{kind: tEOF, pos: len(rs) + 1}), nil
}

// parser is a recursive-descent parser whose recursion is bounded by
// MaxDepth: a q of many "(" or NOT fails at the limit instead of growing
// the stack.
type parser struct {
	toks  []token
	i     int
	lim   Limits
	depth int
	terms int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &Error{Pos: t.pos, Msg: fmt.Sprintf(format, args...)}
}

// enter opens one nesting level at t.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > p.lim.MaxDepth {
		return &Error{Pos: t.pos, Limit: "depth", Msg: fmt.Sprintf("q nests deeper than the limit of %d levels", p.lim.MaxDepth)}
	}
	return nil
}

// term counts one term or range at t.
func (p *parser) term(t token) error {
	p.terms++
	if p.terms > p.lim.MaxTerms {
		return &Error{Pos: t.pos, Limit: "terms", Msg: fmt.Sprintf("q has more than the limit of %d terms", p.lim.MaxTerms)}
	}
	return nil
}

func (p *parser) or(field []string) (node, error) {
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
		l = orNode{l, r}
	}
	return l, nil
}

func startsUnary(k tokKind) bool {
	return k == tNot || k == tLParen || k == tWord || k == tPhrase || k == tLBracket
}

func (p *parser) and(field []string) (node, error) {
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
		l = andNode{l, r}
	}
}

func (p *parser) unary(field []string) (node, error) {
	if t := p.peek(); t.kind == tNot {
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		e, err := p.unary(field)
		if err != nil {
			return nil, err
		}
		p.depth--
		return notNode{e}, nil
	}
	return p.primary(field)
}

func (p *parser) primary(field []string) (node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		return p.group(field, t)
	case tPhrase:
		if err := p.term(t); err != nil {
			return nil, err
		}
		return termNode{path: field, value: t.text, phrase: true}, nil
	case tLBracket:
		if field == nil {
			return nil, p.errorf(t, "a range needs a field, e.g. amount:[10 TO 20]")
		}
		return p.rangeRest(field, t)
	case tWord:
		name, value, hasField := strings.Cut(t.text, ":")
		if !hasField {
			if err := p.term(t); err != nil {
				return nil, err
			}
			return termNode{path: field, value: t.text}, nil
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
			if err := p.term(t); err != nil {
				return nil, err
			}
			return termNode{path: path, value: value}, nil
		}
		switch v := p.next(); v.kind {
		case tPhrase:
			if err := p.term(v); err != nil {
				return nil, err
			}
			return termNode{path: path, value: v.text, phrase: true}, nil
		case tLBracket:
			return p.rangeRest(path, v)
		case tLParen:
			return p.group(path, v)
		default:
			return nil, p.errorf(v, "expected a value after %q, found %s", t.text, v.describe())
		}
	case tEOF:
		return nil, p.errorf(t, "expected a term, found the end of the query")
	}
	return nil, p.errorf(t, "expected a term, found %s", t.describe())
}

// group parses "expr )" after "(" (open).
func (p *parser) group(field []string, open token) (node, error) {
	if err := p.enter(open); err != nil {
		return nil, err
	}
	e, err := p.or(field)
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRParen {
		return nil, p.errorf(t, "expected \")\" to close the group opened at position %d, found %s", open.pos, t.describe())
	}
	p.depth--
	return e, nil
}

// rangeRest parses "lo TO hi]" after "[" (open).
func (p *parser) rangeRest(path []string, open token) (node, error) {
	if err := p.term(open); err != nil {
		return nil, err
	}
	bound := func() (string, bool, error) {
		t := p.next()
		if t.kind == tWord || t.kind == tPhrase {
			return t.text, t.kind == tPhrase, nil
		}
		return "", false, p.errorf(t, "expected a range bound, found %s", t.describe())
	}
	lo, loQuot, err := bound()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tWord || !strings.EqualFold(t.text, "TO") {
		return nil, p.errorf(t, "expected TO in the range opened at position %d, found %s", open.pos, t.describe())
	}
	hi, hiQuot, err := bound()
	if err != nil {
		return nil, err
	}
	if t := p.next(); t.kind != tRBracket {
		return nil, p.errorf(t, "expected \"]\" to close the range opened at position %d, found %s", open.pos, t.describe())
	}
	return rangeNode{path: path, lo: lo, hi: hi, loQuot: loQuot, hiQuot: hiQuot}, nil
}
