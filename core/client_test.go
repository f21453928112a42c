package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	pipeline "github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/core/store"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// newClient builds a client for srv from the sandbox config plus overrides
// (a JSON object merged at the top level).
func newClient(t *testing.T, srv *sandbox.Server, overrides string, opts ...core.Option) *core.Client {
	t.Helper()
	m := testkit.ClientConfig(t, srv)
	if overrides != "" {
		var o map[string]any
		require.NoError(t, json.Unmarshal([]byte(overrides), &o))
		for k, v := range o {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	cfg, err := core.ParseConfig(b)
	require.NoError(t, err)
	c, err := core.New(cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func call(t *testing.T, c *core.Client, req string) json.RawMessage {
	t.Helper()
	r, err := api.ParseRequest([]byte(req))
	require.NoError(t, err)
	out, err := c.Call(context.Background(), r)
	require.NoError(t, err, req)
	return out
}

func callErr(t *testing.T, c *core.Client, req string) *errs.Error {
	t.Helper()
	r, err := api.ParseRequest([]byte(req))
	require.NoError(t, err)
	_, err = c.Call(context.Background(), r)
	require.Error(t, err, req)
	return errs.As(err)
}

// basket is a realistic till basket: cents everywhere, one bundle child.
const basket = `{
  "merchantRef": "till-7", "transactionRef": "bon-0815",
  "basket_info": {"sum": 1297, "currency": "EUR"},
  "basket": {"products": [
    {"id": 1, "articleNumber": "4711", "ean": "4006381333931", "desc": "Espresso", "quantity": 2, "priceOne": 190, "tax": 19},
    {"id": 2, "articleNumber": "0815", "desc": "Frühstücksmenü", "quantity": 1, "priceOne": 917, "tax": 7},
    {"id": 3, "parent": 2, "articleNumber": "0816", "desc": "Croissant (im Menü)", "quantity": 1, "priceOne": 0, "tax": 7}
  ]},
  "idents": [{"type": "card", "value": "9276004428125000"}]
}`

func TestCashierFlowOverREST(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{StartDelay: -1, Seed: 7})
	c := newClient(t, srv, "")

	idents, err := c.SmartIdents().List(context.Background())
	require.NoError(t, err)
	require.Len(t, idents, 3)

	var tx product.SmartTransaction
	require.NoError(t, json.Unmarshal([]byte(basket), &tx))
	created, err := c.SmartTransactions().Create(context.Background(), &tx)
	require.NoError(t, err)
	assert.Equal(t, "created", created.Status)
	assert.True(t, strings.HasPrefix(created.ID, "STX_"))

	started, err := c.SmartTransactions().Start(context.Background(), created.ID, "demo")
	paidOrDeclined(t, started, err)
	require.NotEmpty(t, started.Receipt)
	text := product.FormatReceipt(started.Receipt, 40)
	assert.Contains(t, text, "12,97", "the receipt shows the basket sum")

	s := c.Stats()
	assert.Equal(t, int64(3), s.Calls["ok"]+s.Calls["declined"])
	assert.Equal(t, int64(1), s.TokenRequests, "one token for the whole flow")
	assert.Equal(t, int64(3), s.LatencyMS.Count)
	assert.Greater(t, s.LatencyMS.Max, 0.0)
}

// A till that only speaks https: the sandbox serves TLS with its own
// certificate, trusted through tls.ca_file and nothing else.
func TestCashierFlowOverHTTPS(t *testing.T) {
	srv := testkit.SandboxTLS(t, sandbox.Options{StartDelay: -1})
	require.True(t, strings.HasPrefix(srv.URL(), "https://"), srv.URL())
	c := newClient(t, srv, "")
	idents, err := c.SmartIdents().List(context.Background())
	require.NoError(t, err)
	require.Len(t, idents, 3)
	var tx product.SmartTransaction
	require.NoError(t, json.Unmarshal([]byte(basket), &tx))
	created, err := c.SmartTransactions().Create(context.Background(), &tx)
	require.NoError(t, err)
	started, err := c.SmartTransactions().Start(context.Background(), created.ID, "cash")
	require.NoError(t, err)
	assert.Equal(t, "ok", started.Status)
	assert.Equal(t, []string{"client_credentials"}, testkit.Grants(srv))

	noCA := newClient(t, srv, `{"tls":{}}`)
	e := callErr(t, noCA, `{"resource":"smart.idents","op":"list"}`)
	assert.Equal(t, errs.Network, e.Kind, "verification stays on: the system roots do not know the sandbox")
	assert.Contains(t, e.Error(), "certificate")
}

func TestEveryCatalogResourceThroughCall(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	for _, r := range product.All() {
		t.Run(r.Name, func(t *testing.T) {
			created := call(t, c, fmt.Sprintf(`{"resource":%q,"op":"create","data":{"name":"Kasse 1"}}`, r.Name))
			var obj struct{ ID, Object string }
			require.NoError(t, json.Unmarshal(created, &obj))
			require.True(t, strings.HasPrefix(obj.ID, r.IDPrefix), "%s id %q", r.Name, obj.ID)
			assert.Equal(t, r.Name, obj.Object)

			got := call(t, c, fmt.Sprintf(`{"resource":%q,"op":"get","id":%q}`, r.Name, obj.ID))
			assert.Contains(t, string(got), "Kasse 1")
			call(t, c, fmt.Sprintf(`{"resource":%q,"op":"update","id":%q,"data":{"name":"Kasse 2"}}`, r.Name, obj.ID))
			list := call(t, c, fmt.Sprintf(`{"resource":%q,"op":"list","query":{"q":"name:Kasse*","count":5}}`, r.Name))
			var page api.Page
			require.NoError(t, json.Unmarshal(list, &page))
			assert.Equal(t, 1, page.Count)
			call(t, c, fmt.Sprintf(`{"resource":%q,"op":"delete","id":%q}`, r.Name, obj.ID))
			e := callErr(t, c, fmt.Sprintf(`{"resource":%q,"op":"get","id":%q}`, r.Name, obj.ID))
			assert.Equal(t, errs.API, e.Kind)
			assert.Equal(t, "ProductNotFoundException", e.ErrorName)
			assert.Equal(t, http.StatusNotFound, e.Status)
		})
	}
}

func TestQueryAndPaging(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	for i := 0; i < 25; i++ {
		call(t, c, fmt.Sprintf(`{"resource":"general.contacts","op":"create","data":{"name":"Kunde %02d","age":%d}}`, i, 20+i))
	}
	page := call(t, c, `{"resource":"general.contacts","op":"list","query":{"q":"age:[30 TO 39] AND NOT name:\"Kunde 15\"","sort":{"age":"desc"},"count":3,"fields":["name"]}}`)
	var p struct {
		Count int
		Data  []map[string]any
	}
	require.NoError(t, json.Unmarshal(page, &p))
	assert.Equal(t, 9, p.Count, "ten in range minus one excluded")
	require.Len(t, p.Data, 3)
	assert.Equal(t, "Kunde 19", p.Data[0]["name"])
	_, hasAge := p.Data[0]["age"]
	assert.False(t, hasAge, "fields restricts the answer")

	r, _ := api.ParseRequest([]byte(`{"resource":"general.contacts","op":"list","query":{"count":4,"sort":{"name":"asc"}}}`))
	it := pipeline.NewIterator(c, r)
	var names []string
	for it.Next(context.Background()) {
		var o struct{ Name string }
		require.NoError(t, json.Unmarshal(it.Item(), &o))
		names = append(names, o.Name)
	}
	require.NoError(t, it.Err())
	assert.Len(t, names, 25, "the iterator pages through every object")
	assert.Equal(t, "Kunde 00", names[0])
	assert.Equal(t, "Kunde 24", names[24])
}

func TestUnknownResources(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	e := callErr(t, c, `{"resource":"smart.transaction","op":"list"}`)
	assert.Equal(t, errs.InvalidArgument, e.Kind)
	assert.Equal(t, "resource", e.Field)
	assert.Contains(t, e.Message, `did you mean "smart.transactions"`)

	lenient := newClient(t, srv, `{"allow_unknown_resources":true}`)
	e = callErr(t, lenient, `{"resource":"smart.transaction","op":"list"}`)
	assert.Equal(t, errs.API, e.Kind, "passed through to the server, which does not know it either")
	assert.Equal(t, "ProductNotFoundException", e.ErrorName)
}

// Anonymous calls (spec §3.4) go without a token, so they work for a till
// whose client credentials the server refuses: an account created on a
// new device, a forgotten password reset.
func TestAnonymousCallsNeedNoToken(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, fmt.Sprintf(`{"credentials":{"client_id":%q,"client_secret":"wrong"}}`, srv.ClientID()))

	out := call(t, c, `{"resource":"general.accounts","op":"execute","id":"null","action":"passwordreset","arg":"kasse@example.com","data":{"origin":"till"}}`)
	assert.JSONEq(t, `{"livetime":3600}`, string(out))
	call(t, c, `{"resource":"general.accounts","op":"create","data":{"username":"neu@example.com","password":"geheim"}}`)
	assert.Empty(t, testkit.Grants(srv), "no token was asked for")

	e := callErr(t, c, `{"resource":"general.accounts","op":"get","id":"me"}`)
	assert.Equal(t, errs.Auth, e.Kind, "everything else needs the token the server refuses")
}

type eventLog struct {
	mu     sync.Mutex
	events []event.Event
	ch     chan event.Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan event.Event, 256)} }

