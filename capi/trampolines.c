/*
 * trampolines.c - the C half of the boundary: the threads that call host
 * callbacks (handle encoding is in handles.c).
 *
 * Host callbacks never run on a Go runtime thread or a host thread. Each
 * client has one long-lived native thread (its callback queue, started at the
 * first callback) for events, async completions and log lines: one at a time,
 * in order, with no Go lock held. Runtimes that adopt foreign threads attach
 * it once (Mono: TOOLCHAIN.md §5; the C# binding marks it a background thread
 * so it never holds up the process exit). Credential and storage callbacks
 * are synchronous requests from deep inside a call, which a callback on the
 * queue thread may itself be waiting for, so each runs on a short-lived
 * thread of its own, joined before the request returns.
 *
 * A thread-local variable names the client whose callback runs on the thread,
 * so exports can tell "called from inside a callback" and avoid waiting for
 * themselves.
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
static _Thread_local struct sc_cbq *sc_tls_queue; /* set on a queue's own thread */

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

/* ------------------------------------------------------------ threads */

#ifdef _WIN32
typedef CRITICAL_SECTION sc_mutex;
typedef CONDITION_VARIABLE sc_cond;
typedef HANDLE sc_thread;
#define SC_THREAD_FN(name, arg) static DWORD WINAPI name(LPVOID arg)
#define SC_THREAD_END return 0
static void mu_init(sc_mutex *m) { InitializeCriticalSection(m); }
static void mu_destroy(sc_mutex *m) { DeleteCriticalSection(m); }
static void mu_lock(sc_mutex *m) { EnterCriticalSection(m); }
static void mu_unlock(sc_mutex *m) { LeaveCriticalSection(m); }
static void cond_init(sc_cond *c) { InitializeConditionVariable(c); }
static void cond_destroy(sc_cond *c) { (void)c; }
static void cond_wait(sc_cond *c, sc_mutex *m) { SleepConditionVariableCS(c, m, INFINITE); }
static void cond_signal(sc_cond *c) { WakeConditionVariable(c); }
static void cond_broadcast(sc_cond *c) { WakeAllConditionVariable(c); }
static int thread_start(sc_thread *t, LPTHREAD_START_ROUTINE fn, void *arg) {
    *t = CreateThread(NULL, 0, fn, arg, 0, NULL);
    return *t != NULL;
}
static void thread_join(sc_thread t) {
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
static void thread_detach(sc_thread t) { CloseHandle(t); }
#else
typedef pthread_mutex_t sc_mutex;
typedef pthread_cond_t sc_cond;
typedef pthread_t sc_thread;
#define SC_THREAD_FN(name, arg) static void *name(void *arg)
#define SC_THREAD_END return NULL
static void mu_init(sc_mutex *m) { pthread_mutex_init(m, NULL); }
static void mu_destroy(sc_mutex *m) { pthread_mutex_destroy(m); }
static void mu_lock(sc_mutex *m) { pthread_mutex_lock(m); }
static void mu_unlock(sc_mutex *m) { pthread_mutex_unlock(m); }
static void cond_init(sc_cond *c) { pthread_cond_init(c, NULL); }
static void cond_destroy(sc_cond *c) { pthread_cond_destroy(c); }
static void cond_wait(sc_cond *c, sc_mutex *m) { pthread_cond_wait(c, m); }
static void cond_signal(sc_cond *c) { pthread_cond_signal(c); }
static void cond_broadcast(sc_cond *c) { pthread_cond_broadcast(c); }
static int thread_start(sc_thread *t, void *(*fn)(void *), void *arg) { return pthread_create(t, NULL, fn, arg) == 0; }
static void thread_join(sc_thread t) { pthread_join(t, NULL); }
static void thread_detach(sc_thread t) { pthread_detach(t); }
#endif

/* --------------------------------------------------------------- jobs */

/* One pending host callback: its arguments in, its return code out. */
enum sc_kind { SC_EVENT, SC_DONE, SC_LOG, SC_CREDS, SC_GET, SC_PUT, SC_DEL };

struct sc_job {
    struct sc_job *next;
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
    uint64_t num; /* call id or reply id */
    int arg;      /* status or level */
    int rc;
    int owned;    /* malloc'd by sc_cbq_done: the queue frees it and s1, s2 */
    int finished; /* a waited-for job: it ran or was discarded */
};

static void sc_job_run(struct sc_job *j) {
    switch (j->kind) {
    case SC_EVENT: j->cb.event(j->ud, j->s1); break;
    case SC_DONE: j->cb.done(j->ud, j->num, j->arg, j->s1, j->s2); break;
    case SC_LOG: j->cb.log(j->ud, j->arg, j->s1); break;
    case SC_CREDS: j->rc = j->cb.creds(j->ud, j->s1, sc_reply_handle(j->num)); break;
    case SC_GET: j->rc = j->cb.get(j->ud, j->s1, sc_reply_handle(j->num)); break;
    case SC_PUT: j->rc = j->cb.put(j->ud, j->s1, j->data, j->len); break;
    case SC_DEL: j->rc = j->cb.del(j->ud, j->s1); break;
    }
}

static void sc_job_free(struct sc_job *j) {
    free((void *)j->s1);
    free((void *)j->s2);
    free(j);
}

/* ------------------------------------------------- the client's queue */

struct sc_cbq {
    uint64_t client;
    sc_mutex mu;
    sc_cond work;  /* a job was queued, or the queue stops */
    sc_cond ended; /* a job finished */
    struct sc_job *head, *tail;
    sc_thread thread;
    int started;   /* the thread runs (or ran) */
    int stopping;  /* sc_cbq_close: end once the queue is empty */
    int abandoned; /* discard instead of run */
    int refs;      /* the Go client and, while it runs, the thread */
};

static void cbq_release_locked(struct sc_cbq *q, int *last) { *last = --q->refs == 0; }

static void cbq_free(struct sc_cbq *q) {
    cond_destroy(&q->work);
    cond_destroy(&q->ended);
    mu_destroy(&q->mu);
    free(q);
}

/* cbq_finish marks j done: owned jobs are freed (outside the lock by the
 * caller, via *garbage), waited-for jobs release their submitter. */
static void cbq_finish_locked(struct sc_cbq *q, struct sc_job *j, struct sc_job **garbage) {
    if (j->owned) {
        j->next = *garbage;
        *garbage = j;
    } else {
        j->finished = 1;
    }
    cond_broadcast(&q->ended);
}

static void free_garbage(struct sc_job *g) {
    while (g) {
        struct sc_job *n = g->next;
        sc_job_free(g);
        g = n;
    }
}

SC_THREAD_FN(cbq_main, arg) {
    struct sc_cbq *q = arg;
    sc_tls_client = q->client;
    sc_tls_queue = q;
    mu_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping) cond_wait(&q->work, &q->mu);
        struct sc_job *j = q->head;
        if (!j) break; /* stopping, and nothing left */
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        int run = !q->abandoned;
        mu_unlock(&q->mu);
        if (run) sc_job_run(j); /* no lock held: the callback may re-enter */
        struct sc_job *garbage = NULL;
        mu_lock(&q->mu);
        cbq_finish_locked(q, j, &garbage);
        if (garbage) {
            mu_unlock(&q->mu);
            free_garbage(garbage);
            mu_lock(&q->mu);
        }
    }
    int last;
    cbq_release_locked(q, &last);
    mu_unlock(&q->mu);
    if (last) cbq_free(q);
    SC_THREAD_END;
}

