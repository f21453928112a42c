package cardpointe_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
)

// A 2xx other than 200 is an answer like a 200, not a success without a
// body (found by FuzzCardPointeAnswer: HTTP 230 "0" became an internal
// error saying the capture was never sent).
func TestAnOddSuccessStatusIsReadAsAnAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		kind    errs.Kind
		outcome string
	}{
		{"approval under 201", http.StatusCreated, fuzzApproval, "", ""},
		{"not JSON under 230", 230, "0", errs.Network, errs.OutcomeUnknown},
		{"no body under 204", http.StatusNoContent, "", errs.Network, errs.OutcomeUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fuzzClient(t, func(*http.Request) (int, http.Header, []byte) { return tc.status, nil, []byte(tc.body) })
			r, err := core.ParseRequest([]byte(`{"system":"cardpointe","op":"capture","data":{"retref":"343005123105"}}`))
			require.NoError(t, err)
			out, err := c.Execute(context.Background(), r)
			if tc.kind == "" {
				require.NoError(t, err)
				assert.True(t, json.Valid(out))
				return
			}
			e := errs.As(err)
			require.NotNil(t, e)
			assert.Equal(t, tc.kind, e.Kind, e.Error())
			assert.Equal(t, tc.outcome, e.Outcome, e.Error())
		})
	}
}