func (l *eventLog) handle(e event.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	l.ch <- e
}

// waitFor returns the first event (from now on) matching pred.
func (l *eventLog) waitFor(t *testing.T, pred func(event.Event) bool) event.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-l.ch:
			if pred(e) {
				return e
			}
		case <-deadline:
			t.Fatal("the expected event did not arrive")
		}
	}
}

func authState(state string) func(event.Event) bool {
	return func(e event.Event) bool { return e.Kind == event.KindAuth && e.State == state }
}

func deviceConfig(uuid string) string {
	return `{"credentials":{"grant":"device","client_id":"%s","client_secret":"%s","device_uuid":"` + uuid + `"}}`
}

func newDeviceClient(t *testing.T, srv *sandbox.Server, uuid string, opts ...core.Option) *core.Client {
	over := fmt.Sprintf(deviceConfig(uuid), srv.ClientID(), srv.ClientSecret())
	return newClient(t, srv, over, append([]core.Option{core.WithAuthTimeUnit(5 * time.Millisecond)}, opts...)...)
}

func TestDeviceFlowOpenWithApproval(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1})
	c := newDeviceClient(t, srv, "/vendor/test/pos/1")
	log := newEventLog()
	require.NoError(t, c.SetEventHandler(log.handle))

	e := callErr(t, c, `{"resource":"smart.idents","op":"list"}`)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonNotAuthorized, e.Reason, "a device must open before calling")

	opened := make(chan error, 1)
	go func() { opened <- c.Open(context.Background()) }()
	code := log.waitFor(t, authState("device_code"))
	assert.Regexp(t, `^[a-z0-9]{8}$`, code.UserCode)
	assert.NotEmpty(t, code.VerificationURL)
	assert.Greater(t, code.ExpiresIn, 0)
	log.waitFor(t, authState("pending"))
	require.NoError(t, srv.ApproveDevice(code.UserCode))
	require.NoError(t, <-opened)
	log.waitFor(t, authState("ok"))

	out := call(t, c, `{"resource":"smart.idents","op":"list"}`)
	assert.Contains(t, string(out), "smi_1")
}

