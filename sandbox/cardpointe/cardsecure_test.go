package cardpointe_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

func (g *gw) tokenize(body map[string]any) map[string]any {
	g.t.Helper()
	r := g.do(http.MethodPost, "/cardsecure/api/v1/ccn/tokenize", body)
	require.Equal(g.t, http.StatusOK, r.status, "body: %s", r.body)
	return r.object(g.t)
}

func TestTokenize(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	resp := g.tokenize(map[string]any{"account": visa})
	assert.Equal(t, float64(0), resp["errorcode"])
	assert.Equal(t, "No Error", resp["message"])
	assert.Equal(t, visaToken, resp["token"], "the token UAT recorded for this card")

	// Stable per PAN, also across sandbox instances.
	other := newGW(t, cardpointe.Options{Seed: 99})
	assert.Equal(t, visaToken, other.tokenize(map[string]any{"account": visa})["token"])
	assert.Equal(t, visaToken, g.tokenize(map[string]any{"account": "4111 1111 1111 1111", "expiry": "1230", "cvv": "123"})["token"])

	// CardSecure shape for every network: 9, first two, last four, 16 digits.
	for _, pan := range []string{"4444333322221111", "5454545454545454", "371449635398431", "6011000995500000", "36438999960016", "3528000000000007"} {
		tok := g.tokenize(map[string]any{"account": pan})["token"].(string)
		assert.Regexp(t, `^9`+pan[:2]+`\d{9}`+pan[len(pan)-4:]+`$`, tok, pan)
		// The token authorizes like the card (a decline PAN's token declines).
		a := g.auth(tok, "1.00", nil)
		assert.Equal(t, tok, a["token"])
	}

	// unique: a fresh token each time, still usable.
	u1 := g.tokenize(map[string]any{"account": visa, "unique": true})["token"].(string)
	u2 := g.tokenize(map[string]any{"account": visa, "unique": "true"})["token"].(string)
	assert.NotEqual(t, visaToken, u1)
	assert.NotEqual(t, u1, u2)
	assert.Regexp(t, `^941\d{9}1111$`, u1)
	requireCode(t, g.auth(u1, "1.00", nil), "A", "FNOR", "00")

	// Re-posting a token with expiry updates it; auth then uses that expiry.
	tok := g.tokenize(map[string]any{"account": "4444333322221111"})["token"].(string)
	assert.Equal(t, tok, g.tokenize(map[string]any{"account": tok, "expiry": "0229", "cvv": "999"})["token"])
	a := g.put("auth", map[string]any{"account": tok, "amount": "1.00"})
	assert.Equal(t, "0229", a["expiry"])

	// CardSecure tokenizes any Luhn-valid number; the gateway still refuses
	// the card behind the token.
	odd := g.tokenize(map[string]any{"account": "7111111111111114"})["token"].(string)
	assert.Regexp(t, `^971\d{9}1114$`, odd)
	requireCode(t, g.auth(odd, "1.00", nil), "C", "PPS", "33")

	// ACH: "<routing>/<account>": 9, the routing number's first two, the account's last four.
	ach := g.tokenize(map[string]any{"account": "036001808/123456789"})["token"].(string)
	assert.Regexp(t, `^903\d{9}6789$`, ach)
	requireCode(t, g.auth(ach, "1.00", nil), "C", "PPS", "48") // the sandbox MID has no eCheck
}

func TestTokenizeErrors(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		body map[string]any
		code float64
	}{
		{map[string]any{"account": "4111111111111112"}, 54},
		{map[string]any{"account": ""}, 14},
		{map[string]any{}, 74},
		{map[string]any{"account": "4111-1111-1111-1111"}, 8},
		{map[string]any{"account": "41111111"}, 21},
		{map[string]any{"account": "41111111111111111111"}, 13},
		{map[string]any{"account": "9400000000000000"}, 49},
		{map[string]any{"account": visa, "cvv": "12"}, 21},
		{map[string]any{"account": visa, "cvv": "1a3"}, 8},
		{map[string]any{"account": visa, "expiry": "1234567"}, 21},
		{map[string]any{"devicedata": "ME4xOTk5..."}, 78},
		{map[string]any{"account": "abc", "encryptionhandler": "RSA"}, 12},
		{map[string]any{"account": []any{visa}}, 77},
		{map[string]any{"account": "036001809/123456789"}, 54}, // bad routing check digit
	} {
		resp := g.tokenize(c.body)
		assert.Equal(t, c.code, resp["errorcode"], "%v", c.body)
		assert.NotEmpty(t, resp["message"])
		assert.NotContains(t, resp, "token")
	}
	assert.Equal(t, http.StatusMethodNotAllowed, g.do(http.MethodGet, "/cardsecure/api/v1/ccn/tokenize", nil).status)
	assert.Equal(t, http.StatusMethodNotAllowed, g.do(http.MethodPut, "/cardsecure/api/v1/ccn/tokenize", map[string]any{"account": visa}).status)
}

func TestEcho(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	r := g.do(http.MethodPost, "/cardsecure/api/v1/echo", map[string]any{"message": "ping"})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, map[string]any{"message": "ping", "errorcode": float64(0)}, r.object(t))
	assert.Equal(t, "", g.do(http.MethodPost, "/cardsecure/api/v1/echo", map[string]any{"message": ""}).object(t)["message"])
	assert.Equal(t, float64(74), g.do(http.MethodPost, "/cardsecure/api/v1/echo", map[string]any{}).object(t)["errorcode"])
}
