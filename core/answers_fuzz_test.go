package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

const (
	answerSecret   = "Cl1ent5Ecret7Zq9"
	answerPassword = "Pa55Word8Xy3Kw"
	goodToken      = `{"access_token":"At7Good8Tok9","expires_in":1200,"refresh_token":"Rt7Good8Ref9"}`
)

type answerTransport func(*http.Request) (*http.Response, error)

func (f answerTransport) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// answerOps are what the host does while the fuzzed answer comes back.
var answerOps = []string{
	`{"resource":"smart.transactions","op":"get","id":"STX_1"}`,
	`{"resource":"smart.transactions","op":"list","query":{"count":2}}`,
	`{"resource":"smart.transactions","op":"create","data":{"basket_info":{"sum":100,"currency":"EUR"}}}`,
	`{"resource":"smart.transactions","op":"execute","id":"STX_1","action":"start","arg":"demo"}`,
}

// FuzzClientAnswer is the host's view of any answer: a core client whose
// token endpoint (toToken) or API answers with the fuzzed status,
// Retry-After and body, asked by an appuser till (client secret and
// password in its config). Properties of every error that leaves the
// client:
//   - it is typed (never Internal) and, for a call, says its outcome;
//   - it is honest: an answered request is never "not_sent", and a payment
//     start that may have run is never retryable;
//   - it repeats no card number and no secret of the answer, and neither
//     the client secret nor the password.
//
// Seeds: testdata/fuzz/FuzzClientAnswer.
func FuzzClientAnswer(f *testing.F) {
	f.Add(false, uint8(3), 500, "", []byte(`{"status":"error","error":"ProductInternalException"}`))
	f.Fuzz(func(t *testing.T, toToken bool, opSel uint8, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		answer := func(r *http.Request) (int, []byte) {
			isToken := strings.HasSuffix(r.URL.Path, "/oauth/token")
			switch {
			case isToken && !toToken:
				return 200, []byte(goodToken)
			case !isToken && toToken:
				return 200, []byte(`{"object":"smart.transactions","id":"STX_1","status":"ok"}`)
			}
			return status, body
		}
		hc := &http.Client{Transport: answerTransport(func(r *http.Request) (*http.Response, error) {
			if r.Body != nil {
				_, _ = io.Copy(io.Discard, r.Body)
			}
			st, b := answer(r)
			h := http.Header{"Content-Type": {"application/json"}}
			if retryAfter != "" {
				h.Set("Retry-After", retryAfter)
			}
			return &http.Response{StatusCode: st, Header: h, Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
		})}
		c, err := core.NewFromJSON([]byte(`{"environment":"custom","oauth_url":"https://auth.example/oauth/token",
			"rest_url":"https://api.example/api/v2","stomp":{"enabled":false},"log_level":"off",
			"retry":{"max_attempts":2,"initial_backoff_ms":1,"max_backoff_ms":1,"max_retry_after_ms":1},
			"auth":{"wait_timeout_ms":50},
			"credentials":{"grant":"appuser","client_id":"till-7","client_secret":"`+answerSecret+`",
			"username":"cashier","password":"`+answerPassword+`"}}`),
			core.WithHTTPClient(hc), core.WithSleeper(retry.NoSleep), core.WithAuthTimeUnit(time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		secrets := append([]string{answerSecret, answerPassword}, testkit.SecretValues(body)...)
		if err := c.Open(ctx); err != nil {
			checkHostError(t, "open", body, err, secrets, false, false)
			return
		}
		req, err := api.ParseRequest([]byte(answerOps[int(opSel)%len(answerOps)]))
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Call(ctx, req)
		if err != nil {
			checkHostError(t, req.Name(), body, err, secrets, !toToken, req.Action == "start")
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s: HTTP %d %q: a result that is not JSON: %q", req.Name(), status, body, out)
		}
	})
}

// checkHostError: answered says the server answered the call itself (its
// token came from a good token endpoint).
func checkHostError(t *testing.T, op string, body []byte, err error, secrets []string, answered, payment bool) {
	t.Helper()
	e := errs.As(err)
	if e.Kind == errs.Internal || e.Outcome == "" {
		t.Fatalf("%s %q: %s error with outcome %q: %v", op, body, e.Kind, e.Outcome, err)
	}
	if answered && e.Outcome == errs.OutcomeNotSent {
		t.Fatalf("%s %q: an answered call reported as not sent: %v", op, body, err)
	}
	if payment && e.Outcome == errs.OutcomeUnknown && e.Retryable {
		t.Fatalf("%s %q: a payment start that may have run is retryable: %v", op, body, err)
	}
	if leak := testkit.Leak(testkit.ErrorText(err), string(body), secrets...); leak != "" {
		t.Fatalf("%s %q: the error repeats %q: %s", op, body, leak, testkit.ErrorText(err))
	}
}
