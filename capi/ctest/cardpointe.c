/*
 * cardpointe.c - the CardPointe Gateway through libsecucard's C ABI, against
 * a running sandbox whose startup JSON line is in $SECUCARD_SANDBOX
 * (examples/c/with-sandbox.sh provides it): every operation, declines versus
 * errors versus temporary declines, amounts, the recovery of a lost auth with
 * sandbox faults, cancel, and no card data in any log line or error JSON at
 * trace level.
 *
 *   ./ctest-cardpointe            every test; prints "N passed, N failed"
 *   ./ctest-cardpointe --memcheck a short flow for valgrind (every string freed)
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secucard.h"
#include "example_util.h"

/* ---------------------------------------------------------------- harness */

#include "harness.h"

/* ------------------------------------------------------------ the sandbox */

static char *sb_url, *sb_admin, *sb_id, *sb_secret, *cp_user, *cp_pass, *cp_mid;

/* Everything the library emitted in the whole run: log lines and error
 * JSON. Checked for card data at the end. */
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static char *emitted;
static size_t emitted_len;

static void emit(const char *s) {
    if (!s) return;
    pthread_mutex_lock(&out_mu);
    size_t n = strlen(s);
    char *grown = realloc(emitted, emitted_len + n + 2);
    if (grown) {
        emitted = grown;
        memcpy(emitted + emitted_len, s, n);
        emitted_len += n;
        emitted[emitted_len++] = '\n';
        emitted[emitted_len] = '\0';
    }
    pthread_mutex_unlock(&out_mu);
}

static void on_log(void *ud, int level, const char *msg) {
    (void)ud;
    (void)level;
    emit(msg);
}

/* client builds a client holding the sandbox's secucard identity and its
 * CardPointe Gateway; section_extra is added inside "cardpointe", extra at
 * the top level. Logs at trace level go to on_log. */
static secucard_client *client(const char *section_extra, const char *extra) {
    char config[2048];
    snprintf(config, sizeof config,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false},"
             "\"credentials\":{\"client_id\":\"%s\",\"client_secret\":\"%s\"},"
             "\"retry\":{\"initial_backoff_ms\":1,\"max_backoff_ms\":5},\"log_level\":\"trace\","
             "\"cardpointe\":{\"username\":\"%s\",\"password\":\"%s\",\"merchid\":\"%s\"%s}%s}",
             sb_url, sb_id, sb_secret, cp_user, cp_pass, cp_mid, section_extra, extra);
    secucard_client *c = NULL;
    char *err = NULL;
    int st = secucard_client_new(config, &c, &err);
    CHECKF(st == SECUCARD_OK, "%d %s", st, err ? err : "");
    secucard_free(err);
    if (c) CHECK(secucard_set_log_callback(c, on_log, NULL, SECUCARD_LOG_TRACE) == SECUCARD_OK);
    return c;
}

/* cp runs a CardPointe request; *res and *err receive the answer or the
 * error JSON (free both). extra goes into the request object (",\"timeout_ms\":500"). */
static int cp(secucard_client *c, const char *op, const char *data, const char *extra, char **res, char **err) {
    char req[2048];
    snprintf(req, sizeof req, "{\"system\":\"cardpointe\",\"op\":\"%s\",\"data\":%s%s}", op, data ? data : "{}",
             extra ? extra : "");
    *res = NULL;
    *err = NULL;
    int st = secucard_call(c, req, res, err);
    emit(*err);
    return st;
}

/* ok runs a request that must succeed and returns its answer (free it). */
static char *ok(secucard_client *c, const char *op, const char *data) {
    char *res, *err;
    int st = cp(c, op, data, NULL, &res, &err);
    CHECKF(st == SECUCARD_OK && res, "%s: %d %s", op, st, err ? err : "");
    secucard_free(err);
    return res;
}

/* str is a top-level string member of json (malloc'd, or NULL). */
static char *str(const char *json, const char *key) { return json ? ex_json_top_str(json, key) : NULL; }