func TestDeviceFlowCancelDenyAndPersistedToken(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1})

	t.Run("cancel", func(t *testing.T) {
		c := newDeviceClient(t, srv, "/vendor/test/pos/2")
		log := newEventLog()
		require.NoError(t, c.SetEventHandler(log.handle))
		opened := make(chan error, 1)
		go func() { opened <- c.Open(context.Background()) }()
		log.waitFor(t, authState("device_code"))
		c.CancelAuth()
		err := errs.As(<-opened)
		assert.Equal(t, errs.Auth, err.Kind)
		assert.Equal(t, errs.ReasonCanceled, err.Reason)
		log.waitFor(t, authState("canceled"))
	})

	t.Run("deny", func(t *testing.T) {
		c := newDeviceClient(t, srv, "/vendor/test/pos/3")
		log := newEventLog()
		require.NoError(t, c.SetEventHandler(log.handle))
		opened := make(chan error, 1)
		go func() { opened <- c.Open(context.Background()) }()
		code := log.waitFor(t, authState("device_code"))
		require.NoError(t, srv.DenyDevice(code.UserCode))
		err := errs.As(<-opened)
		assert.Equal(t, errs.Auth, err.Kind)
		assert.Equal(t, errs.ReasonDenied, err.Reason)
		failed := log.waitFor(t, authState("failed"))
		require.NotNil(t, failed.Error)
		assert.Equal(t, "access_denied", failed.Error.ErrorName)
	})

	t.Run("sqlite token survives a restart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tokens.db")
		storeCfg := fmt.Sprintf(`,"store":{"type":"sqlite","path":%q}}`, path)
		over := strings.TrimSuffix(fmt.Sprintf(deviceConfig("/vendor/test/pos/4"), srv.ClientID(), srv.ClientSecret()), "}") + storeCfg
		first := newClient(t, srv, over, core.WithAuthTimeUnit(5*time.Millisecond))
		log := newEventLog()
		require.NoError(t, first.SetEventHandler(log.handle))
		opened := make(chan error, 1)
		go func() { opened <- first.Open(context.Background()) }()
		code := log.waitFor(t, authState("device_code"))
		require.NoError(t, srv.ApproveDevice(code.UserCode))
		require.NoError(t, <-opened)
		tok, err := first.Token(context.Background())
		require.NoError(t, err)
		require.NoError(t, first.Close())

		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		wal, _ := os.ReadFile(path + "-wal")
		assert.False(t, bytes.Contains(append(raw, wal...), []byte(tok.AccessToken)), "the token is sealed at rest")
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		srv.ResetRequests()
		second := newClient(t, srv, over)
		require.NoError(t, second.Open(context.Background()), "the stored token makes the device flow unnecessary")
		call(t, second, `{"resource":"smart.idents","op":"list"}`)
		assert.Empty(t, testkit.Grants(srv), "no token request after the restart")

		require.NoError(t, second.ClearTokens(context.Background()))
		e := callErr(t, second, `{"resource":"smart.idents","op":"list"}`)
		assert.Equal(t, errs.ReasonNotAuthorized, e.Reason, "clearing forces a new authorization")
	})
}

