package main

/*
#include "trampolines.h"
*/
import "C"

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// Every export is a nosplit shim that turns handles and user_data into
// integers before anything else runs. Hosts may pass any value there (1 as a
// cookie, a stale handle); held in a pointer-typed Go variable across a stack
// growth, a value below 4096 makes the Go runtime abort the process. The
// shims never grow the stack, and the pointer-typed arguments are dead once
// converted. The work happens in the x* functions below.

//export secucard_version
func secucard_version() *C.sc_cstr { return versionString() }

//export secucard_version_number
func secucard_version_number() C.int { return C.int(versionNumber(core.Version())) }

//export secucard_abi_version
func secucard_abi_version() C.int { return C.int(C.SECUCARD_ABI_VERSION) }

//export secucard_strerror
func secucard_strerror(status C.int) *C.sc_cstr { return C.sc_strerror(status) }

// secucard_free and the exports that wait on the network (call, call_async,
// next_event, client_open, client_clear_tokens) are written in C (handoff.c):
// they hand their work to a goroutine so the host thread never runs Go code.
// sc_go_* are their direct path (Windows, or no handoff available); they
// take handle and user_data as integers, so they need no nosplit shim.

//export sc_go_call
func sc_go_call(h C.uintptr_t, request *C.sc_cstr, result **C.char, errOut **C.char) C.int {
	return xCall(uintptr(h), request, result, errOut)
}

//export sc_go_next_event
func sc_go_next_event(h C.uintptr_t, timeoutMS C.int, eventJSON **C.char) C.int {
	return xNextEvent(uintptr(h), int(timeoutMS), eventJSON)
}

//export secucard_client_new
func secucard_client_new(config *C.sc_cstr, out **C.secucard_client, errOut **C.char) C.int {
	return xClientNew(config, out, errOut)
}

//export sc_go_client_open
func sc_go_client_open(h C.uintptr_t, errOut **C.char) C.int { return xClientOpen(uintptr(h), errOut) }

//export secucard_client_close
//go:nosplit
func secucard_client_close(h *C.secucard_client, errOut **C.char) C.int {
	return xClientClose(uintptr(unsafe.Pointer(h)), errOut)
}

//export secucard_client_free
//go:nosplit
func secucard_client_free(h *C.secucard_client) { xClientFree(uintptr(unsafe.Pointer(h))) }

//export secucard_client_release
//go:nosplit
func secucard_client_release(h *C.secucard_client) { xClientRelease(uintptr(unsafe.Pointer(h))) }

//export sc_go_client_clear_tokens
func sc_go_client_clear_tokens(h C.uintptr_t, errOut **C.char) C.int {
	return xClientClearTokens(uintptr(h), errOut)
}

//export secucard_cancel_auth
//go:nosplit
func secucard_cancel_auth(h *C.secucard_client) C.int {
	return xCancelAuth(uintptr(unsafe.Pointer(h)))
}

//export sc_go_call_async
func sc_go_call_async(h C.uintptr_t, request *C.sc_cstr, cb C.secucard_call_cb, ud C.uintptr_t, callID *C.uint64_t, errOut **C.char) C.int {
	rc, run := xCallAsync(uintptr(h), request, cb, uintptr(ud), callID, errOut)
	if run != nil {
		go run()
	}
	return rc
}

//export secucard_cancel
//go:nosplit
func secucard_cancel(h *C.secucard_client, callID C.uint64_t) C.int {
	return xCancel(uintptr(unsafe.Pointer(h)), uint64(callID))
}

//export secucard_set_event_callback
//go:nosplit
func secucard_set_event_callback(h *C.secucard_client, cb C.secucard_event_cb, ud unsafe.Pointer) C.int {
	return xSetEventCallback(uintptr(unsafe.Pointer(h)), cb, uintptr(ud))
}

//export secucard_handle_event
//go:nosplit
func secucard_handle_event(h *C.secucard_client, body *C.sc_cstr, errOut **C.char) C.int {
	return xHandleEvent(uintptr(unsafe.Pointer(h)), body, errOut)
}

//export secucard_reply_set
//go:nosplit
func secucard_reply_set(r *C.secucard_reply, data *C.sc_cvoid, n C.size_t) C.int {
	return xReplySet(uintptr(unsafe.Pointer(r)), data, n)
}

