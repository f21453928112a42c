/*
 * errors.c - provoke each class of libsecucard error against a local sandbox
 * and print what a host gets back: the status code and the error JSON.
 *
 * Build:  cc -Wall -Wextra -o errors errors.c -I$BUILD_DIR -L$BUILD_DIR -lsecucard -Wl,-rpath,$BUILD_DIR
 * Run:    SECUCARD_SANDBOX='<the JSON line secucard-sandbox printed>' ./errors
 *         (`make run-errors` in this directory starts a sandbox and does that)
 *
 * Everything stays on loopback: the timeout is a delay fault armed through the
 * sandbox's admin API, the network error a port nothing listens on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "secucard.h"
#include "example_util.h"

static int failures;

/* show prints one outcome and checks it is the expected status. */
static void show(const char *title, int want, int got, char *err_json) {
    char *type = ex_json_top_str(err_json, "type"), *field = ex_json_top_str(err_json, "field");
    char *msg = ex_json_top_str(err_json, "message");
    printf("%-28s -> %2d %-22s type=%s%s%s\n", title, got, secucard_strerror(got), type ? type : "-",
           field ? " field=" : "", field ? field : "");
    if (msg) printf("%28s    %s\n", "", msg);
    if (err_json) printf("%28s    %s\n", "", err_json);
    if (got != want) {
        printf("%28s    !! expected %d (%s)\n", "", want, secucard_strerror(want));
        failures++;
    }
    free(type);
    free(field);
    free(msg);
    secucard_free(err_json);
}

static secucard_client *client_for(const char *url, const char *id, const char *secret, const char *extra) {
    char config[1024];
    snprintf(config, sizeof config,
             "{\"environment\":\"sandbox\",\"sandbox_url\":\"%s\",\"stomp\":{\"enabled\":false},"
             "\"retry\":{\"max_attempts\":1},\"credentials\":{\"client_id\":\"%s\",\"client_secret\":\"%s\"}%s}",
             url, id, secret, extra);
    secucard_client *c = NULL;
    char *err = NULL;
    int st = secucard_client_new(config, &c, &err);
    if (st != SECUCARD_OK) show("client_new", SECUCARD_OK, st, err);
    return c;
}

/* closed_port returns a loopback port nothing listens on (bound, then closed). */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t n = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || getsockname(fd, (struct sockaddr *)&sa, &n) != 0) {
        if (fd >= 0) close(fd);
        return 1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

int main(void) {
    const char *line = getenv("SECUCARD_SANDBOX");
    char *url = ex_json_top_str(line, "sandbox_url"), *admin = ex_json_top_str(line, "admin_url");
    char *id = ex_json_top_str(line, "client_id"), *secret = ex_json_top_str(line, "client_secret");
    if (!url || !admin || !id || !secret) {
        fprintf(stderr, "errors: set SECUCARD_SANDBOX to the JSON line secucard-sandbox printed\n");
        return 1;
    }
    const char *list = "{\"resource\":\"smart.idents\",\"op\":\"list\"}";
    char *res = NULL, *err = NULL;
    int st;

    /* invalid argument: the error names the field */
    secucard_client *c = NULL;
    st = secucard_client_new("{\"environment\":\"sandbox\",\"sandbox_url\":\"http://127.0.0.1:1\",\"retries\":3}", &c, &err);
    show("unknown config key", SECUCARD_ERR_INVALID_ARGUMENT, st, err);

    c = client_for(url, id, secret, "");
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"fetch\"}", &res, &err);
    show("unknown op", SECUCARD_ERR_INVALID_ARGUMENT, st, err);
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\",\"query\":{\"count\":\"10\"}}", &res, &err);
    show("wrong type", SECUCARD_ERR_INVALID_ARGUMENT, st, err);
    st = secucard_call(c, "{\"resource\":\"smart.transaction\",\"op\":\"list\"}", &res, &err);
    show("unknown resource", SECUCARD_ERR_INVALID_ARGUMENT, st, err);

    /* api: the server's error envelope (404 for an unknown id) */
    st = secucard_call(c, "{\"resource\":\"smart.transactions\",\"op\":\"get\",\"id\":\"STX_NOSUCHTRANSACTION00000000000001\"}", &res, &err);
    show("api error (unknown id)", SECUCARD_ERR_API, st, err);

    /* timeout: the sandbox holds the answer back longer than timeout_ms */
    char faults[512];
    snprintf(faults, sizeof faults, "%s/faults", admin);
    if (ex_http("POST", faults, "{\"path\":\"/smart/idents\",\"delay_ms\":1500,\"count\":1}") != 200)
        fprintf(stderr, "errors: could not arm the delay fault at %s\n", faults);
    st = secucard_call(c, "{\"resource\":\"smart.idents\",\"op\":\"list\",\"timeout_ms\":300}", &res, &err);
    show("timeout (delay fault)", SECUCARD_ERR_TIMEOUT, st, err);
    ex_http("DELETE", faults, NULL);

    /* closed: every call after close */
    secucard_client_close(c, NULL);
    st = secucard_call(c, list, &res, &err);
    show("closed client", SECUCARD_ERR_CLOSED, st, err);

    /* invalid handle: freed, or never a handle */
    secucard_client_free(c);
    st = secucard_call(c, list, &res, &err);
    show("freed handle", SECUCARD_ERR_INVALID_HANDLE, st, err);
    st = secucard_call(NULL, list, &res, &err);
    show("NULL handle", SECUCARD_ERR_INVALID_HANDLE, st, err);

    /* auth: a wrong client secret (it never appears in the error) */
    c = client_for(url, id, "not-the-right-secret", "");
    st = secucard_call(c, list, &res, &err);
    show("auth (bad secret)", SECUCARD_ERR_AUTH, st, err);
    secucard_client_free(c);

    /* network: a loopback port nothing listens on */
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
    c = client_for(dead, id, secret, "");
    st = secucard_call(c, list, &res, &err);
    show("network (closed port)", SECUCARD_ERR_NETWORK, st, err);
    secucard_client_free(c);

    free(url);
    free(admin);
    free(id);
    free(secret);
    printf("\n%s\n", failures ? "some outcomes were not the expected ones" : "every error class came out as expected");
    return failures ? 1 : 0;
}
