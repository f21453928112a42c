/*
 * ctest.c - tests of libsecucard's C ABI through the built library, against a
 * running sandbox whose startup JSON line is in $SECUCARD_SANDBOX
 * (examples/c/with-sandbox.sh provides it).
 *
 *   ./ctest            every test; prints "N passed, N failed"
 *   ./ctest --memcheck a short flow touching every kind of returned memory,
 *                      for valgrind (every string is freed)
 *   ./ctest --leak     the same flow, but one result is deliberately not freed:
 *                      valgrind must report it (proves the suppressions do not
 *                      hide leaks of library-returned memory)
 *   ./ctest --use-after-free  the same flow, but one result is read after it
 *                      was freed: valgrind must report it (proves the
 *                      suppressions do not hide a host's invalid read)
 *   ./ctest --panic    run with LIBSECUCARD_TEST_PANIC=secucard_call: the
 *                      export's panic must come back as SECUCARD_ERR_INTERNAL
 *
 * Build: see Makefile (cc -Wall -Wextra -Werror ... -lsecucard -lpthread).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secucard.h"
#include "example_util.h"

/* ---------------------------------------------------------------- harness */

#include "harness.h"

/* Sandbox facts from $SECUCARD_SANDBOX. */
static char *sb_url, *sb_admin, *sb_id, *sb_secret;

/* cfg builds a sandbox config; creds is the "credentials" object (or NULL
 * for none), extra is appended inside the top-level object (or ""). */
static char *cfg(const char *creds, const char *extra) {
    size_t n = strlen(sb_url) + (creds ? strlen(creds) : 0) + strlen(extra) + 256;
    char *out = malloc(n);
    snprintf(out, n, "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false}%s%s%s%s}",
             sb_url, creds ? ",\"credentials\":" : "", creds ? creds : "", *extra ? "," : "", extra);
    return out;
}

/* cc_creds: the sandbox's client credentials (static buffer per call site). */
static char *cc_creds(void) {
    static char buf[512];
    snprintf(buf, sizeof buf, "{\"client_id\":\"%s\",\"client_secret\":\"%s\"}", sb_id, sb_secret);
    return buf;
}

static secucard_client *new_client(const char *config) {
    secucard_client *c = NULL;
    char *err = NULL;
    int st = secucard_client_new(config, &c, &err);
    CHECKF(st == SECUCARD_OK && c != NULL, "client_new: %d %s", st, err ? err : "");
    secucard_free(err);
    return c;
}

static secucard_client *cc_client(const char *extra) {
    char *c = cfg(cc_creds(), extra);
    secucard_client *cl = new_client(c);
    free(c);
    return cl;
}

/* has_status checks the error JSON's status and, if given, its field. */
static int err_is(const char *err, int status, const char *field) {
    if (!err) return 0;
    if (ex_json_long(err, "status", -1) != status) return 0;
    if (!field) return 1;
    char *f = ex_json_top_str(err, "field");
    int ok = f && strcmp(f, field) == 0;
    free(f);
    return ok;
}

/* top_eq: the top-level string member key equals want. */
static int top_eq(const char *json, const char *key, const char *want) {
    char *v = ex_json_top_str(json, key);
    int ok = v && strcmp(v, want) == 0;
    free(v);
    return ok;
}

static int has_hex_run(const char *s, size_t n, size_t run) {
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
            if (++cur >= run) return 1;
        } else {
            cur = 0;
        }
    }
    return 0;
}

static int mem_contains(const void *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m == 0 || m > n) return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp((const char *)hay + i, needle, m) == 0) return 1;
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waiting for callbacks: a counter under a mutex, waited on with a generous
 * upper bound (never an assertion about how long anything takes). */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
};
#define WAITER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static void waiter_bump(struct waiter *w) {
    pthread_mutex_lock(&w->mu);
    w->count++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int waiter_wait(struct waiter *w, int want, int max_seconds) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += max_seconds;
    pthread_mutex_lock(&w->mu);
    while (w->count < want)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) != 0) break;
    int n = w->count;
    pthread_mutex_unlock(&w->mu);
    return n >= want;
}

static int waiter_count(struct waiter *w) {
    pthread_mutex_lock(&w->mu);
    int n = w->count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

static void admin(const char *method, const char *path, const char *body) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", sb_admin, path);
    int st = ex_http(method, url, body);
    CHECKF(st >= 200 && st < 300, "admin %s %s -> %d", method, path, st);
}

/* ------------------------------------------------------------------ tests */

static void test_versions(void) {
    CHECK(secucard_version() != NULL);
    CHECKF(strcmp(secucard_version(), SECUCARD_VERSION) == 0, "library %s, header %s", secucard_version(), SECUCARD_VERSION);
    CHECK(secucard_version_number() == SECUCARD_VERSION_NUMBER);
    CHECK(secucard_abi_version() == SECUCARD_ABI_VERSION);
    for (int s = SECUCARD_OK; s <= SECUCARD_ERR_INTERNAL; s++) {
        const char *name = secucard_strerror(s);
        CHECKF(name && *name && strcmp(name, "unknown status") != 0, "status %d", s);
    }
    CHECK(strcmp(secucard_strerror(SECUCARD_ERR_INVALID_HANDLE), "invalid handle") == 0);
    CHECK(strcmp(secucard_strerror(99), "unknown status") == 0);
    CHECK(strcmp(secucard_strerror(-1), "unknown status") == 0);
    secucard_free(NULL); /* a no-op; reaching the next line is the check */
    CHECK(1);
}

