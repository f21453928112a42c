package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// fuzzBase is the configured REST base of the URL target: a host with a
// port and a base path, both of which every built URL must keep.
const fuzzBase = "https://api.example:8443/api/v2"

// FuzzRequestURL feeds host request JSON (secucard_call's request) through
// ParseRequest and the call pipeline's Resolve to the URL the REST channel
// calls. Properties:
//   - a refused request gets an InvalidArgument naming a field, and no card
//     number of the input, nor a secret in its data, appears in the error;
//   - a built URL never leaves the configured scheme, host, port or base
//     path, also after a proxy resolves dot segments, carries no user info
//     or fragment, and its query holds exactly the list parameters the
//     request gave (nothing a value could inject).
//
// Seeds: testdata/fuzz/FuzzRequestURL.
func FuzzRequestURL(f *testing.F) {
	f.Add([]byte(`{"resource":"smart.transactions","op":"execute","id":"STX_1","action":"start","arg":"demo"}`), 1)
	ch, err := New(Config{BaseURL: fuzzBase, Language: "en", UserAgent: "fuzz", MaxBodyBytes: MaxBodyBytes})
	if err != nil {
		f.Fatal(err)
	}
	base, _ := url.Parse(fuzzBase)
	f.Fuzz(func(t *testing.T, doc []byte, at int) {
		for _, d := range plantedRequests(doc, at) {
			req, err := api.ParseRequest(d.doc)
			if err != nil {
				refused(t, d, err)
				continue
			}
			p, err := (&call.Settings{AllowUnknown: true, Idempotency: true}).Resolve(req)
			if err != nil {
				refused(t, d, err)
				continue
			}
			u, err := ch.URL(p)
			if err != nil {
				refused(t, d, err)
				continue
			}
			checkURL(t, base, p.Request, u)
		}
	})
}

// planted is a request document and the secrets (besides its card
// numbers) that must not come back in an error.
type planted struct {
	doc     []byte
	secrets []string
}

