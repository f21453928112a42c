/*
 * smoke.c - the C ABI through the built library, from a program that uses the
 * C standard library only, so it builds for every target (ctest.c needs
 * POSIX). It runs the Windows DLL under wine (see ../../.ci/wine), against a
 * sandbox whose startup JSON line is in $SECUCARD_SANDBOX:
 *
 *   versions and ABI agree with the header; a bad config is refused naming
 *   the key; with the sandbox: open, a synchronous list, an async call whose
 *   callback arrives on a library thread, a payment started and its receipt
 *   formatted, close and free. Prints "N passed, N failed".
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif

#include "secucard.h"

static int passed, failed;

static void check(int ok, int line, const char *expr, const char *fmt, ...) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    fprintf(stderr, "FAIL smoke.c:%d: %s", line, expr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" -- ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}
#define CHECK(cond) check(!!(cond), __LINE__, #cond, NULL)
#define CHECKF(cond, ...) check(!!(cond), __LINE__, #cond, __VA_ARGS__)

static const char *str(const char *s) { return s ? s : "(null)"; }

/* field copies the string value of "key" from a flat JSON line (the
 * sandbox's startup line has no escapes in its values). */
static char *field(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    if (!end) return NULL;
    char *out = malloc((size_t)(end - p) + 1);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return out;
}

/* The async call's outcome, written by the library's callback thread. */
static atomic_int async_done;
static int async_status = -1;
static int async_found;

static void on_call(void *user_data, uint64_t call_id, int status, const char *result_json,
                    const char *err_json) {
    (void)user_data;
    (void)call_id;
    (void)err_json;
    async_status = status;
    async_found = result_json && strstr(result_json, "\"smi_1\"") != NULL;
    atomic_store(&async_done, 1);
}

static void pause_ms(int ms) {
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

static void offline(void) {
    CHECKF(strcmp(secucard_version(), SECUCARD_VERSION) == 0, "library %s, header %s", secucard_version(),
           SECUCARD_VERSION);
    CHECK(secucard_version_number() == SECUCARD_VERSION_NUMBER);
    CHECK(secucard_abi_version() == SECUCARD_ABI_VERSION);
    CHECK(strcmp(secucard_strerror(SECUCARD_ERR_TIMEOUT), "") != 0);

    secucard_client *c = NULL;
    char *err = NULL;
    int st = secucard_client_new("{\"timeouts\":{\"connect_ms\":\"soon\"}}", &c, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT, "status %d", st);
    CHECK(c == NULL);
    CHECKF(err && strstr(err, "\"field\":\"timeouts.connect_ms\""), "err %s", str(err));
    secucard_free(err);
}

static void online(const char *line) {
    char *url = field(line, "sandbox_url"), *id = field(line, "client_id"), *secret = field(line, "client_secret");
    CHECKF(url && id && secret, "SECUCARD_SANDBOX: %s", line);
    if (!url || !id || !secret) return;
    char config[1024];
    snprintf(config, sizeof config,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false},"
             "\"credentials\":{\"client_id\":\"%s\",\"client_secret\":\"%s\"}}",
             url, id, secret);
    free(url);
    free(id);
    free(secret);

    secucard_client *c = NULL;
    char *err = NULL, *result = NULL;
    int st = secucard_client_new(config, &c, &err);
    CHECKF(st == SECUCARD_OK, "new: %d %s", st, str(err));
    secucard_free(err);
    err = NULL;
    if (st != SECUCARD_OK) return;

    st = secucard_client_open(c, &err);
    CHECKF(st == SECUCARD_OK, "open: %d %s", st, str(err));
    secucard_free(err);
    err = NULL;

    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &result, &err);
    CHECKF(st == SECUCARD_OK && result && strstr(result, "\"smi_1\""), "list: %d %s %s", st, str(result), str(err));
    secucard_free(result);
    secucard_free(err);
    result = err = NULL;

    uint64_t call_id = 0;
    st = secucard_call_async(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", on_call, NULL, &call_id, &err);
    CHECKF(st == SECUCARD_OK && call_id != 0, "call_async: %d %s", st, str(err));
    secucard_free(err);
    err = NULL;
    for (int i = 0; st == SECUCARD_OK && !atomic_load(&async_done) && i < 3000; i++) pause_ms(10);
    CHECK(atomic_load(&async_done));
    CHECKF(async_status == SECUCARD_OK && async_found, "async status %d", async_status);

    st = secucard_call(c,
                       "{\"resource\":\"smart.transactions\",\"op\":\"create\",\"data\":{"
                       "\"basket_info\":{\"sum\":250,\"currency\":\"EUR\"},\"basket\":{\"products\":[{\"id\":1,"
                       "\"desc\":\"Coffee\",\"quantity\":1,\"priceOne\":250,\"tax\":7}]}}}",
                       &result, &err);
    char *tx = result ? field(result, "id") : NULL;
    CHECKF(st == SECUCARD_OK && tx, "create: %d %s %s", st, str(result), str(err));
    secucard_free(result);
    secucard_free(err);
    result = err = NULL;
    if (tx) {
        char req[256];
        snprintf(req, sizeof req,
                 "{\"resource\":\"smart.transactions\",\"op\":\"execute\",\"id\":\"%s\",\"action\":\"start\","
                 "\"arg\":\"cash\"}",
                 tx);
        free(tx);
        st = secucard_call(c, req, &result, &err);
        CHECKF(st == SECUCARD_OK && result && strstr(result, "\"status\":\"ok\""), "start: %d %s %s", st,
               str(result), str(err));
        secucard_free(err);
        err = NULL;
        char *text = NULL;
        int fst = result ? secucard_format_receipt(result, 32, &text, &err) : -1;
        CHECKF(fst == SECUCARD_OK && text && strstr(text, "2,50"), "receipt: %d %s %s", fst, str(text), str(err));
        secucard_free(text);
        secucard_free(result);
        secucard_free(err);
        result = err = NULL;
    }

    st = secucard_client_close(c, &err);
    CHECKF(st == SECUCARD_OK, "close: %d %s", st, str(err));
    secucard_free(err);
    err = NULL;
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &result, &err);
    CHECKF(st == SECUCARD_ERR_CLOSED, "call after close: %d", st);
    secucard_free(result);
    secucard_free(err);
    secucard_client_free(c);
}

int main(void) {
    offline();
    const char *line = getenv("SECUCARD_SANDBOX");
    CHECKF(line && *line, "SECUCARD_SANDBOX is not set (run under examples/c/with-sandbox.sh)");
    if (line && *line) online(line);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