static int eq(const char *json, const char *key, const char *want) {
    char *v = str(json, key);
    int r = v && strcmp(v, want) == 0;
    free(v);
    return r;
}

static int is_true(const char *json, const char *key) {
    const char *p = json ? ex_json_member(json, key) : NULL;
    return p && strncmp(p, "true", 4) == 0;
}

static int is_false(const char *json, const char *key) {
    const char *p = json ? ex_json_member(json, key) : NULL;
    return p && strncmp(p, "false", 5) == 0;
}

static long long num(const char *json, const char *key) {
    const char *p = json ? ex_json_member(json, key) : NULL;
    return p ? strtoll(p, NULL, 10) : -999999;
}

static void fault(const char *body) {
    char url[512];
    snprintf(url, sizeof url, "%s/faults", sb_admin);
    CHECKF(ex_http("POST", url, body) == 200, "%s", body);
}

static void clear_faults(void) {
    char url[512];
    snprintf(url, sizeof url, "%s/faults", sb_admin);
    ex_http("DELETE", url, "");
}

static void settle(void) {
    char url[512];
    snprintf(url, sizeof url, "%s/cardpointe/settle", sb_admin);
    CHECK(ex_http("POST", url, "{}") == 200);
}

/* approvals counts the approved, not voided records under orderid. */
static int approvals(secucard_client *c, const char *orderid) {
    char data[128], *res, *err;
    snprintf(data, sizeof data, "{\"orderid\":\"%s\"}", orderid);
    int st = cp(c, "inquireByOrderid", data, NULL, &res, &err);
    int n = 0;
    if (st == SECUCARD_OK && res) {
        const char *p = res;
        if (*p == '[') {
            char *rec;
            while ((rec = ex_array_next(&p))) {
                n += eq(rec, "respstat", "A") && !eq(rec, "setlstat", "Voided");
                free(rec);
            }
        } else {
            n = eq(res, "respstat", "A") && !eq(res, "setlstat", "Voided");
        }
    }
    secucard_free(res);
    secucard_free(err);
    return n;
}

/* -------------------------------------------------------------- the tests */

#define PAN "4111111111111111"
#define TOKEN "9418594164541111"
#define CVV "7391"
#define EXPIRY "0931"

