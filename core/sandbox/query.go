package sandbox

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The list query language of the q parameter (spec §3.3): field:value,
// nested a.b:value, * and ? wildcards, [a TO b] ranges ({a TO b} exclusive, *
// open), AND / OR / NOT in any case (also && || ! and a leading -),
// parentheses, field:(a OR b) groups and "quoted phrases". Terms next to
// each other without an operator are ANDed (the real server's default
// operator is unknown; AND is the stricter, least surprising choice).
//
// Matching is case-insensitive, and a value matches a field when it equals
// the whole field value or one of its words — an approximation of the real
// server's full-text search, which is unknown in detail.

// qnode is a parsed query expression.
type qnode interface{ match(o object) bool }

type qAnd struct{ l, r qnode }
type qOr struct{ l, r qnode }
type qNot struct{ x qnode }
type qAll struct{}

func (n qAnd) match(o object) bool { return n.l.match(o) && n.r.match(o) }
func (n qOr) match(o object) bool  { return n.l.match(o) || n.r.match(o) }
func (n qNot) match(o object) bool { return !n.x.match(o) }
func (qAll) match(object) bool     { return true }

// qTerm matches field:value. A nil field means "any field".
type qTerm struct {
	field  []string
	pat    []patElem
	phrase bool
}

// qRange matches field:[lo TO hi]; "" bounds are open.
type qRange struct {
	field          []string
	lo, hi         string
	loIncl, hiIncl bool
}

type patElem struct {
	r    rune
	kind byte // 0 literal, '*' any run, '?' one character
}

// querySyntaxError names the position (1-based, in characters) of a q error.
type querySyntaxError struct {
	pos int
	msg string
}

func (e *querySyntaxError) Error() string {
	return fmt.Sprintf("syntax error at position %d: %s", e.pos, e.msg)
}

// maxQueryDepth bounds nesting so a hostile q cannot exhaust the stack.
const maxQueryDepth = 64

type qparser struct {
	src   string
	pos   int // byte offset
	depth int
}

// parseQuery parses q; an empty q matches everything.
func parseQuery(q string) (qnode, error) {
	p := &qparser{src: q}
	p.skipSpace()
	if p.eof() {
		return qAll{}, nil
	}
	n, err := p.parseOr(nil)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errorf("unexpected %q", p.peekRune())
	}
	return n, nil
}

func (p *qparser) errorf(format string, args ...any) error {
	return &querySyntaxError{pos: utf8.RuneCountInString(p.src[:p.pos]) + 1, msg: fmt.Sprintf(format, args...)}
}

func (p *qparser) eof() bool { return p.pos >= len(p.src) }

func (p *qparser) peekRune() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *qparser) skipSpace() {
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += size
	}
}

// keyword consumes an operator word (AND, OR, NOT in any case) or symbol if
// it comes next, and reports which one ("and", "or", "not" or "").
func (p *qparser) keyword() string {
	p.skipSpace()
	rest := p.src[p.pos:]
	for _, sym := range []struct{ text, op string }{{"&&", "and"}, {"||", "or"}} {
		if strings.HasPrefix(rest, sym.text) {
			p.pos += len(sym.text)
			return sym.op
		}
	}
	for _, kw := range []string{"and", "or", "not"} {
		if len(rest) < len(kw) || !strings.EqualFold(rest[:len(kw)], kw) {
			continue
		}
		after := rest[len(kw):]
		if after == "" || after[0] == '(' || after[0] == '"' || unicode.IsSpace(rune(after[0])) {
			p.pos += len(kw)
			return kw
		}
	}
	return ""
}

// peekKeyword is keyword without consuming.
func (p *qparser) peekKeyword() string {
	save := p.pos
	kw := p.keyword()
	p.pos = save
	return kw
}

func (p *qparser) parseOr(field []string) (qnode, error) {
	l, err := p.parseAnd(field)
	if err != nil {
		return nil, err
	}
	for p.peekKeyword() == "or" {
		p.keyword()
		r, err := p.parseAnd(field)
		if err != nil {
			return nil, err
		}
		l = qOr{l, r}
	}
	return l, nil
}

func (p *qparser) parseAnd(field []string) (qnode, error) {
	l, err := p.parseUnary(field)
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if p.eof() || p.src[p.pos] == ')' {
			return l, nil
		}
		switch p.peekKeyword() {
		case "or":
			return l, nil
		case "and":
			p.keyword()
		}
		r, err := p.parseUnary(field)
		if err != nil {
			return nil, err
		}
		l = qAnd{l, r}
	}
}

