// Package store owns token storage: a small key/value interface the host can
// implement, an in-memory implementation, and Sealed, the AES-256-GCM wrapper
// that keeps values encrypted at rest whatever the backend (SQLite file, host
// callbacks). Keys are not secret (they name a credential identity by hash);
// values are.
package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
)

// ErrNotFound is returned by Get when the key holds nothing.
var ErrNotFound = errors.New("store: not found")

// ErrCorrupt is returned by Get (wrapped) when a value exists but cannot be read
// back: truncated, tampered with, or sealed with another key. Callers treat it
// like ErrNotFound (authenticate again) after reporting it once.
var ErrCorrupt = errors.New("store: value unreadable")

// Store is the storage the token manager uses. Implementations must be safe for
// concurrent use. Get returns ErrNotFound for an absent key; Delete of an absent
// key is not an error.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// Lister is implemented by stores that can enumerate their keys with a prefix;
// the client uses it to clear every token it owns.
type Lister interface {
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// Closer is implemented by stores holding resources (a database handle).
type Closer interface {
	Close() error
}

// Memory is a Store in process memory. The zero value is ready to use.
type Memory struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// NewMemory returns an empty memory store.
func NewMemory() *Memory { return &Memory{} }

// Get implements Store.
func (s *Memory) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// Put implements Store.
func (s *Memory) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), value...)
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Keys implements Lister.
func (s *Memory) Keys(_ context.Context, prefix string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for k := range s.m {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out = append(out, k)
		}
	}
	return out, nil
}

// KeySize is the length of a sealing key: AES-256.
const KeySize = 32

// sealVersion prefixes every sealed value so the format can change later.
const sealVersion byte = 1

// Sealed wraps a Store so every value is encrypted with AES-256-GCM before it
// reaches the backend. The store key is bound into the authenticated data, so a
// value copied under another key does not decrypt.
type Sealed struct {
	inner Store
	aead  cipher.AEAD
}

// NewSealed returns a Store sealing values for inner with key (32 bytes).
func NewSealed(inner Store, key []byte) (*Sealed, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("store: sealing key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealed{inner: inner, aead: aead}, nil
}

// Inner returns the wrapped store.
func (s *Sealed) Inner() Store { return s.inner }

// Get implements Store. A value that does not open returns an error wrapping
// ErrCorrupt.
func (s *Sealed) Get(ctx context.Context, key string) ([]byte, error) {
	raw, err := s.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	ns := s.aead.NonceSize()
	if len(raw) < 1+ns+s.aead.Overhead() || raw[0] != sealVersion {
		return nil, fmt.Errorf("%w: %q is not a sealed value", ErrCorrupt, key)
	}
	plain, err := s.aead.Open(nil, raw[1:1+ns], raw[1+ns:], []byte(key))
	if err != nil {
		return nil, fmt.Errorf("%w: %q does not decrypt with this key", ErrCorrupt, key)
	}
	return plain, nil
}

// Put implements Store.
func (s *Sealed) Put(ctx context.Context, key string, value []byte) error {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	out := make([]byte, 0, 1+len(nonce)+len(value)+s.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, nonce...)
	out = s.aead.Seal(out, nonce, value, []byte(key))
	return s.inner.Put(ctx, key, out)
}

// Delete implements Store.
func (s *Sealed) Delete(ctx context.Context, key string) error { return s.inner.Delete(ctx, key) }

// Keys implements Lister when the inner store does.
func (s *Sealed) Keys(ctx context.Context, prefix string) ([]string, error) {
	if l, ok := s.inner.(Lister); ok {
		return l.Keys(ctx, prefix)
	}
	return nil, errors.New("store: backend cannot list keys")
}

// Close closes the inner store when it holds resources.
func (s *Sealed) Close() error {
	if c, ok := s.inner.(Closer); ok {
		return c.Close()
	}
	return nil
}

// DeriveKey derives a sealing key from the client secret and the device uuid
// with HKDF-SHA256. It is the fallback when the host configures no key, and it
// protects only against someone who obtains the token file alone: anyone who
// also has the configuration (which holds the client secret) can derive the same
// key. Hosts that need more should supply a key from a hardware keystore.
func DeriveKey(clientSecret, deviceUUID string) ([]byte, error) {
	if clientSecret == "" {
		return nil, errors.New("store: cannot derive a sealing key without a client secret")
	}
	return hkdf.Key(sha256.New, []byte(clientSecret), []byte(deviceUUID), "libsecucard token store v1", KeySize)
}
