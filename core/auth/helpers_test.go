package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/retry"
)

// Test credentials, long enough to be registered with the redactor.
const (
	testClientID     = "0123456789abcdef0123456789abcdef"
	testClientSecret = "secret-0123456789abcdef0123456789abcdef0123456789abcdef01234567"
	testUUID         = "/vendor/acme/pos/17"
	testPassword     = "pw-correct-horse-battery"
)

// tokenCall is one request the fake token endpoint received.
type tokenCall struct {
	Form   url.Values
	Header http.Header
	Method string
	Body   string
	ctx    context.Context // the server request's context: done when the client gives up
}

// reply is what the fake endpoint answers.
type reply struct {
	status int
	body   string
	header map[string]string
}

// fakeEndpoint is an httptest token endpoint whose answers a test scripts.
type fakeEndpoint struct {
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []tokenCall
	answer func(n int, c tokenCall) reply // n counts calls from 0
}

func newFakeEndpoint(t *testing.T, answer func(n int, c tokenCall) reply) *fakeEndpoint {
	t.Helper()
	fe := &fakeEndpoint{answer: answer}
	fe.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(raw))
		c := tokenCall{Form: form, Header: r.Header.Clone(), Method: r.Method, Body: string(raw), ctx: r.Context()}
		fe.mu.Lock()
		n := len(fe.calls)
		fe.calls = append(fe.calls, c)
		fe.mu.Unlock()
		rep := fe.answer(n, c)
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		if rep.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(fe.srv.Close)
	return fe
}

func (fe *fakeEndpoint) URL() string { return fe.srv.URL + "/oauth/token" }

func (fe *fakeEndpoint) Calls() []tokenCall {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	return append([]tokenCall(nil), fe.calls...)
}

func (fe *fakeEndpoint) grants() []string {
	var out []string
	for _, c := range fe.Calls() {
		out = append(out, c.Form.Get("grant_type"))
	}
	return out
}

func tokenBody(access, refresh string, expiresIn int) string {
	s := fmt.Sprintf(`{"access_token":%q,"token_type":"bearer","scope":"https://scope.secucard.com/e/api"`, access)
	if refresh != "" {
		s += fmt.Sprintf(`,"refresh_token":%q`, refresh)
	}
	if expiresIn != 0 {
		s += fmt.Sprintf(`,"expires_in":%d`, expiresIn)
	}
	return s + "}"
}

func ok(body string) reply { return reply{status: 200, body: body} }

func oauthErr(status int, name, desc string) reply {
	return reply{status: status, body: fmt.Sprintf(`{"error":%q,"error_description":%q}`, name, desc)}
}

// events records Observer calls.
type events struct {
	mu  sync.Mutex
	all []Event
	ch  chan Event
}

func newEvents() *events { return &events{ch: make(chan Event, 1024)} }

func (e *events) observe(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	e.ch <- ev
}

func (e *events) states() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, ev.State)
	}
	return out
}

func (e *events) last() Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.all[len(e.all)-1]
}

// sleeps records the waits a manager asks for, then really waits (short
// in tests) so that deadlines and cancellation behave as in production.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return retry.Sleep(ctx, d)
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// logs captures every line a logger forwards.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logger(level logging.Level) *logging.Logger {
	return logging.New(logging.SinkFunc(func(lv logging.Level, msg string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, lv.String()+" "+msg)
	}), level)
}

func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *logs) count(level logging.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, level.String()+" ") {
			n++
		}
	}
	return n
}

func clientCreds() *Credentials {
	return &Credentials{Grant: ClientCredentials, ClientID: testClientID, ClientSecret: testClientSecret}
}

func deviceCreds(uuid string) *Credentials {
	return &Credentials{Grant: Device, ClientID: testClientID, ClientSecret: testClientSecret, DeviceUUID: uuid}
}

// newManager builds a manager against fe with fast test timings; mutate
// adjusts the config.
func newManager(t *testing.T, fe *fakeEndpoint, creds *Credentials, mutate func(*Config)) *Manager {
	t.Helper()
	cfg := testConfig(fe.URL())
	cfg.UserAgent = "libsecucard-test/1.0"
	cfg.Credentials = creds
	cfg.TimeUnit = time.Millisecond
	cfg.Sleep = retry.NoSleep
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := NewManager(cfg)
	require.NoError(t, err)
	return m
}

// testPolicy is what the client resolves from an empty config.
var testPolicy = call.Policy{MaxAttempts: 3, Backoff: retry.Backoff{Initial: 200 * time.Millisecond, Max: 10 * time.Second}, MaxWait: 30 * time.Second}

// testConfig is a manager config with the values the client would resolve.
func testConfig(url string) Config {
	return Config{TokenURL: url, RefreshMargin: time.Minute, WaitTimeout: 300 * time.Second, Policy: testPolicy}
}
