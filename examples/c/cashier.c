/*
 * cashier.c - the libsecucard demo: a till takes a payment.
 *
 * It authorizes the till (device flow: shows a code for a person to approve),
 * lists the ident types, books a basket as a smart transaction, starts it as a
 * demo payment, shows the terminal's display texts as they arrive, prints the
 * receipt, and closes.
 *
 * Build:  cc -Wall -Wextra -o cashier cashier.c -I$BUILD_DIR -L$BUILD_DIR -lsecucard -Wl,-rpath,$BUILD_DIR
 * Run:    ./cashier config.json          (or SECUCARD_CONFIG=config.json, or SECUCARD_CONFIG_JSON='{...}')
 *         `make demo` in this directory starts a sandbox and runs it.
 *
 * Exit status: 0 when the payment was approved or declined (a declined demo
 * payment is a normal outcome), 1 when anything else failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secucard.h"
#include "example_util.h"

#define RECEIPT_WIDTH 40

/* Prints a library error: status name plus the error JSON's message. */
static void print_error(const char *what, int status, char *err_json) {
    char *msg = ex_json_top_str(err_json, "message");
    fprintf(stderr, "cashier: %s failed: %s (%d): %s\n", what, secucard_strerror(status), status,
            msg ? msg : "(no details)");
    free(msg);
    secucard_free(err_json);
}

/* Events arrive on a library thread, one at a time, in order. */
static void on_event(void *user_data, const char *event_json) {
    (void)user_data;
    char *kind = ex_json_top_str(event_json, "kind");
    char *state = ex_json_top_str(event_json, "state");
    if (kind && strcmp(kind, "auth") == 0 && state && strcmp(state, "device_code") == 0) {
        char *code = ex_json_top_str(event_json, "user_code");
        char *url = ex_json_top_str(event_json, "verification_url");
        printf("\n  ==============================================\n"
               "   ACTIVATE THIS TILL\n"
               "   open  %s\n"
               "   code  %s\n"
               "   (the code is valid for %lld s)\n"
               "  ==============================================\n\n",
               url ? url : "?", code ? code : "?", ex_json_long(event_json, "expires_in", 0));
        free(code);
        free(url);
    } else if (kind && strcmp(kind, "auth") == 0 && state) {
        printf("  [auth] %s\n", state);
    } else if (kind && strcmp(kind, "push") == 0) {
        char *target = ex_json_top_str(event_json, "target");
        char *type = ex_json_top_str(event_json, "type");
        if (target && type && strcmp(target, "general.notifications") == 0 && strcmp(type, "display") == 0) {
            char *text = ex_json_str(event_json, "text");
            printf("  [terminal] %s\n", text ? text : "");
            free(text);
        }
        free(target);
        free(type);
    } else if (kind && strcmp(kind, "dropped") == 0) {
        printf("  [events] %lld events were dropped\n", ex_json_long(event_json, "count", 0));
    }
    fflush(stdout);
    free(kind);
    free(state);
}

/* Display width of UTF-8 text: counts characters, not bytes. */
static int utf8_width(const char *s, size_t n) {
    int w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) w++;
    return w;
}

/* Prints text inside a till-like frame of RECEIPT_WIDTH columns. */
static void print_framed(const char *text) {
    printf("  +");
    for (int i = 0; i < RECEIPT_WIDTH + 2; i++) putchar('-');
    printf("+\n");
    const char *line = text;
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        int pad = RECEIPT_WIDTH - utf8_width(line, n);
        printf("  | %.*s%*s |\n", (int)n, line, pad > 0 ? pad : 0, "");
        if (!nl) break;
        line = nl + 1;
    }
    printf("  +");
    for (int i = 0; i < RECEIPT_WIDTH + 2; i++) putchar('-');
    printf("+\n");
}

static char *load_config(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("SECUCARD_CONFIG");
    if (path && *path) {
        char *cfg = ex_read_file(path);
        if (!cfg) fprintf(stderr, "cashier: cannot read config file %s\n", path);
        return cfg;
    }
    const char *json = getenv("SECUCARD_CONFIG_JSON");
    if (json && *json) return strdup(json);
    fprintf(stderr, "usage: cashier CONFIG.json   (or set SECUCARD_CONFIG or SECUCARD_CONFIG_JSON)\n");
    return NULL;
}

/* Picks the first ident of type "card" from the list answer. */
static char *pick_card_ident(const char *list_json) {
    char *data = ex_json_raw(list_json, "data");
    char *found = NULL;
    const char *cur = data;
    char *item;
    printf("  ident types:\n");
    while (cur && (item = ex_array_next(&cur)) != NULL) {
        char *id = ex_json_top_str(item, "id"), *type = ex_json_top_str(item, "type"),
             *name = ex_json_top_str(item, "name");
        printf("    %-6s %-8s %s\n", id ? id : "?", type ? type : "?", name ? name : "");
        if (!found && type && strcmp(type, "card") == 0 && id) {
            found = id;
            id = NULL;
        }
        free(id);
        free(type);
        free(name);
        free(item);
    }
    free(data);
    return found;
}