func (p *qparser) parseUnary(field []string) (qnode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxQueryDepth {
		return nil, p.errorf("the query is nested too deeply")
	}
	if p.peekKeyword() == "not" {
		p.keyword()
		x, err := p.parseUnary(field)
		if err != nil {
			return nil, err
		}
		return qNot{x}, nil
	}
	p.skipSpace()
	if !p.eof() && (p.src[p.pos] == '!' || p.src[p.pos] == '-') {
		p.pos++
		x, err := p.parseUnary(field)
		if err != nil {
			return nil, err
		}
		return qNot{x}, nil
	}
	return p.parsePrimary(field)
}

func (p *qparser) parsePrimary(field []string) (qnode, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.errorf("expected a term, found the end of the query")
	}
	switch c := p.src[p.pos]; c {
	case '(':
		return p.parseGroup(field)
	case ')':
		return nil, p.errorf("unexpected \")\"")
	case '"':
		return p.parsePhrase(field)
	case '[', '{':
		return p.parseRange(field)
	case ':':
		return nil, p.errorf("missing field name before \":\"")
	}
	if kw := p.peekKeyword(); kw != "" {
		return nil, p.errorf("expected a term, found operator %s", strings.ToUpper(kw))
	}
	start := p.pos
	word, err := p.readWord(false)
	if err != nil {
		return nil, err
	}
	if p.eof() || p.src[p.pos] != ':' {
		return termNode(field, word), nil
	}
	if field != nil {
		p.pos = start
		return nil, p.errorf("a field inside a field group is not allowed")
	}
	name := wordText(word)
	p.pos++ // ':'
	path := strings.Split(name, ".")
	for _, seg := range path {
		if seg == "" {
			p.pos = start
			return nil, p.errorf("invalid field name %q", name)
		}
	}
	if p.eof() || unicode.IsSpace(p.peekRune()) || p.src[p.pos] == ')' {
		return nil, p.errorf("missing value after %q", name+":")
	}
	switch p.src[p.pos] {
	case '(':
		return p.parseGroup(path)
	case '"':
		return p.parsePhrase(path)
	case '[', '{':
		return p.parseRange(path)
	}
	value, err := p.readWord(true)
	if err != nil {
		return nil, err
	}
	return termNode(path, value), nil
}

func (p *qparser) parseGroup(field []string) (qnode, error) {
	p.pos++ // '('
	p.skipSpace()
	if !p.eof() && p.src[p.pos] == ')' {
		return nil, p.errorf("empty parentheses")
	}
	n, err := p.parseOr(field)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.src[p.pos] != ')' {
		return nil, p.errorf("expected \")\"")
	}
	p.pos++
	return n, nil
}

func (p *qparser) parsePhrase(field []string) (qnode, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.eof() {
			return nil, p.errorf("unterminated quoted phrase")
		}
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += size
		switch r {
		case '"':
			pat := make([]patElem, 0, b.Len())
			for _, c := range b.String() {
				pat = append(pat, patElem{r: c})
			}
			return qTerm{field: field, pat: pat, phrase: true}, nil
		case '\\':
			if p.eof() {
				return nil, p.errorf("unterminated escape")
			}
			r, size = utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += size
		}
		b.WriteRune(r)
	}
}

func (p *qparser) parseRange(field []string) (qnode, error) {
	open := p.src[p.pos]
	p.pos++
	lo := p.readBound()
	if lo == "" {
		return nil, p.errorf("missing lower bound of the range")
	}
	p.skipSpace()
	if len(p.src)-p.pos < 2 || !strings.EqualFold(p.src[p.pos:p.pos+2], "to") {
		return nil, p.errorf("expected TO in the range")
	}
	p.pos += 2
	hi := p.readBound()
	if hi == "" {
		return nil, p.errorf("missing upper bound of the range")
	}
	p.skipSpace()
	if p.eof() || (p.src[p.pos] != ']' && p.src[p.pos] != '}') {
		return nil, p.errorf("expected \"]\" or \"}\" to close the range")
	}
	closing := p.src[p.pos]
	p.pos++
	if lo == "*" {
		lo = ""
	}
	if hi == "*" {
		hi = ""
	}
	return qRange{field: field, lo: lo, hi: hi, loIncl: open == '[', hiIncl: closing == ']'}, nil
}

// readBound reads a range bound: a quoted string or text up to a space or
// the closing bracket (so timestamps with ":" need no escaping).
func (p *qparser) readBound() string {
	p.skipSpace()
	if !p.eof() && p.src[p.pos] == '"' {
		end := strings.IndexByte(p.src[p.pos+1:], '"')
		if end < 0 {
			return ""
		}
		v := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return v
	}
	start := p.pos
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if unicode.IsSpace(r) || r == ']' || r == '}' {
			break
		}
		p.pos += size
	}
	return p.src[start:p.pos]
}