//export secucard_set_credentials_callback
//go:nosplit
func secucard_set_credentials_callback(h *C.secucard_client, cb C.secucard_credentials_cb, ud unsafe.Pointer) C.int {
	return xSetCredentialsCallback(uintptr(unsafe.Pointer(h)), cb, uintptr(ud))
}

//export secucard_set_storage_callbacks
//go:nosplit
func secucard_set_storage_callbacks(h *C.secucard_client, get C.secucard_store_get_cb, put C.secucard_store_put_cb,
	del C.secucard_store_del_cb, ud unsafe.Pointer) C.int {
	return xSetStorageCallbacks(uintptr(unsafe.Pointer(h)), get, put, del, uintptr(ud))
}

//export secucard_set_log_callback
//go:nosplit
func secucard_set_log_callback(h *C.secucard_client, cb C.secucard_log_cb, ud unsafe.Pointer, minLevel C.int) C.int {
	return xSetLogCallback(uintptr(unsafe.Pointer(h)), cb, uintptr(ud), int(minLevel))
}

//export secucard_format_receipt
func secucard_format_receipt(receipt *C.sc_cstr, width C.int, text **C.char, errOut **C.char) C.int {
	return xFormatReceipt(receipt, int(width), text, errOut)
}

//export secucard_catalog
func secucard_catalog(catalog **C.char) C.int { return xCatalog(catalog) }

//export secucard_client_stats
//go:nosplit
func secucard_client_stats(h *C.secucard_client, stats **C.char) C.int {
	return xClientStats(uintptr(unsafe.Pointer(h)), stats)
}

// --- helpers ---

// nativeQueue is a client's callback thread (trampolines.c).
type nativeQueue struct{ q *C.struct_sc_cbq }

func newNativeQueue(id uint64) (callbackQueue, error) {
	q := C.sc_cbq_new(C.uint64_t(id))
	if q == nil {
		return nil, errs.New(errs.Internal, "client_new", "cannot allocate the callback queue")
	}
	return nativeQueue{q}, nil
}

func (n nativeQueue) abandon() { C.sc_cbq_abandon(n.q) }
func (n nativeQueue) close()   { C.sc_cbq_close(n.q) }

func queueOf(cl *client) *C.struct_sc_cbq { return cl.queue.(nativeQueue).q }

// clientID decodes a client handle value; 0 for NULL or a foreign value.
func clientID(h uintptr) uint64 { return untag(uint64(h), clientTag) }

// inCallback reports whether this thread runs one of client id's callbacks.
func inCallback(id uint64) bool { return id != 0 && uint64(C.sc_callback_client()) == id }

func clearOut(p **C.char) {
	if p != nil {
		*p = nil
	}
}

// cString copies b into malloc'd memory the host frees with secucard_free.
func cString(b []byte) *C.char {
	p := (*C.char)(C.malloc(C.size_t(len(b) + 1)))
	if len(b) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(b)), b)
	}
	*(*byte)(unsafe.Add(unsafe.Pointer(p), len(b))) = 0
	return p
}

// goBytes copies a borrowed NUL-terminated host string.
func goBytes(p *C.sc_cstr) []byte {
	n := C.strlen((*C.char)(unsafe.Pointer(p)))
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))...)
}

// fail maps err to its status and, when the host asked for it, error JSON.
func fail(err error, errOut **C.char) C.int {
	if err == nil {
		return statusOK
	}
	st, js := mapError(err)
	if errOut != nil {
		if *errOut != nil {
			C.free(unsafe.Pointer(*errOut))
		}
		*errOut = cString(js)
	}
	return C.int(st)
}

func status(err error) C.int {
	st, _ := mapError(err)
	return C.int(st)
}

// guard turns a panic of an export into SECUCARD_ERR_INTERNAL; deferred first
// thing in every x* function.
func guard(export string, rc *C.int, errOut **C.char) {
	if r := recover(); r != nil {
		*rc = fail(panicError(export, r), errOut)
	}
}

