/*
 * secucard.h - the C interface of libsecucard, the secucard connect payment client.
 *
 * This header is hand-written and authoritative: the library's exported symbols
 * are checked against it at build and test time.
 *
 * CONVENTIONS (they hold for every function unless its comment says otherwise)
 *
 *  Status codes.  Every fallible function returns an int status: SECUCARD_OK (0)
 *      on success, one of the SECUCARD_ERR_* codes below otherwise. Codes are
 *      small and stable; new codes may be added, so treat unknown non-zero codes
 *      as errors. secucard_strerror() names a code.
 *
 *  Strings.  All strings are UTF-8 and NUL-terminated. Input strings are
 *      borrowed for the duration of the call only; the library copies what it
 *      keeps.
 *
 *  Returned memory.  Every char* the library hands out through an out-parameter
 *      (results, error JSON, events, stats) is owned by the caller and must be
 *      released with secucard_free() - never with free(): the library may use a
 *      different allocator than the host. Out-parameters are set to NULL when
 *      nothing is returned. Passing NULL for an optional out-parameter (err_json)
 *      is allowed; the information is then discarded.
 *
 *  Error JSON.  When a call fails and err_json is not NULL, *err_json receives
 *      {"status": <code>, "type": "invalid_argument|invalid_handle|auth|api|declined|network|
 *       timeout|canceled|closed|storage|internal", "message": "...",
 *       "field": "...", "reason": "...", "op": "...", "http_status": n,
 *       "error": "...", "error_details": "...", "error_user": "...",
 *       "code": "...", "support_id": "...", "retryable": true|false,
 *       "outcome": "not_sent|rejected|unknown|voided", "idempotency_key": "...",
 *       "retry_after_ms": n, "object_id": "...", "transaction": {...},
 *       "respstat": "...", "respcode": "...", "resptext": "...", "respproc": "...",
 *       "retref": "...", "avsresp": "...", "cvvresp": "...", "orderid": "..."}
 *      Only "status", "type", "message" and "retryable" are always present;
 *      "outcome" is present on every error of a request (secucard_call,
 *      secucard_call_async, secucard_client_open).
 *      "field" names the config key or request field at fault, as the host
 *      wrote it ("timeouts.connect_ms", "query.count",
 *      "data.basket.products[1].desc"); errors about input never repeat a
 *      value and repeat at most a short piece of a key. Text that is not valid
 *      UTF-8 (in a config, request, webhook body or receipt) is refused with
 *      SECUCARD_ERR_INVALID_ARGUMENT naming where it is. "type" is
 *      "invalid_handle" with SECUCARD_ERR_INVALID_HANDLE.
 *      "reason" refines "auth" errors ("denied", "invalid_grant", "expired",
 *      "timeout", "canceled", "no_credentials", "not_authorized",
 *      "token_rejected"), names a refused TLS certificate on "network"
 *      errors ("certificate") and a CardPointe temporary decline on
 *      "declined" errors ("temporary").
 *      What a failed request may have done, and what is safe next:
 *      "outcome"   "not_sent": the request provably never left the machine;
 *                  "rejected": the server answered that it did not carry it
 *                  out (an error envelope, 4xx, 429); "unknown": the server
 *                  may have acted (answer lost or timed out, 5xx, unreadable).
 *                  It covers every attempt the library made for the call:
 *                  the most any of them may have done.
 *      "retryable" true promises that repeating this exact request WITH THE
 *                  SAME idempotency_key may succeed and cannot execute twice.
 *                  When the server may have acted and nothing makes a repeat
 *                  safe (idempotency off, or a payment start), it is false
 *                  with outcome "unknown": look the object up before doing
 *                  anything again. A refused TLS certificate is never
 *                  retryable, on any transport.
 *      "idempotency_key"  the X-Action id a mutating call (create, update,
 *                  delete, execute) was sent with; repeat the request with
 *                  "idempotency_key" set to it, never with a new one.
 *      "retry_after_ms"   the server's Retry-After whenever it sent one, also
 *                  when it exceeded what the library waits by itself
 *                  (retry.max_retry_after_ms).
 *      "object_id" with outcome "unknown": the object to look up first (the
 *                  transaction of a payment start, see secucard_call).
 *      "respstat" .. "orderid"  the CardPointe Gateway's answer on errors of
 *                  CardPointe calls; see "CardPointe Gateway" below, which
 *                  also explains outcome "voided".
 *      Secrets (client secret, passwords, tokens, device codes, card numbers,
 *      CVVs) never appear in error JSON (message, field or any other member),
 *      log lines or event JSON: each passes the client's redactor whole before
 *      any length cap. A card number is a 13-19 digit number standing alone
 *      (not part of an id such as "CUS_...4111...") that passes the Luhn
 *      check; it keeps its last four digits. In event "data" a card number
 *      given as a JSON number becomes a string ("************1111") and the
 *      value of a secret-bearing key becomes "[REDACTED]". Log lines are
 *      capped at 64 KiB.
 *
 *  Handles.  secucard_client is opaque. A handle that was freed, or was never
 *      returned by secucard_client_new, yields SECUCARD_ERR_INVALID_HANDLE - it
 *      never crashes the process. Handle values are never reused.
 *
 *  Threads.  Every function may be called from any thread, concurrently, on the
 *      same client. Calls block the calling thread only; they never block other
 *      clients.
 *
 *  Callbacks.  Every callback takes the host's void *user_data first. Callbacks
 *      run on native threads the library creates (never on a thread the host
 *      owns, never on a Go runtime thread) and are never invoked while the
 *      library holds a lock, so a callback may call back into the library -
 *      except where a comment forbids it. Each client has one long-lived
 *      callback thread (started at its first callback, ended by close): its
 *      events, async completions and log lines run there one at a time, in
 *      the order they happened. So a callback must not wait for another
 *      callback of the same client (e.g. block until one of its async calls
 *      completes): that callback would wait behind it forever. A blocking
 *      secucard_call from a callback is fine. Credential and storage callbacks
 *      run on a short-lived thread each. Strings passed to a callback are
 *      valid only during that call: copy what you keep. A callback must not
 *      unwind (C++ exceptions, longjmp) into the library.
 *
 *  ABI rule.  Functions and JSON fields are only ever added. A breaking change
 *      increments SECUCARD_ABI_VERSION and the shared object's soname. Bindings
 *      compare secucard_abi_version() with the value they were written for.
 */
