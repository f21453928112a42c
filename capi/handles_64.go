//go:build !arm

package main

// maxID keeps ids inside the 48 bits a tagged handle carries (handles.c).
const maxID = 1<<48 - 1

// Handles are the ids tagged in handles.c; the tag is checked here so a
// reply handle passed as a client (or any foreign value) is rejected.
const (
	tagMask   = 0xFFFF << 48
	clientTag = 0x5EC0 << 48
	replyTag  = 0x5EC1 << 48
	idMask    = 1<<48 - 1
)

// handlesUsable: tagged handles need nothing reserved.
func handlesUsable() bool { return true }

func untag(v uint64, tag uint64) uint64 {
	if v&tagMask != tag {
		return 0
	}
	return v & idMask
}