static void test_operations(void) {
    secucard_client *c = client("", "");
    char *r = ok(c, "testCredentials", NULL);
    CHECKF(is_true(r, "valid") && eq(r, "text", "CardConnect REST Servlet"), "%s", r);
    secucard_free(r);

    r = ok(c, "tokenize", "{\"account\":\"" PAN "\",\"expiry\":\"" EXPIRY "\",\"cvv\":\"" CVV "\"}");
    CHECKF(eq(r, "token", TOKEN), "%s", r);
    secucard_free(r);

    char *sale = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":1999,\"capture\":true}");
    CHECKF(eq(sale, "respstat", "A") && eq(sale, "amount", "19.99") && num(sale, "amount_minor") == 1999 &&
               is_false(sale, "partial") && is_false(sale, "recovered"), "%s", sale);
    char *retref = str(sale, "retref"), *orderid = str(sale, "orderid");
    CHECKF(retref && orderid && strncmp(orderid, "LSC", 3) == 0, "%s", sale);
    char data[512];
    snprintf(data, sizeof data, "{\"retref\":\"%s\"}", retref ? retref : "");
    r = ok(c, "inquire", data);
    CHECKF(eq(r, "setlstat", "Queued for Capture") && eq(r, "voidable", "Y"), "%s", r);
    secucard_free(r);
    r = ok(c, "void", data);
    CHECKF(eq(r, "respstat", "A") && eq(r, "authcode", "REVERS"), "%s", r);
    secucard_free(r);
    CHECK(approvals(c, orderid) == 0);
    free(retref);
    free(orderid);
    secucard_free(sale);

    /* auth, then capture; another voided by orderid */
    char *a = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":500,\"orderid\":\"C-ORDER-1\"}");
    retref = str(a, "retref");
    snprintf(data, sizeof data, "{\"retref\":\"%s\",\"amount\":400}", retref ? retref : "");
    r = ok(c, "capture", data);
    CHECKF(eq(r, "setlstat", "Queued for Capture") && num(r, "amount_minor") == 400, "%s", r);
    secucard_free(r);
    free(retref);
    secucard_free(a);
    a = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":700,\"orderid\":\"C-ORDER-2\"}");
    secucard_free(a);
    r = ok(c, "voidByOrderId", "{\"orderid\":\"C-ORDER-2\"}");
    CHECKF(eq(r, "respstat", "A"), "%s", r);
    secucard_free(r);

    /* refund only after settlement */
    sale = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":2500,\"capture\":true}");
    retref = str(sale, "retref");
    snprintf(data, sizeof data, "{\"retref\":\"%s\",\"amount\":1000}", retref ? retref : "");
    char *res, *err;
    int st = cp(c, "refund", data, NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_DECLINED && eq(err, "respcode", "28") && eq(err, "outcome", "rejected"), "%d %s", st, err);
    secucard_free(err);
    settle();
    r = ok(c, "refund", data);
    CHECKF(eq(r, "respstat", "A") && num(r, "amount_minor") == 1000, "%s", r);
    secucard_free(r);
    snprintf(data, sizeof data, "{\"retref\":\"%s\",\"signature\":\"H4sIAAAAAAAA\"}", retref ? retref : "");
    r = ok(c, "sigcap", data);
    CHECKF(eq(r, "respcode", "02"), "%s", r);
    secucard_free(r);
    free(retref);
    secucard_free(sale);

    char today[16];
    time_t now = time(NULL);
    strftime(today, sizeof today, "%m%d", gmtime(&now));
    snprintf(data, sizeof data, "{\"date\":\"%s\"}", today);
    r = ok(c, "settlestat", data);
    CHECKF(r && r[0] == '[' && strstr(r, "\"chargetotal_minor\"") && strstr(r, "\"hoststat\":\"GB\""), "%s", r);
    secucard_free(r);
    strftime(today, sizeof today, "%Y%m%d", gmtime(&now));
    snprintf(data, sizeof data, "{\"date\":\"%s\"}", today);
    r = ok(c, "funding", data);
    CHECKF(r && strstr(r, "\"txns\""), "%s", r);
    secucard_free(r);

    /* profiles */
    char *p = ok(c, "profileCreate", "{\"account\":\"" PAN "\",\"expiry\":\"" EXPIRY "\",\"name\":\"Erika Mustermann\"}");
    char *profileid = str(p, "profileid"), *acctid = str(p, "acctid");
    CHECKF(eq(p, "respcode", "09") && profileid && acctid, "%s", p);
    secucard_free(p);
    snprintf(data, sizeof data, "{\"profile\":\"%s/%s\",\"postal\":\"19406\"}", profileid, acctid);
    r = ok(c, "profileUpdate", data);
    CHECKF(eq(r, "resptext", "Profile Saved"), "%s", r);
    secucard_free(r);
    snprintf(data, sizeof data, "{\"profileid\":\"%s\"}", profileid);
    r = ok(c, "profileGet", data);
    CHECKF(r && r[0] == '[' && strstr(r, "19406"), "%s", r);
    secucard_free(r);
    snprintf(data, sizeof data, "{\"profile\":\"%s/%s\",\"amount\":300}", profileid, acctid);
    r = ok(c, "auth", data);
    CHECKF(eq(r, "respstat", "A"), "%s", r);
    secucard_free(r);
    snprintf(data, sizeof data, "{\"profileid\":\"%s\"}", profileid);
    r = ok(c, "profileDelete", data);
    CHECKF(eq(r, "respcode", "08"), "%s", r);
    secucard_free(r);
    st = cp(c, "profileGet", data, NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_API && eq(err, "respcode", "96"), "%d %s", st, err);
    secucard_free(err);
    free(profileid);
    free(acctid);

    r = ok(c, "auth", "{\"account\":\"5454545454545454\",\"expiry\":\"" EXPIRY "\",\"amount\":100,\"profile\":true}");
    CHECKF(r && strstr(r, "\"profileid\""), "%s", r);
    secucard_free(r);
    r = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":0}");
    CHECKF(eq(r, "amount", "0.00") && is_false(r, "partial"), "%s", r);
    secucard_free(r);
    r = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":-1500,\"capture\":true}");
    CHECKF(eq(r, "amount", "-15.00") && num(r, "amount_minor") == -1500, "%s", r);
    secucard_free(r);

    r = ok(c, "bin", "{\"token\":\"" TOKEN "\"}");
    CHECKF(is_true(r, "success"), "%s", r);
    secucard_free(r);
    r = ok(c, "inquireMerchant", NULL);
    CHECKF(eq(r, "merchid", cp_mid), "%s", r);
    secucard_free(r);

    /* the secucard side of the same handle */
    res = err = NULL;
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    CHECKF(st == SECUCARD_OK && strstr(res, "\"count\""), "%d %s", st, err ? err : "");
    secucard_free(res);
    secucard_free(err);
    secucard_client_free(c);
}