int main(int argc, char **argv) {
    char *config = load_config(argc, argv);
    if (!config) return 1;
    if (secucard_abi_version() != SECUCARD_ABI_VERSION) {
        fprintf(stderr, "cashier: library ABI %d, header ABI %d: rebuild against the library's header\n",
                secucard_abi_version(), SECUCARD_ABI_VERSION);
        free(config);
        return 1;
    }
    printf("libsecucard %s - cashier demo\n", secucard_version());

    int rc = 1, st;
    char *err = NULL, *res = NULL, *card_ident = NULL, *tx_id = NULL, *receipt = NULL;
    secucard_client *client = NULL;

    st = secucard_client_new(config, &client, &err);
    free(config);
    if (st != SECUCARD_OK) { print_error("client_new", st, err); return 1; }
    secucard_set_event_callback(client, on_event, NULL);

    printf("authorizing the till ...\n");
    st = secucard_client_open(client, &err);
    if (st != SECUCARD_OK) { print_error("open", st, err); goto done; }
    printf("till authorized.\n\n");

    st = secucard_call(client, "{\"resource\":\"smart.idents\",\"op\":\"list\"}", &res, &err);
    if (st != SECUCARD_OK) { print_error("list smart.idents", st, err); goto done; }
    card_ident = pick_card_ident(res);
    secucard_free(res);
    res = NULL;
    if (!card_ident) { fprintf(stderr, "cashier: no card ident type offered\n"); goto done; }

    /* Amounts are cents. 349 + 4 x 45 + 450 = 979; the croissant is part of
     * the breakfast bundle (parent 3) and costs nothing on its own. */
    char request[2048];
    snprintf(request, sizeof request,
             "{\"resource\":\"smart.transactions\",\"op\":\"create\",\"data\":{"
             "\"merchantRef\":\"Kasse 1\",\"transactionRef\":\"BON-%ld\","
             "\"basket_info\":{\"sum\":979,\"currency\":\"EUR\"},"
             "\"basket\":{\"products\":["
             "{\"id\":1,\"articleNumber\":\"3001\",\"ean\":\"4006381333931\",\"desc\":\"Roggenbrot 750 g\",\"quantity\":1,\"priceOne\":349,\"tax\":7},"
             "{\"id\":2,\"articleNumber\":\"3105\",\"ean\":\"4006381333948\",\"desc\":\"Weizenbr\\u00f6tchen\",\"quantity\":4,\"priceOne\":45,\"tax\":7},"
             "{\"id\":3,\"articleNumber\":\"9001\",\"ean\":\"4006381333955\",\"desc\":\"Fr\\u00fchst\\u00fccksmen\\u00fc\",\"quantity\":1,\"priceOne\":450,\"tax\":7},"
             "{\"id\":4,\"parent\":3,\"articleNumber\":\"3201\",\"ean\":\"4006381333962\",\"desc\":\"Butter-Croissant\",\"quantity\":1,\"priceOne\":0,\"tax\":7}"
             "],\"texts\":[]},"
             "\"idents\":[{\"id\":\"%s\",\"type\":\"card\",\"value\":\"9276000000000016\"}]}}",
             (long)time(NULL), card_ident);
    st = secucard_call(client, request, &res, &err);
    if (st != SECUCARD_OK) { print_error("create smart.transactions", st, err); goto done; }
    tx_id = ex_json_top_str(res, "id");
    printf("\n  transaction %s created: 9,79 EUR\n", tx_id ? tx_id : "?");
    secucard_free(res);
    res = NULL;
    if (!tx_id) { fprintf(stderr, "cashier: the created transaction has no id\n"); goto done; }

    printf("  starting the payment (demo terminal) ...\n");
    snprintf(request, sizeof request,
             "{\"resource\":\"smart.transactions\",\"op\":\"execute\",\"id\":\"%s\",\"action\":\"start\",\"arg\":\"demo\"}",
             tx_id);
    st = secucard_call(client, request, &res, &err);
    if (st == SECUCARD_ERR_DECLINED) {
        /* Not paid. The error JSON carries the transaction and its receipt:
         * print it like the receipt of a payment. */
        char *reason = ex_json_top_str(err, "reason");
        char *msg = ex_json_top_str(err, "message");
        printf("\n  *** PAYMENT DECLINED (%s): %s ***\n\n", reason ? reason : "?", msg ? msg : "");
        free(reason);
        free(msg);
        res = err; /* secucard_format_receipt takes the declined error JSON too */
        err = NULL;
    } else if (st != SECUCARD_OK) {
        print_error("start", st, err);
        goto done;
    } else {
        char *status = ex_json_top_str(res, "status");
        /* SECUCARD_OK means paid; a status the library does not know is
         * passed through, so say which it was. */
        printf("\n  *** PAYMENT APPROVED (%s) ***\n\n", status ? status : "?");
        free(status);
    }

    st = secucard_format_receipt(res, RECEIPT_WIDTH, &receipt, &err);
    if (st == SECUCARD_OK) {
        print_framed(receipt);
        secucard_free(receipt);
    } else {
        print_error("format_receipt", st, err);
        goto done;
    }
    rc = 0;

done:
    secucard_free(res);
    if (client) {
        secucard_client_close(client, NULL);
        char *stats = NULL;
        if (secucard_client_stats(client, &stats) == SECUCARD_OK) {
            printf("\n  stats: %s\n", stats);
            secucard_free(stats);
        }
        secucard_client_free(client);
    }
    free(card_ident);
    free(tx_id);
    return rc;
}
