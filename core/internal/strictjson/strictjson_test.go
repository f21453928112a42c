package strictjson

import (
	"testing"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	Port int  `json:"port"`
	TLS  bool `json:"tls"`
}

type outer struct {
	Name  string `json:"name"`
	Stomp inner  `json:"stomp"`
}

func TestDecode(t *testing.T) {
	var o outer
	require.NoError(t, Decode([]byte(`{"name":"x","stomp":{"port":1,"tls":true}}`), &o, "config"))
	assert.Equal(t, 1, o.Stomp.Port)

	cases := map[string]struct{ in, field, msg string }{
		"unknown top":    {`{"nam":"x"}`, "nam", "not a known key"},
		"unknown nested": {`{"stomp":{"prot":1}}`, "stomp.prot", "not a known key of stomp"},
		"wrong type":     {`{"stomp":{"port":"61614"}}`, "stomp.port", "must be a whole number, got a string"},
		"wrong bool":     {`{"stomp":{"tls":"yes"}}`, "stomp.tls", "true or false"},
		"syntax":         {`{"name":}`, "config", "not valid JSON"},
		"empty":          {`  `, "config", "empty"},
		"not object":     {`[1]`, "config", "JSON object"},
		"trailing":       {`{"name":"x"} {}`, "config", "trailing"},
		"truncated":      {`{"name":"x"`, "config", "truncated"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var o outer
			err := Decode([]byte(c.in), &o, "config")
			e := errs.As(err)
			require.NotNil(t, e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, c.field, e.Field)
			assert.Contains(t, e.Message, c.msg)
		})
	}
}

// A valid document is decoded once (the strict decoder alone); the rules the
// shape check adds must still hold there: an int is a C int wherever it is.
func TestDecodeOnceKeepsCIntRange(t *testing.T) {
	type deep struct {
		List []inner          `json:"list"`
		Map  map[string]inner `json:"map"`
		Ptr  *inner           `json:"ptr"`
	}
	for _, in := range []string{
		`{"list":[{"port":1},{"port":2147483648}]}`,
		`{"map":{"a":{"port":-2147483649}}}`,
		`{"ptr":{"port":4294967296}}`,
	} {
		var d deep
		e := errs.As(Decode([]byte(in), &d, "config"))
		require.NotNil(t, e, in)
		assert.Contains(t, e.Message, "out of range", in)
	}
	// Keys not in the document keep what the caller set (defaults).
	d := deep{Ptr: &inner{Port: 7}}
	require.NoError(t, Decode([]byte(`{"list":[{"port":2147483647}],"map":{"a":{"tls":true}}}`), &d, "config"))
	assert.Equal(t, 7, d.Ptr.Port)
	assert.Equal(t, 2147483647, d.List[0].Port)
	assert.True(t, d.Map["a"].TLS)
}