struct sc_cbq *sc_cbq_new(uint64_t client) {
    struct sc_cbq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->client = client;
    q->refs = 1;
    mu_init(&q->mu);
    cond_init(&q->work);
    cond_init(&q->ended);
    return q;
}

/*
 * cbq_submit queues j. It returns 0 when j was discarded (q abandoned or
 * closed) and -1 when no thread could be started: the caller then runs the
 * callback itself, which beats losing a callback the header promises.
 * Called with q->mu held.
 */
static int cbq_submit_locked(struct sc_cbq *q, struct sc_job *j) {
    if (q->abandoned || q->stopping) return 0;
    if (!q->started) {
        if (!thread_start(&q->thread, cbq_main, q)) return -1;
        q->started = 1;
        q->refs++;
    }
    j->next = NULL;
    if (q->tail) q->tail->next = j;
    else q->head = j;
    q->tail = j;
    cond_signal(&q->work);
    return 1;
}

/* cbq_run queues j and waits until it ran (or was discarded). On the queue's
 * own thread it runs j at once: waiting would wait for itself. */
static void cbq_run(struct sc_cbq *q, struct sc_job *j) {
    if (!q) return;
    j->client = q->client;
    mu_lock(&q->mu);
    if (sc_tls_queue == q) {
        int abandoned = q->abandoned;
        mu_unlock(&q->mu);
        if (!abandoned) sc_job_run(j);
        return;
    }
    int queued = cbq_submit_locked(q, j);
    if (queued > 0) {
        while (!j->finished) cond_wait(&q->ended, &q->mu);
    }
    mu_unlock(&q->mu);
    if (queued < 0) {
        uint64_t saved = sc_tls_client;
        sc_tls_client = q->client;
        sc_job_run(j);
        sc_tls_client = saved;
    }
}

void sc_cbq_event(struct sc_cbq *q, secucard_event_cb cb, uintptr_t ud, const char *event_json) {
    struct sc_job j = {0};
    j.kind = SC_EVENT;
    j.ud = (void *)ud;
    j.cb.event = cb;
    j.s1 = event_json;
    cbq_run(q, &j);
}

void sc_cbq_log(struct sc_cbq *q, secucard_log_cb cb, uintptr_t ud, int level, const char *message) {
    struct sc_job j = {0};
    j.kind = SC_LOG;
    j.ud = (void *)ud;
    j.cb.log = cb;
    j.arg = level;
    j.s1 = message;
    cbq_run(q, &j);
}