func TestSingleTokenRequestUnderConcurrencyAndExpiry(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	call(t, c, `{"resource":"smart.idents","op":"list"}`)
	srv.ExpireTokens()
	srv.ResetRequests()

	var wg sync.WaitGroup
	errsCh := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := api.ParseRequest([]byte(`{"resource":"smart.idents","op":"list"}`))
			_, err := c.Call(context.Background(), r)
			errsCh <- err
		}()
	}
	wg.Wait()
	close(errsCh)
	for err := range errsCh {
		assert.NoError(t, err)
	}
	// The server rejects the expired token (401); every caller waits for the
	// one refresh and replays.
	assert.Equal(t, []string{"refresh_token"}, testkit.Grants(srv))
}

func TestRetryAfterTimeoutAndClose(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	var slept []time.Duration
	var mu sync.Mutex
	c := newClient(t, srv, "", core.WithSleeper(func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}))
	call(t, c, `{"resource":"smart.idents","op":"list"}`)

	srv.AddFault(sandbox.Fault{Path: "/smart/idents", Method: "GET", Status: 503, RetryAfter: 2, Count: 1})
	call(t, c, `{"resource":"smart.idents","op":"list"}`)
	require.Len(t, slept, 1)
	assert.GreaterOrEqual(t, slept[0], 2*time.Second, "Retry-After is honoured")
	assert.Equal(t, int64(1), c.Stats().Retries)

	srv.AddFault(sandbox.Fault{Path: "/smart/idents", DelayMS: 3000, Count: 1})
	start := time.Now()
	e := callErr(t, c, `{"resource":"smart.idents","op":"list","timeout_ms":200}`)
	assert.Equal(t, errs.Timeout, e.Kind)
	assert.Less(t, time.Since(start), 2*time.Second, "the call gives up at its deadline")

	srv.AddFault(sandbox.Fault{Path: "/general/stores", DelayMS: 3000, Count: 1})
	done := make(chan error, 1)
	go func() {
		r, _ := api.ParseRequest([]byte(`{"resource":"general.stores","op":"list"}`))
		_, err := c.Call(context.Background(), r)
		done <- err
	}()
	require.Eventually(t, func() bool {
		for _, r := range srv.Requests() {
			if r.Path == "/api/v2/general/stores" && strings.HasPrefix(r.Fault, "delay") && r.Status == 0 {
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond, "the slow call is in flight")
	require.NoError(t, c.Close())
	err := errs.As(<-done)
	assert.Equal(t, errs.Canceled, err.Kind, "close cancels calls in flight: %v", err)
	assert.Equal(t, errs.Closed, callErr(t, c, `{"resource":"smart.idents","op":"list"}`).Kind)
	assert.NoError(t, c.Close(), "closing twice is harmless")
	assert.Equal(t, errs.Closed, errs.KindOf(c.Open(context.Background())))
}

func TestWebhookAndNextEvent(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, "")
	body := `{"object":"event.pushes","id":"EPS_WEBHOOK1","created":"2026-11-23T10:00:00+01:00","target":"smart.transactions","type":"changed","data":[{"object":"smart.transactions","id":"STX_1"}]}`
	require.NoError(t, c.HandleWebhook([]byte(body)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, err := c.NextEvent(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, `{"kind":"push","id":"EPS_WEBHOOK1","target":"smart.transactions","type":"changed","created":"2026-11-23T10:00:00+01:00","data":[{"object":"smart.transactions","id":"STX_1"}]}`, string(e.JSON()))

	err = c.HandleWebhook([]byte(`{"object":"event.pushes","type":"changed"}`))
	assert.Equal(t, "target", errs.As(err).Field)
}

func TestFetchChangedThroughTheClient(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, `{"events":{"fetch_changed":true}}`)
	created := call(t, c, `{"resource":"payment.secupaydebits","op":"create","data":{"amount":1999,"currency":"EUR"}}`)
	var obj struct{ ID string }
	require.NoError(t, json.Unmarshal(created, &obj))
	body := fmt.Sprintf(`{"object":"event.pushes","id":"EPS_2","target":"payment.secupaydebits","type":"changed","data":[{"object":"payment.secupaydebits","id":%q}]}`, obj.ID)
	require.NoError(t, c.HandleWebhook([]byte(body)))
	e := nextPush(t, c)
	assert.Contains(t, string(e.Data), `"amount":1999`, "the stub was replaced by the object")
}

// nextPush skips auth and connection events.
func nextPush(t *testing.T, c *core.Client) event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		e, err := c.NextEvent(ctx)
		require.NoError(t, err)
		if e.Kind == event.KindPush {
			return e
		}
	}
}

