package main

import (
	"sync"
)

// registry maps never-reused ids to live objects. A handle is only ever an id:
// a stale or foreign value finds nothing and yields an error, never a crash.
type registry[T any] struct {
	mu   sync.RWMutex
	next uint64
	m    map[uint64]T
}

// add stores v under a fresh id (monotonic, never 0, never reused).
func (r *registry[T]) add(v T) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next >= maxID || !handlesUsable() {
		return 0, false
	}
	r.next++
	if r.m == nil {
		r.m = map[uint64]T{}
	}
	r.m[r.next] = v
	return r.next, true
}

func (r *registry[T]) get(id uint64) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[id]
	return v, ok
}

// remove deletes id and returns what it held.
func (r *registry[T]) remove(id uint64) (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.m[id]
	delete(r.m, id)
	return v, ok
}

func (r *registry[T]) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

var (
	clients registry[*client]
	replies registry[*reply]
)

// liveObjects counts everything the registries hold (tests: zero after a flow).
func liveObjects() int { return clients.len() + replies.len() }
