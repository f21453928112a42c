/*
 * handoff.c - the exports written in C: secucard_free, and the ones that wait
 * on the network (secucard_call, secucard_call_async, secucard_next_event,
 * secucard_client_open, secucard_client_clear_tokens), on which the host
 * thread never runs Go code. (Exports that must know whether they run inside
 * a callback - close, free, set_*_callback - read a thread-local of the
 * calling thread, so they stay on it.)
 *
 * Why: a host thread that calls into Go runs the export on a goroutine locked
 * to that thread. Every time net/http parks it, the runtime has to hand the
 * thread back and forth (startlockedm/stoplockedm): most of the C ABI's extra
 * context switches and CPU (capi/README.md). Instead the host thread writes the
 * address of a slot on its own stack into a pipe that the Go netpoller
 * watches, and sleeps on a futex in the slot. A goroutine reads the slot,
 * runs the same x* code as the direct path, writes the outputs and wakes the
 * host thread. The goroutines never touch a host thread.
 *
 * Per OS: Linux uses the pipe and a futex. Elsewhere (the Windows DLL: its
 * netpoller cannot watch an anonymous pipe) these exports call Go directly on
 * the host thread, as every other export does: correct, only slower under
 * many concurrent callers. Also used on Linux when the pipe cannot be made,
 * and in a child after fork() (the child has no Go threads to read the pipe).
 */
#include <stdint.h>
#include <stdlib.h>

#include "secucard.h"
#include "_cgo_export.h"
#include "trampolines.h"

#ifdef _WIN32
/* cmd/link exports only the Go //exports (export_file.def); these need their own mark. */
#define SC_C_EXPORT __declspec(dllexport)
#else
#define SC_C_EXPORT
#endif

SC_C_EXPORT void secucard_free(void *ptr) { free(ptr); }

#if defined(__linux__)
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The pipe's write end: -1 not yet asked, -2 unavailable (use the direct path). */
static int sc_handoff_wfd = -1;
static pthread_once_t sc_handoff_once = PTHREAD_ONCE_INIT;

static void handoff_after_fork_in_child(void) { __atomic_store_n(&sc_handoff_wfd, -2, __ATOMIC_RELEASE); }

static void handoff_init(void) {
    /* A Go export: it waits for the runtime's initialisation, starts the
     * reading goroutine and returns the write end (or -2). */
    int fd = sc_go_handoff_start();
    pthread_atfork(NULL, NULL, handoff_after_fork_in_child);
    __atomic_store_n(&sc_handoff_wfd, fd, __ATOMIC_RELEASE);
}

/* handoff runs s on a goroutine and returns 1 once it is complete, or 0 when
 * s was not handed over (the caller then runs it directly). */
static int handoff(struct sc_slot *s) {
    int fd = __atomic_load_n(&sc_handoff_wfd, __ATOMIC_ACQUIRE);
    if (fd == -1) {
        pthread_once(&sc_handoff_once, handoff_init);
        fd = __atomic_load_n(&sc_handoff_wfd, __ATOMIC_ACQUIRE);
    }
    if (fd < 0) return 0;
    s->state = SC_SLOT_PENDING;
    for (;;) {
        /* One pointer: below PIPE_BUF, so concurrent writers never interleave. */
        ssize_t n = write(fd, &s, sizeof s);
        if (n == (ssize_t)sizeof s) break;
        if (n < 0 && errno == EINTR) continue;
        return 0;
    }
    uint32_t expected = SC_SLOT_PENDING;
    if (__atomic_compare_exchange_n(&s->state, &expected, SC_SLOT_WAITING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SC_SLOT_DONE) {
            /* Returns at once if the goroutine finished in between. */
            syscall(SYS_futex, &s->state, FUTEX_WAIT_PRIVATE, SC_SLOT_WAITING, NULL, NULL, 0);
        }
    }
    return 1;
}
#else
static int handoff(struct sc_slot *s) {
    (void)s;
    return 0;
}
#endif

SC_C_EXPORT int secucard_call(secucard_client *client, const char *request_json, char **result_json, char **err_json) {
    struct sc_slot s = {0};
    s.op = SC_OP_CALL;
    s.handle = (uintptr_t)client;
    s.in = request_json;
    s.out1 = result_json;
    s.out2 = err_json;
    if (handoff(&s)) return s.rc;
    return sc_go_call(s.handle, request_json, result_json, err_json);
}

SC_C_EXPORT int secucard_call_async(secucard_client *client, const char *request_json, secucard_call_cb callback,
                                    void *user_data, uint64_t *call_id, char **err_json) {
    struct sc_slot s = {0};
    s.op = SC_OP_CALL_ASYNC;
    s.handle = (uintptr_t)client;
    s.in = request_json;
    s.cb = callback;
    s.ud = (uintptr_t)user_data;
    s.call_id = call_id;
    s.out2 = err_json;
    /* The goroutine that accepts the call also runs it, after this returns. */
    if (handoff(&s)) return s.rc;
    return sc_go_call_async(s.handle, request_json, callback, s.ud, call_id, err_json);
}

/* client_op hands an operation on the client alone (open, clear_tokens) over. */
static int client_op(enum sc_op op, secucard_client *client, char **err_json,
                     int (*direct)(uintptr_t, char **)) {
    struct sc_slot s = {0};
    s.op = op;
    s.handle = (uintptr_t)client;
    s.out2 = err_json;
    if (handoff(&s)) return s.rc;
    return direct(s.handle, err_json);
}

SC_C_EXPORT int secucard_client_open(secucard_client *client, char **err_json) {
    return client_op(SC_OP_OPEN, client, err_json, sc_go_client_open);
}

SC_C_EXPORT int secucard_client_clear_tokens(secucard_client *client, char **err_json) {
    return client_op(SC_OP_CLEAR_TOKENS, client, err_json, sc_go_client_clear_tokens);
}

SC_C_EXPORT int secucard_next_event(secucard_client *client, int timeout_ms, char **event_json) {
    struct sc_slot s = {0};
    s.op = SC_OP_NEXT_EVENT;
    s.handle = (uintptr_t)client;
    s.timeout_ms = timeout_ms;
    s.out1 = event_json;
    /* A poll never blocks: entering Go here is cheaper than a handoff. */
    if (timeout_ms != 0 && handoff(&s)) return s.rc;
    return sc_go_next_event(s.handle, timeout_ms, event_json);
}
