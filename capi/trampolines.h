/*
 * trampolines.h - declarations shared by the Go files of capi and its C files.
 *
 * cgo copies the preamble of every file with //export into _cgo_export.h, so
 * this header (and through it secucard.h) sits in the same translation unit as
 * cgo's prototypes of the exports: any drift between the public header and the
 * Go signatures is a compile error. The exports written in C (handoff.c) are
 * checked by their definitions against secucard.h.
 */
#ifndef SC_TRAMPOLINES_H
#define SC_TRAMPOLINES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secucard.h"

/* cgo cannot spell const in export signatures; these typedefs make the
 * generated prototypes read "const char *" and "const void *". */
typedef const char sc_cstr;
typedef const void sc_cvoid;

/* Handles are registry ids encoded as values that are never pointers (handles.c). */
secucard_client *sc_client_handle(uint64_t id);
secucard_reply *sc_reply_handle(uint64_t id);
/* 32-bit targets: the start of the address range handles live in, 0 if it
 * could not be reserved (then no handle decodes). */
uintptr_t sc_handle_base(void);

/* The id of the client whose callback runs on this thread, 0 on any other thread. */
uint64_t sc_callback_client(void);

sc_cstr *sc_strerror(int status);

/*
 * The callback queue of one client (callbacks.c): one long-lived native
 * thread, started at the first callback, runs the client's events, async
 * completions and log lines one at a time, in the order they were queued.
 */
struct sc_cbq;
struct sc_cbq *sc_cbq_new(uint64_t client);
/* Run the event / log callback on the queue's thread; return once it returned
 * (or was discarded). The strings are borrowed. */
void sc_cbq_event(struct sc_cbq *q, secucard_event_cb cb, uintptr_t ud, const char *event_json);
void sc_cbq_log(struct sc_cbq *q, secucard_log_cb cb, uintptr_t ud, int level, const char *message);
/* Queue an async completion and return at once; the queue owns (and frees)
 * result_json and err_json. */
void sc_cbq_done(struct sc_cbq *q, secucard_call_cb cb, uintptr_t ud, uint64_t call_id, int status,
                 char *result_json, char *err_json);
/* From now on queued and later callbacks are discarded, never run, and the
 * thread ends as soon as a callback still running returns. */
void sc_cbq_abandon(struct sc_cbq *q);
/* Run what is queued, end the thread and release q. It waits for the thread
 * unless q was abandoned (or this is q's own thread). q is invalid afterwards. */
void sc_cbq_close(struct sc_cbq *q);

/* Synchronous host services (credentials, storage) run on a short-lived
 * native thread each, joined before these return: the client's callback
 * thread may itself be waiting for them (a callback calling secucard_call
 * that needs a token refresh). Once q is abandoned they refuse (the prompt
 * declines, storage fails) without calling the host. */
int sc_call_credentials(struct sc_cbq *q, secucard_credentials_cb cb, uintptr_t ud, const char *request_json,
                        uint64_t reply);
int sc_call_store_get(struct sc_cbq *q, secucard_store_get_cb cb, uintptr_t ud, const char *key, uint64_t reply);
int sc_call_store_put(struct sc_cbq *q, secucard_store_put_cb cb, uintptr_t ud, const char *key, const void *value,
                      size_t len);
int sc_call_store_del(struct sc_cbq *q, secucard_store_del_cb cb, uintptr_t ud, const char *key);

/*
 * The synchronous handoff (handoff.c): a blocking export written in C hands
 * its slot to a Go goroutine and sleeps until the goroutine completes it, so
 * the host thread never runs Go code while the request is in flight.
 */
enum sc_op { SC_OP_CALL = 1, SC_OP_NEXT_EVENT = 2, SC_OP_CALL_ASYNC = 3, SC_OP_OPEN = 4, SC_OP_CLEAR_TOKENS = 5 };

struct sc_slot {
    int op;
    uintptr_t handle;
    sc_cstr *in; /* request JSON (borrowed) */
    int timeout_ms;
    char **out1, **out2; /* result/event, err JSON */
    secucard_call_cb cb; /* call_async */
    uintptr_t ud;
    uint64_t *call_id;
    int rc;
    uint32_t state; /* futex word: SC_SLOT_*; accessed atomically only */
};

#define SC_SLOT_PENDING 0u
#define SC_SLOT_WAITING 1u /* the host thread sleeps (or is about to) */
#define SC_SLOT_DONE    2u

#endif
