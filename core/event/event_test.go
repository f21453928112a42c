package event

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const display = `{"object":"event.pushs","id":"EPS_1","created":"2026-11-23T10:00:00+01:00","target":"general.notifications","type":"display","data":{"text":"Bitte Karte einstecken"}}`

func TestParsePushStompAndWebhookIdentical(t *testing.T) {
	stomp, err := ParsePush([]byte(display))
	require.NoError(t, err)
	webhook, err := ParsePush([]byte(`{"object":"event.pushes","id":"EPS_1","created":"2026-11-23T10:00:00+01:00","target":"General.Notifications","type":"display","data":{"text":"Bitte Karte einstecken"}}`))
	require.NoError(t, err)
	assert.JSONEq(t, string(stomp.JSON()), string(webhook.JSON()))
	assert.JSONEq(t, `{"kind":"push","id":"EPS_1","target":"general.notifications","type":"display","created":"2026-11-23T10:00:00+01:00","data":{"text":"Bitte Karte einstecken"}}`, string(stomp.JSON()))
}

func TestParsePushErrorsNameTheField(t *testing.T) {
	cases := map[string]struct{ in, field string }{
		"empty":       {``, "event"},
		"array":       {`[1]`, "event"},
		"bad json":    {`{"target":`, "event"},
		"wrong obj":   {`{"object":"smart.transactions","target":"a.b","type":"changed"}`, "object"},
		"no target":   {`{"object":"event.pushes","type":"changed"}`, "target"},
		"no type":     {`{"object":"event.pushes","target":"a.b"}`, "type"},
		"target only": {`{"target":"a.b"}`, "type"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePush([]byte(c.in))
			e := errs.As(err)
			require.NotNil(t, e)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, c.field, e.Field)
		})
	}
	e, err := ParsePush([]byte(`{"target":"a.b","type":"x","id":17}`))
	require.NoError(t, err)
	assert.Equal(t, "17", e.ID, "numeric ids are tolerated")
	assert.Equal(t, "null", string(e.Data))
}

func TestStubs(t *testing.T) {
	e := Event{Data: json.RawMessage(`[{"object":"smart.transactions","id":"STX_1"},{"object":"payment.secupaydebits","id":"PDB_2"}]`)}
	s, ok := e.Stubs()
	require.True(t, ok)
	assert.Equal(t, []Stub{{"smart.transactions", "STX_1"}, {"payment.secupaydebits", "PDB_2"}}, s)
	e.Data = json.RawMessage(`{"object":"smart.checkins","id":"CKI_1"}`)
	_, ok = e.Stubs()
	assert.True(t, ok)
	for _, rich := range []string{`{"text":"x"}`, `[{"object":"a","id":"b","status":"ok"}]`, `[]`, `"x"`, `null`} {
		e.Data = json.RawMessage(rich)
		_, ok = e.Stubs()
		assert.False(t, ok, rich)
	}
}

type recorder struct {
	mu     sync.Mutex
	events []Event
	got    chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 10000)} }