#ifndef SECUCARD_H
#define SECUCARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && !defined(SECUCARD_STATIC)
#  define SECUCARD_API __declspec(dllimport)
#else
#  define SECUCARD_API
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

/* The version of this header. The library reports its own version at run time;
 * compare the two to detect a header/library mismatch. */
#define SECUCARD_VERSION        "0.1.0"
#define SECUCARD_VERSION_NUMBER 1000 /* major*1000000 + minor*1000 + patch */
#define SECUCARD_ABI_VERSION    1

/* secucard_version returns the library's version string, e.g. "0.1.0".
 * The string is static: do not free it.
 * Returns: a static NUL-terminated string, never NULL. */
SECUCARD_API const char *secucard_version(void);

/* secucard_version_number returns the library's version as
 * major*1000000 + minor*1000 + patch.
 * Returns: the version number. */
SECUCARD_API int secucard_version_number(void);

/* secucard_abi_version returns the ABI version the library implements. A host
 * built against a header whose SECUCARD_ABI_VERSION differs must not use it.
 * Returns: the ABI version. */
SECUCARD_API int secucard_abi_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef enum secucard_status {
    SECUCARD_OK                   = 0,
    SECUCARD_ERR_INVALID_ARGUMENT = 1,  /* bad input: NULL, invalid JSON, unknown key, wrong type; "field" names it */
    SECUCARD_ERR_INVALID_HANDLE   = 2,  /* NULL, freed or foreign client handle */
    SECUCARD_ERR_AUTH             = 3,  /* credentials or token refused, device flow denied/expired/canceled */
    SECUCARD_ERR_API              = 4,  /* the secucard API answered with its error envelope */
    SECUCARD_ERR_DECLINED         = 5,  /* a payment start ended without a payment; the error JSON holds the transaction */
    SECUCARD_ERR_NETWORK          = 6,  /* connection failed, reset or unreadable answer */
    SECUCARD_ERR_TIMEOUT          = 7,  /* the call's deadline passed; the outcome may be unknown */
    SECUCARD_ERR_CANCELED         = 8,  /* canceled by the host (secucard_cancel, client close) */
    SECUCARD_ERR_CLOSED           = 9,  /* the client is closed */
    SECUCARD_ERR_STORAGE          = 10, /* token storage failed */
    SECUCARD_ERR_NO_EVENT         = 11, /* secucard_next_event: no event within the timeout (not a failure) */
    SECUCARD_ERR_INTERNAL         = 12  /* a bug in the library; the error JSON says what */
} secucard_status;

/* secucard_strerror names a status code, e.g. "invalid argument".
 * Returns: a static string (do not free); "unknown status" for unknown codes. */
SECUCARD_API const char *secucard_strerror(int status);

/* secucard_free releases a string returned by the library. NULL is a no-op.
 * Never pass memory the library did not return, and never free twice. */
SECUCARD_API void secucard_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Client lifecycle                                                          */
/* ------------------------------------------------------------------------ */

typedef struct secucard_client secucard_client;