func TestSTOMPChannelRequestedButDisabled(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	c := newClient(t, srv, `{"stomp":{"enabled":false}}`)
	e := callErr(t, c, `{"resource":"smart.idents","op":"list","channel":"stomp"}`)
	assert.Equal(t, errs.InvalidArgument, e.Kind)
	assert.Equal(t, "channel", e.Field)
}

func TestHostStoreIsSealed(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	host := store.NewMemory()
	c := newClient(t, srv, `{"store":{"type":"callback"}}`)
	require.NoError(t, c.SetStore(host))
	call(t, c, `{"resource":"smart.idents","op":"list"}`)
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	keys, _ := host.Keys(context.Background(), "")
	require.Len(t, keys, 1)
	raw, _ := host.Get(context.Background(), keys[0])
	assert.False(t, bytes.Contains(raw, []byte(tok.AccessToken)), "the host only ever sees ciphertext")
	err = c.SetStore(store.NewMemory())
	assert.Equal(t, errs.InvalidArgument, errs.KindOf(err), "storage cannot change after authentication")

	unset := newClient(t, srv, `{"store":{"type":"callback"}}`)
	e := callErr(t, unset, `{"resource":"smart.idents","op":"list"}`)
	assert.Equal(t, "storage", e.Field)
}

// recordingTransport keeps every request and response body for the redaction test.
type recordingTransport struct {
	mu     sync.Mutex
	bodies []string
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		rt.add(string(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		rt.add(string(b))
	}
	return resp, err
}

func (rt *recordingTransport) add(s string) {
	rt.mu.Lock()
	rt.bodies = append(rt.bodies, s)
	rt.mu.Unlock()
}

func TestNoSecretReachesTheLogs(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{DeviceAutoApprove: 0, DeviceInterval: -1, StartDelay: -1})
	var lines []string
	var mu sync.Mutex
	sink := logging.SinkFunc(func(_ logging.Level, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	})
	rt := &recordingTransport{}
	over := strings.TrimSuffix(fmt.Sprintf(deviceConfig("/vendor/test/pos/redact"), srv.ClientID(), srv.ClientSecret()), "}") + `,"log_level":"trace"}`
	c := newClient(t, srv, over, core.WithLogSink(sink), core.WithHTTPClient(&http.Client{Transport: rt}), core.WithAuthTimeUnit(5*time.Millisecond))
	log := newEventLog()
	require.NoError(t, c.SetEventHandler(log.handle))
	require.NoError(t, c.Open(context.Background()))

	pan := "4111111111111111"
	call(t, c, `{"resource":"smart.idents","op":"list"}`)
	created := call(t, c, `{"resource":"smart.transactions","op":"create","data":{"basket_info":{"sum":100,"currency":"EUR"},"idents":[{"type":"card","value":"`+pan+`"}],"cvv2":"123"}}`)
	var tx struct{ ID string }
	require.NoError(t, json.Unmarshal(created, &tx))
	_, err := c.Call(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: tx.ID, Action: "start", Arg: "demo"})
	if errs.KindOf(err) != errs.Declined {
		require.NoError(t, err)
	}
	srv.ExpireTokens()
	call(t, c, `{"resource":"smart.idents","op":"list"}`) // 401 -> refresh -> replay
	e := callErr(t, c, `{"resource":"smart.transactions","op":"get","id":"`+pan+`"}`)
	assert.NotContains(t, e.Error(), pan, "the error names no card number")

	// Every secret that crossed the wire.
	secrets := []string{srv.ClientSecret(), pan}
	field := regexp.MustCompile(`"(access_token|refresh_token|device_code)":"([^"]+)"`)
	rt.mu.Lock()
	for _, b := range rt.bodies {
		for _, m := range field.FindAllStringSubmatch(b, -1) {
			secrets = append(secrets, m[2])
		}
	}
	rt.mu.Unlock()
	require.GreaterOrEqual(t, len(secrets), 6, "a device code, two access and refresh tokens were issued")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, lines)
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "smart.idents", "trace logging did capture the traffic")
	for _, s := range secrets {
		assert.NotContains(t, all, s)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, e := range log.events {
		for _, s := range secrets {
			assert.NotContains(t, string(e.JSON()), s)
		}
	}
}