static void test_client_new_bad_input(void) {
    secucard_client *c = (secucard_client *)&c; /* garbage to be overwritten */
    char *err = NULL;
    CHECK(secucard_client_new(NULL, &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "config_json"), "%s", err);
    CHECK(c == NULL);
    secucard_free(err);

    CHECK(secucard_client_new("{}", NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "out"), "%s", err);
    secucard_free(err);

    CHECK(secucard_client_new("{\"environment\":", &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, NULL) && top_eq(err, "type", "invalid_argument"), "%s", err);
    secucard_free(err);

    CHECK(secucard_client_new("[1,2]", &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);

    CHECK(secucard_client_new("{\"enviroment\":\"sandbox\"}", &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "enviroment"), "unknown key must be named: %s", err);
    secucard_free(err);

    CHECK(secucard_client_new("{\"timeouts\":{\"connect_ms\":\"soon\"}}", &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err && strstr(err, "connect_ms"), "wrong type must name the key: %s", err);
    secucard_free(err);

    CHECK(secucard_client_new("{\"environment\":\"sandbox\"}", &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "sandbox_url"), "%s", err);
    secucard_free(err);

    /* err_json is optional */
    CHECK(secucard_client_new("not json", &c, NULL) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(c == NULL);
}

static void noop_event(void *ud, const char *ev) { (void)ud; (void)ev; }
static void noop_done(void *ud, uint64_t id, int st, const char *r, const char *e) {
    (void)ud; (void)id; (void)st; (void)r; (void)e;
}
static int noop_creds(void *ud, const char *req, secucard_reply *r) { (void)ud; (void)req; (void)r; return 1; }
static int noop_get(void *ud, const char *k, secucard_reply *r) { (void)ud; (void)k; (void)r; return SECUCARD_STORE_NOT_FOUND; }
static int noop_put(void *ud, const char *k, const void *v, size_t n) { (void)ud; (void)k; (void)v; (void)n; return 0; }
static int noop_del(void *ud, const char *k) { (void)ud; (void)k; return 0; }
static void noop_log(void *ud, int level, const char *msg) { (void)ud; (void)level; (void)msg; }

/* expect_handle_errors runs every client function on h and expects
 * SECUCARD_ERR_INVALID_HANDLE. */
static void expect_handle_errors(secucard_client *h, const char *what) {
    char *err = NULL, *out = (char *)"x";
    uint64_t id = 7;
    CHECKF(secucard_client_open(h, &err) == SECUCARD_ERR_INVALID_HANDLE, "%s open", what);
    CHECKF(err_is(err, 2, "client"), "%s: %s", what, err);
    secucard_free(err);
    CHECKF(secucard_client_close(h, NULL) == SECUCARD_ERR_INVALID_HANDLE, "%s close", what);
    CHECKF(secucard_client_clear_tokens(h, NULL) == SECUCARD_ERR_INVALID_HANDLE, "%s clear_tokens", what);
    CHECKF(secucard_cancel_auth(h) == SECUCARD_ERR_INVALID_HANDLE, "%s cancel_auth", what);
    CHECKF(secucard_call(h, "{}", &out, &err) == SECUCARD_ERR_INVALID_HANDLE && out == NULL, "%s call", what);
    CHECKF(err_is(err, 2, NULL), "%s: %s", what, err);
    secucard_free(err);
    CHECKF(secucard_call_async(h, "{}", noop_done, NULL, &id, NULL) == SECUCARD_ERR_INVALID_HANDLE && id == 0, "%s call_async", what);
    CHECKF(secucard_cancel(h, 1) == SECUCARD_ERR_INVALID_HANDLE, "%s cancel", what);
    CHECKF(secucard_set_event_callback(h, noop_event, NULL) == SECUCARD_ERR_INVALID_HANDLE, "%s set_event_callback", what);
    out = (char *)"x";
    CHECKF(secucard_next_event(h, 0, &out) == SECUCARD_ERR_INVALID_HANDLE && out == NULL, "%s next_event", what);
    CHECKF(secucard_handle_event(h, "{}", NULL) == SECUCARD_ERR_INVALID_HANDLE, "%s handle_event", what);
    CHECKF(secucard_set_credentials_callback(h, noop_creds, NULL) == SECUCARD_ERR_INVALID_HANDLE, "%s set_credentials_callback", what);
    CHECKF(secucard_set_storage_callbacks(h, noop_get, noop_put, noop_del, NULL) == SECUCARD_ERR_INVALID_HANDLE, "%s set_storage_callbacks", what);
    CHECKF(secucard_set_log_callback(h, noop_log, NULL, SECUCARD_LOG_INFO) == SECUCARD_ERR_INVALID_HANDLE, "%s set_log_callback", what);
    out = (char *)"x";
    CHECKF(secucard_client_stats(h, &out) == SECUCARD_ERR_INVALID_HANDLE && out == NULL, "%s stats", what);
    secucard_client_free(h); /* a no-op for anything that is not a live handle */
}

static void test_invalid_handles(void) {
    expect_handle_errors(NULL, "NULL");
    int local;
    expect_handle_errors((secucard_client *)&local, "foreign pointer");
    expect_handle_errors((secucard_client *)(uintptr_t)1, "small integer");

    secucard_client *c = cc_client("");
    secucard_client *stale = c;
    secucard_client_free(c);
    expect_handle_errors(stale, "freed");
    secucard_client_free(stale); /* double free: no-op */

    /* handles are never reused */
    secucard_client *a = cc_client(""), *b = cc_client("");
    CHECK(a != stale && b != stale && a != b);
    secucard_client_free(a);
    secucard_client_free(b);
}

static void test_calls(void) {
    secucard_client *c = cc_client("");
    char *res = NULL, *err = NULL;

    int st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_OK && err == NULL, "%d %s", st, err ? err : "");
    CHECKF(res && ex_json_long(res, "count", -1) == 3, "%s", res);
    char *data = ex_json_raw(res, "data");
    CHECKF(data && data[0] == '[', "list data must be an array: %s", res);
    free(data);
    secucard_free(res);
    res = NULL;

    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}", &res, &err);
    CHECKF(st == SECUCARD_OK && top_eq(res, "id", "smi_1"), "%d %s", st, res ? res : err);
    secucard_free(res);
    secucard_free(err);
    res = err = NULL;

    /* unknown resource: invalid argument naming the field, with a suggestion */
    st = secucard_call(c, "{\"resource\":\"smart.transaction\",\"op\":\"list\"}", &res, &err);
    CHECK(st == SECUCARD_ERR_INVALID_ARGUMENT && res == NULL);
    CHECKF(err_is(err, 1, "resource") && strstr(err, "smart.transactions"), "%s", err);
    secucard_free(err);

    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"fetch\"}", &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && err_is(err, 1, "op"), "%s", err);
    secucard_free(err);

    st = secucard_call(c, "{\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && err_is(err, 1, "resource"), "missing field: %s", err);
    secucard_free(err);

    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\",\"query\":{\"count\":\"ten\"}}", &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && err && strstr(err, "count"), "wrong type: %s", err);
    secucard_free(err);

    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\",\"limit\":5}", &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && err_is(err, 1, "limit"), "unknown key: %s", err);
    secucard_free(err);

    st = secucard_call(c, "{\"resource\":", &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && err_is(err, 1, NULL), "invalid JSON: %s", err);
    secucard_free(err);

    CHECK(secucard_call(c, NULL, &res, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "request_json"), "%s", err);
    secucard_free(err);
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "result_json"), "%s", err);
    secucard_free(err);
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", NULL, NULL) == SECUCARD_ERR_INVALID_ARGUMENT);

    /* the API's error envelope */
    st = secucard_call(c, "{\"resource\":\"smart.transactions\",\"op\":\"get\",\"id\":\"STX_DOESNOTEXIST000000000000000001\"}", &res, &err);
    CHECKF(st == SECUCARD_ERR_API && res == NULL, "%d", st);
    CHECKF(err_is(err, 4, NULL) && ex_json_long(err, "http_status", 0) == 404 && top_eq(err, "type", "api"), "%s", err);
    char *name = ex_json_top_str(err, "error");
    CHECKF(name && *name, "the envelope's error name: %s", err);
    free(name);
    secucard_free(err);

    /* the error JSON never carries the client secret */
    secucard_client_free(c);
}

static void test_error_classes(void) {
    char *res = NULL, *err = NULL;
    char creds[512];

    /* auth: wrong secret */
    snprintf(creds, sizeof creds, "{\"client_id\":\"%s\",\"client_secret\":\"0000wrong-secret0000\"}", sb_id);
    char *c1 = cfg(creds, "\"retry\":{\"max_attempts\":1}");
    secucard_client *c = new_client(c1);
    free(c1);
    int st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_ERR_AUTH && err_is(err, 3, NULL) && top_eq(err, "type", "auth"), "%d %s", st, err);
    CHECKF(err && !strstr(err, "0000wrong-secret0000"), "secret in error JSON: %s", err);
    secucard_free(err);
    secucard_client_free(c);

    /* network: nothing listens on the port */
    char cfgbuf[1024];
    snprintf(cfgbuf, sizeof cfgbuf,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"http://127.0.0.1:1\",\"credentials\":%s,"
             "\"retry\":{\"max_attempts\":1},\"stomp\":{\"enabled\":false}}", cc_creds());
    c = new_client(cfgbuf);
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_ERR_NETWORK && err_is(err, 6, NULL) && strstr(err, "\"retryable\":true"), "%d %s", st, err);
    secucard_free(err);
    secucard_client_free(c);

    /* timeout: a delay fault longer than the call's deadline */
    c = cc_client("\"retry\":{\"max_attempts\":1}");
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err); /* authenticate first */
    CHECK(st == SECUCARD_OK);
    secucard_free(res);
    admin("POST", "/faults", "{\"path\":\"/smart/idents\",\"delay_ms\":2000,\"count\":1}");
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\",\"timeout_ms\":200}", &res, &err);
    CHECKF(st == SECUCARD_ERR_TIMEOUT && err_is(err, 7, NULL), "%d %s", st, err);
    secucard_free(err);
    admin("DELETE", "/faults", NULL);
    secucard_client_free(c);
}

/* A payment start whose answer is lost (the sandbox runs it, then closes
 * the connection without the answer): the library looks the transaction up
 * once and returns its final state - never a second start. Paid in cash:
 * the demo terminal declines at random. */
static void test_lost_start_answer(void) {
    secucard_client *c = cc_client("");
    char *res = NULL, *err = NULL;
    int st = secucard_call(c, "{\"resource\":\"smart.transactions\",\"op\":\"create\","
                              "\"data\":{\"basket_info\":{\"sum\":1250,\"currency\":\"EUR\"}}}", &res, &err);
    CHECKF(st == SECUCARD_OK, "%d %s", st, err ? err : "");
    char *id = res ? ex_json_top_str(res, "id") : NULL;
    secucard_free(res);
    secucard_free(err);
    if (!id) {
        secucard_client_free(c);
        return;
    }
    admin("DELETE", "/requests", NULL);
    char body[512];
    snprintf(body, sizeof body, "{\"method\":\"POST\",\"path\":\"/smart/transactions/%s/start\",\"drop\":\"after_execute\"}", id);
    admin("POST", "/faults", body);

    char req[512];
    snprintf(req, sizeof req, "{\"resource\":\"smart.transactions\",\"op\":\"execute\",\"id\":\"%s\","
                              "\"action\":\"start\",\"arg\":\"cash\"}", id);
    res = err = NULL;
    st = secucard_call(c, req, &res, &err);
    CHECKF(st == SECUCARD_OK && top_eq(res, "id", id) && top_eq(res, "status", "ok"), "%d %s", st, err ? err : res);
    CHECKF(res && ex_json_member(res, "receipt"), "the final transaction carries its receipt: %s", res);
    secucard_free(res);
    secucard_free(err);

    /* The sandbox's record: the start ran once, its answer was lost. */
    static char log[1 << 16];
    char url[512];
    snprintf(url, sizeof url, "%s/requests", sb_admin);
    CHECK(ex_http_body("GET", url, NULL, log, sizeof log) == 200);
    int starts = 0, lost = 0;
    const char *cur = log;
    char *rec;
    while ((rec = ex_array_next(&cur))) {
        char *path = ex_json_top_str(rec, "path"), *fault = ex_json_top_str(rec, "fault");
        if (path && strstr(path, "/start")) {
            starts++;
            lost += fault && strncmp(fault, "drop after_execute", 18) == 0;
        }
        free(path);
        free(fault);
        free(rec);
    }
    CHECKF(starts == 1 && lost == 1, "starts %d, answers lost %d: %s", starts, lost, log);
    free(id);
    secucard_client_free(c);
}

