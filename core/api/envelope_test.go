package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
)

func TestEnvelopeMapping(t *testing.T) {
	m, ok := ParseObject([]byte(`{"status":"error","error":"ProductNotFoundException","error_details":"no such id","error_user":"Nicht gefunden","code":2002,"supportId":"abc123"}`))
	require.True(t, ok)
	env := EnvelopeOf(m)
	assert.True(t, env.IsError())
	e := env.Err(errs.API, "smart.transactions.get", http.StatusNotFound)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, "ProductNotFoundException", e.ErrorName)
	assert.Equal(t, "no such id", e.Details)
	assert.Equal(t, "no such id", e.Message)
	assert.Equal(t, "Nicht gefunden", e.UserMessage)
	assert.Equal(t, "2002", e.Code, "a numeric code becomes text")
	assert.Equal(t, "abc123", e.SupportID)
	assert.Equal(t, http.StatusNotFound, e.Status)

	m, _ = ParseObject([]byte(`{"error":"invalid_grant","error_description":"refresh token expired","support_id":7}`))
	env = EnvelopeOf(m)
	assert.True(t, env.IsError(), "error keys without a status")
	e = env.Err(errs.API, "op", 0)
	assert.Equal(t, "refresh token expired", e.Details, "OAuth bodies parse too")
	assert.Equal(t, "7", e.SupportID)
	assert.Zero(t, e.Status, "STOMP has no HTTP status")

	m, _ = ParseObject([]byte(`{"status":"ok","data":{"result":true}}`))
	assert.False(t, EnvelopeOf(m).IsError())
	m, _ = ParseObject([]byte(`{"status":"ERROR"}`))
	assert.True(t, EnvelopeOf(m).IsError())
	assert.Contains(t, EnvelopeOf(m).Err(errs.API, "op", 0).Message, "the API answered with an error")
}

// Every field of the error JSON passes the redactor, not only the message:
// a server that puts a card number or a token into the error name, the
// code or the support id does not make the library repeat it (found
// while writing the answer fuzz targets).
func TestEnvelopeFieldsAreRedacted(t *testing.T) {
	m, ok := ParseObject([]byte(`{"status":"error","error":"card 4111111111111111","code":"5555555555554444",` +
		`"supportId":"Bearer abc.def.ghi","error_user":"4000056655665556"}`))
	require.True(t, ok)
	e := EnvelopeOf(m).Err(errs.API, "op", 400)
	b, err := json.Marshal(e)
	require.NoError(t, err)
	for _, pan := range []string{"4111111111111111", "5555555555554444", "4000056655665556", "abc.def.ghi"} {
		assert.NotContains(t, string(b), pan)
		assert.NotContains(t, e.Error(), pan)
	}
	assert.Contains(t, e.ErrorName, "1111", "the last four stay, as everywhere")
}

func TestHTTPErrorWithoutEnvelope(t *testing.T) {
	e := HTTPError("smart.idents.list", http.StatusBadGateway, []byte("<html><body>Bad gateway from proxy, token=abcdef0123456789</body></html>"))
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, http.StatusBadGateway, e.Status)
	assert.Contains(t, e.Message, "HTTP 502 Bad Gateway without an error body")
	assert.Contains(t, e.Message, "Bad gateway from proxy")
	assert.NotContains(t, e.Message, "abcdef0123456789", "the excerpt is redacted")

	e = HTTPError("op", http.StatusInternalServerError, nil)
	assert.NotContains(t, e.Message, ": ", "no excerpt for an empty body")
	_, ok := ParseObject([]byte(`[1]`))
	assert.False(t, ok)
}
