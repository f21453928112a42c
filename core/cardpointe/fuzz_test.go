package cardpointe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

const (
	fuzzGateway    = "https://fts-uat.cardconnect.example:6443/cardconnect/rest"
	fuzzCardSecure = "https://fts-uat.cardconnect.example:6443/cardsecure/api/v1"
	fuzzPassword   = "Gw4Pass7Word9Xz"
	fuzzApproval   = `{"respstat":"A","retref":"343005123105","account":"9418594164541111","token":"9418594164541111",` +
		`"amount":"12.97","merchid":"496160873888","respcode":"00","resptext":"Approval","respproc":"RPCT","authcode":"046221"}`
)

type answerFunc func(*http.Request) (*http.Response, error)

func (f answerFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// fuzzClient is a client whose CardPointe Gateway answers every request with
// answer, recording the requests it saw.
func fuzzClient(t *testing.T, answer func(*http.Request) (int, http.Header, []byte)) (*core.Client, *[]*http.Request) {
	var mu sync.Mutex
	var seen []*http.Request
	hc := &http.Client{Transport: answerFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		status, h, body := answer(r)
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", "application/json")
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	})}
	c, err := core.NewFromJSON([]byte(`{"environment":"custom","oauth_url":"https://auth.example/oauth/token",
		"rest_url":"https://api.example/api/v2","stomp":{"enabled":false},"log_level":"off",
		"retry":{"max_attempts":2,"initial_backoff_ms":1,"max_backoff_ms":1,"max_retry_after_ms":1},
		"cardpointe":{"url":"`+fuzzGateway+`","cardsecure_url":"`+fuzzCardSecure+`","username":"testing",
		"password":"`+fuzzPassword+`","merchid":"496160873888","timeouts":{"response_ms":2000,"recovery_ms":2000}}}`),
		core.WithHTTPClient(hc), core.WithSleeper(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, &seen
}

// FuzzCardPointeRequest feeds host request JSON for CardPointe (secucard_call
// with "system":"cardpointe") through core.ParseRequest to the Gateway.
// Properties:
//   - a refused request gets an InvalidArgument naming a field and repeats
//     no card number of the request, also one planted in any value;
//   - an accepted one is sent only to the configured Gateway or CardSecure
//     host, under their base paths (after dot segments), with a JSON body,
//     and the Gateway's Basic credentials go to the Gateway alone;
//   - what comes back to the host holds no card number of the request in
//     clear, unless the answer carried it.
//
// Seeds: testdata/fuzz/FuzzCardPointeRequest.
func FuzzCardPointeRequest(f *testing.F) {
	f.Add([]byte(`{"system":"cardpointe","op":"auth","data":{"account":"4111111111111111","expiry":"1230","amount":1297}}`), 2)
	f.Fuzz(func(t *testing.T, doc []byte, at int) {
		docs := [][]byte{doc}
		pan := testkit.TestPANs[uint(at)%uint(len(testkit.TestPANs))]
		if d, ok := testkit.PlantJSON(doc, at, pan); ok {
			docs = append(docs, d)
		}
		for _, d := range docs {
			req, err := core.ParseRequest(d)
			if err != nil {
				e := errs.As(err)
				if e.Kind != errs.InvalidArgument || e.Field == "" {
					t.Fatalf("%q: refused with %s (field %q): %v", d, e.Kind, e.Field, err)
				}
				if leak := testkit.Leak(testkit.ErrorText(err), string(d)); leak != "" {
					t.Fatalf("%q: the error repeats %q: %s", d, leak, testkit.ErrorText(err))
				}
				continue
			}
			if !strings.HasPrefix(req.Name(), "cardpointe.") {
				continue // a secucard request: FuzzRequestURL's
			}
			c, seen := fuzzClient(t, func(*http.Request) (int, http.Header, []byte) { return 200, nil, []byte(fuzzApproval) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := c.Execute(ctx, req)
			cancel()
			for _, r := range *seen {
				checkSent(t, d, r)
			}
			text := string(out)
			if err != nil {
				text = testkit.ErrorText(err)
				if e := errs.As(err); e.Kind == errs.Internal || e.Outcome == "" {
					t.Fatalf("%q: %s error with outcome %q: %v", d, e.Kind, e.Outcome, err)
				}
			} else if !json.Valid(out) {
				t.Fatalf("%q: a result that is not JSON: %q", d, out)
			}
			if leak := testkit.Leak(text, string(d), fuzzPassword); leak != "" && !strings.Contains(fuzzApproval, leak) {
				t.Fatalf("%q: the host gets %q back: %s", d, leak, text)
			}
		}
	})
}

// checkSent states where a CardPointe request may go.
func checkSent(t *testing.T, doc []byte, r *http.Request) {
	t.Helper()
	gw, _ := url.Parse(fuzzGateway)
	cs, _ := url.Parse(fuzzCardSecure)
	u, err := url.Parse(r.URL.String())
	if err != nil {
		t.Fatalf("%q: sent to %q, which does not parse: %v", doc, r.URL, err)
	}
	base := gw
	if strings.HasPrefix(u.EscapedPath(), cs.Path+"/") {
		base = cs
	}
	resolved := base.ResolveReference(u)
	switch {
	case u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil || u.Fragment != "":
		t.Fatalf("%q: sent to %s, not %s://%s", doc, u, base.Scheme, base.Host)
	case !strings.HasPrefix(resolved.EscapedPath(), base.Path+"/"):
		t.Fatalf("%q: sent to %s, outside %s", doc, u, base.Path)
	}
	for _, seg := range strings.Split(strings.TrimPrefix(u.EscapedPath(), base.Path+"/"), "/") {
		if dec, err := url.PathUnescape(seg); err != nil || dec == "." || dec == ".." || strings.ContainsAny(dec, "/\\") {
			t.Fatalf("%q: sent to %s, with the path segment %q", doc, u, seg)
		}
	}
	if _, pass, ok := r.BasicAuth(); ok && base != gw {
		t.Fatalf("%q: the Gateway's Basic credentials went to %s", doc, u)
	} else if ok && pass != fuzzPassword {
		t.Fatalf("%q: Basic credentials changed on the way", doc)
	}
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 && !json.Valid(b) {
			t.Fatalf("%q: the body sent is not JSON: %q", doc, b)
		}
	}
}

// cardpointeOps are what the host asks while the fuzzed answer comes back:
// a payment (auth, recovered by inquiry when its answer is lost), a
// capture, an inquiry, a void, a tokenization.
var cardpointeOps = []string{
	`{"system":"cardpointe","op":"auth","data":{"account":"4111111111111111","expiry":"1230","amount":1297,"orderid":"ORDER-7"}}`,
	`{"system":"cardpointe","op":"capture","data":{"retref":"343005123105","amount":1297}}`,
	`{"system":"cardpointe","op":"inquire","data":{"retref":"343005123105"}}`,
	`{"system":"cardpointe","op":"void","data":{"retref":"343005123105"}}`,
	`{"system":"cardpointe","op":"tokenize","data":{"account":"4111111111111111"}}`,
}

// FuzzCardPointeAnswer feeds any answer of the Gateway or CardSecure
// (status, rate-limit header, body) to the host's CardPointe calls.
// Properties of what the host gets:
//   - a result is JSON; an error is typed (never Internal) and says its
//     outcome; an auth's error names its orderid;
//   - honesty: an answered call is never "not_sent"; an auth that may have
//     run is never retryable (the Gateway has no idempotency key);
//   - a rate-limit wait is within 0..24 h;
//   - nothing secret repeats: no card number of the request or the answer,
//     no secret of the answer, not the Gateway password.
//
// Seeds: testdata/fuzz/FuzzCardPointeAnswer.
func FuzzCardPointeAnswer(f *testing.F) {
	f.Add(uint8(0), 200, "", []byte(`{"respstat":"C","respcode":"05","resptext":"Do not honor","respproc":"FNOR","retref":"1"}`))
	f.Fuzz(func(t *testing.T, opSel uint8, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		c, _ := fuzzClient(t, func(*http.Request) (int, http.Header, []byte) {
			h := http.Header{}
			if retryAfter != "" {
				h.Set("X-Rate-Limit-Retry-After-Seconds", retryAfter)
			}
			return status, h, body
		})
		doc := cardpointeOps[int(opSel)%len(cardpointeOps)]
		req, err := core.ParseRequest([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := c.Execute(ctx, req)
		if err == nil {
			if !json.Valid(out) {
				t.Fatalf("%s: HTTP %d %q: a result that is not JSON: %q", req.Name(), status, body, out)
			}
			return
		}
		e := errs.As(err)
		switch {
		case e.Kind == errs.Internal || e.Outcome == "":
			t.Fatalf("%s: HTTP %d %q: %s error with outcome %q: %v", req.Name(), status, body, e.Kind, e.Outcome, err)
		case e.Outcome == errs.OutcomeNotSent:
			t.Fatalf("%s: HTTP %d %q: an answered call reported as not sent: %v", req.Name(), status, body, err)
		case req.Name() == "cardpointe.auth" && e.Outcome == errs.OutcomeUnknown && e.Retryable:
			t.Fatalf("%s: HTTP %d %q: an auth that may have run is retryable: %v", req.Name(), status, body, err)
		case req.Name() == "cardpointe.auth" && e.OrderID != "ORDER-7":
			t.Fatalf("%s: HTTP %d %q: the error names the orderid %q: %v", req.Name(), status, body, e.OrderID, err)
		}
		if d, ok := e.RetryAfter(); ok && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("%s: rate-limit wait %q: retry_after %s", req.Name(), retryAfter, d)
		}
		if leak := testkit.Leak(testkit.ErrorText(err), doc+" "+string(body), append([]string{fuzzPassword}, testkit.SecretValues(body)...)...); leak != "" {
			t.Fatalf("%s: HTTP %d %q: the error repeats %q: %s", req.Name(), status, body, leak, testkit.ErrorText(err))
		}
	})
}