/* secucard_client_new creates a client from a config JSON object, e.g.
 *   {"environment": "production",
 *    "credentials": {"grant": "device", "client_id": "...", "client_secret": "...",
 *                    "device_uuid": "/vendor/acme/pos/17"},
 *    "store": {"type": "sqlite", "path": "/var/lib/pos/tokens.db"}}
 * Keys (all optional unless stated; durations in milliseconds; "=" gives the
 * default a key takes when it is absent or 0; "per environment" defaults are
 * those of the chosen environment):
 *   environment="production" ("production" | "sandbox" | "custom"),
 *   sandbox_url, oauth_url (per environment), rest_url (per environment),
 *   language="en" ("en" | "de"), app_id,
 *   credentials {grant, client_id, client_secret, device_uuid, username,
 *                password, device_id, device_info{...}},
 *   auth {wait_timeout_ms=300000, refresh_margin_ms=60000},
 *   timeouts {connect_ms=30000, response_ms=30000},
 *   tls {ca_file, min_version="1.2"},
 *   retry {max_attempts=3, initial_backoff_ms=200, max_backoff_ms=10000,
 *          max_retry_after_ms=30000},
 *   store {type="memory" ("memory" | "sqlite" | "callback"), path,
 *          encryption_key},
 *   stomp {enabled, host, port, tls (per environment), vhost,
 *          destination="/exchange/connect.api/", reply_queue="/temp-queue/main",
 *          heartbeat_ms=30000, connect_timeout_ms=20000,
 *          message_timeout_ms=120000, session_refresh_timeout_ms=15000,
 *          routing="auto" ("auto" | "rest" | "stomp")},
 *   events {queue_size=1024, dedupe=true (see Events), fetch_changed=false},
 *   cardpointe {url, site, uat=false, cardsecure_url, username, password, merchid,
 *               timeouts {connect_ms=30000, response_ms=40000, recovery_ms=60000,
 *                         gateway_ms=33000}}
 *               (the CardPointe Gateway; see "CardPointe" below),
 *   idempotency=true, allow_unknown_resources=false, log_level="info".
 * The credentials and a credential callback's answer pass the same check.
 * An unknown key or a value of the wrong type is an error naming the key.
 * The client does no network I/O until secucard_client_open or the first
 * call; tls.ca_file is read once, here.
 * store "sqlite" keeps one file (mode 0600) with a rollback journal next to it
 * while a write runs; nothing is memory-mapped, so a file that shrinks or a
 * disk that turns read-only can never raise a signal in the host. When the
 * file, its directory or its file system stops accepting writes, a token just
 * obtained stays in memory for the client's life and one log line at
 * SECUCARD_LOG_ERROR says so; secucard_client_clear_tokens then returns
 * SECUCARD_ERR_STORAGE, and the next secucard_client_new on a file it cannot
 * open for writing returns SECUCARD_ERR_STORAGE naming the path and the reason.
 *
 * config_json: borrowed. out: receives the new handle (set to NULL on failure).
 * err_json: optional, receives the error JSON on failure.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_ARGUMENT (NULL config/out, bad
 * JSON, unknown key, bad value); SECUCARD_ERR_STORAGE (the SQLite file cannot
 * be opened); SECUCARD_ERR_INTERNAL. */
SECUCARD_API int secucard_client_new(const char *config_json, secucard_client **out, char **err_json);

/* secucard_client_open authenticates and connects. With the device grant it
 * runs the two-way device authorization: it emits an "auth" event with state
 * "device_code" carrying user_code, verification_url, expires_in and interval,
 * then polls until a person approves the code (state "ok"), denies it, the
 * code expires, auth.wait_timeout_ms passes, or secucard_cancel_auth is called.
 * A stored, still valid token (or its refresh token) skips the flow. When STOMP
 * is enabled, open also connects and refreshes the session. Blocks until done.
 * Register the event callback before calling open to see the device code.
 * Calls with the client_credentials grant work without open (they authenticate
 * on first use); device and appuser grants need open.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_AUTH (reason
 * denied, expired, timeout, canceled, no_credentials, ...); SECUCARD_ERR_NETWORK;
 * SECUCARD_ERR_TIMEOUT; SECUCARD_ERR_CLOSED; SECUCARD_ERR_STORAGE. */
SECUCARD_API int secucard_client_open(secucard_client *client, char **err_json);

/* secucard_client_close disconnects (STOMP DISCONNECT), cancels calls still in
 * flight (their completion callbacks run with SECUCARD_ERR_CANCELED), stops
 * event delivery and waits until no callback of this client is running or will
 * run. Events still queued, including the final {"kind": "connection",
 * "state": "disconnected", "reason": "closed"}, are delivered to the event
 * callback before close returns; without an event callback they are discarded
 * (counted as "discarded" in secucard_client_stats, and logged). Stored
 * tokens are kept for the next run. Closing twice is harmless; a close racing
 * another returns when the client is closed. After close every call on the client
 * returns SECUCARD_ERR_CLOSED; the handle stays valid until secucard_client_free.
 * Should not be called from inside one of this client's callbacks: there it
 * cannot wait for itself, so it closes the client at once (later calls return
 * SECUCARD_ERR_CLOSED) and the rest of the shutdown completes after the
 * callback returns.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE. */
SECUCARD_API int secucard_client_close(secucard_client *client, char **err_json);

/* secucard_client_free closes the client if needed and releases the handle.
 * NULL and an already freed handle are no-ops. Should not be called from
 * inside one of this client's callbacks: there the handle is released at once
 * and the close completes after the callback returns. */
SECUCARD_API void secucard_client_free(secucard_client *client);

/* secucard_client_release is secucard_client_free for a garbage collector's
 * finalizer, where waiting can deadlock (a runtime that is shutting down may
 * never let a callback return). It releases the handle and starts the close,
 * and returns at once: no callback of this client begins after it returned,
 * including async completion callbacks of calls still in flight; a callback
 * already running finishes on its own, so user_data must stay valid until
 * then (for a finalizer at process exit: leave it alone). NULL and an already
 * freed handle are no-ops. */
SECUCARD_API void secucard_client_release(secucard_client *client);

/* secucard_client_clear_tokens deletes the tokens this client stored (memory
 * and store). With the client_credentials grant the next call authenticates
 * by itself. With the device and appuser grants only secucard_client_open
 * authorizes again (for a device: a new device authorization); until it
 * succeeds every call fails with SECUCARD_ERR_AUTH, reason "not_authorized" -
 * a call never starts an interactive authorization, so a payment never waits
 * for a person to approve a code.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_STORAGE;
 * SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_client_clear_tokens(secucard_client *client, char **err_json);

/* secucard_cancel_auth cancels a device authorization in progress (the open
 * call waiting for approval returns SECUCARD_ERR_AUTH, reason "canceled"). Safe
 * from any thread, including a callback. Nothing to cancel is not an error.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE. */
SECUCARD_API int secucard_cancel_auth(secucard_client *client);

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

