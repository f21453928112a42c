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
