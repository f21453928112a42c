package core_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// Issue 10.4: no push delivered twice by default; a reconnect tells the host
// to resync.

// holdSTOMPCall starts a smart.checkins list over STOMP whose reply the
// sandbox holds back, and returns once the sandbox has the SEND: the
// connection it went out on stays in use (draining) until cancel.
func holdSTOMPCall(t *testing.T, srv *sandbox.Server, call func(context.Context) error) (cancel func()) {
	t.Helper()
	srv.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/smart/checkins", Method: "GET", DelayMS: 60_000})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = call(ctx)
	}()
	testkit.WaitFor(t, 10*time.Second, "the held call to reach the sandbox", func() bool {
		for _, m := range methods(srv) {
			if m == "STOMP /exchange/connect.api/api:get:smart.checkins" {
				return true
			}
		}
		return false
	})
	return func() { stop(); <-done }
}

// TestPushIsDeliveredOnceAcrossATokenReconnect: after a token change the
// client logs in again make-before-break, so for a while two connections
// receive the same push. With the default config the host sees it once.
func TestPushIsDeliveredOnceAcrossATokenReconnect(t *testing.T) {
	srv, stompCfg := stompSandbox(t, sandbox.Options{})
	c := newClient(t, srv, `{`+stompCfg+`}`)
	col := &collector{}
	require.NoError(t, c.SetEventHandler(col.Add))
	require.NoError(t, c.Open(context.Background()))

	release := holdSTOMPCall(t, srv, func(ctx context.Context) error {
		_, err := c.Call(ctx, &api.Request{Resource: "smart.checkins", Op: api.List, Channel: api.STOMP})
		return err
	})
	defer release()
	srv.ExpireTokens()
	call(t, c, `{"resource":"smart.idents","op":"list"}`) // refreshes the token: the channel logs in again
	testkit.WaitFor(t, 10*time.Second, "the login with the new token", func() bool { return c.Stats().STOMP.Reconnects == 1 })

	ev := sandbox.Event{ID: "EPS_TWICE0000000000000000000000001", Target: "general.notifications", Type: "display",
		Data: json.RawMessage(`{"text":"Bitte Karte einstecken"}`)}
	c.WaitEventsIdle()
	before := c.Stats().Events
	srv.Push(ev)
	// Both connections are subscribed: both copies reach the client.
	testkit.WaitFor(t, 10*time.Second, "both copies", func() bool {
		s := c.Stats().Events
		return s.Published+s.Deduplicated == before.Published+before.Deduplicated+2 && s.Delivered == s.Published
	})
	c.WaitEventsIdle()
	var got []event.Event
	for _, e := range col.kind(event.KindPush) {
		if e.ID == ev.ID {
			got = append(got, e)
		}
	}
	assert.Len(t, got, 1, "delivered once")
}

// TestReconnectAsksTheHostToResync: every reconnect (after a drop, after a
// token change) is reported as connected with resync:true, the first connect
// without it.
func TestReconnectAsksTheHostToResync(t *testing.T) {
	srv, stompCfg := stompSandbox(t, sandbox.Options{})
	c := newClient(t, srv, `{"retry":{"initial_backoff_ms":10,"max_backoff_ms":50},`+stompCfg+`}`)
	col := &collector{}
	require.NoError(t, c.SetEventHandler(col.Add))
	require.NoError(t, c.Open(context.Background()))

	srv.DropSTOMPConnections()
	testkit.WaitFor(t, 10*time.Second, "the reconnect", func() bool { return c.Stats().STOMP.Reconnects == 1 && c.Stats().STOMP.Connected })
	srv.ExpireTokens()
	call(t, c, `{"resource":"smart.idents","op":"list"}`)
	testkit.WaitFor(t, 10*time.Second, "the token login", func() bool { return c.Stats().STOMP.Reconnects == 2 })
	c.WaitEventsIdle()

	var connected []string
	for _, e := range col.kind(event.KindConnection) {
		if e.State == event.Connected {
			connected = append(connected, string(e.JSON()))
		}
	}
	assert.Equal(t, []string{
		`{"kind":"connection","state":"connected"}`,
		`{"kind":"connection","state":"connected","resync":true}`,
		`{"kind":"connection","state":"connected","resync":true}`,
	}, connected)
}

// TestCloseDeliversItsDisconnectedEvent (issue 10.8f): the "disconnected" a
// normal close publishes reaches the handler before Close returns; nothing is
// counted as discarded.
func TestCloseDeliversItsDisconnectedEvent(t *testing.T) {
	srv, stompCfg := stompSandbox(t, sandbox.Options{})
	c := newClient(t, srv, `{`+stompCfg+`}`)
	col := &collector{}
	require.NoError(t, c.SetEventHandler(col.Add))
	require.NoError(t, c.Open(context.Background()))
	require.NoError(t, c.Close())

	conn := col.kind(event.KindConnection)
	require.NotEmpty(t, conn)
	last := conn[len(conn)-1]
	assert.Equal(t, event.Disconnected, last.State)
	assert.Equal(t, "closed", last.Reason)
	s := c.Stats().Events
	assert.Zero(t, s.Discarded)
	assert.Equal(t, s.Published, s.Delivered)
}
