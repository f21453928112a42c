/*
 * handles.c - how registry ids become handle values and back (the Go half is
 * handles_64.go / handles_arm.go).
 *
 * A handle is never an address of anything: the Go runtime, which sees a
 * handle as a pointer-typed argument, must never mistake one for a heap or
 * stack pointer, and a host that dereferences one must fault at once instead
 * of corrupting memory.
 *
 * 64-bit: the id carries a tag in its top 16 bits, far above any user-space
 * address.
 * 32-bit (linux-arm): every address may be user space (a 32-bit process on a
 * 64-bit kernel has all 4 GiB), so the library reserves an address range of
 * its own, inaccessible (PROT_NONE) and never backed by memory: clients are
 * base + id, replies base + SC_SPAN + id. That caps each registry at
 * SC_SPAN - 1 ids over the life of the process (handles_arm.go).
 */
#include <stdint.h>

#include "secucard.h"
#include "trampolines.h"

#if UINTPTR_MAX > 0xFFFFFFFFu

#define SC_CLIENT_TAG 0x5EC0000000000000ULL
#define SC_REPLY_TAG  0x5EC1000000000000ULL
#define SC_ID_MASK    0x0000FFFFFFFFFFFFULL

secucard_client *sc_client_handle(uint64_t id) {
    return (secucard_client *)(uintptr_t)(SC_CLIENT_TAG | (id & SC_ID_MASK));
}

secucard_reply *sc_reply_handle(uint64_t id) {
    return (secucard_reply *)(uintptr_t)(SC_REPLY_TAG | (id & SC_ID_MASK));
}

uintptr_t sc_handle_base(void) { return 0; }

#elif defined(_WIN32)
#error "libsecucard: 32-bit Windows is not a supported target"
#else

#include <pthread.h>
#include <sys/mman.h>

#define SC_SPAN ((uintptr_t)1 << 25) /* must match handleSpan in handles_arm.go */

static uintptr_t sc_base;
static pthread_once_t sc_base_once = PTHREAD_ONCE_INIT;

static void sc_reserve(void) {
    void *p = mmap(NULL, 2 * SC_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    sc_base = p == MAP_FAILED ? 0 : (uintptr_t)p;
}

uintptr_t sc_handle_base(void) {
    pthread_once(&sc_base_once, sc_reserve);
    return sc_base;
}

secucard_client *sc_client_handle(uint64_t id) {
    return (secucard_client *)(sc_handle_base() + (uintptr_t)(id & (SC_SPAN - 1)));
}

secucard_reply *sc_reply_handle(uint64_t id) {
    return (secucard_reply *)(sc_handle_base() + SC_SPAN + (uintptr_t)(id & (SC_SPAN - 1)));
}

#endif
