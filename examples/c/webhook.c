/*
 * webhook.c - feed a body your own webhook endpoint received into libsecucard
 * and read it back as an event, the way a firmware main loop without
 * callbacks would (secucard_next_event).
 *
 * Build:  cc -Wall -Wextra -o webhook webhook.c -I$BUILD_DIR -L$BUILD_DIR -lsecucard -Wl,-rpath,$BUILD_DIR
 * Run:    ./webhook [BODY.json]     (without a file a sample display event is used)
 *
 * No network is needed: a client does no I/O until it authenticates, and
 * handing in a webhook body does not authenticate. (secucard does not sign
 * webhook bodies; only feed bodies your endpoint trusts.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secucard.h"
#include "example_util.h"

static const char *sample =
    "{\"object\":\"event.pushes\",\"id\":\"EPS_9TQ3WKEX7C2M5RNB8AVZLD4H6JPYFS\","
    "\"created\":\"2026-11-23T10:00:00+01:00\",\"target\":\"general.notifications\","
    "\"type\":\"display\",\"data\":{\"text\":\"Bitte Karte einstecken\"}}";

int main(int argc, char **argv) {
    char *body = argc > 1 ? ex_read_file(argv[1]) : NULL;
    if (argc > 1 && !body) {
        fprintf(stderr, "webhook: cannot read %s\n", argv[1]);
        return 1;
    }
    /* Any valid config will do; the client never connects here. */
    const char *config = "{\"environment\":\"custom\",\"oauth_url\":\"https://connect.secucard.com/oauth/token\","
                         "\"rest_url\":\"https://connect.secucard.com/api/v2\",\"stomp\":{\"enabled\":false}}";
    secucard_client *client = NULL;
    char *err = NULL, *event = NULL;
    int rc = 1;

    int st = secucard_client_new(config, &client, &err);
    if (st != SECUCARD_OK) {
        fprintf(stderr, "webhook: client_new: %s: %s\n", secucard_strerror(st), err ? err : "");
        secucard_free(err);
        free(body);
        return 1;
    }

    st = secucard_handle_event(client, body ? body : sample, &err);
    if (st != SECUCARD_OK) {
        /* e.g. not JSON, or no "target": the error names the field */
        fprintf(stderr, "webhook: rejected: %s\n", err ? err : secucard_strerror(st));
        secucard_free(err);
        goto done;
    }

    /* The event goes through the same pipeline as STOMP pushes. Poll it with
     * a timeout as a main loop would. */
    st = secucard_next_event(client, 1000, &event);
    if (st == SECUCARD_ERR_NO_EVENT) {
        fprintf(stderr, "webhook: no event arrived\n");
        goto done;
    }
    if (st != SECUCARD_OK) {
        fprintf(stderr, "webhook: next_event: %s\n", secucard_strerror(st));
        goto done;
    }
    printf("event: %s\n", event);
    char *kind = ex_json_top_str(event, "kind"), *target = ex_json_top_str(event, "target");
    char *type = ex_json_top_str(event, "type"), *text = ex_json_str(event, "text");
    printf("  kind=%s target=%s type=%s\n", kind ? kind : "?", target ? target : "?", type ? type : "?");
    if (text) printf("  display text: %s\n", text);
    free(kind);
    free(target);
    free(type);
    free(text);
    secucard_free(event);

    /* Nothing else is queued: a poll says so without waiting. */
    st = secucard_next_event(client, 0, &event);
    printf("  next poll: %s\n", secucard_strerror(st));
    secucard_free(event);
    rc = 0;

done:
    secucard_client_free(client);
    free(body);
    return rc;
}
