package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// client is what a secucard_client handle names: the core client plus the
// bookkeeping the C contract adds (async call ids, the log pump, closing).
type client struct {
	id   uint64
	core *core.Client
	logs *logPump

	// closing turns every later call into SECUCARD_ERR_CLOSED at once, also
	// when the shutdown itself finishes in the background (close from inside
	// a callback).
	closing  atomic.Bool
	shutOnce sync.Once

	asyncMu  sync.Mutex
	lastCall uint64
	calls    map[uint64]context.CancelFunc
	async    sync.WaitGroup // one per accepted async call, done after its callback returned

	hooksMu sync.Mutex
	store   *hostStore // host storage callbacks, nil unless installed
	prompt  *hostPrompt
}

func newClientState(id uint64, c *core.Client) *client {
	cl := &client{id: id, core: c, calls: map[uint64]context.CancelFunc{}}
	cl.logs = newLogPump(id)
	return cl
}

func errClosed() error { return errs.New(errs.Closed, "", "the client is closed") }

// usable fails once close began.
func (cl *client) usable() error {
	if cl.closing.Load() {
		return errClosed()
	}
	return nil
}

// close implements secucard_client_close. From inside one of this client's
// callbacks it cannot wait for callbacks to end (it would wait for itself):
// it closes the client at once (later calls fail with CLOSED) and lets the
// rest of the shutdown finish after the callback returns.
func (cl *client) close(inCallback bool) {
	cl.closing.Store(true)
	if inCallback {
		go cl.shutdown()
		return
	}
	cl.shutdown()
}

// shutdown runs once; concurrent callers wait until it is done.
func (cl *client) shutdown() {
	cl.shutOnce.Do(func() {
		cl.asyncMu.Lock()
		for _, cancel := range cl.calls {
			cancel()
		}
		cl.asyncMu.Unlock()

		_ = cl.core.Close() // cancels core calls, waits for them and for the event handler
		cl.async.Wait()     // every completion callback has returned

		cl.hooksMu.Lock()
		st, pr := cl.store, cl.prompt
		cl.hooksMu.Unlock()
		if st != nil {
			st.closed.Store(true)
		}
		if pr != nil {
			pr.closed.Store(true)
		}
		cl.core.SetLogSink(nil, logging.Off)
		cl.logs.stop() // delivers what was logged up to here, then ends
	})
}
