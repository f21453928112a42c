/*
 * cbench.c - the C side of `make bench`: secucard_call latency and
 * throughput from C threads, and the cost of calls that do no I/O. It prints
 * one result per line ("name key=value ..."); gobench reads them and prints
 * the table.
 *
 * Usage: SECUCARD_SANDBOX='<sandbox JSON line>' cbench CALLS_PER_CALLER
 *        SECUCARD_SANDBOX='<sandbox JSON line>' BENCH_RECEIPT='[...]' cbench --boundary
 * Build: see Makefile (cc -O2 ... -lsecucard -lpthread).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "secucard.h"
#include "example_util.h"

static const char *get_req = "{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}";

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct worker {
    secucard_client *client;
    int calls;
    double *lat; /* microseconds, one per call */
    int errors;
};

static void *work(void *p) {
    struct worker *w = p;
    for (int i = 0; i < w->calls; i++) {
        char *res = NULL, *err = NULL;
        double t0 = now_us();
        int st = secucard_call(w->client, get_req, &res, &err);
        w->lat[i] = now_us() - t0;
        if (st != SECUCARD_OK) w->errors++;
        secucard_free(res);
        secucard_free(err);
    }
    return NULL;
}

/* run_calls measures `callers` threads doing `per` calls each on one client
 * and prints the wall time and every latency, so gobench can pool rounds. */
static double cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void run_calls(secucard_client *c, int callers, int per) {
    struct worker ws[16];
    pthread_t ts[16];
    double *all = malloc(sizeof(double) * (size_t)callers * (size_t)per);
    double cpu0 = cpu_us();
    double t0 = now_us();
    for (int i = 0; i < callers; i++) {
        ws[i] = (struct worker){c, per, all + (size_t)i * (size_t)per, 0};
        pthread_create(&ts[i], NULL, work, &ws[i]);
    }
    int errors = 0;
    for (int i = 0; i < callers; i++) {
        pthread_join(ts[i], NULL);
        errors += ws[i].errors;
    }
    double elapsed = now_us() - t0, cpu = cpu_us() - cpu0;
    size_t n = (size_t)callers * (size_t)per;
    printf("c_call callers=%d elapsed_us=%.0f cpu_us=%.0f errors=%d lat_us=", callers, elapsed, cpu, errors);
    for (size_t i = 0; i < n; i++) printf("%s%.1f", i ? "," : "", all[i]);
    printf("\n");
    free(all);
}

int main(int argc, char **argv) {
    const char *line = getenv("SECUCARD_SANDBOX");
    char *url = ex_json_top_str(line, "sandbox_url");
    char *id = ex_json_top_str(line, "client_id"), *secret = ex_json_top_str(line, "client_secret");
    int boundary = argc > 1 && strcmp(argv[1], "--boundary") == 0;
    int per = argc > 1 && !boundary ? atoi(argv[1]) : 0;
    if (!url || !id || !secret || (!boundary && per <= 0)) {
        fprintf(stderr, "usage: SECUCARD_SANDBOX=... cbench CALLS_PER_CALLER | --boundary\n");
        return 2;
    }
    char config[1024];
    snprintf(config, sizeof config,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false},"
             "\"credentials\":{\"client_id\":\"%s\",\"client_secret\":\"%s\"}}", url, id, secret);
    secucard_client *c = NULL;
    char *err = NULL;
    if (secucard_client_new(config, &c, &err) != SECUCARD_OK) {
        fprintf(stderr, "cbench: client_new: %s\n", err ? err : "?");
        return 1;
    }

    if (!boundary) {
        struct worker warm = {c, 200, malloc(sizeof(double) * 200), 0}; /* token, connections */
        work(&warm);
        free(warm.lat);
        if (warm.errors) {
            fprintf(stderr, "cbench: warm-up calls failed\n");
            return 1;
        }
        run_calls(c, 1, per);
        run_calls(c, 8, per / 4 > 0 ? per / 4 : 1);
    } else {
        /* No I/O: stats of an idle client, a receipt, an empty export. The
         * minimum of several batches is the estimate least moved by other
         * load on the machine. */
        const char *receipt = getenv("BENCH_RECEIPT"); /* the same JSON gobench formats in Go */
        if (!receipt) receipt = "[{\"type\":\"textline\",\"value\":{\"text\":\"x\"}}]";
        double best_stats = 1e18, best_receipt = 1e18, best_noop = 1e18;
        for (int batch = 0; batch < 5; batch++) {
            int iters = 5000;
            double t0 = now_us();
            for (int i = 0; i < iters; i++) {
                char *s = NULL;
                secucard_client_stats(c, &s);
                secucard_free(s);
            }
            double v = (now_us() - t0) / iters;
            if (v < best_stats) best_stats = v;

            iters = 300;
            t0 = now_us();
            for (int i = 0; i < iters; i++) {
                char *text = NULL;
                secucard_format_receipt(receipt, 40, &text, NULL);
                secucard_free(text);
            }
            v = (now_us() - t0) / iters;
            if (v < best_receipt) best_receipt = v;

            volatile int sink = 0;
            iters = 200000;
            t0 = now_us();
            for (int i = 0; i < iters; i++) sink += secucard_version_number();
            v = (now_us() - t0) / iters;
            if (v < best_noop) best_noop = v;
        }
        printf("c_stats per_call_us=%.3f\n", best_stats);
        printf("c_receipt per_call_us=%.3f\n", best_receipt);
        printf("c_noop per_call_us=%.4f\n", best_noop);
    }

    secucard_client_free(c);
    free(url);
    free(id);
    free(secret);
    return 0;
}
