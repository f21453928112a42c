package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
)

// TestRequestErrorsSpeakTheHostsLanguage (issue 10.8d): the error JSON's
// field names what the host wrote ("query", not "query."), messages say what
// JSON was expected and never show Go internals ("cannot unmarshal ... Go
// struct field", "must be an object" for a string-typed key).
func TestRequestErrorsSpeakTheHostsLanguage(t *testing.T) {
	const base = `"resource":"smart.idents","op":"list"`
	cases := []struct{ in, field, msg string }{
		{`{` + base + `,"query":"x"}`, "query", "query: must be a JSON object, got a string"},
		{`{` + base + `,"query":{"geo":"x"}}`, "query.geo", "query.geo: must be an object, got a string"},
		{`{` + base + `,"query":{"q":5}}`, "query.q", "query.q: must be a string, got a number"},
		{`{` + base + `,"query":{"count":"ten"}}`, "query.count", "query.count: must be a whole number"},
		{`{` + base + `,"query":{"bogus":1}}`, "query.bogus", "query.bogus: is not a known key of query"},
		{`{` + base + `,"channel":5}`, "channel", "channel: must be a string, got a number"},
		{`{"resource":5,"op":"list"}`, "resource", "resource: must be a string, got a number"},
		{`{` + base + `,"timeout_ms":"x"}`, "timeout_ms", "timeout_ms: must be a whole number, got a string"},
		{`{` + base + `,"timeout_ms":1.5}`, "timeout_ms", "timeout_ms: must be a whole number"},
		{`{` + base + `,"timeout_ms":99999999999}`, "timeout_ms", "timeout_ms: is out of range"},
		{`{` + base + `,"bogus":1}`, "bogus", "bogus: is not a known key of the request"},
		{`[1]`, "request", "request: must be a JSON object, got an array"},
		{`{` + base + `,}`, "request", "request: is not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := ParseRequest([]byte(c.in))
			e := errs.As(err)
			require.NotNil(t, e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, c.field, e.Field)
			assert.True(t, strings.HasPrefix(e.Message, c.msg), "message %q", e.Message)
			for _, internal := range []string{"Go struct", "Go value", "unmarshal", "json:", "api.", "*", "map["} {
				assert.NotContains(t, e.Message, internal)
			}
		})
	}
}

// TestRequestErrorsEchoLittleOfTheInput: a 10 MB unknown key (or value in a
// message) made a 20 MB error JSON; what the error repeats is bounded.
func TestRequestErrorsEchoLittleOfTheInput(t *testing.T) {
	huge := strings.Repeat("k", 1<<20) // 1 MB: the old error JSON repeated it twice
	for _, in := range []string{
		`{"resource":"smart.idents","op":"list","` + huge + `":1}`,
		`{"resource":"smart.idents","op":"` + huge + `"}`,
		`{"resource":"` + huge + `","op":"list"}`,
		`{"resource":"smart.idents","op":"list","query":{"sort":{"` + huge + `":"up"}}}`,
	} {
		_, err := ParseRequest([]byte(in))
		require.Error(t, err)
		body, _ := json.Marshal(errs.As(err))
		assert.Less(t, len(body), 4<<10, "error JSON of %d bytes: %.200s", len(body), body)
	}
}

// TestInvalidUTF8IsRefused (issue 10.8b): "caf\xe9" was accepted and reached
// the server as "caf" + U+FFFD. It is refused, naming where it is.
func TestInvalidUTF8IsRefused(t *testing.T) {
	cases := []struct{ in, field string }{
		{"{\"resource\":\"smart.transactions\",\"op\":\"create\",\"data\":{\"basket\":{\"products\":[{\"desc\":\"ok\"},{\"desc\":\"caf\xe9\"}]}}}", "data.basket.products[1].desc"},
		{"{\"resource\":\"smart.idents\",\"op\":\"list\",\"query\":{\"q\":\"name:caf\xe9\"}}", "query.q"},
		{"{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_\xff\"}", "id"},
		{"{\"resource\":\"smart.idents\",\"op\":\"list\",\"data\":{\"caf\xe9\":1}}", "data"},
	}
	for _, c := range cases {
		_, err := ParseRequest([]byte(c.in))
		e := errs.As(err)
		require.NotNil(t, e, "%q was accepted", c.in)
		assert.Equal(t, errs.InvalidArgument, e.Kind)
		assert.Equal(t, c.field, e.Field)
		assert.Contains(t, e.Message, "UTF-8")
		assert.True(t, json.Valid(mustJSON(t, e)), "the error JSON itself is valid")
	}
	_, err := ParseRequest([]byte(`{"resource":"smart.idents","op":"list","data":{"text":"café \u00e9 \ud83d\ude00"}}`))
	assert.NoError(t, err, "UTF-8 and \\u escapes are fine")
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
