package query

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small, so the fuzzer reaches every limit quickly.
var fuzzLimits = Limits{MaxLen: 200, MaxDepth: 6, MaxTerms: 12, MaxTermLen: 24}

// The sample object the fuzzer matches queries against.
var fuzzObject = func() map[string]any {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"object":"smart.transactions","id":"STX_1","status":"ok",
		"basket_info":{"sum":1297,"currency":"EUR"},"merchantRef":"Till 7",
		"idents":[{"type":"card","value":"9276000000000016"}],"note":"Frühstück à 12,97 EUR"}`))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		panic(err)
	}
	return m
}()

// FuzzParse checks, for any q: Parse never panics; a refused q gets an
// *Error whose position lies inside the query and whose limit is one of
// the four; an accepted q stays within the limits, and its canonical
// String parses to the same query and matches the same objects.
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, q string) {
		p, err := Parse(q, fuzzLimits)
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q): error of type %T: %v", q, err, err)
			}
			if e.Msg == "" {
				t.Fatalf("Parse(%q): empty message", q)
			}
			switch e.Limit {
			case "", "depth", "terms", "term length":
				if e.Pos < 1 || e.Pos > utf8.RuneCountInString(q)+1 {
					t.Fatalf("Parse(%q): position %d outside the query", q, e.Pos)
				}
			case "length":
				if utf8.RuneCountInString(q) <= fuzzLimits.MaxLen {
					t.Fatalf("Parse(%q): length limit on a short query", q)
				}
			default:
				t.Fatalf("Parse(%q): unknown limit %q", q, e.Limit)
			}
			return
		}
		if p == nil {
			if strings.TrimSpace(q) != "" {
				t.Fatalf("Parse(%q): no query and no error", q)
			}
			return
		}
		if n := terms(p.root); n > fuzzLimits.MaxTerms {
			t.Fatalf("Parse(%q): %d terms", q, n)
		}
		if h := height(p.root); h > fuzzLimits.MaxTerms+fuzzLimits.MaxDepth {
			t.Fatalf("Parse(%q): tree of height %d, matching would recurse that deep", q, h)
		}
		// The canonical form spells out fields and ANDs, so it may be longer
		// than q; it is never deeper and has as many terms.
		canon := p.String()
		relaxed := Limits{MaxLen: 1 << 30, MaxDepth: fuzzLimits.MaxDepth, MaxTerms: fuzzLimits.MaxTerms, MaxTermLen: 1 << 30}
		again, err := Parse(canon, relaxed)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", q, canon, err)
		}
		if again.String() != canon {
			t.Fatalf("Parse(%q) = %q, which parses to %q", q, canon, again.String())
		}
		b1, b2 := Budget{Steps: DefaultSteps}, Budget{Steps: DefaultSteps}
		if p.Match(fuzzObject, &b1) != again.Match(fuzzObject, &b2) {
			t.Fatalf("%q and its canonical form %q match differently", q, canon)
		}
	})
}

func terms(n node) int {
	switch t := n.(type) {
	case andNode:
		return terms(t.l) + terms(t.r)
	case orNode:
		return terms(t.l) + terms(t.r)
	case notNode:
		return terms(t.e)
	}
	return 1
}

func height(n node) int {
	switch t := n.(type) {
	case andNode:
		return 1 + max(height(t.l), height(t.r))
	case orNode:
		return 1 + max(height(t.l), height(t.r))
	case notNode:
		return 1 + height(t.e)
	}
	return 1
}
