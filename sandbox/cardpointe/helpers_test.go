package cardpointe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

const (
	mid  = cardpointe.DefaultMerchID
	visa = "4111111111111111"
	// visaToken is the token UAT gave 4111111111111111 in every recording (spec §5).
	visaToken = "9418594164541111"
)

// gw is a CardPointe sandbox behind a loopback HTTP server, driven with raw
// net/http as any client would.
type gw struct {
	t   *testing.T
	sb  *cardpointe.Server
	srv *httptest.Server
}

func newGW(t *testing.T, opts cardpointe.Options) *gw {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	sb, err := cardpointe.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(srv.Close)
	return &gw{t: t, sb: sb, srv: srv}
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// object decodes a JSON object answer.
func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// array decodes a JSON array answer.
func (r reply) array(t *testing.T) []map[string]any {
	t.Helper()
	var a []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &a), "body: %s", r.body)
	return a
}

// request sends method path with body (nil: none; a string: raw; anything
// else: JSON) and the sandbox's credentials unless noAuth.
func (g *gw) request(ctx context.Context, method, path string, body any, noAuth bool) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(g.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.srv.URL+path, rd)
	require.NoError(g.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if !noAuth {
		u, p, _ := g.sb.Credentials()
		req.SetBasicAuth(u, p)
	}
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(g.t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

func (g *gw) do(method, path string, body any) reply {
	g.t.Helper()
	r, err := g.request(context.Background(), method, path, body, false)
	require.NoError(g.t, err)
	return r
}

// put sends a Gateway write and returns its JSON object answer (HTTP 200).
func (g *gw) put(endpoint string, body map[string]any) map[string]any {
	g.t.Helper()
	if _, ok := body["merchid"]; !ok {
		body["merchid"] = mid
	}
	r := g.do(http.MethodPut, "/cardconnect/rest/"+endpoint, body)
	require.Equal(g.t, http.StatusOK, r.status, "body: %s", r.body)
	return r.object(g.t)
}

// get sends a Gateway read and returns the answer (HTTP 200).
func (g *gw) get(pathAndQuery string) reply {
	g.t.Helper()
	r := g.do(http.MethodGet, "/cardconnect/rest/"+pathAndQuery, nil)
	require.Equal(g.t, http.StatusOK, r.status, "body: %s", r.body)
	return r
}

// auth authorizes amount on account with extra fields.
func (g *gw) auth(account, amount string, extra map[string]any) map[string]any {
	g.t.Helper()
	body := map[string]any{"account": account, "amount": amount, "expiry": "1230"}
	for k, v := range extra {
		body[k] = v
	}
	return g.put("auth", body)
}

func (g *gw) inquire(retref string) map[string]any {
	g.t.Helper()
	return g.get("inquire/" + retref + "/" + mid).object(g.t)
}

// settle calls the admin settle over HTTP, as a test tier would.
func (g *gw) settle() map[string]any {
	g.t.Helper()
	r := g.do(http.MethodPost, "/sandbox/cardpointe/settle", map[string]any{})
	require.Equal(g.t, http.StatusOK, r.status, "body: %s", r.body)
	return r.object(g.t)
}

// requireCode checks respstat, respproc and respcode of an answer.
func requireCode(t *testing.T, resp map[string]any, respstat, respproc, respcode string) {
	t.Helper()
	require.Equal(t, respstat, resp["respstat"], "answer: %v", resp)
	require.Equal(t, respproc, resp["respproc"], "answer: %v", resp)
	require.Equal(t, respcode, resp["respcode"], "answer: %v", resp)
}