// testPanicAt names an export that panics on purpose, so tests can prove the
// recovery. It is read once from LIBSECUCARD_TEST_PANIC and is empty in any
// normal process.
var testPanicAt = os.Getenv("LIBSECUCARD_TEST_PANIC")

func testHook(export string) {
	if testPanicAt != "" && testPanicAt == export {
		panic("deliberate panic requested by LIBSECUCARD_TEST_PANIC")
	}
}

func nullArg(name, hint string) error { return errs.Invalid(name, "is NULL; %s", hint) }

// --- implementations ---

var (
	versionOnce sync.Once
	versionC    *C.char // static for the life of the process
)

func versionString() *C.sc_cstr {
	versionOnce.Do(func() { versionC = cString([]byte(core.Version())) })
	return (*C.sc_cstr)(unsafe.Pointer(versionC))
}

// versionNumber turns "1.2.3" (any suffix ignored) into 1002003.
func versionNumber(v string) int {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	n := 0
	for i := 0; i < 3; i++ {
		x := 0
		if i < len(parts) {
			digits := parts[i]
			if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
				digits = digits[:j]
			}
			x, _ = strconv.Atoi(digits)
		}
		n = n*1000 + x
	}
	return n
}

func xClientNew(config *C.sc_cstr, out **C.secucard_client, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	if out != nil {
		*out = nil
	}
	defer guard("secucard_client_new", &rc, errOut)
	testHook("secucard_client_new")
	if config == nil {
		return fail(nullArg("config_json", "pass the config JSON object"), errOut)
	}
	if out == nil {
		return fail(nullArg("out", "pass the address of a secucard_client pointer"), errOut)
	}
	id, err := clientNew(goBytes(config), newNativeQueue)
	if err != nil {
		return fail(err, errOut)
	}
	*out = C.sc_client_handle(C.uint64_t(id))
	return statusOK
}

func xClientOpen(h uintptr, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	defer guard("secucard_client_open", &rc, errOut)
	testHook("secucard_client_open")
	return fail(clientOpen(clientID(h)), errOut)
}

func xClientClose(h uintptr, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	defer guard("secucard_client_close", &rc, errOut)
	testHook("secucard_client_close")
	id := clientID(h)
	return fail(clientClose(id, inCallback(id)), errOut)
}

func xClientFree(h uintptr) {
	defer func() { _ = recover() }() // void: nothing to report a panic through
	testHook("secucard_client_free")
	id := clientID(h)
	clientFree(id, inCallback(id))
}

func xClientRelease(h uintptr) {
	defer func() { _ = recover() }()
	testHook("secucard_client_release")
	clientRelease(clientID(h))
}

func xClientClearTokens(h uintptr, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	defer guard("secucard_client_clear_tokens", &rc, errOut)
	testHook("secucard_client_clear_tokens")
	return fail(clientClearTokens(clientID(h)), errOut)
}

func xCancelAuth(h uintptr) (rc C.int) {
	defer guard("secucard_cancel_auth", &rc, nil)
	testHook("secucard_cancel_auth")
	return status(cancelAuth(clientID(h)))
}

func xCall(h uintptr, request *C.sc_cstr, result **C.char, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	clearOut(result)
	defer guard("secucard_call", &rc, errOut)
	testHook("secucard_call")
	id := clientID(h)
	if _, err := lookup(id); err != nil {
		return fail(err, errOut)
	}
	if request == nil {
		return fail(nullArg("request_json", `pass a request object such as {"resource":"smart.idents","op":"list"}`), errOut)
	}
	if result == nil {
		return fail(nullArg("result_json", "pass the address of a char* for the answer"), errOut)
	}
	res, err := call(id, goBytes(request))
	if err != nil {
		return fail(err, errOut)
	}
	*result = cString(res)
	return statusOK
}

