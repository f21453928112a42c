package main

/*
#include "trampolines.h"
*/
import "C"

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The Go half of the handoff (handoff.c): host threads write the addresses of
// their slots into a pipe; one goroutine reads them through the netpoller and
// gives each slot to a worker goroutine, which runs it and wakes the host
// thread with a futex. No goroutine is ever locked to a host thread.

var (
	handoffOnce sync.Once
	handoffWFD  = -2
	handoffRead *os.File // kept reachable: its finalizer would close the pipe
)

//export sc_go_handoff_start
func sc_go_handoff_start() C.int {
	handoffOnce.Do(startHandoff)
	return C.int(handoffWFD)
}

func startHandoff() {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return // the exports take their direct path
	}
	// The read end is non-blocking, so os.NewFile hands it to the netpoller;
	// the write end blocks, so a full pipe holds the host back, never fails.
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return
	}
	handoffRead = os.NewFile(uintptr(p[0]), "libsecucard-handoff")
	handoffWFD = p[1]
	go readSlots(handoffRead)
}

// readSlots hands every slot address read from the pipe to a worker. A write
// of one pointer to a pipe is atomic, so the stream is a sequence of whole
// addresses; a short read only delays the rest of one until the next read.
func readSlots(f *os.File) {
	const size = int(unsafe.Sizeof(uintptr(0)))
	var words [128]uintptr // aligned storage the addresses are read into
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*size)
	have := 0
	for {
		n, err := f.Read(buf[have:])
		if err != nil && !errors.Is(err, syscall.EINTR) {
			// Cannot happen on a pipe whose write end is never closed. Host
			// threads may be waiting, so keep reading rather than give up.
			time.Sleep(time.Millisecond)
		}
		have += n
		whole := have / size
		slots := unsafe.Slice((**C.struct_sc_slot)(unsafe.Pointer(&words[0])), whole)
		for _, s := range slots {
			dispatchSlot(s)
		}
		have = copy(buf, buf[whole*size:have])
	}
}

// Workers are goroutines kept between slots (LIFO), so a call runs on a
// stack that already grew for the previous one.
const maxIdleWorkers = 64

var workers struct {
	mu   sync.Mutex
	idle []chan *C.struct_sc_slot
}

func dispatchSlot(s *C.struct_sc_slot) {
	workers.mu.Lock()
	if n := len(workers.idle); n > 0 {
		ch := workers.idle[n-1]
		workers.idle = workers.idle[:n-1]
		workers.mu.Unlock()
		ch <- s
		return
	}
	workers.mu.Unlock()
	go worker(s)
}

func worker(s *C.struct_sc_slot) {
	ch := make(chan *C.struct_sc_slot, 1)
	for {
		serveSlot(s)
		workers.mu.Lock()
		if len(workers.idle) >= maxIdleWorkers {
			workers.mu.Unlock()
			return
		}
		workers.idle = append(workers.idle, ch)
		workers.mu.Unlock()
		s = <-ch
	}
}

// serveSlot runs the export the slot describes and always completes it: a
// host thread waits for it. An accepted async call then runs on this same
// goroutine, after the host thread went on.
func serveSlot(s *C.struct_sc_slot) {
	if run := acceptSlot(s); run != nil {
		run()
	}
}

func acceptSlot(s *C.struct_sc_slot) (run func()) {
	defer completeSlot(s)
	defer func() {
		if r := recover(); r != nil { // the x* functions recover their own panics
			s.rc, run = C.int(statusInternal), nil
		}
	}()
	switch s.op {
	case C.SC_OP_CALL:
		s.rc = xCall(uintptr(s.handle), s.in, s.out1, s.out2)
	case C.SC_OP_NEXT_EVENT:
		s.rc = xNextEvent(uintptr(s.handle), int(s.timeout_ms), s.out1)
	case C.SC_OP_CALL_ASYNC:
		s.rc, run = xCallAsync(uintptr(s.handle), s.in, s.cb, uintptr(s.ud), s.call_id, s.out2)
	case C.SC_OP_OPEN:
		s.rc = xClientOpen(uintptr(s.handle), s.out2)
	case C.SC_OP_CLEAR_TOKENS:
		s.rc = xClientClearTokens(uintptr(s.handle), s.out2)
	default:
		s.rc = C.int(statusInternal)
	}
	return run
}

const (
	futexWakePrivate = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
	slotWaiting      = C.SC_SLOT_WAITING
	slotDone         = C.SC_SLOT_DONE
)

// completeSlot publishes the outputs (written before the swap) and wakes the
// host thread if it sleeps. The host may return as soon as it sees DONE, so
// the wake can land on a stack address it reused: futex users must tolerate
// spurious wake-ups, and the wake writes no memory.
func completeSlot(s *C.struct_sc_slot) {
	state := (*uint32)(unsafe.Pointer(&s.state))
	if atomic.SwapUint32(state, slotDone) == slotWaiting {
		syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(state)), futexWakePrivate, 1, 0, 0, 0)
	}
}
