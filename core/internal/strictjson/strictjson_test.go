package strictjson

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
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

// fuzzTarget has a field of every kind the shape check knows.
type fuzzTarget struct {
	Name   string          `json:"name"`
	N      int             `json:"n"`
	Small  int8            `json:"small"`
	U      uint16          `json:"u"`
	Big    int64           `json:"big"`
	F      float64         `json:"f"`
	B      bool            `json:"b"`
	P      *inner          `json:"p"`
	L      []inner         `json:"l"`
	M      map[string]int  `json:"m"`
	Raw    json.RawMessage `json:"raw"`
	Any    any             `json:"any"`
	Stomp  inner           `json:"stomp"`
	Skip   bool            `json:"-"`
	hidden int
}

// The one-pass decode accepts exactly the documents the shape check and the
// strict decoder accept together, and fills the same values.
func FuzzDecodeOnceAgreesWithShapeFirst(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","n":2147483647,"small":-128,"u":65535,"big":9223372036854775807,"f":1.5,"b":true}`,
		`{"p":{"port":1},"l":[{"port":2},{"tls":true}],"m":{"a":1},"raw":[1,{"x":2}],"any":{"k":[1.0]}}`,
		`{"N":1,"STOMP":{"Port":3},"stomp":{"port":4}}`,
		`{"n":2147483648}`, `{"small":128}`, `{"u":-1}`, `{"n":1e2}`, `{"n":1.0}`, `{"n":-0}`,
		`{"n":null,"p":null,"l":null,"m":{"a":null}}`, `{"n":"1"}`, `{"l":[1]}`, `{"m":{"a":2147483648}}`,
		`{"n":1,"n":"x"}`, `{"n":"x","n":1}`, `{"Skip":true}`, `{"-":1}`, `{"hidden":1}`, `{"name":"x"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var once fuzzTarget
		err := Decode(b, &once, "doc")

		var ref fuzzTarget
		refOK := func() bool {
			trimmed := bytes.TrimSpace(b)
			if len(trimmed) == 0 || trimmed[0] != '{' || CheckUTF8(trimmed, "doc", "") != nil {
				return false
			}
			dec := json.NewDecoder(bytes.NewReader(trimmed))
			dec.UseNumber()
			var doc any
			if dec.Decode(&doc) != nil {
				return false
			}
			if _, err := dec.Token(); err != io.EOF {
				return false
			}
			if (shape{what: "doc"}).check(doc, reflect.TypeOf(ref), "") != nil {
				return false
			}
			return decodeStrict(trimmed, &ref) == nil
		}()
		if refOK != (err == nil) {
			t.Fatalf("%q: shape first accepts: %v, decode once: %v", b, refOK, err)
		}
		if refOK && !reflect.DeepEqual(once, ref) {
			t.Fatalf("%q: decode once filled %+v, shape first %+v", b, once, ref)
		}
	})
}