func (r *recorder) handle(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) wait(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("only %d of %d events arrived", i, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func push(i int) Event {
	return Event{Kind: KindPush, ID: fmt.Sprintf("EPS_%d", i), Target: "general.notifications", Type: "display", Data: json.RawMessage(fmt.Sprintf(`{"text":"%d"}`, i))}
}

func TestHandlerGetsEventsInOrder(t *testing.T) {
	d := New(Options{})
	defer d.Close()
	r := newRecorder()
	require.NoError(t, d.SetHandler(r.handle))
	for i := 0; i < 500; i++ {
		d.Publish(push(i))
	}
	got := r.wait(t, 500)
	for i, e := range got {
		assert.Equal(t, fmt.Sprintf("EPS_%d", i), e.ID)
	}
	assert.Equal(t, int64(500), d.Stats().Delivered)
}

func TestOverflowDropsOldestAndReports(t *testing.T) {
	d := New(Options{QueueSize: 3})
	defer d.Close()
	for i := 0; i < 5; i++ { // no handler yet: everything queues
		d.Publish(push(i))
	}
	assert.Equal(t, int64(2), d.Stats().Dropped)
	r := newRecorder()
	require.NoError(t, d.SetHandler(r.handle))
	got := r.wait(t, 4)
	assert.Equal(t, KindDropped, got[0].Kind)
	assert.Equal(t, 2, got[0].Count)
	assert.Equal(t, "queue_full", got[0].Reason)
	assert.Equal(t, []string{"EPS_2", "EPS_3", "EPS_4"}, []string{got[1].ID, got[2].ID, got[3].ID})
}

func TestDedupe(t *testing.T) {
	d := New(Options{Dedupe: true})
	defer d.Close()
	d.Publish(push(1))
	d.Publish(push(1))
	d.Publish(Connection(Connected, "")) // non-push events are never deduplicated
	d.Publish(Connection(Connected, ""))
	assert.Equal(t, int64(1), d.Stats().Deduplicated)
	ctx := context.Background()
	for _, want := range []string{KindPush, KindConnection, KindConnection} {
		e, err := d.Next(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, e.Kind)
	}
}

func TestNextPullMode(t *testing.T) {
	d := New(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := d.Next(ctx)
	assert.Equal(t, errs.Timeout, errs.KindOf(err), "nothing queued: timeout")

	go d.Publish(push(7))
	e, err := d.Next(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "EPS_7", e.ID)

	require.NoError(t, d.SetHandler(func(Event) {}))
	_, err = d.Next(context.Background())
	assert.Equal(t, "event_callback", errs.As(err).Field)
	require.NoError(t, d.SetHandler(nil))

	next := make(chan error, 1)
	go func() { _, err := d.Next(context.Background()); next <- err }()
	testkit.WaitFor(t, 5*time.Second, "Next to wait for an event", func() bool { return d.waitingNexts() == 1 })
	d.Close()
	select {
	case err := <-next:
		assert.Equal(t, errs.Closed, errs.KindOf(err), "Close wakes a waiting Next")
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the waiting Next")
	}
	assert.Equal(t, errs.Closed, errs.KindOf(d.SetHandler(nil)))
	d.Publish(push(8)) // ignored, no panic
	d.Close()          // twice is harmless
}

// Events still queued at Close are discarded, but never silently: they are
// counted and logged.
func TestCloseCountsDiscardedEvents(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	log := logging.New(logging.SinkFunc(func(_ logging.Level, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	}), logging.Debug)
	d := New(Options{Logger: log})
	for i := range 3 {
		d.Publish(push(i)) // no handler and nobody calling Next: they wait
	}
	e, err := d.Next(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "EPS_0", e.ID)
	d.Close()
	st := d.Stats()
	assert.Equal(t, int64(3), st.Published)
	assert.Equal(t, int64(1), st.Delivered)
	assert.Equal(t, int64(2), st.Discarded)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, lines, "events: closed with 2 undelivered event(s) and no event handler; they are discarded")

	quiet := New(Options{})
	quiet.Close()
	assert.Zero(t, quiet.Stats().Discarded, "nothing queued, nothing discarded")
}

// TestCloseDeliversQueuedEventsToTheHandler (issue 10.8f): the events of a
// close itself (STOMP's "disconnected") are published during Close; they used
// to be discarded with whatever else was queued, so every normal close showed
// discarded: 1. With a handler set, Close delivers them before it returns.
func TestCloseDeliversQueuedEventsToTheHandler(t *testing.T) {
	d := New(Options{})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var mu sync.Mutex
	var got []string
	require.NoError(t, d.SetHandler(func(e Event) {
		mu.Lock()
		got = append(got, e.ID+e.State)
		mu.Unlock()
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	}))
	d.Publish(push(0))
	<-entered // the handler holds the first event: the rest stay queued
	d.Publish(push(1))
	d.Publish(Connection(Disconnected, "closed"))
	closed := make(chan struct{})
	go func() { d.Close(); close(closed) }()
	close(release)
	<-closed
	d.Publish(push(2)) // after Close: ignored
	st := d.Stats()
	assert.Equal(t, Stats{Published: 3, Delivered: 3}, st)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"EPS_0", "EPS_1", "disconnected"}, got)
}