// xCallAsync accepts an async call; run (nil unless accepted) performs it:
// the caller picks the goroutine.
func xCallAsync(h uintptr, request *C.sc_cstr, cb C.secucard_call_cb, ud uintptr, callID *C.uint64_t, errOut **C.char) (rc C.int, run func()) {
	clearOut(errOut)
	if callID != nil {
		*callID = 0
	}
	defer guard("secucard_call_async", &rc, errOut)
	testHook("secucard_call_async")
	id := clientID(h)
	cl, err := lookup(id)
	if err != nil {
		return fail(err, errOut), nil
	}
	if request == nil {
		return fail(nullArg("request_json", "pass a request object"), errOut), nil
	}
	if cb == nil {
		return fail(nullArg("callback", "the completion callback is required"), errOut), nil
	}
	q := queueOf(cl)
	done := func(cid uint64, st int, res, ej []byte) {
		var cres, cerr *C.char
		if res != nil {
			cres = cString(res)
		}
		if ej != nil {
			cerr = cString(ej)
		}
		C.sc_cbq_done(q, cb, C.uintptr_t(ud), C.uint64_t(cid), C.int(st), cres, cerr) // takes cres, cerr
	}
	cid, run, err := startAsync(id, goBytes(request), done)
	if err != nil {
		return fail(err, errOut), nil
	}
	if callID != nil {
		*callID = C.uint64_t(cid)
	}
	return statusOK, run
}

func xCancel(h uintptr, callID uint64) (rc C.int) {
	defer guard("secucard_cancel", &rc, nil)
	testHook("secucard_cancel")
	return status(cancelCall(clientID(h), callID))
}

func xSetEventCallback(h uintptr, cb C.secucard_event_cb, ud uintptr) (rc C.int) {
	defer guard("secucard_set_event_callback", &rc, nil)
	testHook("secucard_set_event_callback")
	id := clientID(h)
	cl, err := lookup(id)
	if err != nil {
		return status(err)
	}
	var fn func([]byte)
	if cb != nil {
		q := queueOf(cl)
		fn = func(ev []byte) {
			cs := cString(ev)
			C.sc_cbq_event(q, cb, C.uintptr_t(ud), cs)
			C.free(unsafe.Pointer(cs))
		}
	}
	return status(setEventHandler(id, fn, inCallback(id)))
}

func xNextEvent(h uintptr, timeoutMS int, eventJSON **C.char) (rc C.int) {
	clearOut(eventJSON)
	defer guard("secucard_next_event", &rc, nil)
	testHook("secucard_next_event")
	id := clientID(h)
	if _, err := lookup(id); err != nil {
		return status(err)
	}
	if eventJSON == nil {
		return status(nullArg("event_json", "pass the address of a char* for the event"))
	}
	ev, err := nextEvent(id, timeoutMS)
	if err != nil {
		return status(err)
	}
	*eventJSON = cString(ev)
	return statusOK
}

func xHandleEvent(h uintptr, body *C.sc_cstr, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	defer guard("secucard_handle_event", &rc, errOut)
	testHook("secucard_handle_event")
	id := clientID(h)
	if _, err := lookup(id); err != nil {
		return fail(err, errOut)
	}
	if body == nil {
		return fail(nullArg("webhook_body_json", "pass the webhook body"), errOut)
	}
	return fail(handleEvent(id, goBytes(body)), errOut)
}

func xReplySet(r uintptr, data *C.sc_cvoid, n C.size_t) (rc C.int) {
	defer guard("secucard_reply_set", &rc, nil)
	testHook("secucard_reply_set")
	id := untag(uint64(r), replyTag)
	if id == 0 {
		return status(errs.Invalid("reply", "is not a reply slot (NULL or a foreign value)"))
	}
	if data == nil && n > 0 {
		return status(nullArg("data", "pass the bytes to copy (NULL is only allowed with len 0)"))
	}
	if uint64(n) > maxReplyBytes {
		return status(errs.Invalid("len", "must be at most %d bytes, got %d", maxReplyBytes, uint64(n)))
	}
	var b []byte
	if n > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))
	}
	return status(replySet(id, b))
}

func xSetCredentialsCallback(h uintptr, cb C.secucard_credentials_cb, ud uintptr) (rc C.int) {
	defer guard("secucard_set_credentials_callback", &rc, nil)
	testHook("secucard_set_credentials_callback")
	id := clientID(h)
	cl, err := lookup(id)
	if err != nil {
		return status(err)
	}
	var p *hostPrompt
	if cb != nil {
		q := queueOf(cl)
		p = &hostPrompt{ask: func(req []byte) (int, []byte, bool, error) {
			cs := cString(req)
			defer C.free(unsafe.Pointer(cs))
			return withReply(func(rid uint64) int {
				return int(C.sc_call_credentials(q, cb, C.uintptr_t(ud), cs, C.uint64_t(rid)))
			})
		}}
	}
	return status(setCredentialPrompt(id, p))
}

