package cardpointe_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

func TestCredentialTest(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, c := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"PUT with the MID", http.MethodPut, "/cardconnect/rest/", map[string]any{"merchid": mid}, 200},
		{"POST with the MID", http.MethodPost, "/cardconnect/rest/", map[string]any{"merchid": mid}, 200},
		{"base without slash", http.MethodPut, "/cardconnect/rest", map[string]any{"merchid": mid}, 200},
		{"bodiless GET (Postman)", http.MethodGet, "/cardconnect/rest/", nil, 200},
		{"GET with the MID in a body", http.MethodGet, "/cardconnect/rest/", map[string]any{"merchid": mid}, 200},
		{"GET with a body that is not JSON", http.MethodGet, "/cardconnect/rest/", "hello", 200},
		{"PUT with a body that is not JSON", http.MethodPut, "/cardconnect/rest/", "hello", 400},
		{"PUT with another MID", http.MethodPut, "/cardconnect/rest/", map[string]any{"merchid": "123456789012"}, 401},
		{"GET with another MID", http.MethodGet, "/cardconnect/rest/", map[string]any{"merchid": "123456789012"}, 401},
		{"PUT without a MID", http.MethodPut, "/cardconnect/rest/", map[string]any{}, 401},
		{"DELETE", http.MethodDelete, "/cardconnect/rest/", nil, 405},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := g.do(c.method, c.path, c.body)
			require.Equal(t, c.status, r.status, "body: %s", r.body)
			if c.status == 200 {
				assert.Equal(t, "CardConnect REST Servlet", string(r.body))
				assert.Contains(t, r.header.Get("Content-Type"), "text/plain")
			}
		})
	}
}

func TestGatewayNeedsBasicAuthCardSecureDoesNot(t *testing.T) {
	g := newGW(t, cardpointe.Options{Username: "user1", Password: "pw1", MerchID: "800000000001"})
	paths := []struct{ method, path string }{
		{http.MethodPut, "/cardconnect/rest/"},
		{http.MethodPut, "/cardconnect/rest/auth"},
		{http.MethodPost, "/cardconnect/rest/capture"},
		{http.MethodGet, "/cardconnect/rest/inquire/123/800000000001"},
		{http.MethodGet, "/cardconnect/rest/settlestat?merchid=800000000001"},
		{http.MethodGet, "/cardconnect/rest/no-such-endpoint"},
	}
	bad := map[string]string{
		"none":           "",
		"wrong password": "Basic " + base64.StdEncoding.EncodeToString([]byte("user1:wrong")),
		"wrong user":     "Basic " + base64.StdEncoding.EncodeToString([]byte("testing:pw1")),
		"bearer":         "Bearer user1:pw1",
		"not base64":     "Basic !!!",
		"no colon":       "Basic " + base64.StdEncoding.EncodeToString([]byte("user1pw1")),
	}
	for _, p := range paths {
		for name, header := range bad {
			req, err := http.NewRequest(p.method, g.srv.URL+p.path, strings.NewReader(`{"merchid":"800000000001"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			resp, err := g.srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s with %s", p.method, p.path, name)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic", "%s %s", p.method, p.path)
		}
	}
	// The configured credentials pass.
	r := g.do(http.MethodPut, "/cardconnect/rest/", map[string]any{"merchid": "800000000001"})
	assert.Equal(t, http.StatusOK, r.status)

	// CardSecure tokenize needs no credentials (spec §5).
	r, err := g.request(context.Background(), http.MethodPost, "/cardsecure/api/v1/ccn/tokenize",
		map[string]any{"account": visa}, true)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, visaToken, r.object(t)["token"])
}

func TestUnknownPathsAnswer404WithTheDocumentedBody(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	for _, p := range []string{
		"/cardconnect/rest/inquireByOderid/1/" + mid,  // the changelog's own example
		"/cardconnect/rest/inquirebyorderid/1/" + mid, // paths are case-sensitive
		"/cardconnect/rest/Auth",
		"/cardconnect/rest/inquire/1",               // missing the MID
		"/cardconnect/rest/inquire/1/2/3",           // one segment too many
		"/cardconnect/rest/openbatch/" + mid + "/x", // documented but not reproduced
		"/cardsecure/api/v1/nothing",
		"/elsewhere",
	} {
		r := g.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusNotFound, r.status, p)
		body := r.object(t)
		assert.Equal(t, float64(404), body["status"], p)
		assert.Equal(t, "Not Found", body["error"], p)
		assert.Equal(t, p, body["path"], p)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$`, body["timestamp"], p)
	}
}

func TestMethodsPerEndpoint(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	auth := g.auth(visa, "1.00", nil)
	retref := auth["retref"].(string)

	// Writes take PUT and POST alike.
	for _, m := range []string{http.MethodPut, http.MethodPost} {
		r := g.do(m, "/cardconnect/rest/auth", map[string]any{"merchid": mid, "account": visa, "amount": "1.00"})
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "A", r.object(t)["respstat"], m)
	}
	// A write endpoint refuses GET and DELETE; a read refuses PUT.
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/cardconnect/rest/auth"},
		{http.MethodDelete, "/cardconnect/rest/capture"},
		{http.MethodPut, "/cardconnect/rest/inquire/" + retref + "/" + mid},
		{http.MethodPost, "/cardconnect/rest/settlestat?merchid=" + mid},
		{http.MethodPatch, "/cardconnect/rest/profile"},
	} {
		r := g.do(c.method, c.path, map[string]any{"merchid": mid})
		assert.Equal(t, http.StatusMethodNotAllowed, r.status, "%s %s: %s", c.method, c.path, r.body)
		assert.NotEmpty(t, r.header.Get("Allow"))
	}
}

