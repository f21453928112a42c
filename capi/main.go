// Command capi is libsecucard's C ABI: built with -buildmode=c-shared it is
// libsecucard.so / secucard.dll, implementing include/secucard.h.
//
// The package only translates: C arguments become core calls, core results
// and errors become a status code plus JSON. Exports (exports.go) are thin
// shims over Go-level operations (ops.go) that use no C types, so package
// tests can drive the same code paths. Host callbacks run through the C
// trampolines in trampolines.c.
package main

// secucard.h in this directory is a symlink to include/secucard.h: cmd/go
// hashes the files of the package directory, so editing the public header
// rebuilds the library (an -I path outside the package would be cached
// stale). SECUCARD_STATIC keeps the header's dllimport away from the DLL's
// own exports.

/*
#cgo CFLAGS: -DSECUCARD_STATIC
#cgo linux LDFLAGS: -lpthread
*/
import "C"

func main() {}
