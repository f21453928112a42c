//go:build arm

package main

// #include "trampolines.h"
import "C"

// On 32-bit ARM a handle is an address inside the range handles.c reserves:
// clients at base+id, replies at base+handleSpan+id.
const handleSpan = 1 << 25 // SC_SPAN in handles.c

// maxID is the last id a registry hands out: each kind has handleSpan-1
// values. A process that created that many clients (or ran that many storage
// and credential callbacks) gets an error from then on, never a reused handle.
const maxID = handleSpan - 1

const (
	clientTag = 0
	replyTag  = handleSpan
)

// handleBase is where the reserved range starts; 0 if it could not be
// reserved, and then no value decodes to an id.
var handleBase = uint64(C.sc_handle_base())

// handlesUsable is false when the range could not be reserved: creating a
// client then fails with an error instead of returning a handle that is dead.
func handlesUsable() bool { return handleBase != 0 }

func untag(v uint64, tag uint64) uint64 {
	if handleBase == 0 || v < handleBase+tag || v-handleBase-tag > maxID {
		return 0
	}
	return v - handleBase - tag
}
