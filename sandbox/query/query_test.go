package query

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, q string) *Query {
	t.Helper()
	p, err := Parse(q, DefaultLimits)
	require.NoError(t, err, q)
	require.NotNil(t, p, q)
	return p
}

func TestCanonicalForm(t *testing.T) {
	cases := map[string]string{
		"a":                         "a",
		"a b c":                     "a AND b AND c",
		"a and (b && c)":            "a AND b AND c",
		"a OR b c":                  "a OR b AND c",
		"(a OR b) c":                "(a OR b) AND c",
		"NOT a b":                   "NOT a AND b",
		"NOT (a b)":                 "NOT (a AND b)",
		"not not a":                 "NOT NOT a",
		`name:(x OR "y z")`:         `name:x OR name:"y z"`,
		`customer.age:[30 TO "40"]`: `customer.age:[30 TO "40"]`,
		"x:a:b":                     "x:a:b",
		`(NOT customer.name:meier*) AND (customer.age:[30 TO 40] OR customer.age:[50 TO 60])`: `NOT customer.name:meier* AND (customer.age:[30 TO 40] OR customer.age:[50 TO 60])`,
		`request.id:SIR_1 or request.id:SIR_2`:                                                `request.id:SIR_1 OR request.id:SIR_2`,
	}
	for in, want := range cases {
		q := mustParse(t, in)
		assert.Equal(t, want, q.String(), in)
		assert.Equal(t, want, mustParse(t, q.String()).String(), "canonical form is stable: %s", in)
	}
	q, err := Parse("  ", DefaultLimits)
	assert.NoError(t, err)
	assert.Nil(t, q, "an empty q is no filter")
}

func TestMatching(t *testing.T) {
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"object":"general.contacts","name":"Erika Mustermann","age":34,
		"idents":[{"type":"card","value":"9276000000000016"},{"type":"checkin"}],"merchantRef":"Till-7"}`))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&obj))
	cases := map[string]bool{
		"name:erika":                true,
		"name:Eri*":                 true,
		"name:e?ika":                true,
		`name:"ka must"`:            true,
		"name:mustermann age:34":    true,
		"age:[30 TO 40]":            true,
		"age:[35 TO *]":             false,
		"age:34.0":                  true,
		"idents.type:checkin":       true,
		"idents.value:9276*":        true,
		"merchantref:till-7":        true,
		"NOT name:erika":            false,
		"name:nobody OR age:34":     true,
		"mustermann":                true,
		"name:(nobody OR erika)":    true,
		"name:[m TO z]":             false,
		`name:["erika" TO "erikb"]`: true,
		"missing:x":                 false,
	}
	for q, want := range cases {
		b := Budget{Steps: DefaultSteps}
		assert.Equal(t, want, mustParse(t, q).Match(obj, &b), q)
		assert.False(t, b.Exceeded, q)
	}
}

func TestBudget(t *testing.T) {
	obj := map[string]any{"note": strings.Repeat("a", 5000)}
	q := mustParse(t, "note:*"+strings.Repeat("a", 100)+"b")
	b := Budget{Steps: 10_000}
	assert.False(t, q.Match(obj, &b))
	assert.True(t, b.Exceeded, "100 pattern characters over 5000 text characters is far more than 10000 steps")
	b = Budget{Steps: DefaultSteps}
	assert.False(t, q.Match(obj, &b))
	assert.False(t, b.Exceeded)
	assert.True(t, mustParse(t, "note:a*").Match(obj, &b))
}

func TestLimits(t *testing.T) {
	lim := Limits{MaxLen: 40, MaxDepth: 2, MaxTerms: 3, MaxTermLen: 5}
	cases := []struct {
		q, limit string
		pos      int
	}{
		{"((a))", "", 0},
		{"(((a)))", "depth", 3},
		{"NOT NOT NOT a", "depth", 9},
		{"a:(NOT (b))", "depth", 8},
		{"a b c", "", 0},
		{"a b c d", "terms", 7},
		{"a:[1 TO 2] b c d", "terms", 16},
		{"abcde", "", 0},
		{"abcdef", "term length", 1},
		{`"abcdef"`, "term length", 1},
		{strings.Repeat("a ", 21), "length", 0},
	}
	for _, tc := range cases {
		_, err := Parse(tc.q, lim)
		if tc.limit == "" {
			assert.NoError(t, err, tc.q)
			continue
		}
		var e *Error
		require.ErrorAs(t, err, &e, tc.q)
		assert.Equal(t, tc.limit, e.Limit, tc.q)
		assert.Equal(t, tc.pos, e.Pos, tc.q)
	}
}

func TestSyntaxErrorsNameThePosition(t *testing.T) {
	cases := map[string]string{
		"a AND":       "syntax error at position 6: expected a term, found the end of the query",
		"(a":          `syntax error at position 3: expected ")" to close the group opened at position 1, found the end of the query`,
		"a)":          `syntax error at position 2: unexpected ")"`,
		`"open`:       "syntax error at position 1: unterminated quoted phrase",
		"[1 TO 2]":    "syntax error at position 1: a range needs a field, e.g. amount:[10 TO 20]",
		"x:[1 2]":     `syntax error at position 6: expected TO in the range opened at position 3, found "2"`,
		":x":          `syntax error at position 1: missing field name before ":"`,
		"a..b:x":      `syntax error at position 1: empty segment in field name "a..b"`,
		"Jörg AND ((": `syntax error at position 12: expected a term, found the end of the query`,
		"name: OR x":  `syntax error at position 7: expected a value after "name:", found "OR"`,
	}
	for q, want := range cases {
		_, err := Parse(q, DefaultLimits)
		assert.EqualError(t, err, want, q)
	}
}
