/*
 * trampolines.h - declarations shared by the Go files of capi and trampolines.c.
 *
 * cgo copies the preamble of every file with //export into _cgo_export.h, so
 * this header (and through it secucard.h) sits in the same translation unit as
 * cgo's prototypes of the exports: any drift between the public header and the
 * Go signatures is a compile error.
 */
#ifndef SC_TRAMPOLINES_H
#define SC_TRAMPOLINES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "secucard.h"

/* cgo cannot spell const in export signatures; these typedefs make the
 * generated prototypes read "const char *" and "const void *". */
typedef const char sc_cstr;
typedef const void sc_cvoid;

/* Handles are registry ids encoded as values that are never pointers (handles.c). */
secucard_client *sc_client_handle(uint64_t id);
secucard_reply *sc_reply_handle(uint64_t id);
/* 32-bit targets: the start of the address range handles live in, 0 if it
 * could not be reserved (then no handle decodes). */
uintptr_t sc_handle_base(void);

/* The id of the client whose callback runs on this thread, 0 on any other thread. */
uint64_t sc_callback_client(void);

sc_cstr *sc_strerror(int status);

/* Each runs the host callback on a fresh native thread and joins it. */
void sc_call_event(secucard_event_cb cb, uintptr_t ud, uint64_t client, const char *event_json);
void sc_call_done(secucard_call_cb cb, uintptr_t ud, uint64_t client, uint64_t call_id, int status,
                  const char *result_json, const char *err_json);
void sc_call_log(secucard_log_cb cb, uintptr_t ud, uint64_t client, int level, const char *message);
int sc_call_credentials(secucard_credentials_cb cb, uintptr_t ud, uint64_t client, const char *request_json,
                        uint64_t reply);
int sc_call_store_get(secucard_store_get_cb cb, uintptr_t ud, uint64_t client, const char *key, uint64_t reply);
int sc_call_store_put(secucard_store_put_cb cb, uintptr_t ud, uint64_t client, const char *key, const void *value,
                      size_t len);
int sc_call_store_del(secucard_store_del_cb cb, uintptr_t ud, uint64_t client, const char *key);

#endif
