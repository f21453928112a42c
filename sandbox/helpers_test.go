package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
	"github.com/libsecucard/libsecucard/sandbox/sandboxtest"
)

// answer is one HTTP answer.
type answer struct {
	Status int
	Header http.Header
	Raw    []byte
}

// JSON decodes the body into a generic value (numbers as json.Number).
func (a answer) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(a.Raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "body: %s", a.Raw)
	return m
}

func (a answer) Array(t *testing.T) []any {
	t.Helper()
	var v []any
	dec := json.NewDecoder(bytes.NewReader(a.Raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "body: %s", a.Raw)
	return v
}

type client struct {
	t    *testing.T
	s    *sandbox.Server
	http *http.Client
}

func start(t *testing.T, opts sandbox.Options) *client {
	t.Helper()
	s := sandboxtest.Start(t, opts)
	return &client{t: t, s: s, http: &http.Client{Timeout: 10 * time.Second}}
}

// do sends a request; body may be nil, a string (sent raw) or a value (JSON).
func (c *client) do(method, path, token string, body any, header map[string]string) answer {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.s.URL()+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return answer{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
}

// form posts a form to /oauth/token.
func (c *client) form(v url.Values) answer {
	c.t.Helper()
	resp, err := c.http.PostForm(c.s.URL()+"/oauth/token", v)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return answer{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
}

func (c *client) creds(extra ...string) url.Values {
	v := url.Values{"client_id": {c.s.ClientID()}, "client_secret": {c.s.ClientSecret()}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// token gets a client_credentials access token.
func (c *client) token() string {
	c.t.Helper()
	a := c.form(c.creds("grant_type", "client_credentials"))
	require.Equal(c.t, http.StatusOK, a.Status, "%s", a.Raw)
	tok, _ := a.JSON(c.t)["access_token"].(string)
	require.NotEmpty(c.t, tok)
	return tok
}

func str(v any) string { s, _ := v.(string); return s }
