package api

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRequestValid(t *testing.T) {
	r, err := ParseRequest([]byte(`{"resource":"smart.transactions","op":"execute","id":"STX_1","action":"start","arg":"demo","data":{"x":1},"timeout_ms":5000,"idempotency_key":"k1"}`))
	require.NoError(t, err)
	assert.Equal(t, "smart.transactions.execute.start", r.Name())
	assert.Equal(t, "smart", r.Product())
	assert.Equal(t, "transactions", r.ResourceName())
	assert.Equal(t, []string{"demo"}, r.Segments())
	assert.True(t, r.Op.Mutating())
	assert.Equal(t, int64(5000), r.Timeout().Milliseconds())

	r, err = ParseRequest([]byte(`{"resource":"smart.idents","op":"list","query":{"count":5,"offset":10,"fields":"id, name","sort":{"created":"DESC","id":"asc"},"q":"type:card"}}`))
	require.NoError(t, err)
	assert.Equal(t, 5, *r.Query.Count)
	assert.Equal(t, []string{"id", "name"}, r.Query.Fields)
	assert.Equal(t, []SortField{{"created", "desc"}, {"id", "asc"}}, r.Query.Sort)

	r, err = ParseRequest([]byte(`{"resource":"smart.idents","op":"list","query":{"sort":"created:desc,id","fields":["a"]}}`))
	require.NoError(t, err)
	assert.Equal(t, []SortField{{"created", "desc"}, {"id", "asc"}}, r.Query.Sort)

	_, err = ParseRequest([]byte(`{"resource":"smart.transactions","op":"execute","action":"Diagnosis"}`))
	require.NoError(t, err, "execute without id is legal")
	_, err = ParseRequest([]byte(`{"resource":"general.accounts","op":"get","id":"me"}`))
	require.NoError(t, err)
}

func TestParseRequestErrorsNameTheField(t *testing.T) {
	cases := map[string]struct{ in, field string }{
		"not json":         {`{"resource":`, "request"},
		"unknown key":      {`{"resource":"a.b","op":"get","id":"x","foo":1}`, "foo"},
		"missing resource": {`{"op":"get","id":"x"}`, "resource"},
		"bad resource":     {`{"resource":"smart/transactions","op":"get","id":"x"}`, "resource"},
		"missing op":       {`{"resource":"a.b"}`, "op"},
		"bad op":           {`{"resource":"a.b","op":"fetch"}`, "op"},
		"op wrong type":    {`{"resource":"a.b","op":1}`, "op"},
		"get needs id":     {`{"resource":"a.b","op":"get"}`, "id"},
		"delete needs id":  {`{"resource":"a.b","op":"delete"}`, "id"},
		"exec needs act":   {`{"resource":"a.b","op":"execute","id":"x"}`, "action"},
		"slash in id":      {`{"resource":"a.b","op":"get","id":"x/../y"}`, "id"},
		"arg w/o action":   {`{"resource":"a.b","op":"update","id":"x","arg":"y"}`, "arg"},
		"query on get":     {`{"resource":"a.b","op":"get","id":"x","query":{}}`, "query"},
		"bad count":        {`{"resource":"a.b","op":"list","query":{"count":-1}}`, "query.count"},
		"count string":     {`{"resource":"a.b","op":"list","query":{"count":"ten"}}`, "query.count"},
		"bad sort":         {`{"resource":"a.b","op":"list","query":{"sort":{"x":"up"}}}`, "query.sort.x"},
		"unknown query":    {`{"resource":"a.b","op":"list","query":{"limit":1}}`, "query.limit"},
		"bad channel":      {`{"resource":"a.b","op":"get","id":"x","channel":"mqtt"}`, "channel"},
		"neg timeout":      {`{"resource":"a.b","op":"get","id":"x","timeout_ms":-1}`, "timeout_ms"},
		"timeout string":   {`{"resource":"a.b","op":"get","id":"x","timeout_ms":"5"}`, "timeout_ms"},
		"list with id":     {`{"resource":"a.b","op":"list","id":"x"}`, "id"},
		// Found by FuzzRequestURL: an empty key is named, never left out.
		"empty key":       {`{"":""}`, `""`},
		"empty query key": {`{"resource":"a.b","op":"list","query":{"":1}}`, `query.""`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRequest([]byte(c.in))
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.InvalidArgument, e.Kind, e.Error())
			assert.Equal(t, c.field, e.Field, e.Error())
		})
	}
}

// A key the host wrote is repeated in an error only so far: a 10 MB key
// must not make a 10 MB error JSON (the config caps it the same way).
func TestRequestErrorCapsEchoedKeys(t *testing.T) {
	huge := strings.Repeat("k", 10<<20)
	for _, in := range []string{`{"` + huge + `":1}`, `{"resource":"a.b","op":"list","query":{"` + huge + `":1}}`} {
		_, err := ParseRequest([]byte(in))
		require.Error(t, err)
		b, _ := json.Marshal(errs.As(err))
		assert.Less(t, len(b), 1024)
		assert.Contains(t, errs.As(err).Field, "kkkk")
	}
}

func TestNormalizeList(t *testing.T) {
	out, err := NormalizeList(json.RawMessage(`{"count":0,"data":null}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"count":0,"data":[]}`, string(out))
	out, err = NormalizeList(json.RawMessage(`{"data":[{"id":"a"}],"scroll_id":"s1","extra":true}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"count":1,"data":[{"id":"a"}],"scroll_id":"s1","extra":true}`, string(out))
	out, err = NormalizeList(json.RawMessage(`{"count":"12","data":[]}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"count":12,"data":[]}`, string(out))
	_, err = NormalizeList(json.RawMessage(`[1]`))
	assert.Error(t, err)
}

func TestResultBool(t *testing.T) {
	for in, want := range map[string]bool{`{"result":true}`: true, `{"result":"true"}`: true, `{"result":false}`: false, `{"result":"no"}`: false, `{}`: false} {
		got, err := ResultBool(json.RawMessage(in))
		require.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
}

// The byte loops of Validate implement exactly these patterns (kept here as
// their definition).
func TestNameRulesMatchTheirPatterns(t *testing.T) {
	resourceRe := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*$`)
	segmentRe := regexp.MustCompile(`^[^/?#\s\x00-\x1f]+$`)
	inputs := []string{"", ".", "a.b", "smart.transactions", "Smart.Idents_2", "_a.b", "a._b", "1a.b", "a.1b", "a.b.c",
		"a..b", "a.", ".b", "a b.c", "a.b ", "smart.idents\x00", "a-b.c", "[a.b", "Z.z", "@a.b", "a.b`", "{.b",
		"STX_1", "smi_1", "me", "a/b", "a?b", "a#b", "a b", "a\tb", "a\nb", "a\x1fb", "a\x7fb", "a\x00", "ü", "caf\xe9",
		"\xff\xfe", "a%2Fb", "a\u00a0b", "a\u2028b", "..", "."}
	for _, in := range inputs {
		assert.Equal(t, resourceRe.MatchString(in), validResource(in), "resource %q", in)
		assert.Equal(t, segmentRe.MatchString(in), validSegment(in), "segment %q", in)
	}
}