func TestCloseWaitsForHandlerAndWaitIdle(t *testing.T) {
	d := New(Options{})
	entered := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	require.NoError(t, d.SetHandler(func(Event) {
		close(entered)
		<-release
		finished.Store(true)
	}))
	d.Publish(push(1))
	<-entered
	var sawFinished atomic.Bool
	idle := make(chan struct{})
	go func() { d.WaitIdle(); sawFinished.Store(finished.Load()); close(idle) }()
	close(release)
	<-idle
	// The handler is held until release: had WaitIdle returned while it
	// ran, it would have seen it unfinished, however the goroutines ran.
	assert.True(t, sawFinished.Load(), "WaitIdle returned while the handler ran")
	d.Close()
	assert.True(t, finished.Load())
}

// waitingNexts is how many Next calls wait for an event.
func (d *Dispatcher) waitingNexts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waiting
}

func TestHandlerPanicDoesNotStopDelivery(t *testing.T) {
	d := New(Options{})
	defer d.Close()
	r := newRecorder()
	require.NoError(t, d.SetHandler(func(e Event) {
		if e.ID == "EPS_1" {
			panic("host bug")
		}
		r.handle(e)
	}))
	d.Publish(push(1))
	d.Publish(push(2))
	got := r.wait(t, 1)
	assert.Equal(t, "EPS_2", got[0].ID)
}

func TestFetchChanged(t *testing.T) {
	var fetched []string
	d := New(Options{FetchChanged: true, Fetch: func(ctx context.Context, resource, id string) (json.RawMessage, error) {
		fetched = append(fetched, resource+"/"+id)
		if id == "BAD" {
			return nil, errs.New(errs.API, "get", "not found")
		}
		return json.RawMessage(fmt.Sprintf(`{"object":%q,"id":%q,"status":"ok"}`, resource, id)), nil
	}})
	defer d.Close()
	d.Publish(Event{Kind: KindPush, ID: "EPS_1", Target: "smart.transactions", Type: "changed", Data: json.RawMessage(`[{"object":"smart.transactions","id":"STX_1"}]`)})
	d.Publish(Event{Kind: KindPush, ID: "EPS_2", Target: "smart.transactions", Type: "changed", Data: json.RawMessage(`[{"object":"smart.transactions","id":"BAD"}]`)})
	d.Publish(Event{Kind: KindPush, ID: "EPS_3", Target: "general.notifications", Type: "display", Data: json.RawMessage(`{"object":"x","id":"y"}`)})

	ctx := context.Background()
	e, err := d.Next(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, `[{"object":"smart.transactions","id":"STX_1","status":"ok"}]`, string(e.Data))
	e, _ = d.Next(ctx)
	assert.JSONEq(t, `[{"object":"smart.transactions","id":"BAD"}]`, string(e.Data), "failed fetch keeps the stub")
	e, _ = d.Next(ctx)
	assert.Equal(t, "EPS_3", e.ID, "only changed events are fetched")
	e, _ = d.Next(ctx)
	assert.Equal(t, KindError, e.Kind, "the failed fetch is reported")
	assert.Contains(t, e.Error.Message, "BAD")
	assert.Equal(t, []string{"smart.transactions/STX_1", "smart.transactions/BAD"}, fetched)
	assert.Equal(t, int64(1), d.Stats().FetchFailed)
}

func TestEventJSONShapes(t *testing.T) {
	assert.JSONEq(t, `{"kind":"connection","state":"reconnecting","reason":"broker closed"}`, string(Connection(Reconnecting, "broker closed").JSON()))
	bg := Background(errors.New("boom"))
	var m map[string]any
	require.NoError(t, json.Unmarshal(bg.JSON(), &m))
	assert.Equal(t, "error", m["kind"])
	assert.Equal(t, "internal", m["error"].(map[string]any)["type"])
	bad := Event{Kind: KindPush, Data: json.RawMessage(`{not json`)}
	assert.JSONEq(t, `{"kind":"push"}`, string(bad.JSON()), "invalid data never loses the event")
}
