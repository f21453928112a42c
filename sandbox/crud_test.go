package sandbox_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
	"github.com/libsecucard/libsecucard/sandbox/catalog"
)

var stampRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`)

// restPath is /api/v2/<product>/<resource> in the casing .NET/PHP use for
// odd resources and Java's lower case for even ones.
func restPath(i int, r *catalog.Resource) string {
	p, res, _ := strings.Cut(r.Name, ".")
	if i%2 == 1 {
		p = strings.ToUpper(p[:1]) + p[1:]
		res = strings.ToUpper(res[:1]) + res[1:]
	}
	return "/api/v2/" + p + "/" + res
}

func TestGenericCRUDEveryResource(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	for i, r := range catalog.All() {
		t.Run(r.Name, func(t *testing.T) {
			base := restPath(i, r)
			a := c.do("POST", base, tok, map[string]any{"name": "Prüfling/1", "amount": 1234, "id": "ignored"}, map[string]string{"X-Action": "crud-" + r.Name})
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			created := a.JSON(t)
			id := str(created["id"])
			assert.Equal(t, r.Name, created["object"])
			assert.True(t, strings.HasPrefix(id, r.IDPrefix), id)
			if r.IDPrefix[0] >= 'A' && r.IDPrefix[0] <= 'Z' {
				assert.Regexp(t, `^[A-Z]{3}_[A-Z0-9]{30}$`, id)
			} else {
				assert.Regexp(t, `^[a-z]+_[0-9]+$`, id)
			}
			assert.Regexp(t, stampRe, created["created"])
			assert.Equal(t, json.Number("1234"), created["amount"])
			assert.Contains(t, string(a.Raw), `"name":"Pr\u00fcfling\/1"`, "server JSON style")

			a = c.do("GET", base+"/"+id, tok, nil, nil)
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			assert.Equal(t, "Prüfling/1", a.JSON(t)["name"])

			a = c.do("PUT", base+"/"+id, tok, map[string]any{"amount": 99, "extra": true, "created": "1999-01-01T00:00:00+01:00"}, nil)
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			updated := a.JSON(t)
			assert.Equal(t, json.Number("99"), updated["amount"])
			assert.Equal(t, true, updated["extra"])
			assert.Equal(t, "Prüfling/1", updated["name"], "update merges")
			assert.Equal(t, created["created"], updated["created"], "created is not writable")
			assert.Regexp(t, stampRe, updated["updated"])

			a = c.do("GET", base+"?q=id:"+id, tok, nil, nil)
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			assert.Equal(t, json.Number("1"), a.JSON(t)["count"])

			a = c.do("DELETE", base+"/"+id, tok, nil, nil)
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			del := a.Array(t)
			require.Len(t, del, 1)
			assert.Equal(t, id, del[0].(map[string]any)["id"])

			a = c.do("GET", base+"/"+id, tok, nil, nil)
			assert.Equal(t, http.StatusNotFound, a.Status)
			assert.Equal(t, "ProductNotFoundException", a.JSON(t)["error"])

			for _, act := range r.Actions {
				if special[r.Name+"."+act.Name] {
					continue
				}
				path := base + "/me/" + act.Name
				if act.NoID {
					path = base + "/" + act.Name
				}
				// The verb of an action is not checked: the SDKs disagree
				// (spec §6.2: JS PUTs what Java POSTs).
				method := "POST"
				a = c.do(method, path, tok, "{}", nil)
				assert.Equal(t, http.StatusOK, a.Status, "%s %s: %s", method, path, a.Raw)
				assert.Equal(t, true, a.JSON(t)["result"], "%s %s", method, path)
			}
		})
	}
}

// special actions have behaviour of their own (tested elsewhere).
var special = map[string]bool{
	"smart.transactions.start": true, "smart.transactions.cancel": true, "smart.transactions.Diagnosis": true,
	"smart.transactions.EndofDay": true, "smart.transactions.cancelTrx": true, "smart.transactions.preTransaction": true,
	"loyalty.merchantcards.CheckCsc": true, "loyalty.merchantcards.CheckPasscode": true, "general.accounts.passwordreset": true,
	"smart.idents.read": true, "smart.idents.validate": true,
}

func TestRESTErrors(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		exc                       string
		detail                    string
	}{
		{"no token", "GET", "/api/v2/smart/idents", "", nil, 401, "ProductSecurityException", "no access token"},
		{"bad token", "GET", "/api/v2/smart/idents", "0123456789abcdef0123456789abcdef01234567", nil, 401, "ProductSecurityException", "invalid or expired"},
		{"unknown resource", "GET", "/api/v2/smart/transaction", tok, nil, 404, "ProductNotFoundException", `did you mean "smart.transactions"`},
		{"unknown product", "GET", "/api/v2/nope/things", tok, nil, 404, "ProductNotFoundException", "unknown resource"},
		{"short path", "GET", "/api/v2/smart", tok, nil, 404, "ProductNotFoundException", "<product>/<resource>"},
		{"unknown path", "GET", "/api/v3/smart/idents", tok, nil, 404, "ProductNotFoundException", "no such path"},
		{"unknown id", "GET", "/api/v2/smart/idents/smi_99", tok, nil, 404, "ProductNotFoundException", "smi_99"},
		{"unknown action", "POST", "/api/v2/smart/idents/smi_1/explode", tok, nil, 404, "ProductNotFoundException", "has no action"},
		{"action on unknown id", "POST", "/api/v2/smart/idents/smi_99/read", tok, nil, 404, "ProductNotFoundException", "does not exist"},
		{"post to an id", "POST", "/api/v2/smart/idents/smi_1", tok, "{}", 400, "ProductNotAllowedException", "needs an action"},
		{"put without id", "PUT", "/api/v2/smart/idents", tok, "{}", 400, "ProductNotAllowedException", "needs an id"},
		{"array body", "POST", "/api/v2/general/contacts", tok, "[1]", 400, "ProductFormatException", "must be a JSON object"},
		{"broken json", "POST", "/api/v2/general/contacts", tok, "{", 400, "ProductFormatException", "not valid JSON"},
		{"method", "OPTIONS", "/api/v2/general/contacts", tok, nil, 405, "ProductNotAllowedException", "OPTIONS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do(tc.method, tc.path, tc.token, tc.body, nil)
			assert.Equal(t, tc.status, a.Status, "%s", a.Raw)
			assert.Equal(t, "application/json", a.Header.Get("Content-Type"))
			m := a.JSON(t)
			assert.Equal(t, "error", m["status"])
			assert.Equal(t, tc.exc, m["error"])
			assert.Contains(t, m["error_details"], tc.detail)
			assert.NotEmpty(t, m["error_user"])
			assert.NotEmpty(t, m["code"])
			assert.Regexp(t, `^[0-9a-f]{32}$`, m["supportId"])
		})
	}
}

func TestAnonymousCalls(t *testing.T) {
	c := start(t, sandbox.Options{})
	a := c.do("POST", "/api/v2/document/uploads", "", map[string]string{"content": "SGVsbG8h"}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	up := a.JSON(t)
	assert.Regexp(t, `^DUP_[A-Z0-9]{30}$`, up["id"])

	a = c.do("POST", "/api/v2/General/Accounts", "", map[string]string{"username": "new@example.com", "password": "pw-123456"}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	acc := a.JSON(t)
	assert.Equal(t, "new@example.com", acc["username"])
	assert.NotContains(t, acc, "password", "password is write-only")

	a = c.do("POST", "/api/v2/general/accounts/null/passwordreset/new@example.com", "", map[string]string{"origin": "pos"}, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	assert.Contains(t, a.JSON(t), "livetime")

	tok := c.token()
	a = c.do("GET", "/api/v2/document/uploads/"+str(up["id"]), tok, nil, nil)
	require.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, "SGVsbG8h", a.JSON(t)["content"])

	a = c.do("GET", "/api/v2/document/uploads/"+str(up["id"]), "", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, a.Status, "only create is anonymous")
}

func TestSeedData(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	a := c.do("GET", "/api/v2/Smart/Idents", tok, nil, nil)
	require.Equal(t, http.StatusOK, a.Status)
	assert.JSONEq(t, `{"count":3,"data":[
		{"object":"smart.idents","id":"smi_1","type":"card","prefix":"9276","length":16,"name":"secucard Kundenkarte"},
		{"object":"smart.idents","id":"smi_2","type":"checkin","prefix":"CKI_","length":34,"name":"secucard Check-In"},
		{"object":"smart.idents","id":"smi_3","type":"checkin","prefix":"PPT_","length":34,"name":"PayPal Check-In"}]}`, string(a.Raw))

	a = c.do("POST", "/api/v2/smart/idents", tok, map[string]any{"type": "card"}, nil)
	assert.Equal(t, "smi_4", a.JSON(t)["id"], "smart.idents keep their recorded numbering")

	for _, res := range []string{"general/merchants", "general/stores", "loyalty/cards", "loyalty/merchantcards"} {
		a := c.do("GET", "/api/v2/"+res, tok, nil, nil)
		require.Equal(t, http.StatusOK, a.Status)
		n, _ := a.JSON(t)["count"].(json.Number).Int64()
		assert.GreaterOrEqual(t, n, int64(2), res)
	}
	a = c.do("GET", "/api/v2/general/merchants/me", tok, nil, nil)
	assert.Equal(t, sandbox.SeedMerchantID, a.JSON(t)["id"])
	a = c.do("GET", "/api/v2/loyalty/cards/"+sandbox.SeedCards[0].CardNumber, tok, nil, nil)
	assert.Equal(t, sandbox.SeedCards[0].Card, a.JSON(t)["id"], "cards are found by card number too")
	a = c.do("GET", "/api/v2/loyalty/cards/4111111111111111", tok, nil, nil)
	assert.Equal(t, http.StatusNotFound, a.Status)
	// The sandbox echoes what it was sent, as a server may: keeping a card
	// number out of logs and errors is the client's job, and a sandbox that
	// masked it would hide a client that does not.
	assert.Contains(t, a.JSON(t)["error_details"], `"4111111111111111"`)
	recs := c.s.Requests()
	assert.Equal(t, "/api/v2/loyalty/cards/4111111111111111", recs[len(recs)-1].Path, "recorded as sent")
}

func TestMerchantCardChecks(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	card := sandbox.SeedCards[0]
	cases := []struct {
		name, action string
		body         map[string]string
		status       int
		result       any
	}{
		{"csc ok", "CheckCsc", map[string]string{"cardnumber": card.CardNumber, "csc": card.CSC}, 200, true},
		{"csc wrong", "CheckCsc", map[string]string{"cardnumber": card.CardNumber, "csc": "0000"}, 200, false},
		{"csc unknown card", "checkcsc", map[string]string{"cardnumber": "9276999999999999", "csc": card.CSC}, 200, false},
		{"pin ok", "CheckPasscode", map[string]string{"cardnumber": card.CardNumber, "pin": card.PIN}, 200, true},
		{"pin wrong", "CHECKPASSCODE", map[string]string{"cardnumber": card.CardNumber, "pin": "9999"}, 200, false},
		{"pin missing", "CheckPasscode", map[string]string{"cardnumber": card.CardNumber}, 400, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do("POST", "/api/v2/loyalty/merchantcards/me/"+tc.action, tok, tc.body, nil)
			assert.Equal(t, tc.status, a.Status, "%s", a.Raw)
			if tc.result != nil {
				assert.Equal(t, tc.result, a.JSON(t)["result"])
			} else {
				assert.Contains(t, a.JSON(t)["error_details"], "pin is required")
			}
			// supportId is random hex and may contain the PIN's digits by
			// chance; every other part of the answer must not echo it.
			answer := a.JSON(t)
			delete(answer, "supportId")
			echoed, err := json.Marshal(answer)
			require.NoError(t, err)
			assert.NotContains(t, string(echoed), card.PIN)
		})
	}
	a := c.do("POST", "/api/v2/auth/sessions/me/refresh", tok, nil, nil)
	assert.Equal(t, `{"result":true}`, string(a.Raw))
}
