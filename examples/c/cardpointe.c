/*
 * cardpointe.c - a card sale through the CardPointe Gateway with libsecucard:
 * tokenize the card, sell against the token, look the sale up, void it, sell
 * again, and refund that sale once it has settled.
 *
 * Build:  cc -Wall -Wextra -o cardpointe cardpointe.c -I$BUILD_DIR -L$BUILD_DIR -lsecucard -Wl,-rpath,$BUILD_DIR
 * Run:    SECUCARD_SANDBOX='<the JSON line secucard-sandbox printed>' ./cardpointe
 *         (`make run-cardpointe` in this directory starts a sandbox and does that)
 *
 * The card number crosses the library once, in the tokenize call; every later
 * request names the CardSecure token. Amounts are integers of minor units
 * (cents): 1999 is 19.99. Against the real Gateway the config's "cardpointe"
 * section names its site instead of the sandbox's URL:
 *   "cardpointe": {"site": "fts", "uat": true, "username": "...", "password": "...",
 *                  "merchid": "..."}
 * and settlement happens in the Gateway's nightly batch, not through the
 * sandbox's admin call this example uses to get there at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secucard.h"
#include "example_util.h"

/* cp sends one CardPointe request. On failure it prints what a till needs:
 * the status, what the Gateway said and whether repeating is safe. */
static char *cp(secucard_client *c, const char *op, const char *data) {
    char req[1024];
    snprintf(req, sizeof req, "{\"system\":\"cardpointe\",\"op\":\"%s\",\"data\":%s}", op, data);
    char *res = NULL, *err = NULL;
    int st = secucard_call(c, req, &res, &err);
    if (st == SECUCARD_OK) return res;
    char *text = ex_json_top_str(err, "resptext"), *outcome = ex_json_top_str(err, "outcome");
    char *orderid = ex_json_top_str(err, "orderid");
    const char *retryable = strstr(err, "\"retryable\":true") ? "yes" : "no";
    fprintf(stderr, "%s failed: %s (status %d)\n  gateway says: %s\n  outcome: %s, safe to repeat: %s%s%s\n  %s\n", op,
            secucard_strerror(st), st, text ? text : "-", outcome ? outcome : "-", retryable,
            orderid ? ", orderid " : "", orderid ? orderid : "", err);
    free(text);
    free(outcome);
    free(orderid);
    secucard_free(err);
    return NULL;
}

/* show prints a few fields of an answer. */
static void show(const char *what, const char *json, const char *const *keys) {
    printf("%-10s", what);
    for (; *keys; keys++) {
        char *v = ex_json_top_str(json, *keys);
        if (v) printf(" %s=%s", *keys, v);
        free(v);
    }
    printf("\n");
}

int main(void) {
    const char *line = getenv("SECUCARD_SANDBOX");
    char *gw = ex_json_top_str(line, "cardpointe_url"), *user = ex_json_top_str(line, "cardpointe_username");
    char *pass = ex_json_top_str(line, "cardpointe_password"), *mid = ex_json_top_str(line, "cardpointe_merchid");
    char *admin = ex_json_top_str(line, "admin_url");
    if (!gw || !user || !pass || !mid || !admin) {
        fprintf(stderr, "cardpointe: set SECUCARD_SANDBOX to the JSON line secucard-sandbox printed\n");
        return 2;
    }
    char config[1024];
    snprintf(config, sizeof config,
             "{\"cardpointe\":{\"url\":\"%s\",\"username\":\"%s\",\"password\":\"%s\",\"merchid\":\"%s\"}}", gw, user, pass,
             mid);
    secucard_client *c = NULL;
    char *err = NULL;
    if (secucard_client_new(config, &c, &err) != SECUCARD_OK) {
        fprintf(stderr, "client_new: %s\n", err);
        secucard_free(err);
        return 1;
    }
    int rc = 1;
    char *tok = NULL, *sale = NULL, *sale2 = NULL, *r = NULL, *token = NULL, *retref = NULL, *retref2 = NULL;
    char data[512];
    static const char *const sale_keys[] = {"respstat", "resptext", "amount", "authcode", "retref", "orderid", NULL};

    /* 1. Tokenize the keyed card: from here on only the token travels. */
    tok = cp(c, "tokenize", "{\"account\":\"4111111111111111\",\"expiry\":\"1230\",\"cvv\":\"123\"}");
    if (!tok) goto out;
    token = ex_json_top_str(tok, "token");
    printf("%-10s token=%s\n", "tokenize", token);

    /* 2. A sale of 19.99 (authorize and capture in one). */
    snprintf(data, sizeof data, "{\"account\":\"%s\",\"expiry\":\"1230\",\"amount\":1999,\"capture\":true}", token);
    sale = cp(c, "auth", data);
    if (!sale) goto out;
    show("sale", sale, sale_keys);
    retref = ex_json_top_str(sale, "retref");

    /* 3. Look it up, then 4. void it: not settled yet, so a void cancels it. */
    snprintf(data, sizeof data, "{\"retref\":\"%s\"}", retref);
    if (!(r = cp(c, "inquire", data))) goto out;
    show("inquire", r, (const char *const[]){"setlstat", "voidable", "refundable", NULL});
    secucard_free(r);
    if (!(r = cp(c, "void", data))) goto out;
    show("void", r, (const char *const[]){"respstat", "resptext", "authcode", NULL});
    secucard_free(r);

    /* 5. Another sale, 6. settled (the sandbox's admin call stands in for the
     * Gateway's nightly batch), 7. then refunded in part: 5.00 of 25.00. */
    snprintf(data, sizeof data, "{\"account\":\"%s\",\"expiry\":\"1230\",\"amount\":2500,\"capture\":true}", token);
    sale2 = cp(c, "auth", data);
    if (!sale2) goto out;
    show("sale", sale2, sale_keys);
    retref2 = ex_json_top_str(sale2, "retref");
    char url[512];
    snprintf(url, sizeof url, "%s/cardpointe/settle", admin);
    if (ex_http("POST", url, "{}") != 200) {
        fprintf(stderr, "settle: the sandbox's admin call failed\n");
        goto out;
    }
    snprintf(data, sizeof data, "{\"retref\":\"%s\"}", retref2);
    if (!(r = cp(c, "inquire", data))) goto out;
    show("settled", r, (const char *const[]){"setlstat", "voidable", "refundable", NULL});
    secucard_free(r);
    snprintf(data, sizeof data, "{\"retref\":\"%s\",\"amount\":500}", retref2);
    if (!(r = cp(c, "refund", data))) goto out;
    show("refund", r, (const char *const[]){"respstat", "resptext", "amount", "retref", NULL});
    int refunded = strstr(r, "\"respstat\":\"A\"") != NULL;
    secucard_free(r);
    if (!refunded) goto out;
    printf("done: sold, voided, sold again, settled and refunded 5.00\n");
    rc = 0;
out:
    secucard_free(tok);
    secucard_free(sale);
    secucard_free(sale2);
    free(token);
    free(retref);
    free(retref2);
    secucard_client_free(c);
    free(gw);
    free(user);
    free(pass);
    free(mid);
    free(admin);
    return rc;
}