/* secucard_call performs one API call described by a request JSON object:
 *   {"resource": "smart.transactions",           product.resource, required
 *    "op": "get|list|create|update|delete|execute",            required
 *    "id": "STX_...",          object id or placeholder ("me"); get/update/delete
 *    "action": "start",        custom action; required for execute
 *    "arg": "demo",            action argument ("a/b" for several segments)
 *    "query": {"count": 10, "offset": 0, "fields": ["id"], "sort": {"created": "desc"},
 *              "q": "status:ok AND basket_info.sum:[100 TO 500]",
 *              "scroll_expire": "5m", "scroll_id": "...", "preset": "...",
 *              "geo": {"field": "...", "lat": "...", "lon": "...", "distance": "..."}},
 *    "data": {...},            request body (object, array or string)
 *    "timeout_ms": 30000,      per-call deadline (default timeouts.response_ms, or
 *                              stomp.message_timeout_ms for calls sent over STOMP)
 *    "idempotency_key": "...", X-Action id; generated for mutating calls if absent
 *    "channel": "rest|stomp",  override the automatic channel choice
 *    "app_id": "APP_..."}      custom app calls
 * On success *result_json receives the answer: the object for get, create,
 * update and execute; {"count": total, "data": [...], "scroll_id": "..."} for
 * list (data is always an array); null when the server sent no body.
 * Repeats follow one rule on every channel: a call is sent again (with the
 * same idempotency key, capped jittered backoff, never past its deadline)
 * only when that cannot act twice: the request never left the machine; or
 * it is a read, a PUT/DELETE of an object, or a write carrying its
 * idempotency key, and it failed with a network error, a 5xx or an
 * unreadable answer; or the server refused it for now (429, honouring
 * Retry-After up to retry.max_retry_after_ms). The error says the same in
 * "retryable" and "outcome" (see Error JSON).
 * A payment start (smart.transactions, action "start") is never repeated
 * once it may have reached the server. When its answer is lost (timeout,
 * dropped connection, 5xx) the library reads the transaction once, within
 * the remaining deadline or a short grace: a final status is taken as the
 * call's answer; otherwise the call fails with outcome "unknown", retryable
 * false and "object_id" naming the transaction.
 * SECUCARD_OK from a start means PAID (status "ok" or "finished"). A start
 * whose transaction ends without a payment (status "failed", "declined",
 * "aborted", "canceled", "timeout") returns SECUCARD_ERR_DECLINED: the error
 * JSON's "reason" is that status, "outcome" "rejected", "retryable" false,
 * "object_id" the transaction, and "transaction" the transaction itself
 * with its receipt (pass the error JSON to secucard_format_receipt to print
 * it). A status the library does not know is returned as SECUCARD_OK with
 * the transaction: check "status" before treating it as paid.
 * request_json: borrowed. result_json: required out. err_json: optional out.
 * A request with "system": "cardpointe" goes to the CardPointe Gateway
 * instead (see "CardPointe Gateway" below for its request shape).
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_INVALID_ARGUMENT
 * (bad request JSON, unknown resource or op - "field" says which); SECUCARD_ERR_AUTH;
 * SECUCARD_ERR_API; SECUCARD_ERR_DECLINED (a payment start ended without a
 * payment, or a CardPointe decline); SECUCARD_ERR_NETWORK; SECUCARD_ERR_TIMEOUT;
 * SECUCARD_ERR_CANCELED; SECUCARD_ERR_CLOSED; SECUCARD_ERR_INTERNAL. */
SECUCARD_API int secucard_call(secucard_client *client, const char *request_json,
                               char **result_json, char **err_json);

/* Completion callback of secucard_call_async. Runs exactly once per accepted
 * call (unless secucard_client_release dropped it), on the client's callback
 * thread. status is the call's status; on success
 * result_json holds the answer and err_json is NULL, on failure result_json is
 * NULL and err_json holds the error JSON. Both strings are valid only during
 * the callback. */
typedef void (*secucard_call_cb)(void *user_data, uint64_t call_id, int status,
                                 const char *result_json, const char *err_json);

/* secucard_call_async starts the call described by request_json (see
 * secucard_call) and returns at once. *call_id (optional out) receives an id
 * for secucard_cancel; ids are unique per client and never 0. The callback is
 * invoked exactly once, also when the call is canceled or the client closes
 * (secucard_client_release is the one exception).
 * If this function itself fails, the callback is never invoked.
 * Returns: SECUCARD_OK (the call was accepted); SECUCARD_ERR_INVALID_HANDLE;
 * SECUCARD_ERR_INVALID_ARGUMENT (bad request JSON, NULL callback);
 * SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_call_async(secucard_client *client, const char *request_json,
                                     secucard_call_cb callback, void *user_data,
                                     uint64_t *call_id, char **err_json);

/* secucard_cancel cancels an async call in flight. Its callback then runs with
 * SECUCARD_ERR_CANCELED unless it had already completed. A request the server
 * already received may still take effect there: check before repeating a
 * payment. Unknown or finished ids are not an error.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE. */
SECUCARD_API int secucard_cancel(secucard_client *client, uint64_t call_id);

/* ------------------------------------------------------------------------ */
/* CardPointe Gateway                                                        */
/* ------------------------------------------------------------------------ */

