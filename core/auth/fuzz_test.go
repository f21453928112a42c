package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

const (
	fuzzSecret   = "Cs7Fz2Qm9Wx4Lp8Rt3"
	fuzzPassword = "Pw5Kd8Jh2Vn6Bx9"
	// goodAnswer is the first token of the refresh case.
	goodAnswer = `{"access_token":"At1Good2Token3","token_type":"bearer","expires_in":1200,"refresh_token":"Rt4Good5Refresh6"}`
)

// FuzzTokenAnswer feeds any answer of the token endpoint (status,
// Retry-After, body) to every grant: client_credentials, the device flow,
// appuser, and a refresh of an expired token. Properties:
//   - a token is handed out only from a 2xx with an access_token, and it is
//     that access_token;
//   - anything else is a typed error (auth, api, network or timeout; the
//     API call that needed the token is finished as "not sent" by the
//     client);
//   - no error repeats a token or device code of the answer, or a card
//     number of the answer.
//
// Seeds: testdata/fuzz/FuzzTokenAnswer.
func FuzzTokenAnswer(f *testing.F) {
	f.Add(uint8(0), 200, "", []byte(`{"access_token":"x","expires_in":"20"}`))
	f.Fuzz(func(t *testing.T, grantSel uint8, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		var requests atomic.Int32
		refresh := grantSel%4 == 3
		client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			st, b := status, body
			if requests.Add(1) == 1 && refresh {
				st, b = 200, []byte(goodAnswer) // the token that expires
			}
			h := http.Header{"Content-Type": {"application/json"}}
			if retryAfter != "" {
				h.Set("Retry-After", retryAfter)
			}
			return &http.Response{StatusCode: st, Header: h, Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
		})}
		clock := testkit.NewClock()
		creds := &Credentials{Grant: ClientCredentials, ClientID: "fuzz-client", ClientSecret: fuzzSecret}
		interactive := false
		switch grantSel % 4 {
		case 1:
			creds.Grant, creds.DeviceUUID, interactive = Device, "/vendor/fuzz/pos/1", true
		case 2, 3:
			creds.Grant, creds.Username, creds.Password, interactive = AppUser, "cashier", fuzzPassword, true
		}
		m, err := NewManager(Config{TokenURL: "https://auth.example/oauth/token", HTTPClient: client, Credentials: creds,
			RefreshMargin: time.Minute, WaitTimeout: 30 * time.Millisecond, TimeUnit: time.Millisecond, Now: clock.Now,
			Policy: call.Policy{MaxAttempts: 3, Backoff: retry.Backoff{Initial: time.Microsecond, Max: time.Microsecond}, MaxWait: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if refresh {
			if _, err := m.Token(ctx, true); err != nil {
				t.Fatalf("the first token: %v", err)
			}
			clock.Advance(time.Hour)
			interactive = false
		}
		tok, err := m.Token(ctx, interactive)
		if err == nil {
			if tok == nil || tok.AccessToken == "" {
				t.Fatalf("HTTP %d %q: a token without an access token", status, body)
			}
			// encoding/json's reading (keys matched case-insensitively, the
			// last one wins) is the tolerant reading the manager shares.
			var answer struct {
				AccessToken any `json:"access_token"`
			}
			_ = json.Unmarshal(body, &answer)
			if status/100 != 2 || answer.AccessToken != tok.AccessToken {
				t.Fatalf("HTTP %d %q: handed out the token %q", status, body, tok.AccessToken)
			}
			return
		}
		e := errs.As(err)
		switch e.Kind {
		case errs.Auth, errs.API, errs.Network, errs.Timeout:
		default:
			t.Fatalf("HTTP %d %q: an answer failed as %s: %v", status, body, e.Kind, err)
		}
		// The client secret and password are the client's registered
		// secrets; FuzzClientAnswer checks them where errors leave the
		// client. Here: what the answer itself carries.
		if leak := testkit.Leak(testkit.ErrorText(err), string(body), testkit.SecretValues(body)...); leak != "" {
			t.Fatalf("HTTP %d %q: the error repeats %q: %s", status, body, leak, testkit.ErrorText(err))
		}
	})
}
