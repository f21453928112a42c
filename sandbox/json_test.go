package sandbox_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
)

func TestEncodeJSON(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"slash", map[string]string{"url": "https://core.example/app.core.connector/ds_g/ab"}, `{"url":"https:\/\/core.example\/app.core.connector\/ds_g\/ab"}`},
		{"umlaut", "Bäckerei Größe", `"B\u00e4ckerei Gr\u00f6\u00dfe"`},
		{"euro and astral", "€ 😀", `"\u20ac \ud83d\ude00"`},
		{"no html escaping", "<a&b>", `"<a&b>"`},
		{"escaped backslash before slash", `a\/b`, `"a\\\/b"`},
		{"compact with integers", map[string]any{"sum": 504, "data": nil, "list": []int{1, 2}}, `{"data":null,"list":[1,2],"sum":504}`},
		{"control characters stay escaped", "a\nb\u2028", `"a\nb\u2028"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := sandbox.EncodeJSON(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			for _, c := range b {
				assert.Less(t, c, byte(0x80), "output is ASCII only")
			}
			var back any
			require.NoError(t, json.Unmarshal(b, &back), "output is valid JSON")
			orig, _ := json.Marshal(tc.in)
			var want any
			require.NoError(t, json.Unmarshal(orig, &want))
			assert.Equal(t, want, back, "the value round-trips")
		})
	}
	_, err := sandbox.EncodeJSON(func() {})
	assert.Error(t, err)
}