/* CardPointe Gateway and CardSecure requests go through secucard_call,
 * secucard_call_async and secucard_cancel like secucard calls, on a client
 * whose config has a "cardpointe" section (secucard_client_new). One handle
 * may hold both a secucard identity and a CardPointe section; a request's
 * "system" names the one it is for:
 *   {"system": "cardpointe",  required; "secucard" or absent: a secucard call
 *    "op": "auth",            required: one of the operations below (case-sensitive)
 *    "data": {...},           the operation's fields (below)
 *    "timeout_ms": 40000}     the wait for one answer (default
 *                             cardpointe.timeouts.response_ms); see recovery
 * A client without a cardpointe section refuses these requests
 * (SECUCARD_ERR_INVALID_ARGUMENT, "field": "system").
 *
 * Fields.  "data" holds the Gateway's own fields, named exactly as the
 * Gateway names them (case-sensitive; a name that differs only in case is
 * refused with a hint). Values are strings, except:
 *   amounts     amount, taxamnt, frtamnt, dutyamnt: JSON integers of MINOR
 *               UNITS (cents): 1999 is 19.99. Never a float, never a string.
 *               |amount| <= 9999999999. The library sends "19.99".
 *   Y/N flags   capture, tokenize, bin, cofscheduled, cofpermission,
 *               taxexempt, auoptout, defaultacct: true/false (or "Y"/"N").
 *   profile     auth: true (save the card as a profile) or
 *               "<profileid>[/<acctid>]" (charge a stored account; then no
 *               account); profileCreate: a profile id to add an account to;
 *               profileUpdate: "<profileid>/<acctid>" (required).
 *   receipt     true, false or "json".
 *   userfields  an object; items (Level 3) an array; unique a boolean.
 * "merchid" (every Gateway op) overrides cardpointe.merchid. "extra": {...}
 * sends further Gateway fields as they are (POST operations only). Any other
 * field is refused, naming it ("data.<name>"); nothing is sent for a request
 * that fails these checks.
 *
 * Operations ("op"), their fields (* required) and one example "data" each:
 *   testCredentials   (merchid)                   {}
 *       answer {"valid": true, "text": "CardConnect REST Servlet"}; wrong
 *       credentials or a MID not theirs: SECUCARD_ERR_AUTH
 *   tokenize          account* or devicedata*, expiry, cvv, signature,
 *                     encryptionhandler, unique (CardSecure; no merchid)
 *                     {"account": "4111111111111111", "expiry": "1230", "cvv": "123"}
 *       answer {"errorcode": 0, "message": "No Error", "token": "9418594164541111"}
 *   auth              amount*, account* (PAN, token or bank account) or
 *                     profile* or track*, expiry, cvv2, currency, capture,
 *                     orderid, name, company, address, address2, city,
 *                     region, country, postal, phone, email, ecomind,
 *                     tokenize, cof, cofscheduled, cofpermission, receipt,
 *                     bin, signature, bankaba, accttype, authcode, taxexempt,
 *                     taxamnt, ponumber, invoiceid, termid, auoptout,
 *                     userfields, ssnl4, license
 *                     sale:          {"account": "9418594164541111", "expiry": "1230", "amount": 1999, "capture": true}
 *                     verification:  {"account": "9418594164541111", "expiry": "1230", "amount": 0}
 *                     forced credit: {"account": "9418594164541111", "expiry": "1230", "amount": -500}
 *                     save the card: {"account": "9418594164541111", "expiry": "1230", "amount": 100, "profile": true}
 *                     stored card:   {"profile": "12345678901234567890/1", "amount": 100}
 *   capture           retref*, amount (less: a partial capture), authcode,
 *                     invoiceid, ponumber, taxamnt, frtamnt, dutyamnt,
 *                     items, receipt      {"retref": "343005123456", "amount": 1500}
 *   void              retref*, amount (omitted: all)   {"retref": "343005123456"}
 *   voidByOrderId     orderid*, amount                 {"orderid": "ORDER-17"}
 *   refund            retref*, amount (omitted: all), orderid, receipt
 *                     (only after settlement)          {"retref": "343005123456", "amount": 500}
 *   inquire           retref*                          {"retref": "343005123456"}
 *   inquireByOrderid  orderid*, set ("1": this MID only) {"orderid": "ORDER-17"}
 *       answer one record, or an array when several carry the orderid
 *   settlestat        date (MMDD or YYYYMMDD) or batchid; neither: batches
 *                     settled since the last such call
 *                     {"date": "1207"}   answer an array of batches ([] for none)
 *   funding           date                             {"date": "20261207"}
 *   profileCreate     account*, expiry, defaultacct, profile, name, company,
 *                     address, address2, city, region, country, postal,
 *                     phone, email, cofpermission, auoptout, accttype,
 *                     bankaba, ssnl4, license
 *                     {"account": "9418594164541111", "expiry": "1230", "name": "E. Mustermann"}
 *   profileUpdate     profile* ("<profileid>/<acctid>") and the fields of
 *                     profileCreate       {"profile": "12345678901234567890/1", "postal": "19406"}
 *   profileGet        profileid*, acctid (absent: every account)
 *                     {"profileid": "12345678901234567890"}   answer an array of accounts
 *   profileDelete     profileid*, acctid (absent: the whole profile)
 *                     {"profileid": "12345678901234567890", "acctid": "1"}
 *   bin               token*                           {"token": "9418594164541111"}
 *   sigcap            retref*, signature*              {"retref": "343005123456", "signature": "H4sI..."}
 *   inquireMerchant   (merchid)                        {}
 * Writes are sent as POST with a JSON body; inquire, inquireByOrderid,
 * settlestat, funding, profileGet, bin and inquireMerchant as a GET without
 * body; profileDelete as a DELETE without body. Authentication is HTTP
 * Basic with cardpointe.username/password (the Gateway has no API key,
 * signature or idempotency key).
 *
 * Answers.  *result_json is the Gateway's JSON with every field as it sent
 * it (amounts as decimal strings, "19.99"), plus:
 *   "<name>_minor"     an integer of minor units next to every decimal
 *                      amount ("amount", "chargetotal", "refundtotal",
 *                      "setlamount"), at any depth
 *   auth only:
 *   "requested_minor"  the amount asked for
 *   "partial"          true when approved for less than requested ("amount_minor"
 *                      < "requested_minor"; spec: a partial approval is a success)
 *   "orderid"          the auth's orderid: the host's, or one the library
 *                      generated ("LSC" + 16 characters, never a card number)
 *   "recovered"        true when the answer was lost and this is the record
 *                      inquireByOrderid found (its fields are the inquire
 *                      record's: e.g. "setlstat", camelCase "orderId")
 *   "voided_duplicate" present only when the recovery found a second
 *                      approval under the orderid and voided it: that
 *                      duplicate's retref (the answer is the one that stands)
 *
 * Outcomes.  The Gateway's respstat decides:
 *   "A"  success (SECUCARD_OK), also a partial approval.
 *   "C"  auth, capture, void, voidByOrderId, refund: SECUCARD_ERR_DECLINED
 *        ("type": "declined"), retryable false, outcome "rejected"; other
 *        operations: SECUCARD_ERR_API (e.g. PPS 29 "Txn not found", 96
 *        "Profile not found").
 *   "B"  SECUCARD_ERR_DECLINED with "reason": "temporary", retryable TRUE,
 *        outcome "rejected": declined for now (PPS 62 "Timed out", a line
 *        down); nothing was charged, a new auth cannot charge twice. The
 *        library never repeats it by itself: the till decides.
 * HTTP 401: SECUCARD_ERR_AUTH (reason "denied"); 400, 404, 5xx:
 * SECUCARD_ERR_API with "http_status"; 429 (UAT's rate limit): SECUCARD_ERR_API,
 * repeated after X-Rate-Limit-Retry-After-Seconds like any 429. CardSecure
 * refusals: SECUCARD_ERR_API with "code" = its errorcode.
 * Error fields of CardPointe calls (present when the Gateway answered them):
 *   "respstat"  "A", "B" or "C"
 *   "respcode"  the code of the processor or gateway ("05", "116", "NU", "62")
 *   "resptext"  its text ("Do not honor")
 *   "respproc"  who answered: "PPS" (the gateway itself), "FNOR", "RPCT", ...
 *   "retref"    the transaction's retrieval reference
 *   "avsresp"   address verification result, "cvvresp" CVV check result
 *   "orderid"   on every error of an auth: the orderid to look it up by
 * Repeats: reads (GET) are repeated like secucard reads; void and
 * voidByOrderId without "amount" (a full void), profile writes, sigcap and
 * tokenize (without unique) may be repeated after a lost answer, since
 * repeating them has no further effect; auth, capture, refund and partial
 * voids never are (except the auth's recovery below).
 *
 * Recovery of a lost auth (the Gateway's "Handling Timed-out Transactions").
 * Every auth carries an orderid. When its answer does not come (timeout_ms
 * passed, the connection dropped, a 5xx, an unreadable answer), the library
 * spends up to cardpointe.timeouts.recovery_ms on:
 *   1. inquireByOrderid. Found: that record is the call's answer (approved:
 *      SECUCARD_OK with "recovered": true; declined: the decline) - the auth
 *      is never sent twice. Under the host's orderid, declines may be
 *      earlier attempts (merchants reuse an orderid to retry a decline): one
 *      approval among them is the answer, and declines alone count only
 *      after the answer window of step 2 - until then this auth may still
 *      be running - after it, a single decline is the answer (nothing was
 *      charged either way). Under an orderid the library made, a decline is
 *      the answer at once.
 *   2. PPS 29 "Txn not found". The Gateway answers an auth within 32 s, so
 *      29 proves that the auth never arrived only once
 *      cardpointe.timeouts.gateway_ms (33 s) have passed since it was
 *      written (or when it provably never left this machine). Before that
 *      the library waits for the window and asks again; if timeout_ms of a
 *      lost attempt already covered it (the default 40 s does), at once.
 *      If the call's deadline or recovery_ms ends first, nothing is sent
 *      again: outcome "unknown", retryable false, "orderid" - the auth may
 *      still be approved; look it up. Proven absent, the auth is sent once
 *      more (at most two attempts per call), and the repeat's answer is
 *      checked with one more inquireByOrderid: should the first auth have
 *      been approved after all, it is the answer ("recovered": true); an
 *      approved repeat is then voided by its retref (never voidByOrderId,
 *      which would void both; "voided_duplicate": the repeat's retref), and
 *      if that void fails, outcome "unknown". Should the repeat's
 *      answer be lost too and the inquiry prove it absent again, the call
 *      fails with outcome "not_sent", retryable true.
 *   3. The inquiry gets no usable answer: voidByOrderId, up to three times.
 *      Approved: the call fails with outcome "voided", retryable TRUE -
 *      nothing stands, a new auth charges at most once. Otherwise: outcome
 *      "unknown", retryable false: look "orderid" up before charging again.
 *   Several approvals under one orderid (a host that reused it after an
 *   approval), or several declines and no approval: outcome "unknown",
 *   nothing is voided. A host's orderid that already carries an approval
 *   that stands is not guarded: its recovery takes that approval for this
 *   auth, so never reuse an orderid after an approval.
 * A call the host cancels (secucard_cancel, client close) is not recovered:
 * SECUCARD_ERR_CANCELED, outcome "unknown", retryable false, "orderid".
 * So an auth call may take up to 2 x (timeout_ms + recovery_ms). The Gateway
 * has no idempotency key: the recovery relies on the Gateway's documented
 * 32 s answer (spec: it waits 31 s on the processor, answers PPS 62 at 32 s).
 * The host's orderid must be 1..19 letters, digits, ".", "_" or "-" and must
 * not look like a card number (the Gateway would mask it and the recovery
 * could not find the auth).
 *
 * Card data.  PAN, CVV, track data and expiry never appear in a log line or
 * an error JSON (one redaction for every line); answers carry the Gateway's
 * token or masked account, and the expiry only where the Gateway echoes it.
 * Tokenize first (op "tokenize") and authorize the token: the PAN then
 * crosses the library once. */

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

