package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/product"
)

// The Go-level operations behind the exports. They take and return Go values
// only; exports.go converts C arguments, calls one of these and maps the
// error with mapError.

func lookup(id uint64) (*client, error) {
	if id == 0 {
		return nil, invalidHandle("client")
	}
	cl, ok := clients.get(id)
	if !ok {
		return nil, invalidHandle("client")
	}
	return cl, nil
}

// lookupUsable also fails once the client is closing.
func lookupUsable(id uint64) (*client, error) {
	cl, err := lookup(id)
	if err != nil {
		return nil, err
	}
	return cl, cl.usable()
}

// clientNew builds a client; newQueue (nil in Go tests) makes its callback
// thread.
func clientNew(config []byte, newQueue func(id uint64) (callbackQueue, error)) (uint64, error) {
	c, err := core.NewFromJSON(config)
	if err != nil {
		return 0, err
	}
	cl := newClientState(0, c)
	id, ok := clients.add(cl)
	if !ok {
		_ = c.Close()
		return 0, errs.New(errs.Internal, "client_new", "client ids are exhausted")
	}
	cl.id = id
	cl.logs.client = id
	if newQueue != nil {
		// The handle is not out yet: nothing else can see cl before this.
		if cl.queue, err = newQueue(id); err != nil {
			clientFree(id, false)
			return 0, err
		}
	}
	return id, nil
}

func clientOpen(id uint64) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	return cl.core.Open(context.Background())
}

func clientClose(id uint64, inCallback bool) error {
	cl, err := lookup(id)
	if err != nil {
		return err
	}
	cl.close(inCallback)
	return nil
}

// clientFree releases the handle first (so it is invalid from here on), then
// closes. NULL and stale ids are no-ops.
func clientFree(id uint64, inCallback bool) {
	cl, ok := clients.remove(id)
	if !ok {
		return
	}
	cl.close(inCallback)
}

// clientRelease releases the handle and closes without waiting; callbacks
// that have not begun never run.
func clientRelease(id uint64) {
	if cl, ok := clients.remove(id); ok {
		cl.release()
	}
}

func clientClearTokens(id uint64) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	return cl.core.ClearTokens(context.Background())
}

func cancelAuth(id uint64) error {
	cl, err := lookup(id)
	if err != nil {
		return err
	}
	cl.core.CancelAuth()
	return nil
}

// resultJSON is the answer as the header documents it: null for no body.
func resultJSON(res json.RawMessage) []byte {
	if len(res) == 0 {
		return []byte("null")
	}
	return res
}

func call(id uint64, request []byte) ([]byte, error) {
	cl, err := lookupUsable(id)
	if err != nil {
		return nil, err
	}
	req, err := core.ParseRequest(request)
	if err != nil {
		return nil, err
	}
	res, err := cl.core.Execute(context.Background(), req)
	if err != nil {
		return nil, err
	}
	return resultJSON(res), nil
}

// completion receives an async call's outcome: status, result JSON on
// success, error JSON on failure.
type completion func(callID uint64, status int, result, errJSON []byte)

// callAsync accepts an async call and runs it on a goroutine of its own.
func callAsync(id uint64, request []byte, done completion) (uint64, error) {
	callID, run, err := startAsync(id, request, done)
	if err != nil {
		return 0, err
	}
	go run()
	return callID, nil
}

// startAsync accepts an async call (the request is valid, the client open)
// and returns its id and run, which performs it and calls done exactly once;
// the caller runs it on a goroutine of its choice.
func startAsync(id uint64, request []byte, done completion) (uint64, func(), error) {
	cl, err := lookup(id)
	if err != nil {
		return 0, nil, err
	}
	req, err := core.ParseRequest(request)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl.asyncMu.Lock()
	if cl.closing.Load() {
		cl.asyncMu.Unlock()
		cancel()
		return 0, nil, errClosed()
	}
	cl.lastCall++
	callID := cl.lastCall
	cl.calls[callID] = cancel
	cl.async.Add(1)
	cl.asyncMu.Unlock()

	run := func() {
		defer cl.async.Done()
		st, res, ej := cl.runAsync(ctx, req, callID)
		cancel()
		done(callID, st, res, ej)
	}
	return callID, run, nil
}

// runAsync performs one async call and always yields an outcome: no panic
// may kill the host process, and the callback must still run exactly once.
func (cl *client) runAsync(ctx context.Context, req core.Request, callID uint64) (st int, res, ej []byte) {
	defer func() {
		cl.asyncMu.Lock()
		delete(cl.calls, callID)
		cl.asyncMu.Unlock()
		if r := recover(); r != nil {
			st, ej = mapError(panicError("secucard_call_async", r))
			res = nil
		}
	}()
	out, err := cl.core.Execute(ctx, req)
	if err != nil {
		st, ej = mapError(asCanceled(err, ctx.Err() != nil, req.Name()))
		return st, nil, ej
	}
	return statusOK, resultJSON(out), nil
}