func TestGETToleratesAJSONBody(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	retref := g.auth(visa, "2.00", nil)["retref"].(string)
	// CardConnect's Node sample sends its parameters as a JSON body on GET too.
	r := g.do(http.MethodGet, "/cardconnect/rest/inquire/"+retref+"/"+mid, map[string]any{"merchid": mid, "retref": retref})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, retref, r.object(t)["retref"])
	// Even one that is not JSON: a GET's body is not read for meaning.
	r = g.do(http.MethodGet, "/cardconnect/rest/inquire/"+retref+"/"+mid, "not json")
	require.Equal(t, http.StatusOK, r.status)
	// A trailing slash is accepted.
	r = g.do(http.MethodGet, "/cardconnect/rest/inquire/"+retref+"/"+mid+"/", nil)
	require.Equal(t, http.StatusOK, r.status)
}

func TestInputHardening(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	huge := `{"merchid":"` + mid + `","account":"` + visa + `","amount":"1.00","name":"` + strings.Repeat("x", 300<<10) + `"}`
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, c := range []struct {
		name   string
		path   string
		body   string
		ctype  string
		status int
	}{
		{"oversized body", "/cardconnect/rest/auth", huge, "application/json", http.StatusRequestEntityTooLarge},
		{"oversized tokenize", "/cardsecure/api/v1/ccn/tokenize", huge, "application/json", http.StatusRequestEntityTooLarge},
		{"malformed JSON", "/cardconnect/rest/auth", `{"merchid":`, "application/json", http.StatusBadRequest},
		{"JSON array", "/cardconnect/rest/capture", `[{"merchid":"x"}]`, "application/json", http.StatusBadRequest},
		{"JSON string", "/cardconnect/rest/void", `"merchid"`, "application/json", http.StatusBadRequest},
		{"empty body", "/cardconnect/rest/auth", ``, "application/json", http.StatusBadRequest},
		{"trailing data", "/cardconnect/rest/auth", `{"merchid":"x"} {}`, "application/json", http.StatusBadRequest},
		{"deep nesting", "/cardconnect/rest/refund", `{"a":` + deep + `}`, "application/json", http.StatusBadRequest},
		{"invalid UTF-8 is still JSON", "/cardconnect/rest/sigcap", "{\"merchid\":\"\xff\"}", "application/json", http.StatusOK},
		{"form body", "/cardconnect/rest/auth", `merchid=1`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"no content type", "/cardconnect/rest/auth", `{"merchid":"1"}`, "", http.StatusUnsupportedMediaType},
		{"charset parameter", "/cardconnect/rest/", `{"merchid":"` + mid + `"}`, "application/json; charset=utf-8", http.StatusOK},
		{"malformed tokenize", "/cardsecure/api/v1/ccn/tokenize", `{"account":`, "application/json", http.StatusBadRequest},
		{"malformed settle", "/sandbox/cardpointe/settle", `{`, "application/json", http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, g.srv.URL+c.path, strings.NewReader(c.body))
			require.NoError(t, err)
			if strings.HasPrefix(c.path, "/cardsecure") || strings.HasPrefix(c.path, "/sandbox") {
				req.Method = http.MethodPost
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			u, p, _ := g.sb.Credentials()
			req.SetBasicAuth(u, p)
			resp, err := g.srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, c.status, resp.StatusCode)
		})
	}
	// The sandbox still answers normally afterwards.
	assert.Equal(t, "A", g.auth(visa, "1.00", nil)["respstat"])
}

func TestFieldNamesAreCaseSensitive(t *testing.T) {
	g := newGW(t, cardpointe.Options{})
	// "MerchID" is not "merchid": the merchant is missing, PPS 21.
	r := g.do(http.MethodPut, "/cardconnect/rest/auth", map[string]any{"MerchID": mid, "account": visa, "amount": "1.00"})
	require.Equal(t, http.StatusOK, r.status)
	requireCode(t, r.object(t), "C", "PPS", "21")
	// "Amount" is not "amount".
	resp := g.put("auth", map[string]any{"account": visa, "Amount": "1.00"})
	requireCode(t, resp, "C", "PPS", "43")
}

func TestInquireMerchant(t *testing.T) {
	g := newGW(t, cardpointe.Options{Processor: cardpointe.ProcRPCT})
	m := g.get("inquireMerchant/" + mid).object(t)
	assert.Equal(t, true, m["enabled"])
	assert.Equal(t, "RPCT", m["cardproc"])
	assert.Equal(t, mid, m["merchid"])
	assert.Equal(t, "sandbox", m["site"])
	requireCode(t, g.get("inquireMerchant/123456789012").object(t), "C", "PPS", "21")
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]cardpointe.Options{
		"colon in user":    {Username: "a:b"},
		"long MID":         {MerchID: "1234567890123"},
		"letters in MID":   {MerchID: "abc"},
		"currency":         {Currency: "US"},
		"processor":        {Processor: "VISA"},
		"negative timeout": {TimeoutDelay: -1},
	} {
		_, err := cardpointe.New(o)
		assert.Error(t, err, name)
	}
}