/* ---- async */

struct async_rec {
    struct waiter w;
    _Atomic int status;
    _Atomic uint64_t id;
    _Atomic int had_result, had_err;
};

static void on_done(void *ud, uint64_t id, int status, const char *result, const char *err) {
    struct async_rec *r = ud;
    r->status = status;
    r->id = id;
    r->had_result = result != NULL && (status != 0 || ex_json_long(result, "count", -1) == 3);
    r->had_err = err != NULL && ex_json_long(err, "status", -1) == status;
    waiter_bump(&r->w);
}

static void test_async(void) {
    secucard_client *c = cc_client("");
    char *err = NULL;
    struct async_rec r = {WAITER_INIT, -1, 0, 0, 0};
    uint64_t id1 = 0, id2 = 0;

    int st = secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_done, &r, &id1, &err);
    CHECKF(st == SECUCARD_OK && id1 != 0 && err == NULL, "%d", st);
    CHECK(waiter_wait(&r.w, 1, 20));
    CHECK(r.status == SECUCARD_OK && r.had_result && !r.had_err && r.id == id1);

    st = secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_done, &r, &id2, NULL);
    CHECK(st == SECUCARD_OK && id2 != 0 && id2 != id1);
    CHECK(waiter_wait(&r.w, 2, 20));

    /* rejected calls never call back */
    CHECK(secucard_call_async(c, "{\"resource\":", on_done, &r, NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    CHECK(secucard_call_async(c, NULL, on_done, &r, NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "request_json"), "%s", err);
    secucard_free(err);
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", NULL, NULL, NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "callback"), "%s", err);
    secucard_free(err);
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"nope\"}", on_done, &r, NULL, NULL) == SECUCARD_ERR_INVALID_ARGUMENT);

    /* unknown ids are not an error */
    CHECK(secucard_cancel(c, 987654) == SECUCARD_OK);
    CHECK(secucard_cancel(c, id1) == SECUCARD_OK);

    /* cancel a call in flight (held up by a delay fault) */
    admin("POST", "/faults", "{\"path\":\"/smart/idents\",\"delay_ms\":3000,\"count\":1}");
    uint64_t id3 = 0;
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_done, &r, &id3, NULL) == SECUCARD_OK);
    CHECK(secucard_cancel(c, id3) == SECUCARD_OK);
    CHECK(waiter_wait(&r.w, 3, 20));
    CHECKF(r.status == SECUCARD_ERR_CANCELED && r.had_err && r.id == id3, "status %d", (int)r.status);
    admin("DELETE", "/faults", NULL);

    sleep_ms(50);
    CHECKF(waiter_count(&r.w) == 3, "callbacks: %d, expected exactly 3", waiter_count(&r.w));
    secucard_client_free(c);
}

static void test_close_with_call_in_flight(void) {
    secucard_client *c = cc_client("");
    struct async_rec r = {WAITER_INIT, -1, 0, 0, 0};
    admin("POST", "/faults", "{\"path\":\"/smart/idents\",\"delay_ms\":3000,\"count\":1}");
    uint64_t id = 0;
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_done, &r, &id, NULL) == SECUCARD_OK);
    CHECK(secucard_client_close(c, NULL) == SECUCARD_OK);
    /* close returns only after the completion callback has returned */
    CHECKF(waiter_count(&r.w) == 1, "callbacks when close returned: %d", waiter_count(&r.w));
    CHECKF(r.status == SECUCARD_ERR_CANCELED && r.had_err, "status %d", (int)r.status);
    sleep_ms(50);
    CHECKF(waiter_count(&r.w) == 1, "exactly once: %d", waiter_count(&r.w));

    /* after close: CLOSED everywhere, stats still work, the handle stays valid */
    char *err = NULL, *out = NULL;
    CHECK(secucard_client_close(c, NULL) == SECUCARD_OK);
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &out, &err) == SECUCARD_ERR_CLOSED);
    CHECKF(err_is(err, 9, NULL) && top_eq(err, "type", "closed"), "%s", err);
    secucard_free(err);
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_done, &r, NULL, NULL) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_set_event_callback(c, noop_event, NULL) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_next_event(c, 0, &out) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_handle_event(c, "{\"target\":\"a.b\",\"type\":\"x\"}", NULL) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_client_clear_tokens(c, NULL) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_client_open(c, NULL) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_set_log_callback(c, noop_log, NULL, SECUCARD_LOG_INFO) == SECUCARD_ERR_CLOSED);
    CHECK(secucard_cancel_auth(c) == SECUCARD_OK);
    CHECK(secucard_client_stats(c, &out) == SECUCARD_OK && out && strstr(out, "\"calls\""));
    secucard_free(out);
    sleep_ms(20);
    CHECKF(waiter_count(&r.w) == 1, "a refused call must not call back: %d", waiter_count(&r.w));
    secucard_client_free(c);
    admin("DELETE", "/faults", NULL);
}

/* ---- events */

static const char *webhook =
    "{\"object\":\"event.pushes\",\"id\":\"EPS_TEST1\",\"created\":\"2026-11-23T10:00:00+01:00\","
    "\"target\":\"general.notifications\",\"type\":\"display\",\"data\":{\"text\":\"Karte einstecken\"}}";

struct ev_rec {
    struct waiter w;
    secucard_client *client;
    char last[1024];
    int switch_to_b;  /* A: re-register B from inside the callback */
    int free_inside;  /* free the client from inside the callback */
    int close_inside; /* close, then call, from inside the callback */
    _Atomic int rc_inside;
    _Atomic int call_after_close;
};
static struct ev_rec ev_b = {WAITER_INIT, NULL, "", 0, 0, 0, -1, -1};

static void on_event_b(void *ud, const char *ev) {
    struct ev_rec *r = ud;
    snprintf(r->last, sizeof r->last, "%s", ev);
    waiter_bump(&r->w);
}

static void on_event_a(void *ud, const char *ev) {
    struct ev_rec *r = ud;
    snprintf(r->last, sizeof r->last, "%s", ev);
    if (r->switch_to_b) r->rc_inside = secucard_set_event_callback(r->client, on_event_b, &ev_b);
    if (r->free_inside) secucard_client_free(r->client);
    if (r->close_inside) {
        r->rc_inside = secucard_client_close(r->client, NULL);
        char *res = NULL;
        r->call_after_close = secucard_call(r->client, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL);
        secucard_free(res);
    }
    waiter_bump(&r->w);
}

