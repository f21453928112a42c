/*
 * example_util.h - small helpers shared by the C examples (not part of the
 * library): read a file, pick values out of JSON text, POST to the sandbox's
 * admin API on loopback.
 *
 * The JSON helpers are deliberately tiny: they find the first member with a
 * given key at any depth, which is all the examples need. A real host should
 * use a JSON library (cJSON, jansson, ...).
 */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

/* ex_read_file returns the file's contents (malloc'd, NUL-terminated) or NULL. */
static inline char *ex_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

/* ex_skip_string returns the character after the string starting at p ('"'). */
static inline const char *ex_skip_string(const char *p) {
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
}

/* ex_skip_value returns the character after the JSON value starting at p. */
static inline const char *ex_skip_value(const char *p) {
    while (isspace((unsigned char)*p)) p++;
    if (*p == '"') return ex_skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') { p = ex_skip_string(p) - 1; continue; }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') { if (--depth == 0) return p + 1; }
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']' && !isspace((unsigned char)*p)) p++;
    return p;
}

/* ex_json_find returns the start of the value of the first member named key
 * (at any depth), or NULL. */
static inline const char *ex_json_find(const char *json, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = json; p && *p; p++) {
        if (*p != '"') continue;
        const char *end = ex_skip_string(p);
        const char *q = end;
        while (isspace((unsigned char)*q)) q++;
        if (*q == ':' && (size_t)(end - p - 2) == klen && strncmp(p + 1, key, klen) == 0) {
            q++;
            while (isspace((unsigned char)*q)) q++;
            return q;
        }
        p = end - 1;
    }
    return NULL;
}

/* ex_json_member returns the start of the value of the top-level member named
 * key of the object json, or NULL. */
static inline const char *ex_json_member(const char *json, const char *key) {
    const char *p = json;
    size_t klen = strlen(key);
    while (p && isspace((unsigned char)*p)) p++;
    if (!p || *p != '{') return NULL;
    p++;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',') p++;
        if (*p != '"') return NULL;
        const char *end = ex_skip_string(p);
        int match = (size_t)(end - p - 2) == klen && strncmp(p + 1, key, klen) == 0;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (*p != ':') return NULL;
        p++;
        while (isspace((unsigned char)*p)) p++;
        if (match) return p;
        p = ex_skip_value(p);
    }
}

/* ex_decode_string decodes the JSON string starting at p (malloc'd), or NULL
 * when p is not a string. \uXXXX escapes become UTF-8 (no surrogates). */
static inline char *ex_decode_string(const char *p) {
    if (!p || *p != '"') return NULL;
    const char *end = ex_skip_string(p);
    char *out = malloc((size_t)(end - p) + 1), *o = out;
    if (!out) return NULL;
    for (p++; p < end - 1; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned v = 0;
            for (int i = 1; i <= 4 && isxdigit((unsigned char)p[i]); i++)
                v = v * 16 + (unsigned)(isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower((unsigned char)p[i]) - 'a' + 10));
            p += 4;
            if (v < 0x80) *o++ = (char)v;
            else if (v < 0x800) { *o++ = (char)(0xC0 | (v >> 6)); *o++ = (char)(0x80 | (v & 0x3F)); }
            else { *o++ = (char)(0xE0 | (v >> 12)); *o++ = (char)(0x80 | ((v >> 6) & 0x3F)); *o++ = (char)(0x80 | (v & 0x3F)); }
            break;
        }
        default: *o++ = *p; break; /* \" \\ \/ */
        }
    }
    *o = '\0';
    return out;
}

/* ex_json_str: the string value of the first member named key at any depth. */
static inline char *ex_json_str(const char *json, const char *key) {
    return json ? ex_decode_string(ex_json_find(json, key)) : NULL;
}

/* ex_json_top_str: the string value of the top-level member named key. */
static inline char *ex_json_top_str(const char *json, const char *key) {
    return ex_decode_string(ex_json_member(json, key));
}

/* ex_json_long returns the integer value of key, or def when missing. */
static inline long long ex_json_long(const char *json, const char *key, long long def) {
    const char *p = json ? ex_json_find(json, key) : NULL;
    if (!p || !(isdigit((unsigned char)*p) || *p == '-')) return def;
    return strtoll(p, NULL, 10);
}

/* ex_json_raw returns the raw JSON text of key's value (malloc'd) or NULL. */
static inline char *ex_json_raw(const char *json, const char *key) {
    const char *p = json ? ex_json_find(json, key) : NULL;
    if (!p) return NULL;
    const char *end = ex_skip_value(p);
    char *out = malloc((size_t)(end - p) + 1);
    if (!out) return NULL;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return out;
}

/* ex_array_next walks a JSON array: pass the array text ('[') first, then the
 * previous element's end. Returns the next element (malloc'd) or NULL. */
static inline char *ex_array_next(const char **cursor) {
    const char *p = *cursor;
    while (*p && (isspace((unsigned char)*p) || *p == '[' || *p == ',')) p++;
    if (!*p || *p == ']') return NULL;
    const char *end = ex_skip_value(p);
    char *out = malloc((size_t)(end - p) + 1);
    if (!out) return NULL;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    *cursor = end;
    return out;
}

#ifndef _WIN32
/* ex_http_body sends a request with an optional JSON body to an
 * http://127.0.0.1:PORT/path URL (the sandbox's admin API) and returns the
 * HTTP status, or -1. With out (cap > 0) it also stores the response body
 * there, NUL-terminated, cut at cap - 1 bytes. Loopback only. */
static inline int ex_http_body(const char *method, const char *url, const char *body, char *out, size_t cap) {
    unsigned port = 0;
    char path[512];
    if (!body) body = "";
    if (out && cap > 0) out[0] = '\0';
    if (sscanf(url, "http://127.0.0.1:%u%511s", &port, path) != 2 || port == 0 || port > 65535) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { close(fd); return -1; }
    char head[768];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", method, path, port, strlen(body));
    if (n <= 0 || (size_t)n >= sizeof head || write(fd, head, (size_t)n) != n ||
        write(fd, body, strlen(body)) != (ssize_t)strlen(body)) { close(fd); return -1; }
    /* The whole response (Connection: close ends it), or its first bytes. */
    char small[64];
    char *buf = out && cap > 64 ? out : small;
    size_t room = buf == out ? cap - 1 : sizeof small - 1, got = 0;
    ssize_t r;
    while (got < room && (r = read(fd, buf + got, room - got)) > 0) got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    int status = -1;
    if (got > 0) sscanf(buf, "HTTP/1.%*d %d", &status);
    if (buf == out) {
        char *start = strstr(out, "\r\n\r\n");
        if (start) memmove(out, start + 4, strlen(start + 4) + 1);
        else out[0] = '\0';
    }
    return status;
}

/* ex_http is ex_http_body without the body. */
static inline int ex_http(const char *method, const char *url, const char *body) {
    return ex_http_body(method, url, body, NULL, 0);
}
#endif

#endif