func TestNoCredentialsAnywhere(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	cfg, err := core.ParseConfig([]byte(`{"environment":"sandbox","sandbox_url":"` + srv.URL() + `","store":{"encryption_key":"` + strings.Repeat("ab", 32) + `"}}`))
	require.NoError(t, err)
	c, err := core.New(cfg)
	require.NoError(t, err)
	defer c.Close()
	e := callErr(t, c, `{"resource":"smart.idents","op":"list"}`)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonNoCredentials, e.Reason, "nothing was declined: there was nobody to ask")
}

// blockingStore holds its first Get until released, as a slow host store
// would (a keystore on a busy till).
type blockingStore struct {
	store.Memory
	entered, release chan struct{}
	once             sync.Once
}

func (b *blockingStore) Get(ctx context.Context, key string) ([]byte, error) {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.Memory.Get(ctx, key)
}

func TestCancelAuthBeforeTheDeviceFlowStarts(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{DeviceAutoApprove: -1, DeviceInterval: -1})
	bs := &blockingStore{entered: make(chan struct{}), release: make(chan struct{})}
	c := newDeviceClient(t, srv, "/vendor/test/pos/early-cancel", core.WithStore(bs))
	opened := make(chan error, 1)
	go func() { opened <- c.Open(context.Background()) }()
	<-bs.entered // Open is reading the stored token; no device flow exists yet
	c.CancelAuth()
	close(bs.release)
	select {
	case err := <-opened:
		e := errs.As(err)
		assert.Equal(t, errs.Auth, e.Kind)
		assert.Equal(t, errs.ReasonCanceled, e.Reason)
	case <-time.After(2 * time.Second):
		t.Fatal("the cancel was lost: Open went on to the device flow")
	}
	for _, r := range srv.Requests() {
		assert.NotEqual(t, "/oauth/token", r.Path, "no device codes were requested after the cancel")
	}
}

func TestJavaBodyForSmartTransactionActions(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	rt := &recordingTransport{}
	c := newClient(t, srv, `{"stomp":{"enabled":false}}`, core.WithHTTPClient(&http.Client{Transport: rt}))
	call(t, c, `{"resource":"smart.transactions","op":"execute","action":"Diagnosis"}`)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	assert.Contains(t, rt.bodies, `"smart.transactions"`, "Diagnosis carries the body the Java SDK sends (spec §3.5)")
}