/* Every event is one JSON object with a "kind":
 *   {"kind": "push", "id": "EPS_...", "target": "general.notifications",
 *    "type": "display", "created": "2026-11-23T10:00:00+01:00", "data": {...}}
 *        an event pushed over STOMP or handed in by secucard_handle_event;
 *   {"kind": "connection", "state": "connected|disconnected|reconnecting",
 *    "reason": "...", "resync": true}
 *        "resync": true comes with "connected" after every reconnect (a
 *        dropped connection, or a new login after the access token changed):
 *        pushes sent while the connection was down are lost, so re-read what
 *        you watch (e.g. the transaction in progress). The first connect has
 *        no "resync".
 *   {"kind": "auth", "state": "device_code|pending|ok|failed|canceled|refreshed",
 *    "grant": "device", "user_code": "vfazyp5f",
 *    "verification_url": "https://...", "expires_in": 1200, "interval": 5,
 *    "error": {...error JSON...}}
 *   {"kind": "dropped", "count": n, "reason": "queue_full"}
 *        the event queue overflowed and n older events were discarded;
 *   {"kind": "error", "error": {...error JSON...}}
 *        a background failure (e.g. a follow-up fetch) the host should know of.
 * Kinds and fields may be added; ignore what you do not know.
 *
 * Delivery guarantee: pushes are delivered AT MOST ONCE. The broker queues a
 * client's pushes on a temporary queue that lives and dies with the STOMP
 * connection, so a push sent while the connection is down never arrives
 * (watch for "resync"). Within the library nothing is dropped silently: a
 * full queue says so with a "dropped" event. Duplicates are removed by
 * default (config events.dedupe, default true): a push whose "id" is among
 * the last 4096 push ids is not delivered again, whether the copy came over
 * a second connection after a token change or as a webhook body. With
 * events.dedupe false every copy is delivered. */