// readWord reads a bare word with its wildcards. In a value position (after
// "field:") a ":" is part of the word, so timestamps and ids need no escaping.
func (p *qparser) readWord(value bool) ([]patElem, error) {
	var pat []patElem
	for !p.eof() {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' || (r == ':' && !value) {
			break
		}
		p.pos += size
		switch r {
		case '\\':
			if p.eof() {
				return nil, p.errorf("unterminated escape")
			}
			r, size = utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += size
			pat = append(pat, patElem{r: r})
		case '*', '?':
			pat = append(pat, patElem{kind: byte(r)})
		default:
			pat = append(pat, patElem{r: r})
		}
	}
	if len(pat) == 0 {
		return nil, p.errorf("expected a term")
	}
	return pat, nil
}

func wordText(pat []patElem) string {
	var b strings.Builder
	for _, e := range pat {
		if e.kind != 0 {
			b.WriteByte(e.kind)
		} else {
			b.WriteRune(e.r)
		}
	}
	return b.String()
}

func termNode(field []string, pat []patElem) qnode {
	return qTerm{field: field, pat: pat}
}

// --- matching ---

func (t qTerm) match(o object) bool {
	for _, v := range fieldValues(o, t.field) {
		if v == nil {
			continue
		}
		if len(t.pat) == 1 && t.pat[0].kind == '*' {
			return true // field:* means "has a value"
		}
		s, ok := scalarString(v)
		if !ok {
			continue
		}
		if t.matchValue(v, s) {
			return true
		}
	}
	return false
}

func (t qTerm) matchValue(v any, s string) bool {
	literal, wild := patLiteral(t.pat)
	if !wild {
		if a, ok := number(literal); ok && !t.phrase {
			if b, ok := number(v); ok && isNumeric(v) {
				return a == b
			}
		}
		ls, ll := strings.ToLower(s), strings.ToLower(literal)
		if ls == ll {
			return true
		}
		return containsWords(ls, ll)
	}
	if globMatch(t.pat, s) {
		return true
	}
	for _, w := range strings.Fields(s) {
		if globMatch(t.pat, w) {
			return true
		}
	}
	return false
}

func isNumeric(v any) bool {
	_, isString := v.(string)
	return !isString
}

// containsWords reports whether needle occurs in hay on word boundaries.
func containsWords(hay, needle string) bool {
	for i := 0; ; {
		j := strings.Index(hay[i:], needle)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(needle)
		if (start == 0 || hay[start-1] == ' ') && (end == len(hay) || hay[end] == ' ') {
			return true
		}
		i = start + 1
		if i >= len(hay) {
			return false
		}
	}
}

func patLiteral(pat []patElem) (string, bool) {
	var b strings.Builder
	for _, e := range pat {
		if e.kind != 0 {
			return "", true
		}
		b.WriteRune(e.r)
	}
	return b.String(), false
}

// globMatch matches the whole of s against pat, case-insensitively.
func globMatch(pat []patElem, s string) bool {
	str := []rune(strings.ToLower(s))
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(str) {
		switch {
		case pi < len(pat) && pat[pi].kind == '*':
			starP, starS = pi, si
			pi++
		case pi < len(pat) && (pat[pi].kind == '?' || (pat[pi].kind == 0 && unicode.ToLower(pat[pi].r) == str[si])):
			pi++
			si++
		case starP >= 0:
			starS++
			si = starS
			pi = starP + 1
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi].kind == '*' {
		pi++
	}
	return pi == len(pat)
}

func (rg qRange) match(o object) bool {
	for _, v := range fieldValues(o, rg.field) {
		if v != nil && rg.inRange(v) {
			return true
		}
	}
	return false
}

func (rg qRange) inRange(v any) bool {
	lo, loNum := number(rg.lo)
	hi, hiNum := number(rg.hi)
	numeric := (rg.lo == "" || loNum) && (rg.hi == "" || hiNum) && !(rg.lo == "" && rg.hi == "")
	if numeric {
		x, ok := number(v)
		if !ok {
			return false
		}
		return (rg.lo == "" || x > lo || (rg.loIncl && x == lo)) && (rg.hi == "" || x < hi || (rg.hiIncl && x == hi))
	}
	s, ok := scalarString(v)
	if !ok {
		return false
	}
	s = strings.ToLower(s)
	l, h := strings.ToLower(rg.lo), strings.ToLower(rg.hi)
	return (rg.lo == "" || s > l || (rg.loIncl && s == l)) && (rg.hi == "" || s < h || (rg.hiIncl && s == h))
}

// fieldValues lists the scalar values of a field; a nil field lists every
// scalar in the object (free-text terms).
func fieldValues(o object, field []string) []any {
	if field != nil {
		return lookupPath(map[string]any(o), field)
	}
	var out []any
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		default:
			out = append(out, t)
		}
	}
	walk(map[string]any(o))
	return out
}
