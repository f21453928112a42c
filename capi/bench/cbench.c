/*
 * cbench.c - the C worker of `make bench` (gobench starts it; see
 * gobench/workers.go for the protocol).
 *
 *   cbench sync           secucard_call from N threads
 *   cbench async          secucard_call_async from N threads, each waiting
 *                         for its completion callback
 *   cbench push-callback  report pushed events from the event callback
 *   cbench push-next      report pushed events from a secucard_next_event loop
 *
 * Environment: BENCH_CONFIG (client config JSON), BENCH_GET and BENCH_POST
 * (the workload's two request objects; callers alternate them).
 * Build: see Makefile (cc -O2 ... -lsecucard -lpthread).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "secucard.h"
#include "example_util.h"

static secucard_client *client;
static const char *requests[2];
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_mu);
    vprintf(fmt, ap);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
    va_end(ap);
}

/* ------------------------------------------------------------ calls */

struct done_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
};

static void on_done(void *ud, uint64_t id, int status, const char *result, const char *err) {
    (void)id, (void)result, (void)err;
    struct done_wait *d = ud;
    pthread_mutex_lock(&d->mu);
    d->done = 1;
    d->status = status;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static int async_mode;

static int one_call(int post, struct done_wait *d) {
    const char *req = requests[post];
    if (!async_mode) {
        char *res = NULL, *err = NULL;
        int st = secucard_call(client, req, &res, &err);
        secucard_free(res);
        secucard_free(err);
        return st;
    }
    d->done = 0;
    if (secucard_call_async(client, req, on_done, d, NULL, NULL) != SECUCARD_OK) return -1;
    pthread_mutex_lock(&d->mu);
    while (!d->done) pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
    return d->status;
}

struct caller {
    pthread_t t;
    int calls, errors;
};

static void *caller_main(void *p) {
    struct caller *c = p;
    struct done_wait d;
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    for (int j = 0; j < c->calls; j++)
        if (one_call(j % 2, &d) != SECUCARD_OK) c->errors++;
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
    return NULL;
}

static void self_usage(int64_t *cpu_ns, int64_t *csw) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu_ns = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
              ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    *csw = ru.ru_nvcsw + ru.ru_nivcsw;
}

/* run_calls makes n calls from `callers` threads; returns the error count. */
static int run_calls(int n, int callers, int64_t *wall, int64_t *cpu, int64_t *csw) {
    struct caller cs[64];
    if (callers > 64) callers = 64;
    int64_t cpu0, csw0, t0 = mono_ns();
    self_usage(&cpu0, &csw0);
    for (int i = 0; i < callers; i++) {
        cs[i].calls = n / callers + (i < n % callers);
        cs[i].errors = 0;
        pthread_create(&cs[i].t, NULL, caller_main, &cs[i]);
    }
    int errors = 0;
    for (int i = 0; i < callers; i++) {
        pthread_join(cs[i].t, NULL);
        errors += cs[i].errors;
    }
    *wall = mono_ns() - t0;
    self_usage(cpu, csw);
    *cpu -= cpu0;
    *csw -= csw0;
    return errors;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static int serve_calls(void) {
    struct caller warm = {.calls = 200}; /* token, connections */
    caller_main(&warm);
    if (warm.errors) {
        fprintf(stderr, "cbench: warm-up calls failed\n");
        return 1;
    }
    say("ready\n");
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        int n, callers;
        int64_t wall, cpu, csw;
        if (sscanf(line, "calls %d %d", &n, &callers) == 2) {
            int errors = run_calls(n, callers, &wall, &cpu, &csw);
            say("result calls=%d errors=%d wall_ns=%lld cpu_ns=%lld csw=%lld\n", n, errors, (long long)wall,
                (long long)cpu, (long long)csw);
        } else if (sscanf(line, "rss %d %d", &n, &callers) == 2) {
            int errors = run_calls(n, callers, &wall, &cpu, &csw);
            say("rss calls=%d errors=%d rss_kb=%ld\n", n, errors, rss_kb());
        } else {
            fprintf(stderr, "cbench: bad command %s", line);
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------- push */

static void report_event(const char *ev, int64_t t) {
    char *kind = ex_json_top_str(ev, "kind");
    if (kind && strcmp(kind, "push") == 0) {
        char *id = ex_json_top_str(ev, "id");
        say("event %s %lld\n", id ? id : "?", (long long)t);
        free(id);
    }
    free(kind);
}

static void on_event(void *ud, const char *ev) {
    int64_t t = mono_ns(); /* the first line of the host's callback */
    (void)ud;
    report_event(ev, t);
}

static void *next_loop(void *p) {
    (void)p;
    for (;;) {
        char *ev = NULL;
        int st = secucard_next_event(client, -1, &ev);
        int64_t t = mono_ns(); /* the first line after the call returned */
        if (st != SECUCARD_OK) break;
        report_event(ev, t);
        secucard_free(ev);
    }
    return NULL;
}

static int serve_push(int next) {
    pthread_t t;
    if (!next && secucard_set_event_callback(client, on_event, NULL) != SECUCARD_OK) return 1;
    char *err = NULL;
    if (secucard_client_open(client, &err) != SECUCARD_OK) {
        fprintf(stderr, "cbench: open: %s\n", err ? err : "?");
        return 1;
    }
    if (next) pthread_create(&t, NULL, next_loop, NULL);
    say("ready\n");
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
    }
    secucard_client_close(client, NULL); /* ends next_loop with CLOSED */
    if (next) pthread_join(t, NULL);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    const char *config = getenv("BENCH_CONFIG");
    requests[0] = getenv("BENCH_GET");
    requests[1] = getenv("BENCH_POST");
    if (!config || !requests[0] || !requests[1]) {
        fprintf(stderr, "cbench: BENCH_CONFIG, BENCH_GET and BENCH_POST must be set (gobench starts cbench)\n");
        return 2;
    }
    char *err = NULL;
    if (secucard_client_new(config, &client, &err) != SECUCARD_OK) {
        fprintf(stderr, "cbench: client_new: %s\n", err ? err : "?");
        return 1;
    }
    int rc;
    if (strcmp(mode, "sync") == 0) rc = serve_calls();
    else if (strcmp(mode, "async") == 0) async_mode = 1, rc = serve_calls();
    else if (strcmp(mode, "push-callback") == 0) rc = serve_push(0);
    else if (strcmp(mode, "push-next") == 0) rc = serve_push(1);
    else {
        fprintf(stderr, "usage: cbench sync|async|push-callback|push-next\n");
        rc = 2;
    }
    secucard_client_free(client);
    return rc;
}