func xSetStorageCallbacks(h uintptr, get C.secucard_store_get_cb, put C.secucard_store_put_cb, del C.secucard_store_del_cb, ud uintptr) (rc C.int) {
	defer guard("secucard_set_storage_callbacks", &rc, nil)
	testHook("secucard_set_storage_callbacks")
	id := clientID(h)
	cl, err := lookup(id)
	if err != nil {
		return status(err)
	}
	switch {
	case get == nil:
		return status(nullArg("get", "all three storage callbacks are required"))
	case put == nil:
		return status(nullArg("put", "all three storage callbacks are required"))
	case del == nil:
		return status(nullArg("del", "all three storage callbacks are required"))
	}
	u := C.uintptr_t(ud)
	q := queueOf(cl)
	fns := hostStoreFuncs{
		get: func(key string) (int, []byte, bool, error) {
			ck := C.CString(key)
			defer C.free(unsafe.Pointer(ck))
			return withReply(func(rid uint64) int {
				return int(C.sc_call_store_get(q, get, u, ck, C.uint64_t(rid)))
			})
		},
		put: func(key string, value []byte) int {
			ck := C.CString(key)
			defer C.free(unsafe.Pointer(ck))
			cv := C.CBytes(value) // C memory: the callback thread reads it
			defer C.free(cv)
			return int(C.sc_call_store_put(q, put, u, ck, cv, C.size_t(len(value))))
		},
		del: func(key string) int {
			ck := C.CString(key)
			defer C.free(unsafe.Pointer(ck))
			return int(C.sc_call_store_del(q, del, u, ck))
		},
	}
	return status(setStorage(id, fns))
}

func xSetLogCallback(h uintptr, cb C.secucard_log_cb, ud uintptr, minLevel int) (rc C.int) {
	defer guard("secucard_set_log_callback", &rc, nil)
	testHook("secucard_set_log_callback")
	id := clientID(h)
	cl, err := lookup(id)
	if err != nil {
		return status(err)
	}
	var fn func(logging.Level, string)
	if cb != nil {
		q := queueOf(cl)
		fn = func(level logging.Level, msg string) {
			cs := C.CString(msg)
			C.sc_cbq_log(q, cb, C.uintptr_t(ud), C.int(level), cs)
			C.free(unsafe.Pointer(cs))
		}
	}
	return status(setLogTarget(id, fn, minLevel, inCallback(id)))
}

func xFormatReceipt(receipt *C.sc_cstr, width int, text **C.char, errOut **C.char) (rc C.int) {
	clearOut(errOut)
	clearOut(text)
	defer guard("secucard_format_receipt", &rc, errOut)
	testHook("secucard_format_receipt")
	if receipt == nil {
		return fail(nullArg("receipt_json", "pass the receipt lines or a smart transaction"), errOut)
	}
	if text == nil {
		return fail(nullArg("text", "pass the address of a char* for the text"), errOut)
	}
	s, err := formatReceipt(goBytes(receipt), width)
	if err != nil {
		return fail(err, errOut)
	}
	*text = cString([]byte(s))
	return statusOK
}

func xCatalog(catalog **C.char) (rc C.int) {
	clearOut(catalog)
	defer guard("secucard_catalog", &rc, nil)
	if catalog == nil {
		return status(nullArg("catalog_json", "pass the address of a char* for the catalog"))
	}
	*catalog = cString(catalogJSON())
	return statusOK
}

func xClientStats(h uintptr, stats **C.char) (rc C.int) {
	clearOut(stats)
	defer guard("secucard_client_stats", &rc, nil)
	testHook("secucard_client_stats")
	id := clientID(h)
	if _, err := lookup(id); err != nil {
		return status(err)
	}
	if stats == nil {
		return status(nullArg("stats_json", "pass the address of a char* for the stats"))
	}
	b, err := clientStats(id)
	if err != nil {
		return status(err)
	}
	*stats = cString(b)
	return statusOK
}