typedef void (*secucard_event_cb)(void *user_data, const char *event_json);

/* secucard_set_event_callback registers the event callback (NULL unregisters;
 * events then queue for secucard_next_event). When it returns, the previous
 * callback is not running and will not be called again (unless it is called
 * from inside one of this client's callbacks, where only later events are
 * affected).
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_set_event_callback(secucard_client *client, secucard_event_cb callback,
                                             void *user_data);

/* secucard_next_event waits up to timeout_ms (0 = poll, -1 = forever) for the
 * next queued event, for hosts without callbacks (firmware main loops). Only
 * available while no event callback is registered.
 * event_json: required out; receives the event JSON (free with secucard_free).
 * Returns: SECUCARD_OK; SECUCARD_ERR_NO_EVENT (nothing within the timeout);
 * SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_INVALID_ARGUMENT (NULL out, or an
 * event callback is registered); SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_next_event(secucard_client *client, int timeout_ms, char **event_json);

/* secucard_handle_event feeds an event the host received on its own webhook
 * endpoint ({"object": "event.pushes", "id", "target", "type", "created",
 * "data"}; "event.pushs" is accepted too) into the same pipeline as STOMP
 * pushes: it is delivered as a "push" event. The body is not authenticated by
 * secucard (spec: no signature exists); only feed bodies your endpoint trusts.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_INVALID_ARGUMENT
 * (not JSON, not an event object, missing target or type); SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_handle_event(secucard_client *client, const char *webhook_body_json,
                                       char **err_json);

/* ------------------------------------------------------------------------ */
/* Host services: credentials, storage, logs                                 */
/* ------------------------------------------------------------------------ */

/* A reply slot handed to credential and storage callbacks. The callback fills
 * it with secucard_reply_set; the library copies the bytes. Valid only during
 * the callback. */
typedef struct secucard_reply secucard_reply;

/* secucard_reply_set copies len bytes of data into the reply slot (replacing
 * anything set before). Call only from inside the callback that received it.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_ARGUMENT (NULL reply, NULL data
 * with len > 0, a slot whose callback has returned). */
SECUCARD_API int secucard_reply_set(secucard_reply *reply, const void *data, size_t len);

/* Credential prompt: called when the library needs credentials the config does
 * not hold (no "credentials" key, or an appuser grant without password).
 * request_json: {"grant": "appuser", "fields": ["username", "password"],
 *                "reason": "..."}.
 * Fill reply with a credentials JSON object (same keys as the config's
 * "credentials") and return 0; return non-zero to decline (the pending open or
 * call fails with SECUCARD_ERR_AUTH, reason "canceled"). */