static void test_events_pull(void) {
    /* The same webhook (one id) is handed in several times: with dedupe on
     * (the default) only the first copy would be delivered. */
    secucard_client *c = cc_client("\"events\":{\"dedupe\":false}");
    char *ev = (char *)"x", *err = NULL;
    CHECK(secucard_next_event(c, 0, &ev) == SECUCARD_ERR_NO_EVENT && ev == NULL);
    CHECK(secucard_next_event(c, 30, &ev) == SECUCARD_ERR_NO_EVENT);
    CHECK(secucard_next_event(c, -2, &ev) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_next_event(c, 0, NULL) == SECUCARD_ERR_INVALID_ARGUMENT);

    CHECK(secucard_handle_event(c, webhook, &err) == SECUCARD_OK && err == NULL);
    CHECK(secucard_next_event(c, 5000, &ev) == SECUCARD_OK);
    CHECKF(ev && top_eq(ev, "kind", "push") && top_eq(ev, "target", "general.notifications") &&
           top_eq(ev, "type", "display") && top_eq(ev, "id", "EPS_TEST1") && strstr(ev, "Karte einstecken"), "%s", ev);
    secucard_free(ev);

    /* "event.pushs" (the STOMP spelling) is accepted too */
    CHECK(secucard_handle_event(c, "{\"object\":\"event.pushs\",\"target\":\"smart.transactions\",\"type\":\"changed\",\"data\":[]}", NULL) == SECUCARD_OK);
    CHECK(secucard_next_event(c, -1, &ev) == SECUCARD_OK && top_eq(ev, "target", "smart.transactions"));
    secucard_free(ev);

    CHECK(secucard_handle_event(c, NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "webhook_body_json"), "%s", err);
    secucard_free(err);
    CHECK(secucard_handle_event(c, "not json", &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    CHECK(secucard_handle_event(c, "{\"object\":\"event.pushes\",\"type\":\"display\"}", &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "target"), "%s", err);
    secucard_free(err);
    CHECK(secucard_handle_event(c, "{\"object\":\"general.stores\",\"target\":\"a.b\",\"type\":\"x\"}", &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);

    /* with a callback, next_event is refused; with NULL again it works */
    struct ev_rec a = {WAITER_INIT, c, "", 0, 0, 0, -1, -1};
    CHECK(secucard_set_event_callback(c, on_event_a, &a) == SECUCARD_OK);
    CHECK(secucard_next_event(c, 0, &ev) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&a.w, 1, 10));
    CHECKF(strstr(a.last, "Karte einstecken") != NULL, "%s", a.last);
    CHECK(secucard_set_event_callback(c, NULL, NULL) == SECUCARD_OK);
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(secucard_next_event(c, 5000, &ev) == SECUCARD_OK && top_eq(ev, "kind", "push"));
    secucard_free(ev);
    CHECK(waiter_count(&a.w) == 1);
    secucard_client_free(c);
}

static void test_event_callback_reentry(void) {
    secucard_client *c = cc_client("\"events\":{\"dedupe\":false}"); /* one webhook, sent again */
    struct ev_rec a = {WAITER_INIT, c, "", 1, 0, 0, -1, -1};
    CHECK(secucard_set_event_callback(c, on_event_a, &a) == SECUCARD_OK);
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&a.w, 1, 10));
    CHECKF(a.rc_inside == SECUCARD_OK, "set_event_callback inside the callback: %d", (int)a.rc_inside);
    a.switch_to_b = 0;
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&ev_b.w, 1, 10));
    CHECK(waiter_count(&a.w) == 1);

    /* user_data may be any value, also a small integer */
    CHECK(secucard_set_event_callback(c, noop_event, (void *)(uintptr_t)1) == SECUCARD_OK);
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    secucard_client_free(c);

    /* close from inside the callback: the client closes at once and the
     * callback's next call sees CLOSED */
    c = cc_client("");
    struct ev_rec b = {WAITER_INIT, c, "", 0, 0, 1, -1, -1};
    CHECK(secucard_set_event_callback(c, on_event_a, &b) == SECUCARD_OK);
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&b.w, 1, 10));
    CHECKF(b.rc_inside == SECUCARD_OK && b.call_after_close == SECUCARD_ERR_CLOSED, "close %d, call %d", (int)b.rc_inside, (int)b.call_after_close);
    CHECK(secucard_client_close(c, NULL) == SECUCARD_OK); /* waits for the background part */
    secucard_client_free(c);

    /* free from inside the callback: the handle is gone afterwards */
    c = cc_client("");
    struct ev_rec d = {WAITER_INIT, c, "", 0, 1, 0, -1, -1};
    CHECK(secucard_set_event_callback(c, on_event_a, &d) == SECUCARD_OK);
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&d.w, 1, 10));
    char *out = NULL;
    CHECK(secucard_client_stats(c, &out) == SECUCARD_ERR_INVALID_HANDLE);
    secucard_client_free(c);
}

/* One long-lived callback thread per client (issue 10, item 4c): every event
 * and async completion of a client runs on the same thread, in order, and it
 * is not the host's thread. Threads are told apart by a serial number handed
 * out the first time a thread asks (kernel thread ids could be reused). */
static _Atomic int thread_serials;
static _Thread_local int my_serial;

static int thread_serial(void) {
    if (!my_serial) my_serial = ++thread_serials;
    return my_serial;
}

#define ORDER_EVENTS 40

struct order_rec {
    struct waiter w;
    int serials[ORDER_EVENTS + 1];
    int ids[ORDER_EVENTS];
    int n;
    int done_serial;
    secucard_client *client;
    _Atomic int inner_call; /* a blocking call made from inside a callback */
};

static void on_order_event(void *ud, const char *ev) {
    struct order_rec *r = ud;
    if (!top_eq(ev, "kind", "push") || r->n >= ORDER_EVENTS) return;
    char *id = ex_json_top_str(ev, "id");
    r->ids[r->n] = id ? atoi(id + strlen("EPS_ORDER")) : -1;
    r->serials[r->n] = thread_serial();
    if (r->n == ORDER_EVENTS / 2) { /* re-entry: a blocking call from the callback thread */
        char *res = NULL;
        r->inner_call = secucard_call(r->client, "{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}", &res, NULL);
        secucard_free(res);
    }
    r->n++;
    free(id);
    waiter_bump(&r->w);
}

static void on_order_done(void *ud, uint64_t id, int status, const char *result, const char *err) {
    (void)id, (void)status, (void)result, (void)err;
    struct order_rec *r = ud;
    r->done_serial = thread_serial();
    waiter_bump(&r->w);
}

static void test_one_callback_thread(void) {
    secucard_client *c = cc_client("");
    static struct order_rec r = {WAITER_INIT, {0}, {0}, 0, 0, NULL, -1};
    r.client = c;
    CHECK(secucard_set_event_callback(c, on_order_event, &r) == SECUCARD_OK);
    for (int i = 0; i < ORDER_EVENTS; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"object\":\"event.pushes\",\"id\":\"EPS_ORDER%d\",\"target\":\"general.notifications\","
                 "\"type\":\"display\",\"data\":{\"text\":\"%d\"}}", i, i);
        CHECK(secucard_handle_event(c, body, NULL) == SECUCARD_OK);
    }
    CHECK(waiter_wait(&r.w, ORDER_EVENTS, 20));
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}", on_order_done, &r, NULL,
                              NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&r.w, ORDER_EVENTS + 1, 20));
    int in_order = 1, one_thread = 1;
    for (int i = 0; i < r.n; i++) {
        in_order &= r.ids[i] == i;
        one_thread &= r.serials[i] == r.serials[0];
    }
    CHECKF(r.n == ORDER_EVENTS && in_order, "%d events, in order: %d", r.n, in_order);
    CHECKF(one_thread && r.done_serial == r.serials[0], "events and completion on one thread: %d, completion %s",
           one_thread, r.done_serial == r.serials[0] ? "same" : "other");
    CHECKF(r.serials[0] != thread_serial(), "callbacks must not run on the host's thread");
    CHECKF(r.inner_call == SECUCARD_OK, "secucard_call from inside a callback: %d", (int)r.inner_call);
    secucard_client_free(c);
}

/* ---- reply slots, credentials */

static secucard_reply *saved_reply;

struct cred_rec {
    struct waiter w;
    int decline;
    const char *reply;
    char request[512];
    _Atomic int null_data_rc;
};

static int on_creds(void *ud, const char *request_json, secucard_reply *reply) {
    struct cred_rec *r = ud;
    snprintf(r->request, sizeof r->request, "%s", request_json);
    saved_reply = reply;
    r->null_data_rc = secucard_reply_set(reply, NULL, 3);
    waiter_bump(&r->w);
    if (r->decline) return 1;
    secucard_reply_set(reply, "garbage", 7); /* replaced by the next set */
    return secucard_reply_set(reply, r->reply, strlen(r->reply)) == SECUCARD_OK ? 0 : 1;
}

static void test_reply_outside_callback(void) {
    CHECK(secucard_reply_set(NULL, "x", 1) == SECUCARD_ERR_INVALID_ARGUMENT);
    int local;
    CHECK(secucard_reply_set((secucard_reply *)&local, "x", 1) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_reply_set((secucard_reply *)(uintptr_t)1, "x", 1) == SECUCARD_ERR_INVALID_ARGUMENT);
    if (saved_reply) /* a slot whose callback has returned */
        CHECK(secucard_reply_set(saved_reply, "x", 1) == SECUCARD_ERR_INVALID_ARGUMENT);
}