// asCanceled reports a call the host canceled (secucard_cancel, close) as
// CANCELED, as the header promises, whichever layer noticed the cancellation
// first. Answers the server gave (api, declined, auth) are kept as they are.
func asCanceled(err error, canceled bool, op string) error {
	if !canceled {
		return err
	}
	switch errs.KindOf(err) {
	case errs.Canceled:
		return err
	case errs.Closed, errs.Network, errs.Timeout:
		return errs.Wrap(errs.Canceled, op, err, "the call was canceled (secucard_cancel or client close)")
	}
	return err
}

func cancelCall(id, callID uint64) error {
	cl, err := lookup(id)
	if err != nil {
		return err
	}
	cl.asyncMu.Lock()
	cancel := cl.calls[callID]
	cl.asyncMu.Unlock()
	if cancel != nil {
		cancel()
	}
	return nil
}

// setEventHandler installs h (nil: queue for nextEvent). Unless it runs
// inside one of this client's callbacks, it returns only when the previous
// handler is not running any more.
func setEventHandler(id uint64, h func(eventJSON []byte), inCallback bool) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	var fn func(event.Event)
	if h != nil {
		fn = func(e event.Event) { h(e.JSON()) }
	}
	if err := cl.core.SetEventHandler(fn); err != nil {
		return err
	}
	if !inCallback {
		cl.core.WaitEventsIdle()
	}
	return nil
}

// nextEvent waits timeoutMS (0 poll, -1 forever) for a queued event.
func nextEvent(id uint64, timeoutMS int) ([]byte, error) {
	cl, err := lookupUsable(id)
	if err != nil {
		return nil, err
	}
	if timeoutMS < -1 {
		return nil, errs.Invalid("timeout_ms", "must be -1 (forever), 0 (poll) or a positive number of milliseconds, got %d", timeoutMS)
	}
	ctx := context.Background()
	if timeoutMS >= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(timeoutMS)*time.Millisecond)
		defer cancel()
	}
	e, err := cl.core.NextEvent(ctx)
	if err != nil {
		if errs.KindOf(err) == errs.Timeout {
			return nil, noEvent(err)
		}
		return nil, err
	}
	return e.JSON(), nil
}

func handleEvent(id uint64, body []byte) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	return cl.core.HandleWebhook(body)
}

func setCredentialPrompt(id uint64, p *hostPrompt) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	cl.hooksMu.Lock()
	defer cl.hooksMu.Unlock()
	if p == nil {
		if err := cl.core.SetCredentialProvider(nil); err != nil {
			return err
		}
	} else if err := cl.core.SetCredentialProvider(p); err != nil {
		return err
	}
	cl.prompt = p
	return nil
}

func setStorage(id uint64, fns hostStoreFuncs) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	s := &hostStore{fns: fns}
	cl.hooksMu.Lock()
	defer cl.hooksMu.Unlock()
	if err := cl.core.SetStore(s); err != nil {
		return err
	}
	cl.store = s
	return nil
}

// setLogTarget routes the client's log lines at or above minLevel to fn (nil:
// off). Unless inCallback, lines queued for the previous callback have been
// delivered when it returns.
func setLogTarget(id uint64, fn func(level logging.Level, msg string), minLevel int, inCallback bool) error {
	cl, err := lookupUsable(id)
	if err != nil {
		return err
	}
	if minLevel < int(logging.Off) || minLevel > int(logging.Trace) {
		return errs.Invalid("min_level", "must be SECUCARD_LOG_OFF (0) .. SECUCARD_LOG_TRACE (5), got %d", minLevel)
	}
	lvl := logging.Level(minLevel)
	if fn == nil || lvl == logging.Off {
		cl.core.SetLogSink(nil, logging.Off)
		cl.logs.set(nil, !inCallback)
		return nil
	}
	cl.logs.set(&logTarget{fn: fn, level: lvl}, !inCallback)
	cl.core.SetLogSink(cl.logs, lvl)
	return nil
}

func clientStats(id uint64) ([]byte, error) {
	cl, err := lookup(id)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cl.core.Stats())
	if err != nil {
		return nil, errs.Wrap(errs.Internal, "stats", err, "cannot encode the stats")
	}
	return b, nil
}

// catalogJSON lists the products and resources the library knows.
func catalogJSON() []byte {
	b, _ := json.Marshal(product.Names())
	return b
}

func formatReceipt(receipt []byte, width int) (string, error) {
	if width == 0 {
		width = product.DefaultReceiptWidth
	}
	if width < product.MinReceiptWidth || width > product.MaxReceiptWidth {
		return "", errs.Invalid("width", "must be 0 (for %d) or %d..%d, got %d",
			product.DefaultReceiptWidth, product.MinReceiptWidth, product.MaxReceiptWidth, width)
	}
	lines, err := product.ReceiptLines(receipt)
	if err != nil {
		return "", err
	}
	if len(lines) == 0 {
		return "", errs.Invalid("receipt_json", "holds no receipt lines")
	}
	return product.FormatReceipt(lines, width), nil
}
