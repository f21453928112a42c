package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// inProcess serves HTTP requests with the sandbox's handler in this process:
// the same answers as over loopback, without sockets, so a thousand clients
// cost milliseconds.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	in := req.Clone(req.Context()) // a client request made a server one
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, in)
	return rec.Result(), nil
}

// TestCloseRacesCallsAndEvents (issue 10.1): calls, async calls and event
// delivery run while Close runs. Admission and close used to be two
// decisions: a call could join the in-flight WaitGroup while Close waited on
// it ("WaitGroup is reused before previous Wait has returned"), hang Close,
// or leave the dispatcher running. Every call must end with its answer or a
// closed/canceled error, every async completion exactly once, every accepted
// event delivered or counted, and nothing may keep running afterwards.
func TestCloseRacesCallsAndEvents(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{})
	cfg, err := core.ParseConfig(testkit.JSON(t, testkit.ClientConfig(t, srv)))
	require.NoError(t, err)
	hc := &http.Client{Transport: inProcess{srv.Handler()}}
	req := &api.Request{Resource: "smart.idents", Op: api.List}
	push := []byte(`{"object":"event.pushes","target":"general.notifications","type":"display","data":{"text":"x"}}`)

	iterations := 1000
	if testing.Short() {
		iterations = 100
	}
	before := runtime.NumGoroutine()
	for i := 0; i < iterations; i++ {
		c, err := core.New(cfg, core.WithHTTPClient(hc))
		require.NoError(t, err)
		var handled atomic.Int64
		require.NoError(t, c.SetEventHandler(func(event.Event) { handled.Add(1) }))

		endedWell := func(err error) bool {
			switch errs.KindOf(err) {
			case "", errs.Closed, errs.Canceled:
				return true
			}
			return false
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		failures := make(chan error, 64)
		for g := 0; g < 8; g++ { // blocking calls
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if _, err := c.Call(context.Background(), req); !endedWell(err) {
					failures <- err
				}
			}()
		}
		var completions atomic.Int64
		const async = 4
		done := make(chan struct{}, async)
		for g := 0; g < async; g++ { // async calls, as the C API runs them
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				go func() {
					_, err := c.Call(context.Background(), req)
					if !endedWell(err) {
						failures <- err
					}
					completions.Add(1)
					done <- struct{}{}
				}()
			}()
		}
		var accepted atomic.Int64
		wg.Add(1)
		go func() { // webhook events
			defer wg.Done()
			<-start
			for k := 0; k < 4; k++ {
				switch err := c.HandleWebhook(push); errs.KindOf(err) {
				case "":
					accepted.Add(1)
				case errs.Closed:
				default:
					failures <- err
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = c.Close()
		}()
		close(start)
		wg.Wait()
		require.NoError(t, c.Close(), "a second Close is harmless")
		for g := 0; g < async; g++ {
			<-done
		}
		close(failures)
		for err := range failures {
			require.NoError(t, err, "iteration %d", i)
		}
		require.Equal(t, int64(async), completions.Load(), "every async call completes exactly once")
		s := c.Stats().Events
		require.Equal(t, s.Published, s.Delivered+s.Discarded, "iteration %d: every queued event delivered or counted: %+v", i, s)
		require.GreaterOrEqual(t, s.Published, accepted.Load())
		require.Equal(t, s.Delivered, handled.Load(), "delivered means the handler ran")
	}
	testkit.WaitFor(t, 10*time.Second, "the clients' goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before+2
	})
}
