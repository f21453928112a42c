package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// callbackQueue is the client's callback thread (trampolines.c): events,
// async completions and log lines reach the host through it.
type callbackQueue interface {
	abandon() // discard what is queued and everything later; the thread ends
	close()   // run what is queued, then end the thread (waits unless abandoned)
}

// client is what a secucard_client handle names: the core client plus the
// bookkeeping the C contract adds (async call ids, the log pump, closing).
type client struct {
	id    uint64
	core  *core.Client
	logs  *logPump
	queue callbackQueue // nil when Go tests drive the operations directly

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

// release implements secucard_client_release: closing starts, and from now
// on no callback of this client begins; nothing waits.
func (cl *client) release() {
	cl.closing.Store(true)
	if cl.queue != nil {
		cl.queue.abandon()
	}
	go cl.shutdown()
}

// safely runs one step of the shutdown: a panic there (a bug) must not skip
// the steps after it, which keep callbacks from running after free.
func safely(step func()) {
	defer func() { _ = recover() }()
	step()
}

// shutdown runs once; concurrent callers wait until it is done.
func (cl *client) shutdown() {
	cl.shutOnce.Do(func() {
		safely(func() {
			cl.asyncMu.Lock()
			defer cl.asyncMu.Unlock()
			for _, cancel := range cl.calls {
				cancel()
			}
		})
		safely(func() { _ = cl.core.Close() }) // cancels core calls, waits for them and for the event handler
		cl.async.Wait()                        // every completion is queued (accepted calls were canceled above)

		cl.hooksMu.Lock()
		st, pr := cl.store, cl.prompt
		cl.hooksMu.Unlock()
		if st != nil {
			st.closed.Store(true)
		}
		if pr != nil {
			pr.closed.Store(true)
		}
		safely(func() { cl.core.SetLogSink(nil, logging.Off) })
		cl.logs.stop() // delivers what was logged up to here, then ends
		if cl.queue != nil {
			cl.queue.close() // every queued callback has returned, the thread ended
		}
	})
}