// plantedRequests is doc itself, and doc with a card number planted in
// one value position and a secret under a secret key of its data.
func plantedRequests(doc []byte, at int) []planted {
	out := []planted{{doc: doc, secrets: testkit.SecretValues(dataOf(doc))}}
	pan := testkit.TestPANs[uint(at)%uint(len(testkit.TestPANs))]
	if d, ok := testkit.PlantJSON(doc, at, pan); ok {
		out = append(out, planted{doc: d})
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(doc, &m) == nil && m != nil {
		m["data"] = json.RawMessage(`{"password":"Pw0rd9Secret77","amount":100}`)
		if d, err := json.Marshal(m); err == nil && !bytes.Contains(doc, []byte("Pw0rd9Secret77")) {
			out = append(out, planted{doc: d, secrets: []string{"Pw0rd9Secret77"}})
		}
	}
	return out
}

func dataOf(doc []byte) []byte {
	var m struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(doc, &m)
	return m.Data
}

func refused(t *testing.T, d planted, err error) {
	t.Helper()
	e := errs.As(err)
	if e.Kind != errs.InvalidArgument || e.Field == "" {
		t.Fatalf("request %q: refused with %s (field %q), want invalid_argument naming a field: %v", d.doc, e.Kind, e.Field, err)
	}
	if leak := testkit.Leak(testkit.ErrorText(err), string(d.doc), d.secrets...); leak != "" {
		t.Fatalf("request %q: the error repeats %q: %s", d.doc, leak, testkit.ErrorText(err))
	}
}

// checkURL states where a built URL may point, without the channel's code.
func checkURL(t *testing.T, base *url.URL, req *api.Request, u *url.URL) {
	t.Helper()
	// What the HTTP client sends is the URL's string form parsed again.
	sent, err := url.Parse(u.String())
	if err != nil {
		t.Fatalf("%s: the URL %q does not parse again: %v", req.Name(), u, err)
	}
	switch {
	case sent.Scheme != base.Scheme || sent.Host != base.Host:
		t.Fatalf("%s: the URL %q leaves %s://%s", req.Name(), sent, base.Scheme, base.Host)
	case sent.User != nil || sent.Fragment != "" || sent.Opaque != "":
		t.Fatalf("%s: the URL %q carries user info, an opaque part or a fragment", req.Name(), sent)
	case !strings.HasPrefix(sent.EscapedPath(), base.Path+"/"):
		t.Fatalf("%s: the URL %q is outside the base path %s", req.Name(), sent, base.Path)
	}
	// A proxy that resolves dot segments, or decodes %2F, must not move it.
	for _, seg := range strings.Split(strings.TrimPrefix(sent.EscapedPath(), base.Path+"/"), "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil || seg == "" || dec == "." || dec == ".." || strings.ContainsAny(dec, "/\\") {
			t.Fatalf("%s: the URL %q has the path segment %q", req.Name(), sent, seg)
		}
	}
	if resolved := base.ResolveReference(sent); !strings.HasPrefix(resolved.EscapedPath(), base.Path+"/") {
		t.Fatalf("%s: the URL %q resolves to %q outside the base path", req.Name(), sent, resolved)
	}
	if req.Op != api.List || req.Query == nil {
		if sent.RawQuery != "" {
			t.Fatalf("%s: the URL %q has a query", req.Name(), sent)
		}
		return
	}
	got, err := url.ParseQuery(sent.RawQuery)
	if err != nil {
		t.Fatalf("%s: the query of %q does not parse: %v", req.Name(), sent, err)
	}
	want := expectedQuery(req.Query)
	for k, v := range got {
		if w := want[k]; strings.Join(v, "\x00") != strings.Join(w, "\x00") {
			t.Fatalf("%s: the URL %q carries %s=%q, the request gave %q (query %+v)", req.Name(), sent, k, v, w, *req.Query)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Fatalf("%s: the URL %q lacks %s (query %+v)", req.Name(), sent, k, *req.Query)
		}
	}
}

// expectedQuery is what a resolved list query should put on the wire, key
// by key, values in the order given.
func expectedQuery(q *api.Query) map[string][]string {
	m := map[string][]string{}
	add := func(k, v string) { m[k] = append(m[k], v) }
	if q.Count != nil {
		add("count", strconv.Itoa(*q.Count))
	}
	if q.Offset > 0 {
		add("offset", strconv.Itoa(q.Offset))
	}
	if len(q.Fields) > 0 {
		add("fields", strings.Join(q.Fields, ","))
	}
	for _, k := range []struct{ key, v string }{{"q", q.Q}, {"preset", q.Preset}, {"scroll_expire", q.ScrollExpire}, {"scroll_id", q.ScrollID}} {
		if k.v != "" {
			add(k.key, k.v)
		}
	}
	for _, s := range q.Sort {
		add("sort["+s.Field+"]", s.Order)
	}
	if g := q.Geo; g != nil {
		for _, kv := range [][2]string{{"field", g.Field}, {"lat", g.Lat}, {"lon", g.Lon}, {"distance", g.Distance}} {
			if kv[1] != "" {
				add("geo["+kv[0]+"]", kv[1])
			}
		}
	}
	return m
}