typedef int (*secucard_credentials_cb)(void *user_data, const char *request_json, secucard_reply *reply);

/* secucard_set_credentials_callback registers the credential prompt (NULL
 * unregisters). Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_set_credentials_callback(secucard_client *client,
                                                   secucard_credentials_cb callback, void *user_data);

/* Storage callbacks let the host own token storage (config store.type
 * "callback"). Values are opaque bytes, already encrypted by the library
 * (AES-256-GCM); keys are short ASCII strings. Return codes: */
#define SECUCARD_STORE_OK        0
#define SECUCARD_STORE_NOT_FOUND 1 /* get: no value under this key */
#define SECUCARD_STORE_ERROR     2 /* anything else; the library reports SECUCARD_ERR_STORAGE */

/* get: put the value for key into reply (secucard_reply_set) and return
 * SECUCARD_STORE_OK, or return SECUCARD_STORE_NOT_FOUND. */
typedef int (*secucard_store_get_cb)(void *user_data, const char *key, secucard_reply *value);
/* put: store len bytes under key, replacing any previous value. */
typedef int (*secucard_store_put_cb)(void *user_data, const char *key, const void *value, size_t len);
/* del: delete key; deleting an absent key returns SECUCARD_STORE_OK. */
typedef int (*secucard_store_del_cb)(void *user_data, const char *key);

/* secucard_set_storage_callbacks installs host storage. Call it after
 * secucard_client_new with store.type "callback" and before the client
 * authenticates; all three callbacks are required.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_INVALID_ARGUMENT
 * (a NULL callback, or the config's store.type is not "callback");
 * SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_set_storage_callbacks(secucard_client *client, secucard_store_get_cb get,
                                                secucard_store_put_cb put, secucard_store_del_cb del,
                                                void *user_data);

/* Log levels. */
#define SECUCARD_LOG_OFF   0
#define SECUCARD_LOG_ERROR 1
#define SECUCARD_LOG_WARN  2
#define SECUCARD_LOG_INFO  3
#define SECUCARD_LOG_DEBUG 4
#define SECUCARD_LOG_TRACE 5

/* Log callback: one redacted line per call. */
typedef void (*secucard_log_cb)(void *user_data, int level, const char *message);

/* secucard_set_log_callback routes this client's log lines at or above
 * min_level (SECUCARD_LOG_*) to callback (NULL stops logging); INFO delivers
 * ERROR, WARN and INFO lines. Lines arrive in order, on the client's callback
 * thread; when the callback falls far behind, a WARN line reports how many
 * lines were dropped. When it returns, every line meant for the previous
 * callback has been delivered (except when called from inside one of this
 * client's callbacks). Lines are redacted: no secret or card number reaches
 * the callback.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_INVALID_ARGUMENT
 * (min_level out of range); SECUCARD_ERR_CLOSED. */
SECUCARD_API int secucard_set_log_callback(secucard_client *client, secucard_log_cb callback,
                                           void *user_data, int min_level);

/* ------------------------------------------------------------------------ */
/* Receipts                                                                  */
/* ------------------------------------------------------------------------ */

/* secucard_format_receipt renders receipt lines as plain text for a till
 * printer of `width` columns (0 = 40; 20..200). receipt_json is either the
 * array of receipt lines ([{"type": "name-value", "value": {"name": ...,
 * "value": ...}}, ...]), a whole smart transaction object, whose "receipt"
 * array is used, or the error JSON of a declined start (its "transaction"'s
 * receipt). Line types: "separator" (a rule, with an optional caption),
 * "space" (an empty line), "textline" (text), "name-value" (name left, value
 * right-aligned); decorations "important" (upper case), "align-center",
 * "align-left", "align-right" (also with "_") are honoured. Unknown types and
 * decorations are rendered as plain text rather than dropped.
 * text: required out, lines separated by "\n" (free with secucard_free).
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_ARGUMENT (NULL, not JSON, no
 * receipt lines, width out of range). */
SECUCARD_API int secucard_format_receipt(const char *receipt_json, int width, char **text, char **err_json);

/* secucard_catalog lists the products and resources the library knows:
 *   {"products": ["general", "loyalty", ...],
 *    "resources": ["general.accounts", ..., "smart.transactions", ...]}
 * Bindings use it to offer products as attributes (config
 * allow_unknown_resources lets calls through for names not listed).
 * catalog_json: required out (free with secucard_free).
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_ARGUMENT (NULL out). */
SECUCARD_API int secucard_catalog(char **catalog_json);

/* ------------------------------------------------------------------------ */
/* Observability                                                             */
/* ------------------------------------------------------------------------ */

/* secucard_client_stats returns counters as JSON:
 *   {"calls": {"ok": n, "api": n, "auth": n, "network": n, "timeout": n, ...},
 *    "retries": n, "token_requests": n, "token_refreshes": n,
 *    "latency_ms": {"p50": x, "p90": x, "p99": x, "max": x, "count": n},
 *    "events": {"published": n, "delivered": n, "dropped": n, "deduplicated": n,
 *               "fetch_failed": n, "discarded": n},
 *    "stomp": {"connected": bool, "reconnects": n}}
 * stats_json: required out (free with secucard_free). Works on a closed client.
 * Returns: SECUCARD_OK; SECUCARD_ERR_INVALID_HANDLE; SECUCARD_ERR_INVALID_ARGUMENT. */
SECUCARD_API int secucard_client_stats(secucard_client *client, char **stats_json);

#ifdef __cplusplus
}
#endif

#endif /* SECUCARD_H */
