package cardpointe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
	sbcp "github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// UAT test cards (spec §4) and their CardSecure tokens where recorded.
const (
	visa       = "4111111111111111"
	visaToken  = "9418594164541111" // recorded UAT token of 4111111111111111 (spec §5)
	mcApproval = "5454545454545454"
	doNotHonor = "4387751111111038" // FNOR 05
	partialPAN = "4387750101010101" // >= 6.00 approves 5.00
	timeoutPAN = "4999006200620062" // PPS 62 "Timed out", respstat B
)

// env is one sandbox and one client on it.
type env struct {
	t   *testing.T
	srv *sandbox.Server
	c   *core.Client
	mid string
}

type setup struct {
	sandbox sandbox.Options
	config  map[string]any // merged into the client config (top level)
	section map[string]any // merged into the cardpointe section
	// proxy returns the Gateway URL the client uses instead of the
	// sandbox's (a proxy in front of it).
	proxy func(srv *sandbox.Server) string
	opts  []core.Option
	tls   bool // the sandbox serves HTTPS (its CA trusted through tls.ca_file)
}

// start starts a sandbox and a client with a cardpointe section for it. The
// secucard side is configured too: one handle holds both.
func start(t *testing.T, s setup) *env {
	t.Helper()
	var srv *sandbox.Server
	if s.tls {
		srv = testkit.SandboxTLS(t, s.sandbox)
	} else {
		srv = testkit.Sandbox(t, s.sandbox)
	}
	cfg := testkit.ClientConfig(t, srv)
	cfg["stomp"] = map[string]any{"enabled": false}
	section := testkit.CardPointeConfig(srv)
	// The sandbox's Gateway answers at once, not within 32 s (spec §3): a
	// short answer window keeps the recovery of a lost auth quick.
	section["timeouts"] = map[string]any{"gateway_ms": 300}
	if s.proxy != nil {
		section["url"] = s.proxy(srv)
	}
	for k, v := range s.section {
		section[k] = v
	}
	cfg["cardpointe"] = section
	for k, v := range s.config {
		cfg[k] = v
	}
	// No waits between repeats: the tests wait on state, never on time.
	opts := append([]core.Option{core.WithSleeper(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })}, s.opts...)
	c, err := core.NewFromJSON(testkit.JSON(t, cfg), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &env{t: t, srv: srv, c: c, mid: srv.Endpoints().CardPointeMerchID}
}

// req builds the request JSON of op with data.
func req(op string, data map[string]any, extra ...any) []byte {
	r := map[string]any{"system": "cardpointe", "op": op}
	if data != nil {
		r["data"] = data
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r[extra[i].(string)] = extra[i+1]
	}
	b, _ := json.Marshal(r)
	return b
}

// call runs op through the client's one entry point (what capi calls) and
// returns the decoded answer or the finished error.
func (e *env) call(op string, data map[string]any, extra ...any) (map[string]any, *errs.Error) {
	e.t.Helper()
	return e.callCtx(context.Background(), op, data, extra...)
}

func (e *env) callCtx(ctx context.Context, op string, data map[string]any, extra ...any) (map[string]any, *errs.Error) {
	e.t.Helper()
	raw, err := e.raw(ctx, op, data, extra...)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	require.NoError(e.t, dec.Decode(&m), "%s", raw)
	return m, nil
}

func (e *env) raw(ctx context.Context, op string, data map[string]any, extra ...any) (json.RawMessage, *errs.Error) {
	e.t.Helper()
	r, err := core.ParseRequest(req(op, data, extra...))
	if err != nil {
		return nil, errs.As(err)
	}
	out, err := e.c.Execute(ctx, r)
	if err != nil {
		var ce *errs.Error
		require.True(e.t, errors.As(err, &ce), "%T %v", err, err)
		return nil, ce
	}
	return out, nil
}

// ok runs op and fails the test on an error.
func (e *env) ok(op string, data map[string]any, extra ...any) map[string]any {
	e.t.Helper()
	m, err := e.call(op, data, extra...)
	require.Nil(e.t, err, "%s: %v", op, err)
	return m
}

// list runs an op whose answer is an array.
func (e *env) list(op string, data map[string]any) []any {
	e.t.Helper()
	raw, err := e.raw(context.Background(), op, data)
	require.Nil(e.t, err, "%s: %v", op, err)
	var l []any
	require.NoError(e.t, json.Unmarshal(raw, &l), "%s", raw)
	return l
}

// records asks the sandbox itself (not the client under test) which
// transactions carry orderid: the oracle's view.
func (e *env) records(orderid string) []map[string]any {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.Endpoints().CardPointeURL+"/inquireByOrderid/"+orderid+"/"+e.mid, nil)
	ep := e.srv.Endpoints()
	req.SetBasicAuth(ep.CardPointeUsername, ep.CardPointePassword)
	hc := http.DefaultClient
	if len(ep.HTTPCA) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ep.HTTPCA)
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	resp, err := hc.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var one map[string]any
	if json.Unmarshal(b, &one) == nil {
		if one["respcode"] == "29" && one["account"] == nil {
			return nil
		}
		return []map[string]any{one}
	}
	var many []map[string]any
	require.NoError(e.t, json.Unmarshal(b, &many), "%s", b)
	return many
}

// approvals counts the records of orderid the Gateway approved and that
// still stand (not voided).
func (e *env) approvals(orderid string) int {
	n := 0
	for _, r := range e.records(orderid) {
		if r["respstat"] == "A" && r["setlstat"] != "Voided" {
			n++
		}
	}
	return n
}

// fault arms a sandbox fault.
func (e *env) fault(f sandbox.Fault) { e.srv.AddFault(f) }

// settle settles the sandbox's queued captures (the admin call).
func (e *env) settle() sbcp.SettleResult { return e.srv.CardPointe().Settle() }

// logs collects every log line of a client.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) sink() core.Option {
	return core.WithLogSink(logging.SinkFunc(func(_ logging.Level, msg string) {
		l.mu.Lock()
		l.lines = append(l.lines, msg)
		l.mu.Unlock()
	}))
}

func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// newClient builds a client from a config map; the test fails on an error.
func newClient(t *testing.T, cfg map[string]any) *core.Client {
	t.Helper()
	c, err := newClientErr(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newClientErr(cfg map[string]any) (*core.Client, error) {
	b, _ := json.Marshal(cfg)
	return core.NewFromJSON(b)
}

// newRecorder is a proxy in front of target that shows every request to
// see before forwarding it unchanged.
func newRecorder(t *testing.T, target string, see func(r *http.Request, body []byte)) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		see(r, body)
		mu.Unlock()
		var rd io.Reader
		if len(body) > 0 {
			rd = strings.NewReader(string(body))
		}
		out, _ := http.NewRequest(r.Method, target+r.URL.RequestURI(), rd)
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