static void test_credentials_callback(void) {
    char creds[512], *err = NULL;
    snprintf(creds, sizeof creds, "{\"grant\":\"appuser\",\"client_id\":\"%s\",\"client_secret\":\"%s\",\"username\":\"cashier\"}", sb_id, sb_secret);
    char *conf = cfg(creds, "");

    /* the prompt asks for the password; the host answers */
    secucard_client *c = new_client(conf);
    struct cred_rec r = {WAITER_INIT, 0, "{\"password\":\"cashier-password\"}", "", -1};
    CHECK(secucard_set_credentials_callback(c, on_creds, &r) == SECUCARD_OK);
    int st = secucard_client_open(c, &err);
    CHECKF(st == SECUCARD_OK, "open %d %s", st, err ? err : "");
    secucard_free(err);
    err = NULL;
    CHECK(waiter_count(&r.w) == 1);
    CHECKF(top_eq(r.request, "grant", "appuser") && strstr(r.request, "\"password\""), "%s", r.request);
    CHECK(r.null_data_rc == SECUCARD_ERR_INVALID_ARGUMENT);
    char *res = NULL;
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    secucard_client_free(c);
    test_reply_outside_callback();

    /* the host declines: auth error, reason canceled */
    c = new_client(conf);
    struct cred_rec d = {WAITER_INIT, 1, "", "", -1};
    CHECK(secucard_set_credentials_callback(c, on_creds, &d) == SECUCARD_OK);
    st = secucard_client_open(c, &err);
    CHECKF(st == SECUCARD_ERR_AUTH && err_is(err, 3, NULL) && top_eq(err, "reason", "canceled"), "%d %s", st, err);
    secucard_free(err);
    err = NULL;
    secucard_client_free(c);

    /* unregistered (NULL): no one to ask */
    c = new_client(conf);
    int asked = waiter_count(&d.w);
    CHECK(secucard_set_credentials_callback(c, on_creds, &d) == SECUCARD_OK);
    CHECK(secucard_set_credentials_callback(c, NULL, NULL) == SECUCARD_OK);
    st = secucard_client_open(c, &err);
    CHECKF(st == SECUCARD_ERR_AUTH && err_is(err, 3, NULL) && top_eq(err, "reason", "no_credentials"), "%d %s", st, err);
    CHECK(waiter_count(&d.w) == asked); /* the unregistered callback is not asked */
    secucard_free(err);
    secucard_client_free(c);
    free(conf);

    /* no credentials in the config at all: the callback supplies them */
    conf = cfg(NULL, "");
    c = new_client(conf);
    struct cred_rec full = {WAITER_INIT, 0, cc_creds(), "", -1};
    CHECK(secucard_set_credentials_callback(c, on_creds, &full) == SECUCARD_OK);
    res = NULL;
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_OK && waiter_count(&full.w) == 1 && strstr(full.request, "client_id"), "%d %s", st, err ? err : "");
    secucard_free(res);
    secucard_free(err);
    secucard_client_free(c);
    free(conf);
}

/* ---- storage */

#define MAX_KEYS 8
struct host_store {
    pthread_mutex_t mu;
    char *keys[MAX_KEYS];
    unsigned char *vals[MAX_KEYS];
    size_t lens[MAX_KEYS];
    int puts, gets, dels;
    int fail_del;
};

static int find_key(struct host_store *s, const char *key) {
    for (int i = 0; i < MAX_KEYS; i++)
        if (s->keys[i] && strcmp(s->keys[i], key) == 0) return i;
    return -1;
}

