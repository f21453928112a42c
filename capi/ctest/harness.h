/*
 * harness.h - the C test programs' checks: CHECK counts a pass or prints the
 * failed expression with the test's name (set `current`) and its location.
 * Include it once per program; main prints "N passed, N failed".
 */
#ifndef CTEST_HARNESS_H
#define CTEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>

static int passed, failed;
static const char *current;

static void check(int ok, const char *file, int line, const char *expr, const char *fmt, ...) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    fprintf(stderr, "FAIL [%s] %s:%d: %s", current, file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" -- ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

#define CHECK(cond) check(!!(cond), __FILE__, __LINE__, #cond, NULL)
#define CHECKF(cond, ...) check(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

#endif