// fuzzOps are the requests the answer target asks with: a read, a list, a
// keyed create and a payment start (which nothing makes safe to repeat).
var fuzzOps = []api.Request{
	{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"},
	{Resource: "smart.transactions", Op: api.List},
	{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{"basket_info":{"sum":100}}`)},
	{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"},
}

// roundTrip answers every request with the fuzzed status, Retry-After and body.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzRESTAnswer feeds any answer (status, Retry-After, body) to the REST
// channel and the call pipeline's decision. Properties:
//   - a success has a JSON result (a list: an object with a data array and a
//     numeric count); anything else is a typed error (never Internal);
//   - outcome and retryable are honest: an answer is never "not_sent"; a
//     refusal is "rejected"; a payment start that may have reached the
//     server is never retryable; a 401 refuses exactly the token sent;
//   - retry_after_ms is within 0..24h;
//   - no card number of the body and no secret under a secret key of the
//     body appears in the error.
//
// Seeds: testdata/fuzz/FuzzRESTAnswer.
func FuzzRESTAnswer(f *testing.F) {
	f.Add(uint8(0), 503, "120", []byte(`{"status":"error","error":"ProductInternalException","error_details":"x"}`))
	f.Fuzz(func(t *testing.T, opSel uint8, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800 // every class, also the odd ones
		}
		tokens := &fakeTokens{tokens: []string{"tok-FUZZ-a1b2c3d4e5", "tok-FUZZ-f6g7h8i9j0"}}
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			if r.Body != nil {
				_, _ = io.Copy(io.Discard, r.Body)
			}
			h := http.Header{"Content-Type": {"application/json"}}
			if retryAfter != "" {
				h.Set("Retry-After", retryAfter)
			}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		ch, err := New(Config{BaseURL: "https://api.example/api/v2", HTTPClient: client, Tokens: tokens,
			Language: "en", UserAgent: "fuzz", MaxBodyBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		req := fuzzOps[int(opSel)%len(fuzzOps)]
		p, err := (&call.Settings{Idempotency: true, Policy: call.Policy{MaxAttempts: 3, MaxWait: 30 * time.Second}}).Resolve(&req)
		if err != nil {
			t.Fatal(err)
		}
		o := ch.Send(context.Background(), p)
		if o.Answer == call.Success {
			if o.Err != nil || !json.Valid(o.Result) {
				t.Fatalf("HTTP %d %q: success with error %v or result %q", status, body, o.Err, o.Result)
			}
			if req.Op == api.List {
				var page struct {
					Count *json.Number     `json:"count"`
					Data  *json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(o.Result, &page); err != nil || page.Count == nil || page.Data == nil || (*page.Data)[0] != '[' {
					t.Fatalf("HTTP %d %q: list result %q is not {count, data: [...]}", status, body, o.Result)
				}
			}
			return
		}
		if o.Err == nil {
			t.Fatalf("HTTP %d %q: %s without an error", status, body, o.Answer)
		}
		switch o.Err.Kind {
		case errs.API, errs.Auth, errs.Network, errs.Declined:
		default:
			t.Fatalf("HTTP %d %q: an answer failed as %s: %v", status, body, o.Err.Kind, o.Err)
		}
		if o.RefusedToken != "" && (status != http.StatusUnauthorized || o.RefusedToken != tokens.tokens[0]) {
			t.Fatalf("HTTP %d: refused token %q", status, o.RefusedToken)
		}
		d := call.Decide(p, o, 1)
		e := call.Finish(p, o, d)
		switch {
		case e.Outcome == errs.OutcomeNotSent:
			t.Fatalf("HTTP %d %q: an answered request reported as not sent", status, body)
		case (o.Answer == call.Refused || o.Answer == call.RateLimited) && e.Outcome != errs.OutcomeRejected:
			t.Fatalf("HTTP %d %q: a refusal reported as %q", status, body, e.Outcome)
		case e.Outcome == errs.OutcomeUnknown && p.LookUp && e.Retryable:
			t.Fatalf("HTTP %d %q: a payment start that may have run is retryable: %v", status, body, e)
		}
		if ms, ok := e.RetryAfter(); ok && (ms < 0 || ms > 24*time.Hour) {
			t.Fatalf("Retry-After %q: retry_after %s", retryAfter, ms)
		}
		if leak := testkit.Leak(testkit.ErrorText(e), string(body), testkit.SecretValues(body)...); leak != "" {
			t.Fatalf("HTTP %d %q: the error repeats %q: %s", status, body, leak, testkit.ErrorText(e))
		}
	})
}