static int st_get(void *ud, const char *key, secucard_reply *reply) {
    struct host_store *s = ud;
    pthread_mutex_lock(&s->mu);
    s->gets++;
    int i = find_key(s, key), rc = SECUCARD_STORE_NOT_FOUND;
    if (i >= 0) rc = secucard_reply_set(reply, s->vals[i], s->lens[i]) == SECUCARD_OK ? SECUCARD_STORE_OK : SECUCARD_STORE_ERROR;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int st_put(void *ud, const char *key, const void *value, size_t len) {
    struct host_store *s = ud;
    pthread_mutex_lock(&s->mu);
    s->puts++;
    int i = find_key(s, key);
    for (int j = 0; i < 0 && j < MAX_KEYS; j++)
        if (!s->keys[j]) { i = j; s->keys[j] = strdup(key); }
    int rc = SECUCARD_STORE_ERROR;
    if (i >= 0) {
        free(s->vals[i]);
        s->vals[i] = malloc(len ? len : 1);
        memcpy(s->vals[i], value, len);
        s->lens[i] = len;
        rc = SECUCARD_STORE_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int st_del(void *ud, const char *key) {
    struct host_store *s = ud;
    pthread_mutex_lock(&s->mu);
    s->dels++;
    int rc = SECUCARD_STORE_OK;
    if (s->fail_del) {
        rc = SECUCARD_STORE_ERROR;
    } else {
        int i = find_key(s, key);
        if (i >= 0) {
            free(s->keys[i]);
            free(s->vals[i]);
            s->keys[i] = NULL;
            s->vals[i] = NULL;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static long long stat_of(secucard_client *c, const char *key) {
    char *stats = NULL;
    long long v = -1;
    if (secucard_client_stats(c, &stats) == SECUCARD_OK) v = ex_json_long(stats, key, -1);
    secucard_free(stats);
    return v;
}

static void test_storage_callbacks(void) {
    struct host_store s = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, {0}, 0, 0, 0, 0};
    char *conf = cfg(cc_creds(), "\"store\":{\"type\":\"callback\"}");
    char *res = NULL, *err = NULL;

    secucard_client *c = new_client(conf);
    CHECK(secucard_set_storage_callbacks(c, NULL, st_put, st_del, &s) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_set_storage_callbacks(c, st_get, NULL, st_del, &s) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_set_storage_callbacks(c, st_get, st_put, NULL, &s) == SECUCARD_ERR_INVALID_ARGUMENT);
    /* store.type callback without callbacks cannot authenticate */
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    secucard_client_free(c);

    c = new_client(conf);
    CHECK(secucard_set_storage_callbacks(c, st_get, st_put, st_del, &s) == SECUCARD_OK);
    int st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_OK, "%d %s", st, err ? err : "");
    secucard_free(res);
    secucard_free(err);
    err = NULL;
    /* too late once authenticated */
    CHECK(secucard_set_storage_callbacks(c, st_get, st_put, st_del, &s) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_client_free(c);

    pthread_mutex_lock(&s.mu);
    CHECKF(s.puts >= 1 && s.gets >= 1, "puts %d gets %d", s.puts, s.gets);
    for (int i = 0; i < MAX_KEYS; i++) {
        if (!s.keys[i]) continue;
        /* the host holds ciphertext: no token, no secret, no JSON keys */
        CHECK(!has_hex_run((const char *)s.vals[i], s.lens[i], 40));
        CHECK(!mem_contains(s.vals[i], s.lens[i], sb_secret));
        CHECK(!mem_contains(s.vals[i], s.lens[i], "access_token"));
        CHECK(!mem_contains(s.vals[i], s.lens[i], "refresh"));
        CHECK(s.lens[i] > 28); /* version byte + nonce + tag at least */
    }
    pthread_mutex_unlock(&s.mu);

    /* a second client finds the stored token and requests none */
    c = new_client(conf);
    CHECK(secucard_set_storage_callbacks(c, st_get, st_put, st_del, &s) == SECUCARD_OK);
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    CHECKF(stat_of(c, "token_requests") == 0, "token_requests %lld", stat_of(c, "token_requests"));

    /* clear_tokens deletes through del; a failing del is a storage error */
    CHECK(secucard_client_clear_tokens(c, &err) == SECUCARD_OK);
    CHECK(s.dels >= 1);
    s.fail_del = 1;
    CHECK(secucard_client_clear_tokens(c, &err) == SECUCARD_ERR_STORAGE);
    CHECKF(err_is(err, 10, NULL) && top_eq(err, "type", "storage"), "%s", err);
    secucard_free(err);
    secucard_client_free(c);

    /* storage callbacks need store.type "callback" */
    c = cc_client("");
    CHECK(secucard_set_storage_callbacks(c, st_get, st_put, st_del, &s) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_client_free(c);
    free(conf);
    for (int i = 0; i < MAX_KEYS; i++) {
        free(s.keys[i]);
        free(s.vals[i]);
    }
}

/* ---- logs */

struct log_rec {
    pthread_mutex_t mu;
    int lines, bad_level, leaks, over_level, min_level;
    char leak[256];
};

static void on_log(void *ud, int level, const char *msg) {
    struct log_rec *r = ud;
    pthread_mutex_lock(&r->mu);
    r->lines++;
    if (level < SECUCARD_LOG_ERROR || level > SECUCARD_LOG_TRACE) r->bad_level++;
    if (level > r->min_level) r->over_level++;
    if (strstr(msg, sb_secret) || strstr(msg, "cashier-password") || has_hex_run(msg, strlen(msg), 40)) {
        r->leaks++;
        snprintf(r->leak, sizeof r->leak, "%s", msg);
    }
    pthread_mutex_unlock(&r->mu);
}

static void test_log_callback(void) {
    struct log_rec r = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, SECUCARD_LOG_TRACE, ""};
    char creds[512];
    snprintf(creds, sizeof creds, "{\"grant\":\"appuser\",\"client_id\":\"%s\",\"client_secret\":\"%s\",\"username\":\"cashier\"}", sb_id, sb_secret);
    char *conf = cfg(creds, "");
    secucard_client *c = new_client(conf);
    free(conf);

    CHECK(secucard_set_log_callback(c, on_log, &r, 6) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_set_log_callback(c, on_log, &r, -1) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_set_log_callback(c, on_log, &r, SECUCARD_LOG_TRACE) == SECUCARD_OK);
    struct cred_rec cr = {WAITER_INIT, 0, "{\"password\":\"cashier-password\"}", "", -1};
    CHECK(secucard_set_credentials_callback(c, on_creds, &cr) == SECUCARD_OK);
    CHECK(secucard_client_open(c, NULL) == SECUCARD_OK);
    char *res = NULL, *err = NULL;
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    CHECK(secucard_call(c, "{\"resource\":\"smart.transactions\",\"op\":\"create\",\"data\":{\"idents\":[{\"type\":\"card\",\"value\":\"9276000000000016\"}]}}", &res, &err) == SECUCARD_OK);
    secucard_free(res);
    secucard_free(err);
    /* switching returns after every line for the previous callback arrived */
    CHECK(secucard_set_log_callback(c, NULL, NULL, SECUCARD_LOG_TRACE) == SECUCARD_OK);
    pthread_mutex_lock(&r.mu);
    int lines = r.lines;
    CHECKF(r.lines > 3, "lines: %d", r.lines);
    CHECK(r.bad_level == 0);
    CHECKF(r.leaks == 0, "a secret reached the log: %s", r.leak);
    pthread_mutex_unlock(&r.mu);

    /* off: nothing more arrives */
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    /* a lower level filters */
    struct log_rec w = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, SECUCARD_LOG_WARN, ""};
    CHECK(secucard_set_log_callback(c, on_log, &w, SECUCARD_LOG_WARN) == SECUCARD_OK);
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    secucard_client_free(c); /* close delivers what was logged, then stops */
    CHECK(r.lines == lines);
    CHECK(w.over_level == 0);
}

/* ---- device flow */

struct dev_rec {
    struct waiter w;
    pthread_mutex_t mu;
    secucard_client *client;
    char user_code[64];
    int saw_ok, cancel_inside;
    _Atomic int open_rc;
    char open_err[1024];
};

static void on_dev_event(void *ud, const char *ev) {
    struct dev_rec *r = ud;
    if (!top_eq(ev, "kind", "auth")) return;
    char *state = ex_json_top_str(ev, "state");
    if (state && strcmp(state, "device_code") == 0) {
        char *code = ex_json_top_str(ev, "user_code");
        pthread_mutex_lock(&r->mu);
        snprintf(r->user_code, sizeof r->user_code, "%s", code ? code : "");
        pthread_mutex_unlock(&r->mu);
        free(code);
        if (r->cancel_inside) secucard_cancel_auth(r->client);
        waiter_bump(&r->w);
    } else if (state && strcmp(state, "ok") == 0) {
        r->saw_ok = 1;
        waiter_bump(&r->w);
    }
    free(state);
}

static void *open_thread(void *p) {
    struct dev_rec *r = p;
    char *err = NULL;
    r->open_rc = secucard_client_open(r->client, &err);
    snprintf(r->open_err, sizeof r->open_err, "%s", err ? err : "");
    secucard_free(err);
    return NULL;
}

static secucard_client *device_client(const char *uuid) {
    char creds[512];
    snprintf(creds, sizeof creds, "{\"grant\":\"device\",\"client_id\":\"%s\",\"client_secret\":\"%s\",\"device_uuid\":\"%s\"}",
             sb_id, sb_secret, uuid);
    char *conf = cfg(creds, "");
    secucard_client *c = new_client(conf);
    free(conf);
    return c;
}

static void test_device_flow(void) {
    /* approved through the sandbox admin API */
    struct dev_rec r = {WAITER_INIT, PTHREAD_MUTEX_INITIALIZER, NULL, "", 0, 0, -1, ""};
    r.client = device_client("/vendor/libsecucard/ctest/approve");
    CHECK(secucard_set_event_callback(r.client, on_dev_event, &r) == SECUCARD_OK);
    char *res = NULL, *err = NULL;
    /* a device grant needs open */
    CHECK(secucard_call(r.client, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err) == SECUCARD_ERR_AUTH);
    CHECKF(top_eq(err, "reason", "not_authorized"), "%s", err);
    secucard_free(err);
    pthread_t t;
    pthread_create(&t, NULL, open_thread, &r);
    CHECK(waiter_wait(&r.w, 1, 20));
    char body[128];
    pthread_mutex_lock(&r.mu);
    snprintf(body, sizeof body, "{\"user_code\":\"%s\"}", r.user_code);
    pthread_mutex_unlock(&r.mu);
    admin("POST", "/devices/approve", body);
    pthread_join(t, NULL);
    CHECKF(r.open_rc == SECUCARD_OK, "open %d %s", (int)r.open_rc, r.open_err);
    CHECK(secucard_call(r.client, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    /* The "ok" event is queued when open returns, not necessarily delivered
       (events reach the host from the client's own thread): wait for it. */
    CHECK(waiter_wait(&r.w, 2, 20));
    CHECK(secucard_set_event_callback(r.client, NULL, NULL) == SECUCARD_OK); /* waits for a delivery in progress */
    CHECK(r.saw_ok);
    CHECK(stat_of(r.client, "token_requests") >= 2);
    secucard_client_free(r.client);

    /* canceled from inside the event callback */
    struct dev_rec c1 = {WAITER_INIT, PTHREAD_MUTEX_INITIALIZER, NULL, "", 0, 1, -1, ""};
    c1.client = device_client("/vendor/libsecucard/ctest/cancel-1");
    CHECK(secucard_set_event_callback(c1.client, on_dev_event, &c1) == SECUCARD_OK);
    open_thread(&c1);
    CHECKF(c1.open_rc == SECUCARD_ERR_AUTH && top_eq(c1.open_err, "reason", "canceled"), "%d %s", (int)c1.open_rc, c1.open_err);
    secucard_client_free(c1.client);

    /* canceled from another thread */
    struct dev_rec c2 = {WAITER_INIT, PTHREAD_MUTEX_INITIALIZER, NULL, "", 0, 0, -1, ""};
    c2.client = device_client("/vendor/libsecucard/ctest/cancel-2");
    CHECK(secucard_cancel_auth(c2.client) == SECUCARD_OK); /* nothing to cancel yet */
    CHECK(secucard_set_event_callback(c2.client, on_dev_event, &c2) == SECUCARD_OK);
    pthread_create(&t, NULL, open_thread, &c2);
    CHECK(waiter_wait(&c2.w, 1, 20));
    CHECK(secucard_cancel_auth(c2.client) == SECUCARD_OK);
    pthread_join(t, NULL);
    CHECKF(c2.open_rc == SECUCARD_ERR_AUTH && top_eq(c2.open_err, "reason", "canceled"), "%d %s", (int)c2.open_rc, c2.open_err);
    secucard_client_free(c2.client);
}

/* ---- stats, receipts, clear_tokens */

static void test_stats_and_tokens(void) {
    secucard_client *c = cc_client("");
    char *res = NULL, *stats = NULL, *err = NULL;
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    CHECK(secucard_call(c, "{\"resource\":\"nope.nope\",\"op\":\"list\"}", &res, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    CHECK(secucard_client_stats(c, NULL) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_client_stats(c, &stats) == SECUCARD_OK);
    CHECKF(stats && ex_json_long(stats, "ok", -1) == 1 && ex_json_long(stats, "token_requests", -1) == 1 &&
           ex_json_find(stats, "latency_ms") && ex_json_find(stats, "p99") && ex_json_find(stats, "events") &&
           ex_json_find(stats, "delivered") && ex_json_find(stats, "stomp") && ex_json_find(stats, "retries") &&
           ex_json_find(stats, "token_refreshes"), "%s", stats);
    secucard_free(stats);

    /* clearing the tokens makes the next call authenticate again */
    CHECK(secucard_client_clear_tokens(c, &err) == SECUCARD_OK && err == NULL);
    CHECK(secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, NULL) == SECUCARD_OK);
    secucard_free(res);
    CHECK(stat_of(c, "token_requests") == 2);
    secucard_client_free(c);
}

static const char *receipt_lines =
    "[{\"type\":\"separator\",\"value\":{\"caption\":\"Kundenbeleg\"}},"
    "{\"type\":\"name-value\",\"value\":{\"name\":\"Betrag\",\"value\":\"9,79 EUR\",\"decoration\":[\"important\"]}},"
    "{\"type\":\"space\"},"
    "{\"type\":\"textline\",\"value\":{\"text\":\"Danke\",\"decoration\":[\"align-center\"]}}]";

static void test_format_receipt(void) {
    char *text = NULL, *err = NULL;
    CHECK(secucard_format_receipt(receipt_lines, 0, &text, &err) == SECUCARD_OK && err == NULL);
    CHECKF(text && strstr(text, "Kundenbeleg") && strstr(text, "BETRAG") && strstr(text, "9,79 EUR") && strstr(text, "Danke"), "%s", text);
    /* width 0 means 40 columns: the name-value line is padded to 40 */
    const char *line = text ? strstr(text, "BETRAG") : NULL;
    if (line) {
        const char *nl = strchr(line, '\n');
        CHECKF((nl ? nl - line : (long)strlen(line)) == 40, "line: %s", line);
    }
    secucard_free(text);

    char tx[1024];
    snprintf(tx, sizeof tx, "{\"object\":\"smart.transactions\",\"id\":\"STX_1\",\"receipt\":%s}", receipt_lines);
    CHECK(secucard_format_receipt(tx, 32, &text, NULL) == SECUCARD_OK && text && strstr(text, "Danke"));
    secucard_free(text);

    CHECK(secucard_format_receipt(receipt_lines, 10, &text, &err) == SECUCARD_ERR_INVALID_ARGUMENT && text == NULL);
    CHECKF(err_is(err, 1, "width"), "%s", err);
    secucard_free(err);
    CHECK(secucard_format_receipt(receipt_lines, 201, &text, NULL) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECK(secucard_format_receipt(NULL, 40, &text, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    CHECKF(err_is(err, 1, "receipt_json"), "%s", err);
    secucard_free(err);
    CHECK(secucard_format_receipt(receipt_lines, 40, NULL, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    CHECK(secucard_format_receipt("[]", 40, &text, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    CHECK(secucard_format_receipt("{\"id\":1}", 40, &text, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    CHECK(secucard_format_receipt("[{", 40, &text, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
}


/* ---- shutdown while other threads use the client */

struct blocked {
    secucard_client *client;
    _Atomic int rc;
};

static void *next_event_forever(void *p) {
    struct blocked *b = p;
    char *ev = NULL;
    b->rc = secucard_next_event(b->client, -1, &ev);
    secucard_free(ev);
    return NULL;
}

struct hammer {
    secucard_client *client;
    _Atomic int ok, stopped, other;
};

static void *call_loop(void *p) {
    struct hammer *h = p;
    for (int i = 0; i < 40; i++) {
        char *res = NULL, *err = NULL;
        int st = secucard_call(h->client, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
        if (st == SECUCARD_OK) h->ok++;
        else if (st == SECUCARD_ERR_CANCELED || st == SECUCARD_ERR_CLOSED || st == SECUCARD_ERR_INVALID_HANDLE) h->stopped++;
        else h->other++;
        secucard_free(res);
        secucard_free(err);
    }
    return NULL;
}

static void test_shutdown_under_use(void) {
    /* a main loop blocked in next_event(-1) wakes with CLOSED when another
     * thread frees the client (INVALID_HANDLE if the free came first) */
    struct blocked b = {cc_client(""), -1};
    pthread_t t;
    pthread_create(&t, NULL, next_event_forever, &b);
    sleep_ms(50);
    secucard_client_free(b.client);
    pthread_join(t, NULL);
    CHECKF(b.rc == SECUCARD_ERR_CLOSED || b.rc == SECUCARD_ERR_INVALID_HANDLE, "next_event returned %d", (int)b.rc);

    /* free while four threads call: every call ends OK or stopped, none crash */
    struct hammer h = {cc_client(""), 0, 0, 0};
    pthread_t ts[4];
    for (int i = 0; i < 4; i++) pthread_create(&ts[i], NULL, call_loop, &h);
    for (int i = 0; i < 4000 && h.ok < 8; i++) sleep_ms(5);
    secucard_client_free(h.client);
    for (int i = 0; i < 4; i++) pthread_join(ts[i], NULL);
    CHECKF(h.ok >= 8 && h.stopped > 0 && h.other == 0, "ok %d stopped %d other %d", (int)h.ok, (int)h.stopped, (int)h.other);
}

/* Close and free racing calls (issue 10, item 1): 8 threads call (sync,
 * async, webhook events) while a ninth closes or frees the client, or a
 * callback frees it. No callback may run after free (or close) returned on
 * the ninth thread, and every accepted async call is called back exactly
 * once. Records are never reused, so a late or second callback is still
 * caught at the end of the test. */
#define STRESS_CALLERS 8
#define STRESS_PER_CALLER 48
#ifndef STRESS_ROUNDS
#define STRESS_ROUNDS 100 /* of each end: free, close, free from a callback */
#endif

enum stress_end { END_FREE, END_CLOSE, END_FREE_IN_CALLBACK };

struct stress;
struct stress_call {
    struct stress *s;
    _Atomic int accepted, callbacks;
};

struct stress {
    secucard_client *c;
    enum stress_end end;
    _Atomic int ended;       /* free/close returned on the ninth thread */
    _Atomic int free_inside; /* the next callback frees the client */
    _Atomic int late, ok;
    struct waiter completions, progress;
    struct stress_call calls[STRESS_CALLERS][STRESS_PER_CALLER];
    int caller;
};

static void stress_after_callback(struct stress *s) {
    if (s->ended) s->late++;
    int one = 1;
    if (atomic_compare_exchange_strong(&s->free_inside, &one, 0)) secucard_client_free(s->c);
}

static void on_stress_done(void *ud, uint64_t id, int status, const char *result, const char *err) {
    (void)id, (void)status, (void)result, (void)err;
    struct stress_call *r = ud;
    r->callbacks++;
    stress_after_callback(r->s);
    waiter_bump(&r->s->completions);
}

static void on_stress_event(void *ud, const char *ev) {
    (void)ev;
    stress_after_callback(ud);
}

struct stress_caller {
    struct stress *s;
    int index;
};

static void *stress_caller_main(void *p) {
    struct stress_caller *a = p;
    struct stress *s = a->s;
    for (int i = 0; i < STRESS_PER_CALLER; i++) {
        int st;
        if (i % 3 == 0) {
            char *res = NULL, *err = NULL;
            st = secucard_call(s->c, "{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}", &res, &err);
            secucard_free(res);
            secucard_free(err);
        } else if (i % 3 == 1) {
            struct stress_call *r = &s->calls[a->index][i];
            st = secucard_call_async(s->c, "{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}", on_stress_done, r,
                                     NULL, NULL);
            if (st == SECUCARD_OK) r->accepted = 1;
        } else {
            st = secucard_handle_event(s->c, webhook, NULL);
        }
        if (st == SECUCARD_OK) {
            s->ok++;
            waiter_bump(&s->progress);
        } else if (st == SECUCARD_ERR_INVALID_HANDLE || st == SECUCARD_ERR_CLOSED) {
            break;
        } else if (st != SECUCARD_ERR_CANCELED) {
            CHECKF(0, "caller %d call %d: status %d", a->index, i, st);
        }
    }
    return NULL;
}

static int stress_accepted(struct stress *s) {
    int n = 0;
    for (int t = 0; t < STRESS_CALLERS; t++)
        for (int i = 0; i < STRESS_PER_CALLER; i++) n += s->calls[t][i].accepted;
    return n;
}

static void test_close_free_race(void) {
    static struct stress rounds[3 * STRESS_ROUNDS]; /* never reused: late callbacks stay visible */
    for (int k = 0; k < 3 * STRESS_ROUNDS; k++) {
        struct stress *s = &rounds[k];
        s->end = (enum stress_end)(k % 3);
        s->completions = (struct waiter)WAITER_INIT;
        s->progress = (struct waiter)WAITER_INIT;
        for (int t = 0; t < STRESS_CALLERS; t++)
            for (int i = 0; i < STRESS_PER_CALLER; i++) s->calls[t][i].s = s;
        s->c = cc_client("");
        CHECK(secucard_set_event_callback(s->c, on_stress_event, s) == SECUCARD_OK);
        pthread_t ts[STRESS_CALLERS];
        struct stress_caller args[STRESS_CALLERS];
        for (int t = 0; t < STRESS_CALLERS; t++) {
            args[t] = (struct stress_caller){s, t};
            pthread_create(&ts[t], NULL, stress_caller_main, &args[t]);
        }
        waiter_wait(&s->progress, 2 * STRESS_CALLERS, 30); /* the end lands mid-traffic */
        switch (s->end) {
        case END_FREE:
            secucard_client_free(s->c);
            s->ended = 1;
            break;
        case END_CLOSE:
            CHECK(secucard_client_close(s->c, NULL) == SECUCARD_OK);
            s->ended = 1;
            break;
        case END_FREE_IN_CALLBACK:
            s->free_inside = 1;
            CHECK(secucard_handle_event(s->c, webhook, NULL) == SECUCARD_OK || s->free_inside == 0);
            break;
        }
        for (int t = 0; t < STRESS_CALLERS; t++) pthread_join(ts[t], NULL);
        int accepted = stress_accepted(s);
        if (s->end == END_FREE_IN_CALLBACK) {
            /* the close completes in the background: wait for the completions */
            CHECKF(waiter_wait(&s->completions, accepted, 30), "round %d: %d of %d completions", k,
                   waiter_count(&s->completions), accepted);
            CHECKF(s->free_inside == 0, "round %d: no callback freed the client", k);
        } else {
            /* free/close returned: every completion already ran */
            CHECKF(waiter_count(&s->completions) == accepted, "round %d (%s): %d completions for %d accepted calls", k,
                   s->end == END_FREE ? "free" : "close", waiter_count(&s->completions), accepted);
        }
        secucard_client_free(s->c); /* a no-op after a free */
    }
    int late = 0, wrong = 0, ok = 0;
    for (int k = 0; k < 3 * STRESS_ROUNDS; k++) {
        struct stress *s = &rounds[k];
        late += s->late;
        ok += s->ok;
        for (int t = 0; t < STRESS_CALLERS; t++)
            for (int i = 0; i < STRESS_PER_CALLER; i++) {
                struct stress_call *r = &s->calls[t][i];
                if (r->callbacks != (r->accepted ? 1 : 0)) wrong++;
            }
    }
    CHECKF(late == 0, "%d callbacks ran after free/close returned", late);
    CHECKF(wrong == 0, "%d async calls were not called back exactly once", wrong);
    CHECKF(ok > 3 * STRESS_ROUNDS * 2 * STRESS_CALLERS, "only %d successful operations: the race was not exercised", ok);
}

/* secucard_client_release (for finalizers): the handle is gone at once, the
 * close runs in the background, and no callback begins after it returned -
 * not even the completion of a call that was in flight. A late callback is
 * counted whenever it comes; main checks the count at the very end. */
static _Atomic int release_late, release_returned;

static void on_release_done(void *ud, uint64_t id, int status, const char *result, const char *err) {
    (void)ud, (void)id, (void)status, (void)result, (void)err;
    if (release_returned) release_late++;
}

static void test_client_release(void) {
    secucard_client_release(NULL);
    secucard_client *c = cc_client("");
    admin("POST", "/faults", "{\"path\":\"/smart/idents\",\"delay_ms\":3000,\"count\":1}");
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_release_done, NULL, NULL, NULL) ==
          SECUCARD_OK);
    secucard_client_release(c);
    release_returned = 1;
    char *out = NULL;
    CHECK(secucard_client_stats(c, &out) == SECUCARD_ERR_INVALID_HANDLE && out == NULL);
    secucard_client_release(c); /* no-ops on a released handle */
    secucard_client_free(c);
    admin("DELETE", "/faults", NULL);
}

/* -------------------------------------------------- memcheck / leak / panic */

enum flaw { NO_FLAW, LEAK, USE_AFTER_FREE };

/* One pass over every kind of memory the library returns, with one flaw on
 * purpose when asked: a result left unfreed, or read after it was freed. */
static int memcheck_flow(enum flaw flaw) {
    secucard_client *c = cc_client("");
    char *res = NULL, *err = NULL, *ev = NULL, *text = NULL, *stats = NULL;
    int st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_OK, "%d", st);
    if (flaw != LEAK) {
        const volatile char *freed = res;
        secucard_free(res);
        if (flaw == USE_AFTER_FREE) {
            volatile char first = freed[0]; /* the flaw: valgrind must see it */
            (void)first;
        }
    }
    CHECK(secucard_call(c, "{\"resource\":\"nope.nope\",\"op\":\"list\"}", &res, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    struct async_rec r = {WAITER_INIT, -1, 0, 0, 0};
    CHECK(secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_done, &r, NULL, NULL) == SECUCARD_OK);
    CHECK(waiter_wait(&r.w, 1, 60));
    CHECK(secucard_handle_event(c, webhook, NULL) == SECUCARD_OK);
    CHECK(secucard_next_event(c, -1, &ev) == SECUCARD_OK);
    secucard_free(ev);
    CHECK(secucard_format_receipt(receipt_lines, 40, &text, NULL) == SECUCARD_OK);
    secucard_free(text);
    CHECK(secucard_client_stats(c, &stats) == SECUCARD_OK);
    secucard_free(stats);
    CHECK(secucard_client_close(c, &err) == SECUCARD_OK);
    secucard_client_free(c);
    CHECK(secucard_client_new("{\"bad\":1}", &c, &err) == SECUCARD_ERR_INVALID_ARGUMENT);
    secucard_free(err);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static int panic_mode(void) {
    current = "panic";
    secucard_client *c = cc_client("");
    char *res = NULL, *err = NULL;
    int st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_ERR_INTERNAL && res == NULL, "%d", st);
    CHECKF(err_is(err, 12, NULL) && top_eq(err, "type", "internal") && strstr(err, "panic"), "%s", err);
    secucard_free(err);
    /* the library keeps working after a recovered panic */
    CHECK(secucard_client_stats(c, &res) == SECUCARD_OK);
    secucard_free(res);
    secucard_client_free(c);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------- main */

static int load_sandbox(void) {
    const char *line = getenv("SECUCARD_SANDBOX");
    if (!line || !*line) {
        fprintf(stderr, "ctest: SECUCARD_SANDBOX is not set; run it through examples/c/with-sandbox.sh\n");
        return 0;
    }
    sb_url = ex_json_top_str(line, "sandbox_url");
    sb_admin = ex_json_top_str(line, "admin_url");
    sb_id = ex_json_top_str(line, "client_id");
    sb_secret = ex_json_top_str(line, "client_secret");
    if (!sb_url || !sb_admin || !sb_id || !sb_secret) {
        fprintf(stderr, "ctest: unexpected SECUCARD_SANDBOX: %s\n", line);
        return 0;
    }
    return 1;
}

#define RUN(fn) do { current = #fn; fn(); } while (0)

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!load_sandbox()) return 2;
    int rc;
    if (argc > 1 && strcmp(argv[1], "--memcheck") == 0) {
        current = "memcheck";
        rc = memcheck_flow(NO_FLAW);
    } else if (argc > 1 && strcmp(argv[1], "--leak") == 0) {
        current = "leak";
        rc = memcheck_flow(LEAK);
    } else if (argc > 1 && strcmp(argv[1], "--use-after-free") == 0) {
        current = "use-after-free";
        rc = memcheck_flow(USE_AFTER_FREE);
    } else if (argc > 1 && strcmp(argv[1], "--panic") == 0) {
        rc = panic_mode();
    } else {
        RUN(test_versions);
        RUN(test_client_new_bad_input);
        RUN(test_invalid_handles);
        RUN(test_calls);
        RUN(test_error_classes);
        RUN(test_lost_start_answer);
        RUN(test_async);
        RUN(test_close_with_call_in_flight);
        RUN(test_client_release); /* early: its late-callback check is at the end of the run */
        RUN(test_events_pull);
        RUN(test_event_callback_reentry);
        RUN(test_one_callback_thread);
        RUN(test_credentials_callback);
        RUN(test_storage_callbacks);
        RUN(test_log_callback);
        RUN(test_device_flow);
        RUN(test_stats_and_tokens);
        RUN(test_format_receipt);
        RUN(test_shutdown_under_use);
        RUN(test_close_free_race);
        current = "end of run";
        CHECKF(release_late == 0, "%d callbacks ran after secucard_client_release returned", (int)release_late);
        printf("%d passed, %d failed\n", passed, failed);
        rc = failed ? 1 : 0;
    }
    free(sb_url);
    free(sb_admin);
    free(sb_id);
    free(sb_secret);
    return rc;
}