void sc_cbq_done(struct sc_cbq *q, secucard_call_cb cb, uintptr_t ud, uint64_t call_id, int status,
                 char *result_json, char *err_json) {
    struct sc_job *j = calloc(1, sizeof *j);
    if (!j) {
        /* Out of memory: run it here rather than lose the completion. */
        struct sc_job local = {0};
        local.kind = SC_DONE;
        local.client = q->client;
        local.ud = (void *)ud;
        local.cb.done = cb;
        local.num = call_id;
        local.arg = status;
        local.s1 = result_json;
        local.s2 = err_json;
        cbq_run(q, &local);
        free(result_json);
        free(err_json);
        return;
    }
    j->kind = SC_DONE;
    j->client = q->client;
    j->ud = (void *)ud;
    j->cb.done = cb;
    j->num = call_id;
    j->arg = status;
    j->s1 = result_json;
    j->s2 = err_json;
    j->owned = 1;
    mu_lock(&q->mu);
    int queued = cbq_submit_locked(q, j);
    mu_unlock(&q->mu);
    if (queued == 0) {
        sc_job_free(j);
    } else if (queued < 0) {
        uint64_t saved = sc_tls_client;
        sc_tls_client = q->client;
        sc_job_run(j);
        sc_tls_client = saved;
        sc_job_free(j);
    }
}

void sc_cbq_abandon(struct sc_cbq *q) {
    if (!q) return;
    struct sc_job *garbage = NULL;
    mu_lock(&q->mu);
    q->abandoned = 1;
    q->stopping = 1; /* the thread ends once a callback still running returns */
    cond_signal(&q->work);
    while (q->head) {
        struct sc_job *j = q->head;
        q->head = j->next;
        cbq_finish_locked(q, j, &garbage);
    }
    q->tail = NULL;
    mu_unlock(&q->mu);
    free_garbage(garbage);
}

void sc_cbq_close(struct sc_cbq *q) {
    if (!q) return;
    mu_lock(&q->mu);
    q->stopping = 1;
    cond_signal(&q->work);
    int started = q->started, wait = started && !q->abandoned && sc_tls_queue != q;
    sc_thread t = q->thread;
    mu_unlock(&q->mu);
    if (wait) thread_join(t); /* runs what is queued, then ends */
    else if (started) thread_detach(t);
    int last;
    mu_lock(&q->mu);
    cbq_release_locked(q, &last);
    mu_unlock(&q->mu);
    if (last) cbq_free(q);
}

/* ------------------------------------ one thread per host-service call */

SC_THREAD_FN(sc_job_thread, arg) {
    struct sc_job *j = arg;
    sc_tls_client = j->client;
    sc_job_run(j);
    SC_THREAD_END;
}

/* sc_job_exec runs j on a thread of its own and joins it. After
 * sc_cbq_abandon no host-service callback begins either: j fails with
 * refused instead (the credential prompt declines, storage reports an
 * error). */
static int sc_job_exec(struct sc_cbq *q, struct sc_job *j, int refused) {
    mu_lock(&q->mu);
    int abandoned = q->abandoned;
    mu_unlock(&q->mu);
    if (abandoned) return refused;
    j->client = q->client;
    sc_thread t;
    if (!thread_start(&t, sc_job_thread, j)) {
        /* Out of threads: running on the caller's thread beats failing a
         * request the host could have answered. */
        sc_job_run(j);
        return j->rc;
    }
    thread_join(t);
    return j->rc;
}

int sc_call_credentials(struct sc_cbq *q, secucard_credentials_cb cb, uintptr_t ud, const char *request_json,
                        uint64_t reply) {
    struct sc_job j = {0};
    j.kind = SC_CREDS;
    j.ud = (void *)ud;
    j.cb.creds = cb;
    j.s1 = request_json;
    j.num = reply;
    return sc_job_exec(q, &j, 1);
}

int sc_call_store_get(struct sc_cbq *q, secucard_store_get_cb cb, uintptr_t ud, const char *key, uint64_t reply) {
    struct sc_job j = {0};
    j.kind = SC_GET;
    j.ud = (void *)ud;
    j.cb.get = cb;
    j.s1 = key;
    j.num = reply;
    return sc_job_exec(q, &j, SECUCARD_STORE_ERROR);
}

int sc_call_store_put(struct sc_cbq *q, secucard_store_put_cb cb, uintptr_t ud, const char *key, const void *value,
                      size_t len) {
    struct sc_job j = {0};
    j.kind = SC_PUT;
    j.ud = (void *)ud;
    j.cb.put = cb;
    j.s1 = key;
    j.data = value;
    j.len = len;
    return sc_job_exec(q, &j, SECUCARD_STORE_ERROR);
}

int sc_call_store_del(struct sc_cbq *q, secucard_store_del_cb cb, uintptr_t ud, const char *key) {
    struct sc_job j = {0};
    j.kind = SC_DEL;
    j.ud = (void *)ud;
    j.cb.del = cb;
    j.s1 = key;
    return sc_job_exec(q, &j, SECUCARD_STORE_ERROR);
}
