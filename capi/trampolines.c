/*
 * trampolines.c - the C half of the boundary: the trampolines that call
 * host callbacks (handle encoding is in handles.c).
 *
 * Host callbacks never run on a Go runtime thread: each one runs on a
 * short-lived native thread created here and joined before the trampoline
 * returns. Runtimes that adopt foreign threads (Mono, see TOOLCHAIN.md §5)
 * otherwise wait for Go's threads at exit and hang. A thread-local variable
 * names the client whose callback runs on the thread, so exports can tell
 * "called from inside a callback" and avoid waiting for themselves.
 *
 * This file includes both secucard.h and cgo's _cgo_export.h: a signature of a
 * Go export that drifts from the header fails to compile here.
 */
#include <stdint.h>
#include <stdlib.h>

#include "secucard.h"
#include "_cgo_export.h"
#include "trampolines.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#endif

static _Thread_local uint64_t sc_tls_client;

uint64_t sc_callback_client(void) { return sc_tls_client; }

sc_cstr *sc_strerror(int status) {
    switch (status) {
    case SECUCARD_OK: return "ok";
    case SECUCARD_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SECUCARD_ERR_INVALID_HANDLE: return "invalid handle";
    case SECUCARD_ERR_AUTH: return "authentication failed";
    case SECUCARD_ERR_API: return "api error";
    case SECUCARD_ERR_DECLINED: return "declined";
    case SECUCARD_ERR_NETWORK: return "network error";
    case SECUCARD_ERR_TIMEOUT: return "timeout";
    case SECUCARD_ERR_CANCELED: return "canceled";
    case SECUCARD_ERR_CLOSED: return "client closed";
    case SECUCARD_ERR_STORAGE: return "storage error";
    case SECUCARD_ERR_NO_EVENT: return "no event";
    case SECUCARD_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

/* One pending host callback: its arguments in, its return code out. */
enum sc_kind { SC_EVENT, SC_DONE, SC_LOG, SC_CREDS, SC_GET, SC_PUT, SC_DEL };

struct sc_job {
    enum sc_kind kind;
    uint64_t client;
    void *ud;
    union {
        secucard_event_cb event;
        secucard_call_cb done;
        secucard_log_cb log;
        secucard_credentials_cb creds;
        secucard_store_get_cb get;
        secucard_store_put_cb put;
        secucard_store_del_cb del;
    } cb;
    const char *s1, *s2; /* event/result/message/request/key; err json */
    const void *data;
    size_t len;
    uint64_t num;        /* call id or reply id */
    int arg;             /* status or level */
    int rc;
};

static void sc_job_run(struct sc_job *j) {
    sc_tls_client = j->client;
    switch (j->kind) {
    case SC_EVENT: j->cb.event(j->ud, j->s1); break;
    case SC_DONE: j->cb.done(j->ud, j->num, j->arg, j->s1, j->s2); break;
    case SC_LOG: j->cb.log(j->ud, j->arg, j->s1); break;
    case SC_CREDS: j->rc = j->cb.creds(j->ud, j->s1, sc_reply_handle(j->num)); break;
    case SC_GET: j->rc = j->cb.get(j->ud, j->s1, sc_reply_handle(j->num)); break;
    case SC_PUT: j->rc = j->cb.put(j->ud, j->s1, j->data, j->len); break;
    case SC_DEL: j->rc = j->cb.del(j->ud, j->s1); break;
    }
    sc_tls_client = 0;
}

#ifdef _WIN32
static DWORD WINAPI sc_job_thread(LPVOID p) {
    sc_job_run((struct sc_job *)p);
    return 0;
}

static void sc_job_exec(struct sc_job *j) {
    HANDLE t = CreateThread(NULL, 0, sc_job_thread, j, 0, NULL);
    if (t == NULL) {
        /* Out of threads: running on the caller's thread beats losing a
         * callback the header promises. */
        sc_job_run(j);
        return;
    }
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
#else
static void *sc_job_thread(void *p) {
    sc_job_run((struct sc_job *)p);
    return NULL;
}

static void sc_job_exec(struct sc_job *j) {
    pthread_t t;
    if (pthread_create(&t, NULL, sc_job_thread, j) != 0) {
        /* Out of threads: running on the caller's thread beats losing a
         * callback the header promises. */
        sc_job_run(j);
        return;
    }
    pthread_join(t, NULL);
}
#endif

void sc_call_event(secucard_event_cb cb, uintptr_t ud, uint64_t client, const char *event_json) {
    struct sc_job j = {0};
    j.kind = SC_EVENT;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.event = cb;
    j.s1 = event_json;
    sc_job_exec(&j);
}

void sc_call_done(secucard_call_cb cb, uintptr_t ud, uint64_t client, uint64_t call_id, int status,
                  const char *result_json, const char *err_json) {
    struct sc_job j = {0};
    j.kind = SC_DONE;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.done = cb;
    j.num = call_id;
    j.arg = status;
    j.s1 = result_json;
    j.s2 = err_json;
    sc_job_exec(&j);
}

void sc_call_log(secucard_log_cb cb, uintptr_t ud, uint64_t client, int level, const char *message) {
    struct sc_job j = {0};
    j.kind = SC_LOG;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.log = cb;
    j.arg = level;
    j.s1 = message;
    sc_job_exec(&j);
}

int sc_call_credentials(secucard_credentials_cb cb, uintptr_t ud, uint64_t client, const char *request_json,
                        uint64_t reply) {
    struct sc_job j = {0};
    j.kind = SC_CREDS;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.creds = cb;
    j.s1 = request_json;
    j.num = reply;
    sc_job_exec(&j);
    return j.rc;
}

int sc_call_store_get(secucard_store_get_cb cb, uintptr_t ud, uint64_t client, const char *key, uint64_t reply) {
    struct sc_job j = {0};
    j.kind = SC_GET;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.get = cb;
    j.s1 = key;
    j.num = reply;
    sc_job_exec(&j);
    return j.rc;
}

int sc_call_store_put(secucard_store_put_cb cb, uintptr_t ud, uint64_t client, const char *key, const void *value,
                      size_t len) {
    struct sc_job j = {0};
    j.kind = SC_PUT;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.put = cb;
    j.s1 = key;
    j.data = value;
    j.len = len;
    sc_job_exec(&j);
    return j.rc;
}

int sc_call_store_del(secucard_store_del_cb cb, uintptr_t ud, uint64_t client, const char *key) {
    struct sc_job j = {0};
    j.kind = SC_DEL;
    j.client = client;
    j.ud = (void *)ud;
    j.cb.del = cb;
    j.s1 = key;
    sc_job_exec(&j);
    return j.rc;
}
