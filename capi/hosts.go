package main

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/store"
)

// maxReplyBytes bounds one secucard_reply_set: far above any credentials
// object or sealed token, far below what would hurt a till.
const maxReplyBytes = 1 << 20

// reply is the slot behind a secucard_reply handle. It lives in the registry
// only while the callback that received it runs.
type reply struct {
	mu   sync.Mutex
	data []byte
	set  bool
}

// withReply lends a fresh reply slot to call (which passes its id to the
// host) and returns what the host put into it. The slot is dead afterwards,
// so a late secucard_reply_set fails instead of writing anywhere.
func withReply(call func(replyID uint64) int) (rc int, data []byte, set bool, err error) {
	r := &reply{}
	id, ok := replies.add(r)
	if !ok {
		return 0, nil, false, errs.New(errs.Internal, "reply", "reply ids are exhausted")
	}
	rc = call(id)
	replies.remove(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	return rc, r.data, r.set, nil
}

// replySet implements secucard_reply_set for a decoded reply id.
func replySet(id uint64, data []byte) error {
	if len(data) > maxReplyBytes {
		return errs.Invalid("len", "must be at most %d bytes, got %d", maxReplyBytes, len(data))
	}
	r, ok := replies.get(id)
	if !ok {
		return errs.Invalid("reply", "is not a live reply slot (NULL, or its callback has returned)")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data = append(r.data[:0:0], data...)
	r.set = true
	return nil
}

// Storage callback return codes (SECUCARD_STORE_*).
const (
	storeOK       = 0
	storeNotFound = 1
)

// hostStoreFuncs reach the host's storage callbacks (exports.go builds them
// over the C trampolines; tests over Go functions).
type hostStoreFuncs struct {
	get func(key string) (rc int, value []byte, set bool, err error)
	put func(key string, value []byte) int
	del func(key string) int
}

// hostStore is the store.Store behind storage callbacks. The core seals
// values before they get here, so the host only ever sees ciphertext.
type hostStore struct {
	fns    hostStoreFuncs
	closed atomic.Bool
}

func storageErr(op, format string, args ...any) error {
	return errs.New(errs.Storage, op, format, args...)
}

func (s *hostStore) Get(_ context.Context, key string) ([]byte, error) {
	if s.closed.Load() {
		return nil, storageErr("store.get", "the client is closed")
	}
	rc, v, set, err := s.fns.get(key)
	switch {
	case err != nil:
		return nil, err
	case rc == storeNotFound:
		return nil, store.ErrNotFound
	case rc != storeOK:
		return nil, storageErr("store.get", "the storage get callback failed (returned %d)", rc)
	case !set:
		return nil, storageErr("store.get", "the storage get callback returned SECUCARD_STORE_OK without setting a value")
	}
	return v, nil
}

func (s *hostStore) Put(_ context.Context, key string, value []byte) error {
	if s.closed.Load() {
		return storageErr("store.put", "the client is closed")
	}
	if rc := s.fns.put(key, value); rc != storeOK {
		return storageErr("store.put", "the storage put callback failed (returned %d)", rc)
	}
	return nil
}

func (s *hostStore) Delete(_ context.Context, key string) error {
	if s.closed.Load() {
		return storageErr("store.delete", "the client is closed")
	}
	if rc := s.fns.del(key); rc != storeOK {
		return storageErr("store.delete", "the storage del callback failed (returned %d)", rc)
	}
	return nil
}

// hostPrompt is the auth.Provider behind the credential callback. ask hands
// the prompt JSON to the host and returns its return code and reply bytes.
type hostPrompt struct {
	ask    func(request []byte) (rc int, reply []byte, set bool, err error)
	closed atomic.Bool
}

func (p *hostPrompt) Credentials(_ context.Context, req auth.PromptRequest) (auth.Credentials, error) {
	if p.closed.Load() {
		return auth.Credentials{}, errs.New(errs.Closed, "auth.prompt", "the client is closed")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return auth.Credentials{}, errs.Wrap(errs.Internal, "auth.prompt", err, "cannot encode the prompt")
	}
	rc, data, set, err := p.ask(body)
	switch {
	case err != nil:
		return auth.Credentials{}, err
	case rc != 0:
		return auth.Credentials{}, errs.AuthError("auth.prompt", errs.ReasonCanceled, "the credential callback declined (returned %d)", rc)
	case !set:
		return auth.Credentials{}, errs.Invalid("reply", "the credential callback returned 0 without setting a credentials object")
	}
	return core.ParseCredentials(data)
}