static void test_amounts(void) {
    secucard_client *c = client("", "");
    static const struct { long long minor; const char *text; } cases[] = {
        {1, "0.01"}, {99, "0.99"}, {100, "1.00"}, {123456789, "1234567.89"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char data[256];
        snprintf(data, sizeof data, "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":%lld,\"capture\":true}",
                 cases[i].minor);
        char *r = ok(c, "auth", data);
        CHECKF(num(r, "amount_minor") == cases[i].minor && num(r, "requested_minor") == cases[i].minor &&
                   eq(r, "amount", cases[i].text), "%lld: %s", cases[i].minor, r);
        char *orderid = str(r, "orderid");
        snprintf(data, sizeof data, "{\"orderid\":\"%s\"}", orderid ? orderid : "");
        char *rec = ok(c, "inquireByOrderid", data);
        CHECKF(eq(rec, "amount", cases[i].text), "the Gateway holds %s: %s", cases[i].text, rec);
        secucard_free(rec);
        free(orderid);
        secucard_free(r);
    }
    char *res, *err;
    int st = cp(c, "auth", "{\"account\":\"" TOKEN "\",\"amount\":19.99}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && eq(err, "field", "data.amount"), "%d %s", st, err);
    secucard_free(err);
    st = cp(c, "auth", "{\"account\":\"" TOKEN "\",\"amount\":\"19.99\"}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && eq(err, "field", "data.amount"), "%d %s", st, err);
    secucard_free(err);
    secucard_client_free(c);
}

static void test_outcomes(void) {
    secucard_client *c = client("", "");
    char *res, *err;
    /* a decline: every Gateway field */
    int st = cp(c, "auth", "{\"account\":\"4387751111111038\",\"expiry\":\"" EXPIRY "\",\"amount\":1000,\"postal\":\"19406\","
                "\"cvv2\":\"112\",\"orderid\":\"C-DECL-1\"}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_DECLINED && res == NULL, "%d", st);
    CHECKF(eq(err, "type", "declined") && eq(err, "respstat", "C") && eq(err, "respcode", "05") &&
               eq(err, "resptext", "Do not honor") && eq(err, "respproc", "FNOR") && eq(err, "avsresp", "Y") &&
               eq(err, "cvvresp", "M") && eq(err, "orderid", "C-DECL-1") && is_false(err, "retryable") &&
               eq(err, "outcome", "rejected"), "%s", err);
    char *retref = str(err, "retref");
    CHECKF(retref && strlen(retref) == 12, "%s", err);
    free(retref);
    secucard_free(err);

    /* a partial approval is a success */
    char *r = ok(c, "auth", "{\"account\":\"4387750101010101\",\"expiry\":\"" EXPIRY "\",\"amount\":750}");
    CHECKF(is_true(r, "partial") && num(r, "amount_minor") == 500 && num(r, "requested_minor") == 750, "%s", r);
    secucard_free(r);

    /* respstat B: a temporary decline, retryable */
    st = cp(c, "auth", "{\"account\":\"4999006200620062\",\"expiry\":\"" EXPIRY "\",\"amount\":100}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_DECLINED && eq(err, "reason", "temporary") && eq(err, "respstat", "B") &&
               eq(err, "respcode", "62") && is_true(err, "retryable") && eq(err, "outcome", "rejected"), "%d %s", st, err);
    secucard_free(err);

    /* an error that is not a decline */
    st = cp(c, "inquire", "{\"retref\":\"999999999999\"}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_API && eq(err, "respcode", "29"), "%d %s", st, err);
    secucard_free(err);

    /* bad input never reaches the Gateway */
    st = cp(c, "auth", "{\"Amount\":100,\"account\":\"" TOKEN "\"}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && eq(err, "field", "data.Amount") && strstr(err, "did you mean"),
           "%d %s", st, err);
    secucard_free(err);
    st = cp(c, "Auth", "{}", NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && eq(err, "field", "op"), "%d %s", st, err);
    secucard_free(err);
    secucard_client_free(c);

    /* HTTP 401 */
    char config[1024];
    snprintf(config, sizeof config,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false},"
             "\"cardpointe\":{\"username\":\"%s\",\"password\":\"not-the-password\",\"merchid\":\"%s\"}}",
             sb_url, cp_user, cp_mid);
    c = NULL;
    CHECK(secucard_client_new(config, &c, NULL) == SECUCARD_OK);
    st = cp(c, "inquireMerchant", NULL, NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_AUTH && eq(err, "reason", "denied") && num(err, "http_status") == 401 &&
               !strstr(err, "not-the-password"), "%d %s", st, err);
    secucard_free(err);
    secucard_client_free(c);

    /* HTTP 404 */
    snprintf(config, sizeof config,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false},"
             "\"cardpointe\":{\"url\":\"%s/cardconnect/rest/v0\",\"username\":\"%s\",\"password\":\"%s\",\"merchid\":\"%s\"}}",
             sb_url, sb_url, cp_user, cp_pass, cp_mid);
    c = NULL;
    CHECK(secucard_client_new(config, &c, NULL) == SECUCARD_OK);
    st = cp(c, "inquireMerchant", NULL, NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_API && num(err, "http_status") == 404, "%d %s", st, err);
    secucard_free(err);
    secucard_client_free(c);

    /* no cardpointe section */
    snprintf(config, sizeof config, "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false}}", sb_url);
    c = NULL;
    CHECK(secucard_client_new(config, &c, NULL) == SECUCARD_OK);
    st = cp(c, "inquireMerchant", NULL, NULL, &res, &err);
    CHECKF(st == SECUCARD_ERR_INVALID_ARGUMENT && eq(err, "field", "system"), "%d %s", st, err);
    secucard_free(err);
    secucard_client_free(c);
}

/* The recovery of a lost auth answer, with the sandbox's faults. The
 * sandbox's Gateway answers at once, so the client's Gateway answer window
 * (spec: 32 s) is short here. */
#define WINDOW(ms) ",\"timeouts\":{\"gateway_ms\":" #ms "}"

static void test_recovery(void) {
    secucard_client *c = client(WINDOW(500), "");
    char *res, *err;

    /* the connection dropped before the Gateway read the auth: the inquiry
     * says 29 (after the answer window), the auth is sent once more: one
     * approval */
    fault("{\"path\":\"/cardconnect/rest/auth\",\"drop\":\"before_read\"}");
    int st = cp(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":1234,\"orderid\":\"C-DROP-1\"}",
                NULL, &res, &err);
    CHECKF(st == SECUCARD_OK && eq(res, "respstat", "A"), "%d %s", st, err ? err : "");
    secucard_free(res);
    secucard_free(err);
    CHECK(approvals(c, "C-DROP-1") == 1);

    /* the Gateway ran the auth and the answer was lost: the inquiry's record
     * is the answer, nothing is sent again */
    fault("{\"path\":\"/cardconnect/rest/auth\",\"drop\":\"after_execute\"}");
    st = cp(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":1234,\"orderid\":\"C-LOST-1\"}",
            NULL, &res, &err);
    CHECKF(st == SECUCARD_OK && eq(res, "respstat", "A") && is_true(res, "recovered"), "%d %s", st, err ? err : res);
    secucard_free(res);
    secucard_free(err);
    CHECK(approvals(c, "C-LOST-1") == 1);
    secucard_client_free(c);

    /* the auth held past the deadline before the Gateway recorded it: the
     * first inquiry says 29, but inside the Gateway's answer window that
     * proves nothing; the inquiry after the window finds it */
    c = client(WINDOW(5000), "");
    fault("{\"path\":\"/cardconnect/rest/auth\",\"delay_ms\":1500}");
    st = cp(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":1234,\"orderid\":\"C-LATE-1\"}",
            ",\"timeout_ms\":300", &res, &err);
    CHECKF(st == SECUCARD_OK && eq(res, "respstat", "A") && is_true(res, "recovered"), "%d %s", st, err ? err : res);
    secucard_free(res);
    secucard_free(err);
    CHECK(approvals(c, "C-LATE-1") == 1);

    /* the Gateway read the auth and ran nothing, the inquiry unanswered too,
     * nothing to void: unknown, not retryable */
    fault("{\"path\":\"/cardconnect/rest/auth\",\"drop\":\"after_read\"}");
    fault("{\"path\":\"/cardconnect/rest/inquireByOrderid\",\"status\":503,\"count\":-1}");
    st = cp(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":1234,\"orderid\":\"C-GONE-1\"}",
            NULL, &res, &err);
    CHECKF(st != SECUCARD_OK && eq(err, "outcome", "unknown") && is_false(err, "retryable") &&
               eq(err, "orderid", "C-GONE-1"), "%d %s", st, err);
    secucard_free(err);
    clear_faults();
    CHECK(approvals(c, "C-GONE-1") == 0);
    secucard_client_free(c);
}

/* An async auth canceled while the Gateway holds it: CANCELED, outcome
 * unknown, with the orderid to look up. */
struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished, status;
    char err[2048];
};

static void on_done(void *ud, uint64_t id, int status, const char *result, const char *err) {
    (void)id;
    (void)result;
    struct done *d = ud;
    emit(err);
    pthread_mutex_lock(&d->mu);
    d->status = status;
    snprintf(d->err, sizeof d->err, "%s", err ? err : "");
    d->finished = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void test_cancel(void) {
    secucard_client *c = client("", "");
    fault("{\"path\":\"/cardconnect/rest/auth\",\"delay_ms\":60000}");
    struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1, ""};
    uint64_t id = 0;
    int st = secucard_call_async(c, "{\"system\":\"cardpointe\",\"op\":\"auth\",\"data\":{\"account\":\"" TOKEN
                                 "\",\"expiry\":\"" EXPIRY "\",\"amount\":100,\"orderid\":\"C-CANCEL-1\"}}",
                                 on_done, &d, &id, NULL);
    CHECK(st == SECUCARD_OK && id != 0);
    CHECK(secucard_cancel(c, id) == SECUCARD_OK);
    pthread_mutex_lock(&d.mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    while (!d.finished && pthread_cond_timedwait(&d.cv, &d.mu, &until) == 0) {
    }
    pthread_mutex_unlock(&d.mu);
    /* Canceled before the request left: not_sent (and safe to repeat);
     * after: unknown and not retryable. Never a repeat that may charge twice. */
    CHECKF(d.finished && d.status == SECUCARD_ERR_CANCELED && eq(d.err, "orderid", "C-CANCEL-1") &&
               ((eq(d.err, "outcome", "unknown") && is_false(d.err, "retryable")) || eq(d.err, "outcome", "not_sent")),
           "%d %s", d.status, d.err);
    clear_faults();
    secucard_client_free(c);
}

/* A short secret (CVV, expiry) where a leak would put it: a value of its own,
 * not four digits inside a random retref, token or orderid. */
static int standalone(const char *all, const char *secret) {
    size_t n = strlen(secret);
    for (const char *p = strstr(all, secret); p; p = strstr(p + 1, secret))
        if ((p == all || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n])) return 1;
    return 0;
}

static void test_standalone_matcher(void) {
    CHECKF(standalone("{\"cvv2\":\"7391\"}", "7391") && standalone("7391", "7391") &&
               standalone("cvv2=7391&x", "7391"), "a leak is found");
    CHECKF(!standalone("\"retref\":\"173910000012\"", "7391") && !standalone("\"orderid\":\"LSC7391ABC\"", "7391") &&
               !standalone("\"token\":\"9417391111111111\"", "7391"), "an id is not a leak");
}

/* Nothing the library emitted in the whole run carries card data. */
static void test_no_card_data(void) {
    pthread_mutex_lock(&out_mu);
    const char *all = emitted ? emitted : "";
    CHECKF(strstr(all, "request body") != NULL, "trace lines were written");
    CHECKF(strstr(all, PAN) == NULL, "a PAN was emitted");
    CHECKF(strstr(all, "4387751111111038") == NULL, "a PAN was emitted");
    CHECKF(strstr(all, "5454545454545454") == NULL, "a PAN was emitted");
    CHECKF(!standalone(all, CVV), "a CVV was emitted");
    CHECKF(!standalone(all, EXPIRY), "an expiry was emitted");
    CHECKF(strstr(all, "not-the-password") == NULL, "a password was emitted");
    pthread_mutex_unlock(&out_mu);
}

static int memcheck_flow(void) {
    current = "memcheck";
    secucard_client *c = client("", "");
    char *r = ok(c, "tokenize", "{\"account\":\"" PAN "\"}");
    secucard_free(r);
    r = ok(c, "auth", "{\"account\":\"" TOKEN "\",\"expiry\":\"" EXPIRY "\",\"amount\":100,\"capture\":true}");
    secucard_free(r);
    char *res, *err;
    CHECK(cp(c, "auth", "{\"account\":\"4387751111111038\",\"amount\":100}", NULL, &res, &err) == SECUCARD_ERR_DECLINED);
    secucard_free(err);
    secucard_client_free(c);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* ------------------------------------------------------------------- main */

#define RUN(fn) do { current = #fn; fn(); } while (0)

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *line = getenv("SECUCARD_SANDBOX");
    sb_url = str(line, "sandbox_url");
    sb_admin = str(line, "admin_url");
    sb_id = str(line, "client_id");
    sb_secret = str(line, "client_secret");
    cp_user = str(line, "cardpointe_username");
    cp_pass = str(line, "cardpointe_password");
    cp_mid = str(line, "cardpointe_merchid");
    if (!sb_url || !sb_admin || !sb_id || !sb_secret || !cp_user || !cp_pass || !cp_mid) {
        fprintf(stderr, "ctest-cardpointe: set SECUCARD_SANDBOX (run it through examples/c/with-sandbox.sh)\n");
        return 2;
    }
    int rc;
    if (argc > 1 && strcmp(argv[1], "--memcheck") == 0) {
        rc = memcheck_flow();
    } else {
        RUN(test_operations);
        RUN(test_amounts);
        RUN(test_outcomes);
        RUN(test_recovery);
        RUN(test_cancel);
        RUN(test_standalone_matcher);
        RUN(test_no_card_data);
        printf("%d passed, %d failed\n", passed, failed);
        rc = failed ? 1 : 0;
    }
    free(sb_url);
    free(sb_admin);
    free(sb_id);
    free(sb_secret);
    free(cp_user);
    free(cp_pass);
    free(cp_mid);
    free(emitted);
    return rc;
}
